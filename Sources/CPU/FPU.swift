import CPUState

// x87 floating point unit (D8-DF escapes, FWAIT) and FXSAVE/FXRSTOR.
// FPUMath.swift: the numeric core; FPUEnv.swift: FSTENV/FLDENV/FSAVE/FRSTOR/FXSAVE/FXRSTOR.

#if arch(x86_64)
extension CPU {
    func execFPU(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let op = Int(d.opcode & 7)              // D8..DF -> 0..7
        let reg = Int(d.modrmReg)
        let rm = Int(d.modrm & 7)
        if d.mn == .FPU && !x87ValidEncoding(op, reg, rm, d.isMem) { throw Fault.undefined }
        if s.pointee.cr0 & 0xC != 0 { throw Fault(vector: Fault.NM) }   // CR0.EM or CR0.TS
        switch d.mn {
        case .FXSAVE: try fxsave(d, ea); return
        case .FXRSTOR: try fxrstor(d, ea); return
        default: break
        }
        if d.isMem {
            // Non-waiting: FNSTENV, FNSTCW, FNSAVE, FNSTSW m16.
            let control = (op == 1 && reg >= 4) || (op == 5 && (reg == 4 || reg >= 6))
            if !((op == 1 && (reg == 6 || reg == 7)) || (op == 5 && (reg == 6 || reg == 7))) { try x87CheckPending() }
            if control {
                try x87Mem(d, ea, op, reg)
            } else {
                // FIP changes only if the instruction completes.
                let fip = s.pointee.fip, fcs = s.pointee.fcs
                x87NoteInstruction(d)
                do { try x87Mem(d, ea, op, reg) } catch {
                    s.pointee.fip = fip; s.pointee.fcs = fcs
                    throw error
                }
                if s.pointee.fsw & swES != 0 { x87NoteException(d, ea: ea) }
            }
        } else {
            // Non-waiting: FNCLEX, FNINIT, FNENI/FNDISI/FNSETPM (no-ops), FNSTSW AX.
            let nowait = (op == 3 && reg == 4 && rm <= 4) || (op == 7 && reg == 4 && rm == 0)
            if !nowait { try x87CheckPending() }
            if !nowait { x87NoteInstruction(d) }
            try x87Reg(d, op, reg, rm)
            if !nowait && s.pointee.fsw & swES != 0 { x87NoteException(d, ea: nil) }
        }
    }

    /// FWAIT/WAIT: #NM when CR0.MP and CR0.TS are both set; raises pending x87 exceptions.
    func execFWAIT() throws(Fault) {
        let cr0 = s.pointee.cr0
        if cr0 & 0x2 != 0 && cr0 & 0x8 != 0 { throw Fault(vector: Fault.NM) }
        try x87CheckPending()
    }

    /// A pending unmasked exception (FSW.ES) is reported as #MF by waiting instructions when CR0.NE
    /// is set; with CR0.NE clear it stays pending (external FERR# reporting belongs to the machine).
    @inline(__always) func x87CheckPending() throws(Fault) {
        if s.pointee.fsw & swES != 0 && s.pointee.cr0 & 0x20 != 0 { throw Fault(vector: Fault.MF) }
    }

    /// True when the x87 unit has an unmasked exception pending (FSW.ES), for FERR#/IRQ13 wiring.
    public var fpuErrorPending: Bool { s.pointee.fsw & swES != 0 }

    /// Records FIP/FCS of a non-control instruction.
    func x87NoteInstruction(_ d: Instr) {
        var ip = s.pointee.rip &- UInt64(d.len)
        let m = s.pointee.mode
        if m & UInt32(MODE_CS64) == 0 { ip &= m & UInt32(MODE_CS32) != 0 ? 0xFFFF_FFFF : 0xFFFF }
        s.pointee.fip = ip
        s.pointee.fcs = sreg[1].selector
    }

