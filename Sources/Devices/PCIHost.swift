import CPU

/// The 256-byte configuration space of one PCI function, with the masks that say which bits
/// the guest may change: `writeMask` (plain read/write bits) and `w1cMask` (write-1-to-clear
/// bits, e.g. the error bits of the status register). Everything else is read-only.
///
/// Defaults follow the PCI 3.0 type-0 header as QEMU sets it up: command bits IO, memory,
/// master, parity, SERR, INTx-disable writable; cache line size, latency timer and interrupt
/// line writable; the device-specific area 0x40-0xFF writable. BARs are read-only until
/// `setBAR` gives them a size; then a write of all-ones reads back the size mask (sizing).
public struct PCIConfigSpace: Sendable, Equatable {
    public enum Reg {
        public static let vendorID = 0x00, deviceID = 0x02, command = 0x04, status = 0x06
        public static let revision = 0x08, progIF = 0x09, subclass = 0x0A, classCode = 0x0B
        public static let cacheLineSize = 0x0C, latencyTimer = 0x0D, headerType = 0x0E
        public static let bar0 = 0x10, subsystemVendorID = 0x2C, subsystemID = 0x2E
        public static let romAddress = 0x30, interruptLine = 0x3C, interruptPin = 0x3D
    }
    public enum Command {
        public static let io: UInt16 = 0x0001, memory: UInt16 = 0x0002, master: UInt16 = 0x0004
        public static let parity: UInt16 = 0x0040, serr: UInt16 = 0x0100, intxDisable: UInt16 = 0x0400
    }
    public enum StatusBits {
        public static let fastBackToBack: UInt16 = 0x0080
        public static let devselMedium: UInt16 = 0x0200
        /// Master data parity error, signalled/received target abort, received master abort,
        /// signalled system error, detected parity error: write 1 to clear.
        public static let writeOneToClear: UInt16 = 0xF900
    }
    public enum BARKind: Sendable, Equatable {
        case io
        case memory32(prefetchable: Bool)
        /// Takes two BAR slots (index and index + 1).
        case memory64(prefetchable: Bool)
    }

    public var bytes: [UInt8]
    public var writeMask: [UInt8]
    public var w1cMask: [UInt8]

    /// - Parameter classCode: class, subclass and programming interface, e.g. 0x060000.
    public init(vendorID: UInt16, deviceID: UInt16, revision: UInt8 = 0, classCode: UInt32,
                headerType: UInt8 = 0, multifunction: Bool = false) {
        bytes = [UInt8](repeating: 0, count: 256)
        writeMask = [UInt8](repeating: 0, count: 256)
        w1cMask = [UInt8](repeating: 0, count: 256)
        set16(Reg.vendorID, vendorID)
        set16(Reg.deviceID, deviceID)
        set8(Reg.revision, revision)
        set8(Reg.progIF, UInt8(truncatingIfNeeded: classCode))
        set8(Reg.subclass, UInt8(truncatingIfNeeded: classCode >> 8))
        set8(Reg.classCode, UInt8(truncatingIfNeeded: classCode >> 16))
        set8(Reg.headerType, (headerType & 0x7F) | (multifunction ? 0x80 : 0))
        // QEMU's default subsystem IDs (Red Hat / QEMU).
        set16(Reg.subsystemVendorID, 0x1AF4)
        set16(Reg.subsystemID, 0x1100)
        let cmd = Command.io | Command.memory | Command.master | Command.parity | Command.serr | Command.intxDisable
        setMask16(Reg.command, cmd)
        w1cMask[Reg.status] = UInt8(truncatingIfNeeded: StatusBits.writeOneToClear)
        w1cMask[Reg.status + 1] = UInt8(truncatingIfNeeded: StatusBits.writeOneToClear >> 8)
        writeMask[Reg.cacheLineSize] = 0xFF
        writeMask[Reg.latencyTimer] = 0xFF
        writeMask[Reg.interruptLine] = 0xFF
        for i in 0x40..<256 { writeMask[i] = 0xFF }
    }

