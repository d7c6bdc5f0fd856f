import CPU

/// A 256-bit set of interrupt vectors (the local APIC's IRR, ISR and TMR).
public struct VectorSet: Sendable, Equatable {
    public var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0
    public init() {}

    @inline(__always) func word(_ i: Int) -> UInt64 {
        switch i & 3 {
        case 0: return w0
        case 1: return w1
        case 2: return w2
        default: return w3
        }
    }

    @inline(__always) mutating func setWord(_ i: Int, _ v: UInt64) {
        switch i & 3 {
        case 0: w0 = v
        case 1: w1 = v
        case 2: w2 = v
        default: w3 = v
        }
    }

    public func contains(_ v: UInt8) -> Bool { (word(Int(v >> 6)) >> UInt64(v & 63)) & 1 != 0 }
    public mutating func insert(_ v: UInt8) { setWord(Int(v >> 6), word(Int(v >> 6)) | (1 << UInt64(v & 63))) }
    public mutating func remove(_ v: UInt8) { setWord(Int(v >> 6), word(Int(v >> 6)) & ~(1 << UInt64(v & 63))) }
    public var isEmpty: Bool { w0 | w1 | w2 | w3 == 0 }

    /// The highest vector in the set.
    public var highest: UInt8? {
        for i in stride(from: 3, through: 0, by: -1) {
            let w = word(i)
            if w != 0 { return UInt8(i * 64 + 63 - w.leadingZeroBitCount) }
        }
        return nil
    }

    /// Bits 32i...32i+31 (the MMIO view: ISR/TMR/IRR register i, i in 0...7).
    public func dword(_ i: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: word((i >> 1) & 3) >> (32 * UInt64(i & 1)))
    }
}

/// The local APIC of one CPU in xAPIC mode (Intel SDM vol. 3A ch. 10 / 11), as an MMIO device
/// for the 4 KiB window at the APIC base (the machine maps it at 0xFEE00000).
///
/// Wiring (single CPU):
/// ```
/// try memory.mapMMIO(at: 0xFEE0_0000, size: 0x1000, name: "lapic", device: lapic)
/// lapic.output = { [unowned cpu] in cpu.setInterruptRequest($0) }
/// cpu.acknowledgeInterrupt = { [unowned lapic] in lapic.acknowledge() }
/// lapic.picAcknowledge = { [unowned pic] in pic.acknowledge() ?? 0 }
/// pic.output = { [unowned lapic] in lapic.setPICOutput($0) }       // LINT0 (virtual wire)
/// lapic.nmi = { [unowned cpu] in cpu.requestNMI() }
/// lapic.onLevelEOI = { [unowned ioapic] in ioapic.eoi(vector: $0) }
/// ioapic.deliver = { [unowned lapic] dest, logical, mode, vector, level in
///     if lapic.matchesDestination(dest, logical: logical) {
///         lapic.deliver(vector: vector, deliveryMode: mode, level: true, triggerLevel: level)
///     }
/// }
/// ```
/// plus `setAPICBase(_:)` on every WRMSR to IA32_APIC_BASE, `tpr` for MOV CR8 (`cr8`), and
/// `writeTSCDeadline` / `readTSCDeadline` for IA32_TSC_DEADLINE (0x6E0).
///
/// Model:
/// - Registers are 32 bits wide at 16-byte aligned offsets. Only 4-byte accesses at such an
///   offset reach a register; any other access (other sizes, offsets +4/+8/+C inside a slot)
///   reads 0 and is ignored on write (counted in `badAccesses`). Reserved offsets, write-only
///   registers (EOI) on read and read-only registers on write read 0 / ignore the write.
/// - Version 0x00050014 (as QEMU): version 0x14, six LVT entries. The CMCI LVT at 0x2F0 is
///   readable and writable but no source signals it; thermal and performance LVTs are only
///   signalled through `signalLocal(_:)`. No directed-EOI support; x2APIC is not modelled.
/// - Priorities: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV & 0xF0; the highest IRR vector
///   is deliverable when its class is above PPR's class and the APIC is software-enabled
///   (SVR bit 8). Vectors 0-15 are illegal: received ones set ESR bit 6 and are dropped,
///   sent ones (ICR) set ESR bit 5. ESR has write-then-read semantics (a write copies the
///   errors logged since the previous write into the readable register and clears the log);
///   each logged error signals the error LVT.
/// - INTR (`output`): asserted when the APIC has a deliverable vector, or an ExtINT request
///   is pending: the PIC output with LINT0 (or LINT1) unmasked in ExtINT mode, or an ExtINT
///   message from the IOAPIC. When the APIC is globally disabled (IA32_APIC_BASE bit 11 = 0)
///   LINT0 is the INTR pin and LINT1 the NMI pin. `output` is called with the current level
///   after every event that may change it (not only on changes), like `PIC8259.output`.
/// - `acknowledge()` (INTA): a deliverable APIC vector first (IRR → ISR), else an ExtINT
///   request (through `picAcknowledge`, IRR/ISR untouched), else the spurious vector. Unlike
///   QEMU, a vector held back by PPR does not hide a pending PIC interrupt.
/// - Reset state (SDM 10.4.7.1) except that, as in QEMU, LINT0 of the BSP starts as ExtINT
///   unmasked (0x700) so the 8259 reaches the CPU without firmware programming the virtual
///   wire. Software-disabled (SVR bit 8 = 0): every LVT mask bit is set and cannot be cleared.
/// - Global disable: clearing IA32_APIC_BASE bit 11 returns the APIC to its power-up state
///   (SDM: "prior initialization ... may be lost"); while disabled the MMIO window reads 0
///   and ignores writes, messages (IOAPIC, timer, IPIs) are dropped, and INTR follows LINT0.
///   Relocating the base is recorded in `apicBase`; moving the MMIO mapping is the machine's job.
/// - LINT polarity (bit 13) is stored but not applied: inputs are given as asserted/not.
/// - IPIs (ICR low write): fixed / lowest-priority / NMI messages that target this APIC
///   (shorthand self or all-including-self, or a destination `matchesDestination` accepts)
///   are delivered locally; INIT, SIPI, SMI and messages to other CPUs are counted and dropped.
///   The delivery status bit always reads idle.
/// - Timer: counts at `busFrequencyHz` / divide configuration, derived from the virtual clock
///   (no ticking). One-shot and periodic (period = initial count, count runs initial...1 and
///   reloads when it reaches 0); periods missed by a late run loop are coalesced. A write to
///   the LVT timer that changes the mode disarms the timer (initial count and deadline
///   become 0, SDM 10.5.4.1); mode 11b (reserved) counts as one-shot. A divide-configuration
///   write keeps the current count and continues at the new rate. TSC-deadline mode:
///   IA32_TSC_DEADLINE is converted to virtual ns with `tscNow` / `tscFrequencyHz`; writing 0
///   disarms, an already-passed deadline fires at once, firing clears the MSR; outside
///   TSC-deadline mode writes are ignored and reads give 0.
/// - Saved state: `state`; `restore(_:)` re-arms the timer from it.
public final class LAPIC: IODevice {
    /// MMIO register offsets within the 4 KiB window.
    public enum Reg {
        public static let id = 0x020, version = 0x030, tpr = 0x080, apr = 0x090, ppr = 0x0A0
        public static let eoi = 0x0B0, rrd = 0x0C0, ldr = 0x0D0, dfr = 0x0E0, svr = 0x0F0
        public static let isr = 0x100, tmr = 0x180, irr = 0x200     // 8 registers each, 0x10 apart
        public static let esr = 0x280, lvtCMCI = 0x2F0, icrLow = 0x300, icrHigh = 0x310
        public static let lvtTimer = 0x320, lvtThermal = 0x330, lvtPerf = 0x340
        public static let lvtLINT0 = 0x350, lvtLINT1 = 0x360, lvtError = 0x370
        public static let timerInitialCount = 0x380, timerCurrentCount = 0x390, timerDivide = 0x3E0
        public static let windowSize = 0x1000
    }

