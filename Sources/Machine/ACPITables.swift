import CPU
import Devices

// ACPI tables of the i440FX/PIIX4 PC, for both boot paths:
// - direct boot (no firmware): `ACPITables.layout(_:at:)` or `directBootImage(_:at:)` give the
//   tables with absolute pointers for the machine to copy into guest RAM;
// - SeaBIOS: `ACPITables.fwCfgFiles(_:)` gives QEMU's three fw_cfg files, `etc/acpi/tables`,
//   `etc/acpi/rsdp` and `etc/table-loader` (the BIOS linker/loader script that places the two
//   blobs, patches the pointers and computes the checksums).
// Both come from one `ACPIBlob`: the tables laid out from offset 0 plus the list of pointer
// fields and checksum fields; relocation for direct boot runs the same list the loader runs.
//
// Table layout in the tables blob (as QEMU): FACS (64-byte aligned, first), DSDT, FACP (FADT),
// APIC (MADT), HPET (when configured), RSDT, XSDT. The RSDP (ACPI 2.0, revision 2) points at
// both the RSDT and the XSDT.

/// What the tables describe. Defaults are QEMU's `pc` machine with one CPU.
public struct ACPIConfig: Sendable, Equatable {
    /// A 16550 UART described in the DSDT's ISA bridge.
    public struct SerialPort: Sendable, Equatable {
        public var port: UInt16
        public var irq: UInt8
        public init(port: UInt16, irq: UInt8) { self.port = port; self.irq = irq }
        public static let com1 = SerialPort(port: 0x3F8, irq: 4)
        public static let com2 = SerialPort(port: 0x2F8, irq: 3)
    }

    /// Processors (LAPIC IDs and ACPI processor UIDs 0..<cpuCount).
    public var cpuCount = 1
    public var lapicAddress: UInt32 = 0xFEE0_0000
    public var ioapicAddress: UInt32 = 0xFEC0_0000
    public var ioapicID: UInt8 = 0
    public var ioapicGSIBase: UInt32 = 0
    /// PIIX4 PM I/O block (PMBASE). SeaBIOS moves it to 0x600 when it loads fw_cfg tables.
    public var pmBase: UInt16 = 0x600
    /// SCI: ISA IRQ 9 on the PIIX4 (level, active high).
    public var sciIRQ: UInt8 = 9
    /// GPE0 block (4 bytes: 2 status, 2 enable), QEMU's 0xAFE0.
    public var gpe0Base: UInt16 = 0xAFE0
    /// PM timer is 32 bits (FADT TMR_VAL_EXT); must match `ACPIPM(extendedTimer:)`.
    public var pmTimer32Bit = true
    /// FADT reset register: an I/O port and the byte written (PIIX3 RCR 0xCF9 ← 0x06).
    public var resetPort: UInt16 = 0xCF9
    public var resetValue: UInt8 = 0x06
    /// HPET MMIO base, or nil for no HPET table/device.
    public var hpetAddress: UInt64?
    /// HPET event timer block ID (QEMU's: vendor 8086, 3 comparators, 64-bit, legacy routing).
    public var hpetBlockID: UInt32 = 0x8086_A201
    /// The 32-bit PCI memory window: from the end of low RAM to below the IOAPIC.
    public var pciHoleStart: UInt32 = 0xE000_0000
    public var pciHoleEnd: UInt32 = 0xFEBF_FFFF
    /// An optional 64-bit PCI memory window (QWordMemory in PCI0._CRS).
    public var pci64Window: ClosedRange<UInt64>?
    /// ISA IRQs the PCI interrupt links LNKA-D may use (QEMU: 5, 10, 11; SeaBIOS programs 10/11).
    public var pciLinkIRQs: [UInt8] = [5, 10, 11]
    /// UARTs listed under the ISA bridge.
    public var serialPorts: [SerialPort] = [.com1, .com2]
    /// OEM ID (6 characters) and OEM table ID (8), space padded.
    public var oemID = "EMU   "
    public var oemTableID = "EMUPC   "
    public init() {}
}

/// The tables before placement: `tables` and `rsdp` hold offsets into `tables` in their pointer
/// fields and zero in their checksum fields; `pointers` and `checksums` say what to patch, in
/// the order the BIOS loader applies them (all pointers, then checksums, RSDP last).
public struct ACPIBlob: Sendable, Equatable {
    public enum File: Sendable, Equatable { case tables, rsdp }
    /// A little-endian field of `size` bytes at `offset` in `file` that holds an offset into
    /// the tables blob; placing the blob at B adds B.
    public struct Pointer: Sendable, Equatable {
        public var file: File
        public var offset: Int
        public var size: Int
    }
    /// The byte at `offset` in `file` makes bytes `start ..< start+length` sum to zero.
    public struct Checksum: Sendable, Equatable {
        public var file: File
        public var offset: Int
        public var start: Int
        public var length: Int
    }
    public var tables: [UInt8] = []
    public var rsdp: [UInt8] = []
    public var pointers: [Pointer] = []
    public var checksums: [Checksum] = []
    /// Where each table starts in `tables`, by signature ("FACS", "DSDT", "FACP", …).
    public var tableOffsets: [String: Int] = [:]