    // Direct setup accessors (ignore the masks; for the machine and device models).
    public func get8(_ off: Int) -> UInt8 { bytes[off & 0xFF] }
    public func get16(_ off: Int) -> UInt16 { UInt16(get8(off)) | UInt16(get8(off + 1)) << 8 }
    public func get32(_ off: Int) -> UInt32 { UInt32(get16(off)) | UInt32(get16(off + 2)) << 16 }
    public mutating func set8(_ off: Int, _ v: UInt8) { bytes[off & 0xFF] = v }
    public mutating func set16(_ off: Int, _ v: UInt16) {
        set8(off, UInt8(truncatingIfNeeded: v)); set8(off + 1, UInt8(truncatingIfNeeded: v >> 8))
    }
    public mutating func set32(_ off: Int, _ v: UInt32) {
        set16(off, UInt16(truncatingIfNeeded: v)); set16(off + 2, UInt16(truncatingIfNeeded: v >> 16))
    }
    public mutating func setMask8(_ off: Int, _ m: UInt8) { writeMask[off & 0xFF] = m }
    public mutating func setMask16(_ off: Int, _ m: UInt16) {
        setMask8(off, UInt8(truncatingIfNeeded: m)); setMask8(off + 1, UInt8(truncatingIfNeeded: m >> 8))
    }
    public mutating func setMask32(_ off: Int, _ m: UInt32) {
        setMask16(off, UInt16(truncatingIfNeeded: m)); setMask16(off + 2, UInt16(truncatingIfNeeded: m >> 16))
    }

    public var vendorID: UInt16 { get16(Reg.vendorID) }
    public var deviceID: UInt16 { get16(Reg.deviceID) }
    public var command: UInt16 { get16(Reg.command) }

    /// Guest read: `size` bytes little-endian from `offset`; bytes past 0xFF read as 0xFF.
    public func read(offset: Int, size: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<max(0, min(size, 4)) {
            let o = offset + i
            let b: UInt8 = (o >= 0 && o < 256) ? bytes[o] : 0xFF
            v |= UInt32(b) << (8 * UInt32(i))
        }
        return v
    }

    /// Guest write through the masks; bytes past 0xFF are dropped.
    public mutating func write(offset: Int, size: Int, value: UInt32) {
        for i in 0..<max(0, min(size, 4)) {
            let o = offset + i
            guard o >= 0 && o < 256 else { continue }
            let v = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))
            let wm = writeMask[o]
            var b = (bytes[o] & ~wm) | (v & wm)
            b &= ~(v & w1cMask[o])
            bytes[o] = b
        }
    }

    /// Declares BAR `index` (0-5) of `size` bytes (rounded up to a power of two: at least 4 for
    /// I/O, 16 for memory). The type bits become read-only, the address bits above the size
    /// writable.
    public mutating func setBAR(_ index: Int, size: UInt64, kind: BARKind) {
        guard index >= 0 && index < 6 else { return }
        let off = Reg.bar0 + 4 * index
        var sz = max(size, 1)
        switch kind {
        case .io: sz = max(sz, 4)
        default: sz = max(sz, 16)
        }
        if sz & (sz - 1) != 0 { sz = 1 << (64 - UInt64(sz.leadingZeroBitCount)) }
        let mask = ~(sz - 1)
        switch kind {
        case .io:
            set32(off, 0x1)
            setMask32(off, UInt32(truncatingIfNeeded: mask) & 0xFFFF_FFFC)
        case .memory32(let pf):
            set32(off, pf ? 0x8 : 0x0)
            setMask32(off, UInt32(truncatingIfNeeded: mask) & 0xFFFF_FFF0)
        case .memory64(let pf):
            guard index < 5 else { return }
            set32(off, 0x4 | (pf ? 0x8 : 0x0))
            setMask32(off, UInt32(truncatingIfNeeded: mask) & 0xFFFF_FFF0)
            set32(off + 4, 0)
            setMask32(off + 4, UInt32(truncatingIfNeeded: mask >> 32))
        }
    }

    /// Declares the expansion ROM BAR (0x30) of `size` bytes (power of two, at least 2 KiB).
    public mutating func setROMBAR(size: UInt32) {
        var sz = UInt64(max(size, 2048))
        if sz & (sz - 1) != 0 { sz = 1 << (64 - UInt64(sz.leadingZeroBitCount)) }
        set32(Reg.romAddress, 0)
        setMask32(Reg.romAddress, (UInt32(truncatingIfNeeded: ~(sz - 1)) & 0xFFFF_F800) | 1)
    }

    /// The address BAR `index` decodes, or nil when it is not implemented or its decoding
    /// (I/O or memory space in the command register) is off.
    public func barAddress(_ index: Int) -> UInt64? {
        guard index >= 0 && index < 6 else { return nil }
        let off = Reg.bar0 + 4 * index
        guard writeMask[off] | writeMask[off + 1] | writeMask[off + 2] | writeMask[off + 3] != 0 else { return nil }
        let lo = get32(off)
        if lo & 1 != 0 {
            guard command & Command.io != 0 else { return nil }
            return UInt64(lo & 0xFFFF_FFFC)
        }
        guard command & Command.memory != 0 else { return nil }
        if lo & 0x6 == 0x4 && index < 5 { return UInt64(lo & 0xFFFF_FFF0) | UInt64(get32(off + 4)) << 32 }
        return UInt64(lo & 0xFFFF_FFF0)
    }
}

