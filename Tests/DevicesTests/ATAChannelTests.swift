import XCTest
import CPU
@testable import Devices

final class ATAChannelTests: XCTestCase {
    var path = ""
    override func setUp() {
        path = NSTemporaryDirectory() + "emu-ata-\(UUID().uuidString).img"
        var bytes = [UInt8](repeating: 0, count: 512 * 64)
        for s in 0..<64 { for i in 0..<512 { bytes[s * 512 + i] = UInt8((s * 7 + i) & 0xFF) } }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: path) }

    func channel(_ mode: RawDisk.Mode) throws -> (ATAChannel, () -> Bool) {
        let ch = ATAChannel()
        ch.attach(try RawDisk(path: path, mode: mode), slave: false)
        var irq = false
        ch.irq = { irq = $0 }
        return (ch, { irq })
    }
    func w(_ ch: ATAChannel, _ r: UInt64, _ v: UInt64) { ch.commandBlock.ioWrite(offset: r, size: 1, value: v) }
    func r(_ ch: ATAChannel, _ reg: UInt64) -> UInt64 { ch.commandBlock.ioRead(offset: reg, size: 1) }
    func readWords(_ ch: ATAChannel, _ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<n { let v = ch.commandBlock.ioRead(offset: 0, size: 2); out += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        return out
    }

    func testIdentify() throws {
        let (ch, irq) = try channel(.readOnly)
        w(ch, 6, 0xA0); w(ch, 7, 0xEC)
        XCTAssertTrue(irq())
        XCTAssertEqual(r(ch, 7) & 0x08, 0x08, "DRQ")
        XCTAssertFalse(irq(), "status read clears the interrupt")
        let id = readWords(ch, 256)
        XCTAssertEqual(UInt32(id[120]) | UInt32(id[121]) << 8 | UInt32(id[122]) << 16, 64, "LBA28 sectors")
        XCTAssertEqual(UInt64(id[200]) | UInt64(id[201]) << 8, 64, "LBA48 sectors")
        XCTAssertEqual(String(decoding: [id[55], id[54], id[57], id[56], id[59], id[58]], as: UTF8.self), "EMU HA")
        XCTAssertEqual(id.reduce(0, &+), 0, "integrity checksum")
        XCTAssertEqual(r(ch, 7) & 0x08, 0, "DRQ clear after 512 bytes")
    }

    func testPIOReadLBA28AndLBA48AndWriteSnapshot() throws {
        let (ch, _) = try channel(.snapshot)
        w(ch, 2, 2); w(ch, 3, 5); w(ch, 4, 0); w(ch, 5, 0); w(ch, 6, 0xE0); w(ch, 7, 0x20)
        let a = readWords(ch, 512)
        XCTAssertEqual(a[0], UInt8(5 * 7 & 0xFF)); XCTAssertEqual(a[512 + 3], UInt8((6 * 7 + 3) & 0xFF))
        // LBA48: sector 10 via HOB registers.
        for (reg, v) in [(2, 0), (3, 0), (4, 0), (5, 0), (2, 1), (3, 10), (4, 0), (5, 0)] as [(UInt64, UInt64)] { w(ch, reg, v) }
        w(ch, 6, 0x40); w(ch, 7, 0x24)
        XCTAssertEqual(readWords(ch, 1)[0], UInt8(70 & 0xFF))
        _ = readWords(ch, 255)
        // Write sector 3 (snapshot): reads see it, the file does not change.
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        w(ch, 2, 1); w(ch, 3, 3); w(ch, 4, 0); w(ch, 5, 0); w(ch, 6, 0xE0); w(ch, 7, 0x30)
        for _ in 0..<256 { ch.commandBlock.ioWrite(offset: 0, size: 2, value: 0xBEEF) }
        XCTAssertEqual(r(ch, 7) & 0x89, 0, "not busy, no DRQ, no error")
        w(ch, 2, 1); w(ch, 3, 3); w(ch, 6, 0xE0); w(ch, 7, 0x20)
        XCTAssertEqual(readWords(ch, 1), [0xEF, 0xBE])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testBusMasterDMAReadWriteAndBadPRD() throws {
        let (ch, irq) = try channel(.snapshot)
        let mem = PhysicalMemory(ramSize: 1 << 20)
        ch.memory = mem
        // PRD table at 0x1000: 512 bytes at 0x2000, then 512 bytes at 0x3000 (last).
        func prd(_ entries: [(UInt32, UInt16, Bool)]) {
            for (i, e) in entries.enumerated() {
                mem.write(0x1000 + UInt64(8 * i), size: 4, value: UInt64(e.0))
                mem.write(0x1004 + UInt64(8 * i), size: 4, value: UInt64(e.1) | (e.2 ? 1 << 31 : 0))
            }
        }
        prd([(0x2000, 512, false), (0x3000, 512, true)])
        let bm = ch.busMaster
        bm.ioWrite(offset: 4, size: 4, value: 0x1000)
        w(ch, 2, 2); w(ch, 3, 4); w(ch, 4, 0); w(ch, 5, 0); w(ch, 6, 0xE0); w(ch, 7, 0xC8)   // READ DMA
        bm.ioWrite(offset: 0, size: 1, value: 0x09)                  // start, to memory
        XCTAssertTrue(irq())
        XCTAssertEqual(bm.ioRead(offset: 2, size: 1) & 0x07, 0x04, "interrupt, not active, no error")
        XCTAssertEqual(mem.read(0x2000, size: 1), UInt64(4 * 7 & 0xFF))
        XCTAssertEqual(mem.read(0x3001, size: 1), UInt64((5 * 7 + 1) & 0xFF))
        XCTAssertEqual(r(ch, 7) & 0x89, 0)
        bm.ioWrite(offset: 2, size: 1, value: 0x06)                  // clear
        bm.ioWrite(offset: 0, size: 1, value: 0)
        // WRITE DMA of sector 1 from 0x2000 (snapshot), read back by PIO.
        prd([(0x2000, 512, true)])
        mem.write(0x2000, size: 2, value: 0xCAFE)
        w(ch, 2, 1); w(ch, 3, 1); w(ch, 6, 0xE0); w(ch, 7, 0xCA)
        bm.ioWrite(offset: 0, size: 1, value: 0x01)
        XCTAssertEqual(r(ch, 7) & 0x01, 0)
        bm.ioWrite(offset: 0, size: 1, value: 0)
        w(ch, 2, 1); w(ch, 3, 1); w(ch, 6, 0xE0); w(ch, 7, 0x20)
        XCTAssertEqual(readWords(ch, 1), [0xFE, 0xCA])
        _ = readWords(ch, 255)
        // A PRD pointing outside RAM: error bit, ABRT, nothing copied.
        prd([(0xFFFF_F000, 512, true)])
        w(ch, 2, 1); w(ch, 3, 1); w(ch, 6, 0xE0); w(ch, 7, 0xC8)
        bm.ioWrite(offset: 0, size: 1, value: 0x09)
        XCTAssertEqual(bm.ioRead(offset: 2, size: 1) & 0x02, 0x02)
        XCTAssertEqual(r(ch, 1), 0x04)
        bm.ioWrite(offset: 0, size: 1, value: 0); bm.ioWrite(offset: 2, size: 1, value: 0x06)
        // A table without an end bit that runs into the 64 KiB boundary: error, the walk stops.
        for i in 0..<((0x10000 - 0x1000) / 8) { mem.write(0x1000 + UInt64(8 * i), size: 8, value: 0x20000 | 2 << 32) }
        w(ch, 2, 40); w(ch, 3, 1); w(ch, 6, 0xE0); w(ch, 7, 0xC8)
        bm.ioWrite(offset: 0, size: 1, value: 0x09)
        XCTAssertEqual(bm.ioRead(offset: 2, size: 1) & 0x02, 0x02)
    }

    func testErrors() throws {
        let (ch, _) = try channel(.readOnly)
        w(ch, 2, 1); w(ch, 3, 100); w(ch, 6, 0xE0); w(ch, 7, 0x20)        // beyond the end
        XCTAssertEqual(r(ch, 7) & 1, 1); XCTAssertEqual(r(ch, 1), 0x10, "IDNF")
        w(ch, 2, 1); w(ch, 3, 1); w(ch, 6, 0xE0); w(ch, 7, 0x30)          // write on read-only
        for _ in 0..<256 { ch.commandBlock.ioWrite(offset: 0, size: 2, value: 0) }
        XCTAssertEqual(r(ch, 7) & 1, 1); XCTAssertEqual(r(ch, 1), 0x04, "ABRT")
        w(ch, 7, 0xA1)                                                      // ATAPI identify: abort
        XCTAssertEqual(r(ch, 1), 0x04)
        w(ch, 6, 0xB0)                                                      // absent slave
        XCTAssertEqual(r(ch, 7), 0)
    }

    func testBadImagesAreOneLineErrors() throws {
        XCTAssertThrowsError(try RawDisk(path: "/nonexistent.img", mode: .readOnly)) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent.img"))
        }
        let t = NSTemporaryDirectory() + "emu-trunc-\(UUID().uuidString).img"
        FileManager.default.createFile(atPath: t, contents: Data(count: 700))
        defer { try? FileManager.default.removeItem(atPath: t) }
        XCTAssertThrowsError(try RawDisk(path: t, mode: .snapshot)) { e in XCTAssertTrue("\(e)".contains("truncated")) }
    }

    func testRandomPortHammeringNeverCrashes() throws {
        let (ch, _) = try channel(.snapshot)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50_000 {
            let off = UInt64.random(in: 0..<8, using: &rng), size = [1, 2, 4].randomElement(using: &rng)!
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: _ = ch.commandBlock.ioRead(offset: off, size: size)
            case 1: ch.commandBlock.ioWrite(offset: off, size: size, value: UInt64.random(in: 0...0xFFFF_FFFF, using: &rng))
            default: ch.controlBlock.ioWrite(offset: 0, size: 1, value: UInt64.random(in: 0...0xFF, using: &rng))
            }
        }
    }
}
