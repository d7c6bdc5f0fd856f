import CPUState

// Protected-mode and long-mode interrupt/exception delivery through the IDT
// (Intel SDM vol. 2 "INT n" pseudo-code, vol. 3 chapter 6).

extension CPU {
    func deliverProtected(_ vector: UInt8, source: InterruptSource, code: UInt32?) throws(Fault) {
        let soft = source == .software || source == .softwareException
        let ext: UInt32 = soft ? 0 : 1
        let lma = inLongMode
        let idtCode = UInt32(vector) * 8 + 2 + ext
        let entry = UInt64(vector) * (lma ? 16 : 8)
        if entry + (lma ? 15 : 7) > UInt64(s.pointee.idtr.limit) { throw Fault.gp(idtCode) }
        let gaddr = sysLinear(s.pointee.idtr.base &+ entry)
        var gate = Descriptor(lo: try readSystem(gaddr, size: 8))
        if lma { gate.hi = try readSystem(gaddr &+ 8, size: 8) }
        let t = gate.type
        let typeOK = gate.isSystem && (lma ? (t == 0xE || t == 0xF) : (t == 5 || t == 6 || t == 7 || t == 0xE || t == 0xF))
        if !typeOK { throw Fault.gp(idtCode) }
        if soft && gate.dpl < cpl { throw Fault.gp(UInt32(vector) * 8 + 2) }
        if !gate.present { throw Fault.np(idtCode) }
        if t == 5 {
            try deliverThroughTaskGate(gate, ext: ext, code: code)
            return
        }

        // Interrupt or trap gate: validate the handler's code segment.
        let csSel = gate.gateSelector
        if csSel & 0xFFFC == 0 { throw Fault.gp(ext) }
        let csCode = UInt32(csSel & 0xFFFC) | ext
        guard let (c, ca) = try fetchDescriptor(csSel) else { throw Fault.gp(csCode) }
        let oldCPL = cpl
        if !c.isCode || c.dpl > oldCPL { throw Fault.gp(csCode) }
        if !c.present { throw Fault.np(csCode) }
        if lma && (!c.l || c.db) { throw Fault.gp(csCode) }
        let vm = v86
        let gsz: UInt8 = lma ? 8 : (t & 8 != 0 ? 4 : 2)
        var ip = lma ? gate.gateOffset64 : gate.gateOffset32
        if gsz == 2 { ip &= 0xFFFF }

        let oldFlags = flags()
        let oldSS = UInt64(sreg[2].selector), oldSP = gpr[4]
        let oldCS = UInt64(sreg[1].selector), oldIP = s.pointee.rip
        var newCPL = oldCPL
        var newSS: SegmentCache? = nil
        var ssAddr: UInt64? = nil
        var st: StackBuilder
        if !c.conforming && c.dpl < oldCPL {
            // Inner privilege: stack from the TSS.
            if vm && c.dpl != 0 { throw Fault.gp(csCode) }
            newCPL = c.dpl
            if lma {
                let off = gate.ist != 0 ? UInt64(gate.ist) * 8 + 28 : UInt64(newCPL) * 8 + 4
                let rsp = try tssStack64(off, ext: ext)
                st = longStack(sp: rsp & ~0xF, user: false, fault: Fault.ss(ext))
                newSS = nullStackSegment(newCPL)
            } else {
                let (nss, nsp) = try tssStack(newCPL, ext: ext)
                let (sd, sa) = try validateInnerSS(nss, cpl: newCPL, ext: ext)
                let cache = sd.cache(nss)
                newSS = cache
                ssAddr = sa
                st = stackFor(cache, sp: nsp, user: false, fault: Fault.ss(UInt32(nss & 0xFFFC) | ext))
                if vm {
                    try push(&st, UInt64(sreg[5].selector), size: gsz)
                    try push(&st, UInt64(sreg[4].selector), size: gsz)
                    try push(&st, UInt64(sreg[3].selector), size: gsz)
                    try push(&st, UInt64(sreg[0].selector), size: gsz)
                }
                try push(&st, oldSS, size: gsz)
                try push(&st, oldSP, size: gsz)
            }
        } else {
            if vm { throw Fault.gp(csCode) }
            if lma {
                var rsp = oldSP
                if gate.ist != 0 { rsp = try tssStack64(UInt64(gate.ist) * 8 + 28, ext: ext) }
                st = longStack(sp: rsp & ~0xF, user: newCPL == 3, fault: Fault.ss(ext))
            } else {
                st = currentStack(fault: Fault.ss(ext))
            }
        }
        if lma {
            try push(&st, oldSS, size: 8)
            try push(&st, oldSP, size: 8)
        }
        try push(&st, oldFlags, size: gsz)
        try push(&st, oldCS, size: gsz)
        try push(&st, oldIP, size: gsz)
        if let e = code { try push(&st, UInt64(e), size: gsz) }
        if lma {
            if !isCanonical(ip) { throw Fault.gp(ext) }
        } else if ip > UInt64(c.limit) {
            throw Fault.gp(ext)
        }

        // Commit.
        if let ssc = newSS {
            if let sa = ssAddr {
                var sd = Descriptor(lo: try readSystem(sa, size: 8))
                try setAccessed(sa, &sd)
            }
            sreg[2] = ssc
            sreg[2].attr |= ssAddr != nil ? 1 : 0
        }
        gpr[4] = st.sp
        if vm {
            for seg in [0, 3, 4, 5] { sreg[seg] = nullSegment(0) }
        }
        var cd = c
        try setAccessed(ca, &cd)
        sreg[1] = cd.cache((csSel & 0xFFFC) | UInt16(newCPL))
        s.pointee.cpl = UInt32(newCPL)
        s.pointee.rip = ip
        var f = oldFlags & ~(FlagBit.TF | FlagBit.NT | FlagBit.RF | FlagBit.VM)
        if t & 1 == 0 { f &= ~FlagBit.IF }
        s.pointee.cc_op = 0
        s.pointee.rflags = f
        updateMode()
    }

    /// Interrupt or exception through a task gate (legacy protected mode only).
    func deliverThroughTaskGate(_ gate: Descriptor, ext: UInt32, code: UInt32?) throws(Fault) {
        let sel = gate.gateSelector
        let (d, a) = try checkTaskTarget(sel, ext: ext)
        let (ok, trap) = try taskSwitch(to: sel, desc: d, at: a, kind: .interrupt, ext: ext)
        if !ok { return }
        if let e = code {
            // The error code goes on the new task's stack.
            let size: UInt8 = d.type & 8 != 0 ? 4 : 2
            var st = currentStack(fault: Fault.ss(ext))
            do {
                try push(&st, UInt64(e), size: size)
                gpr[4] = st.sp
            } catch {
                raiseInterrupt(error.vector, source: .exception, code: error.hasCode ? error.code : nil)
                return
            }
        }
        if trap { debugTaskTrap() }
    }
}