/// A shadow-RAM segment controlled by one PAM nibble of the i440FX.
public struct PAMSegment: Sendable, Equatable {
    public var base: UInt64
    public var size: UInt64
    /// Reads come from RAM (else from ROM / PCI).
    public var readRAM: Bool
    /// Writes go to RAM (else to ROM / PCI, i.e. are dropped for ROM).
    public var writeRAM: Bool
}

/// PCI host: configuration mechanism #1 and the i440FX/PIIX3 chipset functions on bus 0.
///
/// Ports: the machine registers this device at base 0xCF8, count 8.
/// - offset 0-3 (0xCF8): CONFIG_ADDRESS, 32-bit writes only (bit 31 enable, 23:16 bus, 15:11
///   device, 10:8 function, 7:2 register); reads of any size return its bytes.
/// - offset 1, byte access (0xCF9): the PIIX3 reset control register; writing bit 2 requests a
///   reset (`resetRequested`), bit 1 (hard reset) reads back.
/// - offset 4-7 (0xCFC-0xCFF): CONFIG_DATA, any size at any offset (the offset's low bits add to
///   the register number). With bit 31 clear, a bus other than 0, or an absent function, reads
///   give all-ones and writes are ignored.
///
/// `installI440FXChipset()` (done by `init()` unless told otherwise) adds:
/// - 00.0 i440FX host bridge 8086:1237 rev 2; PAM registers 0x59-0x5F → `onPAMChange`;
/// - 01.0 PIIX3 ISA bridge 8086:7000 (multi-function); PIRQ routing 0x60-0x63 → `onPIRQChange`;
/// - 01.1 PIIX3 IDE 8086:7010, legacy mode (prog-if 0x80), BAR4 bus-master I/O of 16 bytes;
/// - 01.3 PIIX4 ACPI/PM 8086:7113 rev 3; PMBASE 0x40 + PMREGMISC 0x80 bit 0 → `onPMIOChange`.
/// Device models attach to their function with `setWriteHook` (e.g. the IDE model for BAR4).
public final class PCIHost: IODevice {
    public enum Chipset {
        public static let hostBridge = (device: 0, function: 0)
        public static let isaBridge = (device: 1, function: 0)
        public static let ide = (device: 1, function: 1)
        public static let acpi = (device: 1, function: 3)
        /// i440FX registers.
        public static let pamFirst = 0x59, pamLast = 0x5F, smram = 0x72
        /// PIIX3 ISA bridge registers.
        public static let pirqFirst = 0x60, pirqCount = 4
        /// PIIX4 PM registers.
        public static let pmBase = 0x40, pmRegMisc = 0x80, devActB = 0x58, smbusBase = 0x90, smbusHostConfig = 0xD2
        public static let pmIOSize: UInt64 = 64
    }

    public struct State: Sendable, Equatable {
        public var configAddress: UInt32 = 0
        /// Functions on bus 0, keyed by devfn (device << 3 | function).
        public var functions: [UInt8: PCIConfigSpace] = [:]
        /// PIIX3 reset control register (0xCF9), bit 1 only.
        public var resetControl: UInt8 = 0
        public init() {}
    }
    public var state = State()

