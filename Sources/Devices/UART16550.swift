import CPU

/// 16550A UART register model (offsets from the base port, e.g. 0x3F8 for COM1).
/// Transmit goes straight to `output`; received bytes queue in a 16-byte FIFO.
public final class UART16550: IODevice {
    // Register offsets (DLAB selects the divisor latch at 0/1).
    enum Reg { static let rbrThr = 0, ier = 1, iirFcr = 2, lcr = 3, mcr = 4, lsr = 5, msr = 6, scr = 7 }
    // Line status bits.
    enum LSR { static let dataReady: UInt8 = 0x01, overrun: UInt8 = 0x02, thrEmpty: UInt8 = 0x20, idle: UInt8 = 0x40 }

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
    }
    public private(set) var state = State()
    public var output: (UInt8) -> Void
    /// Raised/lowered interrupt line (connected to the PIC by the machine).
    public var irq: ((Bool) -> Void)?

    public init(output: @escaping (UInt8) -> Void) { self.output = output }

    /// Host side: a byte arrives on the line.
    public func receive(_ b: UInt8) {
        if state.rx.count >= 16 { state.overrun = true; return }
        state.rx.append(b)
        updateIRQ()
    }

    var dlab: Bool { state.lcr & 0x80 != 0 }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        switch Int(offset) {
        case Reg.rbrThr:
            if dlab { return UInt64(state.divisor & 0xFF) }
            let v = state.rx.isEmpty ? 0 : state.rx.removeFirst()
            updateIRQ()
            return UInt64(v)
        case Reg.ier: return dlab ? UInt64(state.divisor >> 8) : UInt64(state.ier)
        case Reg.iirFcr:
            let fifo: UInt8 = state.fcr & 1 != 0 ? 0xC0 : 0
            if state.ier & 1 != 0 && !state.rx.isEmpty { return UInt64(fifo | 0x04) }
            if state.ier & 2 != 0 && state.thrInterruptPending {
                state.thrInterruptPending = false
                updateIRQ()
                return UInt64(fifo | 0x02)
            }
            return UInt64(fifo | 0x01)
        case Reg.lcr: return UInt64(state.lcr)
        case Reg.mcr: return UInt64(state.mcr)
        case Reg.lsr:
            var v = LSR.thrEmpty | LSR.idle
            if !state.rx.isEmpty { v |= LSR.dataReady }
            if state.overrun { v |= LSR.overrun; state.overrun = false }
            return UInt64(v)
        case Reg.msr:
            // Loopback reflects MCR; otherwise report CTS/DSR/DCD asserted.
            if state.mcr & 0x10 != 0 { return UInt64((state.mcr & 0x0F) << 4) }
            return 0xB0
        default: return UInt64(state.scr)
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        let v = UInt8(truncatingIfNeeded: value)
        switch Int(offset) {
        case Reg.rbrThr:
            if dlab { state.divisor = (state.divisor & 0xFF00) | UInt16(v); return }
            if state.mcr & 0x10 != 0 { receive(v) } else { output(v) }
            state.thrInterruptPending = true
            updateIRQ()
        case Reg.ier:
            if dlab { state.divisor = (state.divisor & 0x00FF) | UInt16(v) << 8; return }
            state.ier = v & 0x0F
            if state.ier & 2 != 0 { state.thrInterruptPending = true }
            updateIRQ()
        case Reg.iirFcr:
            state.fcr = v & 0xC9
            if v & 2 != 0 { state.rx.removeAll() }
        case Reg.lcr: state.lcr = v
        case Reg.mcr: state.mcr = v & 0x1F
        case Reg.scr: state.scr = v
        default: break
        }
    }

    func updateIRQ() {
        let on = (state.ier & 1 != 0 && !state.rx.isEmpty) || (state.ier & 2 != 0 && state.thrInterruptPending)
        irq?(on)
    }
}
