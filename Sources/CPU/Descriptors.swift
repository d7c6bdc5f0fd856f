import CPUState

// Protected-mode segmentation: descriptor loads and checks, far control transfers with
// call gates and privilege changes, IRET, and the descriptor instructions (LAR/LSL/VERR/VERW/ARPL,
// LLDT/LTR). Reference: Intel SDM vol. 2 (JMP, CALL, RET, IRET, MOV, LAR, LSL, VERR, LLDT, LTR
// pseudo-code) and vol. 3 chapter 5.

/// A raw segment or gate descriptor: the low 8 bytes, plus the high 8 bytes of a 16-byte
/// long-mode system descriptor (zero otherwise).
struct Descriptor {
    var lo: UInt64
    var hi: UInt64 = 0

    @inline(__always) var type: UInt32 { UInt32((lo >> 40) & 0xF) }
    /// S = 0: system segment or gate.
    @inline(__always) var isSystem: Bool { (lo >> 44) & 1 == 0 }
    @inline(__always) var dpl: Int { Int((lo >> 45) & 3) }
    @inline(__always) var present: Bool { (lo >> 47) & 1 != 0 }
    @inline(__always) var isCode: Bool { !isSystem && type & 8 != 0 }
    @inline(__always) var isData: Bool { !isSystem && type & 8 == 0 }
    @inline(__always) var conforming: Bool { isCode && type & 4 != 0 }
    /// Data, or readable code.
    @inline(__always) var readable: Bool { isData || (isCode && type & 2 != 0) }
    @inline(__always) var writableData: Bool { isData && type & 2 != 0 }
    @inline(__always) var l: Bool { (lo >> 53) & 1 != 0 }
    @inline(__always) var db: Bool { (lo >> 54) & 1 != 0 }
    /// Descriptor bits 40..47 and 52..55 packed as the segment cache keeps them.
    @inline(__always) var attr: UInt16 { UInt16((lo >> 40) & 0xFF) | UInt16((lo >> 52) & 0xF) << 8 }
    @inline(__always) var base32: UInt64 { ((lo >> 16) & 0xFF_FFFF) | ((lo >> 32) & 0xFF00_0000) }
    @inline(__always) var base64: UInt64 { base32 | (hi & 0xFFFF_FFFF) << 32 }
    /// Byte-granular limit (G applied).
    @inline(__always) var limit: UInt32 {
        let raw = UInt32(lo & 0xFFFF) | UInt32((lo >> 32) & 0xF_0000)
        return (lo >> 55) & 1 != 0 ? (raw << 12) | 0xFFF : raw
    }
    // Gates.
    @inline(__always) var gateSelector: UInt16 { UInt16((lo >> 16) & 0xFFFF) }
    @inline(__always) var gateOffset32: UInt64 { (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF_0000) }
    @inline(__always) var gateOffset64: UInt64 { gateOffset32 | (hi & 0xFFFF_FFFF) << 32 }
    @inline(__always) var gateParams: Int { Int((lo >> 32) & 0x1F) }
    @inline(__always) var ist: Int { Int((lo >> 32) & 7) }
    /// Type field of the upper half of a 16-byte descriptor (must be 0).
    @inline(__always) var upperType: UInt64 { (hi >> 40) & 0x1F }

    func cache(_ sel: UInt16, wide: Bool = false) -> SegmentCache {
        SegmentCache(base: wide ? base64 : base32, limit: limit, selector: sel, attr: attr)
    }
}

/// A stack being built before any register is committed (new privilege level, TSS stack,
/// or the current stack): pushes check the limit / canonical form and write memory only.
struct StackBuilder {
    var base: UInt64
    var limit: UInt64
    var attr: UInt32
    var sp: UInt64
    var width: UInt8       // stack-pointer width: 2, 4 or 8
    var user: Bool
    var fault: Fault
}

@inline(__always) func isCanonical(_ a: UInt64) -> Bool {
    UInt64(bitPattern: Int64(bitPattern: a << 16) >> 16) == a
}

extension CPU {
    // MARK: descriptor tables

    /// Linear address as the descriptor-table logic sees it (32-bit outside long mode).
    @inline(__always) func sysLinear(_ a: UInt64) -> UInt64 {
        inLongMode ? a : a & 0xFFFF_FFFF
    }

