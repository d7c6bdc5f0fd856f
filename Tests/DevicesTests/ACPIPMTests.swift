import XCTest
import CPU
@testable import Devices

/// The PIIX4 ACPI PM block (`ACPIPM`): PM timer, PM1 status/enable/control, GPE0, APM, SCI.
final class ACPIPMTests: XCTestCase {
    /// A deterministic clock whose time is `icount` ns.
    final class TestClock {
        var icount: UInt64 = 0
        let clock = Clock(mode: .deterministicDefault)
        init() { clock.instructionCounter = { [unowned self] in self.icount } }
    }

    typealias Reg = ACPIPM.Reg

    func testTimerCountsAt3_579545MHz() {
        let t = TestClock()
        let pm = ACPIPM(clock: t.clock)
        XCTAssertEqual(pm.ioRead(offset: UInt64(Reg.pmTimer), size: 4), 0)
        t.icount = 279                                            // 279 ns → 0.9987 ticks
        XCTAssertEqual(pm.timerValue, 0)
        t.icount = 280                                            // 1.0023 ticks
        XCTAssertEqual(pm.timerValue, 1)
        t.icount = 1_000_000_000                                  // 1 s
        XCTAssertEqual(pm.ioRead(offset: 8, size: 4), 3_579_545)
        XCTAssertEqual(pm.ioRead(offset: 8, size: 2), 3_579_545 & 0xFFFF)
        XCTAssertEqual(pm.ioRead(offset: 10, size: 1), (3_579_545 >> 16) & 0xFF)
        // Far in the future: no overflow in the intermediate product (10^6 s).
        t.icount = 1_000_000_000 * 1_000_000
        XCTAssertEqual(pm.timerValue, UInt32(truncatingIfNeeded: UInt64(3_579_545) * 1_000_000))
    }

    func testTimerWidth24And32() {
        let t = TestClock()
        let pm24 = ACPIPM(clock: t.clock, extendedTimer: false)
        let pm32 = ACPIPM(clock: t.clock, extendedTimer: true)
        // 2^24 + 5 ticks: ns = ceil(ticks × 10^9 / Hz).
        let ticks: UInt64 = (1 << 24) + 5
        t.icount = (ticks * 1_000_000_000 + ACPIPM.timerHz - 1) / ACPIPM.timerHz
        XCTAssertEqual(pm24.ioRead(offset: 8, size: 4), 5)
        XCTAssertEqual(pm24.ioRead(offset: 11, size: 1), 0, "bits 24-31 read 0")
        XCTAssertEqual(pm32.ioRead(offset: 8, size: 4), ticks)
        // The timer is read-only.
        pm32.ioWrite(offset: 8, size: 4, value: 0)
        XCTAssertEqual(pm32.ioRead(offset: 8, size: 4), ticks)
    }

