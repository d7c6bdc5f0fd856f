import CPU
import CPUState
#if canImport(Glibc)
import Glibc
#endif

/// One entry of the BIOS e820 memory map.
public struct E820Entry: Equatable, Sendable {
    public enum Kind: UInt32, Sendable { case ram = 1, reserved = 2, acpi = 3, nvs = 4 }
    public var base: UInt64
    public var length: UInt64
    public var kind: Kind
    public init(base: UInt64, length: UInt64, kind: Kind) {
        self.base = base; self.length = length; self.kind = kind
    }
}

/// Reads a whole file given by the user, with one clear line on failure.
func readUserFile(_ path: String, what: String, maxSize: Int = 1 << 31) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw UserError("emu: cannot open \(what) '\(path)': \(String(cString: strerror(errno))); check the path")
    }
    defer { fclose(f) }
    var st = stat()
    if fstat(fileno(f), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
        throw UserError("emu: \(what) '\(path)' is a directory; give a file")
    }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n > 0 { data.append(contentsOf: buf[0..<n]) }
        if data.count > maxSize { throw UserError("emu: \(what) '\(path)' is larger than \(maxSize >> 20) MiB") }
        if n < buf.count { break }
    }
    if ferror(f) != 0 { throw UserError("emu: cannot read \(what) '\(path)'; check the file") }
    if data.isEmpty { throw UserError("emu: \(what) '\(path)' is empty") }
    return data
}

@inline(__always) func le16(_ b: [UInt8], _ o: Int) -> UInt16 { o + 2 <= b.count ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : 0 }
@inline(__always) func le32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(le16(b, o)) | UInt32(le16(b, o + 2)) << 16 }
@inline(__always) func le64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(le32(b, o)) | UInt64(le32(b, o + 4)) << 32 }
@inline(__always) func put16(_ b: inout [UInt8], _ o: Int, _ v: UInt16) { b[o] = UInt8(v & 0xFF); b[o + 1] = UInt8(v >> 8) }
@inline(__always) func put32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) { put16(&b, o, UInt16(v & 0xFFFF)); put16(&b, o + 2, UInt16(v >> 16)) }
@inline(__always) func put64(_ b: inout [UInt8], _ o: Int, _ v: UInt64) { put32(&b, o, UInt32(v & 0xFFFF_FFFF)); put32(&b, o + 4, UInt32(v >> 32)) }

/// What kind of image `--kernel` names.
public enum KernelFormat: Equatable, Sendable {
    case bzImage
    case multiboot(headerOffset: Int)

    /// Recognises a Linux bzImage (boot sector signature plus "HdrS") or a multiboot v1 header
    /// in the first 8 KiB; anything else is a user error.
    public static func detect(_ image: [UInt8], path: String) throws -> KernelFormat {
        if image.count >= 0x250 && le16(image, 0x1FE) == 0xAA55 && le32(image, 0x202) == 0x5372_6448 {
            return .bzImage
        }
        var o = 0
        while o + 12 <= min(image.count, 8192) {
            if le32(image, o) == Multiboot.magic {
                let flags = le32(image, o + 4), sum = le32(image, o + 8)
                if Multiboot.magic &+ flags &+ sum == 0 { return .multiboot(headerOffset: o) }
            }
            o += 4
        }
        throw UserError("emu: kernel '\(path)' is not a Linux bzImage or a multiboot kernel; give a bzImage (e.g. /boot/vmlinuz-*) or a multiboot ELF")
    }
}

/// Fixed guest-physical addresses the direct loaders use (all below 1 MiB, all RAM).
enum BootLayout {
    static let gdt: UInt64 = 0x500
    static let pml4: UInt64 = 0x1000        // 0x1000 PML4, 0x2000 PDPT, 0x3000-0x6FFF four PDs
    static let zeroPage: UInt64 = 0x7000
    static let multibootInfo: UInt64 = 0x9000
    static let multibootMMap: UInt64 = 0x9400
    static let multibootStrings: UInt64 = 0x9800
    static let acpi: UInt64 = 0xE_0000     // RSDP + tables (reserved in e820)
    static let acpiSize: UInt64 = 0x1_0000
    static let cmdline: UInt64 = 0x2_0000
    static let cmdlineMax = 0x1_0000
    static let kernel: UInt64 = 0x10_0000
}