    /// Records FOP (and FDP/FDS for memory operands) of a non-control instruction that raised an
    /// unmasked exception: like current Intel CPUs, FOP and FDP are not kept up to date otherwise
    /// (FOP compatibility mode off; CPUID.7.EBX[6] FDP_EXCPTN_ONLY).
    func x87NoteException(_ d: Instr, ea: UInt64?) {
        s.pointee.fop = UInt16(d.opcode & 7) << 8 | UInt16(d.modrm)
        if let ea {
            s.pointee.fdp = ea
            s.pointee.fds = sreg[Int(d.seg)].selector
        }
    }

    /// Reserved D8-DF encodings (#UD). The undocumented register aliases (FSTP1, FCOM2, FCOMP3,
    /// FXCH4, FCOMP5, FFREEP, FXCH7, FSTP8, FSTP9) execute as on Intel processors.
    func x87ValidEncoding(_ op: Int, _ reg: Int, _ rm: Int, _ mem: Bool) -> Bool {
        if mem {
            switch op {
            case 1: return reg != 1
            case 3: return reg != 4 && reg != 6
            case 5: return reg != 5
            default: return true
            }
        }
        switch op {
        case 1:
            switch reg {
            case 2: return rm == 0
            case 4: return rm != 2 && rm != 3 && rm != 6 && rm != 7
            case 5: return rm != 7
            default: return true
            }
        case 2: return reg < 4 || (reg == 5 && rm == 1)
        case 3: return reg == 4 ? rm <= 4 : reg != 7
        case 5: return reg != 6 && reg != 7
        case 6: return reg != 3 || rm == 1
        case 7: return reg != 4 ? reg != 7 : rm == 0
        default: return true
        }
    }

    // MARK: memory forms