    /// IA32_APIC_BASE MSR bits.
    public enum Base {
        public static let bsp: UInt64 = 1 << 8
        public static let x2apic: UInt64 = 1 << 10           // not supported: dropped
        public static let enable: UInt64 = 1 << 11
        public static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000
        public static let defaultAddress: UInt64 = 0xFEE0_0000
    }

    /// Spurious-interrupt vector register bits.
    public enum SVR {
        public static let vectorMask: UInt32 = 0xFF
        public static let enable: UInt32 = 1 << 8
        public static let focusDisable: UInt32 = 1 << 9
        public static let writable: UInt32 = 0x3FF
        public static let reset: UInt32 = 0xFF
    }

    /// LVT entry bits.
    public enum LVTBits {
        public static let vectorMask: UInt32 = 0xFF
        public static let deliveryModeShift: UInt32 = 8
        public static let deliveryModeMask: UInt32 = 0x700
        public static let deliveryStatus: UInt32 = 1 << 12      // always idle here
        public static let polarityLow: UInt32 = 1 << 13
        public static let remoteIRR: UInt32 = 1 << 14
        public static let levelTriggered: UInt32 = 1 << 15
        public static let masked: UInt32 = 1 << 16
        public static let timerModeShift: UInt32 = 17
        public static let timerModeMask: UInt32 = 3 << 17
        /// Writable bits per kind of entry.
        public static let timerWritable: UInt32 = 0x0007_00FF
        public static let localWritable: UInt32 = 0x0001_07FF     // thermal, perf, CMCI
        public static let lintWritable: UInt32 = 0x0001_A7FF      // LINT0, LINT1
        public static let errorWritable: UInt32 = 0x0001_00FF
        /// ExtINT unmasked: the BSP's LINT0 after reset (virtual wire, as QEMU).
        public static let bspLINT0Reset: UInt32 = 0x700
    }

