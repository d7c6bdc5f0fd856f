import XCTest
import CPU
@testable import Devices

final class IOAPICTests: XCTestCase {
    struct Message: Equatable {
        var dest: UInt8, logical: Bool, mode: UInt8, vector: UInt8, level: Bool
    }
    var sent: [Message] = []

    func make() -> IOAPIC {
        let io = IOAPIC()
        sent = []
        io.deliver = { [unowned self] d, l, m, v, t in self.sent.append(Message(dest: d, logical: l, mode: m, vector: v, level: t)) }
        return io
    }

    func select(_ io: IOAPIC, _ index: UInt8) { io.ioWrite(offset: 0x00, size: 4, value: UInt64(index)) }
    func rd(_ io: IOAPIC, _ index: UInt8) -> UInt32 {
        select(io, index)
        return UInt32(truncatingIfNeeded: io.ioRead(offset: 0x10, size: 4))
    }
    func wr(_ io: IOAPIC, _ index: UInt8, _ v: UInt32) {
        select(io, index)
        io.ioWrite(offset: 0x10, size: 4, value: UInt64(v))
    }
    /// Programs redirection entry `pin`.
    func route(_ io: IOAPIC, _ pin: Int, low: UInt32, dest: UInt8 = 0) {
        wr(io, UInt8(0x11 + 2 * pin), UInt32(dest) << 24)
        wr(io, UInt8(0x10 + 2 * pin), low)
    }

    func testRegistersAndWriteMasks() {
        let io = make()
        XCTAssertEqual(rd(io, 0x01), 0x0017_0020)
        XCTAssertEqual(rd(io, 0x00), 0)
        wr(io, 0x00, 0xFFFF_FFFF)
        XCTAssertEqual(rd(io, 0x00), 0x0F00_0000)
        XCTAssertEqual(rd(io, 0x02), 0x0F00_0000)      // arbitration mirrors the ID
        wr(io, 0x01, 0); wr(io, 0x02, 0)
        XCTAssertEqual(rd(io, 0x01), 0x0017_0020)
        for pin in 0..<24 {
            XCTAssertEqual(rd(io, UInt8(0x10 + 2 * pin)), 0x0001_0000)
            XCTAssertEqual(rd(io, UInt8(0x11 + 2 * pin)), 0)
        }
        wr(io, 0x10, 0xFFFF_FFFF)                      // delivery status and remote IRR are read-only
        XCTAssertEqual(rd(io, 0x10), 0x0001_AFFF)
        wr(io, 0x11, 0xFFFF_FFFF)
        XCTAssertEqual(rd(io, 0x11), 0xFF00_0000)
        XCTAssertEqual(io.entry(0), 0xFF00_0000_0001_AFFF)
        XCTAssertEqual(rd(io, 0x40), 0)                // beyond the table
        XCTAssertEqual(rd(io, 0xFF), 0)
        wr(io, 0x40, 0x1234)
        // IOREGSEL reads back; IOWIN needs 4-byte accesses; unknown offsets read 0.
        select(io, 0x3F)
        XCTAssertEqual(io.ioRead(offset: 0x00, size: 1), 0x3F)
        XCTAssertEqual(io.ioRead(offset: 0x10, size: 2), 0)
        XCTAssertEqual(io.ioRead(offset: 0x20, size: 4), 0)
        XCTAssertEqual(io.ioRead(offset: 0x40, size: 4), 0)
        io.ioWrite(offset: 0x10, size: 1, value: 0xFF)
        XCTAssertEqual(rd(io, 0x3F), 0)
        XCTAssertGreaterThan(io.badAccesses, 0)
        io.reset()
        XCTAssertEqual(rd(io, 0x10), 0x0001_0000)
        XCTAssertEqual(rd(io, 0x00), 0)
    }

    func testEdgeTriggered() {
        let io = make()
        route(io, 4, low: 0x0000_0834, dest: 0x01)     // logical, fixed, vector 0x34, edge
        io.setIRQ(4, true)
        XCTAssertEqual(sent, [Message(dest: 1, logical: true, mode: 0, vector: 0x34, level: false)])
        io.setIRQ(4, true)                             // no new edge
        XCTAssertEqual(sent.count, 1)
        io.setIRQ(4, false)
        XCTAssertEqual(sent.count, 1)
        io.setIRQ(4, true)
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(rd(io, 0x18) & 0x4000, 0)       // no remote IRR for edges
        route(io, 0, low: 0x0000_0700, dest: 0xFF)     // ExtINT
        io.setIRQ(0, true)
        XCTAssertEqual(sent.last, Message(dest: 0xFF, logical: false, mode: 7, vector: 0, level: false))
    }

    func testLevelTriggeredRemoteIRRAndEOI() {
        let io = make()
        route(io, 9, low: 0x0000_A040)                 // level, active low (not applied), vector 0x40
        io.setIRQ(9, true)
        XCTAssertEqual(sent, [Message(dest: 0, logical: false, mode: 0, vector: 0x40, level: true)])
        XCTAssertEqual(rd(io, 0x22) & 0x4000, 0x4000)  // remote IRR
        io.setIRQ(9, true)
        io.setIRQ(9, false)
        io.setIRQ(9, true)                             // waiting for EOI: nothing
        XCTAssertEqual(sent.count, 1)
        io.eoi(vector: 0x41)                           // other vector: nothing
        XCTAssertEqual(sent.count, 1)
        io.eoi(vector: 0x40)                           // still asserted: delivered again
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(rd(io, 0x22) & 0x4000, 0x4000)
        io.setIRQ(9, false)
        io.ioWrite(offset: 0x40, size: 4, value: 0x40) // EOI register
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(rd(io, 0x22) & 0x4000, 0)
        // Switching an entry to edge clears remote IRR.
        io.setIRQ(9, true)
        XCTAssertEqual(sent.count, 3)
        wr(io, 0x22, 0x0000_0040)
        XCTAssertEqual(rd(io, 0x22) & 0x4000, 0)
    }

