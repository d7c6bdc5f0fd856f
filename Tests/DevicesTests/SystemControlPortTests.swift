import XCTest
import CPU
@testable import Devices

final class SystemControlPortTests: XCTestCase {
    func testA20BitAndReadBack() {
        let p = SystemControlPort()
        var a20: [Bool] = []
        p.a20Changed = { a20.append($0) }
        XCTAssertEqual(p.ioRead(offset: 0, size: 1), 0)
        p.ioWrite(offset: 0, size: 1, value: 0x02)
        XCTAssertEqual(p.ioRead(offset: 0, size: 1), 0x02)
        p.ioWrite(offset: 0, size: 1, value: 0x00)
        p.ioWrite(offset: 0, size: 1, value: 0x02)
        XCTAssertEqual(a20, [true, false, true])
    }

    func testFastResetOnRisingEdgeOnly() {
        let p = SystemControlPort()
        var resets = 0
        p.resetRequested = { resets += 1 }
        p.ioWrite(offset: 0, size: 1, value: 0x03)
        XCTAssertEqual(resets, 1)
        p.ioWrite(offset: 0, size: 1, value: 0x03)   // still set: no new pulse
        XCTAssertEqual(resets, 1)
        XCTAssertEqual(p.ioRead(offset: 0, size: 1), 0x03)
        p.reset()
        XCTAssertEqual(p.ioRead(offset: 0, size: 1), 0x02)   // reset clears bit 0, keeps A20
        p.ioWrite(offset: 0, size: 1, value: 0x01)
        XCTAssertEqual(resets, 2)
    }

    func testOnBusAndGarbage() throws {
        let p = SystemControlPort()
        p.a20Changed = { _ in }
        p.resetRequested = {}
        let bus = PortBus()
        try bus.register(p, base: 0x92, count: 1, name: "port92")
        bus.write(0x92, size: 1, value: 0x02)
        XCTAssertEqual(bus.read(0x92, size: 1), 0x02)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let r = rng.next() as UInt64
            let size = [1, 2, 4, 8][Int(r & 3)]
            p.ioWrite(offset: (r >> 2) & 3, size: size, value: r >> 8)
            _ = p.ioRead(offset: (r >> 4) & 3, size: size)
        }
    }
}