    /// Timer modes (LVT timer bits 18:17).
    public enum TimerMode {
        public static let oneShot: UInt32 = 0, periodic: UInt32 = 1, tscDeadline: UInt32 = 2
    }

    /// Delivery modes (LVT bits 10:8, ICR bits 10:8, IOAPIC redirection bits 10:8).
    public enum DeliveryMode {
        public static let fixed: UInt8 = 0, lowestPriority: UInt8 = 1, smi: UInt8 = 2
        public static let nmi: UInt8 = 4, initialize: UInt8 = 5, startup: UInt8 = 6, extINT: UInt8 = 7
    }

    /// Interrupt command register bits.
    public enum ICR {
        public static let vectorMask: UInt32 = 0xFF
        public static let logical: UInt32 = 1 << 11
        public static let deliveryStatus: UInt32 = 1 << 12
        public static let levelAssert: UInt32 = 1 << 14
        public static let levelTriggered: UInt32 = 1 << 15
        public static let shorthandShift: UInt32 = 18
        public static let lowWritable: UInt32 = 0x000C_CFFF
        public static let highWritable: UInt32 = 0xFF00_0000
        /// Destination shorthands.
        public static let noShorthand: UInt32 = 0, toSelf: UInt32 = 1, allIncludingSelf: UInt32 = 2
        public static let allExcludingSelf: UInt32 = 3
    }

    /// Error status register bits.
    public enum ESR {
        public static let sendIllegalVector: UInt32 = 1 << 5
        public static let receiveIllegalVector: UInt32 = 1 << 6
        public static let illegalRegister: UInt32 = 1 << 7
    }

    /// Version register: version 0x14, max LVT entry 5 (QEMU's value).
    public static let versionValue: UInt32 = 0x0005_0014
    /// DFR bits 27:0 read as ones; only the model (31:28) is writable.
    public static let dfrFixedOnes: UInt32 = 0x0FFF_FFFF
    /// Timer input clock (1 ns per tick at divide-by-1, as QEMU).
    public static let busFrequencyHz: UInt64 = 1_000_000_000
    /// Divide configuration writable bits (3, 1, 0).
    public static let divideWritable: UInt32 = 0xB

    /// Local vector table entries.
    public enum LVT: Int, CaseIterable, Sendable {
        case cmci, timer, thermal, perf, lint0, lint1, error
    }

    public struct State: Sendable, Equatable {
        public var id: UInt8
        public var apicBase: UInt64
        public var tpr: UInt8 = 0
        public var ldr: UInt32 = 0
        public var dfr: UInt32 = 0xFFFF_FFFF
        public var svr: UInt32 = SVR.reset
        public var irr = VectorSet()
        public var isr = VectorSet()
        public var tmr = VectorSet()
        /// ESR as read; `esrLog` collects errors until the next ESR write.
        public var esr: UInt32 = 0
        public var esrLog: UInt32 = 0
        public var icrLow: UInt32 = 0
        public var icrHigh: UInt32 = 0
        public var lvtCMCI: UInt32 = LVTBits.masked
        public var lvtTimer: UInt32 = LVTBits.masked
        public var lvtThermal: UInt32 = LVTBits.masked
        public var lvtPerf: UInt32 = LVTBits.masked
        public var lvtLINT0: UInt32 = LVTBits.masked
        public var lvtLINT1: UInt32 = LVTBits.masked
        public var lvtError: UInt32 = LVTBits.masked
        public var timerInitialCount: UInt32 = 0
        public var timerDivide: UInt32 = 0
        /// Timer ticks elapsed = `timerStartTicks` + (now − `timerStartNs`) >> divide shift.
        public var timerStartNs: UInt64 = 0
        public var timerStartTicks: UInt64 = 0
        /// One-shot not yet fired / periodic running; `timerNextTick` is the elapsed-tick
        /// count of the next expiry.
        public var timerArmed = false
        public var timerNextTick: UInt64 = 0
        public var tscDeadline: UInt64 = 0
        /// LINT0 (the PIC's INT output) and LINT1 input levels.
        public var lint0Level = false
        public var lint1Level = false
        /// An ExtINT message (IOAPIC) waits for INTA.
        public var extINTPending = false
        /// INTR level last sent to `output`.
        public var outputLevel = false

        /// The power-up state of the APIC with this id.
        public init(id: UInt8 = 0, bsp: Bool = true) {
            self.id = id
            apicBase = Base.defaultAddress | Base.enable | (bsp ? Base.bsp : 0)
            if bsp { lvtLINT0 = LVTBits.bspLINT0Reset }
        }
    }

    public private(set) var state: State
    public let clock: Clock
    public let isBSP: Bool

