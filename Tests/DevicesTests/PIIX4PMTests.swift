import XCTest
import CPU
@testable import Devices

final class PIIX4PMTests: XCTestCase {
    func testTimerCountsAt3_579545MHz() {
        let clock = Clock(mode: .deterministicDefault)
        var icount: UInt64 = 0
        clock.instructionCounter = { icount }
        let pm = PIIX4PM(clock: clock)
        XCTAssertEqual(pm.ioRead(offset: 8, size: 4), 0)
        icount = 1_000_000_000                  // one second
        XCTAssertEqual(pm.ioRead(offset: 8, size: 4), 3_579_545)
        XCTAssertEqual(pm.ioRead(offset: 8, size: 2), 3_579_545 & 0xFFFF)
    }

    func testSCIAndStatusWriteOneToClear() {
        let pm = PIIX4PM(clock: Clock())
        var sci = false
        pm.sci = { sci = $0 }
        pm.ioWrite(offset: 2, size: 2, value: 0x100)            // PWRBTN_EN
        pm.pressPowerButton()
        XCTAssertFalse(sci, "no SCI before ACPI mode")
        pm.apm.ioWrite(offset: 0, size: 1, value: 0xF1)         // ACPI_ENABLE through 0xB2
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2) & 1, 1, "SCI_EN")
        XCTAssertTrue(sci)
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0x100)
        pm.ioWrite(offset: 0, size: 2, value: 0x100)            // write 1 to clear
        XCTAssertEqual(pm.ioRead(offset: 0, size: 2), 0)
        XCTAssertFalse(sci)
    }

    func testSleepEnableWithS5PowersOff() {
        let pm = PIIX4PM(clock: Clock())
        var off = 0, slept: [UInt16] = []
        pm.onPowerOff = { off += 1 }
        pm.onSleep = { slept.append($0) }
        pm.ioWrite(offset: 4, size: 2, value: 1 << 10 | 1 << 13)   // SLP_TYP 1 (S3-ish), SLP_EN
        XCTAssertEqual(slept, [1]); XCTAssertEqual(off, 0)
        pm.ioWrite(offset: 4, size: 2, value: 0 << 10 | 1 << 13)   // SLP_TYP 0 = soft off
        XCTAssertEqual(off, 1)
        XCTAssertEqual(pm.ioRead(offset: 4, size: 2) & (1 << 13), 0, "SLP_EN reads 0")
    }

    func testRandomAccessesNeverCrash() {
        let pm = PIIX4PM(clock: Clock())
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let off = UInt64.random(in: 0..<80, using: &rng), size = [1, 2, 4, 8].randomElement(using: &rng)!
            if Bool.random(using: &rng) { _ = pm.ioRead(offset: off, size: size) } else {
                let v = UInt64.random(in: 0...UInt64.max, using: &rng) & ~(1 << 13)   // no power-off
                pm.ioWrite(offset: off, size: size, value: v)
                pm.gpe0.ioWrite(offset: off & 7, size: size, value: v)
                _ = pm.gpe0.ioRead(offset: off & 7, size: size)
            }
        }
    }
}
