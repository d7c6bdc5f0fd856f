import XCTest
import CPU
import CPUState

/// Protected-mode paths the test ROMs do not reach: virtual-8086 mode entry, interrupts from
/// v86 mode, and long-mode interrupt delivery (IST stacks, 16-byte alignment, IRETQ).
final class ProtectedModeTests: XCTestCase {
    var mem: PhysicalMemory!
    var cpu: CPU!
    let gdt: UInt64 = 0x800, idt: UInt64 = 0x1000, tss: UInt64 = 0x3000

    override func setUp() {
        mem = PhysicalMemory(ramSize: 2 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
    }

    func bytes(_ at: UInt64, _ b: [UInt8]) {
        for (i, v) in b.enumerated() { mem.write(at + UInt64(i), size: 1, value: UInt64(v)) }
    }

    func gate32(_ vector: UInt64, sel: UInt64, off: UInt64, access: UInt64) {
        let lo = (off & 0xFFFF) | sel << 16 | access << 40 | (off >> 16) << 48
        mem.write(idt + vector * 8, size: 8, value: lo)
    }

    /// Flat 32-bit protected mode at CPL 0 with code 0x08, data 0x10, a 32-bit TSS at 0x18.
    func enterProtected() {
        mem.write(gdt + 0x08, size: 8, value: 0x00CF_9A00_0000_FFFF)
        mem.write(gdt + 0x10, size: 8, value: 0x00CF_9200_0000_FFFF)
        mem.write(gdt + 0x18, size: 8, value: 0x0000_8B00_3000_0067)
        mem.write(tss + 4, size: 4, value: 0x9000)   // ESP0
        mem.write(tss + 8, size: 4, value: 0x10)     // SS0
        cpu.s.pointee.gdtr = DescriptorTable(base: gdt, limit: 0x1F, _pad: 0)
        cpu.s.pointee.idtr = DescriptorTable(base: idt, limit: 0x7FF, _pad: 0)
        cpu.s.pointee.cr0 |= 1
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: 0x08, attr: 0xC9B)
        for s in [0, 2, 3, 4, 5] {
            cpu.sreg[s] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, attr: 0xC93)
        }
        cpu.sreg[7] = SegmentCache(base: tss, limit: 0x67, selector: 0x18, attr: 0x8B)
        cpu.s.pointee.cpl = 0
        cpu.updateMode()
    }

    func testIRETToV86AndInterruptFromV86() {
        enterProtected()
        gate32(0x21, sel: 0x08, off: 0x5000, access: 0xEE)
        bytes(0x5000, [0xCF])                       // handler: iretd
        bytes(0x1000, [0xCF])                       // iretd (to v86)
        bytes(0x20010, [0xCD, 0x21, 0x90])          // v86: int 0x21; nop
        cpu.rip = 0x1000
        cpu.gpr[4] = 0x8000 - 36
        let frame: [UInt64] = [0x10, 0x2000, 0x2_3202, 0x0FF0, 0x3000, 0x4000, 0x5000, 0x6000, 0x7000]
        for (i, v) in frame.enumerated() { mem.write(0x8000 - 36 + UInt64(i) * 4, size: 4, value: v) }
        var d = Instr()
        cpu.step(&d)
        XCTAssertTrue(cpu.v86)
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.sreg[1].selector, 0x2000)
        XCTAssertEqual(cpu.sreg[1].base, 0x20000)
        XCTAssertEqual(cpu.sreg[3].base, 0x50000)
        XCTAssertEqual(cpu.gpr[4], 0x0FF0)
        XCTAssertEqual(cpu.rip, 0x10)
        cpu.step(&d)                                // int 0x21 (IOPL 3): to ring 0
        XCTAssertFalse(cpu.v86)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(cpu.rip, 0x5000)
        XCTAssertEqual(cpu.sreg[2].selector, 0x10)
        XCTAssertEqual(cpu.gpr[4], 0x9000 - 36)
        XCTAssertEqual(cpu.sreg[3].selector, 0, "DS is nulled on entry from v86")
        XCTAssertEqual(mem.read(0x9000 - 4, size: 4), 0x7000, "GS pushed first")
        XCTAssertEqual(mem.read(0x9000 - 16, size: 4), 0x4000, "ES")
        XCTAssertEqual(mem.read(0x9000 - 28, size: 4) & FlagBit.VM, FlagBit.VM, "EFLAGS image has VM")
        XCTAssertEqual(mem.read(0x9000 - 36, size: 4), 0x12, "return IP")
        cpu.step(&d)                                // iretd back to v86
        XCTAssertTrue(cpu.v86)
        XCTAssertEqual(cpu.rip, 0x12)
        XCTAssertEqual(cpu.sreg[3].selector, 0x5000)
        XCTAssertEqual(cpu.gpr[4], 0x0FF0)
    }

    func testV86InterruptToNonZeroDPLHandlerFaults() {
        enterProtected()
        cpu.s.pointee.rflags = 0x2_0202              // VM, IOPL 0
        cpu.s.pointee.cpl = 3
        cpu.updateMode()
        for s in 0..<6 { cpu.sreg[s] = SegmentCache(base: 0x20000, limit: 0xFFFF, selector: 0x2000, attr: 0xF3) }
        cpu.updateMode()
        bytes(0x20010, [0xCD, 0x21])
        cpu.rip = 0x10
        cpu.gpr[4] = 0x100
        gate32(13, sel: 0x08, off: 0x6000, access: 0x8E)
        var d = Instr()
        cpu.step(&d)                                // INT n in v86 with IOPL < 3: #GP(0)
        XCTAssertEqual(cpu.rip, 0x6000)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(mem.read(0x9000 - 40, size: 4), 0, "error code 0")
        XCTAssertEqual(mem.read(0x9000 - 36, size: 4), 0x10, "faulting IP")
    }

    func testLongModeInterruptUsesISTAlignedAndIRETQReturns() {
        // 64-bit code 0x08, data 0x10, 64-bit TSS 0x18 (16 bytes) with IST1.
        mem.write(gdt + 0x08, size: 8, value: 0x00AF_9A00_0000_FFFF)
        mem.write(gdt + 0x10, size: 8, value: 0x00CF_9200_0000_FFFF)
        mem.write(tss + 4, size: 8, value: 0x9000)       // RSP0
        mem.write(tss + 0x24, size: 8, value: 0xA008)    // IST1 (not 16-byte aligned)
        cpu.s.pointee.gdtr = DescriptorTable(base: gdt, limit: 0x27, _pad: 0)
        cpu.s.pointee.idtr = DescriptorTable(base: idt, limit: 0xFFF, _pad: 0)
        cpu.s.pointee.cr0 |= 1
        cpu.s.pointee.efer |= 0x500
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: 0x08, attr: 0xA9B)
        cpu.sreg[2] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, attr: 0xC93)
        cpu.sreg[7] = SegmentCache(base: tss, limit: 0x67, selector: 0x18, attr: 0x8B)
        cpu.updateMode()
        XCTAssertTrue(cpu.code64)
        // Gate 0x30: 64-bit interrupt gate, IST 1, handler 0x5000 (iretq).
        mem.write(idt + 0x30 * 16, size: 8, value: 0x5000 | 0x08 << 16 | 1 << 32 | 0x8E << 40)
        mem.write(idt + 0x30 * 16 + 8, size: 8, value: 0)
        bytes(0x5000, [0x48, 0xCF])
        bytes(0x1000, [0xCD, 0x30, 0x90])
        cpu.rip = 0x1000
        cpu.gpr[4] = 0x7FF8
        var d = Instr()
        cpu.step(&d)
        XCTAssertEqual(cpu.rip, 0x5000)
        XCTAssertEqual(cpu.gpr[4], 0xA000 - 40, "IST1 aligned down to 16, five qwords pushed")
        XCTAssertEqual(mem.read(0xA000 - 8, size: 8), 0x10, "SS")
        XCTAssertEqual(mem.read(0xA000 - 16, size: 8), 0x7FF8, "RSP")
        XCTAssertEqual(mem.read(0xA000 - 32, size: 8), 0x08, "CS")
        XCTAssertEqual(mem.read(0xA000 - 40, size: 8), 0x1002, "RIP")
        cpu.step(&d)
        XCTAssertEqual(cpu.rip, 0x1002)
        XCTAssertEqual(cpu.gpr[4], 0x7FF8)
        XCTAssertEqual(cpu.sreg[2].selector, 0x10)
    }
}
