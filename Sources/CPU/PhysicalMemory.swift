#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A guest-visible device behind a port range or an MMIO window. It sees offsets into its own
/// range. Implementations must treat every value as untrusted guest input.
public protocol IODevice: AnyObject {
    func ioRead(offset: UInt64, size: Int) -> UInt64
    func ioWrite(offset: UInt64, size: Int, value: UInt64)
}

public enum BusError: Error, CustomStringConvertible {
    case overlap(String, String)
    case outOfRange(String)
    public var description: String {
        switch self {
        case .overlap(let a, let b): return "bus: range of \(a) overlaps \(b)"
        case .outOfRange(let a): return "bus: range of \(a) is outside the address space"
        }
    }
}

/// The guest physical address space: RAM as one anonymous mmap, ROM images, MMIO windows.
/// RAM is visible at [0, lowRAMEnd) and, for large guests, from 4 GiB upward.
public final class PhysicalMemory {
    public let ram: UnsafeMutablePointer<UInt8>
    public let ramSize: UInt64
    public let lowRAMEnd: UInt64
    /// Physical-address mask for the A20 gate (bit 20 cleared when the gate is closed).
    public var a20Mask: UInt64 = ~0
    /// Called after a physical range in RAM is written by something other than the CPU's
    /// own stores (DMA); the JIT hooks this for code invalidation.
    public var onExternalWrite: ((UInt64, UInt64) -> Void)?
    /// Write tracking for translated code (set by the JIT): one byte per 4 KiB page of RAM (index
    /// = RAM offset >> 12), nonzero when code was translated from the page. Such pages are never
    /// handed out writable by `hostPointer` (so they stay out of the write TLB and every CPU store
    /// to them takes the slow path), and `onCodeWrite` hears of each such store (RAM offset, bytes).
    public var codePages: UnsafeMutablePointer<UInt8>?
    public var onCodeWrite: ((UInt64, Int) -> Void)?

    @inline(__always) func noteCodeWrite(_ p: UnsafeMutablePointer<UInt8>, _ size: Int) {
        if let cp = codePages {
            let off = p - ram
            if cp[off >> 12] != 0 || cp[(off + size - 1) >> 12] != 0 { onCodeWrite?(UInt64(off), size) }
        }
    }

    struct Region {
        var start: UInt64
        var end: UInt64          // exclusive
        var name: String
        var rom: UnsafeMutablePointer<UInt8>?  // ROM contents (read-only to the guest)
        var device: IODevice?
        var ownsROM = true       // `rom` was allocated by mapROM (else it points into RAM or another ROM)
        var writesToRAM = false  // shadow segment: guest writes go to the RAM underneath
    }
    private(set) var regions: [Region] = []

    /// Unknown physical accesses (no RAM, ROM or device): counted, reads give all-ones.
    public private(set) var unassignedAccesses: UInt64 = 0