    /// Linear address of the descriptor `sel` selects, or nil when it lies outside the GDT/LDT
    /// limit (or the LDT is unusable). `bytes` is 16 for long-mode system descriptors.
    func descriptorAddress(_ sel: UInt16, bytes: UInt64 = 8) -> UInt64? {
        let idx = UInt64(sel & 0xFFF8)
        if sel & 4 != 0 {
            let ldt = sreg[6]
            if UInt32(ldt.attr) & UInt32(ATTR_P) == 0 { return nil }
            if idx + bytes - 1 > UInt64(ldt.limit) { return nil }
            return sysLinear(ldt.base &+ idx)
        }
        if idx + bytes - 1 > UInt64(s.pointee.gdtr.limit) { return nil }
        return sysLinear(s.pointee.gdtr.base &+ idx)
    }

    func readDescriptor(at addr: UInt64, wide: Bool = false) throws(Fault) -> Descriptor {
        var d = Descriptor(lo: try readSystem(addr, size: 8))
        if wide { d.hi = try readSystem(sysLinear(addr &+ 8), size: 8) }
        return d
    }

    /// Fetches the descriptor for `sel`; nil when outside the table limits.
    func fetchDescriptor(_ sel: UInt16) throws(Fault) -> (Descriptor, UInt64)? {
        guard let a = descriptorAddress(sel) else { return nil }
        return (try readDescriptor(at: a), a)
    }

    /// Sets the accessed bit of a code/data descriptor in memory (and in `d`).
    func setAccessed(_ addr: UInt64, _ d: inout Descriptor) throws(Fault) {
        if d.isSystem || d.lo & (1 << 40) != 0 { return }
        d.lo |= 1 << 40
        try writeSystem(sysLinear(addr &+ 5), size: 1, (d.lo >> 40) & 0xFF)
    }

    /// Sets or clears the busy bit of the TSS descriptor `sel` in the GDT.
    func setTSSBusy(_ sel: UInt16, _ busy: Bool) throws(Fault) {
        guard let a = descriptorAddress(sel & ~4) else { return }
        let p = sysLinear(a &+ 5)
        let b = try readSystem(p, size: 1)
        try writeSystem(p, size: 1, busy ? b | 2 : b & ~2)
    }

    @inline(__always) func nullSegment(_ sel: UInt16) -> SegmentCache {
        SegmentCache(base: 0, limit: 0, selector: sel, attr: 0)
    }

    /// The null SS used in long mode on privilege changes (selector = new CPL).
    @inline(__always) func nullStackSegment(_ rpl: Int) -> SegmentCache {
        SegmentCache(base: 0, limit: 0, selector: UInt16(rpl),
                     attr: UInt16(ATTR_S | 0x3 | ATTR_DB) | UInt16(rpl << Int(ATTR_DPL_SHIFT)))
    }

    // MARK: segment register loads (MOV/POP Sreg, LxS)

    func loadSegmentProtected(_ seg: UInt8, _ sel: UInt16) throws(Fault) {
        let code = UInt32(sel & 0xFFFC)
        let rpl = Int(sel & 3)
        let cpl = self.cpl
        if seg == 2 {
            if sel & 0xFFFC == 0 {
                if code64 && cpl < 3 && rpl == cpl {
                    sreg[2] = nullStackSegment(rpl)
                    sreg[2].selector = sel
                    return
                }
                throw Fault.gp(0)
            }
            guard let (d0, addr) = try fetchDescriptor(sel) else { throw Fault.gp(code) }
            var d = d0
            if rpl != cpl || !d.writableData || d.dpl != cpl { throw Fault.gp(code) }
            if !d.present { throw Fault.ss(code) }
            try setAccessed(addr, &d)
            sreg[2] = d.cache(sel)
            return
        }
        if sel & 0xFFFC == 0 {
            // Null selector: the register becomes unusable. (Intel clears the base too.)
            sreg[Int(seg)] = nullSegment(sel)
            return
        }
        guard let (d0, addr) = try fetchDescriptor(sel) else { throw Fault.gp(code) }
        var d = d0
        if !d.readable { throw Fault.gp(code) }
        if !d.conforming && (rpl > d.dpl || cpl > d.dpl) { throw Fault.gp(code) }
        if !d.present { throw Fault.np(code) }
        try setAccessed(addr, &d)
        sreg[Int(seg)] = d.cache(sel)
    }

    // MARK: helpers for control transfers

    /// Loads CS from a validated code descriptor with RPL = `newCPL` and sets CPL.
    func commitCS(_ d: Descriptor, _ addr: UInt64, _ sel: UInt16, cpl newCPL: Int) throws(Fault) {
        var d = d
        try setAccessed(addr, &d)
        sreg[1] = d.cache((sel & 0xFFFC) | UInt16(newCPL))
        s.pointee.cpl = UInt32(newCPL)
        updateMode()
    }

