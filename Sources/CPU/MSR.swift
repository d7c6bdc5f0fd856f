import CPUState

// Model-specific registers: RDMSR / WRMSR. Unknown MSRs and reserved bits raise #GP(0).

/// MSR indices we implement.
public enum MSRIndex {
    public static let TSC: UInt32 = 0x10
    public static let APIC_BASE: UInt32 = 0x1B
    public static let FEATURE_CONTROL: UInt32 = 0x3A
    public static let BIOS_SIGN_ID: UInt32 = 0x8B
    public static let PLATFORM_INFO: UInt32 = 0xCE
    public static let MTRRCAP: UInt32 = 0xFE
    public static let ARCH_CAPABILITIES: UInt32 = 0x10A
    public static let SYSENTER_CS: UInt32 = 0x174
    public static let SYSENTER_ESP: UInt32 = 0x175
    public static let SYSENTER_EIP: UInt32 = 0x176
    public static let MISC_ENABLE: UInt32 = 0x1A0
    public static let MTRR_PHYSBASE0: UInt32 = 0x200      // ..0x20F: base/mask pairs
    public static let MTRR_FIX64K_00000: UInt32 = 0x250
    public static let MTRR_FIX16K_80000: UInt32 = 0x258
    public static let MTRR_FIX16K_A0000: UInt32 = 0x259
    public static let MTRR_FIX4K_C0000: UInt32 = 0x268    // ..0x26F
    public static let PAT: UInt32 = 0x277
    public static let MTRR_DEF_TYPE: UInt32 = 0x2FF
    public static let EFER: UInt32 = 0xC000_0080
    public static let STAR: UInt32 = 0xC000_0081
    public static let LSTAR: UInt32 = 0xC000_0082
    public static let CSTAR: UInt32 = 0xC000_0083
    public static let SFMASK: UInt32 = 0xC000_0084
    public static let FS_BASE: UInt32 = 0xC000_0100
    public static let GS_BASE: UInt32 = 0xC000_0101
    public static let KERNEL_GS_BASE: UInt32 = 0xC000_0102
    public static let TSC_AUX: UInt32 = 0xC000_0103
}

/// True when `v` is a canonical 48-bit linear address.
@inline(__always) func canonicalAddr48(_ v: UInt64) -> Bool {
    UInt64(bitPattern: Int64(bitPattern: v << 16) >> 16) == v
}

extension CPU {
    /// Number of variable-range MTRR pairs (MTRRcap.VCNT).
    var mtrrVariableCount: Int { Int(s.pointee.mtrr_cap & 0xFF) }

    /// Fixed-range MTRR slot for an MSR index, or nil.
    func mtrrFixedSlot(_ index: UInt32) -> Int? {
        switch index {
        case MSRIndex.MTRR_FIX64K_00000: return 0
        case MSRIndex.MTRR_FIX16K_80000: return 1
        case MSRIndex.MTRR_FIX16K_A0000: return 2
        case MSRIndex.MTRR_FIX4K_C0000...(MSRIndex.MTRR_FIX4K_C0000 + 7): return 3 + Int(index - MSRIndex.MTRR_FIX4K_C0000)
        default: return nil
        }
    }

    /// Physical-address bits above MAXPHYADDR (reserved in base/mask style registers).
    var physHighReserved: UInt64 { ~((UInt64(1) << physAddrBits) - 1) }

    @inline(__always) static func validMemoryType(_ t: UInt64, pat: Bool) -> Bool {
        // 0 UC, 1 WC, 4 WT, 5 WP, 6 WB; PAT adds 7 UC-.
        t == 0 || t == 1 || t == 4 || t == 5 || t == 6 || (pat && t == 7)
    }

    static func validTypeBytes(_ v: UInt64, pat: Bool) -> Bool {
        for i in 0..<8 where !validMemoryType((v >> (8 * UInt64(i))) & 0xFF, pat: pat) { return false }
        return true
    }

    /// The guest-visible time-stamp counter.
    public var guestTSC: UInt64 { tscSource() &+ s.pointee.tsc_offset }

