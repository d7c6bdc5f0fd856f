// Stack instructions, branches, calls/returns, software interrupts, far pointers.

extension CPU {
    @inline(__always)
    func execControl(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let raw = d.mn.rawValue
        if raw >= Mn.JO.rawValue && raw <= Mn.JNLE.rawValue {
            if condition(UInt8(d.opcode & 0xF)) {
                try jumpNear(s.pointee.rip &+ d.imm, size: d.opSize)
            }
            return
        }
        switch d.mn {
        case .PUSH:
            switch d.op0.kind {
            case .fixedSeg where d.opSize == 8:
                // 64-bit push of a segment register: the selector zero-extended (as the host CPUs
                // the differential tester ran on do).
                try push(UInt64(sreg[Int(d.op0.reg)].selector), size: 8)
            case .fixedSeg:
                // A 32-bit push of a segment register writes only the low 16 bits.
                let sel = UInt64(sreg[Int(d.op0.reg)].selector)
                let sp = stackMaskedAdd(gpr[4], 0 &- UInt64(d.opSize))
                try write(seg: 2, off: stackOffset(sp), size: 2, sel)
                gpr[4] = sp
            default:
                let v = try readOp(d.op0, d, d.opSize, ea)
                try push(v, size: d.opSize)
            }
        case .POP:
            switch d.op0.kind {
            case .fixedSeg:
                let v = try peekStack(0, size: 2)
                let oldSP = gpr[4]
                gpr[4] = stackMaskedAdd(gpr[4], UInt64(d.opSize))
                do { try loadSegment(d.op0.reg, UInt16(v)) } catch { gpr[4] = oldSP; throw error }
                if d.op0.reg == 2 { s.pointee.intr_shadow = 1 }
            case .Z:
                let v = try pop(size: d.opSize)
                writeReg(UInt8(d.opcode & 7) | ((d.rex & 1) << 3), size: d.opSize, rex: d.rex, v)
            default:
                // POP Ev: the address is computed after SP is incremented.
                let v = try peekStack(0, size: d.opSize)
                let oldSP = gpr[4]
                gpr[4] = stackMaskedAdd(gpr[4], UInt64(d.opSize))
                do {
                    if d.isMem {
                        try write(seg: d.seg, off: effectiveAddress(d), size: d.opSize, v)
                    } else {
                        writeReg(d.rm, size: d.opSize, rex: d.rex, v)
                    }
                } catch { gpr[4] = oldSP; throw error }
            }
        case .PUSHA:
            let size = d.opSize
            let oldSP = gpr[4]
            do {
                for r: UInt8 in 0..<8 {
                    let v = r == 4 ? oldSP & sizeMask(size) : readReg(r, size: size, rex: 0)
                    try push(v, size: size)
                }
            } catch { gpr[4] = oldSP; throw error }
        case .POPA:
            let size = d.opSize
            var vals = [UInt64](repeating: 0, count: 8)
            for i in 0..<8 { vals[7 - i] = try peekStack(UInt64(i) * UInt64(size), size: size) }
            for r in 0..<8 where r != 4 { writeReg(UInt8(r), size: size, rex: 0, vals[r]) }
            gpr[4] = stackMaskedAdd(gpr[4], UInt64(size) * 8)
        case .PUSHF:
            if v86 && iopl < 3 { throw Fault.gp(0) }
            let f = flags() & ~(FlagBit.VM | FlagBit.RF)
            try push(f & sizeMask(d.opSize), size: d.opSize)
        case .POPF:
            if v86 && iopl < 3 { throw Fault.gp(0) }
            let v = try peekStack(0, size: d.opSize)
            gpr[4] = stackMaskedAdd(gpr[4], UInt64(d.opSize))
            loadFlagsFromPop(v, size: d.opSize)
        case .ENTER:
            let size = d.opSize
            let level = d.imm2 & 31
            let oldSP = gpr[4], oldBP = gpr[5]
            do {
                try push(readReg(5, size: size, rex: 0), size: size)
                let frame = gpr[4]
                if level > 0 {
                    var bp = gpr[5]
                    for _ in 1..<max(level, 1) {
                        bp = stackMaskedAdd(bp, 0 &- UInt64(size))
                        let v = try read(seg: 2, off: stackOffset(bp), size: size)
                        try push(v, size: size)
                    }
                    try push(frame & sizeMask(size), size: size)
                }
                let newSP = stackMaskedAdd(gpr[4], 0 &- (d.imm & 0xFFFF))
                // The final stack pointer must be writable (checked before committing).
                let lin = try linear(seg: 2, off: stackOffset(newSP), size: size, write: true)
                try probeWrite(lin, size: Int(size), user: userAccess)
                writeReg(5, size: size, rex: 0, frame & sizeMask(size))
                gpr[4] = newSP
            } catch { gpr[4] = oldSP; gpr[5] = oldBP; throw error }
        case .LEAVE:
            let sp = stackAddrSize == 2 ? (gpr[4] & ~0xFFFF) | (gpr[5] & 0xFFFF)
                   : (stackAddrSize == 4 ? gpr[5] & 0xFFFF_FFFF : gpr[5])
            let v = try read(seg: 2, off: stackOffset(sp), size: d.opSize)
            gpr[4] = stackMaskedAdd(sp, UInt64(d.opSize))
            writeReg(5, size: d.opSize, rex: 0, v)
        case .JMP:
            if d.op0.kind == .J {
                try jumpNear(s.pointee.rip &+ d.imm, size: d.opSize)
            } else {
                let t = try readOp(d.op0, d, d.opSize, ea)
                try jumpNear(t, size: d.opSize)
            }
        case .CALL:
            let target: UInt64
            if d.op0.kind == .J { target = s.pointee.rip &+ d.imm }
            else { target = try readOp(d.op0, d, d.opSize, ea) }
            let t = try checkNearTarget(target, size: d.opSize)
            try push(s.pointee.rip & sizeMask(d.opSize), size: d.opSize)
            s.pointee.rip = t
        case .RET:
            let ip = try peekStack(0, size: d.opSize)
            let t = try checkNearTarget(ip, size: d.opSize)
            gpr[4] = stackMaskedAdd(gpr[4], UInt64(d.opSize) &+ (d.op0.kind == .I ? d.imm & 0xFFFF : 0))
            s.pointee.rip = t
        case .LOOP, .LOOPE, .LOOPNE:
            let m = sizeMask(d.addrSize)
            let c = (gpr[1] &- 1) & m
            writeReg(1, size: d.addrSize, rex: 0, c)
            var take = c != 0
            if d.mn == .LOOPE { take = take && flag(FlagBit.ZF) }
            if d.mn == .LOOPNE { take = take && !flag(FlagBit.ZF) }
            if take { try jumpNear(s.pointee.rip &+ d.imm, size: d.opSize) }
        case .JCXZ:
            if gpr[1] & sizeMask(d.addrSize) == 0 { try jumpNear(s.pointee.rip &+ d.imm, size: d.opSize) }
        case .JMPF, .CALLF:
            var off: UInt64, sel: UInt16
            if d.op0.kind == .A {
                off = d.imm; sel = UInt16(truncatingIfNeeded: d.imm2)
            } else {
                let osz: UInt8 = d.opSize
                off = try read(seg: d.seg, off: ea, size: osz)
                sel = UInt16(try read(seg: d.seg, off: (ea &+ UInt64(osz)) & sizeMask(d.addrSize), size: 2))
            }
            if d.mn == .JMPF { try farJump(sel, off, size: d.opSize) }
            else { try farCall(sel, off, size: d.opSize) }
        case .RETF:
            try farReturn(size: d.opSize, extra: d.op0.kind == .I ? d.imm & 0xFFFF : 0)
        case .IRET:
            try interruptReturn(size: d.opSize)
        case .INT:
            if v86 && iopl < 3 { throw Fault.gp(0) }
            try deliverInterrupt(UInt8(d.imm & 0xFF), source: .software, code: nil)
        case .INT3:
            try deliverInterrupt(Fault.BP, source: .softwareException, code: nil)
        case .INTO:
            if flag(FlagBit.OF) { try deliverInterrupt(Fault.OF, source: .softwareException, code: nil) }
        case .INT1:
            try deliverInterrupt(Fault.DB, source: .icebp, code: nil)
        case .BOUND:
            let size = d.opSize
            let idx = Int64(bitPattern: sext(readReg(d.reg, size: size, rex: d.rex), size))
            let lo = Int64(bitPattern: sext(try read(seg: d.seg, off: ea, size: size), size))
            let hi = Int64(bitPattern: sext(try read(seg: d.seg, off: (ea &+ UInt64(size)) & sizeMask(d.addrSize), size: size), size))
            if idx < lo || idx > hi { throw Fault(vector: Fault.BR) }
        case .LES, .LDS, .LSS, .LFS, .LGS:
            let size = d.opSize
            let off = try read(seg: d.seg, off: ea, size: size)
            let sel = UInt16(try read(seg: d.seg, off: (ea &+ UInt64(size)) & sizeMask(d.addrSize), size: 2))
            let seg: UInt8
            switch d.mn {
            case .LES: seg = 0
            case .LDS: seg = 3
            case .LSS: seg = 2
            case .LFS: seg = 4
            default: seg = 5
            }
            try loadSegment(seg, sel)
            writeReg(d.reg, size: size, rex: d.rex, off)
        default:
            throw Fault.undefined
        }
    }

