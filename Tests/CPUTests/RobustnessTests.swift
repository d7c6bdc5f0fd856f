import XCTest
import CPU
import CPUState

/// A guest that executes garbage gets architectural exceptions or a triple fault; the host
/// never crashes or hangs, and every run ends within its instruction budget.
final class RobustnessTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
    }

    func makeCPU(seed: UInt64) -> (CPU, PhysicalMemory) {
        let mem = PhysicalMemory(ramSize: 4 << 20)
        var rng = LCG(state: seed)
        for i in 0..<(4 << 20) { mem.ram[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let cpu = CPU(memory: mem, ports: PortBus())
        return (cpu, mem)
    }

    func testRandomBytesInRealMode() {
        for seed in UInt64(1)...40 {
            let (cpu, _) = makeCPU(seed: seed)
            // Start in RAM at 0000:1000 with garbage everywhere (including the IVT).
            cpu.sreg[1].base = 0; cpu.sreg[1].selector = 0
            cpu.updateMode()
            cpu.rip = 0x1000
            var retired = 0
            for _ in 0..<200 {
                let r = cpu.run(budget: 1000)
                if r == .shutdown { break }
                if r == .halted {
                    // Wake it up and carry on: HLT in garbage is fine.
                    cpu.s.pointee.halted = 0
                }
                retired += 1
            }
            XCTAssertLessThanOrEqual(retired, 200)
        }
    }

    func testRandomBytesIn32And64BitCode() {
        for seed in UInt64(100)...130 {
            let (cpu, _) = makeCPU(seed: seed)
            // Flat protected mode (or long mode for odd seeds) without descriptor tables:
            // the first fault will escalate to a triple fault, which must be reported, not crash.
            cpu.s.pointee.cr0 |= 1
            cpu.sreg[1].attr = UInt16(ATTR_P | ATTR_S | 0xB | ATTR_DB | ATTR_G)
            cpu.sreg[1].limit = 0xFFFF_FFFF
            if seed & 1 == 1 {
                cpu.s.pointee.efer = 0x500
                cpu.sreg[1].attr = UInt16(ATTR_P | ATTR_S | 0xB | ATTR_L)
            }
            cpu.updateMode()
            cpu.rip = 0x2000
            var stops = 0
            while stops < 100 {
                let r = cpu.run(budget: 1000)
                stops += 1
                if r == .shutdown { break }
                if r == .halted { cpu.s.pointee.halted = 0 }
            }
        }
    }
}