    /// INTR line to the CPU (machine: `cpu.setInterruptRequest`).
    public var output: ((Bool) -> Void)?
    /// The 8259's INTA cycle, used for ExtINT requests (machine: `pic.acknowledge()`).
    public var picAcknowledge: (() -> UInt8)?
    /// NMI delivery (machine: `cpu.requestNMI()`).
    public var nmi: (() -> Void)?
    /// EOI of a level-triggered vector (TMR set): the EOI broadcast to the IOAPIC(s).
    public var onLevelEOI: ((UInt8) -> Void)?
    /// The guest's time-stamp counter (TSC-deadline mode). Default: the virtual clock at
    /// `tscFrequencyHz` = 1 GHz.
    public var tscNow: () -> UInt64
    /// Guest TSC rate used to convert a deadline to virtual ns (0 is treated as 1 GHz).
    public var tscFrequencyHz: UInt64 = 1_000_000_000 {
        didSet { rearmTimer() }
    }

    /// Counters of dropped or unsupported events (not saved).
    public private(set) var badAccesses: UInt64 = 0
    public private(set) var reservedAccesses: UInt64 = 0
    public private(set) var ignoredINIT: UInt64 = 0
    public private(set) var ignoredSIPI: UInt64 = 0
    public private(set) var ignoredSMI: UInt64 = 0
    public private(set) var ignoredIPIs: UInt64 = 0

    private var timer = ClockTimer()

    public init(clock: Clock, id: UInt8 = 0, isBSP: Bool = true) {
        self.clock = clock
        self.isBSP = isBSP
        state = State(id: id, bsp: isBSP)
        tscNow = { [unowned clock] in clock.now }
        state.timerStartNs = clock.now
    }

    // MARK: machine interface

    /// APIC id (bits 31:24 of the ID register).
    public var id: UInt8 {
        get { state.id }
        set { state.id = newValue }
    }

    /// IA32_APIC_BASE. Setting it is `setAPICBase`.
    public var apicBase: UInt64 {
        get { state.apicBase }
        set { setAPICBase(newValue) }
    }

    public var isGloballyEnabled: Bool { state.apicBase & Base.enable != 0 }
    public var isSoftwareEnabled: Bool { state.svr & SVR.enable != 0 }

    /// Syncs IA32_APIC_BASE after a WRMSR (the CPU validates reserved bits). Keeps BSP, enable
    /// and the base address; clearing the enable bit resets the APIC to its power-up state.
    public func setAPICBase(_ v: UInt64) {
        let was = isGloballyEnabled
        let nv = v & (Base.addressMask | Base.enable | Base.bsp)
        if was && nv & Base.enable == 0 {
            powerUp()
        }
        state.apicBase = nv
        rearmTimer()
        update()
    }

    /// Task priority (MOV CR8 uses bits 7:4: `cr8`).
    public var tpr: UInt8 {
        get { state.tpr }
        set { state.tpr = newValue; update() }
    }

    /// CR8 view of the TPR: TPR[7:4].
    public var cr8: UInt64 {
        get { UInt64(state.tpr >> 4) }
        set { tpr = UInt8(newValue & 0xF) << 4 }
    }

    /// Processor priority.
    public var ppr: UInt8 {
        let isrv = state.isr.highest ?? 0
        return state.tpr >> 4 >= isrv >> 4 ? state.tpr : isrv & 0xF0
    }

    /// Arbitration priority (SDM: TPR if TPR[7:4] >= IRRV[7:4] and > ISRV[7:4], else the
    /// highest of TPR, ISRV and IRRV classes).
    public var apr: UInt8 {
        let isrv = state.isr.highest ?? 0, irrv = state.irr.highest ?? 0
        let t = state.tpr
        if t >> 4 >= irrv >> 4 && t >> 4 > isrv >> 4 { return t }
        return max(t & 0xF0, isrv & 0xF0, irrv & 0xF0)
    }

    public var spuriousVector: UInt8 { UInt8(truncatingIfNeeded: state.svr & SVR.vectorMask) }

    /// The vector `acknowledge()` would take from IRR, if any.
    public var deliverableVector: UInt8? {
        guard isGloballyEnabled, isSoftwareEnabled, let v = state.irr.highest else { return nil }
        return v >> 4 > ppr >> 4 ? v : nil
    }

    /// Is INTR asserted.
    public var interruptRequested: Bool { state.outputLevel }

    /// Does a message with this destination address this APIC (physical: id or broadcast
    /// 0xFF; logical: flat or cluster model against LDR/DFR, 0xFF broadcast).
    public func matchesDestination(_ dest: UInt8, logical: Bool) -> Bool {
        if dest == 0xFF { return true }
        if !logical { return dest == state.id }
        let ldr = UInt8(truncatingIfNeeded: state.ldr >> 24)
        switch state.dfr >> 28 {
        case 0xF: return ldr & dest != 0                                   // flat
        case 0x0: return (dest >> 4 == 0xF || dest >> 4 == ldr >> 4) && ldr & dest & 0xF != 0  // cluster
        default: return false
        }
    }

    /// The 8259's INT output, wired to LINT0 (virtual wire).
    public func setPICOutput(_ level: Bool) { setLINT(0, level) }

