// The KVM accelerator: runs the machine's CPU on /dev/kvm with the same RAM, buses and
// CPUState as the interpreter.
//
// Memory: guest RAM is handed to KVM as memory slots pointing into the one host mmap the
// interpreter uses (never copied); ROM images (page-aligned, see PhysicalMemory.mapROM) and
// read-from-RAM/ROM shadow segments become KVM_MEM_READONLY slots, so guest writes to them exit
// as MMIO and go through PhysicalMemory.write (ignored, or routed to RAM for shadow segments);
// device windows and partial pages stay unmapped and exit as MMIO to PhysicalMemory.read/write.
// Ports: IO exits go to the same PortBus. KVM has no A20 gate: the address space is always the
// A20-open one.
//
// Interrupts. We use a USERSPACE irqchip: our PIC, IOAPIC and LAPIC models stay the only ones,
// and the vCPU gets vectors with KVM_INTERRUPT when kvm_run says it can take one (asking for an
// interrupt window otherwise) and NMIs with KVM_NMI. Why not KVM_CREATE_IRQCHIP:
//   - the device models, their snapshots and the deterministic clock stay in one place, and a
//     run can move between the interpreter and KVM by copying CPUState alone (an in-kernel
//     PIC/IOAPIC/LAPIC would hold interrupt state in KVM's formats that we would have to
//     translate both ways at every switch);
//   - HLT exits to us (KVM_EXIT_HLT), which is how the machines detect a hung guest;
//   - the cost is an MMIO exit for every LAPIC access and an exit per injected interrupt: slow
//     for timer-heavy guests, but on this nested, emulator-heavy host correctness matters more.
// The in-kernel option is still available (`IRQChipMode.kernel`: KVM_CREATE_IRQCHIP before the
// vCPU, lines driven with `setIRQLine`, HLT/MP state handled by KVM) for a later fast path.
import CPU
import CPUState
import CKVM
#if canImport(Glibc)
import Glibc
#endif

/// Why a KVM run cannot go on. `description` is one line naming the cause.
public struct KVMRunError: Error, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case emulationFailure            // KVM_INTERNAL_ERROR_EMULATION: the host's instruction emulator gave up
        case internalError(UInt32)       // another KVM_EXIT_INTERNAL_ERROR suberror
        case failEntry(UInt64)           // KVM_EXIT_FAIL_ENTRY with the hardware reason
        case systemEvent(UInt32)         // a KVM_EXIT_SYSTEM_EVENT other than shutdown/reset
        case unexpectedExit(UInt32)      // an exit reason we do not handle
        case kvm                         // an ioctl failed
    }
    public let kind: Kind
    public let description: String
    public init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }
}

/// The CPU state in KVM's structures: what KVM_SET_* take and KVM_GET_* return. Converting
/// CPUState → KVMCPUState → CPUState is the identity for everything KVM can hold (x87 FCS/FDS
/// excepted: KVM's FPU image has 64-bit FIP/FDP only, so they come back as 0).
public struct KVMCPUState {
    public var regs = kvm_regs()
    public var sregs = kvm_sregs()
    public var fpu = kvm_fpu()
    public var events = kvm_vcpu_events()
    public var debugRegs = kvm_debugregs()
    public var xcr0: UInt64 = 1
    public var msrs: [(index: UInt32, value: UInt64)] = []
    public var halted = false

    public init() {}

    /// The MSRs of CPUState that go through KVM_GET/SET_MSRS (EFER, FS/GS base and APIC base
    /// travel in kvm_sregs).
    public static func modelledMSRs(cpuid: CPUIDModel, mtrrVariablePairs: Int = 8) -> [UInt32] {
        var l: [UInt32] = [
            MSRIndex.STAR, MSRIndex.LSTAR, MSRIndex.CSTAR, MSRIndex.SFMASK, MSRIndex.KERNEL_GS_BASE,
            MSRIndex.SYSENTER_CS, MSRIndex.SYSENTER_ESP, MSRIndex.SYSENTER_EIP,
            MSRIndex.PAT, MSRIndex.TSC, MSRIndex.MISC_ENABLE,
        ]
        if cpuid.has(.rdtscp) || cpuid.has(.rdpid) { l.append(MSRIndex.TSC_AUX) }
        if cpuid.has(.mtrr) {
            l.append(MSRIndex.MTRR_DEF_TYPE)
            l += [MSRIndex.MTRR_FIX64K_00000, MSRIndex.MTRR_FIX16K_80000, MSRIndex.MTRR_FIX16K_A0000]
            l += (0..<8).map { MSRIndex.MTRR_FIX4K_C0000 + UInt32($0) }
            l += (0..<(2 * min(mtrrVariablePairs, 8))).map { MSRIndex.MTRR_PHYSBASE0 + UInt32($0) }
        }
        return l
    }

    // Segment register order in kvm_sregs versus our sreg index.
    static func segment(_ c: SegmentCache) -> kvm_segment {
        var k = kvm_segment()
        let a = UInt32(c.attr)
        k.base = c.base
        k.limit = c.limit
        k.selector = c.selector
        k.type = UInt8(a & UInt32(ATTR_TYPE))
        k.s = UInt8((a >> 4) & 1)
        k.dpl = UInt8((a >> UInt32(ATTR_DPL_SHIFT)) & 3)
        k.present = UInt8((a >> 7) & 1)
        k.avl = UInt8((a >> 8) & 1)
        k.l = UInt8((a >> 9) & 1)
        k.db = UInt8((a >> 10) & 1)
        k.g = UInt8((a >> 11) & 1)
        k.unusable = k.present == 0 ? 1 : 0
        return k
    }

    static func segmentCache(_ k: kvm_segment) -> SegmentCache {
        var a = UInt32(k.type & 0xF) | UInt32(k.s & 1) << 4 | UInt32(k.dpl & 3) << UInt32(ATTR_DPL_SHIFT)
        a |= UInt32(k.present & 1) << 7 | UInt32(k.avl & 1) << 8 | UInt32(k.l & 1) << 9
        a |= UInt32(k.db & 1) << 10 | UInt32(k.g & 1) << 11
        if k.unusable != 0 { a &= ~UInt32(ATTR_P) }
        return SegmentCache(base: k.base, limit: k.limit, selector: k.selector, attr: UInt16(a))
    }