    /// Checks a new instruction pointer against the target code segment (limit, or canonical
    /// form for 64-bit code).
    @inline(__always)
    func checkTargetIP(_ ip: UInt64, _ d: Descriptor, fault: Fault = Fault.gp(0)) throws(Fault) {
        if inLongMode && d.l {
            if !isCanonical(ip) { throw fault }
        } else if ip > UInt64(d.limit) {
            throw fault
        }
    }

    func currentStack(fault: Fault) -> StackBuilder {
        let ss = sreg[2]
        return StackBuilder(base: ss.base, limit: UInt64(ss.limit), attr: UInt32(ss.attr), sp: gpr[4],
                            width: stackAddrSize, user: cpl == 3, fault: fault)
    }

    func stackFor(_ c: SegmentCache, sp: UInt64, user: Bool, fault: Fault) -> StackBuilder {
        StackBuilder(base: c.base, limit: UInt64(c.limit), attr: UInt32(c.attr), sp: sp,
                     width: UInt32(c.attr) & UInt32(ATTR_DB) != 0 ? 4 : 2, user: user, fault: fault)
    }

    func longStack(sp: UInt64, user: Bool, fault: Fault) -> StackBuilder {
        StackBuilder(base: 0, limit: 0, attr: 0, sp: sp, width: 8, user: user, fault: fault)
    }

    /// Pushes onto a stack under construction.
    func push(_ st: inout StackBuilder, _ v: UInt64, size: UInt8) throws(Fault) {
        let n = UInt64(size)
        let newSP: UInt64
        let off: UInt64
        switch st.width {
        case 2:
            newSP = (st.sp & ~0xFFFF) | ((st.sp &- n) & 0xFFFF)
            off = newSP & 0xFFFF
        case 4:
            newSP = (st.sp &- n) & 0xFFFF_FFFF
            off = newSP
        default:
            newSP = st.sp &- n
            off = newSP
        }
        let lin: UInt64
        if st.width == 8 {
            if !isCanonical(off) || !isCanonical(off &+ n &- 1) { throw st.fault }
            lin = off
        } else {
            let last = off &+ n &- 1
            if st.attr & 0xC == 0x4 && st.attr & UInt32(ATTR_S) != 0 {
                let upper: UInt64 = st.attr & UInt32(ATTR_DB) != 0 ? 0xFFFF_FFFF : 0xFFFF
                if off <= st.limit || last > upper || last < off { throw st.fault }
            } else if last > st.limit || last < off {
                throw st.fault
            }
            lin = (st.base &+ off) & 0xFFFF_FFFF
        }
        try writeLinear(lin, size: Int(size), user: st.user, v & sizeMask(size))
        st.sp = newSP
    }

    /// Reads the inner stack pointer for privilege level `dpl` from the current (legacy) TSS.
    func tssStack(_ dpl: Int, ext: UInt32) throws(Fault) -> (UInt16, UInt64) {
        let tr = sreg[7]
        let trCode = UInt32(tr.selector & 0xFFFC) | ext
        if tr.attr & 8 != 0 {
            let off = UInt64(dpl) * 8 + 4
            if off + 5 > UInt64(tr.limit) { throw Fault.ts(trCode) }
            let esp = try readSystem(sysLinear(tr.base &+ off), size: 4)
            let ss = try readSystem(sysLinear(tr.base &+ off + 4), size: 2)
            return (UInt16(ss), esp)
        }
        let off = UInt64(dpl) * 4 + 2
        if off + 3 > UInt64(tr.limit) { throw Fault.ts(trCode) }
        let sp = try readSystem(sysLinear(tr.base &+ off), size: 2)
        let ss = try readSystem(sysLinear(tr.base &+ off + 2), size: 2)
        return (UInt16(ss), sp)
    }

    /// Reads a 64-bit stack pointer from the 64-bit TSS at `off` (RSPn or ISTn).
    func tssStack64(_ off: UInt64, ext: UInt32) throws(Fault) -> UInt64 {
        let tr = sreg[7]
        if off + 7 > UInt64(tr.limit) { throw Fault.ts(UInt32(tr.selector & 0xFFFC) | ext) }
        return try readSystem(tr.base &+ off, size: 8)
    }

    /// Validates the SS for an inner privilege level (call gate / interrupt): #TS / #SS faults.
    func validateInnerSS(_ ss: UInt16, cpl newCPL: Int, ext: UInt32) throws(Fault) -> (Descriptor, UInt64) {
        if ss & 0xFFFC == 0 { throw Fault.ts(ext) }
        let code = UInt32(ss & 0xFFFC) | ext
        guard let (d, a) = try fetchDescriptor(ss) else { throw Fault.ts(code) }
        if Int(ss & 3) != newCPL || d.dpl != newCPL || !d.writableData { throw Fault.ts(code) }
        if !d.present { throw Fault.ss(code) }
        return (d, a)
    }

