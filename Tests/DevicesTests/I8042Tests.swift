import XCTest
import CPU
@testable import Devices

final class I8042Tests: XCTestCase {
    // Port helpers: offset 0 = 0x60, offset 4 = 0x64.
    func status(_ k: I8042) -> UInt8 { UInt8(k.ioRead(offset: 4, size: 1)) }
    func cmd(_ k: I8042, _ v: UInt8) { k.ioWrite(offset: 4, size: 1, value: UInt64(v)) }
    func data(_ k: I8042, _ v: UInt8) { k.ioWrite(offset: 0, size: 1, value: UInt64(v)) }
    func read(_ k: I8042) -> UInt8 { UInt8(k.ioRead(offset: 0, size: 1)) }
    /// Reads bytes while the output buffer is full (bounded).
    func drain(_ k: I8042) -> [UInt8] {
        var out: [UInt8] = []
        while status(k) & 1 != 0 && out.count < 256 { out.append(read(k)) }
        return out
    }

    func testPowerOnStatusAndSelfTest() {
        let k = I8042()
        XCTAssertEqual(status(k), 0x18)   // keyboard unlocked, last write "command"
        cmd(k, 0xAA)
        XCTAssertEqual(status(k) & 0x01, 0x01)
        XCTAssertEqual(status(k) & 0x04, 0x04)   // system flag after self-test
        XCTAssertEqual(read(k), 0x55)
        XCTAssertEqual(status(k) & 0x01, 0)
        cmd(k, 0xAB); XCTAssertEqual(drain(k), [0x00])
        cmd(k, 0xA9); XCTAssertEqual(drain(k), [0x00])
        // Nothing new: the last byte reads again.
        XCTAssertEqual(read(k), 0x00)
    }

    func testCommandByteReadWriteAndStatusA2() {
        let k = I8042()
        cmd(k, 0x20)
        XCTAssertEqual(drain(k), [0x03])
        cmd(k, 0x60)
        XCTAssertEqual(status(k) & 0x08, 0x08)
        data(k, 0x65)
        XCTAssertEqual(status(k) & 0x08, 0)
        XCTAssertEqual(k.state.commandByte, 0x65)
        XCTAssertEqual(status(k) & 0x04, 0x04)
        cmd(k, 0x20)
        XCTAssertEqual(drain(k), [0x65])
        // Other RAM bytes.
        cmd(k, 0x61); data(k, 0x5A)
        cmd(k, 0x21); XCTAssertEqual(drain(k), [0x5A])
    }

    func testDisableEnableInterfacesUpdateCommandByte() {
        let k = I8042()
        cmd(k, 0xAD); XCTAssertEqual(k.state.commandByte & 0x10, 0x10)
        cmd(k, 0xAE); XCTAssertEqual(k.state.commandByte & 0x10, 0)
        cmd(k, 0xA7); XCTAssertEqual(k.state.commandByte & 0x20, 0x20)
        cmd(k, 0xA8); XCTAssertEqual(k.state.commandByte & 0x20, 0)
    }

    func testOutputPortA20AndReset() {
        let k = I8042()
        var a20: [Bool] = []
        var resets = 0
        k.a20Changed = { a20.append($0) }
        k.resetRequested = { resets += 1 }
        cmd(k, 0xD0)
        XCTAssertEqual(drain(k).first.map { $0 & 0x03 }, 0x03)
        cmd(k, 0xD1); data(k, 0xDD)
        XCTAssertEqual(a20, [false])
        cmd(k, 0xD0)
        XCTAssertEqual(drain(k).first.map { $0 & 0x02 }, 0)
        cmd(k, 0xD1); data(k, 0xDF)
        XCTAssertEqual(a20, [false, true])
        cmd(k, 0xFF)                 // null pulse (Linux sends it after enabling A20)
        XCTAssertEqual(resets, 0)
        cmd(k, 0xDD); cmd(k, 0xDF)
        XCTAssertEqual(a20, [false, true, false, true])
        cmd(k, 0xFE)
        XCTAssertEqual(resets, 1)
        cmd(k, 0xF0)
        XCTAssertEqual(resets, 2)
        cmd(k, 0xD1); data(k, 0x02)   // reset line low
        XCTAssertEqual(resets, 3)
    }