    /// Called after a guest (or `writeConfig`) write to a function's config space, with the
    /// register range written and the config space as it was before.
    public typealias WriteHook = (_ offset: Int, _ size: Int, _ old: PCIConfigSpace) -> Void
    private var hooks: [UInt8: WriteHook] = [:]
    /// Power-on config space of each function, restored by `reset()`.
    private var initial: [UInt8: PCIConfigSpace] = [:]

    /// The PAM registers changed: all 13 segments (0xC0000-0xEFFFF in 16 KiB steps, then the
    /// 64 KiB BIOS segment 0xF0000) with their current routing.
    public var onPAMChange: (([PAMSegment]) -> Void)?
    /// A PIRQ route changed: PIRQ index 0-3 (A-D) and the ISA IRQ, or nil when disabled.
    public var onPIRQChange: ((Int, UInt8?) -> Void)?
    /// The PIIX4 PM I/O space moved or was switched on/off: its base port, or nil when off.
    public var onPMIOChange: ((UInt16?) -> Void)?
    /// Reset via port 0xCF9.
    public var resetRequested: (() -> Void)?

    public init(installChipset: Bool = true) {
        if installChipset { installI440FXChipset() }
    }

    static func devfn(_ device: Int, _ function: Int) -> UInt8 { UInt8((device & 0x1F) << 3 | (function & 7)) }

    public enum PCIError: Error, Equatable { case badAddress, occupied }

    /// Adds a function on bus 0.
    public func addFunction(device: Int, function: Int, config: PCIConfigSpace, onWrite: WriteHook? = nil) throws {
        guard (0..<32).contains(device), (0..<8).contains(function) else { throw PCIError.badAddress }
        let df = PCIHost.devfn(device, function)
        guard state.functions[df] == nil else { throw PCIError.occupied }
        state.functions[df] = config
        initial[df] = config
        if let onWrite { hooks[df] = onWrite }
    }

    /// Machine reset: every function returns to its power-on config space; the hooks of the
    /// functions that changed run (as for a write of the whole space), so PAM, PIRQ and PM
    /// mappings are reported back to their reset values.
    public func reset() {
        state.configAddress = 0
        state.resetControl = 0
        for (df, cfg) in initial.sorted(by: { $0.key < $1.key }) {
            guard let old = state.functions[df], old != cfg else { continue }
            state.functions[df] = cfg
            hooks[df]?(0, 256, old)
        }
    }

    /// Attaches (or replaces) the write hook of an existing function.
    public func setWriteHook(device: Int, function: Int, _ hook: WriteHook?) {
        hooks[PCIHost.devfn(device, function)] = hook
    }

    public func config(device: Int, function: Int) -> PCIConfigSpace? {
        state.functions[PCIHost.devfn(device, function)]
    }

    /// Replaces a function's config space (machine setup and device models; no hook runs).
    public func setConfig(device: Int, function: Int, _ config: PCIConfigSpace) {
        let df = PCIHost.devfn(device, function)
        if state.functions[df] != nil { state.functions[df] = config }
    }

    /// Config read as the guest sees it (bus 0); all-ones for an absent function.
    public func readConfig(device: Int, function: Int, offset: Int, size: Int) -> UInt32 {
        let ones: UInt32 = size >= 4 ? ~0 : (1 << (8 * UInt32(max(size, 0)))) - 1
        guard let c = state.functions[PCIHost.devfn(device, function)] else { return ones }
        return c.read(offset: offset, size: size)
    }

    /// Config write as the guest does it (masks apply, hooks run).
    public func writeConfig(device: Int, function: Int, offset: Int, size: Int, value: UInt32) {
        let df = PCIHost.devfn(device, function)
        guard let old = state.functions[df] else { return }
        state.functions[df]!.write(offset: offset, size: size, value: value)
        hooks[df]?(offset, size, old)
    }

