import CPUState

// Hardware task switching through 32-bit and 16-bit TSSs (Intel SDM vol. 3, chapter 7).
//
// Faults detected before the switch commits are thrown (they happen in the old task's context
// and the instruction restarts). Faults detected while loading the new task's segments happen
// in the new task's context: they are delivered here directly with the new task's CS:EIP, and
// the switch reports that it did not complete.

enum TaskSwitchKind {
    case jump, call, iret, interrupt
}

extension CPU {
    /// Switches to the task whose TSS descriptor `desc` (at linear `addr`) is selected by `sel`.
    /// The caller has checked type, busy bit (for JMP/CALL/INT) and presence. Returns true when
    /// the new task was entered without a fault; `trap` reports the new TSS's T bit.
    func taskSwitch(to sel: UInt16, desc: Descriptor, at addr: UInt64, kind: TaskSwitchKind,
                    ext: UInt32 = 0) throws(Fault) -> (ok: Bool, trap: Bool) {
        let selCode = UInt32(sel & 0xFFFC) | ext
        let new32 = desc.type & 8 != 0
        if desc.limit < (new32 ? 0x67 : 0x2B) { throw Fault.ts(selCode) }
        let nb = desc.base32
        let tr = sreg[7]
        let old32 = tr.attr & 8 != 0
        let ob = tr.base
        @inline(__always) func rd(_ base: UInt64, _ off: UInt64, _ size: Int) throws(Fault) -> UInt64 {
            try readSystem((base &+ off) & 0xFFFF_FFFF, size: size)
        }
        @inline(__always) func wr(_ base: UInt64, _ off: UInt64, _ size: Int, _ v: UInt64) throws(Fault) {
            try writeSystem((base &+ off) & 0xFFFF_FFFF, size: size, v)
        }

        // Read the new task's state first (a page fault here is still in the old context).
        var regs: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var segs: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0)
        var newIP: UInt64, newFlags: UInt64, newCR3: UInt64 = 0, ldt: UInt16, tbit = false
        if new32 {
            newCR3 = try rd(nb, 0x1C, 4)
            newIP = try rd(nb, 0x20, 4)
            newFlags = try rd(nb, 0x24, 4)
            regs = (try rd(nb, 0x28, 4), try rd(nb, 0x2C, 4), try rd(nb, 0x30, 4), try rd(nb, 0x34, 4),
                    try rd(nb, 0x38, 4), try rd(nb, 0x3C, 4), try rd(nb, 0x40, 4), try rd(nb, 0x44, 4))
            segs = (UInt16(try rd(nb, 0x48, 2)), UInt16(try rd(nb, 0x4C, 2)), UInt16(try rd(nb, 0x50, 2)),
                    UInt16(try rd(nb, 0x54, 2)), UInt16(try rd(nb, 0x58, 2)), UInt16(try rd(nb, 0x5C, 2)))
            ldt = UInt16(try rd(nb, 0x60, 2))
            tbit = try rd(nb, 0x64, 2) & 1 != 0
        } else {
            newIP = try rd(nb, 0x0E, 2)
            newFlags = try rd(nb, 0x10, 2)
            regs = (try rd(nb, 0x12, 2), try rd(nb, 0x14, 2), try rd(nb, 0x16, 2), try rd(nb, 0x18, 2),
                    try rd(nb, 0x1A, 2), try rd(nb, 0x1C, 2), try rd(nb, 0x1E, 2), try rd(nb, 0x20, 2))
            segs = (UInt16(try rd(nb, 0x22, 2)), UInt16(try rd(nb, 0x24, 2)), UInt16(try rd(nb, 0x26, 2)),
                    UInt16(try rd(nb, 0x28, 2)), 0, 0)
            ldt = UInt16(try rd(nb, 0x2A, 2))
        }
        // The old TSS must be writable (checked before anything changes).
        if old32 {
            try probeWrite((ob &+ 0x20) & 0xFFFF_FFFF, size: 0x40, user: false)
        } else {
            try probeWrite((ob &+ 0x0E) & 0xFFFF_FFFF, size: 0x1C, user: false)
        }

        // Busy bit of the task being left (JMP, IRET).
        if kind == .jump || kind == .iret { try setTSSBusy(tr.selector, false) }
        var f = flags()
        if kind == .iret { f &= ~FlagBit.NT }

        // Save the current task.
        if old32 {
            try wr(ob, 0x20, 4, s.pointee.rip)
            try wr(ob, 0x24, 4, f)
            for i in 0..<8 { try wr(ob, 0x28 + UInt64(i) * 4, 4, gpr[i]) }
            for i in 0..<6 { try wr(ob, 0x48 + UInt64(i) * 4, 2, UInt64(sreg[i].selector)) }
        } else {
            try wr(ob, 0x0E, 2, s.pointee.rip)
            try wr(ob, 0x10, 2, f)
            for i in 0..<8 { try wr(ob, 0x12 + UInt64(i) * 2, 2, gpr[i]) }
            for i in 0..<4 { try wr(ob, 0x22 + UInt64(i) * 2, 2, UInt64(sreg[i].selector)) }
        }
        if kind == .call || kind == .interrupt {
            try wr(nb, 0, 2, UInt64(tr.selector))
            newFlags |= FlagBit.NT
        }
        var nd = desc
        if kind != .iret {
            try setTSSBusy(sel, true)
            nd.lo |= 2 << 40
        }