    /// - Parameters:
    ///   - ramSize: bytes of RAM.
    ///   - holeStart: where low RAM ends if RAM is larger (the PCI hole); RAM above continues at 4 GiB.
    public init(ramSize: UInt64, holeStart: UInt64 = 0xE000_0000) {
        self.ramSize = ramSize
        let p = mmap(nil, Int(ramSize), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else { fatalError("cannot map \(ramSize) bytes of guest RAM") }
        ram = p.assumingMemoryBound(to: UInt8.self)
        lowRAMEnd = min(ramSize, holeStart)
    }

    deinit {
        munmap(ram, Int(ramSize))
        for r in regions where r.ownsROM {
            if let rom = r.rom {
                let m = PhysicalMemory.romMapping(start: r.start, count: Int(r.end - r.start))
                munmap(UnsafeMutableRawPointer(rom - m.offset), m.length)
            }
        }
    }

    /// The page-aligned host mapping behind a ROM image of `count` bytes at guest `start`: the
    /// image sits at `offset` = start mod 4 KiB, so host and guest addresses are congruent modulo
    /// the page size and whole guest pages of the image are whole host pages (KVM memory slots).
    static func romMapping(start: UInt64, count: Int) -> (offset: Int, length: Int) {
        let offset = Int(start & 0xFFF)
        return (offset, (offset + count + 0xFFF) & ~0xFFF)
    }

    /// Zeroes all of RAM (machine reset) by handing the pages back to the kernel.
    public func clearRAM() {
        if madvise(ram, Int(ramSize), MADV_DONTNEED) != 0 { memset(ram, 0, Int(ramSize)) }
        onExternalWrite?(0, ramSize)
    }

    /// Maps a ROM image (copied) at `start`. ROM overlays RAM; writes to it are ignored.
    /// The storage is page-aligned anonymous memory (see `romMapping`), so accelerators can map
    /// it into the guest directly.
    public func mapROM(at start: UInt64, data: [UInt8], name: String) throws {
        guard !data.isEmpty, start < (1 << 52) else { throw BusError.outOfRange(name) }
        let m = PhysicalMemory.romMapping(start: start, count: data.count)
        let raw = mmap(nil, m.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { fatalError("cannot map \(m.length) bytes for ROM \(name)") }
        let p = (raw + m.offset).assumingMemoryBound(to: UInt8.self)
        p.initialize(from: data, count: data.count)
        do {
            try addRegion(Region(start: start, end: start + UInt64(data.count), name: name, rom: p, device: nil))
        } catch {
            munmap(raw, m.length)
            throw error
        }
    }

    /// Maps an MMIO device window.
    public func mapMMIO(at start: UInt64, size: UInt64, name: String, device: IODevice) throws {
        try addRegion(Region(start: start, end: start + size, name: name, rom: nil, device: device))
    }

    /// Routes one shadow-RAM segment (the i440FX PAM registers): reads come from RAM when
    /// `readRAM`, else from `romSource` (a ROM image's bytes for this segment; nil = nothing,
    /// reads all-ones); writes go to RAM when `writeRAM`, else are dropped. The caller flushes
    /// the CPU's TLB afterwards.
    public func setShadow(base: UInt64, size: UInt64, readRAM: Bool, writeRAM: Bool,
                          romSource: UnsafeMutablePointer<UInt8>?) {
        let name = "shadow-\(String(base, radix: 16))"
        regions.removeAll { $0.name == name }
        if readRAM && writeRAM { return }
        var r = Region(start: base, end: base + size, name: name, rom: nil, device: nil)
        r.ownsROM = false
        r.writesToRAM = writeRAM
        r.rom = readRAM ? ramPointer(base) : romSource
        regions.append(r)
        regions.sort { $0.start < $1.start }
    }

    /// What a region is, for accelerators that map the address space elsewhere (KVM slots).
    public enum RegionKind: Sendable {
        case rom       // a ROM image (read-only to the guest)
        case mmio      // a device window
        case shadow    // a shadow segment (setShadow): reads from `host` (RAM or a ROM image, nil =
                       // all-ones), writes to RAM when `writesToRAM`, else dropped
    }

    /// A read-only description of one ROM, MMIO or shadow region.
    public struct RegionInfo {
        public let start: UInt64
        public let end: UInt64          // exclusive
        public let name: String
        public let kind: RegionKind
        /// Host bytes the guest reads at `start` (ROM image, or the RAM/ROM a shadow segment reads).
        public let host: UnsafeMutablePointer<UInt8>?
        public let writesToRAM: Bool
    }

    /// The ROM, MMIO and shadow regions, sorted by start (RAM is everything else below
    /// `lowRAMEnd` and from 4 GiB up).
    public var regionInfos: [RegionInfo] {
        regions.map { r in
            let kind: RegionKind = r.device != nil ? .mmio : (r.ownsROM ? .rom : .shadow)
            return RegionInfo(start: r.start, end: r.end, name: r.name, kind: kind, host: r.rom,
                              writesToRAM: r.writesToRAM)
        }
    }

    /// Host pointer to the bytes of a mapped ROM region (for shadow routing), or nil.
    public func romPointer(named name: String) -> UnsafeMutablePointer<UInt8>? {
        regions.first { $0.name == name }?.rom
    }

    private func addRegion(_ r: Region) throws {
        if r.end <= r.start || r.end > (1 << 52) { throw BusError.outOfRange(r.name) }
        for o in regions where r.start < o.end && o.start < r.end {
            throw BusError.overlap(r.name, o.name)
        }
        regions.append(r)
        regions.sort { $0.start < $1.start }
    }

    @inline(__always) func region(at pa: UInt64) -> Region? {
        for r in regions where pa >= r.start && pa < r.end { return r }
        return nil
    }

    /// Host pointer for a physical byte when it is ordinary RAM (or ROM, for reads), else nil.
    /// The pointer is valid to the end of the 4 KiB page containing `pa`.
    public func hostPointer(_ pa: UInt64, write: Bool) -> UnsafeMutablePointer<UInt8>? {
        if let r = region(at: pa) {
            if let rom = r.rom, !write { return rom + Int(pa - r.start) }
            return nil
        }
        guard let p = ramPointer(pa) else { return nil }
        if write, let cp = codePages, cp[(p - ram) >> 12] != 0 { return nil }
        return p
    }

    @inline(__always) public func ramPointer(_ pa: UInt64) -> UnsafeMutablePointer<UInt8>? {
        if pa < lowRAMEnd { return ram + Int(pa) }
        if pa >= 0x1_0000_0000 && ramSize > lowRAMEnd {
            let off = pa - 0x1_0000_0000 + lowRAMEnd
            if off < ramSize { return ram + Int(off) }
        }
        return nil
    }

    /// Slow-path physical read of 1, 2, 4 or 8 bytes (little-endian), for MMIO and unmapped.
    /// Physical addresses are at most 52 bits; anything beyond (guest-controlled DMA addresses
    /// near 2^64 included) is unassigned, which also keeps the sums below free of overflow.
    public static let maxPhysical: UInt64 = 1 << 52

    public func read(_ pa: UInt64, size: Int) -> UInt64 {
        if pa >= PhysicalMemory.maxPhysical {
            unassignedAccesses &+= 1
            return size == 8 ? ~0 : (1 << (8 * UInt64(size))) - 1
        }
        if let r = region(at: pa) {
            if let dev = r.device {
                if pa + UInt64(size) <= r.end { return dev.ioRead(offset: pa - r.start, size: size) }
            } else if let rom = r.rom, pa + UInt64(size) <= r.end {
                var v: UInt64 = 0
                for i in 0..<size { v |= UInt64(rom[Int(pa - r.start) + i]) << (8 * UInt64(i)) }
                return v
            } else if r.rom == nil && r.device == nil && pa + UInt64(size) <= r.end {
                return size == 8 ? ~0 : (1 << (8 * UInt64(size))) - 1
            }
            // Straddles a region edge: assemble bytewise.
            var v: UInt64 = 0
            for i in 0..<size { v |= read(pa + UInt64(i), size: 1) << (8 * UInt64(i)) }
            return v
        }
        if let p = ramPointer(pa) {
            if pa + UInt64(size) <= lowRAMEnd || ramPointer(pa + UInt64(size) - 1) == p + (size - 1) {
                var v: UInt64 = 0
                memcpy(&v, p, size)
                return v
            }
            var v: UInt64 = 0
            for i in 0..<size { v |= read(pa + UInt64(i), size: 1) << (8 * UInt64(i)) }
            return v
        }
        unassignedAccesses &+= 1
        return size == 8 ? ~0 : (1 << (8 * UInt64(size))) - 1
    }

    public func write(_ pa: UInt64, size: Int, value: UInt64) {
        if pa >= PhysicalMemory.maxPhysical { unassignedAccesses &+= 1; return }
        if let r = region(at: pa) {
            if let dev = r.device, pa + UInt64(size) <= r.end {
                dev.ioWrite(offset: pa - r.start, size: size, value: value)
            } else if r.device == nil && pa + UInt64(size) <= r.end {
                // ROM: writes ignored, unless this is a shadow segment routed to RAM.
                if r.writesToRAM, let p = ramPointer(pa) {
                    var v = value
                    memcpy(p, &v, size)
                    noteCodeWrite(p, size)
                }
            } else {
                for i in 0..<size { write(pa + UInt64(i), size: 1, value: value >> (8 * UInt64(i))) }
            }
            return
        }
        if let p = ramPointer(pa) {
            if ramPointer(pa + UInt64(size) - 1) == p + (size - 1) {
                var v = value
                memcpy(p, &v, size)
                noteCodeWrite(p, size)
            } else {
                for i in 0..<size { write(pa + UInt64(i), size: 1, value: value >> (8 * UInt64(i))) }
            }
            return
        }
        unassignedAccesses &+= 1
    }

    /// Bulk copy into guest RAM for loaders and DMA. Returns false if the range is not all RAM.
    @discardableResult
    public func writeBytes(_ pa: UInt64, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count > 0 else { return true }
        guard pa < PhysicalMemory.maxPhysical, UInt64(bytes.count) <= ramSize, let p = ramPointer(pa), let q = ramPointer(pa + UInt64(bytes.count) - 1),
              q - p == bytes.count - 1 else { return false }
        memcpy(p, bytes.baseAddress!, bytes.count)
        onExternalWrite?(pa, UInt64(bytes.count))
        return true
    }

    /// Bulk copy out of guest RAM. Returns nil if the range is not all RAM.
    public func readBytes(_ pa: UInt64, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        guard pa < PhysicalMemory.maxPhysical, UInt64(count) <= ramSize, let p = ramPointer(pa), let q = ramPointer(pa + UInt64(count) - 1), q - p == count - 1 else { return nil }
        return Array(UnsafeBufferPointer(start: p, count: count))
    }
}

/// The 64 Ki I/O port space: a flat table from port to device slot; ranges may not overlap.
public final class PortBus {
    private var slot: UnsafeMutablePointer<UInt16>   // 0 = unassigned
    private var devices: [(device: IODevice, base: UInt16, name: String)] = []
    public private(set) var unassignedAccesses: UInt64 = 0
    public var logUnassigned = false

    public init() {
        slot = .allocate(capacity: 65536)
        slot.initialize(repeating: 0, count: 65536)
    }
    deinit { slot.deallocate() }

    public func register(_ device: IODevice, base: UInt16, count: Int, name: String) throws {
        guard count > 0, Int(base) + count <= 65536 else { throw BusError.outOfRange(name) }
        for p in Int(base)..<(Int(base) + count) where slot[p] != 0 {
            throw BusError.overlap(name, devices[Int(slot[p]) - 1].name)
        }
        // A device moved after `unregister` reuses its slot (guests may move BARs endlessly).
        if let i = devices.firstIndex(where: { $0.device === device && $0.name == name }),
           !(0..<65536).contains(where: { Int(slot[$0]) == i + 1 }) {
            devices[i].base = base
            for p in Int(base)..<(Int(base) + count) { slot[p] = UInt16(i + 1) }
            return
        }
        guard devices.count < 65535 else { throw BusError.outOfRange(name) }
        devices.append((device, base, name))
        for p in Int(base)..<(Int(base) + count) { slot[p] = UInt16(devices.count) }
    }

    /// Removes every range `device` was registered at (for relocatable ranges such as PCI I/O
    /// BARs and the PM block: unregister, then register at the new base).
    public func unregister(_ device: IODevice) {
        for (i, d) in devices.enumerated() where d.device === device {
            for p in 0..<65536 where Int(slot[p]) == i + 1 { slot[p] = 0 }
        }
    }

    @inline(__always)
    public func read(_ port: UInt16, size: Int) -> UInt32 {
        let s = Int(slot[Int(port)])
        if s == 0 {
            unassignedAccesses &+= 1
            return size == 4 ? ~0 : (1 << (8 * UInt32(size))) - 1
        }
        let d = devices[s - 1]
        return UInt32(truncatingIfNeeded: d.device.ioRead(offset: UInt64(port &- d.base), size: size))
    }

    @inline(__always)
    public func write(_ port: UInt16, size: Int, value: UInt32) {
        let s = Int(slot[Int(port)])
        if s == 0 { unassignedAccesses &+= 1; return }
        let d = devices[s - 1]
        d.device.ioWrite(offset: UInt64(port &- d.base), size: size, value: UInt64(value))
    }
}
