import XCTest
import CPU
@testable import Devices

final class RTCTests: XCTestCase {
    var clock = Clock()
    var irqs: [Bool] = []
    /// 2024-02-29 23:59:58 UTC, a Thursday.
    let leapEve: Int64 = 1_709_251_198

    func make(base: Int64? = nil) -> RTC {
        clock = Clock()
        irqs = []
        let r = RTC(clock: clock, baseTime: base ?? leapEve)
        r.irq = { [unowned self] in self.irqs.append($0) }
        return r
    }
    func rd(_ r: RTC, _ i: Int) -> UInt8 {
        r.ioWrite(offset: 0, size: 1, value: UInt64(i))
        return UInt8(r.ioRead(offset: 1, size: 1))
    }
    func wr(_ r: RTC, _ i: Int, _ v: UInt8) {
        r.ioWrite(offset: 0, size: 1, value: UInt64(i))
        r.ioWrite(offset: 1, size: 1, value: UInt64(v))
    }
    func timeRegs(_ r: RTC) -> [UInt8] { [0, 2, 4, 6, 7, 8, 9, 0x32].map { rd(r, $0) } }
    /// Advances the clock to `ns`, firing events at their deadlines.
    func run(to ns: UInt64) {
        while let d = clock.nextDeadline, d <= ns { clock.advance(to: d); clock.runDue() }
        clock.advance(to: ns)
        clock.runDue()
    }
    let sec: UInt64 = 1_000_000_000

    func testDefaultsBCD24Hour() {
        let r = make()
        XCTAssertEqual(rd(r, 0x0A), 0x26)
        XCTAssertEqual(rd(r, 0x0B), 0x02)
        XCTAssertEqual(rd(r, 0x0D), 0x80)
        XCTAssertEqual(timeRegs(r), [0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20])
        run(to: 2 * sec)
        XCTAssertEqual(timeRegs(r), [0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20])
        XCTAssertEqual(r.unixTime, leapEve + 2)
        run(to: 2 * sec + 999_999_999)
        XCTAssertEqual(rd(r, 0), 0x00)
        run(to: 3 * sec)
        XCTAssertEqual(rd(r, 0), 0x01)
    }

    func testBinaryAnd12HourFormats() {
        let r = make(base: leapEve + 2 + 13 * 3600 + 5 * 60 + 7)   // 2024-03-01 13:05:07
        wr(r, 0x0B, 0x06)                       // binary, 24 h
        XCTAssertEqual(timeRegs(r), [7, 5, 13, 6, 1, 3, 24, 20])
        wr(r, 0x0B, 0x04)                       // binary, 12 h
        XCTAssertEqual(rd(r, 4), 0x81)          // 1 PM
        wr(r, 0x0B, 0x00)                       // BCD, 12 h
        XCTAssertEqual(rd(r, 4), 0x81)
        // Midnight is 12 AM, noon is 12 PM; 11 PM = 0x91 in BCD.
        let m = make(base: leapEve + 2)
        wr(m, 0x0B, 0x00)
        XCTAssertEqual(rd(m, 4), 0x12)
        run(to: 12 * 3600 * sec)
        XCTAssertEqual(rd(m, 4), 0x92)
        run(to: 23 * 3600 * sec)
        XCTAssertEqual(rd(m, 4), 0x91)
        wr(m, 0x0B, 0x04)
        XCTAssertEqual(rd(m, 4), 0x8B)          // binary 11 PM
        run(to: 24 * 3600 * sec)
        XCTAssertEqual(rd(m, 4), 12)            // binary 12 AM
    }

