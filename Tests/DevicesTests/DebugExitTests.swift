import XCTest
import Devices

final class DebugExitTests: XCTestCase {
    func testExitStatusIsValueShiftedOrOne() {
        let d = DebugExit()
        var status: Int32?
        d.onExit = { status = $0 }
        d.ioWrite(offset: 0, size: 1, value: 0)
        XCTAssertEqual(status, 1)
        d.ioWrite(offset: 0, size: 1, value: 0x21)
        XCTAssertEqual(status, 0x43)
        XCTAssertEqual(d.state.exitValue, 0x21)
    }
}
