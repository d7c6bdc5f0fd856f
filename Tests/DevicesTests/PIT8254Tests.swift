import XCTest
import CPU
@testable import Devices

final class PIT8254Tests: XCTestCase {
    var clock = Clock()
    var edges: [(level: Bool, tick: UInt64)] = []

    func make(listen: Bool = true) -> PIT8254 {
        clock = Clock()
        edges = []
        let p = PIT8254(clock: clock)
        if listen { p.irq0 = { [unowned self] l in self.edges.append((l, PIT8254.ticks(self.clock.now))) } }
        return p
    }
    func ctl(_ p: PIT8254, _ v: UInt8) { p.ioWrite(offset: 3, size: 1, value: UInt64(v)) }
    func wr(_ p: PIT8254, _ ch: Int, _ v: UInt8) { p.ioWrite(offset: UInt64(ch), size: 1, value: UInt64(v)) }
    func rd(_ p: PIT8254, _ ch: Int) -> UInt8 { UInt8(p.ioRead(offset: UInt64(ch), size: 1)) }
    func load16(_ p: PIT8254, _ ch: Int, _ v: UInt16) { wr(p, ch, UInt8(v & 0xFF)); wr(p, ch, UInt8(v >> 8)) }
    /// Latches and reads counter `ch` (word access).
    func latched(_ p: PIT8254, _ ch: Int) -> UInt16 {
        ctl(p, UInt8(ch) << 6)
        let lo = rd(p, ch), hi = rd(p, ch)
        return UInt16(hi) << 8 | UInt16(lo)
    }
    /// Runs the clock (firing events at their deadlines) to `tick`.
    func run(toTick tick: UInt64) {
        let target = PIT8254.nanoseconds(ofTick: tick)
        while let d = clock.nextDeadline, d <= target {
            clock.advance(to: d)
            clock.runDue()
        }
        clock.advance(to: target)
        clock.runDue()
    }
    var rises: [UInt64] { edges.filter { $0.level }.map { $0.tick } }

    func testTickConversionRoundTrips() {
        XCTAssertEqual(PIT8254.ticks(1_000_000_000), 1_193_182)
        for t: UInt64 in [0, 1, 2, 3, 1000, 65536, 1_193_181, 1_193_182, 123_456_789] {
            let ns = PIT8254.nanoseconds(ofTick: t)
            XCTAssertEqual(PIT8254.ticks(ns), t)
            if ns > 0 { XCTAssertEqual(PIT8254.ticks(ns - 1), t - 1) }
        }
    }

    func testMode0InterruptOnTerminalCount() {
        let p = make()
        ctl(p, 0x30)                       // counter 0, LSB/MSB, mode 0, binary
        XCTAssertFalse(p.output(0))
        load16(p, 0, 1000)
        XCTAssertEqual(latched(p, 0), 1000)
        run(toTick: 400)
        XCTAssertEqual(latched(p, 0), 600)
        XCTAssertFalse(p.output(0))
        run(toTick: 999)
        XCTAssertEqual(latched(p, 0), 1)
        XCTAssertTrue(rises.isEmpty)
        run(toTick: 1000)
        XCTAssertTrue(p.output(0))
        XCTAssertEqual(rises, [1000])
        run(toTick: 1001)
        XCTAssertEqual(latched(p, 0), 0xFFFF)   // keeps counting down, OUT stays high
        run(toTick: 200_000)
        XCTAssertEqual(rises, [1000])
        XCTAssertTrue(p.output(0))
        // Writing the first byte of a new count stops the counter and sets OUT low.
        wr(p, 0, 0x10)
        XCTAssertFalse(p.output(0))
        wr(p, 0, 0x00)
        run(toTick: 200_000 + 16)
        XCTAssertEqual(rises, [1000, 200_016])
    }

