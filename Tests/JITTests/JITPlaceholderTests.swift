import XCTest
import JIT

/// Placeholder until the JIT's tests land (issue 4).
final class JITPlaceholderTests: XCTestCase {
    func testSeamExists() {
        XCTAssertFalse(JITStatus.available)
    }
}