    @inline(__always) var iopl: UInt64 { (s.pointee.rflags >> 12) & 3 }

    /// Masks a near-branch target to the operand size and checks it against CS (limit or canonical).
    @inline(__always)
    func checkNearTarget(_ target: UInt64, size: UInt8) throws(Fault) -> UInt64 {
        let t = target & sizeMask(size)
        if code64 {
            if UInt64(bitPattern: Int64(bitPattern: t << 16) >> 16) != t { throw Fault.gp(0) }
        } else if t > UInt64(sreg[1].limit) {
            throw Fault.gp(0)
        }
        return t
    }

    @inline(__always)
    func jumpNear(_ target: UInt64, size: UInt8) throws(Fault) {
        s.pointee.rip = try checkNearTarget(target, size: size)
    }

    /// POPF semantics: which bits change depends on mode, CPL and IOPL.
    func loadFlagsFromPop(_ v: UInt64, size: UInt8) {
        let old = flags()
        var mask: UInt64 = FlagBit.status | FlagBit.TF | FlagBit.DF | FlagBit.NT | FlagBit.AC | FlagBit.ID
        if realMode || cpl == 0 {
            mask |= FlagBit.IOPL | FlagBit.IF
        } else {
            if UInt64(cpl) <= iopl { mask |= FlagBit.IF }
            if v86 { mask |= FlagBit.IF }
        }
        if size == 2 { mask &= 0xFFFF }
        writeRFLAGS((old & ~mask) | (v & mask))
    }