    /// x87 tag of an 80-bit register image: 0 valid, 1 zero, 2 special (as FXRSTOR rebuilds it).
    static func x87Tag(_ b: UnsafePointer<UInt8>) -> UInt16 {
        var mant: UInt64 = 0
        for i in 0..<8 { mant |= UInt64(b[i]) << (8 * UInt64(i)) }
        let exp = (UInt16(b[8]) | UInt16(b[9]) << 8) & 0x7FFF
        if exp == 0x7FFF { return 2 }
        if exp == 0 { return mant == 0 ? 1 : 2 }
        return mant >> 63 == 0 ? 2 : 0
    }

    /// Captures `cpu`'s state (lazy flags materialised) for KVM.
    public init(cpu: CPU, msrIndices: [UInt32]) {
        let s = cpu.s
        let g = cpu.gpr
        regs.rax = g[0]; regs.rcx = g[1]; regs.rdx = g[2]; regs.rbx = g[3]
        regs.rsp = g[4]; regs.rbp = g[5]; regs.rsi = g[6]; regs.rdi = g[7]
        regs.r8 = g[8]; regs.r9 = g[9]; regs.r10 = g[10]; regs.r11 = g[11]
        regs.r12 = g[12]; regs.r13 = g[13]; regs.r14 = g[14]; regs.r15 = g[15]
        regs.rip = s.pointee.rip
        regs.rflags = cpu.flags()

        let sr = cpu.sreg
        sregs.es = Self.segment(sr[0]); sregs.cs = Self.segment(sr[1]); sregs.ss = Self.segment(sr[2])
        sregs.ds = Self.segment(sr[3]); sregs.fs = Self.segment(sr[4]); sregs.gs = Self.segment(sr[5])
        sregs.ldt = Self.segment(sr[6]); sregs.tr = Self.segment(sr[7])
        sregs.gdt.base = s.pointee.gdtr.base
        sregs.gdt.limit = UInt16(truncatingIfNeeded: s.pointee.gdtr.limit)
        sregs.idt.base = s.pointee.idtr.base
        sregs.idt.limit = UInt16(truncatingIfNeeded: s.pointee.idtr.limit)
        sregs.cr0 = s.pointee.cr0; sregs.cr2 = s.pointee.cr2; sregs.cr3 = s.pointee.cr3
        sregs.cr4 = s.pointee.cr4; sregs.cr8 = s.pointee.cr8
        sregs.efer = s.pointee.efer
        sregs.apic_base = s.pointee.apic_base

        // x87/SSE: kvm_fpu holds ST(i) in stack order and the abridged (FXSAVE) tag byte.
        fpu.fcw = s.pointee.fcw
        fpu.fsw = s.pointee.fsw
        fpu.last_opcode = s.pointee.fop
        fpu.last_ip = s.pointee.fip
        fpu.last_dp = s.pointee.fdp
        fpu.mxcsr = s.pointee.mxcsr
        let top = Int((s.pointee.fsw >> 11) & 7)
        let st = cpu_st(s)!
        let ymm = cpu_ymm(s)!
        var ftwx: UInt8 = 0
        withUnsafeMutablePointer(to: &fpu) { f in
            let fpr = ckvm_fpu_fpr(f)!
            let xmm = ckvm_fpu_xmm(f)!
            for i in 0..<8 {
                withUnsafeBytes(of: st[(top + i) & 7].bytes) { src in
                    for k in 0..<10 { fpr[16 * i + k] = src[k] }
                }
                if (s.pointee.ftw >> UInt16(2 * i)) & 3 != 3 { ftwx |= 1 << UInt8(i) }
            }
            for i in 0..<16 {
                withUnsafeBytes(of: ymm[i].bytes) { src in
                    for k in 0..<16 { xmm[16 * i + k] = src[k] }
                }
            }
        }
        fpu.ftwx = ftwx
        xcr0 = s.pointee.xcr0

        // Interrupt shadow (STI when IF is set, else MOV SS: VMX refuses STI blocking with IF=0)
        // and NMI state.
        events.flags = CKVM_VCPUEVENT_VALID_NMI_PENDING | CKVM_VCPUEVENT_VALID_SHADOW
        if s.pointee.intr_shadow != 0 {
            events.interrupt.shadow = UInt8(regs.rflags & 0x200 != 0 ? KVM_X86_SHADOW_INT_STI : KVM_X86_SHADOW_INT_MOV_SS)
        }
        events.nmi.pending = s.pointee.nmi_pending != 0 ? 1 : 0
        events.nmi.masked = s.pointee.nmi_blocked != 0 ? 1 : 0

        let dr = cpu_dr(s)!
        withUnsafeMutablePointer(to: &debugRegs) { d in
            let db = ckvm_debugregs_db(d)!
            for i in 0..<4 { db[i] = dr[i] }
        }
        debugRegs.dr6 = dr[6]
        debugRegs.dr7 = dr[7]
        halted = s.pointee.halted != 0

        msrs = msrIndices.compactMap { i in Self.msrValue(cpu, i).map { (i, $0) } }
    }

    static func msrValue(_ cpu: CPU, _ index: UInt32) -> UInt64? {
        let p = cpu.s
        switch index {
        case MSRIndex.STAR: return p.pointee.star
        case MSRIndex.LSTAR: return p.pointee.lstar
        case MSRIndex.CSTAR: return p.pointee.cstar
        case MSRIndex.SFMASK: return p.pointee.sfmask
        case MSRIndex.KERNEL_GS_BASE: return p.pointee.kernel_gs_base
        case MSRIndex.SYSENTER_CS: return p.pointee.sysenter_cs
        case MSRIndex.SYSENTER_ESP: return p.pointee.sysenter_esp
        case MSRIndex.SYSENTER_EIP: return p.pointee.sysenter_eip
        case MSRIndex.PAT: return p.pointee.pat
        case MSRIndex.TSC: return cpu.guestTSC
        // Bits 11/12 (BTS/PEBS unavailable) read as set on the interpreter (MSR.swift).
        case MSRIndex.MISC_ENABLE: return p.pointee.misc_enable | 1 << 11 | 1 << 12
        case MSRIndex.TSC_AUX: return p.pointee.tsc_aux
        case MSRIndex.MTRR_DEF_TYPE: return p.pointee.mtrr_def_type
        case MSRIndex.MTRR_FIX64K_00000: return cpu_mtrr_fixed(p)[0]
        case MSRIndex.MTRR_FIX16K_80000: return cpu_mtrr_fixed(p)[1]
        case MSRIndex.MTRR_FIX16K_A0000: return cpu_mtrr_fixed(p)[2]
        case MSRIndex.MTRR_FIX4K_C0000..<(MSRIndex.MTRR_FIX4K_C0000 + 8):
            return cpu_mtrr_fixed(p)[3 + Int(index - MSRIndex.MTRR_FIX4K_C0000)]
        case MSRIndex.MTRR_PHYSBASE0..<(MSRIndex.MTRR_PHYSBASE0 + 16):
            return cpu_mtrr_var(p)[Int(index - MSRIndex.MTRR_PHYSBASE0)]
        default: return nil
        }
    }

