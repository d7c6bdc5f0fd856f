import CPU

/// QEMU's firmware configuration device (fw_cfg), I/O-port flavour, as described in QEMU's
/// docs/specs/fw_cfg.rst: the firmware (SeaBIOS) and Linux's qemu_fw_cfg driver read machine
/// facts and files from it.
///
/// Ports: the machine registers this device at base 0x510, count 12 (0x510-0x51B):
/// - offset 0, 16-bit write (0x510): selector (QEMU also takes it at 0x511). Selecting resets the data offset to 0.
///   Bit 14 is the write channel, bit 15 the architecture-local (x86) item set.
/// - offset 0 or 1, byte read (0x511): the next byte of the selected item; past its end (or for
///   an item that does not exist) 0. Byte writes are ignored (the legacy write path is gone
///   from QEMU too); other access sizes read all-ones.
/// - offset 4-11 (0x514-0x51B): the DMA address register, big-endian, present when the device
///   has `memory`. Reads give the signature "QEMU CFG". A 32-bit write at 0x514 sets the high
///   half, a 32-bit write at 0x518 the low half and starts the transfer (a 64-bit write at 0x514
///   does both). The guest's `FWCfgDmaAccess { be32 control; be32 length; be64 address }` is
///   read from guest RAM, the transfer runs at once, and the control word is written back as 0
///   or with the error bit; any address or length outside RAM sets the error bit, nothing else.
///
/// Items: `setItem` for numbered items, `addFile` for named files (listed in the directory
/// item 0x19, keys from 0x20 in name order, as QEMU assigns them). The convenience setters
/// fill the legacy items SeaBIOS and the Linux boot option ROM read.
public final class FwCfg: IODevice {
    public enum Key {
        public static let signature: UInt16 = 0x00, id: UInt16 = 0x01, uuid: UInt16 = 0x02
        public static let ramSize: UInt16 = 0x03, noGraphic: UInt16 = 0x04, nbCPUs: UInt16 = 0x05
        public static let machineID: UInt16 = 0x06, kernelAddr: UInt16 = 0x07, kernelSize: UInt16 = 0x08
        public static let kernelCmdline: UInt16 = 0x09, initrdAddr: UInt16 = 0x0A, initrdSize: UInt16 = 0x0B
        public static let bootDevice: UInt16 = 0x0C, numa: UInt16 = 0x0D, bootMenu: UInt16 = 0x0E
        public static let maxCPUs: UInt16 = 0x0F, kernelEntry: UInt16 = 0x10, kernelData: UInt16 = 0x11
        public static let initrdData: UInt16 = 0x12, cmdlineAddr: UInt16 = 0x13, cmdlineSize: UInt16 = 0x14
        public static let cmdlineData: UInt16 = 0x15, setupAddr: UInt16 = 0x16, setupSize: UInt16 = 0x17
        public static let setupData: UInt16 = 0x18, fileDir: UInt16 = 0x19, fileFirst: UInt16 = 0x20
        public static let writeChannel: UInt16 = 0x4000, archLocal: UInt16 = 0x8000
        // x86 architecture-local items.
        public static let acpiTables: UInt16 = 0x8000, smbiosEntries: UInt16 = 0x8001
        public static let irq0Override: UInt16 = 0x8002, e820Table: UInt16 = 0x8003, hpet: UInt16 = 0x8004
    }
    /// ID item bits.
    public enum Feature { public static let traditional: UInt32 = 0x01, dma: UInt32 = 0x02 }
    /// DMA control bits.
    public enum DMAControl {
        public static let error: UInt32 = 0x01, read: UInt32 = 0x02, skip: UInt32 = 0x04
        public static let select: UInt32 = 0x08, write: UInt32 = 0x10
    }
    /// "QEMU CFG", read from the DMA register.
    static let dmaSignature: [UInt8] = Array("QEMU CFG".utf8)
    /// File names are at most 55 bytes plus the terminating NUL.
    public static let maxFileNameLength = 55
    /// Bytes handled per step when a DMA read runs past an item's end (zero fill).
    static let zeroChunk = 64 * 1024
    static let zeroBlock = [UInt8](repeating: 0, count: zeroChunk)

    public struct Item: Sendable, Equatable {
        public var data: [UInt8]
        /// Guest DMA writes allowed (same length only).
        public var writable: Bool
    }
    public struct State: Sendable, Equatable {
        /// Selector as written (including the write-channel bit).
        public var selector: UInt16 = 0
        public var offset: UInt32 = 0
        /// Items keyed by selector without the write-channel bit.
        public var items: [UInt16: Item] = [:]
        /// File names in directory order, index i ↔ key 0x20 + i.
        public var files: [String] = []
        public var dmaAddress: UInt64 = 0
        public init() {}
    }
    public var state = State()

    /// Guest RAM for DMA; without it the DMA interface is absent (ID bit 1 clear).
    public let memory: PhysicalMemory?
    /// A guest DMA write changed a writable file (name, new contents).
    public var onFileWrite: ((String, [UInt8]) -> Void)?

