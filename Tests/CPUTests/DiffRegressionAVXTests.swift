import XCTest
import CPU
import DiffTest

extension DTState {
    mutating func setYMMHi(_ i: Int, _ lo: UInt64, _ hi: UInt64) {
        for k in 0..<8 {
            ymmHi[16 * i + k] = UInt8(truncatingIfNeeded: lo >> UInt64(8 * k))
            ymmHi[16 * i + 8 + k] = UInt8(truncatingIfNeeded: hi >> UInt64(8 * k))
        }
    }
}

/// AVX/AVX2/FMA behaviour found by the differential tester against the host.
final class DiffRegressionAVXTests: XCTestCase {
    func testFMAPicksTheFirstNaNOfTheExpression() {
        // VFMADD231PS xmm1, xmm5, xmm2 = xmm5*xmm2 + xmm1: the multiplicands' NaN wins over the
        // destination's.
        let r = UserMode.run([0xC4, 0xE2, 0x51, 0xB8, 0xCA]) { st in
            st.setXMM(1, 0xFFFF_FFFE); st.setXMM(5, 0x7FD8_ADDE); st.setXMM(2, 0x9692_CCD5)
        }
        XCTAssertEqual(r.state.xmm(1).0 & 0xFFFF_FFFF, 0x7FD8_ADDE)
    }

    func testFMAInvalidTakesPrecedenceOverDenormal() {
        // VFMADD213SS xmm0, xmm1, xmm2 = xmm1*xmm0 + xmm2 with inf*0 + denormal: IE, no DE.
        let r = UserMode.run([0xC4, 0xE2, 0x71, 0xA9, 0xC2]) { st in
            st.setXMM(0, 0); st.setXMM(1, 0x7F80_0000); st.setXMM(2, 1)
        }
        XCTAssertEqual(r.state.mxcsr, 0x1F81)
        XCTAssertEqual(r.state.xmm(0).0 & 0xFFFF_FFFF, 0xFFC0_0000)
    }

    func testFMADetectsTininessAfterRounding() {
        // VFMSUB213SD xmm7, xmm6, xmm5 = xmm6*xmm7 - xmm5 just above -2^-1022 in magnitude terms
        // below it before rounding: with FTZ the result stays -2^-1022 (PE only, no UE).
        let r = UserMode.run([0xC4, 0xE2, 0xC9, 0xAB, 0xFD]) { st in
            st.setMXCSR(0x9F80)
            st.setXMM(6, 0x015E_097F_007F_0080); st.setXMM(7, 0x01FF_00FF_0000_8001); st.setXMM(5, 0x0010_0000_0000_0000)
        }
        XCTAssertEqual(r.state.xmm(7).0, 0x8010_0000_0000_0000)
        XCTAssertEqual(r.state.mxcsr, 0x9FA0)
    }