    /// Validates the SS popped by RETF/IRET for a return to privilege `rpl`; nil means a null
    /// SS accepted in 64-bit mode.
    func validateOuterSS(_ ss: UInt16, rpl: Int, to64: Bool) throws(Fault) -> (Descriptor, UInt64)? {
        if ss & 0xFFFC == 0 {
            if inLongMode && to64 && rpl != 3 && Int(ss & 3) == rpl { return nil }
            throw Fault.gp(0)
        }
        let code = UInt32(ss & 0xFFFC)
        guard let (d, a) = try fetchDescriptor(ss) else { throw Fault.gp(code) }
        if Int(ss & 3) != rpl || !d.writableData || d.dpl != rpl { throw Fault.gp(code) }
        if !d.present { throw Fault.ss(code) }
        return (d, a)
    }

    /// After a return to an outer level: data segments the new CPL may not use become null.
    func invalidateDataSegments() {
        let cpl = self.cpl
        for seg in [0, 3, 4, 5] {
            let a = UInt32(sreg[seg].attr)
            let dpl = Int((a >> UInt32(ATTR_DPL_SHIFT)) & 3)
            let dataOrNonConf = a & UInt32(ATTR_S) != 0 && (a & 8 == 0 || a & 4 == 0)
            if sreg[seg].selector & 0xFFFC == 0 || (dpl < cpl && dataOrNonConf) {
                sreg[seg].selector = 0
                sreg[seg].attr &= ~UInt16(ATTR_P)
            }
        }
    }

    /// Reads a gate descriptor; in long mode the 16-byte form (upper type must be 0).
    func readGate(_ sel: UInt16, _ d: Descriptor, _ addr: UInt64) throws(Fault) -> Descriptor {
        guard inLongMode else { return d }
        guard descriptorAddress(sel, bytes: 16) != nil else { throw Fault.gp(UInt32(sel & 0xFFFC)) }
        var g = d
        g.hi = try readSystem(addr &+ 8, size: 8)
        if g.upperType != 0 { throw Fault.gp(UInt32(sel & 0xFFFC)) }
        return g
    }

    /// Validates the code segment a call gate names (for JMP and CALL).
    func gateTarget(_ g: Descriptor, isCall: Bool) throws(Fault) -> (Descriptor, UInt64, UInt16) {
        let cs = g.gateSelector
        if cs & 0xFFFC == 0 { throw Fault.gp(0) }
        let code = UInt32(cs & 0xFFFC)
        guard let (c, a) = try fetchDescriptor(cs) else { throw Fault.gp(code) }
        let cpl = self.cpl
        if !c.isCode { throw Fault.gp(code) }
        if isCall {
            if c.dpl > cpl { throw Fault.gp(code) }
        } else if (c.conforming && c.dpl > cpl) || (!c.conforming && c.dpl != cpl) {
            throw Fault.gp(code)
        }
        if inLongMode && (!c.l || c.db) { throw Fault.gp(code) }
        if !c.present { throw Fault.np(code) }
        return (c, a, cs)
    }

    /// Checks a TSS descriptor named directly by JMP/CALL or through a task gate (GDT only).
    func checkTaskTarget(_ sel: UInt16, ext: UInt32 = 0) throws(Fault) -> (Descriptor, UInt64) {
        let code = UInt32(sel & 0xFFFC) | ext
        if sel & 4 != 0 { throw Fault.gp(code) }
        guard let (d, a) = try fetchDescriptor(sel) else { throw Fault.gp(code) }
        if !d.isSystem || (d.type != 1 && d.type != 9) { throw Fault.gp(code) }
        if !d.present { throw Fault.np(code) }
        return (d, a)
    }

    // MARK: far JMP

