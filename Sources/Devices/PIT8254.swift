import CPU

/// Intel 8254 programmable interval timer: three 16-bit counters clocked at 1.193182 MHz.
///
/// Ports (the machine registers base 0x40, count 4): offsets 0..2 = counters 0..2,
/// offset 3 = control word (write only; reads give 0xFF).
///
/// Nothing ticks: each counter remembers the clock tick at which it was loaded and computes
/// its count and OUT level from the virtual clock on demand. For a counter whose output has a
/// listener (counter 0 → IRQ0 via `irq0`) the next OUT transition is scheduled on the clock;
/// transitions missed because the run loop was late are coalesced, but every rising edge that
/// happened is delivered as at least one low→high pulse.
///
/// Modes (datasheet): 0 interrupt on terminal count, 1 hardware-retriggerable one-shot,
/// 2 rate generator, 3 square wave, 4 software-triggered strobe, 5 hardware-triggered strobe.
/// Binary or BCD counting; LSB / MSB / LSB-then-MSB access with separate read and write
/// flip-flops; counter latch command; read-back command (count and/or status).
/// GATE: counters 0 and 1 are tied high; counter 2's gate comes from port 0x61 bit 0
/// (`SystemControlPortB`). Gate low pauses modes 0 and 4, stops modes 2 and 3 with OUT high
/// (a rising edge reloads them), and a rising edge triggers modes 1 and 5.
/// Simplifications (as QEMU): a count is loaded at the write, not at the next CLK pulse.
/// Counts of 1 in modes 2 and 3 are illegal per the datasheet; here OUT then stays high.
public final class PIT8254: IODevice {
    /// Input clock, Hz.
    public static let frequency: UInt64 = 1_193_182
    public enum Port { public static let counter0 = 0, counter1 = 1, counter2 = 2, control = 3 }
    /// Control word fields.
    public enum Control {
        public static let selectShift = 6, accessShift = 4, modeShift = 1
        public static let bcd: UInt8 = 0x01
        public static let readBack: UInt8 = 3          // select value of the read-back command
        public static let readBackNoCount: UInt8 = 0x20, readBackNoStatus: UInt8 = 0x10
    }
    /// Access modes (control word bits 5..4).
    public enum Access { public static let latch: UInt8 = 0, lsb: UInt8 = 1, msb: UInt8 = 2, word: UInt8 = 3 }
    /// Status byte bits (read-back).
    public enum Status { public static let out: UInt8 = 0x80, nullCount: UInt8 = 0x40 }

    public struct Channel: Sendable, Equatable {
        public var modeBits: UInt8 = 3      // as programmed (6, 7 alias 2, 3)
        public var bcd = false
        public var access: UInt8 = Access.word
        public var reload: UInt32 = 0x10000 // count register (1...65536, or 1...10000 in BCD)
        public var count: UInt32 = 0x10000  // count in use by the counting element
        public var hasCount = false         // a count was loaded since the last control word
        public var nullCount = true
        public var gate = true
        public var triggered = false        // modes 1 and 5: a gate trigger started the count
        public var running = false
        public var startTick: UInt64 = 0    // tick at which d = 0 (while running)
        public var heldD: UInt64 = 0        // d while not running
        public var pendingReload: UInt32? = nil   // modes 2/3: count to take at the period end
        public var switchTick: UInt64 = 0
        public var writeHigh = false        // write flip-flop (word access): next byte is MSB
        public var writeLSB: UInt8 = 0
        public var countStopped = false     // mode 0: first byte of a new count written
        public var readHigh = false         // read flip-flop for live reads
        public var latchedCount: UInt16? = nil
        public var latchReadHigh = false
        public var latchedStatus: UInt8? = nil
        public var lastOut = true           // OUT level last reported
        public var lastTick: UInt64 = 0     // tick of that report
        public init() {}

        public var mode: UInt8 { modeBits >= 6 ? modeBits - 4 : modeBits }
    }

    public struct State: Sendable, Equatable {
        public var channels = [Channel(), Channel(), Channel()]
        public init() {}
    }

