import XCTest
import CPU
import DiffTest

/// A fixed-seed sample of the differential tester (`emu difftest`): random instruction sequences
/// from the opcode table, run on the host CPU and in the interpreter, must agree exactly.
final class DiffTestSampleTests: XCTestCase {
    func testFixedSeedSampleMatchesHost() throws {
        var o = DiffTester.Options()
        o.seed = 0x5EED_D1FF
        o.count = 200_000
        o.maxReports = 5
        guard let t = DiffTester(options: o) else { throw XCTSkip("the host cannot run the native side") }
        var reports: [String] = []
        t.log = { reports.append($0) }
        let s = t.run()
        print(t.summaryText(s), terminator: "")
        XCTAssertGreaterThanOrEqual(s.instructions, 200_000)
        XCTAssertGreaterThan(s.faultsAgreed, 1000, "exceptions are exercised too")
        XCTAssertEqual(s.mismatchCount, 0, reports.joined(separator: "\n"))
        XCTAssertEqual(s.disagreements, [], "encoder and decoder disagree on instruction lengths")
    }

    /// The transcendental comparison counts ulps across exponent boundaries: FCOS of a tiny
    /// argument rounded down is 1 - 2^-64 on the host, the libm-based result 1.0 (seed
    /// 0x5EEDD1FF sample, case 5920 of seed 1592644095); they are neighbours.
    func testCloseF80AcrossExponents() {
        let one: (UInt64, UInt16) = (1 << 63, 0x3FFF), belowOne: (UInt64, UInt16) = (~0, 0x3FFE)
        XCTAssertTrue(DiffTester.closeF80(one, belowOne))
        XCTAssertTrue(DiffTester.closeF80(belowOne, (1 << 63 | 3, 0x3FFF)))     // 4 ulps
        XCTAssertFalse(DiffTester.closeF80(belowOne, (1 << 63 | 4, 0x3FFF)))    // 5 ulps
        XCTAssertFalse(DiffTester.closeF80(one, (1 << 63, 0xBFFF)))             // sign
        XCTAssertFalse(DiffTester.closeF80(one, (1 << 63, 0x4000)))             // 2^63 ulps
        XCTAssertTrue(DiffTester.closeF80((0x7FFF_FFFF_FFFF_FFFF, 0), (1 << 63, 1)))  // denormal/normal
        XCTAssertFalse(DiffTester.closeF80((1 << 63, 0x7FFF), (1 << 63 | 1, 0x7FFF)))  // NaN vs inf
        XCTAssertFalse(DiffTester.closeF80((0x4000_0000_0000_0000, 0x3FFF), (0x4000_0000_0000_0001, 0x3FFF)))  // unnormals
    }
}