    /// RDMSR semantics: the value of MSR `index`, or #GP(0).
    public func readMSR(_ index: UInt32) throws(Fault) -> UInt64 {
        let p = s
        switch index {
        case MSRIndex.TSC: return guestTSC
        case MSRIndex.APIC_BASE: return p.pointee.apic_base
        case MSRIndex.FEATURE_CONTROL: return 1                     // locked, VMX/SMX off
        case MSRIndex.BIOS_SIGN_ID: return 0
        case MSRIndex.PLATFORM_INFO: return p.pointee.platform_info
        case MSRIndex.MTRRCAP: return p.pointee.mtrr_cap
        case MSRIndex.ARCH_CAPABILITIES:
            guard cpuid.has(.archCapabilities) else { throw Fault.gp(0) }
            // RDCL_NO, SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO: an emulator
            // is not exposed to these speculative side channels.
            return 1 << 0 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 8
        case MSRIndex.SYSENTER_CS: return p.pointee.sysenter_cs
        case MSRIndex.SYSENTER_ESP: return p.pointee.sysenter_esp
        case MSRIndex.SYSENTER_EIP: return p.pointee.sysenter_eip
        case MSRIndex.MISC_ENABLE:
            // Fast strings (0), BTS unavailable (11), PEBS unavailable (12) read as set.
            return p.pointee.misc_enable | 1 << 11 | 1 << 12
        case MSRIndex.PAT: return p.pointee.pat
        case MSRIndex.MTRR_DEF_TYPE: return p.pointee.mtrr_def_type
        case MSRIndex.MTRR_PHYSBASE0..<(MSRIndex.MTRR_PHYSBASE0 + 16):
            let i = Int(index - MSRIndex.MTRR_PHYSBASE0)
            guard i / 2 < mtrrVariableCount else { throw Fault.gp(0) }
            return cpu_mtrr_var(p)[i]
        case MSRIndex.EFER: return p.pointee.efer
        case MSRIndex.STAR: return p.pointee.star
        case MSRIndex.LSTAR: return p.pointee.lstar
        case MSRIndex.CSTAR: return p.pointee.cstar
        case MSRIndex.SFMASK: return p.pointee.sfmask
        case MSRIndex.FS_BASE: return sreg[4].base
        case MSRIndex.GS_BASE: return sreg[5].base
        case MSRIndex.KERNEL_GS_BASE: return p.pointee.kernel_gs_base
        case MSRIndex.TSC_AUX:
            guard cpuid.has(.rdtscp) || cpuid.has(.rdpid) else { throw Fault.gp(0) }
            return p.pointee.tsc_aux
        default:
            if let slot = mtrrFixedSlot(index) { return cpu_mtrr_fixed(p)[slot] }
            if let v = platform?.readMSR(index) { return v }
            throw Fault.gp(0)
        }
    }