    public private(set) var state = State()
    public let clock: Clock
    /// OUT listeners per counter; a set listener makes the counter schedule its transitions.
    public var outputListeners: [((Bool) -> Void)?] = [nil, nil, nil] {
        didSet { for i in 0..<3 { reschedule(i) } }
    }
    /// Counter 0's OUT drives IRQ0 (machine: `{ pic.setIRQ(0, $0) }`).
    public var irq0: ((Bool) -> Void)? {
        get { outputListeners[0] }
        set { outputListeners[0] = newValue }
    }
    private var timers = [ClockTimer(), ClockTimer(), ClockTimer()]

    public init(clock: Clock) {
        self.clock = clock
        reset()
    }

    /// Power-on state (as QEMU): every counter in mode 3 with count 65536; counters 0 and 1
    /// run (their gates are tied high), counter 2's gate is low.
    public func reset() {
        let t = tick()
        for i in 0..<3 {
            var c = Channel()
            c.gate = i != 2
            c.hasCount = true
            c.nullCount = false
            c.running = c.gate
            c.startTick = t
            c.lastTick = t
            c.lastOut = true
            state.channels[i] = c
        }
        for i in 0..<3 { reschedule(i) }
    }

    /// Restores saved state and re-arms the output timers.
    public func restore(_ s: State) {
        guard s.channels.count == 3 else { return }
        state = s
        for i in 0..<3 { reschedule(i) }
    }

    // MARK: time

    /// Current PIT tick (floor of now × 1.193182 MHz).
    public func tick() -> UInt64 { Self.ticks(clock.now) }

    static func ticks(_ ns: UInt64) -> UInt64 {
        let p = ns.multipliedFullWidth(by: frequency)
        return UInt64(1_000_000_000).dividingFullWidth((p.high, p.low)).quotient
    }

    /// First nanosecond at which the tick count reaches `t` (saturating).
    static func nanoseconds(ofTick t: UInt64) -> UInt64 {
        let p = t.multipliedFullWidth(by: 1_000_000_000)
        if p.high >= frequency { return .max }
        let (q, r) = frequency.dividingFullWidth((p.high, p.low))
        return r == 0 ? q : (q == .max ? .max : q + 1)
    }

    // MARK: counter arithmetic (pure functions of a channel and d = ticks since load)

    static func d(_ c: Channel, _ t: UInt64) -> UInt64 {
        c.running ? (t >= c.startTick ? t - c.startTick : 0) : c.heldD
    }

    static func out(_ c: Channel, _ d: UInt64) -> Bool {
        guard c.hasCount else { return c.mode != 0 }
        let n = UInt64(c.count)
        switch c.mode {
        case 0: return d >= n && !c.countStopped
        case 1: return c.triggered ? d >= n : true
        case 2:
            if !c.running || n < 2 { return true }
            return d % n != n - 1
        case 3:
            if !c.running || n < 2 { return true }
            return d % n < (n + 1) / 2
        case 4: return d != n
        default: return c.triggered ? d != n : true
        }
    }

    /// Counter value (binary, 0...65535 or 0...9999 before BCD encoding).
    static func value(_ c: Channel, _ d: UInt64) -> UInt32 {
        let modulus: UInt64 = c.bcd ? 10_000 : 0x10000
        let n = UInt64(c.count)
        guard c.hasCount else { return UInt32(UInt64(c.reload) % modulus) }
        switch c.mode {
        case 2:
            if n < 2 { return UInt32(n % modulus) }
            return UInt32((n - d % n) % modulus)
        case 3:
            if n < 2 { return UInt32(n % modulus) }
            let p = d % n
            var v: UInt64
            if n & 1 == 0 {
                let half = n / 2
                v = n - 2 * (p < half ? p : p - half)
            } else {
                let h = (n + 1) / 2
                if p < h { v = p == 0 ? n : n + 1 - 2 * p }
                else { let q = p - h; v = q == 0 ? n : n - 1 - 2 * q }
            }
            return UInt32(v % modulus)
        case 1, 5:
            if !c.triggered { return UInt32(n % modulus) }
            fallthrough
        default:
            return UInt32((n % modulus + modulus - d % modulus) % modulus)
        }
    }