    func x87Mem(_ d: Instr, _ ea: UInt64, _ op: Int, _ reg: Int) throws(Fault) {
        let seg = d.seg
        switch (op, reg) {
        case (0, _), (2, _), (4, _), (6, _):
            // Arithmetic with m32real, m32int, m64real, m16int.
            var src: F80
            var den = false
            switch op {
            case 0: (src, den) = x87Widen(try read(seg: seg, off: ea, size: 4), double: false)
            case 4: (src, den) = x87Widen(try read(seg: seg, off: ea, size: 8), double: true)
            case 2: src = F80(Float80(Int32(truncatingIfNeeded: try read(seg: seg, off: ea, size: 4))))
            default: src = F80(Float80(Int16(truncatingIfNeeded: try read(seg: seg, off: ea, size: 2))))
            }
            if reg == 2 || reg == 3 {
                x87Com(0, src: src, srcEmpty: false, quiet: false, pops: reg == 3 ? 1 : 0, memDenormal: den)
            } else {
                if x87Empty(0) {
                    if x87Underflow() { setST(0, .indefinite) }
                    return
                }
                if let r = x87Arith(reg, st(0), src, memDenormal: den) { setST(0, r) }
            }
        case (1, 0), (5, 0), (3, 5):
            // FLD m32real / m64real / m80real.
            let v: F80
            if op == 3 {
                let (lo, hi) = try x87Read80(seg, ea)
                v = F80(m: lo, se: hi)
            } else {
                let bits = try read(seg: seg, off: ea, size: op == 1 ? 4 : 8)
                if !x87Empty(7) {
                    if x87Overflow() { x87Push(.indefinite) }
                    return
                }
                guard let c = x87LoadReal(bits, double: op == 5) else { return }
                x87SetC1(false)
                x87Push(c)
                return
            }
            x87LoadPush(v)
        case (3, 0), (7, 0), (7, 5):
            // FILD m32int / m16int / m64int.
            let size: UInt8 = op == 3 ? 4 : (reg == 0 ? 2 : 8)
            let v = try read(seg: seg, off: ea, size: size)
            x87LoadPush(F80(Float80(Int64(bitPattern: sext(v, size)))))
        case (7, 4):
            // FBLD m80bcd.
            let (lo, hi) = try x87Read80(seg, ea)
            var n: Int64 = 0
            for i in stride(from: 8, through: 0, by: -1) {
                let b = i == 8 ? Int64(hi & 0xFF) : Int64((lo >> UInt64(8 * i)) & 0xFF)
                n = n * 100 + (b >> 4) * 10 + (b & 15)
            }
            x87LoadPush(F80(Float80(n)).withSign(hi & 0x8000 != 0))
        case (1, 2), (1, 3), (5, 2), (5, 3):
            // FST/FSTP m32real / m64real.
            let dbl = op == 5
            let size: UInt8 = dbl ? 8 : 4
            if x87Empty(0) {
                let saveSW = s.pointee.fsw
                if !x87Underflow() { return }
                let newSW = s.pointee.fsw
                s.pointee.fsw = saveSW
                try write(seg: seg, off: ea, size: size, dbl ? 0xFFF8_0000_0000_0000 : 0xFFC0_0000)
                s.pointee.fsw = newSW
                if reg == 3 { x87Pop() }
                return
            }
            let a = st(0)
            // One closure per conversion: a release build would otherwise evaluate both inside the
            // window and mix their exception flags.
            var (r, flags, c1) = dbl
                ? x87Round(s.pointee.fcw | 0x300, a, .zero, neg: a.neg) { d in
                    d.storeBytes(of: Double(ldF(d, 0)).bitPattern, toByteOffset: 32, as: UInt64.self)
                    d.storeBytes(of: UInt64(0), toByteOffset: 40, as: UInt64.self)
                }
                : x87Round(s.pointee.fcw | 0x300, a, .zero, neg: a.neg) { d in
                    d.storeBytes(of: UInt64(Float(ldF(d, 0)).bitPattern), toByteOffset: 32, as: UInt64.self)
                    d.storeBytes(of: UInt64(0), toByteOffset: 40, as: UInt64.self)
                }
            // Unmasked underflow is signalled on tininess alone (an exact denormal result too).
            let tiny = dbl ? (r.m >> 52 & 0x7FF == 0 && r.m & 0xF_FFFF_FFFF_FFFF != 0)
                           : (r.m >> 23 & 0xFF == 0 && r.m & 0x7F_FFFF != 0)
            if tiny && flags & swIE == 0 && x87Unmasked(swUE) { flags |= swUE }
            r.se = 0
            if x87Unmasked(flags & (swIE | swOE | swUE)) {
                x87SetC1(false)
                x87Raise(flags & (swIE | swOE | swUE))
                return
            }
            try write(seg: seg, off: ea, size: size, dbl ? r.m : r.m & 0xFFFF_FFFF)
            x87Raise(flags)
            x87SetC1(c1)
            if reg == 3 { x87Pop() }
        case (3, 7):
            // FSTP m80real.
            let v: F80
            if x87Empty(0) {
                let saveSW = s.pointee.fsw
                if !x87Underflow() { return }
                let newSW = s.pointee.fsw
                s.pointee.fsw = saveSW
                try x87Write80(seg, ea, F80.indefinite.m, F80.indefinite.se)
                s.pointee.fsw = newSW
            } else {
                v = st(0)
                try x87Write80(seg, ea, v.m, v.se)
                x87SetC1(false)
            }
            x87Pop()
        case (3, 1), (3, 2), (3, 3), (7, 1), (7, 2), (7, 3), (7, 7), (5, 1):
            // FISTTP m32 (DB /1), FIST/FISTP m32, FISTTP/FIST/FISTP m16, FISTP m64, FISTTP m64 (DD /1).
            let size: UInt8 = op == 3 ? 4 : (op == 5 || reg == 7 ? 8 : 2)
            let pop = reg != 2
            let bits = Int(size) * 8
            let v: UInt64
            if x87Empty(0) {
                let saveSW = s.pointee.fsw
                if !x87Underflow() { return }
                v = UInt64(1) << UInt64(bits - 1)
                let newSW = s.pointee.fsw
                s.pointee.fsw = saveSW
                try write(seg: seg, off: ea, size: size, v)
                s.pointee.fsw = newSW
                if pop { x87Pop() }
                return
            } else {
                let saveSW = s.pointee.fsw
                guard let x = x87ToInt(st(0), bits: bits, truncate: reg == 1) else { return }
                let newSW = s.pointee.fsw
                s.pointee.fsw = saveSW
                try write(seg: seg, off: ea, size: size, x)   // fault before any state change
                s.pointee.fsw = newSW
                if pop { x87Pop() }
                return
            }
            try write(seg: seg, off: ea, size: size, v)
            if pop { x87Pop() }
        case (7, 6):
            // FBSTP m80bcd.
            var lo: UInt64 = 0, hi: UInt16 = 0
            let saveSW = s.pointee.fsw
            if x87Empty(0) {
                if !x87Underflow() { return }
                lo = 0xC000_0000_0000_0000; hi = 0xFFFF
            } else {
                let a = st(0)
                x87SetC1(false)
                var invalid = a.isNaN || a.isInf || a.isUnsupported
                if !invalid {
                    let x = a.f
                    let r = x.rounded(x87Rounding)
                    if Swift.abs(r) > 999_999_999_999_999_999 { invalid = true } else {
                        if r != x { x87Raise(swPE); x87SetC1(Swift.abs(r) > Swift.abs(x)) }
                        var n = UInt64(Swift.abs(r))
                        for i in 0..<9 {
                            let b = (n % 10) | ((n / 10 % 10) << 4)
                            n /= 100
                            if i == 8 { hi = UInt16(b) } else { lo |= b << UInt64(8 * i) }
                        }
                        if r.sign == .minus { hi |= 0x8000 }
                    }
                }
                if invalid {
                    if x87Raise(swIE) { return }
                    lo = 0xC000_0000_0000_0000; hi = 0xFFFF
                }
            }
            let newSW = s.pointee.fsw
            s.pointee.fsw = saveSW
            try x87Write80(seg, ea, lo, hi)
            s.pointee.fsw = newSW
            x87Pop()
        case (1, 4): try fldenv(d, ea)
        case (1, 5):
            let v = UInt16(truncatingIfNeeded: try read(seg: seg, off: ea, size: 2))
            x87LoadCW(v)
        case (1, 6): try fstenv(d, ea)
        case (1, 7): try write(seg: seg, off: ea, size: 2, UInt64(s.pointee.fcw))
        case (5, 4): try frstor(d, ea)
        case (5, 6): try fsave(d, ea)
        case (5, 7): try write(seg: seg, off: ea, size: 2, UInt64(s.pointee.fsw))
        default:
            throw Fault.undefined
        }
    }