        // Commit: from here on, faults belong to the new task.
        sreg[7] = nd.cache(sel)
        s.pointee.cr0 |= 8  // CR0.TS
        if new32 && s.pointee.cr0 & 0x8000_0000 != 0 && newCR3 != s.pointee.cr3 {
            s.pointee.cr3 = newCR3
            flushTLB()
        }
        s.pointee.rip = new32 ? newIP : newIP & 0xFFFF
        let r = [regs.0, regs.1, regs.2, regs.3, regs.4, regs.5, regs.6, regs.7]
        for i in 0..<8 {
            gpr[i] = new32 ? r[i] : (gpr[i] & ~0xFFFF) | (r[i] & 0xFFFF)
        }
        s.pointee.cc_op = 0
        s.pointee.rflags = ((new32 ? newFlags : newFlags & 0xFFFF) & 0x3F_7FD5) | 2
        let sels = [segs.0, segs.1, segs.2, segs.3, segs.4, segs.5]
        for i in 0..<6 {
            sreg[i].selector = sels[i]
            sreg[i].attr &= ~UInt16(ATTR_P)
        }
        sreg[6].selector = ldt
        sreg[6].attr &= ~UInt16(ATTR_P)
        updateMode()
        do {
            try loadTaskSegments(ldt: ldt, sels: sels, ext: ext)
        } catch {
            updateMode()
            raiseInterrupt(error.vector, source: .exception, code: error.hasCode ? error.code : nil)
            return (false, false)
        }
        updateMode()
        return (true, tbit)
    }

    /// Loads LDTR and the segment registers of the new task (SDM Table 7-1 checks).
    func loadTaskSegments(ldt: UInt16, sels: [UInt16], ext: UInt32) throws(Fault) {
        // LDTR.
        if ldt & 0xFFFC == 0 {
            sreg[6] = nullSegment(ldt)
        } else {
            let code = UInt32(ldt & 0xFFFC) | ext
            if ldt & 4 != 0 { throw Fault.ts(code) }
            guard let (d, _) = try fetchDescriptor(ldt) else { throw Fault.ts(code) }
            if !d.isSystem || d.type != 2 || !d.present { throw Fault.ts(code) }
            sreg[6] = d.cache(ldt)
        }
        if s.pointee.rflags & FlagBit.VM != 0 {
            s.pointee.cpl = 3
            updateMode()
            for i in 0..<6 { loadSegmentReal(UInt8(i), sels[i]) }
            return
        }
        // CS.
        let cs = sels[1]
        let csCode = UInt32(cs & 0xFFFC) | ext
        if cs & 0xFFFC == 0 { throw Fault.ts(csCode) }
        guard let (c0, ca) = try fetchDescriptor(cs) else { throw Fault.ts(csCode) }
        var c = c0
        let rpl = Int(cs & 3)
        if !c.isCode { throw Fault.ts(csCode) }
        if !c.conforming && c.dpl != rpl { throw Fault.ts(csCode) }
        if c.conforming && c.dpl > rpl { throw Fault.ts(csCode) }
        if !c.present { throw Fault.np(csCode) }
        try setAccessed(ca, &c)
        sreg[1] = c.cache(cs)
        s.pointee.cpl = UInt32(rpl)
        updateMode()
        let cpl = rpl
        // SS.
        let ss = sels[2]
        let ssCode = UInt32(ss & 0xFFFC) | ext
        if ss & 0xFFFC == 0 { throw Fault.ts(ssCode) }
        guard let (sd0, sa) = try fetchDescriptor(ss) else { throw Fault.ts(ssCode) }
        var sd = sd0
        if !sd.writableData || sd.dpl != cpl || Int(ss & 3) != cpl { throw Fault.ts(ssCode) }
        if !sd.present { throw Fault.ss(ssCode) }
        try setAccessed(sa, &sd)
        sreg[2] = sd.cache(ss)
        updateMode()
        // DS, ES, FS, GS.
        for seg in [3, 0, 4, 5] {
            let sel = sels[seg]
            if sel & 0xFFFC == 0 {
                sreg[seg] = nullSegment(sel)
                continue
            }
            let code = UInt32(sel & 0xFFFC) | ext
            guard let (d0, a) = try fetchDescriptor(sel) else { throw Fault.ts(code) }
            var d = d0
            if !d.readable { throw Fault.ts(code) }
            if !d.conforming && (d.dpl < cpl || d.dpl < Int(sel & 3)) { throw Fault.ts(code) }
            if !d.present { throw Fault.np(code) }
            try setAccessed(a, &d)
            sreg[seg] = d.cache(sel)
        }
    }

    /// Task switch for JMP/CALL, then the T-bit debug trap. Returns false if a fault was
    /// delivered in the new task.
    func taskSwitchAndTrap(to sel: UInt16, desc: Descriptor, at addr: UInt64,
                           kind: TaskSwitchKind) throws(Fault) -> Bool {
        let (ok, trap) = try taskSwitch(to: sel, desc: desc, at: addr, kind: kind)
        if ok && trap { debugTaskTrap() }
        return ok
    }

    /// The debug trap raised on entry to a task whose TSS has T set (DR6.BT).
    func debugTaskTrap() {
        s.pointee.dr.6 |= 0x8000
        raiseInterrupt(Fault.DB, source: .exception, code: nil)
    }

    /// IRET with NT = 1: return to the task named by the current TSS's back link.
    func taskReturn() throws(Fault) {
        let tr = sreg[7]
        let link = UInt16(try readSystem(tr.base & 0xFFFF_FFFF, size: 2))
        let code = UInt32(link & 0xFFFC)
        if link & 4 != 0 { throw Fault.ts(code) }
        guard let (d, a) = try fetchDescriptor(link) else { throw Fault.ts(code) }
        if !d.isSystem || (d.type != 3 && d.type != 0xB) { throw Fault.ts(code) }
        if !d.present { throw Fault.np(code) }
        let (ok, trap) = try taskSwitch(to: link, desc: d, at: a, kind: .iret)
        if ok && trap { debugTaskTrap() }
    }
}