    /// The next d > `d` at which OUT changes, or nil.
    static func nextTransition(_ c: Channel, _ d: UInt64) -> UInt64? {
        guard c.hasCount && c.running else { return nil }
        let n = UInt64(c.count)
        switch c.mode {
        case 0: return d < n ? n : nil
        case 1: return c.triggered && d < n ? n : nil
        case 2:
            if n < 2 { return nil }
            let r = d % n, base = d - r
            return r < n - 1 ? base &+ n - 1 : base &+ n
        case 3:
            if n < 2 { return nil }
            let r = d % n, base = d - r, h = (n + 1) / 2
            return r < h ? base &+ h : base &+ n
        case 4: return d < n ? n : (d == n ? n + 1 : nil)
        default:
            guard c.triggered else { return nil }
            return d < n ? n : (d == n ? n + 1 : nil)
        }
    }

    /// The next d > `d` at which OUT rises, or nil.
    static func nextRise(_ c: Channel, _ d: UInt64) -> UInt64? {
        guard c.hasCount && c.running else { return nil }
        let n = UInt64(c.count)
        switch c.mode {
        case 0: return d < n ? n : nil
        case 1: return c.triggered && d < n ? n : nil
        case 2, 3: return n < 2 ? nil : d - d % n &+ n
        case 4: return d <= n ? n + 1 : nil
        default: return c.triggered && d <= n ? n + 1 : nil
        }
    }

    // MARK: output tracking

    /// Brings counter `i` up to tick `t`: applies a pending period-end reload and reports OUT
    /// changes (a pulse if a rising edge was missed).
    private func settle(_ i: Int, _ t: UInt64) {
        var c = state.channels[i]
        var rose = false
        if c.running && t > c.lastTick && c.lastTick >= c.startTick {
            let dPrev = c.lastTick - c.startTick
            if let r = Self.nextRise(c, dPrev), c.startTick &+ r <= t { rose = true }
        }
        if let p = c.pendingReload, c.running, t >= c.switchTick {
            c.count = p
            c.pendingReload = nil
            c.startTick = c.switchTick
        }
        let cur = Self.out(c, Self.d(c, t))
        // Up to three level changes: [low,] high (a missed rising edge), then the current level.
        let was = c.lastOut
        let pulse = rose && !(was == false && cur == true)
        c.lastOut = cur
        c.lastTick = t
        state.channels[i] = c
        guard let f = outputListeners[i] else { return }
        var level = was
        if pulse {
            if level { f(false) }
            f(true)
            level = true
        }
        if cur != level { f(cur) }
    }

    private func reschedule(_ i: Int) {
        guard i < timers.count else { return }
        let c = state.channels[i]
        guard outputListeners[i] != nil, c.running else { timers[i].cancel(clock); return }
        let t = tick()
        let dNow = Self.d(c, t)
        guard let next = Self.nextTransition(c, dNow) else { timers[i].cancel(clock); return }
        var target = c.startTick &+ next
        if target < c.startTick { target = .max }
        if c.pendingReload != nil { target = min(target, c.switchTick) }
        if target <= t { target = t &+ 1 }
        let when = Self.nanoseconds(ofTick: target)
        timers[i].arm(clock, at: when) { [weak self] _ in self?.timerFired(i) }
    }

    private func timerFired(_ i: Int) {
        settle(i, tick())
        reschedule(i)
    }

    /// Runs `body` on counter `i` between settling it to now and reporting the new OUT.
    private func mutate(_ i: Int, _ body: (inout Channel, UInt64) -> Void) {
        let t = tick()
        settle(i, t)
        body(&state.channels[i], t)
        settle(i, t)
        reschedule(i)
    }

    // MARK: inputs and outputs for the machine

    /// Current OUT level of counter `i`.
    public func output(_ i: Int) -> Bool {
        guard (0..<3).contains(i) else { return false }
        let c = state.channels[i]
        let t = tick()
        var cc = c
        if let p = c.pendingReload, c.running, t >= c.switchTick {
            cc.count = p; cc.pendingReload = nil; cc.startTick = c.switchTick
        }
        return Self.out(cc, Self.d(cc, t))
    }

    public func gate(_ i: Int) -> Bool { (0..<3).contains(i) ? state.channels[i].gate : false }

