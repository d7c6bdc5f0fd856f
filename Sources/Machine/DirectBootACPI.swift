/// ACPI tables for booting without firmware (direct Linux / multiboot boot), placed in the
/// reserved 0xE0000 area where Linux also finds the RSDP by scanning (and through the zero
/// page's `acpi_rsdp_addr`). SeaBIOS builds its own tables for the same chipset.
///
/// Tables (ACPI 2.0+ layout): RSDP (rev 2) → RSDT and XSDT → FADT (rev 3: PIIX4 PM blocks, SCI
/// on IRQ 9, SMI_CMD 0xB2 with ACPI_ENABLE 0xF1, reset register 0xCF9 ← 0x06, FACS, DSDT),
/// MADT (one LAPIC, the IOAPIC, IRQ0 → GSI2 and IRQ9 level/high overrides, LINT1 NMI).
/// The DSDT holds `\_S5_` = {0, 0, 0, 0}: SLP_TYP 0 is soft-off on the PIIX4. There is no
/// PCI root bridge in the namespace: Linux then scans PCI bus 0 through config mechanism #1.
public struct DirectBootACPI {
    public struct Config {
        public var base: UInt64 = 0xE_0000
        public var pmBase: UInt16 = 0x600
        public var gpe0Base: UInt16 = 0xAFE0
        public var sciIRQ: UInt8 = 9
        public var lapicAddress: UInt32 = 0xFEE0_0000
        public var ioapicAddress: UInt32 = 0xFEC0_0000
        public var ioapicID: UInt8 = 0
        public var smiCommandPort: UInt32 = 0xB2
        public var resetPort: UInt64 = 0xCF9
        public var resetValue: UInt8 = 0x06
        /// Start of the 32-bit PCI memory window (end of low RAM).
        public var pciHoleStart: UInt32 = 0xE000_0000
        public init() {}
    }

    public static let oemID = Array("EMU   ".utf8)
    public static let oemTableID = Array("EMUPC   ".utf8)

    /// The whole blob to copy at `config.base` (RSDP first), and the RSDP's address.
    public static func build(_ c: Config = Config()) -> (bytes: [UInt8], rsdp: UInt64) {
        var blob = [UInt8](repeating: 0, count: 0x40)          // RSDP slot (36 bytes, padded)
        func place(_ t: [UInt8], align: Int = 16) -> UInt64 {
            while blob.count % align != 0 { blob.append(0) }
            let at = c.base + UInt64(blob.count)
            blob += t
            return at
        }
        // FACS: 64 bytes, 64-byte aligned, no checksum.
        var facs = [UInt8](repeating: 0, count: 64)
        facs.replaceSubrange(0..<4, with: Array("FACS".utf8))
        put32(&facs, 4, 64)
        facs[32] = 1
        let facsAt = place(facs, align: 64)
        let dsdtAt = place(table("DSDT", revision: 2, body: dsdtBody(c)))
        let fadtAt = place(table("FACP", revision: 3, body: fadtBody(c, facs: facsAt, dsdt: dsdtAt)))
        let madtAt = place(table("APIC", revision: 3, body: madtBody(c)))
        var rsdtBody: [UInt8] = [], xsdtBody: [UInt8] = []
        for a in [fadtAt, madtAt] {
            var e4 = [UInt8](repeating: 0, count: 4); put32(&e4, 0, UInt32(a)); rsdtBody += e4
            var e8 = [UInt8](repeating: 0, count: 8); put64(&e8, 0, a); xsdtBody += e8
        }
        let rsdtAt = place(table("RSDT", revision: 1, body: rsdtBody))
        let xsdtAt = place(table("XSDT", revision: 1, body: xsdtBody))
        // RSDP.
        var r = [UInt8](repeating: 0, count: 36)
        r.replaceSubrange(0..<8, with: Array("RSD PTR ".utf8))
        r.replaceSubrange(9..<15, with: oemID)
        r[15] = 2
        put32(&r, 16, UInt32(rsdtAt))
        put32(&r, 20, 36)
        put64(&r, 24, xsdtAt)
        r[8] = checksum(r[0..<20])
        r[32] = checksum(r[0..<36])
        blob.replaceSubrange(0..<36, with: r)
        return (blob, c.base)
    }

    static func checksum<C: Collection>(_ b: C) -> UInt8 where C.Element == UInt8 {
        var s: UInt8 = 0
        for x in b { s &+= x }
        return 0 &- s
    }