    func farJumpProtected(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        if sel & 0xFFFC == 0 { throw Fault.gp(0) }
        let code = UInt32(sel & 0xFFFC)
        guard let (d, addr) = try fetchDescriptor(sel) else { throw Fault.gp(code) }
        let lma = inLongMode
        let cpl = self.cpl, rpl = Int(sel & 3)
        if !d.isSystem {
            if !d.isCode { throw Fault.gp(code) }
            if lma && d.l && d.db { throw Fault.gp(code) }
            if d.conforming {
                if d.dpl > cpl { throw Fault.gp(code) }
            } else if rpl > cpl || d.dpl != cpl {
                throw Fault.gp(code)
            }
            if !d.present { throw Fault.np(code) }
            let ip = (lma && !d.l) ? off & 0xFFFF_FFFF : off
            try checkTargetIP(ip, d)
            try commitCS(d, addr, sel, cpl: cpl)
            s.pointee.rip = ip
            return
        }
        switch d.type {
        case 0x4 where !lma, 0xC:
            let g = try readGate(sel, d, addr)
            if g.dpl < cpl || g.dpl < rpl { throw Fault.gp(code) }
            if !g.present { throw Fault.np(code) }
            let (c, ca, cs) = try gateTarget(g, isCall: false)
            var ip = lma ? g.gateOffset64 : g.gateOffset32
            if g.type == 4 { ip &= 0xFFFF }
            try checkTargetIP(ip, c)
            try commitCS(c, ca, cs, cpl: cpl)
            s.pointee.rip = ip
        case 0x5 where !lma:
            if d.dpl < cpl || d.dpl < rpl { throw Fault.gp(code) }
            if !d.present { throw Fault.np(code) }
            let (t, ta) = try checkTaskTarget(d.gateSelector)
            _ = try taskSwitchAndTrap(to: d.gateSelector, desc: t, at: ta, kind: .jump)
        case 0x1 where !lma, 0x9 where !lma:
            if d.dpl < cpl || d.dpl < rpl { throw Fault.gp(code) }
            if !d.present { throw Fault.np(code) }
            _ = try taskSwitchAndTrap(to: sel, desc: d, at: addr, kind: .jump)
        default:
            throw Fault.gp(code)
        }
    }

    // MARK: far CALL

    func farCallProtected(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        if sel & 0xFFFC == 0 { throw Fault.gp(0) }
        let code = UInt32(sel & 0xFFFC)
        guard let (d, addr) = try fetchDescriptor(sel) else { throw Fault.gp(code) }
        let lma = inLongMode
        let cpl = self.cpl, rpl = Int(sel & 3)
        let oldCS = UInt64(sreg[1].selector), oldIP = s.pointee.rip
        if !d.isSystem {
            if !d.isCode { throw Fault.gp(code) }
            if lma && d.l && d.db { throw Fault.gp(code) }
            if d.conforming {
                if d.dpl > cpl { throw Fault.gp(code) }
            } else if rpl > cpl || d.dpl != cpl {
                throw Fault.gp(code)
            }
            if !d.present { throw Fault.np(code) }
            var st = currentStack(fault: Fault.ss(0))
            try push(&st, oldCS, size: size)
            try push(&st, oldIP, size: size)
            let ip = (lma && !d.l) ? off & 0xFFFF_FFFF : off
            try checkTargetIP(ip, d)
            gpr[4] = st.sp
            try commitCS(d, addr, sel, cpl: cpl)
            s.pointee.rip = ip
            return
        }
        switch d.type {
        case 0x4 where !lma, 0xC:
            let g = try readGate(sel, d, addr)
            if g.dpl < cpl || rpl > g.dpl { throw Fault.gp(code) }
            if !g.present { throw Fault.np(code) }
            let (c, ca, cs) = try gateTarget(g, isCall: true)
            let gsz: UInt8 = lma ? 8 : (g.type == 4 ? 2 : 4)
            var ip = lma ? g.gateOffset64 : g.gateOffset32
            if gsz == 2 { ip &= 0xFFFF }
            if !c.conforming && c.dpl < cpl {
                // More privilege: stack switch from the TSS, parameters copied.
                let newCPL = c.dpl
                let oldSS = UInt64(sreg[2].selector), oldSP = gpr[4]
                if lma {
                    let rsp = try tssStack64(UInt64(newCPL) * 8 + 4, ext: 0)
                    var st = longStack(sp: rsp, user: false, fault: Fault.ss(0))
                    try push(&st, oldSS, size: 8)
                    try push(&st, oldSP, size: 8)
                    try push(&st, oldCS, size: 8)
                    try push(&st, oldIP, size: 8)
                    try checkTargetIP(ip, c)
                    sreg[2] = nullStackSegment(newCPL)
                    gpr[4] = st.sp
                    try commitCS(c, ca, cs, cpl: newCPL)
                    s.pointee.rip = ip
                    return
                }
                let (nss, nsp) = try tssStack(newCPL, ext: 0)
                let (sd0, sa) = try validateInnerSS(nss, cpl: newCPL, ext: 0)
                var sd = sd0
                let ssCache = sd.cache(nss)
                var st = stackFor(ssCache, sp: nsp, user: false, fault: Fault.ss(UInt32(nss & 0xFFFC)))
                try push(&st, oldSS, size: gsz)
                try push(&st, oldSP, size: gsz)
                let n = g.gateParams
                if n > 0 {
                    for i in stride(from: n - 1, through: 0, by: -1) {
                        let v = try peekStack(UInt64(i) * UInt64(gsz), size: gsz)
                        try push(&st, v, size: gsz)
                    }
                }
                try push(&st, oldCS, size: gsz)
                try push(&st, oldIP, size: gsz)
                try checkTargetIP(ip, c)
                try setAccessed(sa, &sd)
                sreg[2] = sd.cache(nss)
                gpr[4] = st.sp
                try commitCS(c, ca, cs, cpl: newCPL)
                s.pointee.rip = ip
            } else {
                var st = currentStack(fault: Fault.ss(0))
                try push(&st, oldCS, size: gsz)
                try push(&st, oldIP, size: gsz)
                try checkTargetIP(ip, c)
                gpr[4] = st.sp
                try commitCS(c, ca, cs, cpl: cpl)
                s.pointee.rip = ip
            }
        case 0x5 where !lma:
            if d.dpl < cpl || d.dpl < rpl { throw Fault.gp(code) }
            if !d.present { throw Fault.np(code) }
            let (t, ta) = try checkTaskTarget(d.gateSelector)
            _ = try taskSwitchAndTrap(to: d.gateSelector, desc: t, at: ta, kind: .call)
        case 0x1 where !lma, 0x9 where !lma:
            if d.dpl < cpl || d.dpl < rpl { throw Fault.gp(code) }
            if !d.present { throw Fault.np(code) }
            _ = try taskSwitchAndTrap(to: sel, desc: d, at: addr, kind: .call)
        default:
            throw Fault.gp(code)
        }
    }

