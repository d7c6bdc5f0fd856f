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