/// The x86 Linux boot protocol (Documentation/arch/x86/boot.rst), as a boot loader without
/// firmware: the protected-mode kernel at 1 MiB, a zero page with the setup header, e820,
/// command line and initrd, and entry in 64-bit mode (startup_64 at +0x200) with an identity
/// map of the low 4 GiB, or at code32_start in flat 32-bit mode for kernels without XLF_KERNEL_64.
public struct LinuxLoader {
    public enum Offset {
        static let setupSects = 0x1F1, vidMode = 0x1FA, bootFlag = 0x1FE, jump = 0x200, header = 0x202
        static let version = 0x206, typeOfLoader = 0x210, loadFlags = 0x211, code32Start = 0x214
        static let ramdiskImage = 0x218, ramdiskSize = 0x21C, heapEndPtr = 0x224, cmdLinePtr = 0x228
        static let initrdAddrMax = 0x22C, relocatable = 0x234, xloadflags = 0x236, cmdlineSize = 0x238
        static let prefAddress = 0x258, initSize = 0x260
        static let acpiRSDPAddr = 0x070, extRamdiskImage = 0x0C0, extRamdiskSize = 0x0C4, extCmdLinePtr = 0x0C8
        static let e820Entries = 0x1E8, e820Table = 0x2D0
    }
    public static let maxE820 = 128

    public struct Result {
        public var entry64: Bool
        public var entry: UInt64
        public var initrdAddress: UInt64?
    }

    /// Loads `image` (+ `initrd`) into `mem` and sets the CPU at the kernel entry.
    public static func load(image: [UInt8], initrd: [UInt8]?, cmdline: String, kernelPath: String,
                            e820: [E820Entry], rsdp: UInt64?, mem: PhysicalMemory, cpu: CPU) throws -> Result {
        let version = le16(image, Offset.version)
        guard version >= 0x0206 else {
            throw UserError("emu: kernel '\(kernelPath)' uses boot protocol \(version >> 8).\(version & 0xFF); emu needs 2.06 or later (Linux 2.6.22+)")
        }
        guard image[Offset.loadFlags] & 1 != 0 else {
            throw UserError("emu: kernel '\(kernelPath)' is a zImage (loads low); give a bzImage")
        }
        let setupSects = image[Offset.setupSects] == 0 ? 4 : Int(image[Offset.setupSects])
        let kernelOffset = (setupSects + 1) * 512
        guard kernelOffset < image.count else {
            throw UserError("emu: kernel '\(kernelPath)' is truncated (setup claims \(setupSects) sectors); give a complete bzImage")
        }
        let protectedSize = image.count - kernelOffset
        let xload = le16(image, Offset.xloadflags)
        let entry64 = version >= 0x020C && xload & 1 != 0
        var initSize = UInt64(le32(image, Offset.initSize))
        if version < 0x020A || initSize == 0 { initSize = UInt64(protectedSize) * 4 }
        let kernelEnd = BootLayout.kernel + max(initSize, UInt64(protectedSize))
        guard kernelEnd + (1 << 20) <= mem.lowRAMEnd else {
            throw UserError("emu: kernel '\(kernelPath)' needs \((kernelEnd >> 20) + 1) MiB of RAM to unpack; give more --ram")
        }
        guard image.withUnsafeBytes({ mem.writeBytes(BootLayout.kernel, UnsafeRawBufferPointer(rebasing: $0[kernelOffset...])) }) else {
            throw UserError("emu: kernel '\(kernelPath)' does not fit in RAM; give more --ram")
        }

        // The zero page: the setup header copied from the image, then our fields.
        var bp = [UInt8](repeating: 0, count: 4096)
        let headerEnd = min(0x202 + Int(image[0x201]), image.count, 0x290)
        for i in Offset.setupSects..<headerEnd { bp[i] = image[i] }
        put16(&bp, Offset.vidMode, 0xFFFF)
        bp[Offset.typeOfLoader] = 0xFF
        bp[Offset.loadFlags] |= 0x80                      // CAN_USE_HEAP
        put16(&bp, Offset.heapEndPtr, 0xFE00)
        // Command line.
        var cl = Array(cmdline.utf8)
        let clMax = version >= 0x0206 ? Int(le32(image, Offset.cmdlineSize)) : 255
        if cl.count > min(clMax, BootLayout.cmdlineMax - 1) {
            throw UserError("emu: kernel command line is \(cl.count) bytes; this kernel takes at most \(clMax)")
        }
        cl.append(0)
        cl.withUnsafeBytes { _ = mem.writeBytes(BootLayout.cmdline, $0) }
        put32(&bp, Offset.cmdLinePtr, UInt32(BootLayout.cmdline))
        // Initrd: as high as allowed, page aligned, above the unpacked kernel.
        var initrdAddr: UInt64?
        if let initrd, !initrd.isEmpty {
            var maxAddr = UInt64(le32(image, Offset.initrdAddrMax))
            if maxAddr == 0 { maxAddr = 0x37FF_FFFF }
            let top = min(maxAddr + 1, mem.lowRAMEnd)
            let size = UInt64(initrd.count)
            guard top > size, (top - size) & ~0xFFF >= kernelEnd else {
                throw UserError("emu: initrd (\(initrd.count >> 20) MiB) and kernel do not fit in \(mem.ramSize >> 20) MiB of RAM; give more --ram")
            }
            let addr = (top - size) & ~0xFFF
            initrd.withUnsafeBytes { _ = mem.writeBytes(addr, $0) }
            put32(&bp, Offset.ramdiskImage, UInt32(addr))
            put32(&bp, Offset.ramdiskSize, UInt32(size))
            initrdAddr = addr
        }
        // e820.
        let entries = e820.prefix(maxE820)
        bp[Offset.e820Entries] = UInt8(entries.count)
        for (i, e) in entries.enumerated() {
            let o = Offset.e820Table + i * 20
            put64(&bp, o, e.base)
            put64(&bp, o + 8, e.length)
            put32(&bp, o + 16, e.kind.rawValue)
        }
        if let rsdp, version >= 0x020E { put64(&bp, Offset.acpiRSDPAddr, rsdp) }
        bp.withUnsafeBytes { _ = mem.writeBytes(BootLayout.zeroPage, $0) }

        if entry64 {
            writeIdentityPageTables(mem)
            writeFlatGDT(mem)
            enterLongMode(cpu, entry: BootLayout.kernel + 0x200)
            cpu.gpr[6] = BootLayout.zeroPage      // RSI
            return Result(entry64: true, entry: BootLayout.kernel + 0x200, initrdAddress: initrdAddr)
        }
        writeFlatGDT(mem)
        let entry = UInt64(le32(image, Offset.code32Start))
        enterProtectedMode(cpu, entry: entry == 0 ? BootLayout.kernel : entry)
        cpu.gpr[6] = BootLayout.zeroPage          // ESI
        return Result(entry64: false, entry: cpu.rip, initrdAddress: initrdAddr)
    }

