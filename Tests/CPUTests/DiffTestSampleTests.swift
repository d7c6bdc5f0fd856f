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
}
