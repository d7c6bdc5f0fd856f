import XCTest
import CPU
@testable import Devices

final class UART16550Tests: XCTestCase {
    var out: [UInt8] = []
    var line = false
    func make() -> UART16550 {
        let u = UART16550(output: { [unowned self] in self.out.append($0) })
        u.irq = { [unowned self] in self.line = $0 }
        return u
    }
    func iir(_ u: UART16550) -> UInt64 { u.ioRead(offset: 2, size: 1) & 0x0F }

    func testTHREInterruptRulesAndOUT2Gate() {
        let u = make()
        u.ioWrite(offset: 1, size: 1, value: 2)                  // ETBEI 0 -> 1: THRE pending
        XCTAssertFalse(line, "OUT2 clear gates the line")
        u.ioWrite(offset: 4, size: 1, value: 0x08)               // OUT2
        XCTAssertTrue(line)
        XCTAssertEqual(iir(u), 0x02)                            // reading IIR clears THRE
        XCTAssertFalse(line)
        XCTAssertEqual(iir(u), 0x01)
        u.ioWrite(offset: 0, size: 1, value: 0x41)
        XCTAssertEqual(out, [0x41])
        XCTAssertTrue(line)
    }

    func testFIFOTriggerTimeoutAndPriority() {
        let u = make()
        u.ioWrite(offset: 4, size: 1, value: 0x08)
        u.ioWrite(offset: 2, size: 1, value: 0x81)               // FIFO on, trigger 8
        u.ioWrite(offset: 1, size: 1, value: 0x07)               // RDA, THRE, RLS
        _ = iir(u)                                               // drop THRE
        u.receive(1)
        XCTAssertEqual(iir(u), 0x0C, "timeout below the trigger level")
        for b in 2...8 { u.receive(UInt8(b)) }
        XCTAssertEqual(iir(u), 0x04, "data available at the trigger level")
        for b in 9...20 { u.receive(UInt8(b)) }
        XCTAssertFalse(u.canReceive)
        XCTAssertEqual(iir(u), 0x06, "overrun outranks data")
        XCTAssertEqual(u.ioRead(offset: 5, size: 1) & 0x03, 0x03)   // DR + OE, OE cleared by the read
        XCTAssertEqual(u.ioRead(offset: 2, size: 1) & 0xC0, 0xC0)
        var got: [UInt64] = []
        for _ in 0..<16 { got.append(u.ioRead(offset: 0, size: 1)) }
        XCTAssertEqual(got, (1...16).map { UInt64($0) })
        XCTAssertEqual(u.ioRead(offset: 5, size: 1) & 1, 0)
    }

    func test16450ModeHoldsOneByte() {
        let u = make()
        u.receive(1)
        XCTAssertFalse(u.canReceive)
        u.receive(2)
        XCTAssertEqual(u.ioRead(offset: 5, size: 1) & 0x02, 0x02)
        XCTAssertEqual(u.ioRead(offset: 0, size: 1), 1)
    }

    func testLoopbackAndModemStatus() {
        let u = make()
        u.ioWrite(offset: 4, size: 1, value: 0x10 | 0x03)        // loop, DTR, RTS
        XCTAssertEqual(u.ioRead(offset: 6, size: 1) & 0xF0, 0x30)   // CTS, DSR
        u.ioWrite(offset: 0, size: 1, value: 0x5A)
        XCTAssertTrue(out.isEmpty)
        XCTAssertEqual(u.ioRead(offset: 0, size: 1), 0x5A)
        u.ioWrite(offset: 4, size: 1, value: 0x10 | 0x0C)
        let msr = u.ioRead(offset: 6, size: 1)
        XCTAssertEqual(msr & 0xF0, 0xC0)
        XCTAssertNotEqual(msr & 0x0B, 0, "delta bits")
        XCTAssertEqual(u.ioRead(offset: 6, size: 1) & 0x0F, 0, "deltas cleared by reading")
    }

    func testDivisorLatchAndStateRoundTrip() {
        let u = make()
        u.ioWrite(offset: 3, size: 1, value: 0x80)
        u.ioWrite(offset: 0, size: 1, value: 0x01); u.ioWrite(offset: 1, size: 1, value: 0x02)
        XCTAssertEqual(u.state.divisor, 0x0201)
        XCTAssertEqual(u.ioRead(offset: 1, size: 1), 0x02)
        u.reset()
        XCTAssertEqual(u.state, UART16550.State())
    }

    func testRandomHammeringNeverCrashes() {
        let u = make()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50_000 {
            let off = UInt64.random(in: 0..<16, using: &rng)
            if Bool.random(using: &rng) { _ = u.ioRead(offset: off, size: 1) } else {
                u.ioWrite(offset: off, size: [1, 2, 4].randomElement(using: &rng)!, value: UInt64.random(in: 0...0xFFFF, using: &rng))
            }
            if Int.random(in: 0..<4, using: &rng) == 0 { u.receive(UInt8.random(in: 0...255, using: &rng)) }
        }
    }
}
