import XCTest
import CPU
import DiffTest

/// x87 behaviour found by the differential tester against the host.
final class DiffRegressionX87Tests: XCTestCase {
    let one: (UInt64, UInt16) = (1 << 63, 0x3FFF)
    let c0c2c3: UInt16 = 0x4500
    let c1: UInt16 = 0x200

    func allValid(_ s: inout DTState, fsw: UInt16, fcw: UInt16 = 0x37F) {
        s.setX87(fcw: fcw, fsw: fsw, tags: 0xFF)
        for i in 0..<8 { s.setST(i, one.0, one.1) }
    }

    func testC1IsKeptByFcmovAndFcomiButClearedByFcom() {
        var r = UserMode.run([0xDA, 0xDD], undefinedFSW: c0c2c3) { self.allValid(&$0, fsw: self.c1) }   // fcmovu st0, st5
        XCTAssertEqual(r.state.fsw & c1, c1)
        r = UserMode.run([0xDB, 0xE9]) { self.allValid(&$0, fsw: self.c1) }                             // fucomi st0, st1
        XCTAssertEqual(r.state.fsw & c1, c1)
        r = UserMode.run([0xD8, 0xD1]) { self.allValid(&$0, fsw: self.c1) }                             // fcom st1
        XCTAssertEqual(r.state.fsw & c1, 0)
    }

    func testLoadsAndFstp1() {
        let s = UserMode.scratch
        var r = UserMode.run([0xDD, 0x00], undefinedFSW: c0c2c3) { st in                 // fld qword [rax]
            st.setX87(fsw: self.c1, tags: 0); st.gpr[0] = s; st.mem(s, 8, 0x3FF0_0000_0000_0000)
        }
        XCTAssertEqual(r.state.fsw & c1, 0)
        XCTAssertEqual(r.state.top, 7)
        // FSTP1 (D9 D8+i) with an empty ST(0): popped, no stack fault, nothing stored.
        r = UserMode.run([0xD9, 0xD9], undefinedFSW: c0c2c3) { st in
            st.setX87(fsw: self.c1, tags: 0x02); st.setST(1, 1 << 63, 0x4000)
        }
        XCTAssertEqual(r.state.fsw & 0x41, 0)
        XCTAssertEqual(r.state.top, 1)
        XCTAssertEqual(r.state.st(0).1, 0x4000)
    }

