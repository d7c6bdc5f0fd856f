import CPU

/// Bochs/QEMU debug console port (0xE9 / 0x402): bytes written go to a sink; reads return 0xE9.
public final class DebugConsole: IODevice {
    public var sink: (UInt8) -> Void
    public init(sink: @escaping (UInt8) -> Void) { self.sink = sink }
    public func ioRead(offset: UInt64, size: Int) -> UInt64 { 0xE9 }
    public func ioWrite(offset: UInt64, size: Int, value: UInt64) { sink(UInt8(truncatingIfNeeded: value)) }
}
