import CPUState

// System instructions: control/debug registers, MSRs, CPUID, descriptor-table registers,
// SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, TSC, cache/TLB control, HLT, CLI/STI.

/// CR0 bits.
enum CR0Bit {
    static let PE: UInt64 = 1 << 0, MP: UInt64 = 1 << 1, EM: UInt64 = 1 << 2, TS: UInt64 = 1 << 3
    static let ET: UInt64 = 1 << 4, NE: UInt64 = 1 << 5, WP: UInt64 = 1 << 16, AM: UInt64 = 1 << 18
    static let NW: UInt64 = 1 << 29, CD: UInt64 = 1 << 30, PG: UInt64 = 1 << 31
    static let defined: UInt64 = PE | MP | EM | TS | ET | NE | WP | AM | NW | CD | PG
}

/// CR4 bits.
enum CR4Bit {
    static let TSD: UInt64 = 1 << 2, DE: UInt64 = 1 << 3, PSE: UInt64 = 1 << 4, PAE: UInt64 = 1 << 5
    static let PGE: UInt64 = 1 << 7, PCE: UInt64 = 1 << 8, FSGSBASE: UInt64 = 1 << 16
    static let PCIDE: UInt64 = 1 << 17, OSXSAVE: UInt64 = 1 << 18, SMEP: UInt64 = 1 << 20
    static let SMAP: UInt64 = 1 << 21
    /// Changing any of these invalidates cached translations.
    static let paging: UInt64 = PSE | PAE | PGE | PCIDE | SMEP | SMAP
}

/// EFER bits.
enum EFERBit {
    static let SCE: UInt64 = 1 << 0, LME: UInt64 = 1 << 8, LMA: UInt64 = 1 << 10, NXE: UInt64 = 1 << 11
}

