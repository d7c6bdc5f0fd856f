import CPU

/// National Semiconductor 16550A UART (PC16550D datasheet), at offsets 0-7 from its base port
/// (0x3F8 for COM1), as SeaBIOS and Linux's 8250 driver see it (QEMU's hw/char/serial.c
/// describes the same behaviour).
///
/// Registers (offset: read / write; DLAB = LCR bit 7):
///
///     0: RBR (pops the RX FIFO) / THR          DLAB=1: DLL (divisor low)
///     1: IER (bits 0-3)                        DLAB=1: DLM (divisor high)
///     2: IIR / FCR                             (not affected by DLAB)
///     3: LCR    4: MCR    5: LSR    6: MSR    7: SCR
///
/// Model choices (there is no line timing):
/// - Transmit is instantaneous: a THR write goes to `output` at once (in loopback to the
///   receiver instead), so THR and the shift register are always empty again (LSR THRE and TEMT
///   are always set). Writing THR clears the THRE interrupt and the completed transmission
///   raises it again at once; the `irq` line is dropped and raised in between, as the real chip
///   does one character time later, so an edge-triggered PIC sees a new edge.
/// - THRE interrupt: also raised when IER.ETBEI goes 0 → 1 while THR is empty (the probe Linux
///   uses in `serial8250_do_startup`); cleared by reading IIR while it is the reported source,
///   by writing THR, or by clearing ETBEI.
/// - Receive: a 16-byte FIFO with FIFOs on (FCR bit 0), a 1-byte holding register with FIFOs
///   off (16450 mode). A byte arriving when it is full sets LSR.OE: with FIFOs on the new byte is
///   lost (the FIFO is kept), in 16450 mode it overwrites the holding register.
/// - Character timeout: the "received data available" interrupt (IIR 0x4) is reported when the
///   FIFO holds at least the FCR trigger level (1/4/8/14). Below the level, as soon as the FIFO
///   is non-empty the character-timeout interrupt (IIR 0xC) is reported: the datasheet's
///   4-character timeout is treated as already elapsed. Both are cleared by reading RBR until the
///   condition no longer holds. With FIFOs off the level is 1, so only IIR 0x4 occurs.
/// - IIR priority: receiver line status (OE; PE/FE/BI are never set) > data available /
///   timeout > THRE > modem status. IIR bits 6-7 are set while FIFOs are enabled.
/// - FCR: bits other than the enable bit are only taken when the enable bit is written as 1
///   (datasheet); changing the enable bit clears both FIFOs. The TX FIFO is always empty, so
///   clearing it changes nothing.
/// - MCR: DTR, RTS, OUT1, OUT2, loop. Outside loopback the modem inputs read CTS, DSR and DCD
///   asserted and RI clear; in loopback they follow MCR (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD),
///   bytes from the host line are refused (`canReceive` false, `receive` drops: SIN is
///   disconnected) and nothing goes to `output`. Changes of the inputs set the MSR delta bits
///   (DCTS, DDSR, DDCD on any change, TERI when RI goes 1 → 0); reading MSR clears them.
/// - The interrupt line to the PIC is the chip's INTR gated by MCR.OUT2, as on the PC. In
///   loopback the OUT2 pin is forced inactive (datasheet), so the line is low there: interrupts
///   are still visible in IIR but do not reach the PIC.
/// - Accesses of sizes other than 1 act on the low byte; reads return one byte. LSR and MSR
///   writes (factory test) are ignored.
public final class UART16550: IODevice {
    // MARK: Datasheet constants