    func testMode2RateGeneratorAndIRQ0Period() {
        let p = make()
        ctl(p, 0x34)                       // counter 0, LSB/MSB, mode 2
        load16(p, 0, 11932)                // ~100 Hz
        XCTAssertTrue(p.output(0))
        run(toTick: 11932 * 100)
        XCTAssertEqual(rises.count, 100)
        for (k, t) in rises.enumerated() { XCTAssertEqual(t, UInt64(k + 1) * 11932) }
        // The period in nanoseconds is 10 ms within a tick.
        let ns = Double(PIT8254.nanoseconds(ofTick: 11932 * 2) - PIT8254.nanoseconds(ofTick: 11932))
        XCTAssertEqual(ns, 10_000_000, accuracy: 1_000)
        // OUT is low for exactly one tick before each reload.
        let base: UInt64 = 11932 * 100
        run(toTick: base + 11930); XCTAssertTrue(p.output(0)); XCTAssertEqual(latched(p, 0), 2)
        run(toTick: base + 11931); XCTAssertFalse(p.output(0)); XCTAssertEqual(latched(p, 0), 1)
        run(toTick: base + 11932); XCTAssertTrue(p.output(0)); XCTAssertEqual(latched(p, 0), 11932)
        // The default count 0 means 65536: 18.2 Hz.
        let q = make()
        ctl(q, 0x34); load16(q, 0, 0)
        run(toTick: 1_193_182)
        XCTAssertEqual(rises.count, 18)
        XCTAssertEqual(rises.first, 65536)
    }

    func testMode2NewCountTakesEffectAtPeriodEnd() {
        let p = make()
        ctl(p, 0x34); load16(p, 0, 100)
        run(toTick: 150)
        load16(p, 0, 40)
        XCTAssertEqual(latched(p, 0), 50)     // current period continues
        run(toTick: 200)
        XCTAssertEqual(latched(p, 0), 40)
        run(toTick: 300)
        XCTAssertEqual(rises, [100, 200, 240, 280])
    }

    func testMode3SquareWave() {
        let p = make()
        ctl(p, 0x36)
        load16(p, 0, 10)
        var outs: [Bool] = [], vals: [UInt16] = []
        for t in 0..<20 as Range<UInt64> {
            run(toTick: t)
            outs.append(p.output(0)); vals.append(latched(p, 0))
        }
        XCTAssertEqual(outs, [true, true, true, true, true, false, false, false, false, false,
                              true, true, true, true, true, false, false, false, false, false])
        XCTAssertEqual(vals, [10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2])
        XCTAssertEqual(rises, [10])
        // Odd count: high for (N+1)/2, low for (N-1)/2.
        let q = make()
        ctl(q, 0x36); load16(q, 0, 9)
        outs = []
        for t in 0..<18 as Range<UInt64> { run(toTick: t); outs.append(q.output(0)) }
        XCTAssertEqual(outs, [true, true, true, true, true, false, false, false, false,
                              true, true, true, true, true, false, false, false, false])
        run(toTick: 9 * 1000)
        XCTAssertEqual(rises.count, 1000)
        XCTAssertEqual(edges.count, 2000)     // every transition reported, falling and rising
    }

    func testMode4SoftwareStrobe() {
        let p = make()
        ctl(p, 0x38)
        load16(p, 0, 50)
        run(toTick: 49); XCTAssertTrue(p.output(0))
        run(toTick: 50); XCTAssertFalse(p.output(0))
        run(toTick: 51); XCTAssertTrue(p.output(0))
        XCTAssertEqual(rises, [51])
        XCTAssertEqual(latched(p, 0), 0xFFFF)
        run(toTick: 100_000)
        XCTAssertEqual(rises, [51])
        // A new count restarts the strobe (Linux one-shot mode).
        load16(p, 0, 20)
        run(toTick: 100_100)
        XCTAssertEqual(rises, [51, 100_021])
    }