    /// A system description table: the 36-byte header and `body`, with its checksum.
    static func table(_ sig: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var t = [UInt8](repeating: 0, count: 36) + body
        t.replaceSubrange(0..<4, with: Array(sig.utf8))
        put32(&t, 4, UInt32(t.count))
        t[8] = revision
        t.replaceSubrange(10..<16, with: oemID)
        t.replaceSubrange(16..<24, with: oemTableID)
        put32(&t, 24, 1)
        t.replaceSubrange(28..<32, with: Array("EMU ".utf8))
        put32(&t, 32, 1)
        t[9] = checksum(t)
        return t
    }

    /// A generic address structure for an I/O port block.
    static func gas(io port: UInt64, bits: UInt8, access: UInt8) -> [UInt8] {
        var g = [UInt8](repeating: 0, count: 12)
        if port == 0 { return g }
        g[0] = 1; g[1] = bits; g[2] = 0; g[3] = access
        put64(&g, 4, port)
        return g
    }

    static func fadtBody(_ c: Config, facs: UInt64, dsdt: UInt64) -> [UInt8] {
        var f = [UInt8](repeating: 0, count: 244)
        let pm = UInt32(c.pmBase)
        put32(&f, 36, UInt32(facs))
        put32(&f, 40, UInt32(dsdt))
        f[45] = 0                                  // unspecified PM profile
        put16(&f, 46, UInt16(c.sciIRQ))
        put32(&f, 48, c.smiCommandPort)
        f[52] = 0xF1; f[53] = 0xF0                 // ACPI_ENABLE / ACPI_DISABLE
        put32(&f, 56, pm)                          // PM1a_EVT_BLK
        put32(&f, 64, pm + 4)                      // PM1a_CNT_BLK
        put32(&f, 76, pm + 8)                      // PM_TMR_BLK
        put32(&f, 80, UInt32(c.gpe0Base))          // GPE0_BLK
        f[88] = 4; f[89] = 2; f[91] = 4; f[92] = 4
        put16(&f, 96, 0xFFF)                       // no C2
        put16(&f, 98, 0xFFFF)                      // no C3
        f[108] = 0x32                              // CMOS century register
        put16(&f, 109, 1 << 0 | 1 << 1)            // IAPC_BOOT_ARCH: legacy devices, 8042
        // Flags: WBINVD, PROC_C1, SLP_BUTTON (no sleep button), TMR_VAL_EXT, RESET_REG_SUP.
        put32(&f, 112, 1 << 0 | 1 << 2 | 1 << 5 | 1 << 8 | 1 << 10)
        f.replaceSubrange(116..<128, with: gas(io: c.resetPort, bits: 8, access: 1))
        f[128] = c.resetValue
        put64(&f, 132, facs)
        put64(&f, 140, dsdt)
        f.replaceSubrange(148..<160, with: gas(io: UInt64(pm), bits: 32, access: 2))
        f.replaceSubrange(172..<184, with: gas(io: UInt64(pm + 4), bits: 16, access: 2))
        f.replaceSubrange(208..<220, with: gas(io: UInt64(pm + 8), bits: 32, access: 3))
        f.replaceSubrange(220..<232, with: gas(io: UInt64(c.gpe0Base), bits: 32, access: 1))
        return Array(f[36...])
    }