    /// Converts m32real/m64real to 80 bits (IE on SNaN, DE on denormals); nil when unmasked.
    func x87LoadReal(_ bits: UInt64, double: Bool) -> F80? {
        // One closure per width: a release build would otherwise load the operand both ways
        // inside the window (an FLD m32 of -0.0 raised DE from the m64 reading of its bits).
        let (r, sw) = double
            ? x87Host(0x37F, F80(m: bits, se: 0)) { d in stF(d, 2, Float80(d.load(as: Double.self))) }
            : x87Host(0x37F, F80(m: bits, se: 0)) { d in stF(d, 2, Float80(d.load(as: Float.self))) }
        // An unmasked denormal exception does not stop the load (it is reported afterwards).
        if sw & swIE != 0 && x87Unmasked(swIE) { x87Raise(swIE); return nil }
        x87Raise(sw & (swIE | swDE))
        return r
    }

    /// Pushes a value (stack overflow checked: masked response pushes the indefinite).
    func x87LoadPush(_ v: F80) {
        if !x87Empty(7) {
            if x87Overflow() { x87Push(.indefinite) }
            return
        }
        x87SetC1(false)
        x87Push(v)
    }

    func x87LoadCW(_ v: UInt16) {
        s.pointee.fcw = (v & ~0xE0C0) | 0x40
        x87UpdateES()
    }

    /// ES and B follow the exception flags that the control word leaves unmasked.
    func x87UpdateES() {
        if s.pointee.fsw & ~s.pointee.fcw & 0x3F != 0 { s.pointee.fsw |= swES | swB }
        else { s.pointee.fsw &= ~(swES | swB) }
    }