    /// Drives the GATE input of counter `i`.
    public func setGate(_ i: Int, _ level: Bool) {
        guard (0..<3).contains(i), state.channels[i].gate != level else { return }
        mutate(i) { c, t in
            c.gate = level
            let d = Self.d(c, t)
            switch c.mode {
            case 0, 4:
                guard c.hasCount, !c.countStopped else { break }
                if level { c.running = true; c.startTick = t &- min(d, t) } else { c.heldD = d; c.running = false }
            case 2, 3:
                guard c.hasCount else { break }
                if level {
                    if let p = c.pendingReload { c.reload = p; c.pendingReload = nil }
                    c.count = c.reload; c.running = true; c.startTick = t; c.heldD = 0
                } else {
                    c.heldD = d; c.running = false
                }
            default:   // 1, 5: rising edge triggers
                guard level, c.hasCount else { break }
                c.count = c.reload; c.triggered = true; c.running = true; c.startTick = t; c.heldD = 0
            }
            c.lastTick = t
        }
    }

    // MARK: register access

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        byteWiseRead(offset: offset, size: size, ports: 4) { readByte($0) }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        byteWiseWrite(offset: offset, size: size, value: value, ports: 4) { writeByte($0, $1) }
    }

    static func toBCD(_ v: UInt32) -> UInt16 {
        let v = v % 10_000
        return UInt16(v / 1000) << 12 | UInt16(v / 100 % 10) << 8 | UInt16(v / 10 % 10) << 4 | UInt16(v % 10)
    }

    static func fromBCD(_ v: UInt16) -> UInt32 {
        UInt32(v >> 12) * 1000 + UInt32(v >> 8 & 0xF) * 100 + UInt32(v >> 4 & 0xF) * 10 + UInt32(v & 0xF)
    }

    /// The count as the guest reads it (BCD-encoded in BCD mode).
    func currentCount(_ i: Int) -> UInt16 {
        let t = tick()
        settle(i, t)
        let c = state.channels[i]
        let v = Self.value(c, Self.d(c, t))
        return c.bcd ? Self.toBCD(v) : UInt16(truncatingIfNeeded: v)
    }

    func statusByte(_ i: Int) -> UInt8 {
        let c = state.channels[i]
        return (output(i) ? Status.out : 0) | (c.nullCount ? Status.nullCount : 0)
            | c.access << 4 | (c.modeBits & 7) << 1 | (c.bcd ? 1 : 0)
    }

    func readByte(_ port: Int) -> UInt8 {
        guard port < 3 else { return 0xFF }
        var c = state.channels[port]
        if let s = c.latchedStatus {
            state.channels[port].latchedStatus = nil
            return s
        }
        if let l = c.latchedCount {
            let b: UInt8
            switch c.access {
            case Access.lsb: b = UInt8(l & 0xFF); c.latchedCount = nil
            case Access.msb: b = UInt8(l >> 8); c.latchedCount = nil
            default:
                b = c.latchReadHigh ? UInt8(l >> 8) : UInt8(l & 0xFF)
                if c.latchReadHigh { c.latchedCount = nil }
                c.latchReadHigh.toggle()
            }
            state.channels[port].latchedCount = c.latchedCount
            state.channels[port].latchReadHigh = c.latchReadHigh
            return b
        }
        let v = currentCount(port)
        switch c.access {
        case Access.lsb: return UInt8(v & 0xFF)
        case Access.msb: return UInt8(v >> 8)
        default:
            let high = state.channels[port].readHigh
            state.channels[port].readHigh.toggle()
            return high ? UInt8(v >> 8) : UInt8(v & 0xFF)
        }
    }

    func writeByte(_ port: Int, _ v: UInt8) {
        if port == Port.control { writeControl(v); return }
        guard port < 3 else { return }
        let c = state.channels[port]
        switch c.access {
        case Access.lsb: loadCount(port, UInt16(v))
        case Access.msb: loadCount(port, UInt16(v) << 8)
        default:
            if !c.writeHigh {
                state.channels[port].writeLSB = v
                state.channels[port].writeHigh = true
                if c.mode == 0 {
                    // Mode 0: writing the first byte stops the count and sets OUT low.
                    mutate(port) { c, t in c.heldD = Self.d(c, t); c.running = false; c.countStopped = true }
                }
            } else {
                state.channels[port].writeHigh = false
                loadCount(port, UInt16(v) << 8 | UInt16(state.channels[port].writeLSB))
            }
        }
    }

    private func writeControl(_ v: UInt8) {
        let sel = Int(v >> Control.selectShift)
        if sel == Int(Control.readBack) {
            for i in 0..<3 where v & (2 << UInt8(i)) != 0 {
                if v & Control.readBackNoCount == 0 && state.channels[i].latchedCount == nil {
                    state.channels[i].latchedCount = currentCount(i)
                    state.channels[i].latchReadHigh = false
                }
                if v & Control.readBackNoStatus == 0 && state.channels[i].latchedStatus == nil {
                    state.channels[i].latchedStatus = statusByte(i)
                }
            }
            return
        }
        let access = (v >> Control.accessShift) & 3
        if access == Access.latch {
            if state.channels[sel].latchedCount == nil {
                state.channels[sel].latchedCount = currentCount(sel)
                state.channels[sel].latchReadHigh = false
            }
            return
        }
        mutate(sel) { c, _ in
            c.access = access
            c.modeBits = (v >> Control.modeShift) & 7
            c.bcd = v & Control.bcd != 0
            c.hasCount = false
            c.countStopped = false
            c.nullCount = true
            c.running = false
            c.triggered = false
            c.pendingReload = nil
            c.writeHigh = false
            c.readHigh = false
            c.heldD = 0
        }
    }

    private func loadCount(_ i: Int, _ raw: UInt16) {
        mutate(i) { c, t in
            var n: UInt32
            if c.bcd {
                n = Self.fromBCD(raw) % 10_000
                if n == 0 { n = 10_000 }
            } else {
                n = raw == 0 ? 0x10000 : UInt32(raw)
            }
            c.reload = n
            c.nullCount = false
            c.countStopped = false
            let first = !c.hasCount
            c.hasCount = true
            switch c.mode {
            case 0, 4:
                c.count = n; c.startTick = t; c.heldD = 0; c.running = c.gate; c.pendingReload = nil
            case 1, 5:
                if !c.triggered { c.count = n }   // used at the next trigger otherwise
            default:
                if first || !c.running {
                    c.count = n; c.startTick = t; c.heldD = 0; c.running = c.gate; c.pendingReload = nil
                } else {
                    let d = Self.d(c, t), cn = UInt64(c.count)
                    c.pendingReload = n
                    c.switchTick = c.startTick &+ (d / cn + 1) * cn
                }
            }
            c.lastTick = t
        }
    }
}