    /// PML4 → one PDPT → four page directories of 2 MiB pages: identity map of 0-4 GiB.
    static func writeIdentityPageTables(_ mem: PhysicalMemory) {
        let base = BootLayout.pml4
        mem.write(base, size: 8, value: (base + 0x1000) | 3)
        for i in 0..<4 {
            let pd = base + 0x2000 + UInt64(i) * 0x1000
            mem.write(base + 0x1000 + UInt64(i) * 8, size: 8, value: pd | 3)
            for j in 0..<512 {
                let pa = (UInt64(i) << 30) | (UInt64(j) << 21)
                mem.write(pd + UInt64(j) * 8, size: 8, value: pa | 0x83)
            }
        }
    }

    /// GDT: 0x08 unused, 0x10 code (64-bit: L; 32-bit: D), 0x18 data, as the boot protocol wants.
    static func writeFlatGDT(_ mem: PhysicalMemory) {
        let g = BootLayout.gdt
        mem.write(g, size: 8, value: 0)
        mem.write(g + 8, size: 8, value: 0)
        mem.write(g + 0x10, size: 8, value: 0x00AF_9B00_0000_FFFF)   // 64-bit code
        mem.write(g + 0x18, size: 8, value: 0x00CF_9300_0000_FFFF)   // data
        mem.write(g + 0x20, size: 8, value: 0x00CF_9B00_0000_FFFF)   // 32-bit code
    }

