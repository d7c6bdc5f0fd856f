import XCTest
import CPU
import DiffTest

/// VLDMXCSR / VSTMXCSR (VEX.LZ.0F.WIG AE /2, /3), checked against the host. glibc's libm uses
/// VSTMXCSR on AVX CPUs: a static -march=x86-64-v3 program died with SIGILL in the Linux guest
/// before these existed.
final class AVXMXCSRTests: XCTestCase {
    func testVSTMXCSRStoresMXCSR() {
        // vstmxcsr [rax]
        let r = UserMode.run([0xC5, 0xF8, 0xAE, 0x18]) { st in
            st.gpr[0] = UserMode.scratch + 0x40
            st.setMXCSR(0x3F85)
            st.mem(UserMode.scratch + 0x40, 8, 0xAAAA_AAAA_AAAA_AAAA)
        }
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.mem(UserMode.scratch + 0x40, 8), 0xAAAA_AAAA_0000_3F85)
    }

    func testVLDMXCSRLoadsAndChecksReservedBits() {
        // vldmxcsr [rax]: a valid value is loaded ...
        let ok = UserMode.run([0xC5, 0xF8, 0xAE, 0x10]) { st in
            st.gpr[0] = UserMode.scratch + 0x10
            st.mem(UserMode.scratch + 0x10, 4, 0x7F80 | 0x20)
        }
        XCTAssertNil(ok.fault)
        XCTAssertEqual(ok.state.mxcsr, 0x7FA0)
        // ... a reserved bit raises #GP(0).
        let bad = UserMode.run([0xC5, 0xF8, 0xAE, 0x10]) { st in
            st.gpr[0] = UserMode.scratch + 0x10
            st.mem(UserMode.scratch + 0x10, 4, 0x1_0000)
        }
        XCTAssertEqual(bad.fault?.vector, 13)
    }

    func testVEXLAndVVVVMustBeClear() {
        // VEX.L = 1 (C5 FC) and vvvv != 1111 (C5 F0) are #UD.
        XCTAssertEqual(UserMode.run([0xC5, 0xFC, 0xAE, 0x18]) { $0.gpr[0] = UserMode.scratch }.fault?.vector, 6)
        XCTAssertEqual(UserMode.run([0xC5, 0xF0, 0xAE, 0x18]) { $0.gpr[0] = UserMode.scratch }.fault?.vector, 6)
    }
}

/// VCVTPS2PH exception flags found by the 10 M-instruction difftest run (and probed on the
/// host): masked overflow/underflow report PE; with OE or UE unmasked the instruction faults,
/// UE is reported for any tiny value (even an exact one), and PE only when the significand
/// needed rounding to 11 bits.
final class F16CExceptionTests: XCTestCase {
    /// vcvtps2ph xmm2, xmm1, imm
    static func code(_ imm: UInt8) -> [UInt8] { [0xC4, 0xE3, 0x79, 0x1D, 0xCA, imm] }

    func run(_ v: Float, mxcsr: UInt32, imm: UInt8 = 0) -> DTResult {
        UserMode.run(Self.code(imm)) { st in
            st.setMXCSR(mxcsr)
            st.setXMM(1, UInt64(v.bitPattern))
        }
    }

    func testOverflow() {
        let oeUnmasked: UInt32 = 0x1F80 & ~0x400
        // 2^31: the significand is exact, so an unmasked overflow reports OE alone.
        var r = run(0x1p31, mxcsr: oeUnmasked, imm: 3)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x08)
        // 1e6 needs rounding: OE and PE.
        r = run(1e6, mxcsr: oeUnmasked)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x28)
        // Masked: the largest half (round toward zero), OE and PE.
        r = run(0x1p31, mxcsr: 0x1F80, imm: 3)
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x28)
        XCTAssertEqual(r.state.xmm(2).0 & 0xFFFF, 0x7BFF)
    }

    func testUnderflow() {
        let ueUnmasked: UInt32 = 0x1F80 & ~0x800
        // 2^-20 is an exact half subnormal: unmasked UE still faults, without PE.
        var r = run(0x1p-20, mxcsr: ueUnmasked)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x10)
        // (1 + 2^-10) * 2^-20 has 11 significant bits but is inexact as a subnormal half.
        let elevenBits = Float(0x1p-20) + Float(0x1p-30)
        r = run(elevenBits, mxcsr: ueUnmasked)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x10)
        r = run(elevenBits, mxcsr: 0x1F80)
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x30)
        // 1e-7 needs rounding either way: UE and PE.
        r = run(1e-7, mxcsr: ueUnmasked)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x30)
        // A single-precision denormal input (DE) with UE unmasked: DE, UE and PE, even for 2^-149.
        r = run(Float(bitPattern: 1), mxcsr: ueUnmasked)
        XCTAssertEqual(r.fault?.vector, 19)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0x32)
        // Masked and exact: no flags.
        r = run(0x1p-20, mxcsr: 0x1F80)
        XCTAssertEqual(r.state.mxcsr & 0x3F, 0)
    }
}

/// RCPPS/VRCPPS of |x| >= 2^126: the approximate reciprocal is tiny and flushed to a signed zero
/// (the 10 M-instruction difftest, seed 2046, found emu returning 2^-126 for such a lane).
final class RCPTinyResultTests: XCTestCase {
    func testReciprocalOfHugeValuesIsZero() {
        let lanes: [Float] = [0x1p126, -0x1p126, 0x1p127, -Float.greatestFiniteMagnitude]
        let lo = UInt64(lanes[0].bitPattern) | UInt64(lanes[1].bitPattern) << 32
        let hi = UInt64(lanes[2].bitPattern) | UInt64(lanes[3].bitPattern) << 32
        for code: [UInt8] in [[0x0F, 0x53, 0xC1], [0xC5, 0xF8, 0x53, 0xC1]] {      // (v)rcpps xmm0, xmm1
            let r = UserMode.run(code) { st in st.setXMM(1, lo, hi) }
            XCTAssertNil(r.fault)
            XCTAssertEqual(r.state.xmm(0).0, 0x8000_0000_0000_0000)
            XCTAssertEqual(r.state.xmm(0).1, 0x8000_0000_0000_0000)
        }
    }
}
