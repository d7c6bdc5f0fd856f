import CPU

/// 16550A UART (offsets from the base port, e.g. 0x3F8 for COM1), as the datasheet and Linux's
/// 8250 driver see it.
///
/// - Transmit is instantaneous: a THR write goes to `output` at once (or, in loopback, to the
///   receiver), so THR/TSR are always empty again right after; the THRE interrupt is raised
///   then, and also when IER.ETBEI goes 0 → 1 with THR empty (the probe Linux relies on). It is
///   cleared by reading IIR while it is the reported source, or by writing THR.
/// - Receive: a 16-byte FIFO (1 byte with FIFOs off, as a 16450). The data-available
///   interrupt fires when the FIFO reaches the FCR trigger level (1/4/8/14); below the level a
///   character-timeout interrupt (IIR 0xC) is reported as soon as data waits — there is no
///   line timing, so the 4-character timeout counts as already elapsed.
/// - IIR priority: receiver line status (overrun) > data available / timeout > THRE > modem status.
/// - MCR: DTR, RTS, OUT1, OUT2, loop. In loopback the modem inputs follow MCR (DTR→DSR,
///   RTS→CTS, OUT1→RI, OUT2→DCD); otherwise CTS, DSR and DCD are asserted. MSR delta bits and the
///   modem-status interrupt follow changes; reading MSR clears the deltas.
/// - The interrupt output to the PIC is gated by MCR.OUT2, as on the PC.
/// Accesses of other sizes act on the low byte.
public final class UART16550: IODevice {
    enum Reg { static let rbrThr = 0, ier = 1, iirFcr = 2, lcr = 3, mcr = 4, lsr = 5, msr = 6, scr = 7 }
    public enum LSR {
        public static let dataReady: UInt8 = 0x01, overrun: UInt8 = 0x02, thrEmpty: UInt8 = 0x20, idle: UInt8 = 0x40
    }
    public enum IER { public static let rda: UInt8 = 1, thre: UInt8 = 2, rls: UInt8 = 4, msi: UInt8 = 8 }
    public enum MCR { public static let dtr: UInt8 = 1, rts: UInt8 = 2, out1: UInt8 = 4, out2: UInt8 = 8, loop: UInt8 = 0x10 }
    public static let fifoSize = 16

    public struct State: Sendable, Equatable {
        public var ier: UInt8 = 0
        public var lcr: UInt8 = 0
        public var mcr: UInt8 = 0
        public var scr: UInt8 = 0
        public var fcr: UInt8 = 0
        public var divisor: UInt16 = 12
        public var rx: [UInt8] = []
        public var overrun = false
        public var thrInterruptPending = false
        public var msr: UInt8 = 0xB0          // CTS, DSR, DCD
        public init() {}
    }
    public private(set) var state = State()
    public var output: (UInt8) -> Void
    /// The interrupt line to the PIC/IOAPIC (level; called whenever it may have changed).
    public var irq: ((Bool) -> Void)?

    public init(output: @escaping (UInt8) -> Void) { self.output = output }

    public func reset() {
        state = State()
        updateIRQ()
    }

    var fifoEnabled: Bool { state.fcr & 1 != 0 }
    var capacity: Int { fifoEnabled ? UART16550.fifoSize : 1 }
    var triggerLevel: Int { fifoEnabled ? [1, 4, 8, 14][Int(state.fcr >> 6)] : 1 }
    var dlab: Bool { state.lcr & 0x80 != 0 }

    /// The receiver has room for another byte (host-side back-pressure).
    public var canReceive: Bool { state.rx.count < capacity }

    /// Host side: a byte arrives on the line (lost with an overrun when the FIFO is full).
    public func receive(_ b: UInt8) {
        if state.rx.count >= capacity { state.overrun = true } else { state.rx.append(b) }
        updateIRQ()
    }

