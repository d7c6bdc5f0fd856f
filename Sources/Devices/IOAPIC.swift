import CPU

/// The I/O APIC of the PIIX/ICH chipsets (82093AA register model, version 0x20, 24 inputs),
/// an MMIO device for its 4 KiB window (the machine maps it at 0xFEC00000).
///
/// Wiring (single CPU; see `LAPIC`):
/// ```
/// try memory.mapMMIO(at: 0xFEC0_0000, size: 0x1000, name: "ioapic", device: ioapic)
/// ioapic.deliver = { [unowned lapic] dest, logical, mode, vector, level in
///     if lapic.matchesDestination(dest, logical: logical) {
///         lapic.deliver(vector: vector, deliveryMode: mode, level: true, triggerLevel: level)
///     }
/// }
/// lapic.onLevelEOI = { [unowned ioapic] in ioapic.eoi(vector: $0) }
/// ```
/// Devices drive `setIRQ(pin, asserted)`; ISA IRQ n is pin n except IRQ0 → pin 2 (the MADT
/// interrupt source override the machine publishes). Shared lines are ORed by the machine.
///
/// Registers: IOREGSEL at 0x00 (8 bits; 1- to 4-byte accesses), IOWIN at 0x10 (4-byte
/// accesses only), EOI at 0x40 (write the vector; version 0x20). Other offsets and access
/// sizes read 0 and ignore writes (counted in `badAccesses`). Indirect registers: ID (0x00,
/// bits 27:24), version (0x01, 0x00170020), arbitration (0x02, mirrors the ID), redirection
/// entries 0x10...0x3F (low dword at 0x10 + 2n, high at 0x11 + 2n); other indices read 0.
/// Delivery status (bit 12) always reads idle; remote IRR (bit 14) is read-only and cleared
/// when an entry is made edge-triggered. Polarity (bit 13) is stored but not applied (as
/// QEMU): `setIRQ` takes the asserted state.
///
/// Edge entries deliver on a rising edge while unmasked (an edge arriving while masked is
/// lost). Level entries deliver while asserted and unmasked with remote IRR clear, and set
/// remote IRR; `eoi(vector:)` clears remote IRR of matching level entries and delivers again
/// when the line is still asserted. Unmasking a level entry whose line is asserted delivers.
public final class IOAPIC: IODevice {
    /// MMIO offsets within the window.
    public enum Offset {
        public static let select: UInt64 = 0x00, window: UInt64 = 0x10, eoi: UInt64 = 0x40
        public static let windowSize: UInt64 = 0x1000
    }
    /// Indirect register indices.
    public enum Index {
        public static let id: UInt8 = 0x00, version: UInt8 = 0x01, arbitration: UInt8 = 0x02
        public static let redirectionFirst: UInt8 = 0x10, redirectionLast: UInt8 = 0x3F
    }
    /// Redirection entry bits.
    public enum Redirection {
        public static let vectorMask: UInt64 = 0xFF
        public static let deliveryModeShift: UInt64 = 8
        public static let logical: UInt64 = 1 << 11
        public static let deliveryStatus: UInt64 = 1 << 12
        public static let polarityLow: UInt64 = 1 << 13
        public static let remoteIRR: UInt64 = 1 << 14
        public static let levelTriggered: UInt64 = 1 << 15
        public static let masked: UInt64 = 1 << 16
        public static let destinationShift: UInt64 = 56
        /// Writable bits: vector, delivery mode, destination mode, polarity, trigger, mask,
        /// destination (63:56).
        public static let writable: UInt64 = 0xFF00_0000_0001_AFFF
        public static let reset: UInt64 = masked
    }
    public static let pinCount = 24
    /// Version register: version 0x20, maximum redirection entry 23.
    public static let versionValue: UInt32 = 0x0017_0020
    /// ID register: bits 27:24.
    public static let idShift: UInt32 = 24, idMask: UInt8 = 0x0F

    public struct State: Sendable, Equatable {
        public var id: UInt8
        public var select: UInt8 = 0
        /// 24 redirection entries.
        public var redirection = [UInt64](repeating: Redirection.reset, count: IOAPIC.pinCount)
        /// Input levels (bit n = pin n asserted).
        public var lines: UInt32 = 0
        public init(id: UInt8 = 0) { self.id = id & IOAPIC.idMask }
    }

    public private(set) var state: State
    private let initialID: UInt8

    /// Sends an interrupt message: (destination, logical destination mode, delivery mode,
    /// vector, level-triggered).
    public var deliver: ((_ dest: UInt8, _ destMode: Bool, _ deliveryMode: UInt8, _ vector: UInt8,
                          _ triggerLevel: Bool) -> Void)?

    /// Accesses to unknown offsets or with unsupported sizes (not saved).
    public private(set) var badAccesses: UInt64 = 0