    /// Compares ST(0) with `src` (FCOM/FUCOM family), sets C3/C2/C0 and pops `pops` times.
    func x87Com(_ i: Int, src: F80, srcEmpty: Bool, quiet: Bool, pops: Int, memDenormal: Bool = false) {
        var res = 3
        var unmasked: Bool
        if x87Empty(0) || srcEmpty {
            unmasked = !x87Underflow()
        } else {
            (res, unmasked) = x87Compare(st(0), src, quiet: quiet, memDenormal: memDenormal)
            x87SetC1(false)   // FCOMI/FUCOMI leave C1 alone; the FCOM family clears it
        }
        let cc: [UInt16] = [0, swC0, swC3, swC0 | swC2 | swC3]
        x87SetCC(cc[res], mask: swC0 | swC2 | swC3)
        if !unmasked { for _ in 0..<pops { x87Pop() } }
    }

    /// FCOMI/FUCOMI(P): ZF/PF/CF from the comparison of ST(0) with ST(i); OF/SF/AF cleared.
    func x87Comi(_ i: Int, quiet: Bool, pop: Bool) {
        var res = 3
        var unmasked: Bool
        if x87Empty(0) || x87Empty(i) {
            unmasked = !x87Underflow()
        } else {
            (res, unmasked) = x87Compare(st(0), st(i), quiet: quiet)
        }
        let fl: [UInt64] = [0, FlagBit.CF, FlagBit.ZF, FlagBit.ZF | FlagBit.PF | FlagBit.CF]
        setFlags(fl[res], mask: FlagBit.ZF | FlagBit.PF | FlagBit.CF | FlagBit.OF | FlagBit.SF | FlagBit.AF)
        if pop && !unmasked { x87Pop() }
    }

    // MARK: register forms

    func x87Reg(_ d: Instr, _ op: Int, _ reg: Int, _ i: Int) throws(Fault) {
        switch op {
        case 0, 4, 6:
            // D8: ST0 = ST0 op ST(i); DC: ST(i) = ST(i) op ST0; DE: same and pop.
            if reg == 2 || reg == 3 {
                // FCOM/FCOMP (D8 D0/D8; DC and DE aliases).
                // FCOMPP (DE D9) pops twice, and like the others not at all on an unmasked exception.
                x87Com(i, src: st(i), srcEmpty: x87Empty(i), quiet: false,
                       pops: op == 6 && reg == 3 ? 2 : (reg == 3 || op == 6 ? 1 : 0))
                return
            }
            let dst = op == 0 ? 0 : i, src = op == 0 ? i : 0
            let sem = op == 0 ? reg : (reg >= 4 ? reg ^ 1 : reg)
            let pop = op == 6
            if x87Empty(dst) || x87Empty(src) {
                if x87Underflow() { setST(dst, .indefinite); if pop { x87Pop() } }
                return
            }
            if let r = x87Arith(sem, st(dst), st(src)) {
                setST(dst, r)
                if pop { x87Pop() }
            }
        case 1:
            try x87RegD9(reg, i)
        case 2:
            if reg < 4 {
                // FCMOVB/E/BE/U.
                let cc: [UInt8] = [2, 4, 6, 0xA]
                x87Cmov(i, condition(cc[reg]))
            } else {
                x87Com(1, src: st(1), srcEmpty: x87Empty(1), quiet: true, pops: 2)   // FUCOMPP
            }
        case 3:
            switch reg {
            case 0...3:
                let cc: [UInt8] = [3, 5, 7, 0xB]
                x87Cmov(i, condition(cc[reg]))
            case 4:
                if i == 2 { s.pointee.fsw &= ~(0x80FF) }                  // FNCLEX
                else if i == 3 { x87Init() }                              // FNINIT
                // FNENI, FNDISI, FNSETPM: no-ops on the 387 and later.
            case 5: x87Comi(i, quiet: true, pop: false)                   // FUCOMI
            default: x87Comi(i, quiet: false, pop: false)                 // FCOMI
            }
        case 5:
            switch reg {
            case 0: x87SetTag(phys: x87Phys(i), 3); x87SetC1(false)         // FFREE
            case 1: x87Xch(i)                                             // FXCH4
            case 2, 3: x87StReg(i, pop: reg == 3)                         // FST/FSTP ST(i)
            case 4: x87Com(i, src: st(i), srcEmpty: x87Empty(i), quiet: true, pops: 0)  // FUCOM
            default: x87Com(i, src: st(i), srcEmpty: x87Empty(i), quiet: true, pops: 1) // FUCOMP
            }
        default: // DF
            switch reg {
            case 0: x87SetTag(phys: x87Phys(i), 3); x87Pop()                // FFREEP
            case 1: x87Xch(i)                                             // FXCH7
            case 2, 3: x87StReg(i, pop: true)                             // FSTP8, FSTP9
            case 4: writeReg(0, size: 2, rex: 0, UInt64(s.pointee.fsw))  // FNSTSW AX
            case 5: x87Comi(i, quiet: true, pop: true)                    // FUCOMIP
            default: x87Comi(i, quiet: false, pop: true)                  // FCOMIP
            }
        }
    }

