import XCTest
import CPU
import CPUState

/// Soft-MMU unit tests: segmentation checks, page walks, A/D bits, #PF error codes, TLB.
final class MMUTests: XCTestCase {
    var mem: PhysicalMemory!
    var cpu: CPU!

    override func setUp() {
        mem = PhysicalMemory(ramSize: 16 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
    }

    func w32(_ a: UInt64, _ v: UInt64) { mem.write(a, size: 4, value: v) }
    func w64(_ a: UInt64, _ v: UInt64) { mem.write(a, size: 8, value: v) }
    func r64(_ a: UInt64) -> UInt64 { mem.read(a, size: 8) }

    func pfCode(_ body: () throws(Fault) -> Void) -> UInt32? {
        do { try body(); return nil } catch {
            XCTAssertEqual(error.vector, Fault.PF)
            return error.code
        }
    }

    /// 32-bit paging: PD at 0x10000, PT at 0x11000 mapping linear 0x400000.. to 0x200000..
    func setupTwoLevel() {
        w32(0x10000 + 1 * 4, 0x11000 | 0x7)           // PDE 1 (linear 4 MiB): present, RW, user
        w32(0x11000 + 0 * 4, 0x200000 | 0x7)           // PTE 0: user RW
        w32(0x11000 + 1 * 4, 0x201000 | 0x1)           // PTE 1: supervisor read-only
        w32(0x10000 + 2 * 4, 0x800000 | 0x83)          // PDE 2: 4 MiB page, supervisor RW (needs PSE)
        cpu.s.pointee.cr3 = 0x10000
        cpu.s.pointee.cr0 |= 0x8000_0001
        cpu.updateMode()
        cpu.flushTLB()
    }

    func testTwoLevelTranslationAndAccessedDirty() throws {
        setupTwoLevel()
        let pa = try cpu.translate(0x400123, kind: .read, user: false)
        XCTAssertEqual(pa, 0x200123)
        XCTAssertEqual(mem.read(0x10004, size: 4) & 0x60, 0x20, "PDE accessed, not dirty")
        XCTAssertEqual(mem.read(0x11000, size: 4) & 0x60, 0x20, "PTE accessed, not dirty")
        try cpu.writeLinear(0x400010, size: 4, user: false, 0xDEADBEEF)
        XCTAssertEqual(mem.read(0x11000, size: 4) & 0x60, 0x60, "PTE dirty after a write")
        XCTAssertEqual(mem.read(0x200010, size: 4), 0xDEADBEEF)
        XCTAssertEqual(try cpu.readLinear(0x400010, size: 4, user: true), 0xDEADBEEF)
    }

    func testPageFaultErrorCodes() {
        setupTwoLevel()
        // Not present: P=0; write from user: W|U.
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.readLinear(0x1000, size: 1, user: false) }, 0)
        XCTAssertEqual(cpu.s.pointee.cr2, 0x1000)
        XCTAssertEqual(pfCode { () throws(Fault) in try cpu.writeLinear(0x2000, size: 1, user: true, 0) }, 0x6)
        // User read of a supervisor page: P|U.
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.readLinear(0x401000, size: 1, user: true) }, 0x5)
        // Supervisor write to read-only with WP=0 succeeds, with WP=1 faults P|W.
        XCTAssertNil(pfCode { () throws(Fault) in try cpu.writeLinear(0x401000, size: 1, user: false, 1) })
        cpu.s.pointee.cr0 |= 0x1_0000
        cpu.flushTLB()
        XCTAssertEqual(pfCode { () throws(Fault) in try cpu.writeLinear(0x401004, size: 1, user: false, 1) }, 0x3)
    }

    func testPSEAndReservedBits() {
        setupTwoLevel()
        // Without CR4.PSE the PS bit is ignored: PDE 2 points at a page table at 0x800000 (zeros).
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.readLinear(0x800000, size: 1, user: false) }, 0)
        cpu.s.pointee.cr4 |= 0x10
        cpu.flushTLB()
        XCTAssertEqual(try? cpu.translate(0x812345, kind: .read, user: false), 0x812345)
        // PAE: a reserved bit (bit 51, above 40 physical bits) in a PDE -> RSVD|P.
        cpu.s.pointee.cr4 = 0x20
        w64(0x20000, 0x21000 | 1)                      // PDPTE 0
        w64(0x21000, (1 << 51) | 0x22000 | 3)          // PDE 0 with reserved bit
        cpu.s.pointee.cr3 = 0x20000
        cpu.flushTLB()
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.readLinear(0x1000, size: 1, user: false) }, 0x9)
    }

    func testLongModeNXAnd1GPages() throws {
        // PML4 at 0x30000 -> PDPT at 0x31000 whose entry 1 is a 1 GiB page at 0 with NX.
        w64(0x30000, 0x31000 | 7)
        w64(0x31000 + 8, 0x0 | 0x83 | (1 << 63))
        cpu.s.pointee.cr4 = 0x20
        cpu.s.pointee.efer = 0x500 | 0x800            // LME|LMA|NXE
        cpu.s.pointee.cr3 = 0x30000
        cpu.s.pointee.cr0 |= 0x8000_0001
        cpu.updateMode()
        cpu.flushTLB()
        XCTAssertEqual(try cpu.translate(0x4000_1234, kind: .read, user: false), 0x1234)
        // Exec of an NX page: P|I/D.
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.translate(0x4000_0000, kind: .exec, user: false) }, 0x11)
        // Bit 7 in a PML4E is reserved.
        w64(0x30000 + 8, 0x31000 | 0x87)
        XCTAssertEqual(pfCode { () throws(Fault) in _ = try cpu.translate(0x80_0000_0000, kind: .read, user: false) }, 0x9)
    }

    func testTLBIsFlushedAndInvalidated() throws {
        setupTwoLevel()
        XCTAssertEqual(try cpu.readLinear(0x400000, size: 4, user: false), 0)
        mem.write(0x300000, size: 4, value: 0x1234)
        // Remap PTE 0 to 0x300000: the stale TLB entry still answers until INVLPG.
        w32(0x11000, 0x300000 | 0x7)
        XCTAssertEqual(try cpu.readLinear(0x400000, size: 4, user: false), 0)
        cpu.invalidatePage(0x400000)
        XCTAssertEqual(try cpu.readLinear(0x400000, size: 4, user: false), 0x1234)
    }

    func testPageCrossingWriteIsAllOrNothing() {
        setupTwoLevel()
        // 0x400FFE..0x401001 crosses into the read-only supervisor page: with WP the write faults
        // and the first page must be untouched.
        cpu.s.pointee.cr0 |= 0x1_0000
        cpu.flushTLB()
        XCTAssertNotNil(pfCode { () throws(Fault) in try cpu.writeLinear(0x400FFE, size: 4, user: false, 0xFFFF_FFFF) })
        XCTAssertEqual(mem.read(0x200FFE, size: 2), 0)
    }

    func testSegmentLimitsAndExpandDown() {
        // Protected mode, DS = expand-down writable data, limit 0x0FFF, 16-bit (B=0).
        cpu.s.pointee.cr0 |= 1
        cpu.updateMode()
        cpu.sreg[3] = SegmentCache(base: 0x1000, limit: 0x0FFF, selector: 0x10,
                                   attr: UInt16(ATTR_P | ATTR_S | 0x6))
        XCTAssertThrowsError(try cpu.linear(seg: 3, off: 0x0FFF, size: 1, write: false))
        XCTAssertEqual(try? cpu.linear(seg: 3, off: 0x1000, size: 2, write: true), 0x2000)
        XCTAssertThrowsError(try cpu.linear(seg: 3, off: 0xFFFF, size: 2, write: false))
        // Read-only data: writes #GP, reads fine. SS faults are #SS.
        cpu.sreg[0] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0x18, attr: UInt16(ATTR_P | ATTR_S | 0x1))
        XCTAssertThrowsError(try cpu.linear(seg: 0, off: 0, size: 1, write: true)) { e in
            XCTAssertEqual((e as? Fault)?.vector, Fault.GP)
        }
        XCTAssertNoThrow(try cpu.linear(seg: 0, off: 0, size: 1, write: false))
        cpu.sreg[2].limit = 0xFF
        XCTAssertThrowsError(try cpu.linear(seg: 2, off: 0xFF, size: 2, write: true)) { e in
            XCTAssertEqual((e as? Fault)?.vector, Fault.SS)
        }
        // Unusable (null) segment: #GP(0).
        cpu.sreg[4].attr = 0
        XCTAssertThrowsError(try cpu.linear(seg: 4, off: 0, size: 1, write: false))
    }
}

/// Physical-memory accessors with guest-controlled addresses never trap.
final class PhysicalMemoryTests: XCTestCase {
    func testAddressesNearTheTopNeverTrap() {
        let mem = PhysicalMemory(ramSize: 2 << 20)
        for pa: UInt64 in [~0, ~0 - 3, 1 << 63, (1 << 52) - 1, 0x1_0000_0000 - 2, (2 << 20) - 1] {
            _ = mem.read(pa, size: 8)
            mem.write(pa, size: 8, value: 0x1122_3344_5566_7788)
            XCTAssertNil(mem.readBytes(pa, count: 16))
            XCTAssertFalse([UInt8](repeating: 1, count: 16).withUnsafeBytes { mem.writeBytes(pa, $0) })
        }
        XCTAssertNil(mem.readBytes(0, count: Int.max))
        XCTAssertEqual(mem.read(~0 - 3, size: 4), 0xFFFF_FFFF)
        XCTAssertEqual(mem.readBytes((2 << 20) - 2, count: 2)?.count, 2)
    }
}