    static func flatSegment(_ selector: UInt16, code: Bool, long: Bool) -> SegmentCache {
        var attr = UInt16(ATTR_P | ATTR_S | ATTR_G) | (code ? 0xB : 0x3)
        attr |= long ? UInt16(ATTR_L) : UInt16(ATTR_DB)
        return SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: selector, attr: attr)
    }

    static func setFlatData(_ cpu: CPU) {
        for i in [0, 2, 3, 4, 5] { cpu.sreg[i] = flatSegment(0x18, code: false, long: false) }
        cpu.s.pointee.gdtr.base = BootLayout.gdt
        cpu.s.pointee.gdtr.limit = 0x27
        cpu.sreg[6] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | 0x2))
        cpu.sreg[7] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | 0xB))
        cpu.s.pointee.rflags = 2
        cpu.s.pointee.cpl = 0
    }

    static func enterLongMode(_ cpu: CPU, entry: UInt64) {
        setFlatData(cpu)
        cpu.sreg[1] = flatSegment(0x10, code: true, long: true)
        cpu.s.pointee.cr0 = 0x8000_0031   // PG | NE | ET | PE
        cpu.s.pointee.cr3 = BootLayout.pml4
        cpu.s.pointee.cr4 = 0x20          // PAE
        cpu.s.pointee.efer = 0x500        // LME | LMA
        cpu.rip = entry
        cpu.updateMode()
        cpu.flushTLB()
    }

    static func enterProtectedMode(_ cpu: CPU, entry: UInt64) {
        setFlatData(cpu)
        cpu.sreg[1] = flatSegment(0x20, code: true, long: false)
        cpu.s.pointee.cr0 = 0x31          // NE | ET | PE
        cpu.s.pointee.cr4 = 0
        cpu.s.pointee.efer = 0
        cpu.rip = entry
        cpu.updateMode()
        cpu.flushTLB()
    }
}

/// Multiboot v1 (the GNU Multiboot Specification 0.6.96): a.out-kludge or ELF32 kernels,
/// entered in flat 32-bit protected mode with EAX = 0x2BADB002 and EBX = the info structure.
public enum Multiboot {
    public static let magic: UInt32 = 0x1BAD_B002
    public static let bootloaderMagic: UInt32 = 0x2BAD_B002