    func x87RegD9(_ reg: Int, _ i: Int) throws(Fault) {
        switch reg {
        case 0: // FLD ST(i): an empty source is reported (underflow) before a full stack
            if x87Empty(i) {
                if x87Underflow() { x87Push(.indefinite) }
                return
            }
            if !x87Empty(7) {
                if x87Overflow() { x87Push(.indefinite) }
                return
            }
            x87LoadPush(st(i))
        case 1: x87Xch(i)
        case 2: break // FNOP
        case 3: // FSTP1 (D9 D8+i): an empty ST(0) is popped without a stack fault or a store
            if x87Empty(0) { x87SetC1(false); x87Pop() } else { x87StReg(i, pop: true) }
        case 4:
            if i == 5 { x87Examine(); return }
            if x87Empty(0) {
                // FTST reports "unordered" whether or not the stack fault is masked.
                let masked = x87Underflow()
                if i == 4 { x87SetCC(swC0 | swC2 | swC3, mask: swC0 | swC2 | swC3) } else if masked { setST(0, .indefinite) }
                return
            }
            switch i {
            case 0: setST(0, st(0).negated); x87SetC1(false)   // FCHS
            case 1: setST(0, st(0).abs); x87SetC1(false)       // FABS
            default: x87Com(0, src: .zero, srcEmpty: false, quiet: false, pops: 0) // FTST
            }
        case 5: // constants
            let rc = Int(s.pointee.fcw >> 10) & 3
            let down = rc == 1 || rc == 3
            let v: F80
            switch i {
            case 0: v = .one
            case 1: v = F80(m: rc == 2 ? 0xD49A_784B_CD1B_8AFF : 0xD49A_784B_CD1B_8AFE, se: 0x4000) // L2T
            case 2: v = F80(m: down ? 0xB8AA_3B29_5C17_F0BB : 0xB8AA_3B29_5C17_F0BC, se: 0x3FFF)    // L2E
            case 3: v = F80(m: down ? 0xC90F_DAA2_2168_C234 : 0xC90F_DAA2_2168_C235, se: 0x4000)    // PI
            case 4: v = F80(m: down ? 0x9A20_9A84_FBCF_F798 : 0x9A20_9A84_FBCF_F799, se: 0x3FFD)    // LG2
            case 5: v = F80(m: down ? 0xB172_17F7_D1CF_79AB : 0xB172_17F7_D1CF_79AC, se: 0x3FFE)    // LN2
            default: v = .zero
            }
            x87LoadPush(v)
        case 6:
            switch i {
            case 0: x87UnaryChecked { self.x87Transcendental(0) }            // F2XM1
            case 1, 3: x87Transcendental(UInt8(i))                           // FYL2X, FPATAN
            case 2: x87Transcendental(2)                                     // FPTAN
            case 4: // FXTRACT
                if x87Empty(0) || !x87Empty(7) {
                    let masked = x87Empty(0) ? x87Underflow() : x87Overflow()
                    if masked { setST(0, .indefinite); x87Push(.indefinite) }
                    return
                }
                x87Extract()
            case 5: // FPREM1 (C2 cleared on a stack fault too)
                x87SetCC(0, mask: swC2)
                x87BinaryChecked { self.x87Remainder(ieee: true) }
            case 6: x87SetTop(x87Top - 1); x87SetC1(false)                     // FDECSTP
            default: x87SetTop(x87Top + 1); x87SetC1(false)                    // FINCSTP
            }
        default:
            switch i {
            case 0: // FPREM
                x87SetCC(0, mask: swC2)
                x87BinaryChecked { self.x87Remainder(ieee: false) }
            case 1: x87Transcendental(9)                                     // FYL2XP1
            case 2: // FSQRT
                x87UnaryChecked {
                    let a = self.st(0)
                    if a.neg && !a.isZero && !a.isNaN {
                        // Negative operand (including -inf): invalid.
                        self.x87SetC1(false)
                        if self.x87Commit(swIE) { self.setST(0, .indefinite) }
                    } else if let r = self.x87Arith(8, a, .zero) { self.setST(0, r) }
                }
            case 3: x87Transcendental(0xB)                                   // FSINCOS
            case 4: x87UnaryChecked { self.x87RoundInt() }                    // FRNDINT
            case 5: x87BinaryChecked { self.x87Scale() }                      // FSCALE
            default: // FSIN, FCOS (C2, the out-of-range flag, is cleared on a stack fault too)
                x87SetCC(0, mask: swC2)
                x87UnaryChecked { self.x87Transcendental(UInt8(i + 8)) }
            }
        }
    }