/// Port 0x61, "NMI status and control" / system control port B (the machine registers base
/// 0x61, count 1):
/// - bit 0 (rw): PIT counter 2 GATE;   bit 1 (rw): speaker data enable (OUT2 to the speaker);
/// - bit 2 (rw): PCI SERR# / parity check disable;   bit 3 (rw): IOCHK# disable;
/// - bit 4 (ro): refresh toggle, flips every 15.085 µs of virtual time;
/// - bit 5 (ro): PIT counter 2 OUT;   bits 6, 7 (ro): IOCHK# / SERR# NMI sources (never set here).
public final class SystemControlPortB: IODevice {
    public enum Bit {
        public static let gate2: UInt8 = 0x01, speakerData: UInt8 = 0x02
        public static let serrDisable: UInt8 = 0x04, iochkDisable: UInt8 = 0x08
        public static let refresh: UInt8 = 0x10, out2: UInt8 = 0x20
        public static let writable: UInt8 = 0x0F
    }
    public static let refreshPeriodNs: UInt64 = 15_085

    public struct State: Sendable, Equatable {
        public var control: UInt8 = 0
        public init() {}
    }
    public private(set) var state = State()
    public let pit: PIT8254
    /// Speaker state changed: (gate2 and speaker data both on).
    public var speakerChanged: ((Bool) -> Void)?

    public init(pit: PIT8254) {
        self.pit = pit
    }

    public func restore(_ s: State) {
        state = s
        pit.setGate(2, s.control & Bit.gate2 != 0)
    }

    /// Is the speaker driven by counter 2 (gate on and data enabled).
    public var speakerOn: Bool { state.control & (Bit.gate2 | Bit.speakerData) == Bit.gate2 | Bit.speakerData }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        byteWiseRead(offset: offset, size: size, ports: 1) { _ in
            var v = state.control & Bit.writable
            if (pit.clock.now / Self.refreshPeriodNs) & 1 != 0 { v |= Bit.refresh }
            if pit.output(2) { v |= Bit.out2 }
            return v
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        byteWiseWrite(offset: offset, size: size, value: value, ports: 1) { _, v in
            let was = speakerOn
            state.control = v & Bit.writable
            pit.setGate(2, v & Bit.gate2 != 0)
            if speakerOn != was { speakerChanged?(speakerOn) }
        }
    }
}
