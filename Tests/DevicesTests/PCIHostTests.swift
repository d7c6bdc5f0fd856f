import XCTest
import CPU
@testable import Devices

final class PCIHostTests: XCTestCase {
    // Offsets: 0 = 0xCF8, 4..7 = 0xCFC..0xCFF.
    func address(_ p: PCIHost, dev: Int, fn: Int, reg: Int, bus: Int = 0, enable: Bool = true) {
        let a = (enable ? 0x8000_0000 : 0) | UInt64(bus) << 16 | UInt64(dev) << 11 | UInt64(fn) << 8 | UInt64(reg & 0xFC)
        p.ioWrite(offset: 0, size: 4, value: a)
    }
    func rd(_ p: PCIHost, dev: Int, fn: Int, reg: Int, size: Int = 4) -> UInt32 {
        address(p, dev: dev, fn: fn, reg: reg)
        return UInt32(p.ioRead(offset: 4 + UInt64(reg & 3), size: size))
    }
    func wr(_ p: PCIHost, dev: Int, fn: Int, reg: Int, size: Int = 4, _ v: UInt32) {
        address(p, dev: dev, fn: fn, reg: reg)
        p.ioWrite(offset: 4 + UInt64(reg & 3), size: size, value: UInt64(v))
    }

    func testChipsetIdentity() {
        let p = PCIHost()
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 0), 0x1237_8086)
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 8), 0x0600_0002)
        // SeaBIOS's qemu_detect() also requires QEMU's subsystem IDs on the host bridge.
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 0x2C), 0x1100_1AF4)
        XCTAssertEqual(rd(p, dev: 1, fn: 0, reg: 0), 0x7000_8086)
        XCTAssertEqual(rd(p, dev: 1, fn: 0, reg: 0x0E, size: 1), 0x80)   // multi-function
        XCTAssertEqual(rd(p, dev: 1, fn: 0, reg: 0x0A, size: 2), 0x0601)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0), 0x7010_8086)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 8) >> 8, 0x010180)
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 0), 0x7113_8086)
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 8), 0x0680_0003)
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 0x5B, size: 1), 0x02)   // SMM marked as set up
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 0x72, size: 1), 0x02)   // SMRAM default
    }

    func testEnumerationFindsExactlyTheChipset() {
        let p = PCIHost()
        var found: [String] = []
        for dev in 0..<32 {
            for fn in 0..<8 where rd(p, dev: dev, fn: fn, reg: 0, size: 2) != 0xFFFF {
                found.append("\(dev).\(fn)")
            }
        }
        XCTAssertEqual(found, ["0.0", "1.0", "1.1", "1.3"])
    }

    func testAddressRegisterAndAbsentAccess() {
        let p = PCIHost()
        p.ioWrite(offset: 0, size: 4, value: 0x8000_0000)
        XCTAssertEqual(p.ioRead(offset: 0, size: 4), 0x8000_0000)
        p.ioWrite(offset: 3, size: 1, value: 0x01)     // byte write (mechanism #2 probe): ignored
        XCTAssertEqual(p.ioRead(offset: 0, size: 4), 0x8000_0000)
        XCTAssertEqual(p.ioRead(offset: 2, size: 2), 0x8000)
        p.ioWrite(offset: 0, size: 4, value: 0xFFFF_FFFF)
        XCTAssertEqual(p.ioRead(offset: 0, size: 4), 0x80FF_FFFC)
        // Disabled, other bus, absent device.
        address(p, dev: 0, fn: 0, reg: 0, enable: false)
        XCTAssertEqual(p.ioRead(offset: 4, size: 4), 0xFFFF_FFFF)
        address(p, dev: 0, fn: 0, reg: 0, bus: 1)
        XCTAssertEqual(p.ioRead(offset: 4, size: 2), 0xFFFF)
        XCTAssertEqual(rd(p, dev: 5, fn: 0, reg: 0), 0xFFFF_FFFF)
        wr(p, dev: 5, fn: 0, reg: 0, 0)   // ignored
        XCTAssertEqual(rd(p, dev: 5, fn: 0, reg: 0, size: 1), 0xFF)
    }

    func testSubDwordAccessAndReadOnlyFields() {
        let p = PCIHost()
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 2, size: 2), 0x1237)
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 3, size: 1), 0x12)
        wr(p, dev: 0, fn: 0, reg: 0, 0xDEAD_BEEF)
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 0), 0x1237_8086)
        wr(p, dev: 1, fn: 1, reg: 0x3C, size: 1, 0x0E)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x3C, size: 1), 0x0E)
        // Command: only the defined bits stick.
        wr(p, dev: 1, fn: 1, reg: 4, size: 2, 0xFFFF)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 4, size: 2), 0x0547)
    }

    func testStatusWriteOneToClear() {
        var c = PCIConfigSpace(vendorID: 1, deviceID: 2, classCode: 0)
        c.set16(PCIConfigSpace.Reg.status, 0x2000 | 0x0200)   // received master abort + devsel
        c.write(offset: 6, size: 2, value: 0x0200)             // writing 1 to a read-only bit
        XCTAssertEqual(c.get16(6), 0x2200)
        c.write(offset: 6, size: 2, value: 0x2000)
        XCTAssertEqual(c.get16(6), 0x0200)
    }

    func testIDEBusMasterBARSizing() {
        let p = PCIHost()
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x20), 0x1)
        wr(p, dev: 1, fn: 1, reg: 0x20, 0xFFFF_FFFF)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x20), 0xFFFF_FFF1)
        wr(p, dev: 1, fn: 1, reg: 0x20, 0xC043)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x20), 0xC041)
        XCTAssertNil(p.config(device: 1, function: 1)?.barAddress(4))   // I/O decode off
        wr(p, dev: 1, fn: 1, reg: 4, size: 2, 0x0001)
        XCTAssertEqual(p.config(device: 1, function: 1)?.barAddress(4), 0xC040)
        // Unimplemented BARs read 0 and stay 0.
        wr(p, dev: 1, fn: 1, reg: 0x10, 0xFFFF_FFFF)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x10), 0)
        XCTAssertNil(p.config(device: 1, function: 1)?.barAddress(0))
    }

    func testMemoryBARAndROMSizing() {
        var c = PCIConfigSpace(vendorID: 0x1234, deviceID: 0x1111, classCode: 0x030000)
        c.setBAR(0, size: 16 << 20, kind: .memory32(prefetchable: true))
        c.setBAR(2, size: 0x3000, kind: .memory64(prefetchable: false))   // rounds to 16 KiB
        c.setROMBAR(size: 64 * 1024)
        c.write(offset: 0x10, size: 4, value: ~0)
        XCTAssertEqual(c.read(offset: 0x10, size: 4), 0xFF00_0008)
        c.write(offset: 0x18, size: 4, value: ~0)
        c.write(offset: 0x1C, size: 4, value: ~0)
        XCTAssertEqual(c.read(offset: 0x18, size: 4), 0xFFFF_C004)
        XCTAssertEqual(c.read(offset: 0x1C, size: 4), 0xFFFF_FFFF)
        c.write(offset: 0x30, size: 4, value: ~0)
        XCTAssertEqual(c.read(offset: 0x30, size: 4), 0xFFFF_0001)
        c.write(offset: 0x18, size: 4, value: 0xFEBF_0000)
        c.write(offset: 0x1C, size: 4, value: 0x1)
        c.write(offset: 4, size: 2, value: 0x2)
        XCTAssertEqual(c.barAddress(2), 0x1_FEBF_0000)
        // Out-of-range offsets are harmless.
        c.write(offset: 0xFE, size: 4, value: ~0)
        XCTAssertEqual(c.read(offset: 0xFE, size: 4) >> 16, 0xFFFF)
        c.setBAR(9, size: 16, kind: .io)
        XCTAssertEqual(c.read(offset: -5, size: 4), 0xFFFF_FFFF)
    }

    func testPAMRegistersReportShadowMapping() {
        let p = PCIHost()
        var reports: [[PAMSegment]] = []
        p.onPAMChange = { reports.append($0) }
        XCTAssertEqual(p.pamSegments.count, 13)
        XCTAssertTrue(p.pamSegments.allSatisfy { !$0.readRAM && !$0.writeRAM })
        // SeaBIOS make_bios_writable: 0x59 = 0x30, 0x5A-0x5F = 0x33.
        wr(p, dev: 0, fn: 0, reg: 0x59, size: 1, 0x30)
        XCTAssertEqual(reports.count, 1)
        XCTAssertEqual(reports.last?.last, PAMSegment(base: 0xF0000, size: 0x10000, readRAM: true, writeRAM: true))
        wr(p, dev: 0, fn: 0, reg: 0x5A, size: 2, 0x3333)
        wr(p, dev: 0, fn: 0, reg: 0x5C, size: 4, 0x3333_3333)
        XCTAssertEqual(reports.count, 3)
        XCTAssertTrue(reports.last!.allSatisfy { $0.readRAM && $0.writeRAM })
        XCTAssertEqual(reports.last![0].base, 0xC0000)
        XCTAssertEqual(reports.last![11].base, 0xEC000)
        // Same value again: no report. Read-only BIOS (0x10): read RAM, writes to ROM.
        wr(p, dev: 0, fn: 0, reg: 0x59, size: 1, 0x30)
        XCTAssertEqual(reports.count, 3)
        wr(p, dev: 0, fn: 0, reg: 0x59, size: 1, 0x10)
        XCTAssertEqual(reports.last?.last, PAMSegment(base: 0xF0000, size: 0x10000, readRAM: true, writeRAM: false))
        // A write elsewhere does not report.
        wr(p, dev: 0, fn: 0, reg: 0x50, 0x1234)
        XCTAssertEqual(reports.count, 4)
    }

    func testPIRQRouting() {
        let p = PCIHost()
        var changes: [String] = []
        p.onPIRQChange = { changes.append("\($0):\($1.map(String.init) ?? "off")") }
        XCTAssertNil(p.pirqRoute(0))
        // SeaBIOS routes PIRQA-D to 10, 10, 11, 11.
        wr(p, dev: 1, fn: 0, reg: 0x60, 0x0B0B_0A0A)
        XCTAssertEqual(changes, ["0:10", "1:10", "2:11", "3:11"])
        XCTAssertEqual(p.pirqRoute(2), 11)
        wr(p, dev: 1, fn: 0, reg: 0x61, size: 1, 0x7A)   // reserved bits 6:4 read 0
        XCTAssertEqual(rd(p, dev: 1, fn: 0, reg: 0x61, size: 1), 0x0A)
        XCTAssertEqual(changes.count, 4)
        wr(p, dev: 1, fn: 0, reg: 0x63, size: 1, 0x80)
        XCTAssertEqual(changes.last, "3:off")
        XCTAssertEqual(PCIHost.pirq(device: 1, pin: 1), 0)
        XCTAssertEqual(PCIHost.pirq(device: 3, pin: 1), 2)
        XCTAssertEqual(PCIHost.pirq(device: 4, pin: 2), 0)
    }

    func testPMIOBase() {
        let p = PCIHost()
        var bases: [UInt16?] = []
        p.onPMIOChange = { bases.append($0) }
        wr(p, dev: 1, fn: 3, reg: 0x40, 0x601)
        XCTAssertEqual(bases.count, 0)   // not enabled yet
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 0x40), 0x601)
        wr(p, dev: 1, fn: 3, reg: 0x80, size: 1, 0x01)
        XCTAssertEqual(bases, [0x600])
        XCTAssertEqual(p.pmIOBase, 0x600)
        wr(p, dev: 1, fn: 3, reg: 0x40, 0xFFFF_FFFF)
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 0x40), 0xFFC1)
        wr(p, dev: 1, fn: 3, reg: 0x80, size: 1, 0x00)
        XCTAssertEqual(bases, [0x600, 0xFFC0, nil])
    }

    func testResetControlRegister() {
        let p = PCIHost()
        var resets = 0
        p.resetRequested = { resets += 1 }
        p.ioWrite(offset: 1, size: 1, value: 0x02)
        XCTAssertEqual(p.ioRead(offset: 1, size: 1), 0x02)
        XCTAssertEqual(resets, 0)
        p.ioWrite(offset: 1, size: 1, value: 0x06)
        XCTAssertEqual(resets, 1)
    }

    func testAddFunctionAndHooks() throws {
        let p = PCIHost()
        var c = PCIConfigSpace(vendorID: 0x1AF4, deviceID: 0x1000, classCode: 0x020000)
        c.setBAR(0, size: 32, kind: .io)
        var writes: [Int] = []
        try p.addFunction(device: 3, function: 0, config: c) { off, _, _ in writes.append(off) }
        XCTAssertThrowsError(try p.addFunction(device: 3, function: 0, config: c))
        XCTAssertThrowsError(try p.addFunction(device: 32, function: 0, config: c))
        XCTAssertEqual(rd(p, dev: 3, fn: 0, reg: 0), 0x1000_1AF4)
        wr(p, dev: 3, fn: 0, reg: 0x10, 0xFFFF_FFFF)
        XCTAssertEqual(rd(p, dev: 3, fn: 0, reg: 0x10), 0xFFFF_FFE1)
        XCTAssertEqual(writes, [0x10])
    }

    func testResetRestoresPowerOnConfigAndReportsMappings() {
        let p = PCIHost()
        var pam = 0, pirq: [Int] = [], pm: [UInt16?] = []
        p.onPAMChange = { _ in pam += 1 }
        p.onPIRQChange = { i, _ in pirq.append(i) }
        p.onPMIOChange = { pm.append($0) }
        wr(p, dev: 0, fn: 0, reg: 0x59, size: 1, 0x30)
        wr(p, dev: 1, fn: 0, reg: 0x62, size: 1, 0x0B)
        wr(p, dev: 1, fn: 3, reg: 0x40, 0x601)
        wr(p, dev: 1, fn: 3, reg: 0x80, size: 1, 1)
        wr(p, dev: 1, fn: 1, reg: 0x20, 0xC001)
        p.reset()
        XCTAssertEqual(pam, 2)
        XCTAssertEqual(pirq, [2, 2])
        XCTAssertEqual(pm, [0x600, nil])
        XCTAssertEqual(p.ioRead(offset: 0, size: 4), 0)
        XCTAssertEqual(rd(p, dev: 1, fn: 1, reg: 0x20), 1)
        XCTAssertTrue(p.pamSegments.allSatisfy { !$0.readRAM && !$0.writeRAM })
    }

    func testRandomPortTrafficNeverCrashes() {
        let p = PCIHost()
        var rng = SystemRandomNumberGenerator()
        p.onPAMChange = { _ in }; p.onPIRQChange = { _, _ in }; p.onPMIOChange = { _ in }; p.resetRequested = {}
        for _ in 0..<200_000 {
            let r = rng.next() as UInt64
            let off = r % 10
            let size = [1, 2, 4, 3, 8, 0][Int((r >> 8) % 6)]
            if (r >> 12) & 3 == 0 {
                // Mostly valid addresses so config writes land somewhere.
                p.ioWrite(offset: 0, size: 4, value: 0x8000_0000 | ((r >> 16) & 0x0FFF_FF))
            } else if (r >> 12) & 1 == 0 {
                p.ioWrite(offset: off, size: size, value: r >> 24)
            } else {
                _ = p.ioRead(offset: off, size: size)
            }
        }
        // Identity registers survive.
        XCTAssertEqual(rd(p, dev: 0, fn: 0, reg: 0), 0x1237_8086)
        XCTAssertEqual(rd(p, dev: 1, fn: 3, reg: 0), 0x7113_8086)
    }
}