    /// Register offsets from the base port.
    enum Reg {
        static let rbrThr = 0, ier = 1, iirFcr = 2, lcr = 3, mcr = 4, lsr = 5, msr = 6, scr = 7
    }
    /// Interrupt enable register.
    public enum IER {
        public static let rda: UInt8 = 0x01      // ERBFI: received data available (and timeout)
        public static let thre: UInt8 = 0x02     // ETBEI: transmitter holding register empty
        public static let rls: UInt8 = 0x04      // ELSI: receiver line status
        public static let msi: UInt8 = 0x08      // EDSSI: modem status
        public static let mask: UInt8 = 0x0F     // bits 4-7 read as 0
    }
    /// Interrupt identification register.
    public enum IIR {
        public static let noInterrupt: UInt8 = 0x01
        public static let modemStatus: UInt8 = 0x00
        public static let thrEmpty: UInt8 = 0x02
        public static let dataAvailable: UInt8 = 0x04
        public static let lineStatus: UInt8 = 0x06
        public static let charTimeout: UInt8 = 0x0C
        public static let fifosEnabled: UInt8 = 0xC0
    }
    /// FIFO control register (write-only, shares offset 2 with IIR).
    public enum FCR {
        public static let enable: UInt8 = 0x01
        public static let clearRx: UInt8 = 0x02
        public static let clearTx: UInt8 = 0x04
        public static let dmaMode: UInt8 = 0x08
        public static let triggerMask: UInt8 = 0xC0
        /// The bits kept in `State.fcr` (the clear bits are self-clearing).
        static let stored: UInt8 = enable | dmaMode | triggerMask
    }
    /// Line control register.
    public enum LCR { public static let dlab: UInt8 = 0x80 }
    /// Modem control register.
    public enum MCR {
        public static let dtr: UInt8 = 0x01, rts: UInt8 = 0x02, out1: UInt8 = 0x04, out2: UInt8 = 0x08
        public static let loop: UInt8 = 0x10
        public static let mask: UInt8 = 0x1F
    }
    /// Line status register.
    public enum LSR {
        public static let dataReady: UInt8 = 0x01
        public static let overrun: UInt8 = 0x02
        public static let parity: UInt8 = 0x04, framing: UInt8 = 0x08, breakInterrupt: UInt8 = 0x10
        public static let thrEmpty: UInt8 = 0x20
        public static let idle: UInt8 = 0x40           // TEMT: THR and shift register empty
        public static let rxFIFOError: UInt8 = 0x80
    }
    /// Modem status register.
    public enum MSR {
        public static let dcts: UInt8 = 0x01, ddsr: UInt8 = 0x02, teri: UInt8 = 0x04, ddcd: UInt8 = 0x08
        public static let cts: UInt8 = 0x10, dsr: UInt8 = 0x20, ri: UInt8 = 0x40, dcd: UInt8 = 0x80
        public static let deltas: UInt8 = 0x0F
        public static let lines: UInt8 = 0xF0
        /// The inputs outside loopback: a connected terminal with CTS, DSR and DCD asserted.
        public static let idleLines: UInt8 = cts | dsr | dcd
    }
    public static let fifoSize = 16

    // MARK: State

    public struct State: Sendable, Equatable {
        /// Divisor latch DLM:DLL. The power-on value is undefined; 12 (9600 baud) as QEMU.
        public var divisor: UInt16 = 12
        public var ier: UInt8 = 0
        /// FCR as programmed: enable, DMA mode and trigger bits (`FCR.stored`).
        public var fcr: UInt8 = 0
        public var lcr: UInt8 = 0
        public var mcr: UInt8 = 0
        public var scr: UInt8 = 0
        /// Received bytes, oldest first: at most 16 with FIFOs on, 1 with FIFOs off.
        public var rx: [UInt8] = []
        /// LSR.OE, latched until LSR is read.
        public var overrun = false
        /// The THRE interrupt condition (before IER.ETBEI masks it).
        public var thrInterruptPending = false
        /// MSR: input lines in bits 4-7, delta bits in 0-3.
        public var msr: UInt8 = MSR.idleLines
        public init() {}
    }

    private var s = State()
    /// All registers. Setting it (snapshot restore) accepts any value: out-of-range fields are
    /// clipped to what the chip can hold, and the interrupt line is updated.
    public var state: State {
        get { s }
        set {
            s = UART16550.sanitized(newValue)
            updateIRQ()
        }
    }

    // MARK: Connections

    public var output: (UInt8) -> Void
    /// The interrupt line to the PIC/IOAPIC: called with the new level whenever it may change.
    public var irq: ((Bool) -> Void)?

