import CPU

/// QEMU-compatible isa-debug-exit: a write of v ends the machine with status (v << 1) | 1.
public final class DebugExit: IODevice {
    public struct State: Sendable, Equatable { public var exitValue: UInt32? = nil }
    public private(set) var state = State()
    /// Invoked when the guest writes the port.
    public var onExit: ((Int32) -> Void)?

    public init() {}

    public func ioRead(offset: UInt64, size: Int) -> UInt64 { size == 4 ? 0xFFFF_FFFF : (1 << (8 * UInt64(size))) - 1 }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        let v = UInt32(truncatingIfNeeded: value)
        state.exitValue = v
        onExit?(Int32(truncatingIfNeeded: (UInt64(v) << 1) | 1))
    }
}
