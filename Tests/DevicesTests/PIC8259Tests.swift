import XCTest
import CPU
@testable import Devices

final class PIC8259Tests: XCTestCase {
    var out: [Bool] = []

    func cmd(_ p: PIC8259, slave: Bool = false, _ v: UInt8) {
        (slave ? p.slavePorts : p.masterPorts).ioWrite(offset: 0, size: 1, value: UInt64(v))
    }
    func data(_ p: PIC8259, slave: Bool = false, _ v: UInt8) {
        (slave ? p.slavePorts : p.masterPorts).ioWrite(offset: 1, size: 1, value: UInt64(v))
    }
    func read(_ p: PIC8259, slave: Bool = false, _ off: UInt64) -> UInt8 {
        UInt8((slave ? p.slavePorts : p.masterPorts).ioRead(offset: off, size: 1))
    }

    /// The BIOS-style initialization: master at 0x08 (or `base`), slave at 0x70, x86 mode.
    func makePIC(master: UInt8 = 0x20, slave: UInt8 = 0x28, icw4Master: UInt8 = 0x01, icw4Slave: UInt8 = 0x01) -> PIC8259 {
        let p = PIC8259()
        out = []
        p.output = { [unowned self] in self.out.append($0) }
        cmd(p, 0x11); data(p, master); data(p, 0x04); data(p, icw4Master)
        cmd(p, slave: true, 0x11); data(p, slave: true, slave); data(p, slave: true, 0x02); data(p, slave: true, icw4Slave)
        data(p, 0x00); data(p, slave: true, 0x00)
        return p
    }

    func eoi(_ p: PIC8259, slave: Bool = false) { cmd(p, slave: slave, 0x20) }

    func testInitSequenceAndVectors() {
        let p = makePIC()
        XCTAssertEqual(p.state.master.vectorBase, 0x20)
        XCTAssertEqual(p.state.slave.vectorBase, 0x28)
        XCTAssertFalse(p.interruptRequested)
        p.setIRQ(0, true)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(out.last, true)
        XCTAssertEqual(out.dropLast().filter { $0 }, [])   // no request before IRQ0
        XCTAssertEqual(p.acknowledge(), 0x20)
        XCTAssertFalse(p.interruptRequested)
        XCTAssertEqual(p.state.master.isr, 0x01)
        XCTAssertEqual(p.state.master.irr, 0x00)
        eoi(p)
        XCTAssertEqual(p.state.master.isr, 0)
        // Data port reads IMR; ICW1 without ICW4 (0x10) leaves the rest default.
        data(p, 0xFB)
        XCTAssertEqual(read(p, 1), 0xFB)
        cmd(p, 0x12)     // single, no ICW4: ICW2 then operational
        data(p, 0x40)
        data(p, 0x00)    // OCW1
        XCTAssertEqual(p.state.master.initStep, 0)
        XCTAssertEqual(p.state.master.vectorBase, 0x40)
        XCTAssertEqual(read(p, 1), 0x00)
    }