    /// The blobs with the tables placed at guest physical `base` (pointers absolute, checksums
    /// computed). The RSDP's own address does not matter to its contents.
    public func relocated(to base: UInt64) -> (tables: [UInt8], rsdp: [UInt8]) {
        var files: [File: [UInt8]] = [.tables: tables, .rsdp: rsdp]
        for p in pointers {
            var v: UInt64 = 0
            for i in 0..<p.size { v |= UInt64(files[p.file]![p.offset + i]) << (8 * UInt64(i)) }
            v &+= base
            for i in 0..<p.size { files[p.file]![p.offset + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        }
        for c in checksums {
            let s = files[c.file]![c.start..<(c.start + c.length)].reduce(UInt8(0), &+)
            files[c.file]![c.offset] &-= s
        }
        return (files[.tables]!, files[.rsdp]!)
    }

    /// The `etc/table-loader` script for these blobs (QEMU hw/acpi/bios-linker-loader.c, read
    /// by SeaBIOS src/fw/romfile_loader.c): 128-byte little-endian entries.
    public func loaderScript() -> [UInt8] {
        typealias L = ACPITables.Loader
        func name(_ f: File) -> String { f == .tables ? ACPITables.tablesFile : ACPITables.rsdpFile }
        var script: [UInt8] = []
        script += L.allocate(ACPITables.tablesFile, align: L.tablesAlignment, zone: L.Zone.high)
        script += L.allocate(ACPITables.rsdpFile, align: L.rsdpAlignment, zone: L.Zone.fseg)
        for p in pointers {
            script += L.addPointer(dest: name(p.file), src: ACPITables.tablesFile, offset: UInt32(p.offset), size: UInt8(p.size))
        }
        for c in checksums {
            script += L.addChecksum(name(c.file), offset: UInt32(c.offset), start: UInt32(c.start), length: UInt32(c.length))
        }
        return script
    }
}

public enum ACPITables {
    public static let tablesFile = "etc/acpi/tables"
    public static let rsdpFile = "etc/acpi/rsdp"
    public static let loaderFile = "etc/table-loader"
    /// APM control port used as SMI_CMD; the PM device answers ACPI_ENABLE/DISABLE there itself.
    public static let smiCommandPort: UInt32 = 0xB2
    /// Direct boot: the RSDP at the start of the BIOS area Linux scans (0xE0000-0xFFFFF, on
    /// 16-byte boundaries); the tables follow it, 64-byte aligned for the FACS.
    public static let directBootBase: UInt64 = 0xE_0000
    public static let directBootTablesOffset: UInt64 = 0x40

    // MARK: Table constants

    /// System description table header (ACPI 6.4 §5.2.6).
    enum Header {
        static let size = 36, lengthOffset = 4, revisionOffset = 8, checksumOffset = 9
        static let oemIDOffset = 10, oemTableIDOffset = 16, oemRevisionOffset = 24
        static let creatorIDOffset = 28, creatorRevisionOffset = 32
        static let creatorID = "EMU ", oemRevision: UInt32 = 1, creatorRevision: UInt32 = 1
    }
    /// RSDP (ACPI 6.4 §5.2.5.3).
    public enum RSDP {
        public static let signature = "RSD PTR ", size = 36, revision: UInt8 = 2
        public static let checksumOffset = 8, oemIDOffset = 9, revisionOffset = 15, rsdtOffset = 16
        public static let lengthOffset = 20, xsdtOffset = 24, extendedChecksumOffset = 32, v1Size = 20
    }
    /// FADT revision 3 (ACPI 2.0 layout, 244 bytes) field offsets (ACPI 6.4 table 5.9).
    public enum FADT {
        public static let revision: UInt8 = 3, size = 244
        public static let firmwareCtrl = 36, dsdt = 40, intModel = 44, pmProfile = 45, sciInt = 46
        public static let smiCmd = 48, acpiEnable = 52, acpiDisable = 53
        public static let pm1aEvtBlk = 56, pm1aCntBlk = 64, pmTmrBlk = 76, gpe0Blk = 80
        public static let pm1EvtLen = 88, pm1CntLen = 89, pmTmrLen = 91, gpe0BlkLen = 92
        public static let pLvl2Lat = 96, pLvl3Lat = 98, century = 108, iapcBootArch = 109, flags = 112
        public static let resetReg = 116, resetValue = 128, xFirmwareCtrl = 132, xDsdt = 140
        public static let xPm1aEvtBlk = 148, xPm1aCntBlk = 172, xPmTmrBlk = 208, xGpe0Blk = 220
        /// Fixed feature flags (table 5.10).
        public enum Flag {
            public static let wbinvd: UInt32 = 1 << 0, procC1: UInt32 = 1 << 2
            public static let powerButton: UInt32 = 1 << 4   // 1 = control-method button (we: fixed, 0)
            public static let sleepButton: UInt32 = 1 << 5   // 1 = control method or none
            public static let tmrValExt: UInt32 = 1 << 8, resetRegSup: UInt32 = 1 << 10
        }
        /// IA-PC boot architecture flags (table 5.11).
        public enum BootArch {
            public static let legacyDevices: UInt16 = 1 << 0, i8042: UInt16 = 1 << 1
        }
        /// P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 mean "no C2/C3".
        public static let noC2: UInt16 = 0x0FFF, noC3: UInt16 = 0xFFFF
        /// INT_MODEL (ACPI 1.0 field): multiple APIC.
        public static let multipleAPIC: UInt8 = 1
        /// CMOS index of the century byte.
        public static let rtcCentury: UInt8 = 0x32
    }
    /// FACS (ACPI 6.4 §5.2.10): 64 bytes, 64-byte aligned, no checksum.
    public enum FACS {
        public static let size = 64, alignment = 64, versionOffset = 32, version: UInt8 = 1
    }
    /// MADT (ACPI 6.4 §5.2.12).
    public enum MADT {
        public static let revision: UInt8 = 3
        public static let pcatCompat: UInt32 = 1
        public enum Entry {
            public static let localAPIC: UInt8 = 0, ioAPIC: UInt8 = 1, interruptOverride: UInt8 = 2
            public static let localAPICNMI: UInt8 = 4
        }
        public static let localAPICEnabled: UInt32 = 1
        /// MPS INTI flags: polarity bits 0-1 (1 high, 3 low), trigger bits 2-3 (1 edge, 3 level).
        public static let conforming: UInt16 = 0, levelActiveHigh: UInt16 = 0x1 | 0x3 << 2
        public static let allProcessors: UInt8 = 0xFF
    }
    /// HPET description table (IA-PC HPET spec 1.0a §3.2.4).
    public enum HPET { public static let size = 56, revision: UInt8 = 1, mmioLength: UInt32 = 0x400 }
    /// Generic address structure (ACPI 6.4 §5.2.3.2).
    public enum GAS {
        public static let systemMemory: UInt8 = 0, systemIO: UInt8 = 1
        public static let byteAccess: UInt8 = 1, wordAccess: UInt8 = 2, dwordAccess: UInt8 = 3
    }

    /// The BIOS linker/loader command format (QEMU hw/acpi/bios-linker-loader.c).
    public enum Loader {
        public static let entrySize = 128, fileNameSize = 56
        public enum Command {
            public static let allocate: UInt32 = 1, addPointer: UInt32 = 2, addChecksum: UInt32 = 3
            public static let writePointer: UInt32 = 4
        }
        public enum Zone { public static let high: UInt8 = 1, fseg: UInt8 = 2 }
        public static let tablesAlignment: UInt32 = 64, rsdpAlignment: UInt32 = 16

        static func entry(_ command: UInt32) -> [UInt8] {
            var e = [UInt8](repeating: 0, count: entrySize)
            put32(&e, 0, command)
            return e
        }
        static func putName(_ e: inout [UInt8], _ at: Int, _ name: String) {
            let b = Array(name.utf8)
            precondition(b.count < fileNameSize, "fw_cfg file name too long")
            e.replaceSubrange(at..<(at + b.count), with: b)
        }
        /// ALLOCATE: file[56] at 4, align u32 at 60, zone u8 at 64.
        public static func allocate(_ file: String, align: UInt32, zone: UInt8) -> [UInt8] {
            var e = entry(Command.allocate)
            putName(&e, 4, file)
            put32(&e, 60, align)
            e[64] = zone
            return e
        }
        /// ADD_POINTER: dest_file[56] at 4, src_file[56] at 60, offset u32 at 116, size u8 at 120.
        public static func addPointer(dest: String, src: String, offset: UInt32, size: UInt8) -> [UInt8] {
            var e = entry(Command.addPointer)
            putName(&e, 4, dest)
            putName(&e, 60, src)
            put32(&e, 116, offset)
            e[120] = size
            return e
        }
        /// ADD_CHECKSUM: file[56] at 4, offset u32 at 60, start u32 at 64, length u32 at 68.
        public static func addChecksum(_ file: String, offset: UInt32, start: UInt32, length: UInt32) -> [UInt8] {
            var e = entry(Command.addChecksum)
            putName(&e, 4, file)
            put32(&e, 60, offset)
            put32(&e, 64, start)
            put32(&e, 68, length)
            return e
        }
    }

    // MARK: Entry points

    /// Direct boot: the tables placed at `base` (64-byte aligned, below 4 GiB) and the RSDP
    /// that points at them (36 bytes; put it on a 16-byte boundary in 0xE0000-0xFFFFF, or give
    /// its address in the zero page's `acpi_rsdp_addr`).
    public static func layout(_ config: ACPIConfig, at base: UInt64) -> (tables: [UInt8], rsdp: [UInt8]) {
        precondition(base % UInt64(FACS.alignment) == 0, "tables must be 64-byte aligned (FACS)")
        let blob = build(config)
        precondition(base + UInt64(blob.tables.count) <= 1 << 32, "32-bit table pointers")
        return blob.relocated(to: base)
    }

    /// Direct boot, one image: the RSDP at `base` (padded to 64 bytes) followed by the tables.
    /// Copy `bytes` to `base` (reserve the range in the e820 map) and pass `rsdp` to the loader.
    public static func directBootImage(_ config: ACPIConfig, at base: UInt64 = directBootBase) -> (bytes: [UInt8], rsdp: UInt64) {
        let r = layout(config, at: base + directBootTablesOffset)
        var bytes = r.rsdp + [UInt8](repeating: 0, count: Int(directBootTablesOffset) - r.rsdp.count)
        bytes += r.tables
        return (bytes, base)
    }

    /// SeaBIOS: the fw_cfg files (add each with `FwCfg.addFile`).
    public static func fwCfgFiles(_ config: ACPIConfig) -> [(name: String, data: [UInt8])] {
        let blob = build(config)
        return [(tablesFile, blob.tables), (rsdpFile, blob.rsdp), (loaderFile, blob.loaderScript())]
    }

    /// Builds every table, laid out from offset 0.
    public static func build(_ c: ACPIConfig) -> ACPIBlob {
        var blob = ACPIBlob()
        func place(_ sig: String, _ bytes: [UInt8], align: Int = 16) -> Int {
            while blob.tables.count % align != 0 { blob.tables.append(0) }
            let at = blob.tables.count
            blob.tables += bytes
            blob.tableOffsets[sig] = at
            return at
        }
        func pointer(_ file: ACPIBlob.File, _ offset: Int, _ size: Int, to target: Int) {
            if file == .tables { put(&blob.tables, offset, UInt64(target), size) } else { put(&blob.rsdp, offset, UInt64(target), size) }
            blob.pointers.append(.init(file: file, offset: offset, size: size))
        }
        var headed: [Int] = []          // offsets of tables with a standard header

        let facs = place("FACS", facsTable(), align: FACS.alignment)
        let dsdt = place("DSDT", table("DSDT", revision: 2, body: dsdtBody(c), c)); headed.append(dsdt)
        let fadt = place("FACP", table("FACP", revision: FADT.revision, body: fadtBody(c), c)); headed.append(fadt)
        pointer(.tables, fadt + FADT.firmwareCtrl, 4, to: facs)
        pointer(.tables, fadt + FADT.dsdt, 4, to: dsdt)
        pointer(.tables, fadt + FADT.xDsdt, 8, to: dsdt)
        var listed = [fadt]
        let madt = place("APIC", table("APIC", revision: MADT.revision, body: madtBody(c), c)); headed.append(madt)
        listed.append(madt)
        if let hpet = c.hpetAddress {
            let h = place("HPET", table("HPET", revision: HPET.revision, body: hpetBody(c, hpet), c)); headed.append(h)
            listed.append(h)
        }
        let rsdt = place("RSDT", table("RSDT", revision: 1, body: [UInt8](repeating: 0, count: 4 * listed.count), c))
        headed.append(rsdt)
        for (i, t) in listed.enumerated() { pointer(.tables, rsdt + Header.size + 4 * i, 4, to: t) }
        let xsdt = place("XSDT", table("XSDT", revision: 1, body: [UInt8](repeating: 0, count: 8 * listed.count), c))
        headed.append(xsdt)
        for (i, t) in listed.enumerated() { pointer(.tables, xsdt + Header.size + 8 * i, 8, to: t) }

        // RSDP.
        var r = [UInt8](repeating: 0, count: RSDP.size)
        r.replaceSubrange(0..<8, with: Array(RSDP.signature.utf8))
        r.replaceSubrange(RSDP.oemIDOffset..<(RSDP.oemIDOffset + 6), with: padded(c.oemID, 6))
        r[RSDP.revisionOffset] = RSDP.revision
        put32(&r, RSDP.lengthOffset, UInt32(RSDP.size))
        blob.rsdp = r
        pointer(.rsdp, RSDP.rsdtOffset, 4, to: rsdt)
        pointer(.rsdp, RSDP.xsdtOffset, 8, to: xsdt)

        for t in headed {
            let len = Int(u32(blob.tables, t + Header.lengthOffset))
            blob.checksums.append(.init(file: .tables, offset: t + Header.checksumOffset, start: t, length: len))
        }
        blob.checksums.append(.init(file: .rsdp, offset: RSDP.checksumOffset, start: 0, length: RSDP.v1Size))
        blob.checksums.append(.init(file: .rsdp, offset: RSDP.extendedChecksumOffset, start: 0, length: RSDP.size))
        return blob
    }

    // MARK: Tables

    /// A table with its 36-byte header; the checksum is left zero (the loader computes it).
    static func table(_ sig: String, revision: UInt8, body: [UInt8], _ c: ACPIConfig) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: Header.size) + body
        t.replaceSubrange(0..<4, with: Array(sig.utf8))
        put32(&t, Header.lengthOffset, UInt32(t.count))
        t[Header.revisionOffset] = revision
        t.replaceSubrange(Header.oemIDOffset..<(Header.oemIDOffset + 6), with: padded(c.oemID, 6))
        t.replaceSubrange(Header.oemTableIDOffset..<(Header.oemTableIDOffset + 8), with: padded(c.oemTableID, 8))
        put32(&t, Header.oemRevisionOffset, Header.oemRevision)
        t.replaceSubrange(Header.creatorIDOffset..<(Header.creatorIDOffset + 4), with: Array(Header.creatorID.utf8))
        put32(&t, Header.creatorRevisionOffset, Header.creatorRevision)
        return t
    }