    func testFaultingMemoryOperandsChangeNothing() {
        let g = UserMode.guardAbove
        // FIDIVR m16: FIP keeps its value.
        var r = UserMode.run([0xDE, 0x38]) { st in
            st.setX87(fsw: 0, tags: 0x01); st.setST(0, self.one.0, self.one.1); st.setFx(8, 8, 0x1234); st.gpr[0] = g
        }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.fip, 0x1234)
        // FISTP m32 from an empty ST(0): no stack-fault flags.
        r = UserMode.run([0xDB, 0x18]) { st in st.setX87(fsw: 0, tags: 0); st.gpr[0] = g }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.fsw, 0)
        // FSTP m80 across into the guard page: C1 unchanged, nothing popped.
        r = UserMode.run([0xDB, 0x38]) { st in
            st.setX87(fsw: self.c1, tags: 0x01); st.setST(0, self.one.0, self.one.1); st.gpr[0] = g - 5
        }
        XCTAssertEqual(r.fault?.addr, g)
        XCTAssertEqual(r.state.fsw, c1)
        // FRSTOR touches the last byte of its 108-byte image first.
        r = UserMode.run([0xDD, 0x20]) { $0.gpr[0] = g - 50 }
        XCTAssertEqual(r.fault?.addr, g - 50 + 107)
    }

    func testImageLoads() {
        let img = UserMode.scratch + 0x200
        func fx(_ st: inout DTState, fcw: UInt16, fsw: UInt16, fip: UInt64 = 0) {
            st.gpr[0] = img
            st.mem(img, 2, UInt64(fcw)); st.mem(img + 2, 2, UInt64(fsw)); st.mem(img + 8, 8, fip)
            st.mem(img + 24, 4, 0x1F80)
        }
        // FXRSTOR recomputes ES and B from the unmasked flags.
        var r = UserMode.run([0x0F, 0xAE, 0x08]) { fx(&$0, fcw: 0x37F, fsw: 0x0080) }
        XCTAssertEqual(r.state.fsw, 0)
        r = UserMode.run([0x0F, 0xAE, 0x08]) { fx(&$0, fcw: 0x37E, fsw: 0x0001) }
        XCTAssertEqual(r.state.fsw, 0x8081)
        // FXRSTOR64: FIP is kept sign-extended from bit 56.
        r = UserMode.run([0x48, 0x0F, 0xAE, 0x08]) { fx(&$0, fcw: 0x37F, fsw: 0, fip: 0x0100_0000_0000_0000) }
        XCTAssertEqual(r.state.fip, 0xFF00_0000_0000_0000)
        // FRSTOR with the 16-bit protected-mode image (no FOP field): FOP becomes 0.
        r = UserMode.run([0x66, 0xDD, 0x20]) { st in
            st.gpr[0] = img; st.setFx(6, 2, 0x123)
            st.mem(img, 2, 0x37F); st.mem(img + 2, 2, 0); st.mem(img + 4, 2, 0xFFFF)
        }
        XCTAssertEqual(r.state.fop, 0)
    }

    func testConditionCodesOnStackFaultsAndSpecialOperands() {
        // FPTAN with a full stack: C2 cleared, C1 = 1 (overflow).
        var r = UserMode.run([0xD9, 0xF2], undefinedFSW: 0x4100) { self.allValid(&$0, fsw: 0x0400) }
        XCTAssertEqual(r.state.fsw & 0x600, 0x200)
        // FPREM1 of -0 by a NaN: no quotient, C0 stays, C2 cleared.
        r = UserMode.run([0xD9, 0xF5]) { st in
            st.setX87(fsw: 0x0500, tags: 0x03); st.setST(0, 0, 0x8000); st.setST(1, 0xC000_0000_0000_0000, 0x7FFF)
        }
        XCTAssertEqual(r.state.fsw & 0x500, 0x100)
        // An unmasked denormal operand (FSUB m64) clears C1; so does an unmasked overflow on FST m64.
        let s = UserMode.scratch
        r = UserMode.run([0xDC, 0x20], undefinedFSW: c0c2c3) { st in
            st.setX87(fcw: 0x37D, fsw: self.c1, tags: 0x01); st.setST(0, self.one.0, self.one.1)
            st.gpr[0] = s; st.mem(s, 8, 1)
        }
        XCTAssertEqual(r.state.fsw & 0x282, 0x82)
        r = UserMode.run([0xDD, 0x10], undefinedFSW: c0c2c3) { st in
            st.setX87(fcw: 0x377, fsw: self.c1, tags: 0x01); st.setST(0, 1 << 63, 0x7FFE)
            st.gpr[0] = s
        }
        XCTAssertEqual(r.state.fsw & 0x288, 0x88)
    }

    func testReleaseBuildWindowsComputeOnlyTheirOperation() {
        // A release build evaluated both the m64 and the m32 reading of FLD's operand inside the
        // host window: FLD m32 of -0.0 picked up DE from the denormal m64 reading of its bits.
        let s = UserMode.scratch
        let r = UserMode.run([0xD9, 0x00], undefinedFSW: c0c2c3) { st in
            st.setX87(fsw: 0, tags: 0); st.gpr[0] = s; st.mem(s, 8, 0x8000_0000)
        }
        XCTAssertEqual(r.state.fsw & 0x3F, 0)
    }

    func testStackFaultsAndUnmaskedExceptionsInCompares() {
        // FTST of an empty ST0 sets C3 C2 C0 even with IE unmasked.
        var r = UserMode.run([0xD9, 0xE4]) { $0.setX87(fcw: 0x37E, fsw: 0, tags: 0) }
        XCTAssertEqual(r.state.fsw & 0x4500, 0x4500)
        // FCOMPP with an unmasked invalid operand pops nothing.
        r = UserMode.run([0xDE, 0xD9]) { st in
            st.setX87(fcw: 0x37E, fsw: 0, tags: 0x03); st.setST(0, 0x8000_0000_0000_0001, 0x7FFF); st.setST(1, self.one.0, self.one.1)
        }
        XCTAssertEqual(r.state.top, 0)
        // FPREM1 of an unsupported operand clears C1 and C2, keeps C0 and C3.
        r = UserMode.run([0xD9, 0xF5]) { st in
            st.setX87(fsw: 0x4700, tags: 0x03); st.setST(0, 0x1234, 0x7FFF); st.setST(1, self.one.0, self.one.1)
        }
        XCTAssertEqual(r.state.fsw & 0x4700, 0x4100)
        // FNSTENV masks everything: ES and B are cleared.
        r = UserMode.run([0xD9, 0x30]) { st in st.setX87(fcw: 0x37E, fsw: 0x8081, tags: 0); st.gpr[0] = UserMode.scratch }
        XCTAssertEqual(r.state.fsw, 0x0001)
        XCTAssertEqual(r.state.fcw, 0x37F)
    }

    func testMemoryOperandOrder() {
        let g = UserMode.guardAbove
        // FST m64 from an empty ST0 at a non-canonical address: #GP, no stack-fault flags.
        var r = UserMode.run([0xDD, 0x10]) { st in st.setX87(fsw: 0, tags: 0); st.gpr[0] = 0x8000_6000_1C00 }
        XCTAssertEqual(r.fault?.vector, 13); XCTAssertEqual(r.state.fsw, 0)
        // FBSTP/FSTP m80 store the low quadword first: a fault on the high word leaves it written.
        r = UserMode.run([0xDF, 0x30]) { st in
            st.setX87(fsw: 0, tags: 0x01); st.setST(0, 0, 0x8000); st.gpr[0] = g - 8; st.mem(g - 8, 8, ~0)
        }
        XCTAssertEqual(r.fault?.addr, g)
        XCTAssertEqual(r.state.mem(g - 8, 8), 0)
        // Environment images: the first field, then the last byte, then the rest.
        r = UserMode.run([0xDD, 0x20]) { $0.gpr[0] = g - 6 }                // frstor: first dword fits
        XCTAssertEqual(r.fault?.addr, g - 6 + 107)
        r = UserMode.run([0xDD, 0x20]) { $0.gpr[0] = g - 2 }                // frstor: first dword crosses
        XCTAssertEqual(r.fault?.addr, g)
        r = UserMode.run([0xD9, 0x30]) { $0.gpr[0] = g - 21 }               // fnstenv
        XCTAssertEqual(r.fault?.addr, g - 21 + 27)
        r = UserMode.run([0x0F, 0xAE, 0x00]) { $0.gpr[0] = g - 16 }         // fxsave: 512 bytes
        XCTAssertEqual(r.fault?.addr, g - 16 + 511)
    }

    func testFYL2XP1OfMinusOneReturnsX() {
        // ST0 = -1 (outside the defined range, log2(0)): the host returns x with PE, as for x < -1
        // (difftest seed 203 case 17961; emu gave +infinity).
        let r = UserMode.run([0xD9, 0xF9]) { st in
            st.setX87(fsw: 0, tags: 0xFF)
            st.setST(0, 1 << 63, 0xBFFF)
            st.setST(1, 0x9079_198D_759E_D638, 0xC00E)
        }
        XCTAssertEqual(r.state.st(0).0, 1 << 63)
        XCTAssertEqual(r.state.st(0).1, 0xBFFF)
        XCTAssertEqual(r.state.fsw & 0x20, 0x20)
    }
}