    // MARK: far RET

    /// Validates the code segment popped by RETF/IRET.
    func returnCodeSegment(_ cs: UInt16) throws(Fault) -> (Descriptor, UInt64) {
        if cs & 0xFFFC == 0 { throw Fault.gp(0) }
        let code = UInt32(cs & 0xFFFC)
        guard let (c, a) = try fetchDescriptor(cs) else { throw Fault.gp(code) }
        let rpl = Int(cs & 3)
        if !c.isCode { throw Fault.gp(code) }
        if rpl < cpl { throw Fault.gp(code) }
        if c.conforming && c.dpl > rpl { throw Fault.gp(code) }
        if !c.conforming && c.dpl != rpl { throw Fault.gp(code) }
        if inLongMode && c.l && c.db { throw Fault.gp(code) }
        if !c.present { throw Fault.np(code) }
        return (c, a)
    }

    func farReturnProtected(size: UInt8, extra: UInt64) throws(Fault) {
        let n = UInt64(size)
        var ip = try peekStack(0, size: size)
        let cs = UInt16(truncatingIfNeeded: try peekStack(n, size: size))
        let (c, ca) = try returnCodeSegment(cs)
        let rpl = Int(cs & 3)
        let lma = inLongMode
        if lma && !c.l { ip &= 0xFFFF_FFFF }
        if rpl == cpl {
            try checkTargetIP(ip, c)
            let sp = stackMaskedAdd(gpr[4], 2 * n &+ extra)
            try commitCS(c, ca, cs, cpl: rpl)
            gpr[4] = sp
            s.pointee.rip = ip
            return
        }
        // Return to an outer privilege level: SS:eSP follow the parameters.
        let tsp = try peekStack(2 * n &+ extra, size: size)
        let tss = UInt16(truncatingIfNeeded: try peekStack(3 * n &+ extra, size: size))
        let ssd = try validateOuterSS(tss, rpl: rpl, to64: lma && c.l)
        try checkTargetIP(ip, c)
        try commitCS(c, ca, cs, cpl: rpl)
        s.pointee.rip = ip
        try loadReturnStack(tss, ssd, sp: tsp, rpl: rpl)
        gpr[4] = stackMaskedAdd(gpr[4], extra)
        invalidateDataSegments()
    }

    /// Loads SS:eSP on a return to an outer level (after CS is committed).
    func loadReturnStack(_ sel: UInt16, _ ssd: (Descriptor, UInt64)?, sp: UInt64, rpl: Int) throws(Fault) {
        if let (d0, a) = ssd {
            var d = d0
            try setAccessed(a, &d)
            sreg[2] = d.cache(sel)
        } else {
            sreg[2] = nullStackSegment(rpl)
            sreg[2].selector = sel
        }
        updateMode()
        if code64 {
            gpr[4] = sp
        } else if UInt32(sreg[2].attr) & UInt32(ATTR_DB) != 0 {
            gpr[4] = sp & 0xFFFF_FFFF
        } else {
            gpr[4] = (gpr[4] & ~0xFFFF) | (sp & 0xFFFF)
        }
    }

    // MARK: IRET