    static func facsTable() -> [UInt8] {
        var f = [UInt8](repeating: 0, count: FACS.size)
        f.replaceSubrange(0..<4, with: Array("FACS".utf8))
        put32(&f, 4, UInt32(FACS.size))
        f[FACS.versionOffset] = FACS.version
        return f
    }

    static func gas(space: UInt8, bits: UInt8, access: UInt8, address: UInt64) -> [UInt8] {
        var g = [UInt8](repeating: 0, count: 12)
        g[0] = space; g[1] = bits; g[2] = 0; g[3] = access
        put64(&g, 4, address)
        return g
    }

    /// FADT body (after the header). Pointer fields stay zero here; `build` fills them.
    static func fadtBody(_ c: ACPIConfig) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: FADT.size)
        let pm = UInt32(c.pmBase)
        typealias L = ACPIPM.Length
        f[FADT.intModel] = FADT.multipleAPIC
        put16(&f, FADT.sciInt, UInt16(c.sciIRQ))
        put32(&f, FADT.smiCmd, smiCommandPort)
        f[FADT.acpiEnable] = ACPIPM.APM.acpiEnable
        f[FADT.acpiDisable] = ACPIPM.APM.acpiDisable
        put32(&f, FADT.pm1aEvtBlk, pm + UInt32(ACPIPM.Reg.pm1Status))
        put32(&f, FADT.pm1aCntBlk, pm + UInt32(ACPIPM.Reg.pm1Control))
        put32(&f, FADT.pmTmrBlk, pm + UInt32(ACPIPM.Reg.pmTimer))
        put32(&f, FADT.gpe0Blk, UInt32(c.gpe0Base))
        f[FADT.pm1EvtLen] = UInt8(L.pm1Event)
        f[FADT.pm1CntLen] = UInt8(L.pm1Control)
        f[FADT.pmTmrLen] = UInt8(L.pmTimer)
        f[FADT.gpe0BlkLen] = UInt8(L.gpe0)
        put16(&f, FADT.pLvl2Lat, FADT.noC2)
        put16(&f, FADT.pLvl3Lat, FADT.noC3)
        f[FADT.century] = FADT.rtcCentury
        put16(&f, FADT.iapcBootArch, FADT.BootArch.legacyDevices | FADT.BootArch.i8042)
        var flags = FADT.Flag.wbinvd | FADT.Flag.procC1 | FADT.Flag.sleepButton | FADT.Flag.resetRegSup
        if c.pmTimer32Bit { flags |= FADT.Flag.tmrValExt }
        put32(&f, FADT.flags, flags)
        f.replaceSubrange(FADT.resetReg..<(FADT.resetReg + 12),
                          with: gas(space: GAS.systemIO, bits: 8, access: GAS.byteAccess, address: UInt64(c.resetPort)))
        f[FADT.resetValue] = c.resetValue
        // X_FIRMWARE_CTRL stays 0 (FIRMWARE_CTRL holds the FACS), as QEMU.
        f.replaceSubrange(FADT.xPm1aEvtBlk..<(FADT.xPm1aEvtBlk + 12),
                          with: gas(space: GAS.systemIO, bits: UInt8(8 * L.pm1Event), access: GAS.wordAccess,
                                    address: UInt64(pm) + UInt64(ACPIPM.Reg.pm1Status)))
        f.replaceSubrange(FADT.xPm1aCntBlk..<(FADT.xPm1aCntBlk + 12),
                          with: gas(space: GAS.systemIO, bits: UInt8(8 * L.pm1Control), access: GAS.wordAccess,
                                    address: UInt64(pm) + UInt64(ACPIPM.Reg.pm1Control)))
        f.replaceSubrange(FADT.xPmTmrBlk..<(FADT.xPmTmrBlk + 12),
                          with: gas(space: GAS.systemIO, bits: UInt8(8 * L.pmTimer), access: GAS.dwordAccess,
                                    address: UInt64(pm) + UInt64(ACPIPM.Reg.pmTimer)))
        f.replaceSubrange(FADT.xGpe0Blk..<(FADT.xGpe0Blk + 12),
                          with: gas(space: GAS.systemIO, bits: UInt8(8 * L.gpe0), access: GAS.byteAccess,
                                    address: UInt64(c.gpe0Base)))
        return Array(f[Header.size...])
    }

    /// ISA IRQs that are level-triggered, active high (PCI links and the SCI), as QEMU's MADT.
    static func levelIRQs(_ c: ACPIConfig) -> [UInt8] {
        Array(Set(c.pciLinkIRQs + [c.sciIRQ]).filter { $0 != 0 && $0 < 16 }).sorted()
    }

    static func madtBody(_ c: ACPIConfig) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: 8)
        put32(&m, 0, c.lapicAddress)
        put32(&m, 4, MADT.pcatCompat)
        for cpu in 0..<c.cpuCount {
            var e = [UInt8](repeating: 0, count: 8)
            e[0] = MADT.Entry.localAPIC; e[1] = 8; e[2] = UInt8(cpu); e[3] = UInt8(cpu)
            put32(&e, 4, MADT.localAPICEnabled)
            m += e
        }
        var io = [UInt8](repeating: 0, count: 12)
        io[0] = MADT.Entry.ioAPIC; io[1] = 12; io[2] = c.ioapicID
        put32(&io, 4, c.ioapicAddress)
        put32(&io, 8, c.ioapicGSIBase)
        m += io
        func override(_ irq: UInt8, gsi: UInt32, flags: UInt16) -> [UInt8] {
            var o = [UInt8](repeating: 0, count: 10)
            o[0] = MADT.Entry.interruptOverride; o[1] = 10; o[2] = 0 /* ISA */; o[3] = irq
            put32(&o, 4, gsi)
            put16(&o, 8, flags)
            return o
        }
        m += override(0, gsi: c.ioapicGSIBase + 2, flags: MADT.conforming)      // PIT on pin 2
        for irq in levelIRQs(c) { m += override(irq, gsi: c.ioapicGSIBase + UInt32(irq), flags: MADT.levelActiveHigh) }
        var nmi = [UInt8](repeating: 0, count: 6)
        nmi[0] = MADT.Entry.localAPICNMI; nmi[1] = 6; nmi[2] = MADT.allProcessors
        put16(&nmi, 3, MADT.conforming)
        nmi[5] = 1                                                               // LINT1
        m += nmi
        return m
    }

    static func hpetBody(_ c: ACPIConfig, _ base: UInt64) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: HPET.size - Header.size)
        put32(&h, 0, c.hpetBlockID)
        h.replaceSubrange(4..<16, with: gas(space: GAS.systemMemory, bits: 0, access: 0, address: base))
        // HPET number 0, minimum clock tick 0, no page protection.
        return h
    }

    // MARK: DSDT

    /// The DSDT body:
    ///
    ///     Scope (\_SB) {
    ///         Method (IQST, 1)  / Method (IQCR, 1, Serialized)     link helpers (as QEMU)
    ///         Device (LNKA) … (LNKD)  PNP0C0F, _PRS {5,10,11} level/high/shared, _STA/_CRS/_DIS/_SRS
    ///                                 on PIIX3 PIRQRC[A-D] (PCI config 0x60-0x63 of 00:01.0)
    ///         Device (LNKS)           the SCI, IRQ 9
    ///         Device (PCI0) { _HID PNP0A03, _ADR 0, _UID 0, _BBN 0, _CRS, _PRT,
    ///             Device (ISA) { _ADR 0x00010000, OperationRegion (P40C, PCI_Config, 0x60, 4),
    ///                 RTC PNP0B00, KBD PNP0303, MOU PNP0F13, COM1/COM2 PNP0501 } }
    ///         Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve) { PRQ0,8, PRQ1,8, PRQ2,8, PRQ3,8 }
    ///         Device (C000) …         ACPI0007 processors
    ///         Device (HPET)           when configured
    ///     }
    ///     Name (_S5, Package (4) { 0, 0, 0, 0 })             PIIX4 SUS_TYP 0 = soft off
    static func dsdtBody(_ c: ACPIConfig) -> [UInt8] {
        var sb: [[UInt8]] = [iqstMethod(), iqcrMethod()]
        for i in 0..<4 { sb.append(linkDevice(i, c)) }
        sb.append(sciLinkDevice(c))
        sb.append(pci0Device(c))
        sb.append(AML.field("PCI0.ISA.P40C", access: AML.AccessType.byte, update: AML.UpdateRule.preserve,
                            (0..<4).map { (AML.Field.named("PRQ\($0)", bits: 8)) }))
        for cpu in 0..<c.cpuCount {
            sb.append(AML.device(cpuName(cpu), [
                AML.name("_HID", AML.string("ACPI0007")),
                AML.name("_UID", AML.integer(UInt64(cpu))),
            ]))
        }
        if let hpet = c.hpetAddress, hpet <= UInt64(UInt32.max) {
            sb.append(AML.device("HPET", [
                AML.name("_HID", AML.eisaIDInteger("PNP0103")),
                AML.name("_UID", AML.integer(0)),
                AML.name("_CRS", AML.Resource.template([
                    AML.Resource.memory32Fixed(UInt32(hpet), HPET.mmioLength, writable: false)])),
            ]))
        }
        return AML.scope("\\_SB", sb) + s5Object()
    }

    /// `Name (_S5, Package (4) { SLP_TYP a, SLP_TYP b, 0, 0 })` with the PIIX4 soft-off type.
    static func s5Object() -> [UInt8] {
        let t = AML.integer(UInt64(ACPIPM.SleepType.softOff))
        return AML.name("_S5_", AML.package([t, t, AML.integer(0), AML.integer(0)]))
    }

    static func cpuName(_ n: Int) -> String {
        let hex = Array("0123456789ABCDEF")
        return "C" + String([hex[(n >> 8) & 15], hex[(n >> 4) & 15], hex[n & 15]])
    }

    static let linkNames = ["LNKA", "LNKB", "LNKC", "LNKD"]

    /// `_STA` helper: bit 7 of a PIRQRC register disables the route → present but disabled.
    static func iqstMethod() -> [UInt8] {
        AML.method("IQST", args: 1, [
            AML.ifThen(AML.and(AML.integer(0x80), AML.arg(0)), [AML.returnValue(AML.integer(0x09))]),
            AML.returnValue(AML.integer(0x0B)),
        ])
    }

    /// `_CRS` helper: a one-IRQ Interrupt() template holding the routed IRQ (0 when disabled).
    static func iqcrMethod() -> [UInt8] {
        AML.method("IQCR", args: 1, serialized: true, [
            AML.name("PRR0", AML.Resource.template([
                AML.Resource.interrupt([0], level: true, activeLow: false, shared: true)])),
            AML.createDWordField(AML.nameString("PRR0"), AML.integer(5), "PRRI"),
            AML.ifThen(AML.lLess(AML.arg(0), AML.integer(0x80)), [AML.store(AML.arg(0), AML.nameString("PRRI"))]),
            AML.returnValue(AML.nameString("PRR0")),
        ])
    }

    static func linkDevice(_ i: Int, _ c: ACPIConfig) -> [UInt8] {
        let reg = AML.nameString("PRQ\(i)")
        return AML.device(linkNames[i], [
            AML.name("_HID", AML.eisaIDInteger("PNP0C0F")),
            AML.name("_UID", AML.integer(UInt64(i))),
            AML.name("_PRS", AML.Resource.template([
                AML.Resource.interrupt(c.pciLinkIRQs.map { UInt32($0) }, level: true, activeLow: false, shared: true)])),
            AML.method("_STA", [AML.returnValue(AML.call("IQST", [reg]))]),
            AML.method("_DIS", [AML.or(reg, AML.integer(0x80), target: reg)]),
            AML.method("_CRS", [AML.returnValue(AML.call("IQCR", [reg]))]),
            AML.method("_SRS", args: 1, [
                AML.createDWordField(AML.arg(0), AML.integer(5), "PRRI"),
                AML.store(AML.nameString("PRRI"), reg),
            ]),
        ])
    }

    /// The SCI's link: fixed at IRQ 9, level/high, so _PRT users see the MADT's polarity.
    static func sciLinkDevice(_ c: ACPIConfig) -> [UInt8] {
        AML.device("LNKS", [
            AML.name("_HID", AML.eisaIDInteger("PNP0C0F")),
            AML.name("_UID", AML.integer(4)),
            AML.name("_PRS", AML.Resource.template([
                AML.Resource.interrupt([UInt32(c.sciIRQ)], level: true, activeLow: false, shared: true)])),
            AML.method("_STA", [AML.returnValue(AML.integer(0x0B))]),
            AML.method("_DIS", []),
            AML.method("_CRS", [AML.returnValue(AML.nameString("_PRS"))]),
            AML.method("_SRS", args: 1, []),
        ])
    }

    /// The link a slot's INTx pin (0 = INTA) goes through: PIIX3 PIRQ (slot + pin - 1) & 3, as
    /// QEMU's i440FX and SeaBIOS's `piix_pci_slot_get_irq`; 00:01 INTA (the PM function) is the SCI.
    public static func prtLink(slot: Int, pin: Int) -> String {
        if slot == 1 && pin == 0 { return "LNKS" }
        return linkNames[(slot + pin + 3) & 3]
    }

    /// `_PRT`: 32 slots × 4 pins → link devices (source index 0).
    static func prtPackage() -> [UInt8] {
        var entries: [[UInt8]] = []
        for slot in 0..<32 {
            for pin in 0..<4 {
                entries.append(AML.package([
                    AML.integer(UInt64(slot) << 16 | 0xFFFF), AML.integer(UInt64(pin)),
                    AML.nameString(prtLink(slot: slot, pin: pin)), AML.integer(0),
                ]))
            }
        }
        return AML.package(entries)
    }

    /// Root bridge resources: bus 0-0xFF, the config ports, I/O around them, the VGA window and
    /// the 32-bit (and optional 64-bit) PCI hole.
    static func rootBridgeResources(_ c: ACPIConfig) -> [UInt8] {
        typealias R = AML.Resource
        var d = [
            R.wordBusNumber(0, 0xFF),
            R.io(0xCF8, length: 8),
            R.wordIO(0x0000, 0x0CF7),
            R.wordIO(0x0D00, 0xFFFF),
            R.dwordMemory(0xA_0000, 0xB_FFFF, cacheable: true),
            R.dwordMemory(c.pciHoleStart, c.pciHoleEnd, cacheable: false),
        ]
        if let w = c.pci64Window { d.append(R.qwordMemory(w.lowerBound, w.upperBound, cacheable: false)) }
        return R.template(d)
    }

    static func pci0Device(_ c: ACPIConfig) -> [UInt8] {
        AML.device("PCI0", [
            AML.name("_HID", AML.eisaIDInteger("PNP0A03")),
            AML.name("_ADR", AML.integer(0)),
            AML.name("_UID", AML.integer(0)),
            AML.name("_BBN", AML.integer(0)),
            AML.name("_CRS", rootBridgeResources(c)),
            AML.name("_PRT", prtPackage()),
            isaBridge(c),
        ])
    }

    /// PIIX3 function 00:01.0 with the legacy devices SeaBIOS and Linux look for (SeaBIOS skips
    /// its PS/2 keyboard setup when the DSDT has no PNP0303).
    static func isaBridge(_ c: ACPIConfig) -> [UInt8] {
        typealias R = AML.Resource
        let present = AML.name("_STA", AML.integer(0x0F))
        var devs: [[UInt8]] = [
            AML.name("_ADR", AML.integer(0x0001_0000)),
            AML.opRegion("P40C", space: AML.RegionSpace.pciConfig, offset: 0x60, length: 4),
            AML.device("RTC", [
                AML.name("_HID", AML.eisaIDInteger("PNP0B00")),
                AML.name("_CRS", R.template([R.io(0x70, length: 2), R.irqNoFlags([8])])),
            ]),
            AML.device("KBD", [
                AML.name("_HID", AML.eisaIDInteger("PNP0303")), present,
                AML.name("_CRS", R.template([R.io(0x60, length: 1), R.io(0x64, length: 1), R.irqNoFlags([1])])),
            ]),
            AML.device("MOU", [
                AML.name("_HID", AML.eisaIDInteger("PNP0F13")), present,
                AML.name("_CRS", R.template([R.irqNoFlags([12])])),
            ]),
        ]
        for (i, s) in c.serialPorts.enumerated() {
            devs.append(AML.device("COM\(i + 1)", [
                AML.name("_HID", AML.eisaIDInteger("PNP0501")),
                AML.name("_UID", AML.integer(UInt64(i + 1))), present,
                AML.name("_CRS", R.template([R.io(s.port, align: 0, length: 8), R.irqNoFlags([s.irq])])),
            ]))
        }
        return AML.device("ISA", devs)
    }

    // MARK: Bytes

    static func padded(_ s: String, _ n: Int) -> [UInt8] {
        let b = Array(s.utf8.prefix(n))
        return b + [UInt8](repeating: 0x20, count: n - b.count)
    }
    static func put(_ b: inout [UInt8], _ o: Int, _ v: UInt64, _ size: Int) {
        for i in 0..<size { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }
    static func put16(_ b: inout [UInt8], _ o: Int, _ v: UInt16) { put(&b, o, UInt64(v), 2) }
    static func put32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) { put(&b, o, UInt64(v), 4) }
    static func put64(_ b: inout [UInt8], _ o: Int, _ v: UInt64) { put(&b, o, v, 8) }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }
}

