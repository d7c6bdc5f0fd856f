import XCTest
import CPU
import CPUState

/// External interrupts, NMI, the STI shadow and HLT wake-up through the machine's entry points.
final class InterruptTests: XCTestCase {
    var mem: PhysicalMemory!
    var cpu: CPU!

    override func setUp() {
        mem = PhysicalMemory(ramSize: 2 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
        // Real mode, code at 0000:1000, stack at 0000:8000, IVT entries 0x20 and 2 -> 0000:2000 / 0000:3000.
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | ATTR_S | 0x3))
        cpu.updateMode()
        cpu.gpr[4] = 0x8000
        cpu.rip = 0x1000
        mem.write(0x20 * 4, size: 4, value: 0x0000_2000)
        mem.write(2 * 4, size: 4, value: 0x0000_3000)
        mem.write(0x2000, size: 1, value: 0xF4)  // handler: hlt
        mem.write(0x3000, size: 1, value: 0xF4)
    }

    func code(_ bytes: [UInt8]) {
        for (i, b) in bytes.enumerated() { mem.write(0x1000 + UInt64(i), size: 1, value: UInt64(b)) }
    }

    func testInterruptWaitsForSTIShadowThenDelivers() {
        code([0xFB, 0x90, 0x90, 0xF4])    // sti; nop; nop; hlt
        var acked = 0
        cpu.acknowledgeInterrupt = { acked += 1; return 0x20 }
        cpu.setInterruptRequest(true)
        var d = Instr()
        cpu.step(&d)                      // sti: IF=1, shadow for one instruction
        _ = cpu.run(budget: 1)            // the nop after STI runs before the interrupt
        XCTAssertEqual(cpu.rip, 0x1002)
        XCTAssertEqual(acked, 0)
        _ = cpu.run(budget: 1)            // now the interrupt is taken
        XCTAssertEqual(acked, 1)
        XCTAssertEqual(cpu.rip, 0x2000)
        // The frame holds FLAGS (IF set), CS=0, IP=0x1002; IF is cleared in the handler.
        XCTAssertEqual(mem.read(0x7FFA, size: 2), 0x1002)
        XCTAssertEqual(mem.read(0x7FFC, size: 2), 0)
        XCTAssertNotEqual(mem.read(0x7FFE, size: 2) & 0x200, 0)
        XCTAssertEqual(cpu.flags() & FlagBit.IF, 0)
    }

    func testMaskedInterruptIsNotTaken() {
        code([0xFA, 0x90, 0x90, 0x90])    // cli; nop...
        cpu.acknowledgeInterrupt = { XCTFail("acknowledged while IF=0"); return 0x20 }
        cpu.setInterruptRequest(true)
        XCTAssertEqual(cpu.run(budget: 4), .budget)
        XCTAssertEqual(cpu.rip, 0x1004)
    }

    func testHaltIsWokenByInterrupt() {
        code([0xFB, 0xF4, 0x90])          // sti; hlt; nop
        XCTAssertEqual(cpu.run(budget: 10), .halted)
        XCTAssertEqual(cpu.rip, 0x1002)
        cpu.acknowledgeInterrupt = { 0x20 }
        cpu.setInterruptRequest(true)
        _ = cpu.run(budget: 1)
        XCTAssertEqual(cpu.rip, 0x2000)
        XCTAssertEqual(mem.read(0x7FFA, size: 2), 0x1002, "return address is after the HLT")
    }

    func testNMIIgnoresIFAndIsBlockedUntilIRET() {
        code([0xFA, 0x90, 0x90, 0x90])
        var d = Instr()
        cpu.step(&d)                      // cli
        cpu.requestNMI()
        _ = cpu.run(budget: 1)
        XCTAssertEqual(cpu.rip, 0x3000)
        // A second NMI while the first handler runs stays pending.
        cpu.requestNMI()
        mem.write(0x3000, size: 1, value: 0x90)   // handler: nop; iret
        mem.write(0x3001, size: 1, value: 0xCF)
        _ = cpu.run(budget: 1)
        XCTAssertEqual(cpu.rip, 0x3001)
        _ = cpu.run(budget: 1)            // iret unblocks
        XCTAssertEqual(cpu.rip, 0x1001)
        _ = cpu.run(budget: 1)            // the pending NMI is delivered now
        XCTAssertEqual(cpu.rip, 0x3000)
    }
}