    static func setMSR(_ cpu: CPU, _ index: UInt32, _ v: UInt64) {
        let p = cpu.s
        switch index {
        case MSRIndex.STAR: p.pointee.star = v
        case MSRIndex.LSTAR: p.pointee.lstar = v
        case MSRIndex.CSTAR: p.pointee.cstar = v
        case MSRIndex.SFMASK: p.pointee.sfmask = v
        case MSRIndex.KERNEL_GS_BASE: p.pointee.kernel_gs_base = v
        case MSRIndex.SYSENTER_CS: p.pointee.sysenter_cs = v
        case MSRIndex.SYSENTER_ESP: p.pointee.sysenter_esp = v
        case MSRIndex.SYSENTER_EIP: p.pointee.sysenter_eip = v
        case MSRIndex.PAT: p.pointee.pat = v
        case MSRIndex.TSC: p.pointee.tsc_offset = v &- cpu.tscSource()
        case MSRIndex.MISC_ENABLE: p.pointee.misc_enable = v & ~(1 << 11 | 1 << 12)
        case MSRIndex.TSC_AUX: p.pointee.tsc_aux = v
        case MSRIndex.MTRR_DEF_TYPE: p.pointee.mtrr_def_type = v
        case MSRIndex.MTRR_FIX64K_00000: cpu_mtrr_fixed(p)[0] = v
        case MSRIndex.MTRR_FIX16K_80000: cpu_mtrr_fixed(p)[1] = v
        case MSRIndex.MTRR_FIX16K_A0000: cpu_mtrr_fixed(p)[2] = v
        case MSRIndex.MTRR_FIX4K_C0000..<(MSRIndex.MTRR_FIX4K_C0000 + 8):
            cpu_mtrr_fixed(p)[3 + Int(index - MSRIndex.MTRR_FIX4K_C0000)] = v
        case MSRIndex.MTRR_PHYSBASE0..<(MSRIndex.MTRR_PHYSBASE0 + 16):
            cpu_mtrr_var(p)[Int(index - MSRIndex.MTRR_PHYSBASE0)] = v
        default: break
        }
    }

