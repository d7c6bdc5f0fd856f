import XCTest
import CPU
@testable import Devices

final class FwCfgTests: XCTestCase {
    // Offsets: 0 = 0x510 (selector), 1 = 0x511 (data), 4 = 0x514 (DMA high), 8 = 0x518 (DMA low).
    func select(_ f: FwCfg, _ key: UInt16) { f.ioWrite(offset: 0, size: 2, value: UInt64(key)) }
    func readBytes(_ f: FwCfg, _ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(f.ioRead(offset: 1, size: 1)) } }
    func read(_ f: FwCfg, key: UInt16, _ n: Int) -> [UInt8] { select(f, key); return readBytes(f, n) }
    func le(_ b: [UInt8]) -> UInt64 { b.reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    func be(_ b: [UInt8]) -> UInt64 { b.reduce(0) { $0 << 8 | UInt64($1) } }

    func testSignatureIDAndPastEnd() {
        let f = FwCfg(memory: nil)
        XCTAssertEqual(read(f, key: 0, 6), Array("QEMU".utf8) + [0, 0])
        XCTAssertEqual(le(read(f, key: 1, 4)), 1)               // no DMA without memory
        let mem = PhysicalMemory(ramSize: 1 << 20)
        XCTAssertEqual(le(read(FwCfg(memory: mem), key: 1, 4)), 3)
        // Reselecting restarts at offset 0; byte read at 0x510 also reads data.
        select(f, 0)
        XCTAssertEqual(UInt8(f.ioRead(offset: 0, size: 1)), UInt8(ascii: "Q"))
        XCTAssertEqual(f.ioRead(offset: 1, size: 2), 0xFFFF)     // only byte reads are valid
        // A 16-bit write at 0x511 selects too (QEMU's combined port); reset reselects key 0.
        f.ioWrite(offset: 1, size: 2, value: 1)
        XCTAssertEqual(readBytes(f, 1), [1])
        select(f, 0); _ = readBytes(f, 2)
        f.reset()
        XCTAssertEqual(readBytes(f, 1), [UInt8(ascii: "Q")])
        // Absent items read 0.
        XCTAssertEqual(read(f, key: 0x1234, 4), [0, 0, 0, 0])
        XCTAssertEqual(read(f, key: 0x8003, 4), [0, 0, 0, 0])
        // Byte writes to the data port do nothing.
        select(f, 0)
        f.ioWrite(offset: 1, size: 1, value: 0x41)
        XCTAssertEqual(readBytes(f, 4), Array("QEMU".utf8))
    }

    func testLegacyItems() {
        let f = FwCfg(memory: nil)
        f.setRAMSize(512 << 20)
        f.setCPUCount(2, max: 4)
        f.setBootMenu(true)
        XCTAssertEqual(le(read(f, key: FwCfg.Key.ramSize, 8)), 512 << 20)
        XCTAssertEqual(le(read(f, key: FwCfg.Key.nbCPUs, 2)), 2)
        XCTAssertEqual(le(read(f, key: FwCfg.Key.maxCPUs, 2)), 4)
        XCTAssertEqual(le(read(f, key: FwCfg.Key.bootMenu, 2)), 1)
        f.setU32(FwCfg.Key.irq0Override, 1)
        XCTAssertEqual(le(read(f, key: 0x8002, 4)), 1)
        // The write-channel bit selects the same item.
        XCTAssertEqual(le(read(f, key: FwCfg.Key.nbCPUs | 0x4000, 2)), 2)
    }

    func testLinuxBootItems() {
        let f = FwCfg(memory: nil)
        f.setLinuxBoot(setup: [1, 2, 3], setupAddr: 0x90000, kernel: [9, 8, 7, 6], kernelAddr: 0x100000,
                       initrd: [5, 5], initrdAddr: 0x7000000, cmdline: "console=ttyS0", cmdlineAddr: 0x20000)
        XCTAssertEqual(le(read(f, key: 0x07, 4)), 0x100000)
        XCTAssertEqual(le(read(f, key: 0x08, 4)), 4)
        XCTAssertEqual(read(f, key: 0x11, 5), [9, 8, 7, 6, 0])
        XCTAssertEqual(le(read(f, key: 0x0A, 4)), 0x7000000)
        XCTAssertEqual(le(read(f, key: 0x0B, 4)), 2)
        XCTAssertEqual(read(f, key: 0x12, 2), [5, 5])
        XCTAssertEqual(le(read(f, key: 0x13, 4)), 0x20000)
        XCTAssertEqual(le(read(f, key: 0x14, 4)), 14)
        XCTAssertEqual(read(f, key: 0x15, 14), Array("console=ttyS0".utf8) + [0])
        XCTAssertEqual(le(read(f, key: 0x16, 4)), 0x90000)
        XCTAssertEqual(le(read(f, key: 0x17, 4)), 3)
        XCTAssertEqual(read(f, key: 0x18, 3), [1, 2, 3])
    }

    func testFileDirectory() throws {
        let f = FwCfg(memory: nil)
        XCTAssertEqual(be(read(f, key: 0x19, 4)), 0)
        try f.addFile("etc/e820", [UInt8](repeating: 0xE8, count: 40))
        try f.addFile("bootorder", Array("/pci@i0cf8/ide@1,1/drive@0/disk@0\n".utf8))
        try f.addFile("etc/acpi/tables", [1, 2, 3])
        let dir = read(f, key: 0x19, 4 + 3 * 64)
        XCTAssertEqual(be(Array(dir[0..<4])), 3)
        var names: [String] = []
        for i in 0..<3 {
            let e = Array(dir[4 + 64 * i ..< 4 + 64 * (i + 1)])
            let size = be(Array(e[0..<4])), sel = be(Array(e[4..<6]))
            XCTAssertEqual(e[6], 0); XCTAssertEqual(e[7], 0)
            let name = String(decoding: e[8...].prefix { $0 != 0 }, as: UTF8.self)
            names.append(name)
            XCTAssertEqual(sel, 0x20 + UInt64(i))
            XCTAssertEqual(size, UInt64(f.file(name)!.count))
            XCTAssertEqual(read(f, key: UInt16(sel), Int(size)), f.file(name))
        }
        XCTAssertEqual(names, ["bootorder", "etc/acpi/tables", "etc/e820"])
        // Replacing keeps one entry.
        try f.addFile("etc/acpi/tables", [4])
        XCTAssertEqual(be(read(f, key: 0x19, 4)), 3)
        XCTAssertEqual(f.file("etc/acpi/tables"), [4])
        XCTAssertThrowsError(try f.addFile(String(repeating: "x", count: 56), []))
        XCTAssertThrowsError(try f.addFile("", []))
        XCTAssertNoThrow(try f.addFile(String(repeating: "y", count: 55), []))
    }

    // MARK: DMA

    /// Writes a FWCfgDmaAccess at `at` and starts it through the low half of the DMA register.
    func dma(_ f: FwCfg, _ mem: PhysicalMemory, at: UInt64, control: UInt32, length: UInt32, address: UInt64) -> UInt32 {
        var d: [UInt8] = []
        for s in stride(from: 24, through: 0, by: -8) { d.append(UInt8(truncatingIfNeeded: control >> UInt32(s))) }
        for s in stride(from: 24, through: 0, by: -8) { d.append(UInt8(truncatingIfNeeded: length >> UInt32(s))) }
        for s in stride(from: 56, through: 0, by: -8) { d.append(UInt8(truncatingIfNeeded: address >> UInt64(s))) }
        XCTAssertTrue(d.withUnsafeBytes { mem.writeBytes(at, $0) })
        f.ioWrite(offset: 8, size: 4, value: UInt64(UInt32(truncatingIfNeeded: at).byteSwapped))
        return UInt32(be(mem.readBytes(at, count: 4)!))
    }

    func testDMASignatureRegister() {
        let f = FwCfg(memory: PhysicalMemory(ramSize: 1 << 20))
        XCTAssertEqual(f.ioRead(offset: 4, size: 4), 0x554D_4551)   // "QEMU" in port byte order
        XCTAssertEqual(f.ioRead(offset: 8, size: 4), 0x4746_4320)   // " CFG"
        XCTAssertEqual(FwCfg(memory: nil).ioRead(offset: 4, size: 4), 0xFFFF_FFFF)
    }

    func testDMAReadSelectSkipAndZeroFill() throws {
        let mem = PhysicalMemory(ramSize: 1 << 20)
        let f = FwCfg(memory: mem)
        try f.addFile("etc/e820", Array(0..<20))
        let key = UInt32(f.fileKey("etc/e820")!)
        let ctl = dma(f, mem, at: 0x1000, control: key << 16 | FwCfg.DMAControl.select | FwCfg.DMAControl.read,
                      length: 8, address: 0x2000)
        XCTAssertEqual(ctl, 0)
        XCTAssertEqual(mem.readBytes(0x2000, count: 8), Array(0..<8))
        // Skip 4, then read the rest plus 4 bytes past the end (zeros).
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: FwCfg.DMAControl.skip, length: 4, address: 0), 0)
        _ = [UInt8](repeating: 0xAA, count: 12).withUnsafeBytes { mem.writeBytes(0x3000, $0) }
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: FwCfg.DMAControl.read, length: 12, address: 0x3000), 0)
        XCTAssertEqual(mem.readBytes(0x3000, count: 12), Array(12..<20) + [0, 0, 0, 0])
        // The 64-bit form of the register also starts a transfer.
        let d: [UInt8] = [0, 0, 0, 0x0A, 0, 0, 0, 4] + [0, 0, 0, 0, 0, 0, 0x40, 0]   // select key 0 + read
        _ = d.withUnsafeBytes { mem.writeBytes(0x1100, $0) }
        f.ioWrite(offset: 4, size: 8, value: UInt64(0x1100).byteSwapped)
        XCTAssertEqual(mem.readBytes(0x4000, count: 4), Array("QEMU".utf8))
        XCTAssertEqual(mem.readBytes(0x1100, count: 4), [0, 0, 0, 0])
    }

    func testDMAOutsideRAMReportsError() {
        let mem = PhysicalMemory(ramSize: 1 << 20)
        let f = FwCfg(memory: mem)
        let rdSig = FwCfg.DMAControl.select | FwCfg.DMAControl.read   // key 0: signature
        // Target beyond RAM, straddling the end of RAM, and near the top of the address space.
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: rdSig, length: 4, address: 0x8000_0000), 1)
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: rdSig, length: 4, address: (1 << 20) - 2), 1)
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: rdSig, length: 0x100, address: ~0 - 0x10), 1)
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: FwCfg.DMAControl.read, length: 0xFFFF_FFFF, address: 0x8000), 1)
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: rdSig, length: 0xFFFF_FFFF, address: ~0), 1)
        // Writes: to a read-only item, and past the end.
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: FwCfg.DMAControl.select | FwCfg.DMAControl.write, length: 4, address: 0x2000), 1)
        XCTAssertEqual(le(read(f, key: 0, 4)), le(Array("QEMU".utf8)))
        // Descriptor itself outside RAM, or at the very top: nothing happens, nothing crashes.
        f.ioWrite(offset: 8, size: 4, value: UInt64(UInt32(0xFFFF_FFF0).byteSwapped))
        f.ioWrite(offset: 4, size: 4, value: UInt64(UInt32(0xFFFF_FFFF).byteSwapped))
        f.ioWrite(offset: 8, size: 4, value: UInt64(UInt32(0xFFFF_FFFE).byteSwapped))
        f.ioWrite(offset: 4, size: 8, value: UInt64.max)
        // Descriptor in the last bytes of RAM (partly outside).
        f.ioWrite(offset: 8, size: 4, value: UInt64(UInt32((1 << 20) - 8).byteSwapped))
        XCTAssertEqual(mem.readBytes((1 << 20) - 8, count: 4), [0, 0, 0, 1])
        // A zero-length or no-op descriptor completes.
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: 0, length: 100, address: 0xFFFF_FFFF_0000), 0)
    }

    func testDMAWriteToWritableFile() throws {
        let mem = PhysicalMemory(ramSize: 1 << 20)
        let f = FwCfg(memory: mem)
        try f.addFile("etc/vmcoreinfo", [UInt8](repeating: 0, count: 8), writable: true)
        var written: (String, [UInt8])?
        f.onFileWrite = { written = ($0, $1) }
        let key = UInt32(f.fileKey("etc/vmcoreinfo")!)
        _ = [UInt8](1...8).withUnsafeBytes { mem.writeBytes(0x2000, $0) }
        let w = key << 16 | FwCfg.DMAControl.select | FwCfg.DMAControl.write
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: w, length: 8, address: 0x2000), 0)
        XCTAssertEqual(f.file("etc/vmcoreinfo"), Array(1...8))
        XCTAssertEqual(written?.0, "etc/vmcoreinfo")
        // Longer than the file: error, file unchanged beyond what fits? Nothing written at all.
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: w, length: 9, address: 0x3000), 1)
        XCTAssertEqual(f.file("etc/vmcoreinfo"), Array(1...8))
        // Source outside RAM.
        XCTAssertEqual(dma(f, mem, at: 0x1000, control: w, length: 8, address: 0x9000_0000), 1)
    }

    func testRandomPortTrafficNeverCrashesOrHangs() throws {
        let mem = PhysicalMemory(ramSize: 1 << 20)
        let f = FwCfg(memory: mem)
        try f.addFile("etc/e820", [UInt8](repeating: 1, count: 100))
        try f.addFile("scratch", [UInt8](repeating: 2, count: 64), writable: true)
        var rng = SystemRandomNumberGenerator()
        // Random descriptors in the first 64 KiB of RAM.
        var junk = [UInt8](repeating: 0, count: 0x10000)
        for i in junk.indices { junk[i] = UInt8.random(in: 0...255, using: &rng) }
        _ = junk.withUnsafeBytes { mem.writeBytes(0, $0) }
        let start = Date()
        for i in 0..<100_000 {
            let r = rng.next() as UInt64
            let off = r % 14
            let size = [1, 2, 4, 8][Int((r >> 8) & 3)]
            switch (r >> 10) & 7 {
            case 0:
                // A descriptor somewhere in low RAM (lengths kept small so DMA stays in RAM).
                let at = (r >> 16) % 0xFFF0
                if i % 2 == 0 {
                    var d = [UInt8](repeating: 0, count: 16)
                    for j in 0..<16 { d[j] = UInt8(truncatingIfNeeded: r >> UInt64(j * 4)) }
                    d[4] = 0; d[5] = 0   // length < 64 KiB
                    _ = d.withUnsafeBytes { mem.writeBytes(at, $0) }
                }
                f.ioWrite(offset: 8, size: 4, value: UInt64(UInt32(at).byteSwapped))
            case 1, 2:
                f.ioWrite(offset: off, size: size, value: r >> 20)
            default:
                _ = f.ioRead(offset: off, size: size)
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 60)
        XCTAssertEqual(read(f, key: 0, 4), Array("QEMU".utf8))
    }
}