    func testKeyboardCommands() {
        let k = I8042()
        data(k, 0xFF); XCTAssertEqual(drain(k), [0xFA, 0xAA])
        data(k, 0xEE); XCTAssertEqual(drain(k), [0xEE])
        data(k, 0xF2); XCTAssertEqual(drain(k), [0xFA, 0xAB, 0x83])
        data(k, 0xED); data(k, 0x07)
        XCTAssertEqual(drain(k), [0xFA, 0xFA])
        XCTAssertEqual(k.state.keyboard.leds, 7)
        data(k, 0xF3); data(k, 0x20); XCTAssertEqual(drain(k), [0xFA, 0xFA])
        data(k, 0xF0); data(k, 0x00); XCTAssertEqual(drain(k), [0xFA, 0xFA, 0x02])
        data(k, 0xF0); data(k, 0x01); XCTAssertEqual(drain(k), [0xFA, 0xFA])
        XCTAssertEqual(k.state.keyboard.scanCodeSet, 1)
        data(k, 0xF0); data(k, 0x07); XCTAssertEqual(drain(k), [0xFA, 0xFE])
        data(k, 0xF5); XCTAssertEqual(drain(k), [0xFA])
        XCTAssertFalse(k.sendScancodes([0x1C]))
        data(k, 0xF4); XCTAssertEqual(drain(k), [0xFA])
        XCTAssertTrue(k.sendScancodes([0x1C]))
        XCTAssertEqual(drain(k), [0x1C])
        data(k, 0x42); XCTAssertEqual(drain(k), [0xFE])   // unknown command: resend
        // With translation the ID and scan-set replies are translated.
        cmd(k, 0x60); data(k, 0x43)
        data(k, 0xF2); XCTAssertEqual(drain(k), [0xFA, 0xAB, 0x41])
        data(k, 0xF0); data(k, 0x00); XCTAssertEqual(drain(k), [0xFA, 0xFA, 0x41])
    }

    func testScancodesTranslatedToSet1() {
        let k = I8042()
        cmd(k, 0x60); data(k, 0x41 | 0x04)   // translate, keyboard interrupt
        k.sendScancodes([0x1C])              // 'A' make
        k.sendScancodes([0xF0, 0x1C])        // 'A' break
        k.sendScancodes([0xE0, 0x75])        // up arrow make
        k.sendScancodes([0xE0, 0xF0, 0x75])  // up arrow break
        XCTAssertEqual(drain(k), [0x1E, 0x9E, 0xE0, 0x48, 0xE0, 0xC8])
        // Pause: E1 14 77 E1 F0 14 F0 77 → E1 1D 45 E1 9D C5.
        k.sendScancodes([0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77])
        XCTAssertEqual(drain(k), [0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5])
    }

    func testRawSet2AndKeyboardSet1() {
        let k = I8042()
        k.sendScancodes([0xF0, 0x1C])
        XCTAssertEqual(drain(k), [0xF0, 0x1C])
        data(k, 0xF0); data(k, 0x01); _ = drain(k)
        k.sendScancodes([0xF0, 0x1C])
        XCTAssertEqual(drain(k), [0x9E])
    }

    func testHostQueueOverflowDropsWholeSequences() {
        let k = I8042()
        cmd(k, 0xAD)   // hold keyboard bytes back
        var accepted = 0
        for _ in 0..<20 where k.sendScancodes([0xE0, 0x75]) { accepted += 1 }
        XCTAssertEqual(accepted, 8)
        XCTAssertEqual(status(k) & 1, 0)
        cmd(k, 0xAE)
        XCTAssertEqual(drain(k).count, 16)
    }

    func testIRQ1EdgesPerByte() {
        let k = I8042()
        var levels: [Bool] = []
        k.irq1 = { levels.append($0) }
        k.sendScancodes([0x1C, 0x32])
        XCTAssertEqual(levels, [true])
        _ = read(k)
        XCTAssertEqual(levels, [true, false, true])   // drop, then the next byte raises again
        _ = read(k)
        XCTAssertEqual(levels, [true, false, true, false])
        // Interrupt disabled in the command byte: no line.
        cmd(k, 0x60); data(k, 0x00)
        levels = []
        k.sendScancodes([0x1C])
        XCTAssertEqual(levels, [])
        XCTAssertEqual(drain(k), [0x1C])
    }

    func testAuxLoopbackRaisesIRQ12() {
        let k = I8042()
        var irq12: [Bool] = []
        var irq1: [Bool] = []
        k.irq12 = { irq12.append($0) }
        k.irq1 = { irq1.append($0) }
        cmd(k, 0xD3); data(k, 0x5A)
        XCTAssertEqual(status(k) & 0x21, 0x21)
        XCTAssertEqual(irq12, [true])
        XCTAssertEqual(read(k), 0x5A)
        XCTAssertEqual(irq12, [true, false])
        cmd(k, 0xD2); data(k, 0x11)
        XCTAssertEqual(status(k) & 0x21, 0x01)
        XCTAssertEqual(irq1, [true])
        XCTAssertEqual(read(k), 0x11)
    }