    public init(memory: PhysicalMemory?) {
        self.memory = memory
        setItem(Key.signature, Array("QEMU".utf8))
        setU32(Key.id, Feature.traditional | (memory != nil ? Feature.dma : 0))
        setItem(Key.uuid, [UInt8](repeating: 0, count: 16))
        setU16(Key.noGraphic, 0)
        setU16(Key.bootMenu, 0)
        setU16(Key.nbCPUs, 1)
        setU16(Key.maxCPUs, 1)
        rebuildDirectory()
    }

    // MARK: Items

    public func setItem(_ key: UInt16, _ bytes: [UInt8], writable: Bool = false) {
        state.items[key & ~Key.writeChannel] = Item(data: bytes, writable: writable)
    }
    public func setU16(_ key: UInt16, _ v: UInt16) { setItem(key, FwCfg.le(UInt64(v), 2)) }
    public func setU32(_ key: UInt16, _ v: UInt32) { setItem(key, FwCfg.le(UInt64(v), 4)) }
    public func setU64(_ key: UInt16, _ v: UInt64) { setItem(key, FwCfg.le(v, 8)) }
    public func item(_ key: UInt16) -> [UInt8]? { state.items[key & ~Key.writeChannel]?.data }

    public static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
    static func be(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).reversed().map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    public enum FileError: Error, Equatable { case badName, tooMany }

    /// Adds or replaces the named file (`etc/e820`, `bootorder`, `etc/acpi/tables`,
    /// `etc/table-loader`, `genroms/linuxboot_dma.bin`, …). Keys are reassigned in name order.
    public func addFile(_ name: String, _ bytes: [UInt8], writable: Bool = false) throws {
        let n = name.utf8.count
        guard n > 0, n <= FwCfg.maxFileNameLength, !name.utf8.contains(0) else { throw FileError.badName }
        var files = Dictionary(uniqueKeysWithValues: state.files.enumerated().map {
            ($0.element, state.items[Key.fileFirst + UInt16($0.offset)] ?? Item(data: [], writable: false))
        })
        files[name] = Item(data: bytes, writable: writable)
        guard files.count <= Int(Key.writeChannel - Key.fileFirst) else { throw FileError.tooMany }
        for i in 0..<state.files.count { state.items[Key.fileFirst + UInt16(i)] = nil }
        state.files = files.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for (i, f) in state.files.enumerated() { state.items[Key.fileFirst + UInt16(i)] = files[f] }
        rebuildDirectory()
    }

    public func fileKey(_ name: String) -> UInt16? {
        state.files.firstIndex(of: name).map { Key.fileFirst + UInt16($0) }
    }
    public func file(_ name: String) -> [UInt8]? { fileKey(name).flatMap { item($0) } }

    /// Item 0x19: be32 count, then per file be32 size, be16 select, be16 reserved, name[56].
    func rebuildDirectory() {
        var d = FwCfg.be(UInt64(state.files.count), 4)
        for (i, name) in state.files.enumerated() {
            let key = Key.fileFirst + UInt16(i)
            d += FwCfg.be(UInt64(state.items[key]?.data.count ?? 0), 4)
            d += FwCfg.be(UInt64(key), 2)
            d += [0, 0]
            var nb = Array(name.utf8)
            nb += [UInt8](repeating: 0, count: 56 - nb.count)
            d += nb
        }
        state.items[Key.fileDir] = Item(data: d, writable: false)
    }

    // Convenience setters for the legacy items.
    public func setRAMSize(_ bytes: UInt64) { setU64(Key.ramSize, bytes) }
    public func setCPUCount(_ n: UInt16, max: UInt16? = nil) {
        setU16(Key.nbCPUs, n)
        setU16(Key.maxCPUs, max ?? n)
    }
    public func setBootMenu(_ on: Bool) { setU16(Key.bootMenu, on ? 1 : 0) }

    /// The items of a `-kernel` boot, as QEMU's x86 loader sets them for the Linux boot option
    /// ROM: setup (real-mode part) and kernel (protected-mode part) with their load addresses,
    /// optional initrd, command line (stored NUL-terminated; its size includes the NUL).
    public func setLinuxBoot(setup: [UInt8], setupAddr: UInt32, kernel: [UInt8], kernelAddr: UInt32,
                             initrd: [UInt8]?, initrdAddr: UInt32, cmdline: String, cmdlineAddr: UInt32,
                             entry: UInt32? = nil) {
        setU32(Key.setupAddr, setupAddr)
        setU32(Key.setupSize, UInt32(truncatingIfNeeded: setup.count))
        setItem(Key.setupData, setup)
        setU32(Key.kernelAddr, kernelAddr)
        setU32(Key.kernelSize, UInt32(truncatingIfNeeded: kernel.count))
        setItem(Key.kernelData, kernel)
        if let entry { setU32(Key.kernelEntry, entry) }
        setU32(Key.initrdAddr, initrd == nil ? 0 : initrdAddr)
        setU32(Key.initrdSize, UInt32(truncatingIfNeeded: initrd?.count ?? 0))
        setItem(Key.initrdData, initrd ?? [])
        let cl = Array(cmdline.utf8) + [0]
        setU32(Key.cmdlineAddr, cmdlineAddr)
        setU32(Key.cmdlineSize, UInt32(truncatingIfNeeded: cl.count))
        setItem(Key.cmdlineData, cl)
    }