/// A small AML encoder (ACPI 6.4 §20.2): just the objects our DSDT needs, each function returning
/// the encoded bytes. Names are given as ASL paths ("\\_SB.PCI0", "^PX13", "PRQ0"); segments
/// shorter than 4 characters are padded with '_'.
public enum AML {
    /// Opcodes (ACPI 6.4 §20.3).
    public enum Op {
        public static let zero: UInt8 = 0x00, one: UInt8 = 0x01, name: UInt8 = 0x08
        public static let bytePrefix: UInt8 = 0x0A, wordPrefix: UInt8 = 0x0B, dwordPrefix: UInt8 = 0x0C
        public static let stringPrefix: UInt8 = 0x0D, qwordPrefix: UInt8 = 0x0E
        public static let scope: UInt8 = 0x10, buffer: UInt8 = 0x11, package: UInt8 = 0x12, method: UInt8 = 0x14
        public static let dualNamePrefix: UInt8 = 0x2E, multiNamePrefix: UInt8 = 0x2F
        public static let extPrefix: UInt8 = 0x5B, rootChar: UInt8 = 0x5C, parentPrefix: UInt8 = 0x5E
        public static let local0: UInt8 = 0x60, arg0: UInt8 = 0x68, store: UInt8 = 0x70
        public static let and: UInt8 = 0x7B, or: UInt8 = 0x7D, createDWordField: UInt8 = 0x8A
        public static let lLess: UInt8 = 0x95, ifOp: UInt8 = 0xA0, elseOp: UInt8 = 0xA1, returnOp: UInt8 = 0xA4
        public static let ones: UInt8 = 0xFF
        /// After `extPrefix`.
        public static let opRegion: UInt8 = 0x80, field: UInt8 = 0x81, device: UInt8 = 0x82
    }
    public enum RegionSpace { public static let systemMemory: UInt8 = 0, systemIO: UInt8 = 1, pciConfig: UInt8 = 2 }
    /// FieldFlags: access type bits 0-3, lock rule bit 4, update rule bits 5-6.
    public enum AccessType { public static let any: UInt8 = 0, byte: UInt8 = 1, word: UInt8 = 2, dword: UInt8 = 3 }
    public enum UpdateRule { public static let preserve: UInt8 = 0, writeAsOnes: UInt8 = 1 << 5, writeAsZeros: UInt8 = 2 << 5 }
    public static let lockRule: UInt8 = 1 << 4

