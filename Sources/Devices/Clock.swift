#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The machine's single virtual clock, in nanoseconds since the machine started.
///
/// Two modes:
/// - `.deterministic(nanoseconds:perInstructions:)`: time is a pure function of the guest
///   instruction count (read through `instructionCounter`, which the machine points at
///   `CPUState.icount`) plus explicit `advance` calls (the machine skips idle time with
///   `advance(to: nextDeadline)` when the CPU halts). The same input gives the same run.
/// - `.realTime`: time follows the host monotonic clock (plus any `advance` offset).
///
/// Devices schedule callbacks at absolute deadlines. The run loop executes guest code until
/// `nextDeadline` (see `instructionsUntil`), then calls `runDue()`, which fires the due events
/// in deadline order (ties in scheduling order). Callbacks receive the deadline they were
/// scheduled for. Events scheduled by a callback for a time already passed fire in the same
/// `runDue` call; the number fired per call is bounded (`maxEventsPerRun`), the rest stay
/// queued for the next call, so a device rescheduling itself in the past never hangs the host.
///
/// The clock is never read backwards: `now` is monotonic even if the instruction counter is
/// reset. Pending events are not part of the saved state: after a restore each device re-arms
/// its own timers from its own saved state.
public final class Clock {
    public enum Mode: Equatable, Sendable {
        /// `nanoseconds` of virtual time per `perInstructions` retired instructions.
        case deterministic(nanoseconds: UInt64, perInstructions: UInt64)
        case realTime
        /// 1 instruction = 1 ns.
        public static let deterministicDefault = Mode.deterministic(nanoseconds: 1, perInstructions: 1)
    }

    /// An opaque handle to a scheduled event.
    public struct Handle: Hashable, Sendable {
        public let id: UInt64
    }

    /// Saved state: only the current time (events belong to the devices that made them).
    public struct State: Sendable, Equatable {
        public var nowNs: UInt64
    }

    public let mode: Mode
    /// Upper bound on callbacks fired by one `runDue` call.
    public var maxEventsPerRun = 10_000

    /// Deterministic mode: the retired-instruction counter (machine: `{ cpu.s.pointee.icount }`).
    public var instructionCounter: () -> UInt64 {
        didSet { rebase() }
    }
    /// Real-time mode: host monotonic nanoseconds (replaceable for tests).
    public var hostMonotonic: () -> UInt64 {
        didSet { rebase() }
    }

    // Time = baseNs + scale(source - baseSource); source is instructions or host ns.
    private var baseNs: UInt64 = 0
    private var baseSource: UInt64 = 0
    private var lastNow: UInt64 = 0
    private let num: UInt64
    private let den: UInt64

    private struct Entry { var deadline: UInt64; var seq: UInt64 }
    private var heap: [Entry] = []          // min-heap on (deadline, seq); seq doubles as the id
    private var callbacks: [UInt64: (UInt64) -> Void] = [:]
    private var deadlines: [UInt64: UInt64] = [:]
    private var nextSeq: UInt64 = 1

    public init(mode: Mode = .deterministicDefault) {
        self.mode = mode
        switch mode {
        case .deterministic(let n, let p):
            num = n
            den = max(p, 1)
        case .realTime:
            num = 1
            den = 1
        }
        instructionCounter = { 0 }
        hostMonotonic = Clock.hostMonotonicNanoseconds
        rebase()
    }

    public var isDeterministic: Bool {
        if case .deterministic = mode { return true }
        return false
    }

    public static func hostMonotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    private func source() -> UInt64 {
        isDeterministic ? instructionCounter() : hostMonotonic()
    }

    /// Restart the scale from the current time (after the source changed or went backwards).
    private func rebase() {
        baseNs = lastNow
        baseSource = source()
    }

    /// Current virtual time in nanoseconds (monotonic).
    public var now: UInt64 {
        let src = source()
        if src < baseSource {           // counter reset: continue from the last time seen
            baseNs = lastNow
            baseSource = src
            return lastNow
        }
        let delta = src - baseSource
        var t: UInt64
        if num == den {
            t = baseNs &+ delta
        } else {
            let p = delta.multipliedFullWidth(by: num)
            if p.high >= den {
                t = .max
            } else {
                t = baseNs &+ den.dividingFullWidth((p.high, p.low)).quotient
            }
        }
        if t < baseNs { t = .max }      // saturate on overflow
        if t < lastNow { t = lastNow }
        lastNow = t
        return t
    }

    /// Moves time forward by `ns` (idle skipping in deterministic mode; tests).
    public func advance(by ns: UInt64) {
        let t = now
        let target = t &+ ns < t ? UInt64.max : t &+ ns
        baseNs = target
        baseSource = source()
        lastNow = target
    }

    /// Moves time forward to `deadline` (no effect if already there).
    public func advance(to deadline: UInt64) {
        let t = now
        if deadline > t { advance(by: deadline - t) }
    }