    func testPriorityResolutionAndNesting() {
        let p = makePIC()
        p.setIRQ(3, true); p.setIRQ(1, true)
        XCTAssertEqual(p.acknowledge(), 0x21)          // IRQ1 beats IRQ3
        XCTAssertFalse(p.interruptRequested)           // IRQ3 is lower than IRQ1 in service
        p.setIRQ(0, true)
        XCTAssertTrue(p.interruptRequested)            // IRQ0 nests over IRQ1
        XCTAssertEqual(p.acknowledge(), 0x20)
        XCTAssertEqual(p.state.master.isr, 0x03)
        eoi(p)                                         // clears IRQ0 (highest in service)
        XCTAssertEqual(p.state.master.isr, 0x02)
        XCTAssertFalse(p.interruptRequested)
        eoi(p)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x23)
        cmd(p, 0x63)                                   // specific EOI IRQ3
        XCTAssertEqual(p.state.master.isr, 0)
    }

    func testMasking() {
        let p = makePIC()
        data(p, 0x02)
        p.setIRQ(1, true)
        XCTAssertFalse(p.interruptRequested)
        XCTAssertEqual(p.state.master.irr, 0x02)      // still latched
        data(p, 0x00)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x21)
    }

    func testCascadeThroughSlave() {
        let p = makePIC()
        p.setIRQ(10, true)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x2A)
        XCTAssertEqual(p.state.slave.isr, 0x04)
        XCTAssertEqual(p.state.master.isr, 0x04)
        // A lower slave IRQ waits; a master IRQ below IRQ2 waits too; IRQ0/1 nest.
        p.setIRQ(12, true)
        p.setIRQ(5, true)
        XCTAssertFalse(p.interruptRequested)
        eoi(p, slave: true); eoi(p)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x2C)          // IRQ12 (via IRQ2) before IRQ5
        eoi(p, slave: true); eoi(p)
        XCTAssertEqual(p.acknowledge(), 0x25)
        eoi(p)
        XCTAssertFalse(p.interruptRequested)
        // Masking the cascade input on the master hides the slave.
        data(p, 0x04)
        p.setIRQ(8, true)
        XCTAssertFalse(p.interruptRequested)
        data(p, 0x00)
        XCTAssertEqual(p.acknowledge(), 0x28)
        // setIRQ(2) is the cascade: ignored as an input.
        eoi(p, slave: true); eoi(p)
        p.setIRQ(2, true)
        XCTAssertEqual(p.state.master.irr & 0x04, 0)
    }

    func testSpuriousIRQ7AndIRQ15() {
        let p = makePIC()
        XCTAssertEqual(p.acknowledge(), 0x27)          // nothing pending: spurious IRQ7
        XCTAssertEqual(p.state.master.isr, 0)          // ISR not set for spurious
        // Level-triggered IRQ10 goes away between the request and INTA: spurious IRQ15.
        p.elcrPorts.ioWrite(offset: 1, size: 1, value: 0x04)
        p.setIRQ(10, true)
        XCTAssertEqual(p.state.master.irr & 0x04, 0x04)
        p.setIRQ(10, false)
        XCTAssertEqual(p.state.master.irr & 0x04, 0x04)   // the master latched the edge
        XCTAssertEqual(p.acknowledge(), 0x2F)
        XCTAssertEqual(p.state.slave.isr, 0)
        XCTAssertEqual(p.state.master.isr, 0x04)         // the master still needs its EOI
        eoi(p)
        // Masked-after-request IRQ on the master: spurious IRQ7.
        p.elcrPorts.ioWrite(offset: 0, size: 1, value: 0x20)
        p.setIRQ(5, true)
        XCTAssertTrue(p.interruptRequested)
        p.setIRQ(5, false)
        XCTAssertFalse(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x27)
    }

    func testLevelTriggeredReRaiseAfterEOI() {
        let p = makePIC()
        p.elcrPorts.ioWrite(offset: 1, size: 1, value: 0x08)   // IRQ11 level
        p.setIRQ(11, true)
        XCTAssertEqual(p.acknowledge(), 0x2B)
        XCTAssertFalse(p.interruptRequested)
        eoi(p, slave: true); eoi(p)
        XCTAssertTrue(p.interruptRequested)                    // still asserted: again
        XCTAssertEqual(p.acknowledge(), 0x2B)
        p.setIRQ(11, false)
        eoi(p, slave: true); eoi(p)
        XCTAssertFalse(p.interruptRequested)
        // Edge-triggered input held high: one interrupt only.
        p.setIRQ(1, true)
        XCTAssertEqual(p.acknowledge(), 0x21)
        eoi(p)
        XCTAssertFalse(p.interruptRequested)
        p.setIRQ(1, true)
        XCTAssertFalse(p.interruptRequested)                   // no new edge
        p.setIRQ(1, false); p.setIRQ(1, true)
        XCTAssertTrue(p.interruptRequested)
        // ICW1.LTIM makes every input of that chip level-triggered.
        let q = PIC8259()
        cmd(q, 0x19); data(q, 0x08); data(q, 0x04); data(q, 0x01)
        q.setIRQ(4, true)
        XCTAssertEqual(q.acknowledge(), 0x0C)
        cmd(q, 0x20)
        XCTAssertTrue(q.interruptRequested)
    }

    func testELCRMasks() {
        let p = makePIC()
        p.elcrPorts.ioWrite(offset: 0, size: 2, value: 0xFFFF)
        XCTAssertEqual(p.elcrPorts.ioRead(offset: 0, size: 1), 0xF8)
        XCTAssertEqual(p.elcrPorts.ioRead(offset: 1, size: 1), 0xDE)
        XCTAssertEqual(p.elcrPorts.ioRead(offset: 0, size: 2), 0xDEF8)
        // ELCR survives re-initialization.
        cmd(p, 0x11); data(p, 0x20); data(p, 0x04); data(p, 0x01)
        XCTAssertEqual(p.state.master.elcr, 0xF8)
    }

    func testAutoEOI() {
        let p = makePIC(icw4Master: 0x03)
        p.setIRQ(4, true)
        XCTAssertEqual(p.acknowledge(), 0x24)
        XCTAssertEqual(p.state.master.isr, 0)
        p.setIRQ(6, true)
        XCTAssertTrue(p.interruptRequested)    // nothing in service blocks it
        // Rotate in auto-EOI mode: the serviced IRQ becomes lowest.
        cmd(p, 0x80)
        XCTAssertEqual(p.acknowledge(), 0x26)
        XCTAssertEqual(p.state.master.priorityAdd, 7)
        cmd(p, 0x00)
        XCTAssertFalse(p.state.master.rotateOnAutoEOI)
    }

    func testRotationAndSetPriority() {
        let p = makePIC()
        p.setIRQ(0, true)
        XCTAssertEqual(p.acknowledge(), 0x20)
        cmd(p, 0xA0)                           // rotate on non-specific EOI: IRQ0 now lowest
        XCTAssertEqual(p.state.master.priorityAdd, 1)
        p.setIRQ(0, false); p.setIRQ(0, true)
        p.setIRQ(5, true)
        XCTAssertEqual(p.acknowledge(), 0x25)
        cmd(p, 0x65)
        XCTAssertEqual(p.acknowledge(), 0x20)
        cmd(p, 0x60)
        // Set priority: IRQ4 lowest, so IRQ5 highest.
        cmd(p, 0xC4)
        p.setIRQ(3, true); p.setIRQ(6, true)
        XCTAssertEqual(p.acknowledge(), 0x26)
        // Rotate on specific EOI.
        cmd(p, 0xE6)
        XCTAssertEqual(p.state.master.isr, 0)
        XCTAssertEqual(p.state.master.priorityAdd, 7)
        XCTAssertEqual(p.acknowledge(), 0x23)
    }

    func testOCW3ReadRegistersAndPoll() {
        let p = makePIC()
        data(p, 0xFF)
        p.setIRQ(3, true); p.setIRQ(6, true)
        cmd(p, 0x0A)
        XCTAssertEqual(read(p, 0), 0x48)       // IRR
        data(p, 0x00)
        XCTAssertEqual(p.acknowledge(), 0x23)
        cmd(p, 0x0B)
        XCTAssertEqual(read(p, 0), 0x08)       // ISR
        XCTAssertEqual(read(p, 0), 0x08)       // selection persists
        // Poll: acknowledges the highest request.
        cmd(p, 0x20)
        cmd(p, 0x0C)
        XCTAssertEqual(read(p, 0), 0x86)
        XCTAssertEqual(p.state.master.isr, 0x40)
        cmd(p, 0x0C)
        XCTAssertEqual(read(p, 1), 0x00)       // nothing else pending (via the data port too)
        XCTAssertEqual(read(p, 1), 0x00)       // poll over: IMR again
        // Polling through the cascade acknowledges the slave as well.
        cmd(p, 0x20)
        p.setIRQ(13, true)
        cmd(p, 0x0C)
        XCTAssertEqual(read(p, 0), 0x82)
        XCTAssertEqual(p.state.slave.isr, 0x20)
    }

    func testSpecialMaskMode() {
        let p = makePIC()
        p.setIRQ(3, true)
        XCTAssertEqual(p.acknowledge(), 0x23)
        p.setIRQ(5, true)
        XCTAssertFalse(p.interruptRequested)   // IRQ3 in service blocks IRQ5
        data(p, 0x08)                          // mask IRQ3
        cmd(p, 0x68)                           // set special mask mode
        XCTAssertTrue(p.state.master.specialMask)
        XCTAssertTrue(p.interruptRequested)
        XCTAssertEqual(p.acknowledge(), 0x25)
        cmd(p, 0x48)                           // reset special mask mode
        XCTAssertFalse(p.state.master.specialMask)
    }

    func testSpecialFullyNestedMode() {
        // Without SFNM a higher slave IRQ waits behind a slave IRQ in service.
        let p = makePIC()
        p.setIRQ(9, true)
        XCTAssertEqual(p.acknowledge(), 0x29)
        p.setIRQ(8, true)
        XCTAssertFalse(p.interruptRequested)
        // With SFNM on the master it nests.
        let q = makePIC(icw4Master: 0x11)
        q.setIRQ(9, true)
        XCTAssertEqual(q.acknowledge(), 0x29)
        q.setIRQ(8, true)
        XCTAssertTrue(q.interruptRequested)
        XCTAssertEqual(q.acknowledge(), 0x28)
    }

    func testWideAccessSplitsIntoBytes() {
        let p = PIC8259()
        // outw 0x20, 0x0811 writes ICW1 0x11 to 0x20 then ICW2 0x08 to 0x21.
        p.masterPorts.ioWrite(offset: 0, size: 2, value: 0x0811)
        XCTAssertEqual(p.state.master.initStep, 2)
        XCTAssertEqual(p.state.master.vectorBase, 0x08)
    }

    func testStateRestore() {
        let p = makePIC()
        p.setIRQ(4, true)
        let s = p.state
        let q = PIC8259()
        var level: Bool?
        q.output = { level = $0 }
        q.restore(s)
        XCTAssertEqual(level, true)
        XCTAssertEqual(q.state, s)
        XCTAssertEqual(q.acknowledge(), 0x24)
        // Re-sync after the CPU was reset on its own.
        q.setIRQ(1, true)                   // nests over IRQ4 in service
        level = nil
        q.resyncOutput()
        XCTAssertEqual(level, true)
    }

    func testGarbageNeverCrashesOrHangs() {
        var rng = SystemRandomNumberGenerator()
        let p = PIC8259()
        var acks = 0
        p.output = { _ in }
        let views: [IODevice] = [p.masterPorts, p.slavePorts, p.elcrPorts]
        for _ in 0..<200_000 {
            let v = views[Int.random(in: 0..<3, using: &rng)]
            let off = UInt64.random(in: 0..<4, using: &rng)
            let size = [1, 2, 4, 8][Int.random(in: 0..<4, using: &rng)]
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: _ = v.ioRead(offset: off, size: size)
            case 1: p.setIRQ(Int.random(in: -2..<20, using: &rng), Bool.random(using: &rng))
            case 2: if p.interruptRequested { _ = p.acknowledge(); acks += 1 }
            default: v.ioWrite(offset: off, size: size, value: UInt64.random(in: 0...UInt64.max, using: &rng))
            }
        }
        _ = p.masterPorts.ioRead(offset: 0x1_0000_0000, size: 1)
        XCTAssertGreaterThanOrEqual(acks, 0)
    }
}