    func testSettingTheTimeWithSET() {
        let r = make()
        wr(r, 0x0B, 0x82)                       // SET, 24 h BCD
        run(to: 5 * sec)
        XCTAssertEqual(rd(r, 0), 0x58)          // frozen while SET
        XCTAssertEqual(rd(r, 0x0A) & 0x80, 0)   // no UIP while SET
        wr(r, 0x00, 0x30); wr(r, 0x02, 0x45); wr(r, 0x04, 0x12)
        wr(r, 0x07, 0x31); wr(r, 0x08, 0x12); wr(r, 0x09, 0x99); wr(r, 0x32, 0x19)
        XCTAssertEqual(rd(r, 0), 0x30)
        wr(r, 0x0B, 0x02)                       // run
        XCTAssertEqual(timeRegs(r), [0x30, 0x45, 0x12, 6, 0x31, 0x12, 0x99, 0x19])  // a Friday
        run(to: 6 * sec)
        XCTAssertEqual(rd(r, 0), 0x31)
        XCTAssertEqual(r.unixTime, 946_644_331)  // 1999-12-31 12:45:31
        // Writing a register while running sets it immediately.
        wr(r, 0x02, 0x10)
        XCTAssertEqual(rd(r, 2), 0x10)
        XCTAssertEqual(rd(r, 0), 0x31)
        // Binary-mode write.
        wr(r, 0x0B, 0x86); wr(r, 0x09, 5); wr(r, 0x32, 20); wr(r, 0x0B, 0x06)
        XCTAssertEqual(rd(r, 9), 5)
        XCTAssertEqual(rd(r, 0x32), 20)
        r.setTime(unixSeconds: 0)
        XCTAssertEqual(timeRegs(r), [0, 0, 0, 5, 1, 1, 70, 19])    // 1970-01-01, Thursday
    }

    func testUpdateInProgressBit() {
        let r = make()
        run(to: 500_000_000)
        XCTAssertEqual(rd(r, 0x0A) & 0x80, 0)
        run(to: sec - 100_000)
        XCTAssertEqual(rd(r, 0x0A) & 0x80, 0x80)
        XCTAssertEqual(rd(r, 0), 0x58)
        run(to: sec)
        XCTAssertEqual(rd(r, 0x0A) & 0x80, 0)
        XCTAssertEqual(rd(r, 0), 0x59)
        wr(r, 0x0A, 0xA6)                       // UIP is read-only
        XCTAssertEqual(r.cmosByte(0x0A), 0x26)
    }

    func periodicRate(_ rs: UInt8) -> Int {
        let r = make()
        wr(r, 0x0A, 0x20 | rs)
        wr(r, 0x0B, 0x42)                       // PIE
        var count = 0
        r.irq = { [unowned self] level in
            if level {
                count += 1
                XCTAssertEqual(self.rd(r, 0x0C) & 0xC0, 0xC0)   // handler reads C: line drops
            }
        }
        run(to: clock.now + sec)
        return count
    }

    func testPeriodicInterruptRates() {
        XCTAssertEqual(periodicRate(6), 1024)
        XCTAssertEqual(periodicRate(15), 2)
        XCTAssertEqual(periodicRate(3), 8192)
        XCTAssertEqual(periodicRate(1), 256)
        XCTAssertEqual(periodicRate(2), 128)
        XCTAssertEqual(periodicRate(0), 0)
    }

    func testRegisterCReadToClearAndIRQLine() {
        let r = make()
        // PF is set at the rate even without PIE, but IRQF/IRQ stay clear.
        run(to: 10_000_000)
        XCTAssertEqual(rd(r, 0x0C), 0x40)
        XCTAssertEqual(rd(r, 0x0C), 0x00)       // cleared by the read
        XCTAssertTrue(irqs.isEmpty)
        // With PIE: the line rises once and stays up until C is read.
        wr(r, 0x0B, 0x42)
        run(to: 20_000_000)
        XCTAssertEqual(irqs, [true])
        XCTAssertEqual(rd(r, 0x0C), 0xC0)
        XCTAssertEqual(irqs, [true, false])
        run(to: 20_000_000 + 976_563)
        XCTAssertEqual(irqs, [true, false, true])
        // Enabling an interrupt whose flag is already set raises IRQF at once.
        wr(r, 0x0B, 0x02)
        _ = rd(r, 0x0C)
        run(to: 30_000_000)
        XCTAssertEqual(irqs.last, false)
        wr(r, 0x0B, 0x42)
        XCTAssertEqual(irqs.last, true)
        // C and D are read-only.
        wr(r, 0x0C, 0xFF); wr(r, 0x0D, 0x00)
        XCTAssertEqual(rd(r, 0x0D), 0x80)
    }