    /// WRMSR semantics: writes MSR `index` or raises #GP(0) (unknown MSR, reserved bits,
    /// non-canonical address, read-only register).
    public func writeMSR(_ index: UInt32, _ v: UInt64) throws(Fault) {
        let p = s
        switch index {
        case MSRIndex.TSC:
            p.pointee.tsc_offset = v &- tscSource()
        case MSRIndex.APIC_BASE:
            // BSP (8), x2APIC enable (10, unsupported), global enable (11), base (12..MAXPHYADDR-1).
            let valid: UInt64 = (1 << 8 | 1 << 11 | 0xFFFF_FFFF_FFFF_F000) & ~physHighReserved
            if v & ~valid != 0 { throw Fault.gp(0) }
            // BSP is read-only.
            p.pointee.apic_base = (v & ~(1 << 8)) | (p.pointee.apic_base & (1 << 8))
            platform?.apicBaseChanged(p.pointee.apic_base)
        case MSRIndex.BIOS_SIGN_ID:
            break                                                    // microcode update trigger: ignored
        case MSRIndex.SYSENTER_CS:
            p.pointee.sysenter_cs = v & 0xFFFF_FFFF
        case MSRIndex.SYSENTER_ESP, MSRIndex.SYSENTER_EIP:
            if !canonicalAddr48(v) { throw Fault.gp(0) }
            if index == MSRIndex.SYSENTER_ESP { p.pointee.sysenter_esp = v } else { p.pointee.sysenter_eip = v }
        case MSRIndex.MISC_ENABLE:
            // Writable: fast strings (0), automatic thermal control (3), performance monitoring
            // available (7), limit CPUID maxval (22), XD disable (34). Others are kept.
            let writable: UInt64 = 1 << 0 | 1 << 3 | 1 << 7 | 1 << 22 | 1 << 34
            p.pointee.misc_enable = (p.pointee.misc_enable & ~writable) | (v & writable)
        case MSRIndex.PAT:
            if !CPU.validTypeBytes(v, pat: true) { throw Fault.gp(0) }
            p.pointee.pat = v
        case MSRIndex.MTRR_DEF_TYPE:
            if v & ~0xCFF != 0 || !CPU.validMemoryType(v & 0xFF, pat: false) { throw Fault.gp(0) }
            p.pointee.mtrr_def_type = v
        case MSRIndex.MTRR_PHYSBASE0..<(MSRIndex.MTRR_PHYSBASE0 + 16):
            let i = Int(index - MSRIndex.MTRR_PHYSBASE0)
            guard i / 2 < mtrrVariableCount else { throw Fault.gp(0) }
            if i & 1 == 0 {
                if v & (physHighReserved | 0xF00) != 0 || !CPU.validMemoryType(v & 0xFF, pat: false) { throw Fault.gp(0) }
            } else {
                if v & (physHighReserved | 0x7FF) != 0 { throw Fault.gp(0) }
            }
            cpu_mtrr_var(p)[i] = v
        case MSRIndex.EFER:
            let old = p.pointee.efer
            if v & ~cpuid.eferSupported != 0 { throw Fault.gp(0) }
            // LME may not change while paging is on.
            if (old ^ v) & 0x100 != 0 && p.pointee.cr0 & 0x8000_0000 != 0 { throw Fault.gp(0) }
            // LMA is maintained by the processor: writes are ignored.
            let nv = (v & ~0x400) | (old & 0x400)
            p.pointee.efer = nv
            if (old ^ nv) & 0x800 != 0 { flushTLB() }
            updateMode()
        case MSRIndex.STAR:
            p.pointee.star = v
        case MSRIndex.LSTAR, MSRIndex.CSTAR:
            if !canonicalAddr48(v) { throw Fault.gp(0) }
            if index == MSRIndex.LSTAR { p.pointee.lstar = v } else { p.pointee.cstar = v }
        case MSRIndex.SFMASK:
            p.pointee.sfmask = v & 0xFFFF_FFFF
        case MSRIndex.FS_BASE, MSRIndex.GS_BASE, MSRIndex.KERNEL_GS_BASE:
            if !canonicalAddr48(v) { throw Fault.gp(0) }
            switch index {
            case MSRIndex.FS_BASE: sreg[4].base = v
            case MSRIndex.GS_BASE: sreg[5].base = v
            default: p.pointee.kernel_gs_base = v
            }
        case MSRIndex.TSC_AUX:
            guard cpuid.has(.rdtscp) || cpuid.has(.rdpid) else { throw Fault.gp(0) }
            if v >> 32 != 0 { throw Fault.gp(0) }
            p.pointee.tsc_aux = v
        default:
            // MTRRcap, PLATFORM_INFO, FEATURE_CONTROL (locked), ARCH_CAPABILITIES are read-only.
            if let slot = mtrrFixedSlot(index) {
                if !CPU.validTypeBytes(v, pat: false) { throw Fault.gp(0) }
                cpu_mtrr_fixed(p)[slot] = v
                return
            }
            if let pl = platform, pl.writeMSR(index, v) { return }
            throw Fault.gp(0)
        }
    }
}