    /// The raw PkgLength encoding of `value` (used as is for field widths): 1 byte up to 0x3F,
    /// else a lead byte (bits 7-6 = following byte count, bits 3-0 = low nibble) and 1-3 bytes.
    public static func encodeLength(_ value: Int) -> [UInt8] {
        precondition(value >= 0 && value <= 0x0FFF_FFFF, "PkgLength out of range")
        if value <= 0x3F { return [UInt8(value)] }
        let extra = value <= 0xFFF ? 1 : value <= 0xF_FFFF ? 2 : 3
        var b = [UInt8(extra << 6) | UInt8(value & 0xF)]
        for i in 0..<extra { b.append(UInt8((value >> (4 + 8 * i)) & 0xFF)) }
        return b
    }

    /// PkgLength for a package whose contents after the PkgLength are `bodyLength` bytes: the
    /// encoded length counts the PkgLength bytes themselves.
    public static func pkgLength(_ bodyLength: Int) -> [UInt8] {
        for n in 1...4 {
            let total = bodyLength + n
            let enc = encodeLength(min(total, 0x0FFF_FFFF))
            if enc.count == n && total <= 0x0FFF_FFFF { return enc }
        }
        preconditionFailure("AML package too large")
    }

    static func isLeadChar(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || c == 0x5F }
    static func isNameChar(_ c: UInt8) -> Bool { isLeadChar(c) || (c >= 0x30 && c <= 0x39) }

