import CPU
import CPUState

/// The interpreter side: a CPU in 64-bit mode at CPL 3 with 4-level paging that maps the same
/// linear addresses as the host region (`NativeRunner`): guard pages unmapped, scratch
/// user/read/write/no-execute, code user/read-only/executable. No IDT: an exception is recorded
/// (with the state at the fault) when the interpreter reports it, and the run stops there.
public final class EmuHarness {
    public let mem: PhysicalMemory
    public let cpu: CPU
    let regionBase: UInt64
    let scratchPhys: UInt64 = 0x10000
    let codePhys: UInt64 = 0x12000
    var base: CPUState
    var fault: DTFault?
    var faultState: DTState?

    public init(regionBase: UInt64, selectors: [UInt16], xcr0: UInt64) {
        precondition(regionBase & 0x1F_FFFF == 0 && regionBase < 1 << 39)
        self.regionBase = regionBase
        mem = PhysicalMemory(ramSize: 1 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
        // Page tables: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
        let pte: UInt64 = 7   // P | RW | US
        mem.write(0x1000 + ((regionBase >> 39) & 511) * 8, size: 8, value: 0x2000 | pte)
        mem.write(0x2000 + ((regionBase >> 30) & 511) * 8, size: 8, value: 0x3000 | pte)
        mem.write(0x3000 + ((regionBase >> 21) & 511) * 8, size: 8, value: 0x4000 | pte)
        let pt0 = 0x4000 + ((regionBase >> 12) & 511) * 8
        let nx: UInt64 = 1 << 63
        mem.write(pt0 + 1 * 8, size: 8, value: scratchPhys | pte | nx)
        mem.write(pt0 + 2 * 8, size: 8, value: (scratchPhys + 0x1000) | pte | nx)
        mem.write(pt0 + 4 * 8, size: 8, value: codePhys | 5)
        mem.write(pt0 + 5 * 8, size: 8, value: (codePhys + 0x1000) | 5)
        let s = cpu.s
        s.pointee.cr0 = 0x8005_0033            // PG AM WP NE ET MP PE
        s.pointee.cr3 = 0x1000
        s.pointee.cr4 = 0x20 | 0x200 | 0x400 | 0x4_0000   // PAE OSFXSR OSXMMEXCPT OSXSAVE
        s.pointee.efer = 0xD01                 // NXE LMA LME SCE
        s.pointee.xcr0 = xcr0
        let dpl3 = UInt16(3 << ATTR_DPL_SHIFT)
        for i in 0..<6 {
            cpu.sreg[i] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: selectors[i],
                                       attr: UInt16(ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0x3) | dpl3)
        }
        cpu.sreg[1].attr = UInt16(ATTR_P | ATTR_S | ATTR_L | ATTR_G | 0xB) | dpl3
        s.pointee.cpl = 3
        s.pointee.rflags = 0x202
        s.pointee.idtr = DescriptorTable(base: 0, limit: 0, _pad: 0)
        cpu.updateMode()
        cpu.flushTLB()
        base = s.pointee
        cpu.traceFault = { [unowned self] rip, f in
            if self.fault != nil { return }
            self.fault = DTFault(vector: Int(f.vector), code: UInt64(f.code), addr: f.vector == 14 ? self.cpu.s.pointee.cr2 : 0, rip: rip)
            self.faultState = self.capture()
        }
    }

    func capture() -> DTState {
        var out = DTState()
        for i in 0..<16 { out.gpr[i] = cpu.gpr[i] }
        out.rflags = cpu.flags()
        out.fx = cpu.fxsave64Image()
        for i in 416..<512 { out.fx[i] = 0 }
        out.fx[28] = 0; out.fx[29] = 0; out.fx[30] = 0; out.fx[31] = 0
        let y = UnsafeMutableRawPointer(cpu_ymm(cpu.s)!)
        for i in 0..<16 {
            for k in 0..<16 { out.ymmHi[16 * i + k] = y.load(fromByteOffset: 32 * i + 16 + k, as: UInt8.self) }
        }
        let p = mem.ramPointer(scratchPhys)!
        for i in 0..<DTState.scratchSize { out.scratch[i] = p[i] }
        return out
    }

    /// Runs `code` (placed at the code address) from `state` until RIP reaches its end, an
    /// exception, or `maxSteps` instructions.
    public func run(code: [UInt8], codeAddr: UInt64, state: DTState, maxSteps: Int = 256) -> DTResult {
        let s = cpu.s
        s.pointee = base
        for i in 0..<16 { cpu.gpr[i] = state.gpr[i] }
        s.pointee.rflags = state.rflags | 2
        cpu.loadFXSave64Image(state.fx)
        let y = UnsafeMutableRawPointer(cpu_ymm(s)!)
        for i in 0..<16 {
            for k in 0..<16 { y.storeBytes(of: state.ymmHi[16 * i + k], toByteOffset: 32 * i + 16 + k, as: UInt8.self) }
        }
        let sp = mem.ramPointer(scratchPhys)!
        state.scratch.withUnsafeBufferPointer { sp.update(from: $0.baseAddress!, count: DTState.scratchSize) }
        let cp = mem.ramPointer(codePhys)!
        cp.update(repeating: 0xCC, count: 0x2000)
        code.withUnsafeBufferPointer { cp.update(from: $0.baseAddress!, count: code.count) }
        cpu.rip = codeAddr
        fault = nil
        faultState = nil
        let end = codeAddr + UInt64(code.count)
        var d = Instr()
        var n = 0
        while cpu.rip != end && fault == nil && n < maxSteps {
            cpu.step(&d)
            n += 1
        }
        if let f = fault, let fs = faultState { return DTResult(state: fs, fault: f) }
        let out = capture()
        return DTResult(state: out, fault: nil, stuckAt: cpu.rip == end ? nil : cpu.rip)
    }
}