    // MARK: Port I/O

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        guard (1...4).contains(size) else { return ~0 }
        let ones: UInt64 = size == 4 ? 0xFFFF_FFFF : (1 << (8 * UInt64(size))) - 1
        switch offset {
        case 1 where size == 1:
            return UInt64(state.resetControl)
        case 0...3:
            return (UInt64(state.configAddress) >> (8 * offset)) & ones
        case 4...7:
            guard let (dev, fn, reg) = decodeAddress() else { return ones }
            return UInt64(readConfig(device: dev, function: fn, offset: reg + Int(offset - 4), size: size))
        default:
            return ones
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard (1...4).contains(size) else { return }
        switch offset {
        case 0 where size == 4:
            state.configAddress = UInt32(truncatingIfNeeded: value) & 0x80FF_FFFC
        case 1 where size == 1:
            let v = UInt8(truncatingIfNeeded: value)
            if v & 0x04 != 0 { resetRequested?(); return }
            state.resetControl = v & 0x02
        case 4...7:
            guard let (dev, fn, reg) = decodeAddress() else { return }
            writeConfig(device: dev, function: fn, offset: reg + Int(offset - 4), size: size,
                        value: UInt32(truncatingIfNeeded: value))
        default:
            break
        }
    }

    /// Device, function and dword-aligned register of CONFIG_ADDRESS, or nil when disabled or
    /// not bus 0.
    func decodeAddress() -> (Int, Int, Int)? {
        let a = state.configAddress
        guard a & 0x8000_0000 != 0, (a >> 16) & 0xFF == 0 else { return nil }
        return (Int((a >> 11) & 0x1F), Int((a >> 8) & 7), Int(a & 0xFC))
    }

    // MARK: i440FX / PIIX3 chipset

    public static func pamSegments(_ c: PCIConfigSpace) -> [PAMSegment] {
        var segs: [PAMSegment] = []
        for i in 0..<12 {
            let reg = c.get8(Chipset.pamFirst + 1 + i / 2)
            let nib = i & 1 == 0 ? reg & 0xF : reg >> 4
            segs.append(PAMSegment(base: 0xC0000 + UInt64(i) * 0x4000, size: 0x4000,
                                   readRAM: nib & 1 != 0, writeRAM: nib & 2 != 0))
        }
        let bios = c.get8(Chipset.pamFirst) >> 4
        segs.append(PAMSegment(base: 0xF0000, size: 0x10000, readRAM: bios & 1 != 0, writeRAM: bios & 2 != 0))
        return segs
    }

    /// The current PAM routing (BIOS area from ROM after reset).
    public var pamSegments: [PAMSegment] {
        guard let c = config(device: Chipset.hostBridge.device, function: Chipset.hostBridge.function) else { return [] }
        return PCIHost.pamSegments(c)
    }

    /// ISA IRQ routed to PIRQ `n` (0-3), or nil when disabled.
    public func pirqRoute(_ n: Int) -> UInt8? {
        guard (0..<4).contains(n),
              let c = config(device: Chipset.isaBridge.device, function: Chipset.isaBridge.function) else { return nil }
        let v = c.get8(Chipset.pirqFirst + n)
        return v & 0x80 != 0 ? nil : v & 0x0F
    }

    /// The PIRQ (0-3) a device's interrupt pin (1 = INTA# … 4 = INTD#) is wired to on the
    /// i440FX board (QEMU's swizzle: (pin - 1 + device - 1) mod 4).
    public static func pirq(device: Int, pin: Int) -> Int { ((pin - 1) + (device - 1)) & 3 }

    /// PM I/O base when enabled (PMREGMISC bit 0), else nil.
    public var pmIOBase: UInt16? {
        guard let c = config(device: Chipset.acpi.device, function: Chipset.acpi.function),
              c.get8(Chipset.pmRegMisc) & 1 != 0 else { return nil }
        return UInt16(truncatingIfNeeded: c.get32(Chipset.pmBase) & 0xFFC0)
    }

    static func overlaps(_ off: Int, _ size: Int, _ lo: Int, _ hi: Int) -> Bool { off <= hi && off + size - 1 >= lo }