    /// Drives the LINT0 / LINT1 input (`pin` 0 or 1; others ignored).
    public func setLINT(_ pin: Int, _ level: Bool) {
        guard pin == 0 || pin == 1 else { return }
        let old = pin == 0 ? state.lint0Level : state.lint1Level
        if pin == 0 { state.lint0Level = level } else { state.lint1Level = level }
        if !isGloballyEnabled {
            if pin == 1 && level && !old { nmi?() }       // LINT1 is the NMI pin
            update()
            return
        }
        let which: LVT = pin == 0 ? .lint0 : .lint1
        let e = lvt(which)
        if e & LVTBits.masked == 0 {
            switch Self.deliveryMode(e) {
            case DeliveryMode.fixed:
                if e & LVTBits.levelTriggered != 0 {
                    if level { serviceLevelLINT(which) }
                } else if level && !old {
                    accept(UInt8(truncatingIfNeeded: e), level: false)
                }
            case DeliveryMode.nmi:
                if level && !old { nmi?() }
            case DeliveryMode.smi:
                if level && !old { ignoredSMI &+= 1 }
            case DeliveryMode.initialize:
                if level && !old { ignoredINIT &+= 1 }
            default:
                break                                   // ExtINT: seen by update(); reserved modes
            }
        }
        update()
    }

    /// An interrupt message for this APIC (IOAPIC, IPI). Fixed and lowest priority go to IRR
    /// (TMR = `triggerLevel`); NMI calls `nmi`; ExtINT makes the next INTA ask the PIC;
    /// SMI, INIT and SIPI are counted and dropped. `level` false (a de-assert message, used
    /// only by INIT level de-assert) is ignored.
    public func deliver(vector: UInt8, deliveryMode: UInt8, level: Bool, triggerLevel: Bool) {
        guard isGloballyEnabled else { return }
        switch deliveryMode & 7 {
        case DeliveryMode.fixed, DeliveryMode.lowestPriority:
            guard level else { return }
            accept(vector, level: triggerLevel)
        case DeliveryMode.nmi:
            if level { nmi?() }
        case DeliveryMode.extINT:
            guard level else { return }
            state.extINTPending = true
        case DeliveryMode.smi:
            ignoredSMI &+= 1
        case DeliveryMode.initialize:
            ignoredINIT &+= 1
        case DeliveryMode.startup:
            ignoredSIPI &+= 1
        default:
            break                                       // reserved (3)
        }
        update()
    }

    /// Signals a local interrupt source through its LVT entry (timer, thermal, performance
    /// counter, CMCI, error) honouring the mask and the entry's delivery mode.
    public func signalLocal(_ which: LVT) {
        guard isGloballyEnabled else { return }
        let e = lvt(which)
        guard e & LVTBits.masked == 0 else { return }
        let mode: UInt8
        switch which {
        case .timer, .error: mode = DeliveryMode.fixed
        default: mode = Self.deliveryMode(e)
        }
        switch mode {
        case DeliveryMode.fixed: accept(UInt8(truncatingIfNeeded: e), level: false)
        case DeliveryMode.nmi: nmi?()
        case DeliveryMode.smi: ignoredSMI &+= 1
        case DeliveryMode.initialize: ignoredINIT &+= 1
        default: break
        }
        update()
    }

    /// The CPU's INTA cycle: the highest deliverable vector (moved IRR → ISR), else the PIC's
    /// vector for an ExtINT request (IRR/ISR untouched), else the spurious vector.
    public func acknowledge() -> UInt8 {
        guard isGloballyEnabled else {
            return picAcknowledge?() ?? spuriousVector      // LINT0 is INTR; the PIC answers
        }
        if let v = deliverableVector {
            state.irr.remove(v)
            state.isr.insert(v)
            update()
            return v
        }
        if extINTRequested {
            state.extINTPending = false
            let v = picAcknowledge?() ?? spuriousVector
            update()
            return v
        }
        update()
        return spuriousVector
    }

    /// Sends the current INTR level to `output` again.
    public func resyncOutput() { update() }

    /// Hardware reset: power-up state with the default APIC base (id and input levels kept).
    public func reset() {
        powerUp()
        state.apicBase = Base.defaultAddress | Base.enable | (isBSP ? Base.bsp : 0)
        rearmTimer()
        update()
    }

    /// Restores a saved state, re-arms the timer and re-drives INTR.
    public func restore(_ s: State) {
        state = s
        rearmTimer()
        update()
    }

    // MARK: TSC deadline (IA32_TSC_DEADLINE, MSR 0x6E0)

    public func readTSCDeadline() -> UInt64 {
        timerMode == TimerMode.tscDeadline ? state.tscDeadline : 0
    }

    public func writeTSCDeadline(_ v: UInt64) {
        guard isGloballyEnabled, timerMode == TimerMode.tscDeadline else { return }
        state.tscDeadline = v
        if v != 0 && tscNow() >= v {
            timer.cancel(clock)
            fireTSCDeadline()
            return
        }
        rearmTimer()
    }