    // MARK: far transfers (real mode here; protected mode in ExecSystem)

    func farJump(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        if realMode || v86 {
            let t = off & sizeMask(size)
            if t > UInt64(sreg[1].limit) { throw Fault.gp(0) }
            loadSegmentReal(1, sel)
            s.pointee.rip = t
        } else {
            try farJumpProtected(sel, off & sizeMask(size), size: size)
        }
    }

    func farCall(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        if realMode || v86 {
            let t = off & sizeMask(size)
            if t > UInt64(sreg[1].limit) { throw Fault.gp(0) }
            let oldSP = gpr[4]
            do {
                try push(UInt64(sreg[1].selector), size: size)
                try push(s.pointee.rip, size: size)
            } catch { gpr[4] = oldSP; throw error }
            loadSegmentReal(1, sel)
            s.pointee.rip = t
        } else {
            try farCallProtected(sel, off & sizeMask(size), size: size)
        }
    }

    func farReturn(size: UInt8, extra: UInt64) throws(Fault) {
        if realMode || v86 {
            let ip = try peekStack(0, size: size)
            let cs = try peekStack(UInt64(size), size: size)
            if ip > UInt64(sreg[1].limit) { throw Fault.gp(0) }
            gpr[4] = stackMaskedAdd(gpr[4], UInt64(size) * 2 &+ extra)
            loadSegmentReal(1, UInt16(truncatingIfNeeded: cs))
            s.pointee.rip = ip
        } else {
            try farReturnProtected(size: size, extra: extra)
        }
    }

    func interruptReturn(size: UInt8) throws(Fault) {
        s.pointee.nmi_blocked = 0
        if realMode || (v86 && iopl == 3) {
            let ip = try peekStack(0, size: size)
            let cs = try peekStack(UInt64(size), size: size)
            let fl = try peekStack(UInt64(size) * 2, size: size)
            if ip > UInt64(sreg[1].limit) { throw Fault.gp(0) }
            gpr[4] = stackMaskedAdd(gpr[4], UInt64(size) * 3)
            loadSegmentReal(1, UInt16(truncatingIfNeeded: cs))
            s.pointee.rip = ip
            let old = flags()
            var mask: UInt64 = size == 2 ? 0xFFFF : 0x25_7FD5
            if v86 { mask &= ~FlagBit.IOPL }
            writeRFLAGS((old & ~mask) | (fl & mask))
        } else if v86 {
            throw Fault.gp(0)
        } else {
            try interruptReturnProtected(size: size)
        }
    }
}
