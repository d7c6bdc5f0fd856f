import XCTest
import CPU
import DiffTest

/// Decoder and prefix rules found by the differential tester (`emu difftest`) against the host.
final class DiffRegressionDecoderTests: XCTestCase {
    let ud = 6

    func testStrayPrefixOnVectorAndNPOpcodesIsUD() {
        let s = UserMode.scratch
        let cases: [[UInt8]] = [
            [0xF2, 0x0F, 0x73, 0xD6, 0x27],          // PSRLQ mm6, 39 with F2
            [0xF3, 0x0F, 0xF9, 0xC1],                // PSUBW mm0, mm1 with F3
            [0xF2, 0x0F, 0x54, 0xC1],                // ANDPS with F2
            [0xF3, 0x66, 0x0F, 0x6C, 0xC1],          // PUNPCKLQDQ (66 only) with F3
            [0x66, 0x0F, 0x77],                      // EMMS with 66
            [0x66, 0x0F, 0xAE, 0xE8],                // LFENCE with 66
            [0x66, 0x0F, 0xAE, 0x18],                // STMXCSR [rax] with 66
            [0x66, 0x0F, 0xAE, 0x00],                // FXSAVE [rax] with 66
            [0x66, 0x0F, 0xC3, 0x00],                // MOVNTI [rax], eax with 66
            [0xF2, 0x0F, 0xC7, 0xF0],                // RDRAND eax with F2
            [0xF3, 0x0F, 0x38, 0xF1, 0x00],          // MOVBE [rax], eax with F3
            [0x66, 0x0F, 0x01, 0xD1],                // XSETBV with 66: #UD before the CPL check
        ]
        for b in cases {
            let r = UserMode.run(b) { $0.gpr[0] = s + 0x100 }
            XCTAssertEqual(r.fault?.vector, ud, "\(b.map { String($0, radix: 16) })")
        }
    }

    func testPrefixFallsBackToThePlainForm() {
        let s = UserMode.scratch
        // F3 0F C7 /1: only /7 has an F3 form, so this is CMPXCHG8B.
        var r = UserMode.run([0xF3, 0x0F, 0xC7, 0x0E]) { $0.gpr[6] = s + 0x100 }
        XCTAssertNil(r.fault)
        // 66 0F C7 /6: RDRAND with a 16-bit operand (the value is random: not compared).
        r = UserMode.run([0x66, 0x0F, 0xC7, 0xF0], native: false)
        XCTAssertNil(r.fault)
        // SWAPGS keeps its #GP with a 66 prefix.
        r = UserMode.run([0x66, 0x0F, 0x01, 0xF8])
        XCTAssertEqual(r.fault?.vector, 13)
        // CLFLUSHOPT and CLWB (66 0F AE /7, /6) execute; their CPUID bits are advertised.
        XCTAssertNil(UserMode.run([0x66, 0x0F, 0xAE, 0x38]) { $0.gpr[0] = s }.fault)
        XCTAssertNil(UserMode.run([0x66, 0x0F, 0xAE, 0x30]) { $0.gpr[0] = s }.fault)
        XCTAssertEqual(UserMode.run([0x66, 0x0F, 0xAE, 0x38]) { $0.gpr[0] = UserMode.guardAbove }.fault?.vector, 14)
        let ebx = CPUIDModel().query(leaf: 7, subleaf: 0).ebx
        XCTAssertEqual(ebx >> 23 & 3, 3)
    }

    func testMissingControlRegisterIsUDBeforeThePrivilegeCheck() {
        XCTAssertEqual(UserMode.run([0x0F, 0x20, 0xE8]).fault?.vector, ud)          // mov rax, cr5
        XCTAssertEqual(UserMode.run([0x48, 0x0F, 0x22, 0xC9]).fault?.vector, ud)    // mov cr1, rcx
        XCTAssertEqual(UserMode.run([0x66, 0x0F, 0x20, 0xEC]).fault?.vector, ud)    // mov rsp, cr5
        XCTAssertEqual(UserMode.run([0x0F, 0x20, 0xC0]).fault?.vector, 13)          // mov rax, cr0: #GP
        XCTAssertEqual(UserMode.run([0x0F, 0x21, 0xC0]).fault?.vector, 13)          // mov rax, dr0: #GP
    }

    func testR12AndR13BasesUseDSNotSS() {
        let bad: UInt64 = 0x8000_0000_0000_0000
        var r = UserMode.run([0x41, 0x8B, 0x04, 0x24]) { $0.gpr[12] = bad }        // mov eax, [r12]
        XCTAssertEqual(r.fault?.vector, 13)
        r = UserMode.run([0x41, 0x8B, 0x45, 0x00]) { $0.gpr[13] = bad }            // mov eax, [r13]
        XCTAssertEqual(r.fault?.vector, 13)
        r = UserMode.run([0x8B, 0x45, 0x00]) { $0.gpr[5] = bad }                   // mov eax, [rbp]
        XCTAssertEqual(r.fault?.vector, 12)
        r = UserMode.run([0x8B, 0x04, 0x24]) { $0.gpr[4] = bad }                   // mov eax, [rsp]
        XCTAssertEqual(r.fault?.vector, 12)
    }
}

/// Too-long invalid instructions: the length limit wins over #UD (difftest with the generator's
/// 14-17-byte prefix padding, seed 21: F2 0F 50 and, in 64-bit mode, D4 ib behind 12-14
/// redundant segment prefixes gave #GP(0) on the host and #UD in emu).
final class OverlongInstructionTests: XCTestCase {
    func testOverlongInvalidEncodingsRaiseGP() {
        let pad12 = [UInt8](repeating: 0x2E, count: 12), pad14 = [UInt8](repeating: 0x3E, count: 14)
        XCTAssertEqual(UserMode.run(pad12 + [0xF2, 0x0F, 0x50, 0xFD]).fault?.vector, 13)   // 16 bytes
        XCTAssertEqual(UserMode.run(pad14 + [0xD4, 0x00]).fault?.vector, 13)               // 16 bytes
        // At 15 bytes the same encodings are #UD.
        XCTAssertEqual(UserMode.run(Array(pad12.dropFirst()) + [0xF2, 0x0F, 0x50, 0xFD]).fault?.vector, 6)
        XCTAssertEqual(UserMode.run(Array(pad14.dropFirst()) + [0xD4, 0x00]).fault?.vector, 6)
    }
}