    func interruptReturnProtected(size: UInt8) throws(Fault) {
        let lma = inLongMode
        if s.pointee.rflags & FlagBit.NT != 0 {
            if lma { throw Fault.gp(0) }
            try taskReturn()
            return
        }
        let n = UInt64(size)
        var ip = try peekStack(0, size: size)
        let cs = UInt16(truncatingIfNeeded: try peekStack(n, size: size))
        var fl = try peekStack(2 * n, size: size)
        let cpl = self.cpl
        if !lma && size == 4 && fl & FlagBit.VM != 0 && cpl == 0 {
            try iretToV86(ip: ip, cs: cs, flags: fl)
            return
        }
        if lma { fl &= ~FlagBit.VM }
        let (c, ca) = try returnCodeSegment(cs)
        let rpl = Int(cs & 3)
        let to64 = lma && c.l
        if lma && !c.l { ip &= 0xFFFF_FFFF }
        let popStack = rpl > cpl || code64
        var tsp: UInt64 = 0, tss: UInt16 = 0
        var ssd: (Descriptor, UInt64)? = nil
        if popStack {
            tsp = try peekStack(3 * n, size: size)
            tss = UInt16(truncatingIfNeeded: try peekStack(4 * n, size: size))
            ssd = try validateOuterSS(tss, rpl: rpl, to64: to64)
        }
        try checkTargetIP(ip, c)
        // Flags: which bits change depends on the old CPL and IOPL.
        let old = flags()
        var mask: UInt64 = FlagBit.status | FlagBit.TF | FlagBit.DF | FlagBit.NT
        if size >= 4 { mask |= FlagBit.RF | FlagBit.AC | FlagBit.ID }
        if UInt64(cpl) <= iopl { mask |= FlagBit.IF }
        if cpl == 0 {
            mask |= FlagBit.IOPL
            if size >= 4 { mask |= FlagBit.VIF | FlagBit.VIP }
        }
        if size == 2 { mask &= 0xFFFF }
        let sp = stackMaskedAdd(gpr[4], 3 * n)
        try commitCS(c, ca, cs, cpl: rpl)
        s.pointee.rip = ip
        writeRFLAGS((old & ~mask) | (fl & mask))
        if popStack {
            try loadReturnStack(tss, ssd, sp: tsp, rpl: rpl)
            if rpl > cpl { invalidateDataSegments() }
        } else {
            gpr[4] = sp
        }
    }

    /// IRET from CPL 0 to virtual-8086 mode (32-bit frame with VM set).
    func iretToV86(ip: UInt64, cs: UInt16, flags fl: UInt64) throws(Fault) {
        let esp = try peekStack(12, size: 4)
        let ss = try peekStack(16, size: 4)
        let es = try peekStack(20, size: 4)
        let ds = try peekStack(24, size: 4)
        let fs = try peekStack(28, size: 4)
        let gs = try peekStack(32, size: 4)
        if ip > 0xFFFF { throw Fault.gp(0) }
        _ = flags()
        s.pointee.rflags = (fl & 0x3F_7FD5) | 2
        s.pointee.cpl = 3
        updateMode()
        loadSegmentReal(1, cs)
        loadSegmentReal(2, UInt16(truncatingIfNeeded: ss))
        loadSegmentReal(0, UInt16(truncatingIfNeeded: es))
        loadSegmentReal(3, UInt16(truncatingIfNeeded: ds))
        loadSegmentReal(4, UInt16(truncatingIfNeeded: fs))
        loadSegmentReal(5, UInt16(truncatingIfNeeded: gs))
        updateMode()
        gpr[4] = esp & 0xFFFF_FFFF
        s.pointee.rip = ip & 0xFFFF
    }

    // MARK: descriptor instructions