    /// Writes this state into `cpu` (mode recomputed, soft TLB flushed).
    public func store(into cpu: CPU) {
        let s = cpu.s
        let g = cpu.gpr
        g[0] = regs.rax; g[1] = regs.rcx; g[2] = regs.rdx; g[3] = regs.rbx
        g[4] = regs.rsp; g[5] = regs.rbp; g[6] = regs.rsi; g[7] = regs.rdi
        g[8] = regs.r8; g[9] = regs.r9; g[10] = regs.r10; g[11] = regs.r11
        g[12] = regs.r12; g[13] = regs.r13; g[14] = regs.r14; g[15] = regs.r15
        s.pointee.rip = regs.rip
        cpu.writeRFLAGS(regs.rflags)

        let sr = cpu.sreg
        sr[0] = Self.segmentCache(sregs.es); sr[1] = Self.segmentCache(sregs.cs); sr[2] = Self.segmentCache(sregs.ss)
        sr[3] = Self.segmentCache(sregs.ds); sr[4] = Self.segmentCache(sregs.fs); sr[5] = Self.segmentCache(sregs.gs)
        sr[6] = Self.segmentCache(sregs.ldt); sr[7] = Self.segmentCache(sregs.tr)
        s.pointee.gdtr.base = sregs.gdt.base
        s.pointee.gdtr.limit = UInt32(sregs.gdt.limit)
        s.pointee.idtr.base = sregs.idt.base
        s.pointee.idtr.limit = UInt32(sregs.idt.limit)
        s.pointee.cr0 = sregs.cr0; s.pointee.cr2 = sregs.cr2; s.pointee.cr3 = sregs.cr3
        s.pointee.cr4 = sregs.cr4; s.pointee.cr8 = sregs.cr8
        s.pointee.efer = sregs.efer
        s.pointee.apic_base = sregs.apic_base
        // CPL: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL (as VMX keeps it).
        if sregs.cr0 & 1 == 0 {
            s.pointee.cpl = 0
        } else if regs.rflags & (1 << 17) != 0 && sregs.efer & 0x400 == 0 {
            s.pointee.cpl = 3
        } else {
            s.pointee.cpl = UInt32(sregs.ss.dpl & 3)
        }

        s.pointee.fcw = fpu.fcw
        s.pointee.fsw = fpu.fsw
        s.pointee.fop = fpu.last_opcode
        s.pointee.fip = fpu.last_ip
        s.pointee.fdp = fpu.last_dp
        s.pointee.fcs = 0
        s.pointee.fds = 0
        s.pointee.mxcsr = fpu.mxcsr
        let top = Int((fpu.fsw >> 11) & 7)
        let st = cpu_st(s)!
        let ymm = cpu_ymm(s)!
        var f = fpu
        var ftw: UInt16 = 0
        withUnsafeMutablePointer(to: &f) { fp in
            let fpr = ckvm_fpu_fpr(fp)!
            let xmm = ckvm_fpu_xmm(fp)!
            for i in 0..<8 {
                withUnsafeMutableBytes(of: &st[(top + i) & 7].bytes) { dst in
                    for k in 0..<16 { dst[k] = k < 10 ? fpr[16 * i + k] : 0 }
                }
            }
            for i in 0..<8 {
                let tag: UInt16 = fpu.ftwx & (1 << UInt8(i)) == 0 ? 3
                    : withUnsafeBytes(of: st[i].bytes) { Self.x87Tag($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
                ftw |= tag << UInt16(2 * i)
            }
            for i in 0..<16 {
                withUnsafeMutableBytes(of: &ymm[i].bytes) { dst in
                    for k in 0..<16 { dst[k] = xmm[16 * i + k] }
                }
            }
        }
        s.pointee.ftw = ftw
        s.pointee.xcr0 = xcr0

        s.pointee.intr_shadow = events.interrupt.shadow != 0 ? 1 : 0
        s.pointee.nmi_pending = events.nmi.pending != 0 ? 1 : 0
        s.pointee.nmi_blocked = events.nmi.masked != 0 ? 1 : 0

        let dr = cpu_dr(s)!
        var d = debugRegs
        withUnsafeMutablePointer(to: &d) { dp in
            let db = ckvm_debugregs_db(dp)!
            for i in 0..<4 { dr[i] = db[i] }
        }
        dr[6] = debugRegs.dr6
        dr[7] = debugRegs.dr7
        s.pointee.halted = halted ? 1 : 0
        for m in msrs { Self.setMSR(cpu, m.index, m.value) }
        cpu.updateMode()
        cpu.flushTLB()
    }
}

/// Runs a machine's CPU on KVM. Create it for the machine's PhysicalMemory, PortBus and CPU;
/// `run` moves CPUState into the vCPU, runs until something the machine must see, and moves the
/// state back, so the interpreter can continue where KVM stopped (and vice versa).
public final class KVMAccelerator {
    public enum IRQChipMode: Sendable { case userspace, kernel }

    public let system: KVMSystem
    public let vm: KVMVM
    public let vcpu: KVMVCPU
    public let memory: PhysicalMemory
    public let ports: PortBus
    public let cpu: CPU
    public let irqchip: IRQChipMode
    /// The CPUID table given to the vCPU.
    public private(set) var cpuidEntries: [KVMCPUIDEntry] = []
    /// The memory slots currently registered.
    public private(set) var slots: [KVMVM.MemorySlot] = []
    /// Where the TSS (3 pages) and identity-map page KVM needs for real mode on Intel live.
    public private(set) var systemPagesBase: UInt64 = 0
    /// MSRs transferred with the state.
    public private(set) var msrIndices: [UInt32] = []
    /// Statistics: exits handled, by reason.
    public private(set) var exitCounts: [UInt32: UInt64] = [:]
    /// When KVM's own instruction emulator fails on an instruction (KVM_INTERNAL_ERROR_EMULATION),
    /// execute that one instruction on the interpreter and continue on KVM (true), or stop with a
    /// one-line error naming the instruction (false: `--kvm-strict`).
    public var interpreterAssist = true
    /// Instructions the interpreter executed for KVM, and (up to 64) where they were.
    public private(set) var assistedInstructions: UInt64 = 0
    public private(set) var assistedAddresses: Set<UInt64> = []
    var assistLog: ((UInt64) -> Void)? = nil

    /// The last exit was IO/MMIO: KVM finishes it on the next KVM_RUN, so read state only after
    /// one with immediate_exit set.
    var completionPending = false
    /// The vCPU executed HLT (userspace irqchip: KVM returned to us).
    var haltedInUserspace = false
    var shutdownSeen = false
    var timer: Int64?
    var timerThread: Int32 = 0
    /// The thread inside `run` (for `kick`), 0 when none.
    private var runThread: Int32 = 0

    /// Builds the VM: memory slots, CPUID, vCPU. The CPU's CPUID model is narrowed to what KVM
    /// supports, so the interpreter and KVM present the same CPU.
    public init(memory: PhysicalMemory, ports: PortBus, cpu: CPU, system: KVMSystem? = nil,
                irqchip: IRQChipMode = .userspace) throws(KVMError) {
        if let system { self.system = system } else { self.system = try KVMSystem() }
        self.memory = memory
        self.ports = ports
        self.cpu = cpu
        self.irqchip = irqchip
        vm = try self.system.createVM()
        let plan = KVMAccelerator.slotPlan(memory)
        guard let sys = KVMAccelerator.findSystemPages(memory, plan) else {
            throw KVMError("placing the KVM TSS/identity-map pages (no free 16 KiB below 4 GiB)", errno: ENOSPC)
        }
        systemPagesBase = sys
        try vm.setIdentityMapAddress(sys)
        try vm.setTSSAddress(sys + 0x1000)
        if irqchip == .kernel { try vm.createIRQChip() }
        slots = try KVMAccelerator.applySlots(vm, current: [], plan)
        vcpu = try vm.createVCPU(id: 0)
        let model = KVMAccelerator.filteredModel(cpu.cpuid, supported: try self.system.supportedCPUID())
        cpu.cpuid = model
        cpuidEntries = KVMAccelerator.cpuidEntries(model)
        try vcpu.setCPUID(cpuidEntries)
        let wanted = KVMCPUState.modelledMSRs(cpuid: model, mtrrVariablePairs: Int(cpu.s.pointee.mtrr_cap & 0xFF))
        let supported = Set((try? self.system.msrIndexList()) ?? [])
        // Keep what KVM lists, plus the architectural MSRs it always emulates but may not list.
        let always: Set<UInt32> = [MSRIndex.PAT, MSRIndex.MISC_ENABLE, MSRIndex.TSC]
        msrIndices = wanted.filter { supported.isEmpty || supported.contains($0) || always.contains($0) }
        _ = ckvm_kick_install()
    }

    deinit {
        if let t = timer { ckvm_timer_delete(t) }
    }

    // MARK: memory slots

    /// One planned slot: guest range, host bytes, read-only.
    public struct PlannedSlot: Equatable {
        public var guestPhysical: UInt64
        public var size: UInt64
        public var host: UnsafeMutableRawPointer
        public var readOnly: Bool
    }

    /// The slots for a PhysicalMemory: RAM (minus every page a region touches) read-write, the
    /// whole pages of ROM images and readable shadow segments read-only. MMIO windows, shadow
    /// segments without bytes and partial pages are left out: they exit as MMIO.
    public static func slotPlan(_ memory: PhysicalMemory) -> [PlannedSlot] {
        let page: UInt64 = 0x1000
        func down(_ x: UInt64) -> UInt64 { x & ~(page - 1) }
        func up(_ x: UInt64) -> UInt64 { (x + page - 1) & ~(page - 1) }
        let regions = memory.regionInfos
        var out: [PlannedSlot] = []
        // RAM pieces.
        var ram: [(start: UInt64, end: UInt64, host: UnsafeMutableRawPointer)] = []
        if memory.lowRAMEnd > 0 { ram.append((0, memory.lowRAMEnd, UnsafeMutableRawPointer(memory.ram))) }
        if memory.ramSize > memory.lowRAMEnd {
            ram.append((1 << 32, (1 << 32) + memory.ramSize - memory.lowRAMEnd,
                        UnsafeMutableRawPointer(memory.ram + Int(memory.lowRAMEnd))))
        }
        let holes = regions.map { (down($0.start), up($0.end)) }.sorted { $0.0 < $1.0 }
        for r in ram {
            var cur = r.start
            for h in holes where h.1 > cur && h.0 < r.end {
                if h.0 > cur {
                    let e = down(min(h.0, r.end))
                    if e > cur { out.append(PlannedSlot(guestPhysical: cur, size: e - cur, host: r.host + Int(cur - r.start), readOnly: false)) }
                }
                cur = max(cur, h.1)
            }
            let e = down(r.end)
            if cur < e { out.append(PlannedSlot(guestPhysical: cur, size: e - cur, host: r.host + Int(cur - r.start), readOnly: false)) }
        }
        // Read-only regions.
        for r in regions where r.kind != .mmio {
            guard let host = r.host else { continue }
            let s = up(r.start), e = down(r.end)
            guard e > s else { continue }
            let h = UnsafeMutableRawPointer(host) + Int(s - r.start)
            guard UInt(bitPattern: h) & UInt(page - 1) == 0 else { continue }
            out.append(PlannedSlot(guestPhysical: s, size: e - s, host: h, readOnly: true))
        }
        return out.sorted { $0.guestPhysical < $1.guestPhysical }
    }

    /// 16 KiB below 4 GiB touched by no slot and no region, searched downward from 0xFEFFC000
    /// (where QEMU puts them): identity-map page + 3 TSS pages.
    static func findSystemPages(_ memory: PhysicalMemory, _ plan: [PlannedSlot]) -> UInt64? {
        var used: [(UInt64, UInt64)] = plan.map { ($0.guestPhysical, $0.guestPhysical + $0.size) }
        used += memory.regionInfos.map { ($0.start & ~0xFFF, ($0.end + 0xFFF) & ~0xFFF) }
        used.append((0, memory.lowRAMEnd))
        var a: UInt64 = 0xFEFF_C000
        while a >= 0x10_0000 {
            if !used.contains(where: { $0.0 < a + 0x4000 && a < $0.1 }) { return a }
            a -= 0x4000
        }
        return nil
    }

    static func applySlots(_ vm: KVMVM, current: [KVMVM.MemorySlot], _ plan: [PlannedSlot]) throws(KVMError) -> [KVMVM.MemorySlot] {
        let want = plan.enumerated().map {
            KVMVM.MemorySlot(slot: UInt32($0.offset), guestPhysical: $0.element.guestPhysical, size: $0.element.size,
                             host: $0.element.host, readOnly: $0.element.readOnly)
        }
        if want == current { return current }
        // A slot's range cannot change in place: delete what differs, then add.
        for s in current where !want.contains(s) { try vm.deleteMemorySlot(s.slot) }
        for s in want where !current.contains(s) { try vm.setMemorySlot(s) }
        return want
    }

    /// Re-derives the slots from PhysicalMemory (shadow routing changes). Cheap when nothing changed.
    public func syncMemorySlots() throws(KVMError) {
        slots = try KVMAccelerator.applySlots(vm, current: slots, KVMAccelerator.slotPlan(memory))
    }

    // MARK: CPUID

    /// The model narrowed to the features KVM supports (feature words ANDed; XCR0 components
    /// ANDed with leaf 0xD; the hypervisor bit kept: it is ours to set).
    public static func filteredModel(_ model: CPUIDModel, supported: [KVMCPUIDEntry]) -> CPUIDModel {
        func leaf(_ f: UInt32, _ i: UInt32 = 0) -> KVMCPUIDEntry {
            supported.first { $0.function == f && $0.index == i } ?? KVMCPUIDEntry(function: f, index: i)
        }
        var m = model
        let l1 = leaf(1), l6 = leaf(6), l7 = leaf(7), e1 = leaf(0x8000_0001), e7 = leaf(0x8000_0007)
        let kvmWords: [CPUFeature.Word: UInt32] = [
            .l1edx: l1.edx, .l1ecx: l1.ecx | 1 << 31, .l6eax: l6.eax, .l7ebx: l7.ebx, .l7ecx: l7.ecx,
            .l7edx: l7.edx, .e1edx: e1.edx, .e1ecx: e1.ecx, .e7edx: e7.edx,
        ]
        for (w, v) in kvmWords { m.words[w.rawValue] &= v }
        let d = leaf(0xD)
        m.xcr0Supported &= UInt64(d.eax) | UInt64(d.edx) << 32 | 1
        let kvmMaxBasic = leaf(0).eax, kvmMaxExt = leaf(0x8000_0000).eax
        if kvmMaxBasic > 0 { m.maxBasicLeaf = min(m.maxBasicLeaf, kvmMaxBasic) }
        if kvmMaxExt >= 0x8000_0000 { m.maxExtendedLeaf = min(m.maxExtendedLeaf, kvmMaxExt) }
        let addr = leaf(0x8000_0008).eax
        if addr & 0xFF != 0 { m.physicalAddressBits = min(m.physicalAddressBits, addr & 0xFF) }
        if (addr >> 8) & 0xFF != 0 { m.linearAddressBits = min(m.linearAddressBits, (addr >> 8) & 0xFF) }
        return m
    }

    /// The KVM_SET_CPUID2 table answering exactly as `model.query` does (hypervisor leaf
    /// 0x40000000 included).
    public static func cpuidEntries(_ model: CPUIDModel) -> [KVMCPUIDEntry] {
        var out: [KVMCPUIDEntry] = []
        func add(_ leaf: UInt32, _ sub: UInt32, indexed: Bool) {
            let r = model.query(leaf: leaf, subleaf: sub, cr4: 0)
            out.append(KVMCPUIDEntry(function: leaf, index: sub, flags: indexed ? CKVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
                                     eax: r.eax, ebx: r.ebx, ecx: r.ecx, edx: r.edx))
        }
        for leaf in 0...model.maxBasicLeaf {
            switch leaf {
            case 4: for sub in 0...4 { add(leaf, UInt32(sub), indexed: true) }
            case 7: add(leaf, 0, indexed: true)
            case 0xB: for sub in 0...2 { add(leaf, UInt32(sub), indexed: true) }
            case 0xD: for sub in 0...1 { add(leaf, UInt32(sub), indexed: true) }
            default: add(leaf, 0, indexed: false)
            }
        }
        if model.has(.hypervisor) { add(0x4000_0000, 0, indexed: false) }
        for leaf in 0x8000_0000...model.maxExtendedLeaf { add(leaf, 0, indexed: false) }
        return out
    }

    // MARK: state transfer

    /// CPUState → vCPU.
    public func loadState() throws(KVMError) {
        let st = KVMCPUState(cpu: cpu, msrIndices: msrIndices)
        try vcpu.setSregs(st.sregs)
        try vcpu.setRegs(st.regs)
        try vcpu.setFPU(st.fpu)
        if system.checkExtension(KVM_CAP_XCRS) != 0 && cpu.cpuid.has(.xsave) {
            try vcpu.setXCR0(st.xcr0)
        }
        let n = try vcpu.setMSRs(st.msrs)
        if n < st.msrs.count {
            throw KVMError("KVM_SET_MSRS (rejected MSR 0x\(String(st.msrs[n].index, radix: 16)) = 0x\(String(st.msrs[n].value, radix: 16)))", errno: EINVAL)
        }
        try vcpu.setDebugRegs(st.debugRegs)
        try vcpu.setVCPUEvents(st.events)
        if irqchip == .kernel {
            try vcpu.setMPState(st.halted ? UInt32(KVM_MP_STATE_HALTED) : UInt32(KVM_MP_STATE_RUNNABLE))
            haltedInUserspace = false
        } else {
            haltedInUserspace = st.halted
        }
        shutdownSeen = cpu.s.pointee.shutdown != 0
        completionPending = false
    }

    /// vCPU → CPUState. Finishes a pending IO/MMIO exit first (KVM_RUN with immediate_exit).
    public func storeState() throws(KVMError) {
        if completionPending {
            vcpu.run.pointee.immediate_exit = 1
            _ = try vcpu.runOnce()
            vcpu.run.pointee.immediate_exit = 0
            completionPending = false
        }
        var st = KVMCPUState()
        st.regs = try vcpu.getRegs()
        st.sregs = try vcpu.getSregs()
        st.fpu = try vcpu.getFPU()
        if system.checkExtension(KVM_CAP_XCRS) != 0 && cpu.cpuid.has(.xsave) { st.xcr0 = try vcpu.getXCR0() } else { st.xcr0 = cpu.s.pointee.xcr0 }
        st.msrs = try vcpu.getMSRs(msrIndices)
        st.debugRegs = try vcpu.getDebugRegs()
        st.events = try vcpu.getVCPUEvents()
        st.halted = irqchip == .kernel ? (try vcpu.getMPState()) == UInt32(KVM_MP_STATE_HALTED) : haltedInUserspace
        st.store(into: cpu)
        cpu.s.pointee.shutdown = shutdownSeen ? 1 : 0
        // KVM wrote guest RAM behind the interpreter's back: tell code caches (JIT) about it.
        if memory.lowRAMEnd > 0 { memory.onExternalWrite?(0, memory.lowRAMEnd) }
        if memory.ramSize > memory.lowRAMEnd { memory.onExternalWrite?(1 << 32, memory.ramSize - memory.lowRAMEnd) }
    }

    // MARK: run loop

    /// Asks a running `run` to return (.exitRequest) from another thread: sets the CPUState
    /// exit request and kicks the vCPU out of KVM_RUN.
    public func requestExit() {
        cpu.s.pointee.exit_request = 1
        kick()
    }

    /// Makes the vCPU leave KVM_RUN soon (immediate_exit + the kick signal to the run thread).
    public func kick() {
        vcpu.run.pointee.immediate_exit = 1
        let t = runThread
        if t != 0 { _ = ckvm_kick_thread(t) }
    }

    /// Loads CPUState into the vCPU, runs until HLT (.halted), triple fault (.shutdown), an exit
    /// request (.exitRequest: CPUState.exit_request, e.g. the exit port) or the budget
    /// (.budget: `timeout` seconds of wall-clock time or `maxExits` exits) and stores the state
    /// back into CPUState. Guest states KVM cannot run throw one-line KVMRunErrors (the state is
    /// stored back first, so `cpu.rip` is where it stopped).
    public func run(timeout: Double? = nil, maxExits: UInt64 = .max) throws(KVMRunError) -> StopReason {
        do { try loadState() } catch { throw KVMRunError(kind: .kvm, description: error.description) }
        runThread = ckvm_gettid()
        ckvm_thread_set_run(vcpu.run)
        var deadline: timespec? = nil
        if let t = timeout {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let ns = UInt64(max(0, t) * 1e9)
            deadline = timespec(tv_sec: now.tv_sec + Int(ns / 1_000_000_000) + (now.tv_nsec + Int(ns % 1_000_000_000)) / 1_000_000_000,
                                tv_nsec: (now.tv_nsec + Int(ns % 1_000_000_000)) % 1_000_000_000)
            armTimer(ns)
        }
        var result: Result<StopReason, KVMRunError>
        while true {
            do {
                result = .success(try loop(deadline: deadline, maxExits: maxExits))
            } catch {
                result = .failure(error)
            }
            // The host's instruction emulator gave up on one instruction (on kvm-pvm and on hosts
            // without unrestricted guest it emulates real mode and often protected mode too, and
            // it has no DAA, no protected-mode IRET, no task switches...). Run exactly that
            // instruction on the interpreter, then go back to KVM.
            guard interpreterAssist, case .failure(let e) = result, e.kind == .emulationFailure else { break }
            do {
                try storeState()
                let at = cpu.s.pointee.rip
                var d = Instr()
                cpu.step(&d)
                assistedInstructions &+= 1
                if assistLog != nil || assistedAddresses.count < 64 {
                    assistedAddresses.insert(at)
                }
                try loadState()
            } catch {
                result = .failure(KVMRunError(kind: .kvm, description: error.description))
                break
            }
        }
        if let t = timer, timeout != nil { _ = ckvm_timer_arm(t, 0) }
        ckvm_thread_set_run(nil)
        runThread = 0
        vcpu.run.pointee.immediate_exit = 0
        do { try storeState() } catch {
            if case .success = result { result = .failure(KVMRunError(kind: .kvm, description: error.description)) }
        }
        if case .failure(let e) = result, e.kind != .kvm { result = .failure(describe(e)) }
        return try result.get()
    }

    private func armTimer(_ ns: UInt64) {
        let tid = ckvm_gettid()
        if timer == nil || timerThread != tid {
            if let t = timer { ckvm_timer_delete(t); timer = nil }
            var t: Int64 = 0
            if ckvm_timer_create(&t) == 0 { timer = t; timerThread = tid }
        }
        if let t = timer { _ = ckvm_timer_arm(t, max(ns, 1)) }
    }

    private static func passed(_ d: timespec?) -> Bool {
        guard let d else { return false }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec > d.tv_sec || (now.tv_sec == d.tv_sec && now.tv_nsec >= d.tv_nsec)
    }

    private func loop(deadline: timespec?, maxExits: UInt64) throws(KVMRunError) -> StopReason {
        let run = vcpu.run
        var left = maxExits
        do {
            while true {
                if cpu.s.pointee.exit_request != 0 {
                    cpu.s.pointee.exit_request = 0
                    return .exitRequest
                }
                if shutdownSeen { return .shutdown }
                if left == 0 || Self.passed(deadline) { return .budget }
                if irqchip == .userspace {
                    if cpu.s.pointee.nmi_pending != 0 {
                        try vcpu.nmi()
                        cpu.s.pointee.nmi_pending = 0
                        haltedInUserspace = false
                    }
                    if haltedInUserspace {
                        if cpu.interruptPending { haltedInUserspace = false } else { return .halted }
                    }
                    if cpu.interruptPending {
                        if run.pointee.ready_for_interrupt_injection != 0 && run.pointee.if_flag != 0 {
                            if let v = cpu.acknowledgeInterrupt() { try vcpu.interrupt(v) } else { cpu.interruptPending = false }
                            run.pointee.request_interrupt_window = 0
                        } else {
                            run.pointee.request_interrupt_window = 1
                        }
                    } else {
                        run.pointee.request_interrupt_window = 0
                    }
                }
                switch try vcpu.runOnce() {
                case .interrupted:
                    run.pointee.immediate_exit = 0
                    completionPending = false
                    continue
                case .exit(let reason):
                    completionPending = false
                    exitCounts[reason, default: 0] += 1
                    if left != .max { left -= 1 }
                    if let stop = try handleExit(reason) { return stop }
                }
            }
        } catch let e as KVMError {
            throw KVMRunError(kind: .kvm, description: e.description)
        } catch let e as KVMRunError {
            throw e
        } catch {
            throw KVMRunError(kind: .kvm, description: "kvm: \(error)")
        }
    }

    /// Handles one exit; returns a stop reason when the run must end.
    private func handleExit(_ reason: UInt32) throws -> StopReason? {
        let run = vcpu.run
        switch Int32(reason) {
        case KVM_EXIT_IO:
            let size = Int(ckvm_io_size(run)), count = Int(ckvm_io_count(run))
            let off = Int(ckvm_io_data_offset(run))
            guard size == 1 || size == 2 || size == 4, off >= MemoryLayout<kvm_run>.size,
                  off + size * count <= vcpu.mmapSize else {
                throw KVMRunError(kind: .unexpectedExit(reason), description: "kvm: malformed IO exit (size \(size), count \(count), data offset \(off))")
            }
            let port = ckvm_io_port(run)
            let data = UnsafeMutableRawPointer(run) + off
            for i in 0..<count {
                let p = data + i * size
                if ckvm_io_direction(run) == UInt8(KVM_EXIT_IO_OUT) {
                    var v: UInt32 = 0
                    memcpy(&v, p, size)
                    ports.write(port, size: size, value: v)
                } else {
                    var v = ports.read(port, size: size)
                    memcpy(p, &v, size)
                }
            }
            completionPending = true
        case KVM_EXIT_MMIO:
            let len = Int(ckvm_mmio_len(run))
            guard len >= 1 && len <= 8 else {
                throw KVMRunError(kind: .unexpectedExit(reason), description: "kvm: malformed MMIO exit (length \(len))")
            }
            let pa = ckvm_mmio_phys_addr(run)
            let data = ckvm_mmio_data(run)!
            if ckvm_mmio_is_write(run) != 0 {
                var v: UInt64 = 0
                memcpy(&v, data, len)
                if len == 1 || len == 2 || len == 4 || len == 8 {
                    memory.write(pa, size: len, value: v)
                } else {
                    for i in 0..<len { memory.write(pa &+ UInt64(i), size: 1, value: v >> (8 * UInt64(i))) }
                }
            } else {
                var v: UInt64 = 0
                if len == 1 || len == 2 || len == 4 || len == 8 {
                    v = memory.read(pa, size: len)
                } else {
                    for i in 0..<len { v |= memory.read(pa &+ UInt64(i), size: 1) << (8 * UInt64(i)) }
                }
                memcpy(data, &v, len)
            }
            completionPending = true
        case KVM_EXIT_HLT:
            haltedInUserspace = true
            if !cpu.interruptPending && cpu.s.pointee.nmi_pending == 0 { return .halted }
        case KVM_EXIT_SHUTDOWN:
            shutdownSeen = true
            return .shutdown
        case KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_INTR:
            break
        case KVM_EXIT_SYSTEM_EVENT:
            let t = ckvm_system_event_type(run)
            if t == UInt32(KVM_SYSTEM_EVENT_SHUTDOWN) || t == UInt32(KVM_SYSTEM_EVENT_RESET) {
                shutdownSeen = true
                return .shutdown
            }
            throw KVMRunError(kind: .systemEvent(t), description: "kvm: system event \(Self.systemEventName(t))")
        case KVM_EXIT_INTERNAL_ERROR:
            let sub = ckvm_internal_suberror(run)
            if sub == UInt32(KVM_INTERNAL_ERROR_EMULATION) {
                throw KVMRunError(kind: .emulationFailure, description: "")
            }
            let n = min(ckvm_internal_ndata(run), 16)
            let data = (0..<n).map { "0x" + String(ckvm_internal_data(run, $0), radix: 16) }.joined(separator: " ")
            throw KVMRunError(kind: .internalError(sub), description: n > 0 ? "data \(data)" : "")
        case KVM_EXIT_FAIL_ENTRY:
            throw KVMRunError(kind: .failEntry(ckvm_fail_entry_reason(run)), description: "")
        default:
            throw KVMRunError(kind: .unexpectedExit(reason), description: "")
        }
        return nil
    }

    // MARK: error lines

    static func internalErrorName(_ s: UInt32) -> String {
        switch Int32(s) {
        case KVM_INTERNAL_ERROR_EMULATION: return "KVM_INTERNAL_ERROR_EMULATION"
        case KVM_INTERNAL_ERROR_SIMUL_EX: return "KVM_INTERNAL_ERROR_SIMUL_EX"
        case KVM_INTERNAL_ERROR_DELIVERY_EV: return "KVM_INTERNAL_ERROR_DELIVERY_EV"
        case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON"
        default: return "suberror \(s)"
        }
    }

    static func systemEventName(_ t: UInt32) -> String {
        switch Int32(t) {
        case KVM_SYSTEM_EVENT_SHUTDOWN: return "SHUTDOWN"
        case KVM_SYSTEM_EVENT_RESET: return "RESET"
        case KVM_SYSTEM_EVENT_CRASH: return "CRASH"
        case KVM_SYSTEM_EVENT_WAKEUP: return "WAKEUP"
        case KVM_SYSTEM_EVENT_SUSPEND: return "SUSPEND"
        default: return "type \(t)"
        }
    }

    static func exitName(_ r: UInt32) -> String {
        let names: [Int32: String] = [
            KVM_EXIT_UNKNOWN: "KVM_EXIT_UNKNOWN", KVM_EXIT_EXCEPTION: "KVM_EXIT_EXCEPTION",
            KVM_EXIT_HYPERCALL: "KVM_EXIT_HYPERCALL", KVM_EXIT_DEBUG: "KVM_EXIT_DEBUG",
            KVM_EXIT_TPR_ACCESS: "KVM_EXIT_TPR_ACCESS", KVM_EXIT_NMI: "KVM_EXIT_NMI",
            KVM_EXIT_X86_RDMSR: "KVM_EXIT_X86_RDMSR", KVM_EXIT_X86_WRMSR: "KVM_EXIT_X86_WRMSR",
            KVM_EXIT_X86_BUS_LOCK: "KVM_EXIT_X86_BUS_LOCK", KVM_EXIT_NOTIFY: "KVM_EXIT_NOTIFY",
        ]
        return names[Int32(bitPattern: r)] ?? "exit reason \(r)"
    }

    /// Where the guest is, from CPUState (already stored back): "cs:rip (linear ..., physical
    /// ...) in <mode>" and the instruction bytes there.
    func guestLocation() -> (text: String, bytes: [UInt8]) {
        let cs = cpu.sreg[1]
        let rip = cpu.s.pointee.rip
        let linear = cpu.code64 ? rip : (cs.base &+ rip) & 0xFFFF_FFFF
        let mode: String
        if cpu.realMode { mode = "real mode" }
        else if cpu.v86 { mode = "virtual-8086 mode" }
        else if cpu.code64 { mode = "64-bit mode" }
        else if cpu.inLongMode { mode = "compatibility mode" }
        else { mode = cpu.mode & UInt32(MODE_CS32) != 0 ? "32-bit protected mode" : "16-bit protected mode" }
        let paging = cpu.s.pointee.cr0 & 0x8000_0000 != 0
        func physical(_ lin: UInt64) -> UInt64? { paging ? ((try? vcpu.translate(lin)) ?? nil) : lin }
        var bytes: [UInt8] = []
        for i in 0..<15 {
            guard let pa = physical(linear &+ UInt64(i)) else { break }
            bytes.append(UInt8(truncatingIfNeeded: memory.read(pa, size: 1)))
        }
        let pa0 = physical(linear).map { "0x" + String($0, radix: 16) } ?? "unmapped"
        let where_ = Self.hexPad(UInt64(cs.selector), 4) + ":" + String(rip, radix: 16)
        return ("\(where_) (linear 0x\(String(linear, radix: 16)), physical \(pa0)) in \(mode)", bytes)
    }

    static func hex(_ b: [UInt8]) -> String {
        b.isEmpty ? "unreadable" : b.map { hexPad(UInt64($0), 2) }.joined(separator: " ")
    }

    static func hexPad(_ v: UInt64, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    /// Completes a run error with where the guest stopped (one line).
    func describe(_ e: KVMRunError) -> KVMRunError {
        let loc = guestLocation()
        let run = vcpu.run
        switch e.kind {
        case .emulationFailure:
            var bytes = loc.bytes
            if ckvm_emulation_flags(run) & CKVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES != 0 {
                let n = min(Int(ckvm_emulation_insn_size(run)), 15)
                if n > 0 {
                    let p = ckvm_emulation_insn_bytes(run)!
                    bytes = (0..<n).map { p[$0] }
                }
            }
            return KVMRunError(kind: e.kind, description:
                "kvm: emulation failure (KVM_EXIT_INTERNAL_ERROR, KVM_INTERNAL_ERROR_EMULATION) at \(loc.text): instruction bytes \(Self.hex(bytes)); the host kernel's instruction emulator cannot execute this instruction (without --kvm-strict emu runs it on the interpreter; or use --accel tcg)")
        case .internalError(let sub):
            return KVMRunError(kind: e.kind, description:
                "kvm: internal error (KVM_EXIT_INTERNAL_ERROR, \(Self.internalErrorName(sub))) at \(loc.text): instruction bytes \(Self.hex(loc.bytes))" + (e.description.isEmpty ? "" : "; " + e.description))
        case .failEntry(let r):
            return KVMRunError(kind: e.kind, description:
                "kvm: VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x\(String(r, radix: 16))) at \(loc.text): the guest state is invalid for this host")
        case .unexpectedExit(let r):
            let what = e.description.isEmpty ? "unhandled \(Self.exitName(r))" : e.description
            return KVMRunError(kind: e.kind, description: "kvm: \(what) at \(loc.text): instruction bytes \(Self.hex(loc.bytes))")
        case .systemEvent:
            return KVMRunError(kind: e.kind, description: "\(e.description) at \(loc.text)")
        case .kvm:
            return e
        }
    }
}

extension ROMMachine {
    /// A KVM accelerator for this machine (userspace irqchip: the ROM machine has none).
    public func makeKVMAccelerator(system: KVMSystem? = nil, irqchip: KVMAccelerator.IRQChipMode = .userspace) throws(KVMError) -> KVMAccelerator {
        try KVMAccelerator(memory: memory, ports: ports, cpu: cpu, system: system, irqchip: irqchip)
    }

    /// Runs the ROM on KVM from the current CPUState until it exits, shuts down, hangs, or
    /// `timeout` seconds of wall-clock time / `maxExits` exits pass (→ .instructionLimit; the
    /// state is then back in CPUState and `run` can continue on the interpreter).
    /// Throws KVMRunError (one line) when KVM cannot run the guest, KVMError when KVM is unusable.
    public func runOnKVM(_ accelerator: KVMAccelerator? = nil, timeout: Double = 60,
                         maxExits: UInt64 = .max) throws -> MachineExit {
        let kvm = try accelerator ?? makeKVMAccelerator()
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var exitsLeft = maxExits
        while true {
            if let st = exitStatus { return .exitPort(st) }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = Double(now.tv_sec - start.tv_sec) + Double(now.tv_nsec - start.tv_nsec) / 1e9
            if elapsed >= timeout || exitsLeft == 0 { return .instructionLimit }
            let before = kvm.exitCounts.values.reduce(0, +)
            let r = try kvm.run(timeout: timeout.isFinite ? timeout - elapsed : nil, maxExits: exitsLeft)
            let used = kvm.exitCounts.values.reduce(0, +) - before
            if exitsLeft != .max { exitsLeft -= min(used, exitsLeft) }
            if let st = exitStatus { return .exitPort(st) }
            switch r {
            case .shutdown: return .shutdown
            case .halted: return .hung
            case .budget: return .instructionLimit
            case .exitRequest: continue
            }
        }
    }
}