    /// Adds the four standard functions. `smmEnabled: false` marks SMM as already set up in the
    /// PIIX4 (DEVACTB APMC_EN, as QEMU does without SMM) so SeaBIOS skips its SMM relocation.
    public func installI440FXChipset(smmEnabled: Bool = false) {
        // 00.0 host bridge.
        var host = PCIConfigSpace(vendorID: 0x8086, deviceID: 0x1237, revision: 0x02, classCode: 0x060000)
        host.set8(Chipset.smram, 0x02)
        try? addFunction(device: 0, function: 0, config: host) { [unowned self] off, size, old in
            guard PCIHost.overlaps(off, size, Chipset.pamFirst, Chipset.pamLast) else { return }
            guard let new = self.config(device: 0, function: 0) else { return }
            if (Chipset.pamFirst...Chipset.pamLast).contains(where: { old.get8($0) != new.get8($0) }) {
                self.onPAMChange?(PCIHost.pamSegments(new))
            }
        }

        // 01.0 PIIX3 ISA bridge (reset values from the PIIX3 datasheet / QEMU piix3_reset).
        var isa = PCIConfigSpace(vendorID: 0x8086, deviceID: 0x7000, classCode: 0x060100, multifunction: true)
        isa.set16(PCIConfigSpace.Reg.command, 0x0007)
        isa.set16(PCIConfigSpace.Reg.status, PCIConfigSpace.StatusBits.devselMedium)
        isa.set8(0x4C, 0x4D)      // IORT
        isa.set8(0x4E, 0x03)      // XBCS
        for i in 0..<Chipset.pirqCount {
            isa.set8(Chipset.pirqFirst + i, 0x80)
            isa.setMask8(Chipset.pirqFirst + i, 0x8F)
        }
        isa.set8(0x69, 0x02)      // TOM
        isa.set8(0x70, 0x80)      // MBIRQ0
        isa.set8(0x76, 0x0C); isa.set8(0x77, 0x0C)   // MBDMA
        isa.set8(0x78, 0x02)      // PCSC
        isa.set8(0xA0, 0x08)      // SMICNTL
        isa.set8(0xA8, 0x0F)      // SMIREQ
        try? addFunction(device: 1, function: 0, config: isa) { [unowned self] off, size, old in
            guard let new = self.config(device: 1, function: 0) else { return }
            for i in 0..<Chipset.pirqCount where PCIHost.overlaps(off, size, Chipset.pirqFirst + i, Chipset.pirqFirst + i) {
                let r = Chipset.pirqFirst + i
                if old.get8(r) != new.get8(r) { self.onPIRQChange?(i, self.pirqRoute(i)) }
            }
        }

        // 01.1 PIIX3 IDE: config space only; the IDE model attaches its hook later.
        var ide = PCIConfigSpace(vendorID: 0x8086, deviceID: 0x7010, classCode: 0x010180)
        ide.set16(PCIConfigSpace.Reg.status, PCIConfigSpace.StatusBits.devselMedium | PCIConfigSpace.StatusBits.fastBackToBack)
        ide.setBAR(4, size: 16, kind: .io)
        try? addFunction(device: 1, function: 1, config: ide)

        // 01.3 PIIX4 ACPI / power management.
        var pm = PCIConfigSpace(vendorID: 0x8086, deviceID: 0x7113, revision: 0x03, classCode: 0x068000)
        pm.set16(PCIConfigSpace.Reg.status, PCIConfigSpace.StatusBits.devselMedium | PCIConfigSpace.StatusBits.fastBackToBack)
        pm.set8(PCIConfigSpace.Reg.interruptPin, 0x01)
        pm.set32(Chipset.pmBase, 0x0000_0001)             // I/O space indicator, read-only
        pm.setMask32(Chipset.pmBase, 0x0000_FFC0)
        pm.setMask8(Chipset.pmRegMisc, 0x01)
        pm.set32(Chipset.smbusBase, 0x0000_0001)
        pm.setMask32(Chipset.smbusBase, 0x0000_FFF0)
        if !smmEnabled { pm.set8(Chipset.devActB + 3, 0x02) }   // APMC_EN: SMM "already initialised"
        try? addFunction(device: 1, function: 3, config: pm) { [unowned self] off, size, old in
            guard PCIHost.overlaps(off, size, Chipset.pmBase, Chipset.pmBase + 3)
                    || PCIHost.overlaps(off, size, Chipset.pmRegMisc, Chipset.pmRegMisc) else { return }
            let oldBase: UInt16? = old.get8(Chipset.pmRegMisc) & 1 != 0
                ? UInt16(truncatingIfNeeded: old.get32(Chipset.pmBase) & 0xFFC0) : nil
            let newBase = self.pmIOBase
            if oldBase != newBase { self.onPMIOChange?(newBase) }
        }
    }
}