    func testTimerStatusOnTopBitToggle() {
        let t = TestClock()
        let pm = ACPIPM(clock: t.clock, extendedTimer: false)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2) & 1, 0)
        // Bit 23 toggles after 2^23 ticks = 2.3435 s.
        t.icount = pm.time(ofToggle: 1)! - 1
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2) & 1, 0)
        t.icount += 1
        XCTAssertEqual(pm.timerValue, 1 << 23)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2) & 1, 1, "TMR_STS")
        pm.ioWrite(offset: 0, size: 2, value: 1)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2) & 1, 0, "write 1 to clear")
        t.icount = pm.time(ofToggle: 2)!                       // bit 23 falls again: status again
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2) & 1, 1)
    }

    func testTimerCarryInterrupt() {
        let t = TestClock()
        let pm = ACPIPM(clock: t.clock, extendedTimer: false)
        var sci: [Bool] = []
        pm.sci = { sci.append($0) }
        pm.apm.ioWrite(offset: 0, size: 1, value: UInt64(ACPIPM.APM.acpiEnable))
        pm.ioWrite(offset: 2, size: 2, value: UInt64(ACPIPM.PM1Enable.timer))
        XCTAssertEqual(sci, [])
        let due = t.clock.nextDeadline
        XCTAssertEqual(due, pm.time(ofToggle: 1))
        t.clock.advance(to: due!)
        XCTAssertEqual(t.clock.runDue(), 1)
        XCTAssertEqual(sci, [true], "SCI at the carry")
        XCTAssertNil(t.clock.nextDeadline, "no event while TMR_STS is pending")
        pm.ioWrite(offset: 0, size: 2, value: 1)                // the OS acknowledges
        XCTAssertEqual(sci, [true, false])
        XCTAssertEqual(t.clock.nextDeadline, pm.time(ofToggle: 2), "next carry armed")
        pm.ioWrite(offset: 2, size: 2, value: 0)                // TMR_EN off: event dropped
        XCTAssertNil(t.clock.nextDeadline)
    }

    func testPM1StatusWriteOneToClear() {
        let pm = ACPIPM(clock: Clock())
        pm.pressPowerButton()
        pm.wake()
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0x8100)
        pm.ioWrite(offset: 0, size: 2, value: 0)                // zeros change nothing
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0x8100)
        pm.ioWrite(offset: 1, size: 1, value: 0x01)             // byte write: PWRBTN_STS only
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0x8000)
        pm.ioWrite(offset: 0, size: 4, value: 0x0000_8000)      // dword: status (and enable = 0)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 4), 0)
        // Enable keeps only implemented bits.
        pm.ioWrite(offset: 2, size: 2, value: 0xFFFF)
        XCTAssertEqual(pm.ioRead(offset: 2, size: 2), UInt64(ACPIPM.PM1Enable.writable))
    }

    func testSCILevel() {
        let pm = ACPIPM(clock: Clock())
        var level = false, edges = 0
        pm.sci = { level = $0; edges += 1 }
        pm.ioWrite(offset: 2, size: 2, value: 0x100)            // PWRBTN_EN
        pm.pressPowerButton()
        XCTAssertFalse(level, "no SCI before ACPI mode (SCI_EN clear)")
        pm.apm.ioWrite(offset: 0, size: 1, value: 0xF1)         // ACPI_ENABLE through SMI_CMD
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2) & 1, 1, "SCI_EN")
        XCTAssertEqual(pm.apm.ioRead(offset: 0, size: 1), 0xF1)
        XCTAssertTrue(level)
        pm.ioWrite(offset: 2, size: 2, value: 0)                // disable: line drops, status stays
        XCTAssertFalse(level)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0x100)
        pm.ioWrite(offset: 2, size: 2, value: 0x100)
        XCTAssertTrue(level)
        pm.ioWrite(offset: 0, size: 2, value: 0x100)
        XCTAssertFalse(level)
        // GPE0: status bytes 0-1, enable bytes 2-3.
        pm.raiseGPE(3)
        XCTAssertFalse(level)
        XCTAssertEqual(pm.gpe0.ioRead(offset: 0, size: 1), 0x08)
        pm.gpe0.ioWrite(offset: 2, size: 1, value: 0x08)
        XCTAssertTrue(level)
        XCTAssertEqual(pm.gpe0.ioRead(offset: 0, size: 4), 0x0008_0008)
        pm.gpe0.ioWrite(offset: 0, size: 2, value: 0x08)        // write 1 to clear
        XCTAssertFalse(level)
        pm.raiseGPE(11)
        pm.gpe0.ioWrite(offset: 3, size: 1, value: 0x08)
        XCTAssertTrue(level)
        pm.apm.ioWrite(offset: 0, size: 1, value: 0xF0)         // ACPI_DISABLE
        XCTAssertFalse(level)
        let sent = edges
        pm.apm.ioWrite(offset: 1, size: 1, value: 0x5A)         // APMS is scratch
        XCTAssertEqual(pm.apm.ioRead(offset: 1, size: 1), 0x5A)
        XCTAssertEqual(edges, sent, "the line is only called on changes")
    }

    func testSleepEnableWithS5PowersOff() {
        let pm = ACPIPM(clock: Clock())
        var off = 0, slept: [UInt8] = []
        pm.onPowerOff = { off += 1 }
        pm.onSleep = { slept.append($0) }
        pm.ioWrite(offset: 4, size: 2, value: 1 << 10)          // SLP_TYP without SLP_EN: nothing
        XCTAssertEqual(off, 0); XCTAssertEqual(slept, [])
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2), 1 << 10, "SLP_TYP reads back")
        pm.ioWrite(offset: 4, size: 2, value: 1 << 10 | 1 << 13)   // S3 (STR) request
        XCTAssertEqual(slept, [1]); XCTAssertEqual(off, 0)
        pm.ioWrite(offset: 4, size: 2, value: UInt64(ACPIPM.SleepType.softOff) << 10 | 1 << 13 | 1)
        XCTAssertEqual(off, 1)
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2), 1, "SLP_EN reads 0, SCI_EN kept")
        pm.ioWrite(offset: 5, size: 1, value: 0x20)             // byte write of the high half: S5
        XCTAssertEqual(off, 2)
        pm.ioWrite(offset: 4, size: 2, value: 4)                // GBL_RLS is write-only
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2), 0)
    }

    func testResetAndRestore() {
        let pm = ACPIPM(clock: Clock())
        var level = false
        pm.sci = { level = $0 }
        pm.apm.ioWrite(offset: 0, size: 1, value: 0xF1)
        pm.ioWrite(offset: 2, size: 2, value: 0x100)
        pm.pressPowerButton()
        XCTAssertTrue(level)
        let saved = pm.state
        pm.reset()
        XCTAssertFalse(level)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0)
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2), 0, "ACPI mode off after reset")
        pm.restore(saved)
        XCTAssertTrue(level)
        XCTAssertEqual(pm.state, saved)
        level = false                                           // e.g. a freshly built IOAPIC
        pm.restore(saved)
        XCTAssertTrue(level, "restore sends the line even when its level did not change")
    }

    func testUnknownAccesses() {
        let pm = ACPIPM(clock: Clock())
        XCTAssertEqual(pm.ioRead(offset: 0x28, size: 4), 0xFFFF_FFFF)   // GLBCTL: not modelled
        XCTAssertEqual(pm.unknownAccesses, 1)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 8), ~0)               // no 64-bit accesses
        XCTAssertEqual(pm.ioRead(offset: 63, size: 2), 0xFFFF)           // crosses the end
        XCTAssertEqual(pm.ioRead(offset: 6, size: 2), 0xFFFF)            // hole between CNT and TMR
        pm.ioWrite(offset: 0x28, size: 4, value: 1)
        XCTAssertEqual(pm.unknownAccesses, 5)
        XCTAssertEqual(pm.gpe0.ioRead(offset: 4, size: 1), 0xFF)
        XCTAssertEqual(pm.apm.ioRead(offset: 0, size: 2), 0xFFFF)
        XCTAssertEqual(pm.unknownAccesses, 7)
    }

    func testRandomHammeringNeverCrashes() {
        let t = TestClock()
        let pm = ACPIPM(clock: t.clock, extendedTimer: false)
        var off = 0
        pm.onPowerOff = { off += 1 }
        pm.onSleep = { _ in }
        pm.sci = { _ in }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50_000 {
            t.icount &+= UInt64.random(in: 0..<10_000_000, using: &rng)
            let o = UInt64.random(in: 0..<100, using: &rng)
            let size = Int.random(in: -1...9, using: &rng)
            let v = UInt64.random(in: 0...UInt64.max, using: &rng)
            let face: IODevice = [pm, pm.gpe0, pm.apm].randomElement(using: &rng)!
            if Bool.random(using: &rng) { _ = face.ioRead(offset: o, size: size) } else { face.ioWrite(offset: o, size: size, value: v) }
            if Int.random(in: 0..<1000, using: &rng) == 0 { t.clock.runDue() }
            if Int.random(in: 0..<5000, using: &rng) == 0 { pm.reset() }
        }
        _ = pm.ioRead(offset: UInt64.max, size: 4)
        pm.ioWrite(offset: UInt64.max - 1, size: 4, value: 0)
        _ = pm.gpe0.ioRead(offset: UInt64.max, size: 2)
    }
}