    // MARK: MMIO

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        guard size == 4, offset & 0xF == 0, offset < UInt64(Reg.windowSize) else {
            badAccesses &+= 1
            return 0
        }
        guard isGloballyEnabled else { return 0 }
        return UInt64(readRegister(Int(offset)))
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard size == 4, offset & 0xF == 0, offset < UInt64(Reg.windowSize) else {
            badAccesses &+= 1
            return
        }
        guard isGloballyEnabled else { return }
        writeRegister(Int(offset), UInt32(truncatingIfNeeded: value))
    }

    /// The current-count register.
    public var timerCurrentCount: UInt32 {
        let initial = state.timerInitialCount
        guard initial != 0, timerMode != TimerMode.tscDeadline else { return 0 }
        let e = elapsedTicks(clock.now)
        if timerMode == TimerMode.periodic {
            return initial - UInt32(truncatingIfNeeded: e % UInt64(initial))
        }
        return e >= UInt64(initial) ? 0 : initial - UInt32(truncatingIfNeeded: e)
    }

    func readRegister(_ off: Int) -> UInt32 {
        switch off {
        case Reg.id: return UInt32(state.id) << 24
        case Reg.version: return Self.versionValue
        case Reg.tpr: return UInt32(state.tpr)
        case Reg.apr: return UInt32(apr)
        case Reg.ppr: return UInt32(ppr)
        case Reg.ldr: return state.ldr
        case Reg.dfr: return state.dfr
        case Reg.svr: return state.svr
        case Reg.isr..<(Reg.isr + 0x80): return state.isr.dword((off - Reg.isr) >> 4)
        case Reg.tmr..<(Reg.tmr + 0x80): return state.tmr.dword((off - Reg.tmr) >> 4)
        case Reg.irr..<(Reg.irr + 0x80): return state.irr.dword((off - Reg.irr) >> 4)
        case Reg.esr: return state.esr
        case Reg.lvtCMCI: return state.lvtCMCI
        case Reg.icrLow: return state.icrLow & ~ICR.deliveryStatus
        case Reg.icrHigh: return state.icrHigh
        case Reg.lvtTimer: return state.lvtTimer
        case Reg.lvtThermal: return state.lvtThermal
        case Reg.lvtPerf: return state.lvtPerf
        case Reg.lvtLINT0: return state.lvtLINT0
        case Reg.lvtLINT1: return state.lvtLINT1
        case Reg.lvtError: return state.lvtError
        case Reg.timerInitialCount: return state.timerInitialCount
        case Reg.timerCurrentCount: return timerCurrentCount
        case Reg.timerDivide: return state.timerDivide
        case Reg.eoi: return 0                                  // write-only
        default:
            reservedAccesses &+= 1
            return 0
        }
    }

    func writeRegister(_ off: Int, _ v: UInt32) {
        switch off {
        case Reg.id:
            state.id = UInt8(truncatingIfNeeded: v >> 24)
        case Reg.tpr:
            state.tpr = UInt8(truncatingIfNeeded: v)
            update()
        case Reg.eoi:
            endOfInterrupt()
        case Reg.ldr:
            state.ldr = v & 0xFF00_0000
        case Reg.dfr:
            state.dfr = v | Self.dfrFixedOnes
        case Reg.svr:
            state.svr = v & SVR.writable
            if v & SVR.enable == 0 {
                for which in LVT.allCases { setLVTRaw(which, lvt(which) | LVTBits.masked) }
            }
            update()
        case Reg.esr:
            state.esr = state.esrLog
            state.esrLog = 0
        case Reg.icrLow:
            state.icrLow = v & ICR.lowWritable
            sendIPI()
        case Reg.icrHigh:
            state.icrHigh = v & ICR.highWritable
        case Reg.lvtCMCI: writeLVT(.cmci, v)
        case Reg.lvtTimer: writeLVT(.timer, v)
        case Reg.lvtThermal: writeLVT(.thermal, v)
        case Reg.lvtPerf: writeLVT(.perf, v)
        case Reg.lvtLINT0: writeLVT(.lint0, v)
        case Reg.lvtLINT1: writeLVT(.lint1, v)
        case Reg.lvtError: writeLVT(.error, v)
        case Reg.timerInitialCount:
            guard timerMode != TimerMode.tscDeadline else { return }
            state.timerInitialCount = v
            state.timerStartNs = clock.now
            state.timerStartTicks = 0
            state.timerArmed = v != 0
            state.timerNextTick = UInt64(v)
            rearmTimer()
        case Reg.timerDivide:
            let now = clock.now
            let e = elapsedTicks(now)
            state.timerDivide = v & Self.divideWritable
            state.timerStartNs = now
            state.timerStartTicks = e
            rearmTimer()
        case Reg.version, Reg.apr, Reg.ppr, Reg.timerCurrentCount,
             Reg.isr..<(Reg.isr + 0x80), Reg.tmr..<(Reg.tmr + 0x80), Reg.irr..<(Reg.irr + 0x80):
            break                                               // read-only
        default:
            reservedAccesses &+= 1
        }
    }

    // MARK: LVT

    public func lvt(_ which: LVT) -> UInt32 {
        switch which {
        case .cmci: return state.lvtCMCI
        case .timer: return state.lvtTimer
        case .thermal: return state.lvtThermal
        case .perf: return state.lvtPerf
        case .lint0: return state.lvtLINT0
        case .lint1: return state.lvtLINT1
        case .error: return state.lvtError
        }
    }

    private func setLVTRaw(_ which: LVT, _ v: UInt32) {
        switch which {
        case .cmci: state.lvtCMCI = v
        case .timer: state.lvtTimer = v
        case .thermal: state.lvtThermal = v
        case .perf: state.lvtPerf = v
        case .lint0: state.lvtLINT0 = v
        case .lint1: state.lvtLINT1 = v
        case .error: state.lvtError = v
        }
    }

    static func writableMask(_ which: LVT) -> UInt32 {
        switch which {
        case .timer: return LVTBits.timerWritable
        case .lint0, .lint1: return LVTBits.lintWritable
        case .error: return LVTBits.errorWritable
        case .cmci, .thermal, .perf: return LVTBits.localWritable
        }
    }

    static func deliveryMode(_ e: UInt32) -> UInt8 {
        UInt8(truncatingIfNeeded: (e & LVTBits.deliveryModeMask) >> LVTBits.deliveryModeShift)
    }

    private func writeLVT(_ which: LVT, _ v: UInt32) {
        let old = lvt(which)
        var nv = v & Self.writableMask(which)
        if !isSoftwareEnabled { nv |= LVTBits.masked }
        if which == .lint0 || which == .lint1 {
            // Remote IRR is read-only; an edge-triggered entry has none.
            if nv & LVTBits.levelTriggered != 0 { nv |= old & LVTBits.remoteIRR }
        }
        setLVTRaw(which, nv)
        switch which {
        case .timer:
            if (old ^ nv) & LVTBits.timerModeMask != 0 {
                // A mode change disarms the timer (SDM 10.5.4.1).
                state.timerInitialCount = 0
                state.timerArmed = false
                state.tscDeadline = 0
            }
            rearmTimer()
        case .lint0, .lint1:
            // A level-triggered input still asserted is delivered once unmasked.
            let high = which == .lint0 ? state.lint0Level : state.lint1Level
            if high && nv & LVTBits.masked == 0 && Self.deliveryMode(nv) == DeliveryMode.fixed
                && nv & LVTBits.levelTriggered != 0 {
                serviceLevelLINT(which)
            }
        default:
            break
        }
        update()
    }

    /// Level-triggered fixed LINT input asserted: deliver unless remote IRR is set.
    private func serviceLevelLINT(_ which: LVT) {
        let e = lvt(which)
        guard e & LVTBits.remoteIRR == 0 else { return }
        setLVTRaw(which, e | LVTBits.remoteIRR)
        accept(UInt8(truncatingIfNeeded: e), level: true)
    }

    // MARK: acceptance, EOI, priorities

    /// Accepts a fixed interrupt into IRR (vectors 0-15 are illegal: ESR, dropped).
    private func accept(_ vector: UInt8, level: Bool) {
        guard vector >= 16 else {
            logError(ESR.receiveIllegalVector)
            return
        }
        state.irr.insert(vector)
        if level { state.tmr.insert(vector) } else { state.tmr.remove(vector) }
    }

    private var signallingError = false

    /// Logs an error in the ESR and signals the error LVT (not recursively).
    private func logError(_ bits: UInt32) {
        state.esrLog |= bits
        guard !signallingError else { return }
        signallingError = true
        let e = state.lvtError
        if e & LVTBits.masked == 0 { accept(UInt8(truncatingIfNeeded: e), level: false) }
        signallingError = false
    }

    private func endOfInterrupt() {
        guard let v = state.isr.highest else { return }
        state.isr.remove(v)
        if state.tmr.contains(v) {
            levelEOI(.lint0, v)
            levelEOI(.lint1, v)
            update()
            onLevelEOI?(v)
        }
        update()
    }

    /// EOI of level-triggered `vector`: clears the LINT entry's remote IRR and delivers again
    /// if its input is still asserted.
    private func levelEOI(_ which: LVT, _ vector: UInt8) {
        let e = lvt(which)
        guard e & LVTBits.remoteIRR != 0, UInt8(truncatingIfNeeded: e) == vector else { return }
        setLVTRaw(which, e & ~LVTBits.remoteIRR)
        let high = which == .lint0 ? state.lint0Level : state.lint1Level
        if high && e & LVTBits.masked == 0 && Self.deliveryMode(e) == DeliveryMode.fixed
            && e & LVTBits.levelTriggered != 0 {
            serviceLevelLINT(which)
        }
    }

    private func lintExtINT(_ e: UInt32, _ level: Bool) -> Bool {
        level && e & LVTBits.masked == 0 && Self.deliveryMode(e) == DeliveryMode.extINT
    }

    /// An ExtINT request (IOAPIC message or a LINT pin in ExtINT mode) is pending.
    private var extINTRequested: Bool {
        state.extINTPending || lintExtINT(state.lvtLINT0, state.lint0Level)
            || lintExtINT(state.lvtLINT1, state.lint1Level)
    }

    private func update() {
        let level: Bool
        if !isGloballyEnabled {
            level = state.lint0Level
        } else {
            level = deliverableVector != nil || extINTRequested
        }
        state.outputLevel = level
        output?(level)
    }

    /// Power-up register state (id, apicBase and input levels kept; timer stopped).
    private func powerUp() {
        var s = State(id: state.id, bsp: isBSP)
        s.apicBase = state.apicBase
        s.lint0Level = state.lint0Level
        s.lint1Level = state.lint1Level
        s.timerStartNs = clock.now
        state = s
        timer.cancel(clock)
    }

    // MARK: IPIs

    private func sendIPI() {
        let low = state.icrLow
        let mode = UInt8(truncatingIfNeeded: (low >> LVTBits.deliveryModeShift) & 7)
        let vector = UInt8(truncatingIfNeeded: low & ICR.vectorMask)
        if (mode == DeliveryMode.fixed || mode == DeliveryMode.lowestPriority) && vector < 16 {
            logError(ESR.sendIllegalVector)
            update()
            return
        }
        let dest = UInt8(truncatingIfNeeded: state.icrHigh >> 24)
        let logical = low & ICR.logical != 0
        let toSelf: Bool
        switch (low >> ICR.shorthandShift) & 3 {
        case ICR.toSelf:
            toSelf = true
        case ICR.allIncludingSelf:
            toSelf = true
            ignoredIPIs &+= 1
        case ICR.allExcludingSelf:
            toSelf = false
            ignoredIPIs &+= 1
        default:
            toSelf = matchesDestination(dest, logical: logical)
            if !toSelf || dest == 0xFF { ignoredIPIs &+= 1 }
        }
        guard toSelf else { return }
        let assert = mode == DeliveryMode.initialize ? low & ICR.levelAssert != 0 : true
        deliver(vector: vector, deliveryMode: mode, level: assert, triggerLevel: low & ICR.levelTriggered != 0)
    }

    // MARK: timer

    /// LVT timer mode bits (0 one-shot, 1 periodic, 2 TSC deadline, 3 reserved).
    public var timerMode: UInt32 { (state.lvtTimer & LVTBits.timerModeMask) >> LVTBits.timerModeShift }

    /// log2 of the divider selected by the divide configuration register.
    static func divideShift(_ dcr: UInt32) -> UInt64 {
        let v = (dcr & 3) | ((dcr >> 1) & 4)
        return UInt64((v + 1) & 7)
    }

    private func elapsedTicks(_ now: UInt64) -> UInt64 {
        let d = now >= state.timerStartNs ? now - state.timerStartNs : 0
        return state.timerStartTicks &+ (d >> Self.divideShift(state.timerDivide))
    }

    /// Re-schedules the clock event from the state.
    private func rearmTimer() {
        guard isGloballyEnabled else { timer.cancel(clock); return }
        if timerMode == TimerMode.tscDeadline {
            guard state.tscDeadline != 0 else { timer.cancel(clock); return }
            let now = clock.now
            let tsc = tscNow()
            var when = now
            if state.tscDeadline > tsc {
                let freq = tscFrequencyHz == 0 ? 1_000_000_000 : tscFrequencyHz
                let p = (state.tscDeadline - tsc).multipliedFullWidth(by: 1_000_000_000)
                if p.high >= freq {
                    when = .max
                } else {
                    let (q, r) = freq.dividingFullWidth((p.high, p.low))
                    let ns = r == 0 ? q : q &+ 1
                    when = now &+ ns < now ? .max : now &+ ns
                }
            }
            timer.arm(clock, at: when) { [weak self] _ in self?.timerFired() }
            return
        }
        guard state.timerArmed, state.timerInitialCount != 0 else { timer.cancel(clock); return }
        let shift = Self.divideShift(state.timerDivide)
        var when = state.timerStartNs
        if state.timerNextTick > state.timerStartTicks {
            let ticks = state.timerNextTick - state.timerStartTicks
            if ticks > UInt64.max >> shift {
                when = .max
            } else {
                let ns = ticks << shift
                when = when &+ ns < when ? .max : when &+ ns
            }
        }
        timer.arm(clock, at: when) { [weak self] _ in self?.timerFired() }
    }

    private func fireTSCDeadline() {
        state.tscDeadline = 0
        signalLocal(.timer)
    }

    private func timerFired() {
        guard isGloballyEnabled else { return }
        if timerMode == TimerMode.tscDeadline {
            guard state.tscDeadline != 0 else { return }
            fireTSCDeadline()
            return
        }
        guard state.timerArmed, state.timerInitialCount != 0 else { return }
        if timerMode == TimerMode.periodic {
            let initial = UInt64(state.timerInitialCount)
            let e = max(elapsedTicks(clock.now), state.timerNextTick)
            state.timerNextTick = (e / initial &+ 1) &* initial
            rearmTimer()
        } else {
            state.timerArmed = false
        }
        signalLocal(.timer)
    }
}