    func testModes1And5AreGateTriggered() {
        let p = make(listen: false)
        let port61 = SystemControlPortB(pit: p)
        // Mode 1 on counter 2: waits for a gate rising edge.
        ctl(p, 0xB2)
        load16(p, 2, 30)
        run(toTick: 100)
        XCTAssertTrue(p.output(2))
        XCTAssertEqual(latched(p, 2), 30)
        port61.ioWrite(offset: 0, size: 1, value: 1)     // gate 2 high: trigger
        let t0 = p.tick()
        XCTAssertFalse(p.output(2))
        run(toTick: t0 + 10)
        XCTAssertEqual(latched(p, 2), 20)
        // Retrigger reloads.
        port61.ioWrite(offset: 0, size: 1, value: 0)
        port61.ioWrite(offset: 0, size: 1, value: 1)
        XCTAssertEqual(latched(p, 2), 30)
        run(toTick: t0 + 39); XCTAssertFalse(p.output(2))
        run(toTick: t0 + 40); XCTAssertTrue(p.output(2))
        // Mode 5: one-tick low strobe N ticks after the trigger.
        ctl(p, 0xBA)
        load16(p, 2, 5)
        port61.ioWrite(offset: 0, size: 1, value: 0)
        run(toTick: t0 + 100)
        XCTAssertTrue(p.output(2))
        port61.ioWrite(offset: 0, size: 1, value: 1)
        let t1 = p.tick()
        run(toTick: t1 + 4); XCTAssertTrue(p.output(2))
        run(toTick: t1 + 5); XCTAssertFalse(p.output(2))
        run(toTick: t1 + 6); XCTAssertTrue(p.output(2))
    }

    func testGateControlsModes0And2() {
        let p = make(listen: false)
        let port61 = SystemControlPortB(pit: p)
        port61.ioWrite(offset: 0, size: 1, value: 1)
        ctl(p, 0xB0); load16(p, 2, 100)
        run(toTick: 30)
        port61.ioWrite(offset: 0, size: 1, value: 0)     // pause
        run(toTick: 1000)
        XCTAssertEqual(latched(p, 2), 70)
        port61.ioWrite(offset: 0, size: 1, value: 1)
        run(toTick: 1069); XCTAssertFalse(p.output(2))
        run(toTick: 1070); XCTAssertTrue(p.output(2))
        // Mode 2: gate low forces OUT high and stops; rising edge reloads.
        ctl(p, 0xB4); load16(p, 2, 10)
        let t0 = p.tick()
        run(toTick: t0 + 9); XCTAssertFalse(p.output(2))
        port61.ioWrite(offset: 0, size: 1, value: 0)
        XCTAssertTrue(p.output(2))
        run(toTick: t0 + 50)
        XCTAssertEqual(latched(p, 2), 1)
        port61.ioWrite(offset: 0, size: 1, value: 1)
        XCTAssertEqual(latched(p, 2), 10)
    }

    func testLinuxStyleCalibrationThroughPort61() {
        // As Linux's pit_calibrate_tsc: gate on, speaker off, mode 0 on counter 2, poll bit 5.
        let p = make(listen: false)
        let port61 = SystemControlPortB(pit: p)
        let v = UInt8(port61.ioRead(offset: 0, size: 1))
        port61.ioWrite(offset: 0, size: 1, value: UInt64((v & ~0x02) | 0x01))
        ctl(p, 0xB0)
        let latch: UInt16 = 11932      // 10 ms
        load16(p, 2, latch)
        var polls = 0
        while port61.ioRead(offset: 0, size: 1) & 0x20 == 0 && polls < 100_000 {
            clock.advance(by: 1_000)   // 1 µs per poll
            polls += 1
        }
        XCTAssertEqual(Double(polls), 10_000, accuracy: 2)
        XCTAssertFalse(port61.speakerOn)
        port61.ioWrite(offset: 0, size: 1, value: 0x03)
        XCTAssertTrue(port61.speakerOn)
        XCTAssertEqual(port61.ioRead(offset: 0, size: 1) & 0x0F, 0x03)
    }

    func testPort61RefreshToggles() {
        let p = make(listen: false)
        let port61 = SystemControlPortB(pit: p)
        var seen = Set<UInt64>()
        for _ in 0..<10 {
            seen.insert(port61.ioRead(offset: 0, size: 1) & 0x10)
            clock.advance(by: 15_085)
        }
        XCTAssertEqual(seen, [0, 0x10])
        XCTAssertEqual(port61.ioRead(offset: 1, size: 1), 0xFF)
    }

