import XCTest
import CPU
import DiffTest

/// MMX/SSE behaviour found by the differential tester against the host.
final class DiffRegressionVectorTests: XCTestCase {
    func testMMXStateTransitionAndFaults() {
        // EMMS: tags empty and TOP = 0.
        var r = UserMode.run([0x0F, 0x77]) { $0.setX87(fsw: 0x3800, tags: 0x55) }
        XCTAssertEqual(r.state.top, 0); XCTAssertEqual(r.state.ftw, 0)
        // CVTTPS2PI mm1, xmm4 with an unmasked inexact result: #XM after the transition.
        r = UserMode.run([0x0F, 0x2C, 0xCC]) { st in
            st.setX87(fsw: 0x3800, tags: 0x56); st.setMXCSR(0x0F80)
            st.setXMM(4, 0x3FC0_0000_3FC0_0000)
        }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.top, 0); XCTAssertEqual(r.state.ftw, 0xFF)
        // A faulting MMX store sets TOP = 0 but leaves the tags; a faulting load changes nothing.
        r = UserMode.run([0x0F, 0x7F, 0x08]) { st in st.setX87(fsw: 0x3800, tags: 0x10); st.gpr[0] = UserMode.guardAbove - 4 }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.top, 0); XCTAssertEqual(r.state.ftw, 0x10)
        r = UserMode.run([0x0F, 0xFC, 0x00]) { st in st.setX87(fsw: 0x3800, tags: 0x10); st.gpr[0] = UserMode.guardAbove - 4 }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.top, 7); XCTAssertEqual(r.state.ftw, 0x10)
    }

    func testSpecialOperands() {
        // SQRTSS of a negative denormal: IE only (no DE).
        var r = UserMode.run([0xF3, 0x0F, 0x51, 0xC1]) { $0.setXMM(1, 0x8000_0141) }
        XCTAssertEqual(r.state.mxcsr, 0x1F81)
        XCTAssertEqual(r.state.xmm(0).0 & 0xFFFF_FFFF, 0xFFC0_0000)
        // MAXPD with DAZ returning the second operand for a NaN: the denormal reads as zero.
        r = UserMode.run([0x66, 0x0F, 0x5F, 0xD0]) { st in
            st.setMXCSR(0x1FC0)
            st.setXMM(2, 0x0000_FFFF_FFFF_0001, 0xFFFF_0000_197D_7FFF)
            st.setXMM(0, 0x7F00_8080_FF00_027F, 0x8000_FFFF_7F80_7F00)
        }
        XCTAssertEqual(r.state.xmm(2).1, 0x8000_0000_0000_0000)
    }

    func testDotProductLanesPickNaNsInTheirOwnOrder() {
        // DPPS: lane i adds p[i^1] + p[i], then that + the other pair.
        var r = UserMode.run([0x66, 0x0F, 0x3A, 0x40, 0xC6, 0xFF]) { st in
            st.setXMM(0, 0xFFF1_1745_DC60_64F1, 0x3FF0_0000_0000_0000)
            st.setXMM(6, 0x6E6A_B902_9CE2_8B6B, 0x7FEF_FFFF_FFFF_5CA9)
        }
        XCTAssertEqual(r.state.xmm(0).0, 0xFFF1_1745_FFF1_1745)
        XCTAssertEqual(r.state.xmm(0).1, 0xFFFF_5CA9_7FEF_FFFF)
        // DPPD: lane i adds p[i] + p[i^1].
        r = UserMode.run([0x66, 0x0F, 0x3A, 0x41, 0xE6, 0xFF]) { st in
            st.setXMM(4, 0x0180_FF0C_017F_0101, 0x7F7F_0001_FF00_0000)
            st.setXMM(6, 0xFFFF_0012_FF01_7101, 0xFFFF_7F00_5DC3_8080)
        }
        XCTAssertEqual(r.state.xmm(4).0, 0xFFFF_0012_FF01_7101)
        XCTAssertEqual(r.state.xmm(4).1, 0xFFFF_7F00_5DC3_8080)
    }

    func testDotProductFlagsComeFromTwoStages() {
        // DPPD xmm0, xmm1, 0x20: only product 1, no lane written. The denormal product still goes
        // through the addition (DE), after the product raised UE and PE.
        func st(_ s: inout DTState) {
            s.setXMM(0, 0, 0x1A70_0000_0000_0001); s.setXMM(1, 0, 0x23D0_0000_0000_0000)
        }
        var r = UserMode.run([0x66, 0x0F, 0x3A, 0x41, 0xC1, 0x20], st)
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.mxcsr, 0x1FB2)
        XCTAssertEqual(r.state.xmm(0).0, 0); XCTAssertEqual(r.state.xmm(0).1, 0)
        // DE unmasked: #XM from the addition, the product's flags stay recorded.
        r = UserMode.run([0x66, 0x0F, 0x3A, 0x41, 0xC1, 0x20]) { s in st(&s); s.setMXCSR(0x1E80) }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr, 0x1EB2)
    }

    func testUnmaskedUnderflowReportsInexactWithAnUnboundedExponent() {
        // (1 + 2^-20) * 2^-100 times 2^-40: exact with an unbounded exponent, inexact as a denormal.
        let a: UInt64 = 0x0D80_0008, b: UInt64 = 0x2B80_0000
        var r = UserMode.run([0xF3, 0x0F, 0x59, 0xC1]) { st in st.setMXCSR(0x1780); st.setXMM(0, a); st.setXMM(1, b) }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x10, "UE without PE")
        r = UserMode.run([0xF3, 0x0F, 0x59, 0xC1]) { st in st.setXMM(0, a); st.setXMM(1, b) }
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x30, "masked: UE and PE")
    }

    func testAlignmentBeforeCanonicalAndMaskedStoreFaultAddress() {
        // movaps xmm0, [rsp] with a misaligned non-canonical RSP: #GP (alignment), not #SS.
        var r = UserMode.run([0x0F, 0x28, 0x04, 0x24]) { $0.gpr[4] = 0x8000_6000_2BCB }
        XCTAssertEqual(r.fault?.vector, 13)
        // MASKMOVDQU checks the high quadword first.
        let rdi = UserMode.guardAbove - 7
        r = UserMode.run([0x66, 0x0F, 0xF7, 0xC1]) { st in st.gpr[7] = rdi; st.setXMM(1, ~0, ~0) }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.fault?.addr, rdi + 8)
    }

    func testMaskedStoreWithAnEmptyMaskStillFaults() {
        let r = UserMode.run([0x0F, 0xF7, 0xC1]) { st in st.gpr[7] = UserMode.guardAbove - 2; st.setX87(fsw: 0, tags: 0) }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.fault?.addr, UserMode.guardAbove)
    }

    func testMaskedOverflowLaneKeepsInexactUnderAnUnmaskedUnderflow() {
        // ADDSUBPS x, x under round-toward-zero: lane 3 overflows (masked: max, PE), lane 1 is a
        // tiny exact sum with UE unmasked (#XM): PE must still be reported.
        let r = UserMode.run([0xF2, 0x0F, 0xD0, 0xFF]) { st in
            st.setMXCSR(0x7580)
            st.setXMM(7, 0x8001_0080_8080_6AFF, 0xFF0F_00ED_FF00_7F02)
        }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x3A)
    }
}