    func testUpdateEndedInterrupt() {
        let r = make()
        wr(r, 0x0B, 0x12)                       // UIE
        var seen: [UInt8] = []
        r.irq = { [unowned self] level in if level { seen.append(self.rd(r, 0x0C) & 0x90); _ = self.rd(r, 0) } }   // (AF also sets at 00:00:00)
        run(to: 5 * sec + 1)
        XCTAssertEqual(seen, [0x90, 0x90, 0x90, 0x90, 0x90])
        // SET clears UIE and stops updates.
        wr(r, 0x0B, 0x92)
        XCTAssertEqual(rd(r, 0x0B), 0x82)
        run(to: 10 * sec)
        XCTAssertEqual(seen.count, 5)
    }

    func testAlarmInterrupt() {
        let r = make()
        wr(r, 0x01, 0x05); wr(r, 0x03, 0x00); wr(r, 0x05, 0x00)   // 00:00:05
        wr(r, 0x0B, 0x22)                                        // AIE
        var at: [UInt64] = []
        r.irq = { [unowned self] level in if level { at.append(self.clock.now); XCTAssertEqual(self.rd(r, 0x0C) & 0xA0, 0xA0) } }
        run(to: 20 * sec)
        XCTAssertEqual(at, [7 * sec])            // 23:59:58 + 7 s = 00:00:05
        // "Don't care" hours and minutes: every minute at :30.
        wr(r, 0x01, 0x30); wr(r, 0x03, 0xC0); wr(r, 0x05, 0xFF)
        run(to: 200 * sec)
        XCTAssertEqual(at, [7 * sec, 32 * sec, 92 * sec, 152 * sec])
        // Every second when all three are don't-care.
        wr(r, 0x01, 0xC0)
        run(to: 203 * sec)
        XCTAssertEqual(at.count, 7)
    }

    func testDividerResetDelaysFirstUpdate() {
        let r = make()
        run(to: 300_000_000)
        wr(r, 0x0A, 0x70)                       // divider reset
        _ = rd(r, 0x0C)
        run(to: 5 * sec)
        XCTAssertEqual(rd(r, 0), 0x58)          // stopped
        XCTAssertEqual(rd(r, 0x0C) & 0x40, 0)   // no periodic flag either
        wr(r, 0x0A, 0x26)
        run(to: 5 * sec + 499_000_000)
        XCTAssertEqual(rd(r, 0), 0x58)
        run(to: 5 * sec + 500_000_000)
        XCTAssertEqual(rd(r, 0), 0x59)
    }

    func testIndexPortAndNMIMask() {
        let r = make()
        var nmi: [Bool] = []
        r.nmiMaskChanged = { nmi.append($0) }
        r.ioWrite(offset: 0, size: 1, value: 0x8F)
        XCTAssertTrue(r.nmiDisabled)
        XCTAssertEqual(r.state.index, 0x0F)
        r.ioWrite(offset: 1, size: 1, value: 0xA5)
        XCTAssertEqual(r.cmosByte(0x0F), 0xA5)
        r.ioWrite(offset: 0, size: 1, value: 0x0F)
        XCTAssertEqual(nmi, [true, false])
        XCTAssertEqual(r.ioRead(offset: 0, size: 1), 0xFF)
        // outw 0x70 writes the index and the data in one access.
        r.ioWrite(offset: 0, size: 2, value: 0x5A40)
        XCTAssertEqual(r.cmosByte(0x40), 0x5A)
        XCTAssertEqual(rd(r, 0x7F), 0)
        wr(r, 0x7F, 0x11)
        XCTAssertEqual(rd(r, 0x7F), 0x11)
    }