    /// One NameSeg: 1-4 characters [A-Z_][A-Z0-9_]*, padded with '_'.
    public static func nameSeg<S: StringProtocol>(_ s: S) -> [UInt8] {
        let b = Array(s.utf8)
        precondition(!b.isEmpty && b.count <= 4 && isLeadChar(b[0]) && b.allSatisfy(isNameChar), "bad AML name segment \(s)")
        return b + [UInt8](repeating: 0x5F, count: 4 - b.count)
    }

    /// A NameString: optional '\' or '^'s, then NullName / NameSeg / DualNamePath / MultiNamePath.
    public static func nameString(_ path: String) -> [UInt8] {
        var out: [UInt8] = []
        var rest = Substring(path)
        if rest.first == "\\" { out.append(Op.rootChar); rest = rest.dropFirst() } else {
            while rest.first == "^" { out.append(Op.parentPrefix); rest = rest.dropFirst() }
        }
        let segs = rest.isEmpty ? [] : rest.split(separator: ".", omittingEmptySubsequences: false)
        switch segs.count {
        case 0: out.append(0x00)
        case 1: out += nameSeg(segs[0])
        case 2: out += [Op.dualNamePrefix] + nameSeg(segs[0]) + nameSeg(segs[1])
        default:
            precondition(segs.count <= 255)
            out += [Op.multiNamePrefix, UInt8(segs.count)]
            for s in segs { out += nameSeg(s) }
        }
        return out
    }