    public init(output: @escaping (UInt8) -> Void) { self.output = output }

    /// Power-on / master reset: all registers to their reset values, the FIFO empty, line low.
    public func reset() {
        s = State()
        updateIRQ()
    }

    // MARK: Derived state

    var fifoEnabled: Bool { s.fcr & FCR.enable != 0 }
    var loopback: Bool { s.mcr & MCR.loop != 0 }
    var dlab: Bool { s.lcr & LCR.dlab != 0 }
    static func capacity(fcr: UInt8) -> Int { fcr & FCR.enable != 0 ? fifoSize : 1 }
    var capacity: Int { UART16550.capacity(fcr: s.fcr) }
    /// The RX FIFO level at which "received data available" is reported (1 with FIFOs off).
    var triggerLevel: Int {
        guard fifoEnabled else { return 1 }
        switch s.fcr >> 6 {
        case 0: return 1
        case 1: return 4
        case 2: return 8
        default: return 14
        }
    }

    /// The receiver has room for another byte from the host line (back-pressure for a console:
    /// hold the byte instead of overrunning). False in loopback, where the line is disconnected.
    public var canReceive: Bool { !loopback && s.rx.count < capacity }

    // MARK: Host side

    /// A byte arrives on the serial line. With the receiver full it is an overrun (LSR.OE);
    /// in loopback the line is disconnected and the byte is dropped.
    public func receive(_ b: UInt8) {
        guard !loopback else { return }
        receiverInput(b)
    }

    /// A byte completes in the receiver shift register (from the line or the loopback).
    private func receiverInput(_ b: UInt8) {
        if s.rx.count < capacity {
            s.rx.append(b)
        } else {
            s.overrun = true
            // 16450 mode: the new character overwrites the holding register. FIFO mode: the
            // shift register is overwritten and the FIFO kept, so the byte is lost.
            if !fifoEnabled, !s.rx.isEmpty { s.rx[s.rx.count - 1] = b }
        }
        updateIRQ()
    }

    // MARK: Interrupts

    /// The highest-priority pending interrupt as IIR bits 0-3 (`IIR.noInterrupt` when none).
    var interruptID: UInt8 {
        if s.ier & IER.rls != 0 && s.overrun { return IIR.lineStatus }
        if s.ier & IER.rda != 0 && !s.rx.isEmpty {
            return s.rx.count >= triggerLevel ? IIR.dataAvailable : IIR.charTimeout
        }
        if s.ier & IER.thre != 0 && s.thrInterruptPending { return IIR.thrEmpty }
        if s.ier & IER.msi != 0 && s.msr & MSR.deltas != 0 { return IIR.modemStatus }
        return IIR.noInterrupt
    }

    /// The chip's INTR pin, gated as the PC does: OUT2 enables the IRQ driver, and in loopback
    /// the OUT2 pin is forced inactive.
    public var interruptLine: Bool {
        interruptID & IIR.noInterrupt == 0 && s.mcr & MCR.out2 != 0 && !loopback
    }

    func updateIRQ() {
        let level = interruptLine
        irq?(level)
    }