    func testMouseCommandsAndPackets() {
        let k = I8042()
        func aux(_ v: UInt8) { cmd(k, 0xD4); data(k, v) }
        aux(0xFF)
        XCTAssertEqual(status(k) & 0x20, 0x20)
        XCTAssertEqual(drain(k), [0xFA, 0xAA, 0x00])
        aux(0xF2); XCTAssertEqual(drain(k), [0xFA, 0x00])
        aux(0xF3); aux(200); XCTAssertEqual(drain(k), [0xFA, 0xFA])
        aux(0xE8); aux(3); XCTAssertEqual(drain(k), [0xFA, 0xFA])
        aux(0xE9); XCTAssertEqual(drain(k), [0xFA, 0x00, 3, 200])
        XCTAssertFalse(k.mouseMove(dx: 1, dy: 1, buttons: 0))
        aux(0xF4); XCTAssertEqual(drain(k), [0xFA])
        XCTAssertTrue(k.mouseMove(dx: -3, dy: 5, buttons: 1))
        XCTAssertEqual(drain(k), [0x19, 0xFD, 0x05])
        // Wrap mode echoes until reset-wrap.
        aux(0xEE); aux(0x12); aux(0xEC)
        XCTAssertEqual(drain(k), [0xFA, 0x12, 0xFA])
        // Aux disabled holds mouse bytes back; a byte sent to the mouse re-enables the port.
        aux(0xF5); _ = drain(k)
        cmd(k, 0xA7)
        k.state.mouse.status |= 0x20
        XCTAssertTrue(k.mouseMove(dx: 1, dy: 0, buttons: 0))
        XCTAssertEqual(status(k) & 1, 0)
        cmd(k, 0xA8)
        XCTAssertEqual(drain(k), [0x08, 0x01, 0x00])
        cmd(k, 0xA7)
        aux(0xF2)
        XCTAssertEqual(k.state.commandByte & 0x20, 0)
        XCTAssertEqual(drain(k), [0xFA, 0x00])
    }

    func testKeyboardDisableHoldsBytesAndDataWriteReenables() {
        let k = I8042()
        cmd(k, 0xAD)
        k.sendScancodes([0x1C])
        XCTAssertEqual(status(k) & 1, 0)
        data(k, 0xEE)   // writing to the keyboard re-enables the interface
        XCTAssertEqual(k.state.commandByte & 0x10, 0)
        XCTAssertEqual(drain(k), [0x1C, 0xEE])
    }

    func testPortViews() {
        let k = I8042()
        let bus = PortBus()
        XCTAssertNoThrow(try bus.register(k.dataPort, base: 0x60, count: 1, name: "kbd data"))
        XCTAssertNoThrow(try bus.register(k.commandPort, base: 0x64, count: 1, name: "kbd cmd"))
        bus.write(0x64, size: 1, value: 0xAA)
        XCTAssertEqual(bus.read(0x64, size: 1) & 1, 1)
        XCTAssertEqual(bus.read(0x60, size: 1), 0x55)
        XCTAssertEqual(bus.read(0x61, size: 1), 0xFF)   // not ours
    }

    func testResetRestoresPowerOnState() {
        let k = I8042()
        cmd(k, 0x60); data(k, 0x00)
        k.sendScancodes([0x1C])
        k.reset()
        XCTAssertEqual(k.state, I8042.State())
    }

    func testRandomPortTrafficNeverCrashesOrGrowsUnbounded() {
        let k = I8042()
        var rng = SystemRandomNumberGenerator()
        k.irq1 = { _ in }; k.irq12 = { _ in }; k.a20Changed = { _ in }; k.resetRequested = {}
        for i in 0..<200_000 {
            let r = rng.next() as UInt64
            let off = UInt64([0, 4, 1, 2, 3, 5, 7][Int(r % 7)])
            let size = [1, 2, 4, 8][Int((r >> 8) & 3)]
            if (r >> 16) & 1 == 0 {
                k.ioWrite(offset: off, size: size, value: r >> 24)
            } else {
                _ = k.ioRead(offset: off, size: size)
            }
            if i % 7 == 0 { k.sendScancodes([UInt8(truncatingIfNeeded: r >> 32), UInt8(truncatingIfNeeded: r >> 40)]) }
            if i % 11 == 0 { k.mouseMove(dx: Int(Int8(truncatingIfNeeded: r >> 48)), dy: 300, buttons: UInt8(truncatingIfNeeded: r)) }
            XCTAssertLessThanOrEqual(k.state.keyboard.queue.count, I8042.queueLimit)
            XCTAssertLessThanOrEqual(k.state.mouse.queue.count, I8042.queueLimit)
            XCTAssertLessThanOrEqual(k.state.controllerQueue.count, I8042.queueLimit)
        }
        // Still answers a self-test afterwards.
        cmd(k, 0x60); data(k, 0x03)
        _ = drain(k)
        cmd(k, 0xAD); cmd(k, 0xA7)
        _ = drain(k)
        cmd(k, 0xAA)
        XCTAssertEqual(drain(k), [0x55])
    }
}