    func testBCDCounting() {
        let p = make()
        ctl(p, 0x31)                       // mode 0, BCD
        load16(p, 0, 0x1000)               // 1000 decimal
        run(toTick: 1)
        XCTAssertEqual(latched(p, 0), 0x0999)
        run(toTick: 1000)
        XCTAssertEqual(latched(p, 0), 0x0000)
        XCTAssertEqual(rises, [1000])
        run(toTick: 1001)
        XCTAssertEqual(latched(p, 0), 0x9999)
        // BCD count 0 means 10000.
        ctl(p, 0x35); load16(p, 0, 0)
        let t0 = p.tick()
        run(toTick: t0 + 10_000)
        XCTAssertEqual(rises.last, t0 + 10_000)
    }

    func testAccessModesAndFlipFlops() {
        let p = make()
        ctl(p, 0x10)                       // LSB only, mode 0
        wr(p, 0, 0x80)
        run(toTick: 0x10)
        XCTAssertEqual(rd(p, 0), 0x70)
        XCTAssertEqual(rd(p, 0), 0x70)
        ctl(p, 0x20)                       // MSB only
        wr(p, 0, 0x12)                     // 0x1200
        run(toTick: p.tick() + 0x100)
        XCTAssertEqual(rd(p, 0), 0x11)
        // Word access alternates LSB, MSB for live reads.
        ctl(p, 0x30)
        load16(p, 0, 0x3456)
        let t = p.tick()
        XCTAssertEqual(rd(p, 0), 0x56)
        run(toTick: t + 0x100)
        XCTAssertEqual(rd(p, 0), 0x33)
        XCTAssertEqual(rd(p, 0), 0x56)
        // Read and write flip-flops are independent.
        wr(p, 0, 0x00)
        XCTAssertEqual(rd(p, 0), 0x33)      // MSB of the stopped mode-0 counter (held)
        XCTAssertFalse(p.output(0))
    }

    func testLatchFreezesValueUntilRead() {
        let p = make()
        ctl(p, 0x34); load16(p, 0, 5000)
        run(toTick: 1000)
        ctl(p, 0x00)                       // latch counter 0
        run(toTick: 2000)
        ctl(p, 0x00)                       // second latch ignored until read
        XCTAssertEqual(rd(p, 0), UInt8(4000 & 0xFF))
        run(toTick: 2500)
        XCTAssertEqual(rd(p, 0), UInt8(4000 >> 8))
        XCTAssertEqual(latched(p, 0), 2500)
    }

    func testReadBackCommand() {
        let p = make()
        ctl(p, 0x34); load16(p, 0, 1000)
        ctl(p, 0x76); load16(p, 1, 300)      // counter 1 mode 3
        ctl(p, 0xB0)                         // counter 2 mode 0, no count yet
        run(toTick: 100)
        ctl(p, 0xC0 | 0x20 | 0x0E)           // latch status of all three
        XCTAssertEqual(rd(p, 0), 0x80 | 0x30 | 0x04)          // OUT high, word, mode 2
        XCTAssertEqual(rd(p, 1), 0x80 | 0x30 | 0x06)          // OUT high, word, mode 3
        XCTAssertEqual(rd(p, 2), 0x40 | 0x30 | 0x00)          // OUT low, null count, mode 0
        ctl(p, 0xC0 | 0x02)                  // count and status of counter 0
        run(toTick: 150)
        XCTAssertEqual(rd(p, 0), 0xB4)       // status first
        XCTAssertEqual(rd(p, 0), UInt8(900 & 0xFF))
        XCTAssertEqual(rd(p, 0), UInt8(900 >> 8))
        XCTAssertEqual(latched(p, 0), 850)
        ctl(p, 0xC0 | 0x10 | 0x04)           // count only, counter 1
        let v = UInt16(rd(p, 1)) | UInt16(rd(p, 1)) << 8
        XCTAssertEqual(v, 300 - 2 * (150 % 150))   // mode 3 at d=150 (start of a half)
    }