    /// An Integer as QEMU's `aml_int`: Zero, One, or the smallest prefixed form.
    public static func integer(_ v: UInt64) -> [UInt8] {
        switch v {
        case 0: return [Op.zero]
        case 1: return [Op.one]
        case ...0xFF: return [Op.bytePrefix, UInt8(v)]
        case ...0xFFFF: return [Op.wordPrefix] + le(v, 2)
        case ...0xFFFF_FFFF: return [Op.dwordPrefix] + le(v, 4)
        default: return [Op.qwordPrefix] + le(v, 8)
        }
    }

    /// A String: ASCII characters 0x01-0x7F, NUL-terminated.
    public static func string(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        precondition(b.allSatisfy { $0 >= 1 && $0 <= 0x7F })
        return [Op.stringPrefix] + b + [0]
    }

    /// The compressed EISA ID of "PNP0A03": three letters of 5 bits (A = 1) big-endian in the
    /// first two bytes, then the four hex digits as two bytes; as a little-endian 32-bit value.
    public static func eisaID(_ id: String) -> UInt32 {
        let b = Array(id.utf8)
        precondition(b.count == 7 && b[0..<3].allSatisfy { $0 >= 0x41 && $0 <= 0x5A })
        func hex(_ c: UInt8) -> UInt32 {
            switch c {
            case 0x30...0x39: return UInt32(c - 0x30)
            case 0x41...0x46: return UInt32(c - 0x41 + 10)
            default: preconditionFailure("bad EISA ID digit")
            }
        }
        let letters = UInt32(b[0] - 0x40) << 10 | UInt32(b[1] - 0x40) << 5 | UInt32(b[2] - 0x40)
        let product = hex(b[3]) << 12 | hex(b[4]) << 8 | hex(b[5]) << 4 | hex(b[6])
        let bytes = [UInt32(letters >> 8), letters & 0xFF, product >> 8, product & 0xFF]
        return bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24
    }
    /// `EisaId ("…")` as an integer object (always DWordPrefix, as iasl emits it).
    public static func eisaIDInteger(_ id: String) -> [UInt8] { [Op.dwordPrefix] + le(UInt64(eisaID(id)), 4) }

    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    public static func name(_ n: String, _ object: [UInt8]) -> [UInt8] { [Op.name] + nameString(n) + object }

    public static func scope(_ n: String, _ terms: [[UInt8]]) -> [UInt8] {
        let body = nameString(n) + terms.flatMap { $0 }
        return [Op.scope] + pkgLength(body.count) + body
    }

    public static func device(_ n: String, _ terms: [[UInt8]]) -> [UInt8] {
        let body = nameString(n) + terms.flatMap { $0 }
        return [Op.extPrefix, Op.device] + pkgLength(body.count) + body
    }

    /// MethodFlags: argument count bits 0-2, SerializeFlag bit 3, sync level 0.
    public static func method(_ n: String, args: Int = 0, serialized: Bool = false, _ terms: [[UInt8]]) -> [UInt8] {
        precondition((0...7).contains(args))
        let body = nameString(n) + [UInt8(args) | (serialized ? 0x08 : 0)] + terms.flatMap { $0 }
        return [Op.method] + pkgLength(body.count) + body
    }

    /// Package (n) { elements }: at most 255 elements.
    public static func package(_ elements: [[UInt8]]) -> [UInt8] {
        precondition(elements.count <= 255)
        let body = [UInt8(elements.count)] + elements.flatMap { $0 }
        return [Op.package] + pkgLength(body.count) + body
    }

    /// Buffer () { bytes }.
    public static func buffer(_ bytes: [UInt8]) -> [UInt8] {
        let body = integer(UInt64(bytes.count)) + bytes
        return [Op.buffer] + pkgLength(body.count) + body
    }