    func testMaskedMovesOnlyTouchSelectedElements() {
        // VMASKMOVPD [rax], ymm0 with an all-zero mask: no access, even non-canonical.
        var r = UserMode.run([0xC4, 0xE2, 0x7D, 0x2F, 0x00]) { st in st.gpr[0] = 0x0000_8000_0000_0000 }
        XCTAssertNil(r.fault)
        // VMASKMOVPS [rcx], ymm1 (mask), ymm0 crossing into the guard page: the store reports the
        // last byte of the last selected element.
        r = UserMode.run([0xC4, 0xE2, 0x75, 0x2E, 0x01]) { st in
            st.gpr[1] = UserMode.guardAbove - 12
            st.setXMM(1, ~0, ~0); st.setYMMHi(1, ~0, 0x0000_0000_FFFF_FFFF)
        }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.fault?.addr, UserMode.guardAbove + 15)
    }

    func testGatherFaultLeavesARestartableState() {
        // VPGATHERDD xmm0, [rcx + xmm1], xmm2: element 0 loads, element 1 faults. The mask reads
        // as all ones/zeros with element 0 cleared and bits 255:128 zero; xmm0 holds element 0
        // and (written as a VEX.128 destination) bits 255:128 zero.
        let r = UserMode.run([0xC4, 0xE2, 0x69, 0x90, 0x04, 0x09]) { st in
            st.gpr[1] = UserMode.scratch
            st.mem(UserMode.scratch, 4, 0x1234_5678)
            st.setXMM(1, 0x2000 << 32, 0)
            st.setXMM(2, 0xFFFF_FFFF_8000_0000, 0x7FFF_FFFF_0000_0001)
            st.setYMMHi(2, 0x55, 0x66)
            st.setXMM(0, 0xAAAA_AAAA_AAAA_AAAA, 0xBBBB); st.setYMMHi(0, 0x77, 0x88)
        }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.xmm(2).0, 0xFFFF_FFFF_0000_0000)
        XCTAssertEqual(r.state.xmm(2).1, 0)
        XCTAssertEqual(r.state.ymmHigh(2).0, 0)
        XCTAssertEqual(r.state.xmm(0).0, 0xAAAA_AAAA_1234_5678)
        XCTAssertEqual(r.state.ymmHigh(0).0, 0)
    }

    func testVCVTPS2PHInexactUnderUnmaskedUnderflow() {
        // Unmasked UE: PE means inexact with 11 bits and single precision's exponent range.
        // -1.203125 * 2^-21 is exact there (IE from the SNaN, UE, no PE) ...
        var r = UserMode.run([0xC4, 0xE3, 0x79, 0x1D, 0xED, 0x09]) { st in      // vcvtps2ph xmm5, xmm5, 9
            st.setMXCSR(0xF0C0); st.setXMM(5, 0x8000_0000_0000_0000, 0xFFAF_B5D7_B51A_0000)
        }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr, 0xF0D1)
        // ... a single-precision denormal is not (DE, UE, PE).
        r = UserMode.run([0xC4, 0xC3, 0x79, 0x1D, 0xC0, 0x62]) { st in      // vcvtps2ph xmm8, xmm0, 0x62
            st.setMXCSR(0x5780); st.setXMM(0, 0x0000_0000_0000_0018, 0x0000_0000_0000_0021)
        }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr, 0x57B2)
        // ... not even a power of two (2^-129).
        r = UserMode.run([0xC4, 0xE3, 0x79, 0x1D, 0xF0, 0x01]) { st in      // vcvtps2ph xmm0, xmm6, 1
            st.setMXCSR(0x3581); st.setXMM(6, 0xFFF8_0000_0000_0000, 0x0010_0000_0000_0000)
        }
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr, 0x35B3)
    }

    func testSHAInstructionsMatchTheHost() {
        let a: (UInt64, UInt64) = (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
        let b: (UInt64, UInt64) = (0x6A09_E667_BB67_AE85, 0x3C6E_F372_A54F_F53A)
        let k: (UInt64, UInt64) = (0x428A_2F98_7137_4491, 0xB5C0_FBCF_E9B5_DBA5)
        let forms: [([UInt8], (UInt64, UInt64))] = [
            ([0x0F, 0x38, 0xC8, 0xCA], (0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4321)),   // sha1nexte xmm1, xmm2
            ([0x0F, 0x38, 0xC9, 0xCA], (0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4321)),   // sha1msg1
            ([0x0F, 0x38, 0xCA, 0xCA], (0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4321)),   // sha1msg2
            ([0x0F, 0x38, 0xCB, 0xCA], (0x1ED7_4BB5_0000_0000, 0x6C5F_A2B0_0000_0000)),   // sha256rnds2
            ([0x0F, 0x38, 0xCC, 0xCA], (0x9B05_688C_1F83_D9AB, 0x5BE0_CD19_510E_527F)),   // sha256msg1
            ([0x0F, 0x38, 0xCD, 0xCA], (0x9B05_688C_1F83_D9AB, 0x5BE0_CD19_510E_527F)),   // sha256msg2
        ]
        for (code, x1) in forms {
            UserMode.run(code) { st in st.setXMM(1, x1.0, x1.1); st.setXMM(2, b.0, b.1); st.setXMM(0, k.0, k.1) }
        }
        for imm: UInt8 in 0..<4 {                                                        // sha1rnds4 xmm1, xmm2, imm
            UserMode.run([0x0F, 0x3A, 0xCC, 0xCA, imm]) { st in st.setXMM(1, a.0, a.1); st.setXMM(2, b.0, b.1) }
        }
        // A 66 prefix is #UD.
        XCTAssertEqual(UserMode.run([0x66, 0x0F, 0x38, 0xC9, 0xCA]).fault?.vector, 6)
    }

    func testVLDMXCSRAndVSTMXCSR() {
        // vldmxcsr [rcx]; vstmxcsr [rcx+4]; reserved bits: #GP.
        var r = UserMode.run([0xC5, 0xF8, 0xAE, 0x11, 0xC5, 0xF8, 0xAE, 0x59, 0x04]) { st in
            st.gpr[1] = UserMode.scratch; st.mem(UserMode.scratch, 4, 0x3F80)
        }
        XCTAssertEqual(r.state.mxcsr, 0x3F80)
        XCTAssertEqual(r.state.mem(UserMode.scratch + 4, 4), 0x3F80)
        r = UserMode.run([0xC5, 0xF8, 0xAE, 0x11]) { st in st.gpr[1] = UserMode.scratch; st.mem(UserMode.scratch, 4, 0x1_0000) }
        XCTAssertEqual(r.fault?.vector, 13)
    }
}