    func testCMOSHelpers() {
        let r = make()
        r.setMemorySizes(belowFourGiB: 0xC000_0000, aboveFourGiB: 1 << 30)
        XCTAssertEqual([0x15, 0x16].map { r.cmosByte($0) }, [0x80, 0x02])
        XCTAssertEqual([0x17, 0x18, 0x30, 0x31].map { r.cmosByte($0) }, [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual([0x34, 0x35].map { r.cmosByte($0) }, [0x00, 0xBF])
        XCTAssertEqual([0x5B, 0x5C, 0x5D].map { r.cmosByte($0) }, [0x00, 0x40, 0x00])
        r.setMemorySizes(belowFourGiB: 32 << 20, aboveFourGiB: 0)
        XCTAssertEqual([0x17, 0x18].map { r.cmosByte($0) }, [0x00, 0x7C])
        XCTAssertEqual([0x34, 0x35].map { r.cmosByte($0) }, [0x00, 0x01])
        XCTAssertEqual([0x5B, 0x5C, 0x5D].map { r.cmosByte($0) }, [0, 0, 0])
        r.setBootOrder([.cdrom, .hardDisk, .floppy])
        XCTAssertEqual(r.cmosByte(0x3D), 0x23)
        XCTAssertEqual(r.cmosByte(0x38), 0x10)
        r.setBootOrder([.hardDisk], checkFloppySignature: false)
        XCTAssertEqual(r.cmosByte(0x3D), 0x02)
        XCTAssertEqual(r.cmosByte(0x38), 0x01)
        r.setCPUCount(4)
        XCTAssertEqual(r.cmosByte(0x5F), 3)
        r.setEquipment(floppies: 1)
        XCTAssertEqual(r.cmosByte(0x14), 0x07)
        r.updateChecksum()
        var sum = 0
        for i in 0x10...0x2D { sum += Int(r.cmosByte(i)) }
        XCTAssertEqual(Int(r.cmosByte(0x2E)) << 8 | Int(r.cmosByte(0x2F)), sum)
        // The guest sees the same bytes.
        XCTAssertEqual(rd(r, 0x15), 0x80)
        // Raw writes refuse the clock registers.
        r.setCMOSByte(0x00, 0x99)
        r.setCMOSByte(0x32, 0x99)
        XCTAssertEqual(rd(r, 0x32), 0x20)
    }

    func testHostTimeInRealTimeMode() {
        let r = RTC(clock: Clock(mode: .realTime))
        let host = Int64(time(nil))
        XCTAssertLessThanOrEqual(abs(r.unixTime - host), 2)
        let d = RTC(clock: Clock())
        XCTAssertEqual(d.unixTime, RTC.deterministicBaseTime)
    }

    func testStateRestore() {
        let r = make()
        wr(r, 0x0B, 0x42)
        run(to: 3 * sec)
        let s = r.state
        let q = RTC(clock: clock, baseTime: 0)
        var n = 0
        q.irq = { if $0 { n += 1 } }
        q.restore(s)
        XCTAssertEqual(q.state, s)
        XCTAssertEqual(q.unixTime, r.unixTime)
        _ = rd(q, 0x0C)
        run(to: 4 * sec)
        XCTAssertEqual(n, 1)                    // periodic timer re-armed
    }

    func testGarbageNeverCrashesOrHangs() {
        var rng = SystemRandomNumberGenerator()
        let r = make()
        for _ in 0..<200_000 {
            let off = UInt64.random(in: 0..<3, using: &rng)
            let size = [1, 2, 4, 8][Int.random(in: 0..<4, using: &rng)]
            switch Int.random(in: 0..<6, using: &rng) {
            case 0, 1: _ = r.ioRead(offset: off, size: size)
            case 2:
                clock.advance(by: UInt64.random(in: 0...3_000_000_000, using: &rng))
                XCTAssertLessThanOrEqual(clock.runDue(), clock.maxEventsPerRun)
            default: r.ioWrite(offset: off, size: size, value: UInt64.random(in: 0...UInt64.max, using: &rng))
            }
        }
        for v: UInt8 in [0x00, 0xFF, 0x99, 0xA5] {
            wr(r, 0x0B, 0x80); for i in [0, 2, 4, 6, 7, 8, 9, 0x32] { wr(r, i, v) }; wr(r, 0x0B, 0x02)
            _ = timeRegs(r)
            wr(r, 0x0B, 0x84); for i in [0, 2, 4, 6, 7, 8, 9, 0x32] { wr(r, i, v) }; wr(r, 0x0B, 0x06)
            _ = timeRegs(r)
        }
        clock.advance(by: .max / 2)
        clock.runDue()
        _ = timeRegs(r)
        XCTAssertLessThanOrEqual(clock.pendingCount, 2)
    }
}