extension CPU {
    func execSystem(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .LAR, .LSL, .VERR, .VERW, .ARPL, .SLDT, .STR, .LLDT, .LTR:
            try execDescriptor(&d, ea)
        case .HLT:
            s.pointee.halted = 1
        case .CLI, .STI:
            if !realMode && UInt64(cpl) > iopl { throw Fault.gp(0) }
            if v86 && iopl < 3 { throw Fault.gp(0) }
            if d.mn == .CLI {
                s.pointee.rflags &= ~FlagBit.IF
            } else {
                if s.pointee.rflags & FlagBit.IF == 0 { s.pointee.intr_shadow = 1 }
                s.pointee.rflags |= FlagBit.IF
            }
        case .MOV:
            try execMovControl(&d)
        case .LGDT, .LIDT:
            let limit = try read(seg: d.seg, off: ea, size: 2)
            var base: UInt64
            if code64 {
                base = try read(seg: d.seg, off: ea &+ 2, size: 8)
            } else {
                base = try read(seg: d.seg, off: (ea &+ 2) & addrMask(d), size: 4)
                if d.opSize == 2 { base &= 0xFF_FFFF }
            }
            if d.mn == .LGDT {
                s.pointee.gdtr.base = base; s.pointee.gdtr.limit = UInt32(limit)
            } else {
                s.pointee.idtr.base = base; s.pointee.idtr.limit = UInt32(limit)
            }
        case .SGDT, .SIDT:
            let t = d.mn == .SGDT ? s.pointee.gdtr : s.pointee.idtr
            if code64 {
                // Check both parts before writing either.
                _ = try linear(seg: d.seg, off: ea, size: 2, write: true)
                _ = try linear(seg: d.seg, off: ea &+ 2, size: 8, write: true)
                try write(seg: d.seg, off: ea, size: 2, UInt64(t.limit & 0xFFFF))
                try write(seg: d.seg, off: ea &+ 2, size: 8, t.base)
            } else {
                // 16-bit operand size stores the full 32-bit base on modern processors.
                try write(seg: d.seg, off: ea, size: 2, UInt64(t.limit & 0xFFFF))
                try write(seg: d.seg, off: (ea &+ 2) & addrMask(d), size: 4, t.base & 0xFFFF_FFFF)
            }
        case .SMSW:
            let cr0 = s.pointee.cr0
            if d.isMem {
                try write(seg: d.seg, off: ea, size: 2, cr0 & 0xFFFF)
            } else {
                writeReg(d.rm, size: d.opSize, rex: d.rex, cr0 & sizeMask(d.opSize))
            }
        case .LMSW:
            let v = try readOp(d.op0, d, 2, ea)
            let old = s.pointee.cr0
            // Low four bits only; PE can be set but not cleared.
            let nv = (old & ~0xE) | (v & 0xE) | ((old | v) & CR0Bit.PE)
            s.pointee.cr0 = nv
            if nv != old { updateMode() }
        case .CLTS:
            s.pointee.cr0 &= ~CR0Bit.TS
        case .INVLPG:
            invalidatePage(segmentLinearNoCheck(d.seg, ea))
        case .INVD, .WBINVD:
            break                                     // no caches to write back
        case .CLFLUSH:
            // Checked like a byte read (segment limits, paging); nothing to flush.
            guard cpuid.has(.clfsh) else { countUnimplemented(d); throw Fault.undefined }
            _ = try read(seg: d.seg, off: ea, size: 1)
        case .CLFLUSHOPT, .CLWB:
            _ = try read(seg: d.seg, off: ea, size: 1)
        case .LFENCE, .MFENCE, .SFENCE:
            break                                     // memory is sequentially consistent here
        case .MONITOR, .MWAIT:
            guard cpuid.has(.monitor) else { throw Fault.undefined }
            if cpl != 0 && protectedMode { throw Fault.undefined }
            if d.mn == .MWAIT { s.pointee.halted = 1 }   // wake-up on interrupt, like HLT
        case .CLAC, .STAC:
            guard cpuid.has(.smap) else { throw Fault.undefined }
            if cpl != 0 && protectedMode { throw Fault.undefined }
            if d.mn == .CLAC { setFlags(0, mask: FlagBit.AC) } else { setFlags(FlagBit.AC, mask: FlagBit.AC) }
        case .XGETBV:
            guard s.pointee.cr4 & CR4Bit.OSXSAVE != 0 else { throw Fault.undefined }
            if gpr[1] & 0xFFFF_FFFF != 0 { throw Fault.gp(0) }
            let v = s.pointee.xcr0
            gpr[0] = v & 0xFFFF_FFFF; gpr[2] = v >> 32
        case .XSETBV:
            guard cpuid.has(.xsave) && s.pointee.cr4 & CR4Bit.OSXSAVE != 0 else { throw Fault.undefined }
            if cpl != 0 && protectedMode { throw Fault.gp(0) }
            if gpr[1] & 0xFFFF_FFFF != 0 { throw Fault.gp(0) }
            let v = (gpr[2] & 0xFFFF_FFFF) << 32 | (gpr[0] & 0xFFFF_FFFF)
            if v & 1 == 0 || v & ~cpuid.xcr0Supported != 0 || v & 6 == 4 { throw Fault.gp(0) }
            s.pointee.xcr0 = v
        case .RDTSC, .RDTSCP:
            if d.mn == .RDTSCP && !cpuid.has(.rdtscp) { throw Fault.undefined }
            if s.pointee.cr4 & CR4Bit.TSD != 0 && cpl != 0 && protectedMode { throw Fault.gp(0) }
            let t = guestTSC
            gpr[0] = t & 0xFFFF_FFFF; gpr[2] = t >> 32
            if d.mn == .RDTSCP { gpr[1] = s.pointee.tsc_aux & 0xFFFF_FFFF }
        case .RDPMC:
            if s.pointee.cr4 & CR4Bit.PCE == 0 && cpl != 0 && protectedMode { throw Fault.gp(0) }
            throw Fault.gp(0)                         // no performance counters exist
        case .RDMSR:
            let v = try readMSR(UInt32(truncatingIfNeeded: gpr[1]))
            gpr[0] = v & 0xFFFF_FFFF; gpr[2] = v >> 32
        case .WRMSR:
            let v = (gpr[2] & 0xFFFF_FFFF) << 32 | (gpr[0] & 0xFFFF_FFFF)
            try writeMSR(UInt32(truncatingIfNeeded: gpr[1]), v)
        case .CPUID:
            let r = cpuid.query(leaf: UInt32(truncatingIfNeeded: gpr[0]),
                                subleaf: UInt32(truncatingIfNeeded: gpr[1]), cr4: s.pointee.cr4,
                                xcr0: s.pointee.xcr0)
            gpr[0] = UInt64(r.eax); gpr[3] = UInt64(r.ebx); gpr[1] = UInt64(r.ecx); gpr[2] = UInt64(r.edx)
        case .RDRAND, .RDSEED:
            guard cpuid.has(d.mn == .RDRAND ? .rdrand : .rdseed) else { throw Fault.undefined }
            let v: UInt64
            if var z = randomSeed {
                // splitmix64
                z &+= 0x9E37_79B9_7F4A_7C15
                randomSeed = z
                var x = z
                x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
                x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
                v = x ^ (x >> 31)
            } else {
                var rng = SystemRandomNumberGenerator()
                v = rng.next()
            }
            // A value is always available: CF = 1, OF SF ZF AF PF = 0.
            writeReg(d.rm, size: d.opSize, rex: d.rex, v & sizeMask(d.opSize))
            setFlags(FlagBit.CF, mask: FlagBit.status)
        case .RDPID:
            guard cpuid.has(.rdpid) else { throw Fault.undefined }
            writeReg(d.rm, size: code64 ? 8 : 4, rex: d.rex, s.pointee.tsc_aux)
        case .RDFSBASE, .RDGSBASE, .WRFSBASE, .WRGSBASE:
            guard code64 && s.pointee.cr4 & CR4Bit.FSGSBASE != 0 else { throw Fault.undefined }
            let seg = d.mn == .RDFSBASE || d.mn == .WRFSBASE ? 4 : 5
            let size: UInt8 = d.rexW ? 8 : 4
            if d.mn == .RDFSBASE || d.mn == .RDGSBASE {
                writeReg(d.rm, size: size, rex: d.rex, sreg[seg].base & sizeMask(size))
            } else {
                let v = readReg(d.rm, size: size, rex: d.rex)
                if !canonicalAddr48(v) { throw Fault.gp(0) }
                sreg[seg].base = v
            }
        case .SWAPGS:
            guard code64 else { throw Fault.undefined }
            if cpl != 0 { throw Fault.gp(0) }
            let t = sreg[5].base
            sreg[5].base = s.pointee.kernel_gs_base
            s.pointee.kernel_gs_base = t
        case .SYSCALL:
            try execSyscall()
        case .SYSRET:
            try execSysret(d)
        case .SYSENTER:
            try execSysenter()
        case .SYSEXIT:
            try execSysexit(d)
        default:
            countUnimplemented(d)
            throw Fault.undefined
        }
    }

    @inline(__always) func addrMask(_ d: Instr) -> UInt64 { sizeMask(d.addrSize) }

    /// seg:offset to linear address without limit or canonical checks (INVLPG).
    func segmentLinearNoCheck(_ seg: UInt8, _ off: UInt64) -> UInt64 {
        if code64 { return seg >= 4 ? sreg[Int(seg)].base &+ off : off }
        return (sreg[Int(seg)].base &+ off) & 0xFFFF_FFFF
    }

    // MARK: control and debug registers

    /// MOV to/from CR0/CR2/CR3/CR4/CR8 and DR0-DR7. Operand size is 32 bits (64 in 64-bit mode);
    /// the ModRM.rm operand is always a register.
    func execMovControl(_ d: inout Instr) throws(Fault) {
        let size: UInt8 = code64 ? 8 : 4
        let n = d.reg
        if d.op1.kind == .C {
            let v: UInt64
            switch n {
            case 0: v = s.pointee.cr0
            case 2: v = s.pointee.cr2
            case 3: v = s.pointee.cr3
            case 4: v = s.pointee.cr4
            case 8: v = (platform?.readCR8() ?? s.pointee.cr8) & 0xF
            default: throw Fault.undefined
            }
            writeReg(d.rm, size: size, rex: d.rex, v & sizeMask(size))
        } else if d.op0.kind == .C {
            let v = readReg(d.rm, size: size, rex: d.rex)
            switch n {
            case 0: try writeCR0(v)
            case 2: s.pointee.cr2 = v
            case 3: try writeCR3(v)
            case 4: try writeCR4(v)
            case 8:
                if v & ~0xF != 0 { throw Fault.gp(0) }
                s.pointee.cr8 = v
                platform?.writeCR8(v)
            default: throw Fault.undefined
            }
        } else if d.op1.kind == .D {
            let i = try debugRegisterIndex(n)
            writeReg(d.rm, size: size, rex: d.rex, cpu_dr(s)[i] & sizeMask(size))
        } else {
            let i = try debugRegisterIndex(n)
            let v = readReg(d.rm, size: size, rex: d.rex)
            switch i {
            case 0...3: cpu_dr(s)[i] = v
            case 6:
                if v >> 32 != 0 { throw Fault.gp(0) }
                s.pointee.dr.6 = 0xFFFF_0FF0 | (v & 0xE00F)
            default:
                if v >> 32 != 0 { throw Fault.gp(0) }
                s.pointee.dr.7 = (v & 0xFFFF_23FF) | 0x400
            }
        }
    }

    /// Maps DR4/DR5 onto DR6/DR7 (unless CR4.DE) and raises #DB for DR7.GD.
    func debugRegisterIndex(_ n: UInt8) throws(Fault) -> Int {
        if n > 7 { throw Fault.undefined }
        var i = Int(n)
        if i == 4 || i == 5 {
            if s.pointee.cr4 & CR4Bit.DE != 0 { throw Fault.undefined }
            i += 2
        }
        if s.pointee.dr.7 & 0x2000 != 0 {
            // General detect: fault before the access; DR6.BD set, DR7.GD cleared for the handler.
            s.pointee.dr.6 |= 0x2000
            s.pointee.dr.7 &= ~0x2000
            throw Fault(vector: Fault.DB)
        }
        return i
    }

    /// MOV CR0 (Intel SDM Vol. 3, 2.5 and MOV CR).
    public func writeCR0(_ value: UInt64) throws(Fault) {
        if value >> 32 != 0 { throw Fault.gp(0) }
        let old = s.pointee.cr0
        let v = (value & CR0Bit.defined) | CR0Bit.ET
        if v & CR0Bit.PG != 0 && v & CR0Bit.PE == 0 { throw Fault.gp(0) }
        if v & CR0Bit.NW != 0 && v & CR0Bit.CD == 0 { throw Fault.gp(0) }
        var efer = s.pointee.efer
        if v & CR0Bit.PG != 0 && old & CR0Bit.PG == 0 {
            if efer & EFERBit.LME != 0 {
                // Activating IA-32e mode.
                if s.pointee.cr4 & CR4Bit.PAE == 0 { throw Fault.gp(0) }
                if UInt32(sreg[1].attr) & UInt32(ATTR_L) != 0 { throw Fault.gp(0) }
                efer |= EFERBit.LMA
            } else if s.pointee.cr4 & CR4Bit.PAE != 0 {
                try checkPDPTEs(s.pointee.cr3)
            }
        } else if v & CR0Bit.PG == 0 && old & CR0Bit.PG != 0 {
            if code64 { throw Fault.gp(0) }
            if s.pointee.cr4 & CR4Bit.PCIDE != 0 { throw Fault.gp(0) }
            efer &= ~EFERBit.LMA
        }
        s.pointee.cr0 = v
        s.pointee.efer = efer
        if (old ^ v) & (CR0Bit.PG | CR0Bit.WP | CR0Bit.PE) != 0 { flushTLB() }
        updateMode()
    }

    /// MOV CR3: reserved bits above MAXPHYADDR raise #GP in long mode; PAE PDPTEs are checked.
    public func writeCR3(_ value: UInt64) throws(Fault) {
        var v = value
        if inLongMode {
            if v & ~((1 << physAddrBits) - 1) != 0 { throw Fault.gp(0) }
        } else {
            v &= 0xFFFF_FFFF
            if s.pointee.cr0 & CR0Bit.PG != 0 && s.pointee.cr4 & CR4Bit.PAE != 0 { try checkPDPTEs(v) }
        }
        s.pointee.cr3 = v
        flushTLB()
    }

    /// MOV CR4: unsupported bits raise #GP; PAE cannot be cleared in long mode.
    public func writeCR4(_ v: UInt64) throws(Fault) {
        if v & ~cpuid.cr4Supported != 0 { throw Fault.gp(0) }
        let old = s.pointee.cr4
        if inLongMode && v & CR4Bit.PAE == 0 { throw Fault.gp(0) }
        if v & CR4Bit.PCIDE != 0 && old & CR4Bit.PCIDE == 0 && (!inLongMode || s.pointee.cr3 & 0xFFF != 0) {
            throw Fault.gp(0)
        }
        if !inLongMode && s.pointee.cr0 & CR0Bit.PG != 0 && v & CR4Bit.PAE != 0 &&
            (old ^ v) & (CR4Bit.PAE | CR4Bit.PGE | CR4Bit.PSE | CR4Bit.SMEP) != 0 {
            try checkPDPTEs(s.pointee.cr3)
        }
        s.pointee.cr4 = v
        if (old ^ v) & CR4Bit.paging != 0 { flushTLB() }
    }

    /// PAE paging loads the four PDPTEs when CR3 is written or paging modes change; present
    /// entries with reserved bits set make the MOV fault with #GP(0).
    func checkPDPTEs(_ cr3: UInt64) throws(Fault) {
        let base = cr3 & 0xFFFF_FFE0
        let reserved: UInt64 = ~((1 << physAddrBits) - 1) | 0x1E6
        for i in 0..<4 {
            let e = mem.read((base + UInt64(i) * 8) & mem.a20Mask, size: 8)
            if e & 1 != 0 && e & reserved != 0 { throw Fault.gp(0) }
        }
    }

    // MARK: fast system calls

    /// Flat 4 GiB descriptor-cache attributes for SYSCALL/SYSRET/SYSENTER/SYSEXIT.
    static func flatCode(dpl: UInt16, long: Bool) -> UInt16 {
        UInt16(0xB | ATTR_S | ATTR_P | ATTR_G) | dpl << UInt16(ATTR_DPL_SHIFT) | UInt16(long ? ATTR_L : ATTR_DB)
    }
    static func flatData(dpl: UInt16) -> UInt16 {
        UInt16(0x3 | ATTR_S | ATTR_P | ATTR_G | ATTR_DB) | dpl << UInt16(ATTR_DPL_SHIFT)
    }

    func loadFlat(_ seg: Int, selector: UInt16, attr: UInt16) {
        sreg[seg] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: selector, attr: attr)
    }

    /// SYSCALL (Intel: 64-bit mode only).
    func execSyscall() throws(Fault) {
        guard code64 && s.pointee.efer & EFERBit.SCE != 0 else { throw Fault.undefined }
        let f = flags()
        gpr[1] = s.pointee.rip
        gpr[11] = f & ~FlagBit.RF
        let sel = UInt16(truncatingIfNeeded: s.pointee.star >> 32)
        loadFlat(1, selector: sel & 0xFFFC, attr: CPU.flatCode(dpl: 0, long: true))
        loadFlat(2, selector: sel &+ 8, attr: CPU.flatData(dpl: 0))   // SDM: not masked
        s.pointee.cpl = 0
        s.pointee.rflags = (f & ~(s.pointee.sfmask | FlagBit.RF)) | 2
        s.pointee.cc_op = 0
        s.pointee.rip = s.pointee.lstar
        updateMode()
    }

    /// SYSRET to 64-bit mode (REX.W) or to compatibility mode.
    func execSysret(_ d: Instr) throws(Fault) {
        guard code64 && s.pointee.efer & EFERBit.SCE != 0 else { throw Fault.undefined }
        if cpl != 0 { throw Fault.gp(0) }
        let sel = UInt16(truncatingIfNeeded: s.pointee.star >> 48)
        if d.opSize == 8 {
            if !canonicalAddr48(gpr[1]) { throw Fault.gp(0) }
            s.pointee.rip = gpr[1]
            loadFlat(1, selector: (sel &+ 16) | 3, attr: CPU.flatCode(dpl: 3, long: true))
        } else {
            s.pointee.rip = gpr[1] & 0xFFFF_FFFF
            loadFlat(1, selector: sel | 3, attr: CPU.flatCode(dpl: 3, long: false))
        }
        loadFlat(2, selector: (sel &+ 8) | 3, attr: CPU.flatData(dpl: 3))
        s.pointee.cpl = 3
        writeRFLAGS((gpr[11] & 0x3C_7FD7) | 2)
        updateMode()
    }

    /// SYSENTER (protected mode, including IA-32e mode on Intel).
    func execSysenter() throws(Fault) {
        if realMode { throw Fault.gp(0) }
        let cs = s.pointee.sysenter_cs
        if cs & 0xFFFC == 0 { throw Fault.gp(0) }
        let long = inLongMode
        let f = flags()
        s.pointee.rflags = f & ~(FlagBit.VM | FlagBit.IF | FlagBit.RF)
        s.pointee.cc_op = 0
        loadFlat(1, selector: UInt16(cs & 0xFFFC), attr: CPU.flatCode(dpl: 0, long: long))
        loadFlat(2, selector: UInt16((cs &+ 8) & 0xFFFC), attr: CPU.flatData(dpl: 0))
        s.pointee.cpl = 0
        if long {
            gpr[4] = s.pointee.sysenter_esp
            s.pointee.rip = s.pointee.sysenter_eip
        } else {
            gpr[4] = s.pointee.sysenter_esp & 0xFFFF_FFFF
            s.pointee.rip = s.pointee.sysenter_eip & 0xFFFF_FFFF
        }
        updateMode()
    }

    /// SYSEXIT to 32-bit code, or to 64-bit code with REX.W.
    func execSysexit(_ d: Instr) throws(Fault) {
        if realMode { throw Fault.gp(0) }
        let cs = s.pointee.sysenter_cs
        if cs & 0xFFFC == 0 || cpl != 0 { throw Fault.gp(0) }
        if d.opSize == 8 && code64 {
            if !canonicalAddr48(gpr[1]) || !canonicalAddr48(gpr[2]) { throw Fault.gp(0) }
            loadFlat(1, selector: UInt16(truncatingIfNeeded: cs &+ 32) | 3, attr: CPU.flatCode(dpl: 3, long: true))
            loadFlat(2, selector: UInt16(truncatingIfNeeded: cs &+ 40) | 3, attr: CPU.flatData(dpl: 3))
            gpr[4] = gpr[1]
            s.pointee.rip = gpr[2]
        } else {
            loadFlat(1, selector: UInt16(truncatingIfNeeded: cs &+ 16) | 3, attr: CPU.flatCode(dpl: 3, long: false))
            loadFlat(2, selector: UInt16(truncatingIfNeeded: cs &+ 24) | 3, attr: CPU.flatData(dpl: 3))
            gpr[4] = gpr[1] & 0xFFFF_FFFF
            s.pointee.rip = gpr[2] & 0xFFFF_FFFF
        }
        s.pointee.cpl = 3
        updateMode()
    }
}