    func testMissedEdgesAreCoalescedAndBounded() {
        let p = make()
        ctl(p, 0x34); load16(p, 0, 2)        // 600 kHz: the run loop cannot keep up
        clock.advance(by: 10_000_000)        // 10 ms late
        let n = clock.runDue()
        XCTAssertLessThanOrEqual(n, 2)
        XCTAssertGreaterThanOrEqual(rises.count, 1)
        XCTAssertLessThan(edges.count, 5)
        // Mode 2 with the illegal count 1: no edges, no event storm.
        ctl(p, 0x34); load16(p, 0, 1)
        let before = edges.count
        run(toTick: p.tick() + 1000)
        XCTAssertEqual(edges.count, before)
    }

    func testStateRestoreRearmsIRQ0() {
        let p = make()
        ctl(p, 0x34); load16(p, 0, 1000)
        run(toTick: 500)
        let s = p.state
        let q = PIT8254(clock: clock)
        var r: [Bool] = []
        q.irq0 = { r.append($0) }
        q.restore(s)
        XCTAssertEqual(q.state, s)
        run(toTick: 1000)
        XCTAssertTrue(r.contains(true))
        p.irq0 = nil
    }

    func testGarbageNeverCrashesOrHangs() {
        var rng = SystemRandomNumberGenerator()
        let p = make()
        let port61 = SystemControlPortB(pit: p)
        p.outputListeners = [{ _ in }, { _ in }, { _ in }]
        for _ in 0..<100_000 {
            let off = UInt64.random(in: 0..<6, using: &rng)
            let size = [1, 2, 4, 8][Int.random(in: 0..<4, using: &rng)]
            switch Int.random(in: 0..<8, using: &rng) {
            case 0, 1: _ = p.ioRead(offset: off, size: size)
            case 2: port61.ioWrite(offset: off & 1, size: size, value: UInt64.random(in: 0...255, using: &rng))
            case 3: _ = port61.ioRead(offset: 0, size: 1)
            case 4:
                clock.advance(by: UInt64.random(in: 0...2_000_000, using: &rng))
                XCTAssertLessThanOrEqual(clock.runDue(), clock.maxEventsPerRun)
            case 5: p.setGate(Int.random(in: -1...3, using: &rng), Bool.random(using: &rng))
            default: p.ioWrite(offset: off, size: size, value: UInt64.random(in: 0...UInt64.max, using: &rng))
            }
        }
        clock.advance(by: .max / 2)
        clock.runDue()
        _ = p.ioRead(offset: 0, size: 2)
        XCTAssertLessThanOrEqual(clock.pendingCount, 3)
    }
}

