import CPU

/// System control port A (port 0x92, "fast A20 and init", PS/2 and PIIX/ICH chipsets).
///
/// Register at offset 0 (the machine registers base 0x92, count 1):
/// - bit 0: fast reset. Writing 1 while it reads 0 pulses the CPU's INIT/reset line; the bit
///   reads back as written.
/// - bit 1: A20 gate (1 = address line 20 enabled). Every write drives the A20 line with this
///   bit, as QEMU's port92 does: the keyboard controller's A20 output and this bit share one
///   line, last writer wins.
/// - bits 2..7: read back as written (bit 3 is the CMOS password lock, bits 6/7 drive the HDD
///   LED on some boards; nothing acts on them here).
public final class SystemControlPort: IODevice {
    enum Bit { static let fastReset: UInt8 = 0x01, a20: UInt8 = 0x02 }

    public struct State: Sendable, Equatable {
        public var value: UInt8 = 0
        public init() {}
    }
    public var state = State()

    /// The guest set or cleared the A20 gate bit (called on every write).
    public var a20Changed: ((Bool) -> Void)?
    /// The guest requested a fast reset (bit 0 went 0 → 1).
    public var resetRequested: (() -> Void)?

    public init() {}

    /// Machine reset: the reset bit clears; the A20 bit keeps its value (QEMU behaviour).
    public func reset() { state.value &= ~Bit.fastReset }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        guard offset == 0 else { return size >= 8 ? ~0 : (1 << (8 * UInt64(size))) - 1 }
        return UInt64(state.value)
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard offset == 0 else { return }
        let v = UInt8(truncatingIfNeeded: value)
        let old = state.value
        state.value = v
        a20Changed?(v & Bit.a20 != 0)
        if v & Bit.fastReset != 0 && old & Bit.fastReset == 0 { resetRequested?() }
    }
}