    public init(id: UInt8 = 0) {
        initialID = id & Self.idMask
        state = State(id: id)
    }

    /// Power-on state (redirection entries masked); input levels are kept (they are wires).
    public func reset() {
        let lines = state.lines
        state = State(id: initialID)
        state.lines = lines
    }

    /// Restores a saved state (ignored if it does not have 24 entries). Nothing is delivered.
    public func restore(_ s: State) {
        guard s.redirection.count == Self.pinCount else { return }
        state = s
        state.id &= Self.idMask
    }

    /// The redirection entry of `pin` (0 if out of range).
    public func entry(_ pin: Int) -> UInt64 {
        (0..<Self.pinCount).contains(pin) ? state.redirection[pin] : 0
    }

    // MARK: inputs

    /// Drives input `pin` (0...23; others ignored) to `level` (asserted or not).
    public func setIRQ(_ pin: Int, _ level: Bool) {
        guard (0..<Self.pinCount).contains(pin) else { return }
        let m = UInt32(1) << UInt32(pin)
        let was = state.lines & m != 0
        if level { state.lines |= m } else { state.lines &= ~m }
        let e = state.redirection[pin]
        guard e & Redirection.masked == 0, level else { return }
        if e & Redirection.levelTriggered != 0 {
            serviceLevel(pin)
        } else if !was {
            send(pin)
        }
    }

    /// EOI for `vector` (the local APIC's broadcast, or the EOI register): clears remote IRR
    /// of the level-triggered entries with this vector and re-delivers asserted lines.
    public func eoi(vector: UInt8) {
        for pin in 0..<Self.pinCount {
            let e = state.redirection[pin]
            guard e & Redirection.levelTriggered != 0, e & Redirection.remoteIRR != 0,
                  UInt8(truncatingIfNeeded: e & Redirection.vectorMask) == vector else { continue }
            state.redirection[pin] = e & ~Redirection.remoteIRR
            serviceLevel(pin)
        }
    }

    /// A level entry: deliver if asserted, unmasked and not waiting for EOI.
    private func serviceLevel(_ pin: Int) {
        let e = state.redirection[pin]
        guard state.lines & (UInt32(1) << UInt32(pin)) != 0, e & Redirection.masked == 0,
              e & Redirection.levelTriggered != 0, e & Redirection.remoteIRR == 0 else { return }
        state.redirection[pin] = e | Redirection.remoteIRR
        send(pin)
    }

    private func send(_ pin: Int) {
        let e = state.redirection[pin]
        deliver?(UInt8(truncatingIfNeeded: e >> Redirection.destinationShift),
                 e & Redirection.logical != 0,
                 UInt8(truncatingIfNeeded: (e >> Redirection.deliveryModeShift) & 7),
                 UInt8(truncatingIfNeeded: e & Redirection.vectorMask),
                 e & Redirection.levelTriggered != 0)
    }

    // MARK: registers

    func readIndirect(_ index: UInt8) -> UInt32 {
        switch index {
        case Index.id, Index.arbitration:
            return UInt32(state.id) << Self.idShift
        case Index.version:
            return Self.versionValue
        case Index.redirectionFirst...Index.redirectionLast:
            let n = Int(index - Index.redirectionFirst)
            let e = state.redirection[n >> 1]
            return UInt32(truncatingIfNeeded: n & 1 == 0 ? e : e >> 32)
        default:
            return 0
        }
    }

    func writeIndirect(_ index: UInt8, _ v: UInt32) {
        switch index {
        case Index.id:
            state.id = UInt8(truncatingIfNeeded: v >> Self.idShift) & Self.idMask
        case Index.redirectionFirst...Index.redirectionLast:
            let n = Int(index - Index.redirectionFirst)
            let pin = n >> 1
            let old = state.redirection[pin]
            let shift: UInt64 = n & 1 == 0 ? 0 : 32
            let field = Redirection.writable & (0xFFFF_FFFF << shift)
            var e = (old & ~field) | ((UInt64(v) << shift) & field)
            if e & Redirection.levelTriggered == 0 { e &= ~Redirection.remoteIRR }
            state.redirection[pin] = e
            if e & Redirection.levelTriggered != 0 { serviceLevel(pin) }
        default:
            break                       // version, arbitration: read-only; others reserved
        }
    }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case Offset.select where (1...4).contains(size):
            return UInt64(state.select)
        case Offset.window where size == 4:
            return UInt64(readIndirect(state.select))
        default:
            badAccesses &+= 1
            return 0
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        switch offset {
        case Offset.select where (1...4).contains(size):
            state.select = UInt8(truncatingIfNeeded: value)
        case Offset.window where size == 4:
            writeIndirect(state.select, UInt32(truncatingIfNeeded: value))
        case Offset.eoi where (1...4).contains(size):
            eoi(vector: UInt8(truncatingIfNeeded: value))
        default:
            badAccesses &+= 1
        }
    }
}
