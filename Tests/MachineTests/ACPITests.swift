import Foundation
import XCTest
import Devices
@testable import Machine

/// `ACPITables` (RSDP/XSDT/RSDT/FADT/FACS/MADT/DSDT/HPET, direct and fw_cfg forms) and the
/// `AML` encoder.
final class ACPITests: XCTestCase {
    let base: UInt64 = 0xE_0040

    // MARK: Helpers

    func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(u16(b, o)) | UInt32(u16(b, o + 2)) << 16 }
    func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }
    func sum<C: Collection>(_ b: C) -> UInt8 where C.Element == UInt8 { b.reduce(0, &+) }
    func sig(_ b: [UInt8]) -> String { String(decoding: b[0..<4], as: UTF8.self) }
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Guest memory view of a direct layout: tables at `base`.
    struct Placed {
        let base: UInt64
        let tables: [UInt8]
        func table(at address: UInt64) -> [UInt8] {
            let o = Int(address - base)
            let len = Int(UInt32(tables[o + 4]) | UInt32(tables[o + 5]) << 8 | UInt32(tables[o + 6]) << 16 | UInt32(tables[o + 7]) << 24)
            return Array(tables[o..<(o + len)])
        }
    }

    func placed(_ c: ACPIConfig = ACPIConfig()) -> (Placed, rsdp: [UInt8]) {
        let r = ACPITables.layout(c, at: base)
        return (Placed(base: base, tables: r.tables), r.rsdp)
    }

    /// Follows RSDP → XSDT and returns every table by signature (RSDT, XSDT, FACS, DSDT too).
    func resolve(_ c: ACPIConfig = ACPIConfig()) -> [String: [UInt8]] {
        let (p, rsdp) = placed(c)
        var out: [String: [UInt8]] = [:]
        let xsdt = p.table(at: u64(rsdp, 24))
        out["RSDT"] = p.table(at: UInt64(u32(rsdp, 16)))
        out["XSDT"] = xsdt
        for i in 0..<((xsdt.count - 36) / 8) {
            let t = p.table(at: u64(xsdt, 36 + 8 * i))
            out[sig(t)] = t
        }
        if let fadt = out["FACP"] {
            out["DSDT"] = p.table(at: u64(fadt, 140))
            let facsAt = Int(UInt64(u32(fadt, 36)) - base)
            out["FACS"] = Array(p.tables[facsAt..<(facsAt + 64)])
        }
        return out
    }

    // MARK: AML encoder

    func testPkgLengthBoundaries() {
        // One byte: total (body + 1) up to 0x3F.
        XCTAssertEqual(AML.pkgLength(0), [0x01])
        XCTAssertEqual(AML.pkgLength(0x3E), [0x3F])
        // Two bytes: total (body + 2) 0x41 … 0xFFF; lead byte 0x40 | low nibble.
        XCTAssertEqual(AML.pkgLength(0x3F), [0x41, 0x04])
        XCTAssertEqual(AML.pkgLength(0xFFD), [0x4F, 0xFF])
        // Three bytes: total up to 0xFFFFF.
        XCTAssertEqual(AML.pkgLength(0xFFE), [0x81, 0x00, 0x01])
        XCTAssertEqual(AML.pkgLength(0xF_FFFC), [0x8F, 0xFF, 0xFF])
        // Four bytes.
        XCTAssertEqual(AML.pkgLength(0xF_FFFD), [0xC1, 0x00, 0x00, 0x01])
        XCTAssertEqual(AML.pkgLength(0x0FFF_FFFB), [0xCF, 0xFF, 0xFF, 0xFF])
        // Raw encodings (field widths) do not count themselves.
        XCTAssertEqual(AML.encodeLength(8), [0x08])
        XCTAssertEqual(AML.encodeLength(0x3F), [0x3F])
        XCTAssertEqual(AML.encodeLength(0x40), [0x40, 0x04])
        XCTAssertEqual(AML.encodeLength(0x2F8), [0x48, 0x2F])
    }

    func testNameStringsIntegersStrings() {
        XCTAssertEqual(AML.nameString("_SB"), bytes("_SB_"))
        XCTAssertEqual(AML.nameString("\\_SB.PCI0"), [0x5C, 0x2E] + bytes("_SB_PCI0"))
        XCTAssertEqual(AML.nameString("PCI0.ISA.P40C"), [0x2F, 0x03] + bytes("PCI0ISA_P40C"))
        XCTAssertEqual(AML.nameString("^PX13"), [0x5E] + bytes("PX13"))
        XCTAssertEqual(AML.nameString("\\"), [0x5C, 0x00])
        XCTAssertEqual(AML.integer(0), [0x00])
        XCTAssertEqual(AML.integer(1), [0x01])
        XCTAssertEqual(AML.integer(0xFF), [0x0A, 0xFF])
        XCTAssertEqual(AML.integer(0x100), [0x0B, 0x00, 0x01])
        XCTAssertEqual(AML.integer(0x1_0000), [0x0C, 0x00, 0x00, 0x01, 0x00])
        XCTAssertEqual(AML.integer(0x1_0000_0000), [0x0E, 0, 0, 0, 0, 1, 0, 0, 0])
        XCTAssertEqual(AML.string("ACPI0007"), [0x0D] + bytes("ACPI0007") + [0])
        XCTAssertEqual(AML.eisaID("PNP0A03"), 0x030A_D041)
        XCTAssertEqual(AML.eisaID("PNP0C0F"), 0x0F0C_D041)
        XCTAssertEqual(AML.eisaIDInteger("PNP0303"), [0x0C, 0x41, 0xD0, 0x03, 0x03])
        XCTAssertEqual(AML.buffer([1, 2]), [0x11, 0x05, 0x0A, 0x02, 1, 2])
        XCTAssertEqual(AML.package([AML.integer(0), AML.integer(2)]), [0x12, 0x05, 0x02, 0x00, 0x0A, 0x02])
    }

    func testMethodEncodings() {
        // Method (_STA) { Return (0x0B) }
        XCTAssertEqual(AML.method("_STA", [AML.returnValue(AML.integer(0x0B))]),
                       [0x14, 0x09] + bytes("_STA") + [0x00, 0xA4, 0x0A, 0x0B])
        // Method (IQST, 1) { If (And (0x80, Arg0)) { Return (0x09) } Return (0x0B) }
        XCTAssertEqual(ACPITables.iqstMethod(),
                       [0x14, 0x13] + bytes("IQST") + [0x01,
                        0xA0, 0x09, 0x7B, 0x0A, 0x80, 0x68, 0x00, 0xA4, 0x0A, 0x09,
                        0xA4, 0x0A, 0x0B])
        // Method (_SRS, 1) { CreateDWordField (Arg0, 5, PRRI)  Store (PRRI, PRQ0) }
        let srs = AML.method("_SRS", args: 1, [
            AML.createDWordField(AML.arg(0), AML.integer(5), "PRRI"),
            AML.store(AML.nameString("PRRI"), AML.nameString("PRQ0")),
        ])
        XCTAssertEqual(srs, [0x14, 0x17] + bytes("_SRS") + [0x01, 0x8A, 0x68, 0x0A, 0x05] + bytes("PRRI")
                       + [0x70] + bytes("PRRIPRQ0"))
        // Field (PCI0.ISA.P40C, ByteAcc, NoLock, Preserve) { PRQ0, 8 }
        XCTAssertEqual(AML.field("PCI0.ISA.P40C", access: AML.AccessType.byte, update: AML.UpdateRule.preserve,
                                 [.named("PRQ0", bits: 8), .reserved(bits: 0x2F8)]),
                       [0x5B, 0x81, 0x18, 0x2F, 0x03] + bytes("PCI0ISA_P40C") + [0x01] + bytes("PRQ0")
                       + [0x08, 0x00, 0x48, 0x2F])
        // OperationRegion (P40C, PCI_Config, 0x60, 0x04)
        XCTAssertEqual(AML.opRegion("P40C", space: AML.RegionSpace.pciConfig, offset: 0x60, length: 4),
                       [0x5B, 0x80] + bytes("P40C") + [0x02, 0x0A, 0x60, 0x0A, 0x04])
    }

    func testResourceDescriptors() {
        typealias R = AML.Resource
        XCTAssertEqual(R.interrupt([5, 10, 11], level: true, activeLow: false, shared: true),
                       [0x89, 0x0E, 0x00, 0x09, 0x03, 5, 0, 0, 0, 10, 0, 0, 0, 11, 0, 0, 0])
        XCTAssertEqual(R.interrupt([9], level: false, activeLow: true, shared: false),
                       [0x89, 0x06, 0x00, 0x07, 0x01, 9, 0, 0, 0])
        XCTAssertEqual(R.io(0x60, length: 1), [0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01])
        XCTAssertEqual(R.irqNoFlags([1]), [0x22, 0x02, 0x00])
        XCTAssertEqual(R.irqNoFlags([12]), [0x22, 0x00, 0x10])
        XCTAssertEqual(R.memory32Fixed(0xFED0_0000, 0x400, writable: false),
                       [0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xD0, 0xFE, 0x00, 0x04, 0x00, 0x00])
        XCTAssertEqual(R.template([R.irqNoFlags([1])]), [0x11, 0x08, 0x0A, 0x05, 0x22, 0x02, 0x00, 0x79, 0x00])
    }

    // MARK: DSDT

    var dsdt: [UInt8] { resolve()["DSDT"]! }

    func testS5Package() {
        let d = dsdt
        // Name (_S5, Package (4) { 0, 0, 0, 0 }) at the end of the table (root scope).
        let s5: [UInt8] = [0x08] + bytes("_S5_") + [0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]
        XCTAssertEqual(Array(d.suffix(s5.count)), s5)
        XCTAssertEqual(ACPIPM.SleepType.softOff, 0, "the PIIX4 soft-off SLP_TYP the device acts on")
    }

    func find(_ needle: [UInt8], in hay: [UInt8], from: Int = 0) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Decodes a PkgLength at `i`: (value, bytes used).
    func pkgLength(_ b: [UInt8], _ i: Int) -> (Int, Int) {
        let n = Int(b[i] >> 6)
        if n == 0 { return (Int(b[i] & 0x3F), 1) }
        var v = Int(b[i] & 0x0F)
        for k in 0..<n { v |= Int(b[i + 1 + k]) << (4 + 8 * k) }
        return (v, n + 1)
    }

    func testPCI0DeviceBytes() throws {
        let d = dsdt
        let at = try XCTUnwrap((0..<(d.count - 8)).first { i in
            guard d[i] == 0x5B && d[i + 1] == 0x82 else { return false }
            let lb = pkgLength(d, i + 2).1
            return Array(d[(i + 2 + lb)..<(i + 6 + lb)]) == bytes("PCI0")
        })
        let (len, lenBytes) = pkgLength(d, at + 2)
        let end = at + 2 + len
        XCTAssertEqual(Array(d[end..<(end + 2)]), [0x5B, 0x81], "the PRQ Field follows the device")
        var expect: [UInt8] = bytes("PCI0")
        expect += [0x08] + bytes("_HID") + [0x0C, 0x41, 0xD0, 0x0A, 0x03]
        expect += [0x08] + bytes("_ADR") + [0x00]
        expect += [0x08] + bytes("_UID") + [0x00]
        expect += [0x08] + bytes("_BBN") + [0x00]
        var crs: [UInt8] = []
        crs += [0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01]
        crs += [0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08]
        crs += [0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C]
        crs += [0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3]
        crs += [0x87, 0x17, 0x00, 0x00, 0x0C, 0x03, 0, 0, 0, 0, 0x00, 0x00, 0x0A, 0x00, 0xFF, 0xFF, 0x0B, 0x00,
                0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00]
        crs += [0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0xE0, 0xFF, 0xFF, 0xBF, 0xFE,
                0, 0, 0, 0, 0x00, 0x00, 0xC0, 0x1E]
        crs += [0x79, 0x00]
        XCTAssertEqual(crs.count, 0x6E)
        expect += [0x08] + bytes("_CRS") + [0x11, 0x42, 0x07, 0x0A, 0x6E] + crs
        let body = Array(d[(at + 2 + lenBytes)..<(at + 2 + lenBytes + expect.count)])
        XCTAssertEqual(body, expect)
        // _PRT follows: Package (128), first entry { 0xFFFF, 0, LNKD, 0 }.
        let prt = at + 2 + lenBytes + expect.count
        XCTAssertEqual(Array(d[prt..<(prt + 5)]), [0x08] + bytes("_PRT"))
        XCTAssertEqual(d[prt + 5], 0x12)
        let (_, prtLenBytes) = pkgLength(d, prt + 6)
        XCTAssertEqual(d[prt + 6 + prtLenBytes], 0x80, "128 entries")
        let first = prt + 7 + prtLenBytes
        XCTAssertEqual(Array(d[first..<(first + 12)]), [0x12, 0x0B, 0x04, 0x0B, 0xFF, 0xFF, 0x00] + bytes("LNKD") + [0x00])
    }

    func testPRTRoutingMatchesThePIIX3() {
        XCTAssertEqual(ACPITables.prtLink(slot: 0, pin: 0), "LNKD")
        XCTAssertEqual(ACPITables.prtLink(slot: 1, pin: 0), "LNKS", "PM function INTA is the SCI")
        XCTAssertEqual(ACPITables.prtLink(slot: 1, pin: 1), "LNKB")
        XCTAssertEqual(ACPITables.prtLink(slot: 3, pin: 0), "LNKC")
        for slot in 2..<32 {
            for pin in 0..<4 {
                let pirq = PCIHost.pirq(device: slot, pin: pin + 1)
                XCTAssertEqual(ACPITables.prtLink(slot: slot, pin: pin), ["LNKA", "LNKB", "LNKC", "LNKD"][pirq])
            }
        }
    }

    /// Walks the DSDT with the opcode subset SeaBIOS's src/fw/dsdt_parser.c understands (it
    /// must parse it to find the PS/2 keyboard) and returns device paths with their _HID bytes.
    func seabiosView(_ d: [UInt8]) throws -> [(path: String, hid: [UInt8]?, sta: [UInt8]?)] {
        struct ParseError: Error { let at: Int }
        var devices: [(path: String, hid: [UInt8]?, sta: [UInt8]?)] = []
        func nameString(_ i: Int) throws -> (String, Int) {
            var i = i, s = ""
            while d[i] == 0x5C || d[i] == 0x5E { s.append(Character(UnicodeScalar(d[i]))); i += 1 }
            func seg(_ j: Int) -> String { String(decoding: d[j..<(j + 4)], as: UTF8.self) }
            switch d[i] {
            case 0x00: return (s, i + 1)
            case 0x2E: return (s + seg(i + 1) + "." + seg(i + 5), i + 9)
            case 0x2F:
                let n = Int(d[i + 1])
                return (s + (0..<n).map { seg(i + 2 + 4 * $0) }.joined(separator: "."), i + 2 + 4 * n)
            case 0x41...0x5A, 0x5F: return (s + seg(i), i + 4)
            default: throw ParseError(at: i)
            }
        }
        func intArg(_ i: Int) throws -> Int {
            switch d[i] {
            case 0x00, 0x01: return i + 1
            case 0x0A: return i + 2
            case 0x0B: return i + 3
            case 0x0C: return i + 5
            default: throw ParseError(at: i)
            }
        }
        var current: Int?
        func termObj(_ i: Int, _ scope: String) throws -> Int {
            switch d[i] {
            case 0x00, 0x01: return i + 1
            case 0x08:
                let (n, j) = try nameString(i + 1)
                let next = try termObj(j, scope)
                if let c = current, n == "_HID" { devices[c].hid = Array(d[j..<next]) }
                if let c = current, n == "_STA" { devices[c].sta = Array(d[j..<next]) }
                return next
            case 0x0A: return i + 2
            case 0x0B: return i + 3
            case 0x0C: return i + 5
            case 0x0D: return (d[(i + 1)...].firstIndex(of: 0) ?? d.count) + 1
            case 0x10:
                let (len, lb) = pkgLength(d, i + 1)
                let (n, j) = try nameString(i + 1 + lb)
                try termList(j, i + 1 + len, n)
                return i + 1 + len
            case 0x11, 0x12, 0x13, 0x14:
                return i + 1 + pkgLength(d, i + 1).0
            case 0x5B:
                switch d[i + 1] {
                case 0x80:
                    let (_, j) = try nameString(i + 2)
                    return try intArg(intArg(j + 1))
                case 0x81, 0x83, 0x84, 0x85:
                    return i + 2 + pkgLength(d, i + 2).0
                case 0x82:
                    let (len, lb) = pkgLength(d, i + 2)
                    let (n, j) = try nameString(i + 2 + lb)
                    let saved = current
                    devices.append((scope + "." + n, nil, nil))
                    current = devices.count - 1
                    try termList(j, i + 2 + len, scope + "." + n)
                    current = saved
                    return i + 2 + len
                default: throw ParseError(at: i)
                }
            default: throw ParseError(at: i)
            }
        }
        func termList(_ start: Int, _ end: Int, _ scope: String) throws {
            var i = start
            while i < end { i = try termObj(i, scope) }
            if i != end { throw ParseError(at: i) }
        }
        try termList(36, d.count, "")
        return devices
    }

    func testDSDTParsesWithSeaBIOSSubset() throws {
        let devs = try seabiosView(dsdt)
        let names = devs.map(\.path)
        for n in ["_SB_.LNKA", "_SB_.LNKS", "_SB_.PCI0", "PCI0.ISA_", "ISA_.KBD_", "ISA_.COM1", "ISA_.COM2", "_SB_.C000"] {
            XCTAssertTrue(names.contains { $0.hasSuffix(n) }, "\(n) in \(names)")
        }
        let kbd = try XCTUnwrap(devs.first { $0.path.hasSuffix("KBD_") })
        XCTAssertEqual(kbd.hid, [0x0C, 0x41, 0xD0, 0x03, 0x03], "SeaBIOS looks for EisaId PNP0303")
        XCTAssertEqual(kbd.sta, [0x0A, 0x0F])
    }

    // MARK: Tables (direct layout)

    func testChecksumsAndPointersResolve() {
        let (p, rsdp) = placed()
        XCTAssertEqual(rsdp.count, 36)
        XCTAssertEqual(String(decoding: rsdp[0..<8], as: UTF8.self), "RSD PTR ")
        XCTAssertEqual(sum(rsdp[0..<20]), 0, "ACPI 1.0 checksum")
        XCTAssertEqual(sum(rsdp), 0, "extended checksum")
        XCTAssertEqual(rsdp[15], 2)
        XCTAssertEqual(u32(rsdp, 20), 36)
        XCTAssertEqual(Array(rsdp[9..<15]), bytes("EMU   "))
        let rsdt = p.table(at: UInt64(u32(rsdp, 16))), xsdt = p.table(at: u64(rsdp, 24))
        XCTAssertEqual(sig(rsdt), "RSDT"); XCTAssertEqual(sig(xsdt), "XSDT")
        XCTAssertEqual(sum(rsdt), 0); XCTAssertEqual(sum(xsdt), 0)
        XCTAssertEqual((rsdt.count - 36) / 4, (xsdt.count - 36) / 8)
        var sigs: [String] = []
        for i in 0..<((xsdt.count - 36) / 8) {
            XCTAssertEqual(u64(xsdt, 36 + 8 * i), UInt64(u32(rsdt, 36 + 4 * i)), "RSDT and XSDT agree")
            let t = p.table(at: u64(xsdt, 36 + 8 * i))
            XCTAssertEqual(sum(t), 0, "checksum of \(sig(t))")
            XCTAssertEqual(Array(t[10..<16]), bytes("EMU   "))
            sigs.append(sig(t))
        }
        XCTAssertEqual(sigs, ["FACP", "APIC"])
        let all = resolve()
        XCTAssertEqual(sum(all["DSDT"]!), 0)
        XCTAssertEqual(sig(all["DSDT"]!), "DSDT")
        XCTAssertEqual(sig(all["FACS"]!), "FACS")
        XCTAssertEqual(u32(all["FACS"]!, 4), 64)
        XCTAssertEqual((UInt64(u32(all["FACP"]!, 36))) % 64, 0, "FACS 64-byte aligned")
    }

    func testFADTFields() {
        let f = resolve()["FACP"]!
        XCTAssertEqual(f.count, 244); XCTAssertEqual(f[8], 3, "revision 3")
        XCTAssertEqual(u32(f, 40), u32(f, 140), "DSDT == X_DSDT (low half)")
        XCTAssertEqual(u32(f, 144), 0)
        XCTAssertEqual(u64(f, 132), 0, "X_FIRMWARE_CTRL unused, FIRMWARE_CTRL set")
        XCTAssertEqual(u16(f, 46), 9, "SCI_INT")
        XCTAssertEqual(u32(f, 48), 0xB2, "SMI_CMD")
        XCTAssertEqual(f[52], 0xF1); XCTAssertEqual(f[53], 0xF0)
        XCTAssertEqual(u32(f, 56), 0x600, "PM1a_EVT_BLK")
        XCTAssertEqual(u32(f, 64), 0x604, "PM1a_CNT_BLK")
        XCTAssertEqual(u32(f, 76), 0x608, "PM_TMR_BLK")
        XCTAssertEqual(u32(f, 80), 0xAFE0, "GPE0_BLK")
        XCTAssertEqual(Array(f[88...92]), [4, 2, 0, 4, 4], "PM1_EVT/CNT, PM2, TMR, GPE0 lengths")
        XCTAssertEqual(u16(f, 96), 0x0FFF); XCTAssertEqual(u16(f, 98), 0xFFFF)
        XCTAssertEqual(f[108], 0x32, "CMOS century")
        XCTAssertEqual(u16(f, 109), 0x3, "IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042")
        let flags = u32(f, 112)
        XCTAssertEqual(flags, 1 << 0 | 1 << 2 | 1 << 5 | 1 << 8 | 1 << 10, "WBINVD PROC_C1 SLP_BUTTON TMR_VAL_EXT RESET_REG_SUP")
        XCTAssertEqual(flags & 1 << 4, 0, "fixed power button")
        XCTAssertEqual(Array(f[116..<128]), [1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0], "RESET_REG: I/O 0xCF9 byte")
        XCTAssertEqual(f[128], 0x06)
        XCTAssertEqual(Array(f[148..<160]), [1, 32, 0, 2, 0x00, 0x06, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(f[172..<184]), [1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(f[208..<220]), [1, 32, 0, 3, 0x08, 0x06, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(f[220..<232]), [1, 32, 0, 1, 0xE0, 0xAF, 0, 0, 0, 0, 0, 0])
        var c = ACPIConfig(); c.pmTimer32Bit = false
        XCTAssertEqual(u32(resolve(c)["FACP"]!, 112) & 1 << 8, 0, "24-bit timer: no TMR_VAL_EXT")
    }

    func testMADTEntries() {
        let m = resolve()["APIC"]!
        XCTAssertEqual(u32(m, 36), 0xFEE0_0000)
        XCTAssertEqual(u32(m, 40), 1, "PCAT_COMPAT")
        var entries: [[UInt8]] = []
        var i = 44
        while i < m.count {
            let len = Int(m[i + 1])
            XCTAssertGreaterThan(len, 1)
            entries.append(Array(m[i..<(i + len)]))
            i += len
        }
        XCTAssertEqual(i, m.count, "entries fill the table exactly")
        XCTAssertEqual(entries.map { $0[0] }, [0, 1, 2, 2, 2, 2, 2, 4])
        XCTAssertEqual(entries[0], [0, 8, 0, 0, 1, 0, 0, 0], "LAPIC: UID 0, APIC ID 0, enabled")
        XCTAssertEqual(entries[1], [1, 12, 0, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0], "IOAPIC id 0 @ 0xFEC00000, GSI 0")
        XCTAssertEqual(entries[2], [2, 10, 0, 0, 2, 0, 0, 0, 0, 0], "IRQ0 → GSI2, conforming")
        for (e, irq) in zip(entries[3...6], [5, 9, 10, 11] as [UInt8]) {
            XCTAssertEqual(e, [2, 10, 0, irq, irq, 0, 0, 0, 0x0D, 0], "IRQ\(irq) level, active high")
        }
        XCTAssertEqual(entries[7], [4, 6, 0xFF, 0, 0, 1], "LINT1 NMI on all processors")
    }

    func testMoreCPUsAndHPET() {
        var c = ACPIConfig()
        c.cpuCount = 2
        c.hpetAddress = 0xFED0_0000
        let all = resolve(c)
        guard let h = all["HPET"] else { return XCTFail("no HPET table") }
        XCTAssertEqual(h.count, 56)
        XCTAssertEqual(sum(h), 0)
        XCTAssertEqual(u32(h, 36), 0x8086_A201)
        XCTAssertEqual(u64(h, 44), 0xFED0_0000)
        let m = all["APIC"]!
        XCTAssertEqual(Array(m[44..<60]), [0, 8, 0, 0, 1, 0, 0, 0, 0, 8, 1, 1, 1, 0, 0, 0])
        let d = all["DSDT"]!
        XCTAssertNotNil(find(bytes("C001"), in: d))
        XCTAssertNotNil(find([0x08] + bytes("_HID") + [0x0C, 0x41, 0xD0, 0x01, 0x03], in: d), "PNP0103")
        XCTAssertNotNil(try? seabiosView(d))
    }

    func testDirectBootImage() {
        let img = ACPITables.directBootImage(ACPIConfig())
        XCTAssertEqual(img.rsdp, 0xE_0000)
        XCTAssertEqual(String(decoding: img.bytes[0..<8], as: UTF8.self), "RSD PTR ")
        let r = ACPITables.layout(ACPIConfig(), at: 0xE_0040)
        XCTAssertEqual(Array(img.bytes[0..<36]), r.rsdp)
        XCTAssertEqual(Array(img.bytes[0x40...]), r.tables)
        XCTAssertLessThan(img.bytes.count, 0x1_0000, "fits below 0xF0000")
    }

    // MARK: fw_cfg form

    func testLoaderScriptIsWellFormedAndMatchesDirectLayout() throws {
        let files = ACPITables.fwCfgFiles(ACPIConfig())
        XCTAssertEqual(files.map(\.name), ["etc/acpi/tables", "etc/acpi/rsdp", "etc/table-loader"])
        let fw = FwCfg(memory: nil)
        for f in files { XCTAssertNoThrow(try fw.addFile(f.name, f.data)) }
        var blobs: [String: [UInt8]] = [files[0].name: files[0].data, files[1].name: files[1].data]
        let script = files[2].data
        XCTAssertEqual(script.count % 128, 0)
        func name(_ e: [UInt8], _ o: Int) -> String {
            let field = Array(e[o..<(o + 56)])
            let n = field.firstIndex(of: 0)!
            XCTAssertTrue(field[n...].allSatisfy { $0 == 0 }, "zero padded")
            return String(decoding: field[..<n], as: UTF8.self)
        }
        // Run it as SeaBIOS would, with the tables high and the RSDP in the F segment.
        let tablesAt: UInt64 = 0x7FFE_0000, rsdpAt: UInt64 = 0xF_5A00
        var placedAt: [String: UInt64] = [:]
        var commands: [UInt32] = []
        for k in 0..<(script.count / 128) {
            let e = Array(script[(k * 128)..<((k + 1) * 128)])
            let cmd = u32(e, 0)
            commands.append(cmd)
            switch cmd {
            case 1:
                let f = name(e, 4)
                XCTAssertNotNil(blobs[f])
                let align = u32(e, 60)
                XCTAssertEqual(align & (align - 1), 0, "power of two")
                XCTAssertEqual(e[64], f == "etc/acpi/rsdp" ? 2 : 1, "RSDP in FSEG, tables HIGH")
                placedAt[f] = f == "etc/acpi/rsdp" ? rsdpAt : tablesAt
                XCTAssertEqual(placedAt[f]! % UInt64(align), 0)
                XCTAssertTrue(e[65...].allSatisfy { $0 == 0 })
            case 2:
                let dest = name(e, 4), src = name(e, 60)
                let off = Int(u32(e, 116)), size = Int(e[120])
                XCTAssertNotNil(placedAt[dest]); XCTAssertNotNil(placedAt[src], "allocated before use")
                XCTAssertTrue([1, 2, 4, 8].contains(size))
                XCTAssertLessThanOrEqual(off + size, blobs[dest]!.count, "pointer inside its file")
                var v: UInt64 = 0
                for i in 0..<size { v |= UInt64(blobs[dest]![off + i]) << (8 * UInt64(i)) }
                XCTAssertLessThan(v, UInt64(blobs[src]!.count), "points inside the source file")
                v &+= placedAt[src]!
                for i in 0..<size { blobs[dest]![off + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
                XCTAssertTrue(e[121...].allSatisfy { $0 == 0 })
            case 3:
                let f = name(e, 4)
                let off = Int(u32(e, 60)), start = Int(u32(e, 64)), len = Int(u32(e, 68))
                XCTAssertLessThan(off, blobs[f]!.count)
                XCTAssertLessThanOrEqual(start + len, blobs[f]!.count)
                XCTAssertTrue((start..<(start + len)).contains(off))
                XCTAssertEqual(blobs[f]![off], 0, "checksum field starts at zero")
                blobs[f]![off] &-= sum(blobs[f]![start..<(start + len)])
                XCTAssertTrue(e[72...].allSatisfy { $0 == 0 })
            default:
                XCTFail("unexpected command \(cmd)")
            }
        }
        XCTAssertEqual(Array(commands.prefix(2)), [1, 1], "ALLOCATE first")
        XCTAssertEqual(commands.last, 3)
        let direct = ACPITables.layout(ACPIConfig(), at: tablesAt)
        XCTAssertEqual(blobs["etc/acpi/tables"], direct.tables, "loader result == direct layout")
        XCTAssertEqual(blobs["etc/acpi/rsdp"], direct.rsdp)
    }

    // MARK: iasl

    func iaslPath() -> String? {
        ["/usr/bin/iasl", "/usr/local/bin/iasl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func runIASL(_ args: [String], in dir: URL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: iaslPath()!)
        p.arguments = args
        p.currentDirectoryURL = dir
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self))
    }

    func testIASLDisassemblesAndRecompilesTheTables() throws {
        guard iaslPath() != nil else { throw XCTSkip("iasl not installed (apt-get install acpica-tools)") }
        // EMU_ACPI_DUMP_DIR=path keeps the tables and iasl's output there for inspection.
        let keep = ProcessInfo.processInfo.environment["EMU_ACPI_DUMP_DIR"]
        let dir = keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("emu-acpi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: dir) } }
        var c = ACPIConfig()
        c.hpetAddress = 0xFED0_0000
        c.pci64Window = 0x1_0000_0000...0x1_FFFF_FFFF
        let all = resolve(c)
        for s in ["DSDT", "FACP", "APIC", "HPET", "RSDT", "XSDT", "FACS"] {
            let file = s.lowercased() + ".dat"
            try Data(all[s]!).write(to: dir.appendingPathComponent(file))
            let (status, out) = try runIASL(["-d", file], in: dir)
            XCTAssertEqual(status, 0, "\(s): \(out)")
            XCTAssertFalse(out.contains("Error") || out.contains("Invalid") || out.contains("Incorrect checksum"), "\(s): \(out)")
        }
        let dsl = try String(contentsOf: dir.appendingPathComponent("dsdt.dsl"), encoding: .utf8)
        for needle in ["Name (_S5, Package (0x04)", "EisaId (\"PNP0A03\")", "Device (LNKA)", "Name (_PRT, Package (0x80)",
                       "WordBusNumber", "0xFEBFFFFF", "Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )",
                       "OperationRegion (P40C, PCI_Config, 0x60, 0x04)", "EisaId (\"PNP0303\")"] {
            XCTAssertTrue(dsl.contains(needle), "DSDT source lacks \(needle)\n\(dsl)")
        }
        // The disassembled source compiles back without errors.
        let (status, out) = try runIASL(["dsdt.dsl"], in: dir)
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("0 Errors"), out)
        let facp = try String(contentsOf: dir.appendingPathComponent("facp.dsl"), encoding: .utf8)
        let resetLine = facp.split(separator: "\n").first { $0.contains("Reset Register Supported") }
        XCTAssertEqual(resetLine?.hasSuffix(": 1"), true, facp)
    }
}
