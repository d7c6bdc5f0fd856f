import XCTest
@testable import Machine

/// The direct-boot ACPI tables: checksums, pointers, MADT entries and the DSDT's AML bytes.
final class DirectBootACPITests: XCTestCase {
    let cfg = DirectBootACPI.Config()
    lazy var built = DirectBootACPI.build(cfg)

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        let o = Int(address - cfg.base)
        return Array(built.bytes[o..<(o + count)])
    }
    func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
    func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }
    func sum(_ b: [UInt8]) -> UInt8 { b.reduce(0, &+) }
    func table(at a: UInt64) -> [UInt8] {
        let len = Int(u32(bytes(at: a, count: 8), 4))
        return bytes(at: a, count: len)
    }

    func testRSDPPointsToChecksummedTables() throws {
        let rsdp = bytes(at: built.rsdp, count: 36)
        XCTAssertEqual(String(decoding: rsdp[0..<8], as: UTF8.self), "RSD PTR ")
        XCTAssertEqual(sum(Array(rsdp[0..<20])), 0)
        XCTAssertEqual(sum(rsdp), 0)
        XCTAssertEqual(rsdp[15], 2)
        let rsdt = table(at: UInt64(u32(rsdp, 16))), xsdt = table(at: u64(rsdp, 24))
        XCTAssertEqual(String(decoding: rsdt[0..<4], as: UTF8.self), "RSDT")
        XCTAssertEqual(String(decoding: xsdt[0..<4], as: UTF8.self), "XSDT")
        var sigs: [String] = []
        for i in 0..<((xsdt.count - 36) / 8) {
            let t = table(at: u64(xsdt, 36 + 8 * i))
            XCTAssertEqual(sum(t), 0, "checksum of \(String(decoding: t[0..<4], as: UTF8.self))")
            XCTAssertEqual(u64(xsdt, 36 + 8 * i), UInt64(u32(rsdt, 36 + 4 * i)), "RSDT and XSDT agree")
            sigs.append(String(decoding: t[0..<4], as: UTF8.self))
        }
        XCTAssertEqual(sigs, ["FACP", "APIC"])
        XCTAssertEqual(sum(rsdt), 0); XCTAssertEqual(sum(xsdt), 0)
    }

    func testFADTDescribesThePIIX4Blocks() {
        let rsdp = bytes(at: built.rsdp, count: 36)
        let fadt = table(at: u64(table(at: u64(rsdp, 24)), 36))
        XCTAssertEqual(fadt.count, 244)
        XCTAssertEqual(u32(fadt, 56), 0x600); XCTAssertEqual(u32(fadt, 64), 0x604); XCTAssertEqual(u32(fadt, 76), 0x608)
        XCTAssertEqual(fadt[46], 9)                            // SCI
        XCTAssertEqual(u32(fadt, 48), 0xB2); XCTAssertEqual(fadt[52], 0xF1)
        XCTAssertEqual(u64(fadt, 116 + 4), 0xCF9); XCTAssertEqual(fadt[128], 6)
        let dsdt = table(at: u64(fadt, 140))
        XCTAssertEqual(String(decoding: dsdt[0..<4], as: UTF8.self), "DSDT")
        XCTAssertEqual(sum(dsdt), 0)
        let facs = bytes(at: u64(fadt, 132), count: 64)
        XCTAssertEqual(String(decoding: facs[0..<4], as: UTF8.self), "FACS")
        XCTAssertEqual(u64(fadt, 132) % 64, 0)
    }

    func testMADTEntries() {
        let rsdp = bytes(at: built.rsdp, count: 36)
        let madt = table(at: u64(table(at: u64(rsdp, 24)), 44))
        XCTAssertEqual(u32(madt, 36), 0xFEE0_0000)
        var o = 44
        var types: [UInt8] = []
        while o < madt.count {
            types.append(madt[o])
            if madt[o] == 1 { XCTAssertEqual(u32(madt, o + 4), 0xFEC0_0000) }
            if madt[o] == 2 && madt[o + 3] == 0 { XCTAssertEqual(u32(madt, o + 4), 2, "IRQ0 → GSI2") }
            o += Int(madt[o + 1])
        }
        XCTAssertEqual(o, madt.count)
        XCTAssertEqual(types, [0, 1, 2, 2, 4])
    }

    func testDSDTAML() {
        let aml = DirectBootACPI.dsdtBody(cfg)
        XCTAssertEqual(Array(aml[0..<12]), [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x06, 0x04, 0, 0, 0, 0])
        XCTAssertEqual(aml[12], 0x10, "Scope")
        XCTAssertNotNil(String(decoding: aml, as: UTF8.self).range(of: "PCI0"))
        // PkgLength at the encoding boundaries (the length includes its own bytes).
        XCTAssertEqual(DirectBootACPI.pkgLength(0x3E), [0x3F])
        XCTAssertEqual(DirectBootACPI.pkgLength(0x3F), [0x41, 0x04])
        XCTAssertEqual(DirectBootACPI.pkgLength(0xFFD), [0x4F, 0xFF])
        XCTAssertEqual(DirectBootACPI.pkgLength(0xFFE), [0x81, 0x00, 0x01])
    }
}