    // MARK: Port I/O

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        let ones: UInt64 = size >= 8 || size <= 0 ? ~0 : (1 << (8 * UInt64(size))) - 1
        switch offset {
        case 0, 1:
            return size == 1 ? UInt64(readByte()) : ones
        case 4...11 where memory != nil:
            var v: UInt64 = 0
            for i in 0..<min(max(size, 0), 8) {
                let o = Int(offset) - 4 + i
                v |= UInt64(o < 8 ? FwCfg.dmaSignature[o] : 0xFF) << (8 * UInt64(i))
            }
            return v
        default:
            return ones
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        switch (offset, size) {
        case (0, 2), (1, 2):
            select(UInt16(truncatingIfNeeded: value))
        case (4, 4) where memory != nil:
            state.dmaAddress = UInt64(UInt32(truncatingIfNeeded: value).byteSwapped) << 32
        case (8, 4) where memory != nil:
            state.dmaAddress |= UInt64(UInt32(truncatingIfNeeded: value).byteSwapped)
            dmaTransfer()
        case (4, 8) where memory != nil:
            state.dmaAddress = value.byteSwapped
            dmaTransfer()
        default:
            break
        }
    }

    /// Machine reset: selection, offset and DMA address clear; items stay.
    public func reset() {
        state.selector = 0
        state.offset = 0
        state.dmaAddress = 0
    }

    func select(_ key: UInt16) {
        state.selector = key
        state.offset = 0
    }

    /// The selected item (write-channel bit ignored).
    var current: Item? { state.items[state.selector & ~Key.writeChannel] }

    func readByte() -> UInt8 {
        guard let it = current, Int(state.offset) < it.data.count else { return 0 }
        let b = it.data[Int(state.offset)]
        state.offset += 1
        return b
    }

    // MARK: DMA

    /// True when [addr, addr + len) does not wrap around the 64-bit address space.
    static func fits(_ addr: UInt64, _ len: UInt64) -> Bool { len == 0 || addr <= UInt64.max - (len - 1) }

    func dmaTransfer() {
        guard let mem = memory else { return }
        let descAddr = state.dmaAddress
        state.dmaAddress = 0
        guard FwCfg.fits(descAddr, 16), let desc = mem.readBytes(descAddr, count: 16) else {
            if FwCfg.fits(descAddr, 4) { writeControl(mem, descAddr, DMAControl.error) }
            return
        }
        func be32(_ o: Int) -> UInt32 { desc[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        var control = be32(0)
        var length = UInt64(be32(4))
        var address = desc[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }

        if control & DMAControl.select != 0 { select(UInt16(truncatingIfNeeded: control >> 16)) }
        let read = control & DMAControl.read != 0
        let write = !read && control & DMAControl.write != 0
        if !read && !write && control & DMAControl.skip == 0 { length = 0 }
        control = 0

        let key = state.selector & ~Key.writeChannel
        while length > 0 && control & DMAControl.error == 0 {
            let item = state.items[key]
            let off = Int(state.offset)
            let len: UInt64
            if let item, off < item.data.count {
                len = min(length, UInt64(item.data.count - off))
                if read {
                    let ok = FwCfg.fits(address, len) && item.data.withUnsafeBytes {
                        mem.writeBytes(address, UnsafeRawBufferPointer(rebasing: $0[off..<off + Int(len)]))
                    }
                    if !ok { control |= DMAControl.error }
                } else if write {
                    if !item.writable || len != length || !FwCfg.fits(address, len) {
                        control |= DMAControl.error
                    } else if let bytes = mem.readBytes(address, count: Int(len)) {
                        state.items[key]!.data.replaceSubrange(off..<off + Int(len), with: bytes)
                        let i = Int(key) - Int(Key.fileFirst)
                        if i >= 0 && i < state.files.count { onFileWrite?(state.files[i], state.items[key]!.data) }
                    } else {
                        control |= DMAControl.error
                    }
                }
                state.offset &+= UInt32(len)
            } else {
                // Past the end (or no item): reads fill zeros (in bounded steps), writes fail,
                // skips just advance.
                len = read ? min(length, UInt64(FwCfg.zeroChunk)) : length
                if read {
                    let ok = FwCfg.fits(address, len) && FwCfg.zeroBlock.withUnsafeBytes {
                        mem.writeBytes(address, UnsafeRawBufferPointer(rebasing: $0[0..<Int(len)]))
                    }
                    if !ok { control |= DMAControl.error }
                } else if write {
                    control |= DMAControl.error
                }
            }
            address &+= len
            length -= len
        }
        writeControl(mem, descAddr, control)
    }

    func writeControl(_ mem: PhysicalMemory, _ descAddr: UInt64, _ control: UInt32) {
        let b = FwCfg.be(UInt64(control), 4)
        _ = b.withUnsafeBytes { mem.writeBytes(descAddr, $0) }
    }
}