    func testMasking() {
        let io = make()
        route(io, 3, low: 0x0001_0033)                 // masked edge
        io.setIRQ(3, true)
        XCTAssertTrue(sent.isEmpty)
        route(io, 3, low: 0x0000_0033)                 // unmask: the edge was lost
        XCTAssertTrue(sent.isEmpty)
        io.setIRQ(3, false)
        io.setIRQ(3, true)
        XCTAssertEqual(sent.count, 1)

        route(io, 10, low: 0x0001_8050)                // masked level
        io.setIRQ(10, true)
        XCTAssertEqual(sent.count, 1)
        route(io, 10, low: 0x0000_8050)                // unmasked while asserted: delivered
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(sent.last?.vector, 0x50)
        // Masked while waiting for EOI: the EOI clears remote IRR but delivers nothing.
        route(io, 10, low: 0x0001_8050)
        io.eoi(vector: 0x50)
        XCTAssertEqual(sent.count, 2)
        XCTAssertEqual(rd(io, 0x24) & 0x4000, 0)
    }

    func testPinsOutOfRangeIgnored() {
        let io = make()
        for pin in [-1, 24, 100, Int.max, Int.min] { io.setIRQ(pin, true) }
        XCTAssertTrue(sent.isEmpty)
        XCTAssertEqual(io.entry(24), 0)
        XCTAssertEqual(io.entry(-5), 0)
        var s = io.state
        s.redirection = [0]
        io.restore(s)                                  // malformed state refused
        XCTAssertEqual(io.state.redirection.count, 24)
    }

    func testStateRestore() {
        let io = make()
        route(io, 5, low: 0x0000_8045, dest: 2)
        io.setIRQ(5, true)
        let saved = io.state
        let io2 = IOAPIC()
        io2.restore(saved)
        XCTAssertEqual(io2.state, saved)
        var got: [UInt8] = []
        io2.deliver = { _, _, _, v, _ in got.append(v) }
        io2.eoi(vector: 0x45)
        XCTAssertEqual(got, [0x45])
    }

    /// IOAPIC → LAPIC → EOI broadcast → IOAPIC, wired as the machine will.
    func testLevelInterruptThroughLocalAPIC() {
        let clock = Clock()
        let lapic = LAPIC(clock: clock)
        let io = IOAPIC()
        io.deliver = { [unowned lapic] dest, logical, mode, vector, level in
            if lapic.matchesDestination(dest, logical: logical) {
                lapic.deliver(vector: vector, deliveryMode: mode, level: true, triggerLevel: level)
            }
        }
        lapic.onLevelEOI = { [unowned io] in io.eoi(vector: $0) }
        lapic.ioWrite(offset: UInt64(LAPIC.Reg.svr), size: 4, value: 0x1FF)
        route(io, 11, low: 0x0000_8061)
        route(io, 12, low: 0x0000_0062, dest: 7)       // another APIC: not delivered here
        io.setIRQ(12, true)
        XCTAssertFalse(lapic.interruptRequested)
        io.setIRQ(11, true)
        XCTAssertTrue(lapic.interruptRequested)
        XCTAssertEqual(lapic.acknowledge(), 0x61)
        lapic.ioWrite(offset: UInt64(LAPIC.Reg.eoi), size: 4, value: 0)
        XCTAssertTrue(lapic.interruptRequested)        // line still high: re-delivered
        XCTAssertEqual(lapic.acknowledge(), 0x61)
        io.setIRQ(11, false)
        lapic.ioWrite(offset: UInt64(LAPIC.Reg.eoi), size: 4, value: 0)
        XCTAssertFalse(lapic.interruptRequested)
        XCTAssertEqual(io.entry(11) & IOAPIC.Redirection.remoteIRR, 0)
    }

    func testRandomMMIONeverCrashes() {
        var rng = LAPICTestRNG(seed: 0xA11C_E5ED)
        let io = make()
        let sizes = [1, 2, 4, 8, 0, -3, 3]
        for _ in 0..<200_000 {
            let off = rng.next() % 4 == 0 ? rng.next() : [0, 0x10, 0x40, 0x20][Int(rng.next() % 4)]
            let size = rng.next() % 3 != 0 ? 4 : sizes[Int(rng.next() % UInt64(sizes.count))]
            if rng.next() & 1 == 0 {
                io.ioWrite(offset: off, size: size, value: rng.next())
            } else {
                _ = io.ioRead(offset: off, size: size)
            }
            switch rng.next() % 4 {
            case 0: io.setIRQ(Int(truncatingIfNeeded: rng.next() % 30) - 3, rng.next() & 1 == 0)
            case 1: io.eoi(vector: UInt8(truncatingIfNeeded: rng.next()))
            default: break
            }
            if sent.count > 10_000 { sent.removeAll(keepingCapacity: true) }
        }
        XCTAssertEqual(io.state.redirection.count, 24)
        XCTAssertEqual(io.state.id & 0xF0, 0)
    }
}