/// End-to-end wiring as the PC machine should do it: clock ← CPU instruction count, PIT OUT0 →
/// PIC IRQ0, RTC → PIC IRQ8, PIC INT → CPU, CPU INTA → PIC; the run loop stops at the clock's next
/// deadline and skips idle time on HLT. A real-mode program programs the PIC and the PIT at 100 Hz
/// and counts IRQ0s in a HLT loop; an RTC periodic interrupt at 2 Hz is counted through the slave.
final class TimerWiringTests: XCTestCase {
    func testIRQ0AndIRQ8ThroughThePICWakeAHaltedCPU() throws {
        let memory = PhysicalMemory(ramSize: 2 << 20)
        let ports = PortBus()
        let cpu = CPU(memory: memory, ports: ports)
        let clock = Clock()
        clock.instructionCounter = { cpu.tscSource() }      // retired instructions
        let pic = PIC8259()
        let pit = PIT8254(clock: clock)
        let rtc = RTC(clock: clock)
        let port61 = SystemControlPortB(pit: pit)
        try ports.register(pic.masterPorts, base: 0x20, count: 2, name: "pic-master")
        try ports.register(pic.slavePorts, base: 0xA0, count: 2, name: "pic-slave")
        try ports.register(pic.elcrPorts, base: 0x4D0, count: 2, name: "elcr")
        try ports.register(pit, base: 0x40, count: 4, name: "pit")
        try ports.register(port61, base: 0x61, count: 1, name: "port61")
        try ports.register(rtc, base: 0x70, count: 2, name: "rtc")
        pic.output = { cpu.setInterruptRequest($0) }
        cpu.acknowledgeInterrupt = { pic.acknowledge() }
        pit.irq0 = { pic.setIRQ(0, $0) }
        rtc.irq = { pic.setIRQ(8, $0) }

        let handler0: UInt16 = 0x90, handler8: UInt16 = 0x9A
        var code: [UInt8] = [
            0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x70,      // cli; ds = ss = 0; sp
            0xC7, 0x06, 0x20, 0x00, UInt8(handler0 & 0xFF), UInt8(handler0 >> 8),   // IVT[8]
            0xC7, 0x06, 0x22, 0x00, 0x00, 0xF0,
            0xC7, 0x06, 0xC0, 0x01, UInt8(handler8 & 0xFF), UInt8(handler8 >> 8),   // IVT[0x70]
            0xC7, 0x06, 0xC2, 0x01, 0x00, 0xF0,
            0xB0, 0x11, 0xE6, 0x20, 0xB0, 0x08, 0xE6, 0x21, 0xB0, 0x04, 0xE6, 0x21, 0xB0, 0x01, 0xE6, 0x21,
            0xB0, 0x11, 0xE6, 0xA0, 0xB0, 0x70, 0xE6, 0xA1, 0xB0, 0x02, 0xE6, 0xA1, 0xB0, 0x01, 0xE6, 0xA1,
            0xB0, 0xFA, 0xE6, 0x21, 0xB0, 0xFE, 0xE6, 0xA1,                   // unmask IRQ0, 2, 8
            0xB0, 0x34, 0xE6, 0x43, 0xB0, 0x9C, 0xE6, 0x40, 0xB0, 0x2E, 0xE6, 0x40,   // PIT 100 Hz
            0xB0, 0x0A, 0xE6, 0x70, 0xB0, 0x2F, 0xE6, 0x71,                   // RTC A: 2 Hz
            0xB0, 0x0B, 0xE6, 0x70, 0xB0, 0x42, 0xE6, 0x71,                   // RTC B: PIE
            0xFB, 0xF4, 0xEB, 0xFD,                                           // sti; hlt; jmp $-1
        ]
        code += [UInt8](repeating: 0x90, count: Int(handler0) - code.count)
        code += [0xFF, 0x06, 0x00, 0x05, 0xB0, 0x20, 0xE6, 0x20, 0xCF, 0x90]   // inc [0x500]; EOI; iret
        XCTAssertEqual(code.count, Int(handler8))
        code += [0xFF, 0x06, 0x02, 0x05, 0xB0, 0x0C, 0xE6, 0x70, 0xE4, 0x71,  // inc [0x502]; read C
                 0xB0, 0x20, 0xE6, 0xA0, 0xE6, 0x20, 0xCF]                     // EOI slave, master; iret
        var rom = [UInt8](repeating: 0xF4, count: 65536)
        rom.replaceSubrange(0..<code.count, with: code)
        rom.replaceSubrange(0xFFF0..<0xFFF5, with: [0xEA, 0x00, 0x00, 0x00, 0xF0])   // jmp F000:0000
        try memory.mapROM(at: 0xF0000, data: rom, name: "bios")
        try memory.mapROM(at: 0xFFFF_0000, data: rom, name: "bios-high")
        cpu.reset()

        // The machine's run loop.
        let end: UInt64 = 1_000_000_000
        var iterations = 0
        while clock.now < end && iterations < 1_000_000 {
            iterations += 1
            var budget = 100_000
            if let d = clock.nextDeadline, let n = clock.instructionsUntil(min(d, end)) { budget = Int(min(n, 100_000)) }
            let r = cpu.run(budget: budget)
            XCTAssertNotEqual(r, .shutdown)
            if r == .halted {
                guard let d = clock.nextDeadline else { break }
                clock.idle(until: min(d, end))
            }
            clock.runDue()
        }
        let irq0 = memory.read(0x500, size: 2), irq8 = memory.read(0x502, size: 2)
        XCTAssertEqual(Double(irq0), 100, accuracy: 1)
        XCTAssertEqual(Double(irq8), 2, accuracy: 1)
        XCTAssertLessThan(cpu.tscSource(), 100_000)   // almost all of the second was skipped idle time
    }
}