    /// The highest-priority pending interrupt as IIR bits 0-3 (1 = none).
    var interruptID: UInt8 {
        if state.ier & IER.rls != 0 && state.overrun { return 0x06 }
        if state.ier & IER.rda != 0 && !state.rx.isEmpty {
            return state.rx.count >= triggerLevel ? 0x04 : 0x0C
        }
        if state.ier & IER.thre != 0 && state.thrInterruptPending { return 0x02 }
        if state.ier & IER.msi != 0 && state.msr & 0x0F != 0 { return 0x00 }
        return 0x01
    }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        switch Int(offset & 7) {
        case Reg.rbrThr:
            if dlab { return UInt64(state.divisor & 0xFF) }
            let v = state.rx.isEmpty ? 0 : state.rx.removeFirst()
            updateIRQ()
            return UInt64(v)
        case Reg.ier: return dlab ? UInt64(state.divisor >> 8) : UInt64(state.ier)
        case Reg.iirFcr:
            let id = interruptID
            if id == 0x02 {
                state.thrInterruptPending = false
                updateIRQ()
            }
            return UInt64((fifoEnabled ? 0xC0 : 0) | id)
        case Reg.lcr: return UInt64(state.lcr)
        case Reg.mcr: return UInt64(state.mcr)
        case Reg.lsr:
            var v = LSR.thrEmpty | LSR.idle
            if !state.rx.isEmpty { v |= LSR.dataReady }
            if state.overrun { v |= LSR.overrun; state.overrun = false; updateIRQ() }
            return UInt64(v)
        case Reg.msr:
            let v = state.msr
            state.msr &= 0xF0
            updateIRQ()
            return UInt64(v)
        default: return UInt64(state.scr)
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        let v = UInt8(truncatingIfNeeded: value)
        switch Int(offset & 7) {
        case Reg.rbrThr:
            if dlab { state.divisor = (state.divisor & 0xFF00) | UInt16(v); return }
            if state.mcr & MCR.loop != 0 { receive(v) } else { output(v) }
            state.thrInterruptPending = true
            updateIRQ()
        case Reg.ier:
            if dlab { state.divisor = (state.divisor & 0x00FF) | UInt16(v) << 8; return }
            let old = state.ier
            state.ier = v & 0x0F
            if old & IER.thre == 0 && v & IER.thre != 0 { state.thrInterruptPending = true }
            updateIRQ()
        case Reg.iirFcr:
            let wasOn = fifoEnabled
            state.fcr = v & 0xC9
            if v & 2 != 0 || wasOn != fifoEnabled { state.rx.removeAll() }
            updateIRQ()
        case Reg.lcr: state.lcr = v
        case Reg.mcr:
            state.mcr = v & 0x1F
            updateModemInputs()
            updateIRQ()
        case Reg.scr: state.scr = v
        default: break
        }
    }

    /// Recomputes CTS/DSR/RI/DCD and their delta bits.
    private func updateModemInputs() {
        let m = state.mcr
        let lines: UInt8 = m & MCR.loop != 0
            ? ((m & MCR.rts != 0 ? 0x10 : 0) | (m & MCR.dtr != 0 ? 0x20 : 0) | (m & MCR.out1 != 0 ? 0x40 : 0) | (m & MCR.out2 != 0 ? 0x80 : 0))
            : 0xB0
        let old = state.msr & 0xF0
        var delta = state.msr & 0x0F
        if (old ^ lines) & 0x10 != 0 { delta |= 0x01 }
        if (old ^ lines) & 0x20 != 0 { delta |= 0x02 }
        if old & 0x40 != 0 && lines & 0x40 == 0 { delta |= 0x04 }     // trailing edge of RI
        if (old ^ lines) & 0x80 != 0 { delta |= 0x08 }
        state.msr = lines | delta
    }

    func updateIRQ() {
        let pending = interruptID & 1 == 0
        // OUT2 gates the PC's interrupt line (in loopback the line is disconnected).
        irq?(pending && state.mcr & MCR.out2 != 0 && state.mcr & MCR.loop == 0)
    }
}