    // MARK: Port access

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        UInt64(readRegister(Int(offset & 7)))
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        writeRegister(Int(offset & 7), UInt8(truncatingIfNeeded: value))
    }

    private func readRegister(_ reg: Int) -> UInt8 {
        switch reg {
        case Reg.rbrThr:
            if dlab { return UInt8(truncatingIfNeeded: s.divisor) }
            guard !s.rx.isEmpty else { return 0 }
            let v = s.rx.removeFirst()
            updateIRQ()
            return v
        case Reg.ier:
            return dlab ? UInt8(truncatingIfNeeded: s.divisor >> 8) : s.ier
        case Reg.iirFcr:
            let id = interruptID
            if id == IIR.thrEmpty {
                s.thrInterruptPending = false
                updateIRQ()
            }
            return id | (fifoEnabled ? IIR.fifosEnabled : 0)
        case Reg.lcr:
            return s.lcr
        case Reg.mcr:
            return s.mcr
        case Reg.lsr:
            var v = LSR.thrEmpty | LSR.idle
            if !s.rx.isEmpty { v |= LSR.dataReady }
            if s.overrun {
                v |= LSR.overrun
                s.overrun = false
                updateIRQ()
            }
            return v
        case Reg.msr:
            let v = s.msr
            if v & MSR.deltas != 0 {
                s.msr &= MSR.lines
                updateIRQ()
            }
            return v
        default:
            return s.scr
        }
    }

    private func writeRegister(_ reg: Int, _ v: UInt8) {
        switch reg {
        case Reg.rbrThr:
            if dlab {
                s.divisor = (s.divisor & 0xFF00) | UInt16(v)
            } else {
                transmit(v)
            }
        case Reg.ier:
            if dlab {
                s.divisor = (s.divisor & 0x00FF) | UInt16(v) << 8
            } else {
                let old = s.ier
                s.ier = v & IER.mask
                if (old ^ s.ier) & IER.thre != 0 {
                    // THR is always empty: enabling ETBEI raises THRE, disabling drops it.
                    s.thrInterruptPending = s.ier & IER.thre != 0
                }
                updateIRQ()
            }
        case Reg.iirFcr:
            writeFCR(v)
        case Reg.lcr:
            s.lcr = v
        case Reg.mcr:
            s.mcr = v & MCR.mask
            updateModemInputs()
            updateIRQ()
        case Reg.scr:
            s.scr = v
        default:
            break                       // LSR, MSR: factory-test writes, ignored
        }
    }

    private func transmit(_ b: UInt8) {
        // Writing THR clears the THRE interrupt; the byte leaves at once and THR is empty again.
        s.thrInterruptPending = false
        updateIRQ()
        if loopback { receiverInput(b) } else { output(b) }
        s.thrInterruptPending = true
        updateIRQ()
    }

    private func writeFCR(_ v: UInt8) {
        let enable = v & FCR.enable != 0
        // Changing the FIFO mode clears both FIFOs; the other bits need FCR0 = 1 to be written.
        let clearRx = enable != fifoEnabled || (enable && v & FCR.clearRx != 0)
        s.fcr = enable ? v & FCR.stored : 0
        if clearRx { s.rx.removeAll() }
        updateIRQ()
    }

    /// The modem inputs as the chip sees them (bits 4-7 of MSR).
    static func modemLines(mcr: UInt8) -> UInt8 {
        guard mcr & MCR.loop != 0 else { return MSR.idleLines }
        var l: UInt8 = 0
        if mcr & MCR.rts != 0 { l |= MSR.cts }
        if mcr & MCR.dtr != 0 { l |= MSR.dsr }
        if mcr & MCR.out1 != 0 { l |= MSR.ri }
        if mcr & MCR.out2 != 0 { l |= MSR.dcd }
        return l
    }

    /// Recomputes CTS/DSR/RI/DCD after an MCR write and latches their delta bits.
    private func updateModemInputs() {
        let new = UART16550.modemLines(mcr: s.mcr)
        let old = s.msr & MSR.lines
        let changed = old ^ new
        var delta = s.msr & MSR.deltas
        if changed & MSR.cts != 0 { delta |= MSR.dcts }
        if changed & MSR.dsr != 0 { delta |= MSR.ddsr }
        if old & MSR.ri != 0 && new & MSR.ri == 0 { delta |= MSR.teri }    // trailing edge of RI
        if changed & MSR.dcd != 0 { delta |= MSR.ddcd }
        s.msr = new | delta
    }

    /// A restored state clipped to what the registers can hold.
    static func sanitized(_ x: State) -> State {
        var r = x
        r.ier &= IER.mask
        r.fcr = r.fcr & FCR.enable != 0 ? r.fcr & FCR.stored : 0
        r.mcr &= MCR.mask
        let cap = capacity(fcr: r.fcr)
        if r.rx.count > cap { r.rx = Array(r.rx.prefix(cap)) }
        r.msr = modemLines(mcr: r.mcr) | (r.msr & MSR.deltas)
        return r
    }
}