    public static func load(image: [UInt8], headerOffset: Int, initrd: [UInt8]?, cmdline: String,
                            kernelPath: String, e820: [E820Entry], mem: PhysicalMemory, cpu: CPU) throws {
        let flags = le32(image, headerOffset + 4)
        func bad(_ why: String) -> UserError {
            UserError("emu: multiboot kernel '\(kernelPath)': \(why); check the image")
        }
        if flags & 0xFFFC != 0 && flags & (1 << 2) == 0 {
            // Bits 0-15 other than 0/1 are required features we do not know (bit 2 = video: ignored).
        }
        var entry: UInt64
        var highest: UInt64 = 0
        if flags & (1 << 16) != 0 {
            let h = headerOffset
            let headerAddr = UInt64(le32(image, h + 12)), loadAddr = UInt64(le32(image, h + 16))
            let loadEnd = UInt64(le32(image, h + 20)), bssEnd = UInt64(le32(image, h + 24))
            entry = UInt64(le32(image, h + 28))
            guard headerAddr >= loadAddr, UInt64(h) >= headerAddr - loadAddr else { throw bad("header_addr is below load_addr") }
            let fileStart = UInt64(h) - (headerAddr - loadAddr)
            let length = loadEnd == 0 ? UInt64(image.count) - fileStart : loadEnd - loadAddr
            guard loadEnd == 0 || loadEnd >= loadAddr, fileStart + length <= UInt64(image.count) else { throw bad("load range exceeds the file") }
            guard image.withUnsafeBytes({ mem.writeBytes(loadAddr, UnsafeRawBufferPointer(rebasing: $0[Int(fileStart)..<Int(fileStart + length)])) }) else {
                throw bad("it loads outside RAM at \(hex(loadAddr))")
            }
            highest = loadAddr + length
            if bssEnd > highest {
                let zeros = [UInt8](repeating: 0, count: Int(min(bssEnd - highest, 1 << 30)))
                guard zeros.withUnsafeBytes({ mem.writeBytes(highest, $0) }) else { throw bad("bss outside RAM") }
                highest = bssEnd
            }
        } else {
            // ELF32 program headers.
            guard image.count >= 52, image[0] == 0x7F, image[1] == 0x45, image[2] == 0x4C, image[3] == 0x46 else {
                throw bad("no address fields in the header and not an ELF file")
            }
            guard image[4] == 1 else { throw bad("ELF class is not 32-bit (multiboot v1 loads ELF32)") }
            entry = UInt64(le32(image, 24))
            let phoff = Int(le32(image, 28)), phentsize = Int(le16(image, 42)), phnum = Int(le16(image, 44))
            guard phentsize >= 32, phoff + phnum * phentsize <= image.count else { throw bad("program headers exceed the file") }
            for i in 0..<phnum {
                let p = phoff + i * phentsize
                guard le32(image, p) == 1 else { continue }   // PT_LOAD
                let off = Int(le32(image, p + 4)), paddr = UInt64(le32(image, p + 12))
                let filesz = Int(le32(image, p + 16)), memsz = UInt64(le32(image, p + 20))
                guard off + filesz <= image.count, UInt64(filesz) <= memsz else { throw bad("segment \(i) exceeds the file") }
                if filesz > 0 {
                    guard image.withUnsafeBytes({ mem.writeBytes(paddr, UnsafeRawBufferPointer(rebasing: $0[off..<(off + filesz)])) }) else {
                        throw bad("segment \(i) loads outside RAM at \(hex(paddr))")
                    }
                }
                if memsz > UInt64(filesz) {
                    let zeros = [UInt8](repeating: 0, count: Int(min(memsz - UInt64(filesz), 1 << 30)))
                    guard zeros.withUnsafeBytes({ mem.writeBytes(paddr + UInt64(filesz), $0) }) else { throw bad("segment \(i) bss outside RAM") }
                }
                highest = max(highest, paddr + memsz)
            }
        }
        // Boot information.
        var info = [UInt8](repeating: 0, count: 0x58)
        var infoFlags: UInt32 = 1 | 1 << 2 | 1 << 6 | 1 << 9   // mem, cmdline, mmap, loader name
        let low = e820.first { $0.base == 0 && $0.kind == .ram }?.length ?? 0xA_0000
        let upper = e820.first { $0.base == 0x10_0000 && $0.kind == .ram }?.length ?? 0
        put32(&info, 4, UInt32(low / 1024))
        put32(&info, 8, UInt32(min(upper / 1024, 0xFFFF_FFFF)))
        // Strings.
        var strings: [UInt8] = []
        let cmdAddr = BootLayout.multibootStrings
        strings += Array((kernelPath + (cmdline.isEmpty ? "" : " " + cmdline)).utf8) + [0]
        let nameAddr = cmdAddr + UInt64(strings.count)
        strings += Array("emu".utf8) + [0]
        guard strings.count < 0x800 else { throw UserError("emu: kernel command line is too long for multiboot (max ~2000 bytes)") }
        strings.withUnsafeBytes { _ = mem.writeBytes(cmdAddr, $0) }
        put32(&info, 16, UInt32(cmdAddr))
        put32(&info, 64, UInt32(nameAddr))
        // Module: the initrd, page aligned above the kernel.
        if let initrd, !initrd.isEmpty {
            let start = (max(highest, 0x20_0000) + 0xFFF) & ~0xFFF
            guard initrd.withUnsafeBytes({ mem.writeBytes(start, $0) }) else {
                throw UserError("emu: module (\(initrd.count >> 20) MiB) does not fit in RAM above the kernel; give more --ram")
            }
            var mod = [UInt8](repeating: 0, count: 16)
            put32(&mod, 0, UInt32(start))
            put32(&mod, 4, UInt32(start + UInt64(initrd.count)))
            let modAddr = BootLayout.multibootInfo + 0x100
            mod.withUnsafeBytes { _ = mem.writeBytes(modAddr, $0) }
            infoFlags |= 1 << 3
            put32(&info, 20, 1)
            put32(&info, 24, UInt32(modAddr))
        }
        // Memory map: entries of size 20 preceded by their size field.
        var mmap: [UInt8] = []
        for e in e820.prefix(40) {
            var m = [UInt8](repeating: 0, count: 24)
            put32(&m, 0, 20)
            put64(&m, 4, e.base)
            put64(&m, 12, e.length)
            put32(&m, 20, e.kind.rawValue)
            mmap += m
        }
        mmap.withUnsafeBytes { _ = mem.writeBytes(BootLayout.multibootMMap, $0) }
        put32(&info, 44, UInt32(mmap.count))
        put32(&info, 48, UInt32(BootLayout.multibootMMap))
        put32(&info, 0, infoFlags)
        info.withUnsafeBytes { _ = mem.writeBytes(BootLayout.multibootInfo, $0) }

        LinuxLoader.writeFlatGDT(mem)
        LinuxLoader.enterProtectedMode(cpu, entry: entry)
        cpu.gpr[0] = UInt64(bootloaderMagic)
        cpu.gpr[3] = BootLayout.multibootInfo
    }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