    /// Runs `body` unless ST(0) is empty (masked underflow: ST(0) = indefinite).
    @inline(__always) func x87UnaryChecked(_ body: () -> Void) {
        if x87Empty(0) {
            if x87Underflow() { setST(0, .indefinite) }
            return
        }
        body()
    }

    /// Runs `body` unless ST(0) or ST(1) is empty (masked underflow: ST(0) = indefinite).
    @inline(__always) func x87BinaryChecked(_ body: () -> Void) {
        if x87Empty(0) || x87Empty(1) {
            if x87Underflow() { setST(0, .indefinite) }
            return
        }
        body()
    }

    func x87Xch(_ i: Int) {
        if x87Empty(0) || x87Empty(i) {
            if !x87Underflow() { return }
            if x87Empty(0) { setST(0, .indefinite) }
            if x87Empty(i) { setST(i, .indefinite) }
        }
        let a = st(0), b = st(i)
        setST(0, b)
        setST(i, a)
        x87SetC1(false)
    }

    func x87StReg(_ i: Int, pop: Bool) {
        if x87Empty(0) {
            if !x87Underflow() { return }
            setST(i, .indefinite)
        } else {
            setST(i, st(0))
            x87SetC1(false)
        }
        if pop { x87Pop() }
    }

    func x87Cmov(_ i: Int, _ cond: Bool) {
        if x87Empty(0) || x87Empty(i) {
            if x87Underflow() { setST(0, .indefinite) }
            return
        }
        // C1 is only written on a stack underflow.
        if cond { setST(0, st(i)) }
    }

    /// FXAM: C3 C2 C0 class, C1 sign.
    func x87Examine() {
        let a = st(0)
        let cls: UInt16
        if x87Empty(0) { cls = swC3 | swC0 }
        else if a.isUnsupported { cls = 0 }
        else if a.isNaN { cls = swC0 }
        else if a.isInf { cls = swC2 | swC0 }
        else if a.isZero { cls = swC3 }
        else if a.isDenormal { cls = swC3 | swC2 }
        else { cls = swC2 }
        x87SetCC(cls | (a.neg ? swC1 : 0), mask: swC0 | swC1 | swC2 | swC3)
    }

    func x87Init() {
        s.pointee.fcw = 0x37F
        s.pointee.fsw = 0
        s.pointee.ftw = 0xFFFF
        s.pointee.fop = 0
        s.pointee.fip = 0
        s.pointee.fdp = 0
        s.pointee.fcs = 0
        s.pointee.fds = 0
    }
}
#else
extension CPU {
    func execFPU(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        countUnimplemented(d)
        throw Fault.undefined
    }

    func execFWAIT() throws(Fault) {
        let cr0 = s.pointee.cr0
        if cr0 & 0x2 != 0 && cr0 & 0x8 != 0 { throw Fault(vector: Fault.NM) }
    }
}
#endif