    /// Guest instructions left before `deadline` in deterministic mode (at least 1), nil in
    /// real-time mode or when the deadline is unreachable.
    public func instructionsUntil(_ deadline: UInt64) -> UInt64? {
        guard isDeterministic else { return nil }
        let t = now
        if deadline <= t { return 1 }
        let ns = deadline - t
        // ceil(ns * den / num)
        guard num > 0 else { return nil }
        let p = ns.multipliedFullWidth(by: den)
        if p.high >= num { return nil }
        let (q, r) = num.dividingFullWidth((p.high, p.low))
        return r == 0 ? max(q, 1) : q &+ 1
    }

    // MARK: events

    /// Schedules `callback` at absolute time `deadline` (ns). The callback receives the deadline.
    @discardableResult
    public func schedule(at deadline: UInt64, _ callback: @escaping (UInt64) -> Void) -> Handle {
        let id = nextSeq
        nextSeq &+= 1
        callbacks[id] = callback
        deadlines[id] = deadline
        push(Entry(deadline: deadline, seq: id))
        compactIfNeeded()
        return Handle(id: id)
    }

    /// Schedules `callback` `delay` ns from now.
    @discardableResult
    public func schedule(after delay: UInt64, _ callback: @escaping (UInt64) -> Void) -> Handle {
        let t = now
        return schedule(at: t &+ delay < t ? .max : t &+ delay, callback)
    }

    /// Cancels a pending event (no effect if it already fired or was cancelled).
    public func cancel(_ handle: Handle) {
        callbacks[handle.id] = nil
        deadlines[handle.id] = nil
    }

    public func isPending(_ handle: Handle) -> Bool { callbacks[handle.id] != nil }

    /// The deadline of a pending event.
    public func deadline(of handle: Handle) -> UInt64? { deadlines[handle.id] }

    /// Number of pending events.
    public var pendingCount: Int { callbacks.count }

    /// The earliest pending deadline, or nil when nothing is scheduled.
    public var nextDeadline: UInt64? {
        while let top = heap.first {
            if callbacks[top.seq] != nil { return top.deadline }
            _ = pop()
        }
        return nil
    }

    /// Fires every event whose deadline is at or before the current time, in deadline order,
    /// including events that the callbacks schedule for that range; at most `maxEventsPerRun`.
    /// Returns how many fired.
    @discardableResult
    public func runDue() -> Int {
        let t = now
        var fired = 0
        while fired < maxEventsPerRun, let top = heap.first, top.deadline <= t {
            _ = pop()
            guard let cb = callbacks.removeValue(forKey: top.seq) else { continue }
            deadlines[top.seq] = nil
            fired += 1
            cb(top.deadline)
        }
        return fired
    }

    // MARK: snapshot

    public var state: State { State(nowNs: now) }

    /// Restores the time (pending events are dropped; devices re-arm their own).
    public func restore(_ s: State) {
        heap.removeAll()
        callbacks.removeAll()
        deadlines.removeAll()
        lastNow = s.nowNs
        rebase()
    }

    // MARK: real-time helper

    /// Waits for `deadline`: deterministic mode jumps there, real-time mode sleeps on the host
    /// (at most `maxSleepNs`, so the caller can poll for input).
    public func idle(until deadline: UInt64, maxSleepNs: UInt64 = 10_000_000) {
        if isDeterministic {
            advance(to: deadline)
            return
        }
        let t = now
        guard deadline > t else { return }
        let ns = min(deadline - t, maxSleepNs)
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        _ = nanosleep(&ts, nil)
    }

    // MARK: heap

    @inline(__always) private func less(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.seq < b.seq)
    }

    private func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !less(heap[i], heap[p]) { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    private func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    private func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && less(heap[l], heap[m]) { m = l }
            if r < n && less(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }

    /// Drops cancelled entries when they dominate the heap (bounded memory under churn).
    private func compactIfNeeded() {
        guard heap.count > 64 && heap.count > 2 * callbacks.count else { return }
        heap.removeAll { callbacks[$0.seq] == nil }
        var i = heap.count / 2
        while i > 0 { i -= 1; siftDown(i) }
    }
}

/// A device timer: one pending clock event at a time, re-armed or cancelled by its owner.
public struct ClockTimer {
    public private(set) var handle: Clock.Handle?
    public init() {}

    public mutating func arm(_ clock: Clock, at deadline: UInt64, _ callback: @escaping (UInt64) -> Void) {
        if let h = handle { clock.cancel(h) }
        handle = clock.schedule(at: deadline, callback)
    }

    public mutating func cancel(_ clock: Clock) {
        if let h = handle { clock.cancel(h) }
        handle = nil
    }

    public func isArmed(_ clock: Clock) -> Bool { handle.map { clock.isPending($0) } ?? false }
}