    public static func opRegion(_ n: String, space: UInt8, offset: UInt64, length: UInt64) -> [UInt8] {
        [Op.extPrefix, Op.opRegion] + nameString(n) + [space] + integer(offset) + integer(length)
    }

    /// A field list element: a named field or reserved bits (`Offset`-style padding).
    public enum Field {
        case named(String, bits: Int)
        case reserved(bits: Int)
    }

    public static func field(_ region: String, access: UInt8, lock: Bool = false, update: UInt8, _ fields: [Field]) -> [UInt8] {
        var body = nameString(region) + [access | (lock ? lockRule : 0) | update]
        for f in fields {
            switch f {
            case .named(let n, let bits): body += nameSeg(n) + encodeLength(bits)
            case .reserved(let bits): body += [0x00] + encodeLength(bits)
            }
        }
        return [Op.extPrefix, Op.field] + pkgLength(body.count) + body
    }

    public static func arg(_ n: Int) -> [UInt8] { precondition((0...6).contains(n)); return [Op.arg0 + UInt8(n)] }
    public static func local(_ n: Int) -> [UInt8] { precondition((0...7).contains(n)); return [Op.local0 + UInt8(n)] }

    public static func ifThen(_ predicate: [UInt8], _ terms: [[UInt8]]) -> [UInt8] {
        let body = predicate + terms.flatMap { $0 }
        return [Op.ifOp] + pkgLength(body.count) + body
    }
    public static func elseDo(_ terms: [[UInt8]]) -> [UInt8] {
        let body = terms.flatMap { $0 }
        return [Op.elseOp] + pkgLength(body.count) + body
    }
    public static func returnValue(_ v: [UInt8]) -> [UInt8] { [Op.returnOp] + v }
    public static func store(_ source: [UInt8], _ destination: [UInt8]) -> [UInt8] { [Op.store] + source + destination }
    /// And (a, b, target); no target → NullName.
    public static func and(_ a: [UInt8], _ b: [UInt8], target: [UInt8] = [0x00]) -> [UInt8] { [Op.and] + a + b + target }
    public static func or(_ a: [UInt8], _ b: [UInt8], target: [UInt8] = [0x00]) -> [UInt8] { [Op.or] + a + b + target }
    public static func lLess(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { [Op.lLess] + a + b }
    public static func createDWordField(_ buffer: [UInt8], _ byteIndex: [UInt8], _ n: String) -> [UInt8] {
        [Op.createDWordField] + buffer + byteIndex + nameString(n)
    }
    /// A method invocation: its name then its arguments.
    public static func call(_ path: String, _ args: [[UInt8]]) -> [UInt8] { nameString(path) + args.flatMap { $0 } }

    /// Resource descriptors (ACPI 6.4 §6.4) and the ResourceTemplate buffer around them.
    public enum Resource {
        /// ResourceTemplate () { … }: the descriptors, an End Tag (checksum 0) as a Buffer.
        public static func template(_ descriptors: [[UInt8]]) -> [UInt8] {
            buffer(descriptors.flatMap { $0 } + [0x79, 0x00])
        }
        /// IO (Decode16, min, max = min, align, length): small item 0x47.
        public static func io(_ min: UInt16, _ max: UInt16? = nil, align: UInt8 = 1, length: UInt8) -> [UInt8] {
            [0x47, 0x01] + le(UInt64(min), 2) + le(UInt64(max ?? min), 2) + [align, length]
        }
        /// IRQNoFlags () { irqs }: small item 0x22 with a 16-bit mask.
        public static func irqNoFlags(_ irqs: [UInt8]) -> [UInt8] {
            let mask = irqs.reduce(UInt16(0)) { $0 | ($1 < 16 ? 1 << UInt16($1) : 0) }
            return [0x22] + le(UInt64(mask), 2)
        }
        /// Word address space descriptor (large item 0x88): producer, MinFixed, MaxFixed, PosDecode.
        static func word(type: UInt8, typeFlags: UInt8, _ min: UInt16, _ max: UInt16) -> [UInt8] {
            let len = UInt64(max) - UInt64(min) + 1
            return [0x88, 0x0D, 0x00, type, 0x0C, typeFlags] + le(0, 2) + le(UInt64(min), 2) + le(UInt64(max), 2)
                + le(0, 2) + le(len, 2)
        }
        public static func wordBusNumber(_ min: UInt16, _ max: UInt16) -> [UInt8] { word(type: 2, typeFlags: 0, min, max) }
        /// WordIO (…, EntireRange).
        public static func wordIO(_ min: UInt16, _ max: UInt16) -> [UInt8] { word(type: 1, typeFlags: 0x03, min, max) }
        /// DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable/NonCacheable, ReadWrite).
        public static func dwordMemory(_ min: UInt32, _ max: UInt32, cacheable: Bool) -> [UInt8] {
            let len = UInt64(max) - UInt64(min) + 1
            return [0x87, 0x17, 0x00, 0x00, 0x0C, cacheable ? 0x03 : 0x01] + le(0, 4) + le(UInt64(min), 4)
                + le(UInt64(max), 4) + le(0, 4) + le(len, 4)
        }
        /// QWordMemory, same flags.
        public static func qwordMemory(_ min: UInt64, _ max: UInt64, cacheable: Bool) -> [UInt8] {
            [0x8A, 0x2B, 0x00, 0x00, 0x0C, cacheable ? 0x03 : 0x01] + le(0, 8) + le(min, 8) + le(max, 8)
                + le(0, 8) + le(max &- min &+ 1, 8)
        }
        /// Memory32Fixed (ReadWrite/ReadOnly, base, length): large item 0x86.
        public static func memory32Fixed(_ base: UInt32, _ length: UInt32, writable: Bool) -> [UInt8] {
            [0x86, 0x09, 0x00, writable ? 1 : 0] + le(UInt64(base), 4) + le(UInt64(length), 4)
        }
        /// Interrupt (ResourceConsumer, Level/Edge, ActiveHigh/Low, Shared/Exclusive) { irqs }:
        /// extended interrupt descriptor, large item 0x89.
        public static func interrupt(_ irqs: [UInt32], level: Bool, activeLow: Bool, shared: Bool) -> [UInt8] {
            precondition(!irqs.isEmpty && irqs.count <= 255)
            let flags: UInt8 = 0x01 | (level ? 0 : 0x02) | (activeLow ? 0x04 : 0) | (shared ? 0x08 : 0)
            return [0x89] + le(UInt64(2 + 4 * irqs.count), 2) + [flags, UInt8(irqs.count)]
                + irqs.flatMap { le(UInt64($0), 4) }
        }
    }
}
