import XCTest
import CPU
import DiffTest

/// BMI1, BMI2 and ADX: known results, each also compared with the host CPU (DiffTester).
final class BMITests: XCTestCase {
    let af_pf: UInt64 = 0x14

    func testBMI1() {
        // andn rax, rbx, rcx (VEX.W1): ~rbx & rcx
        var r = UserMode.run([0xC4, 0xE2, 0xE0, 0xF2, 0xC1], undefinedFlags: af_pf) {
            $0.gpr[3] = 0xF0F0_0000_FFFF_0000; $0.gpr[1] = 0xFFFF_FFFF_0000_FFFF
        }
        XCTAssertEqual(r.state.gpr[0], 0x0F0F_FFFF_0000_FFFF)
        // bextr eax, ebx, ecx: start 4, length 8
        r = UserMode.run([0xC4, 0xE2, 0x70, 0xF7, 0xC3], undefinedFlags: af_pf | 0x80) {
            $0.gpr[3] = 0x1234_5678; $0.gpr[1] = 0x0804
        }
        XCTAssertEqual(r.state.gpr[0], 0x67)
        // blsi / blsmsk / blsr rax, rbx (VEX.vvvv = rax)
        for (reg, want, cf) in [(3, 0x10 as UInt64, true), (2, 0x1F as UInt64, false), (1, 0x60 as UInt64, false)] {
            let modrm = UInt8(0xC3 | reg << 3)
            r = UserMode.run([0xC4, 0xE2, 0xF8, 0xF3, modrm], undefinedFlags: af_pf) { $0.gpr[3] = 0x70 }
            XCTAssertEqual(r.state.gpr[0], want)
            XCTAssertEqual(r.state.rflags & 1 != 0, cf)
        }
        // TZCNT is no longer BSF: a zero source gives the operand size and CF.
        r = UserMode.run([0xF3, 0x48, 0x0F, 0xBC, 0xC3], undefinedFlags: 0x894) { $0.gpr[3] = 0 }
        XCTAssertEqual(r.state.gpr[0], 64)
        XCTAssertEqual(r.state.rflags & 1, 1)
    }

    func testBMI2() {
        // bzhi rax, rbx, rcx: keep bits below 12
        var r = UserMode.run([0xC4, 0xE2, 0xF0, 0xF5, 0xC3], undefinedFlags: af_pf) {
            $0.gpr[3] = ~0; $0.gpr[1] = 12
        }
        XCTAssertEqual(r.state.gpr[0], 0xFFF)
        // pdep / pext rax, rbx, rcx
        r = UserMode.run([0xC4, 0xE2, 0xE3, 0xF5, 0xC1]) { $0.gpr[3] = 0b1011; $0.gpr[1] = 0xF0F0 }
        XCTAssertEqual(r.state.gpr[0], 0xB0)
        r = UserMode.run([0xC4, 0xE2, 0xE2, 0xF5, 0xC1]) { $0.gpr[3] = 0xB0B0; $0.gpr[1] = 0xF0F0 }
        XCTAssertEqual(r.state.gpr[0], 0xBB)
        // mulx rax, rbx, rcx: rdx * rcx -> rax:rbx (high, low); same destinations: the high half
        r = UserMode.run([0xC4, 0xE2, 0xE3, 0xF6, 0xC1]) { $0.gpr[2] = 1 << 63; $0.gpr[1] = 6 }
        XCTAssertEqual(r.state.gpr[0], 3); XCTAssertEqual(r.state.gpr[3], 0)
        r = UserMode.run([0xC4, 0xE2, 0xFB, 0xF6, 0xC1]) { $0.gpr[2] = 1 << 63; $0.gpr[1] = 6 }
        XCTAssertEqual(r.state.gpr[0], 3)
        // rorx eax, ebx, 8; sarx/shlx/shrx rax, rbx, rcx
        r = UserMode.run([0xC4, 0xE3, 0x7B, 0xF0, 0xC3, 0x08]) { $0.gpr[3] = 0xFFFF_FFFF_1234_5678 }
        XCTAssertEqual(r.state.gpr[0], 0x7812_3456)
        for (pp, want) in [(2 as UInt8, 0xF800_0000_0000_0000 as UInt64), (1, 0), (3, 0x0800_0000_0000_0000)] {
            r = UserMode.run([0xC4, 0xE2, 0xF0 | pp, 0xF7, 0xC3]) { $0.gpr[3] = 0x8000_0000_0000_0000; $0.gpr[1] = 68 }
            XCTAssertEqual(r.state.gpr[0], want, "pp \(pp)")
        }
    }

    func testADX() {
        // adcx rax, rbx uses CF only; adox uses OF only.
        var r = UserMode.run([0x66, 0x48, 0x0F, 0x38, 0xF6, 0xC3]) { $0.gpr[0] = ~0; $0.gpr[3] = 1; $0.rflags = 0x203 }
        XCTAssertEqual(r.state.gpr[0], 1); XCTAssertEqual(r.state.rflags & 0x8D5, 1)
        r = UserMode.run([0xF3, 0x48, 0x0F, 0x38, 0xF6, 0xC3]) { $0.gpr[0] = ~0; $0.gpr[3] = 1; $0.rflags = 0xA02 }
        XCTAssertEqual(r.state.gpr[0], 1); XCTAssertEqual(r.state.rflags & 0x8D5, 0x800)
    }

    func testInvalidVEXForms() {
        XCTAssertEqual(UserMode.run([0xC4, 0xE2, 0xE4, 0xF2, 0xC1]).fault?.vector, 6, "VEX.L = 1")
        XCTAssertEqual(UserMode.run([0xC4, 0xE3, 0x3B, 0xF0, 0xC3, 0x08]).fault?.vector, 6, "RORX with vvvv != 1111")
        XCTAssertEqual(UserMode.run([0x66, 0xC4, 0xE2, 0xE0, 0xF2, 0xC1]).fault?.vector, 6, "66 before VEX")
        XCTAssertEqual(UserMode.run([0x48, 0xC4, 0xE2, 0xE0, 0xF2, 0xC1]).fault?.vector, 6, "REX before VEX")
        let ebx = CPUIDModel().query(leaf: 7, subleaf: 0).ebx
        XCTAssertEqual(ebx & (1 << 3 | 1 << 8 | 1 << 19), 1 << 3 | 1 << 8 | 1 << 19, "BMI1 BMI2 ADX advertised")
    }
}