    /// LAR, LSL, VERR, VERW, ARPL, SLDT, STR, LLDT, LTR.
    func execDescriptor(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        if realMode || v86 { throw Fault.undefined }
        switch d.mn {
        case .SLDT, .STR:
            if s.pointee.cr4 & (1 << 11) != 0 && cpl > 0 { throw Fault.gp(0) }   // UMIP
            let v = UInt64(sreg[d.mn == .SLDT ? 6 : 7].selector)
            if d.isMem {
                try write(seg: d.seg, off: ea, size: 2, v)
            } else {
                writeReg(d.rm, size: d.opSize, rex: d.rex, v)
            }
        case .LLDT:
            let sel = UInt16(try readOp(d.op0, d, 2, ea))
            try loadLDT(sel)
        case .LTR:
            let sel = UInt16(try readOp(d.op0, d, 2, ea))
            try loadTR(sel)
        case .VERR, .VERW:
            let sel = UInt16(try readOp(d.op0, d, 2, ea))
            var ok = false
            if sel & 0xFFFC != 0, let (desc, _) = try fetchDescriptor(sel), !desc.isSystem {
                let rpl = Int(sel & 3)
                let privOK = desc.dpl >= cpl && desc.dpl >= rpl
                if d.mn == .VERR {
                    ok = desc.readable && (desc.conforming || privOK)
                } else {
                    ok = desc.writableData && privOK
                }
            }
            setFlags(ok ? FlagBit.ZF : 0, mask: FlagBit.ZF)
        case .LAR, .LSL:
            let sel = UInt16(try readOp(d.op1, d, 2, ea))
            var result: UInt64? = nil
            if sel & 0xFFFC != 0, let (desc0, a) = try fetchDescriptor(sel) {
                var desc = desc0
                var valid: Bool
                if !desc.isSystem {
                    valid = true
                } else {
                    let t = desc.type
                    if inLongMode {
                        valid = t == 2 || t == 9 || t == 0xB || (d.mn == .LAR && t == 0xC)
                        if valid {
                            if descriptorAddress(sel, bytes: 16) == nil { valid = false }
                            else {
                                desc.hi = try readSystem(a &+ 8, size: 8)
                                if desc.upperType != 0 { valid = false }
                            }
                        }
                    } else if d.mn == .LAR {
                        valid = [1, 2, 3, 4, 5, 9, 0xB, 0xC].contains(t)
                    } else {
                        valid = [1, 2, 3, 9, 0xB].contains(t)
                    }
                }
                let rpl = Int(sel & 3)
                if valid && !desc.conforming && (cpl > desc.dpl || rpl > desc.dpl) { valid = false }
                if valid {
                    result = d.mn == .LAR ? (desc.lo >> 32) & 0x00FF_FF00 : UInt64(desc.limit)
                }
            }
            if let r = result {
                writeReg(d.reg, size: d.opSize == 8 ? 8 : d.opSize, rex: d.rex,
                         d.opSize == 2 ? r & 0xFFFF : r)
                setFlags(FlagBit.ZF, mask: FlagBit.ZF)
            } else {
                setFlags(0, mask: FlagBit.ZF)
            }
        case .ARPL:
            if code64 { throw Fault.undefined }
            let dst = try readOp(d.op0, d, 2, ea)
            let src = readReg(d.reg, size: 2, rex: d.rex)
            if dst & 3 < src & 3 {
                try writeOp(d.op0, d, 2, ea, (dst & ~3) | (src & 3))
                setFlags(FlagBit.ZF, mask: FlagBit.ZF)
            } else {
                setFlags(0, mask: FlagBit.ZF)
            }
        default:
            countUnimplemented(d)
            throw Fault.undefined
        }
    }

    /// LLDT: loads LDTR from a GDT descriptor (16 bytes in long mode).
    func loadLDT(_ sel: UInt16) throws(Fault) {
        if cpl != 0 { throw Fault.gp(0) }
        if sel & 0xFFFC == 0 {
            sreg[6] = nullSegment(sel)
            return
        }
        let code = UInt32(sel & 0xFFFC)
        if sel & 4 != 0 { throw Fault.gp(code) }
        let lma = inLongMode
        guard let a = descriptorAddress(sel, bytes: lma ? 16 : 8) else { throw Fault.gp(code) }
        let d = try readDescriptor(at: a, wide: lma)
        if !d.isSystem || d.type != 2 { throw Fault.gp(code) }
        if lma && (d.upperType != 0 || !isCanonical(d.base64)) { throw Fault.gp(code) }
        if !d.present { throw Fault.np(code) }
        sreg[6] = d.cache(sel, wide: lma)
    }

    /// LTR: loads TR from an available TSS descriptor and marks it busy.
    func loadTR(_ sel: UInt16) throws(Fault) {
        if cpl != 0 { throw Fault.gp(0) }
        if sel & 0xFFFC == 0 { throw Fault.gp(0) }
        let code = UInt32(sel & 0xFFFC)
        if sel & 4 != 0 { throw Fault.gp(code) }
        let lma = inLongMode
        guard let a = descriptorAddress(sel, bytes: lma ? 16 : 8) else { throw Fault.gp(code) }
        var d = try readDescriptor(at: a, wide: lma)
        if !d.isSystem || !(d.type == 9 || (!lma && d.type == 1)) { throw Fault.gp(code) }
        if lma && (d.upperType != 0 || !isCanonical(d.base64)) { throw Fault.gp(code) }
        if !d.present { throw Fault.np(code) }
        d.lo |= 2 << 40
        try writeSystem(sysLinear(a &+ 5), size: 1, (d.lo >> 40) & 0xFF)
        sreg[7] = d.cache(sel, wide: lma)
    }
}