    static func madtBody(_ c: Config) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: 8)
        put32(&m, 0, c.lapicAddress)
        put32(&m, 4, 1)                            // PCAT_COMPAT: 8259s present
        m += [0, 8, 0, 0, 1, 0, 0, 0]              // processor UID 0, APIC ID 0, enabled
        var io = [UInt8](repeating: 0, count: 12)
        io[0] = 1; io[1] = 12; io[2] = c.ioapicID
        put32(&io, 4, c.ioapicAddress)
        put32(&io, 8, 0)
        m += io
        func override(_ irq: UInt8, gsi: UInt32, flags: UInt16) -> [UInt8] {
            var o = [UInt8](repeating: 0, count: 10)
            o[0] = 2; o[1] = 10; o[2] = 0; o[3] = irq
            put32(&o, 4, gsi); put16(&o, 8, flags)
            return o
        }
        m += override(0, gsi: 2, flags: 0)
        m += override(c.sciIRQ, gsi: UInt32(c.sciIRQ), flags: 0x1 | 0x3 << 2)   // active high, level
        m += [4, 6, 0xFF, 0, 0, 1]                 // LAPIC NMI: all processors, LINT1
        return m
    }

    /// AML: Name (\_S5, Package (4) { 0, 0, 0, 0 }) and
    /// Scope (\_SB) { Device (PCI0) { Name (_HID, EisaId ("PNP0A03")) Name (_ADR, 0) Name (_UID, 0) } }
    /// with a _CRS: bus 0-0xFF, I/O 0xCF8-0xCFF (config), I/O 0-0xCF7 and 0xD00-0xFFFF, memory
    /// 0xA0000-0xBFFFF (VGA) and from the end of low RAM to 0xFEBFFFFF.
    static func dsdtBody(_ c: Config) -> [UInt8] {
        let nameOp: UInt8 = 0x08, packageOp: UInt8 = 0x12, zeroOp: UInt8 = 0x00, dwordPrefix: UInt8 = 0x0C
        let scopeOp: UInt8 = 0x10, extOpPrefix: UInt8 = 0x5B, deviceOp: UInt8 = 0x82
        func name(_ s: String) -> [UInt8] { Array(s.utf8) }
        let elements: [UInt8] = [zeroOp, zeroOp, zeroOp, zeroOp]
        let s5 = [nameOp] + name("_S5_") + [packageOp, UInt8(2 + elements.count), UInt8(elements.count)] + elements
        let pnp0a03: [UInt8] = [0x41, 0xD0, 0x0A, 0x03]          // EisaId("PNP0A03")
        let devBody = name("PCI0") + [nameOp] + name("_HID") + [dwordPrefix] + pnp0a03
            + [nameOp] + name("_ADR") + [zeroOp] + [nameOp] + name("_UID") + [zeroOp]
            + [nameOp] + name("_CRS") + buffer(rootBridgeResources(c))
        let device = [extOpPrefix, deviceOp] + pkgLength(devBody.count) + devBody
        let scopeBody = [0x5C] + name("_SB_") + device
        let scope = [scopeOp] + pkgLength(scopeBody.count) + scopeBody
        return s5 + scope
    }

    /// Resource template of the root bridge (ACPI 6.4 §6.4: word/dword address space
    /// descriptors, an I/O port descriptor, the end tag).
    static func rootBridgeResources(_ c: Config) -> [UInt8] {
        func word(_ type: UInt8, _ typeFlags: UInt8, _ min: UInt16, _ max: UInt16) -> [UInt8] {
            var d: [UInt8] = [0x88, 0x0D, 0x00, type, 0x0C, typeFlags]
            for v in [0, min, max, 0, max &- min &+ 1] { d += [UInt8(v & 0xFF), UInt8(v >> 8)] }
            return d
        }
        func dword(_ min: UInt32, _ max: UInt32) -> [UInt8] {
            var d: [UInt8] = [0x87, 0x17, 0x00, 0x00, 0x0C, 0x03]
            for v in [0, min, max, 0, max &- min &+ 1] { var b = [UInt8](repeating: 0, count: 4); put32(&b, 0, v); d += b }
            return d
        }
        var r = word(2, 0, 0, 0xFF)                                 // bus numbers
        r += [0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08]       // I/O 0xCF8, 8 ports
        r += word(1, 0x03, 0x0000, 0x0CF7)
        r += word(1, 0x03, 0x0D00, 0xFFFF)
        r += dword(0xA_0000, 0xB_FFFF)
        r += dword(c.pciHoleStart, 0xFEBF_FFFF)
        return r + [0x79, 0x00]
    }

    /// AML Buffer (BufferOp, PkgLength, BufferSize, bytes).
    static func buffer(_ bytes: [UInt8]) -> [UInt8] {
        let size: [UInt8] = bytes.count < 256 ? [0x0A, UInt8(bytes.count)] : [0x0B, UInt8(bytes.count & 0xFF), UInt8(bytes.count >> 8)]
        let body = size + bytes
        return [0x11] + pkgLength(body.count) + body
    }

    /// AML PkgLength for a body of `n` bytes (the encoding counts its own bytes).
    static func pkgLength(_ n: Int) -> [UInt8] {
        if n + 1 < 0x40 { return [UInt8(n + 1)] }
        if n + 2 < 0x1000 { let t = n + 2; return [UInt8(0x40 | (t & 0xF)), UInt8(t >> 4)] }
        let t = n + 3
        return [UInt8(0x80 | (t & 0xF)), UInt8((t >> 4) & 0xFF), UInt8(t >> 12)]
    }
}
