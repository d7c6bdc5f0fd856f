// Data movement, exchange, conditional moves/sets and flag-bit instructions.

extension CPU {
    @inline(__always)
    func execData(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .MOV:
            if d.op0.kind == .S {
                // MOV Sreg, Ew
                let sreg = d.modrmReg
                if sreg == 1 || sreg > 5 { throw Fault.undefined }
                let v = try readOp(d.op1, d, 2, ea)
                try loadSegment(sreg, UInt16(truncatingIfNeeded: v))
                if sreg == 2 { s.pointee.intr_shadow = 1 }
                return
            }
            if d.op1.kind == .S {
                let sreg = d.modrmReg
                if sreg > 5 { throw Fault.undefined }
                let v = UInt64(sreg_selector(sreg))
                if d.isMem { try write(seg: d.seg, off: ea, size: 2, v) }
                else { writeReg(d.rm, size: d.opSize, rex: d.rex, v) }
                return
            }
            if d.op0.kind == .C || d.op1.kind == .C || d.op0.kind == .D || d.op1.kind == .D {
                try execSystem(&d, ea)
                return
            }
            let size = bytes(d.op0.size, d)
            let v = try readOp(d.op1, d, size, ea)
            try writeOp(d.op0, d, size, ea, v)
        case .MOVZX, .MOVSX:
            let srcSize = bytes(d.op1.size, d)
            var v = try readOp(d.op1, d, srcSize, ea)
            if d.mn == .MOVSX { v = sext(v, srcSize) }
            writeReg(d.reg, size: d.opSize, rex: d.rex, v & sizeMask(d.opSize))
        case .MOVSXD:
            // With a 16-bit operand size only a word is read (found by emu difftest: no #PF on
            // the following bytes).
            let srcSize: UInt8 = d.opSize == 2 ? 2 : 4
            let v = try readOp(d.op1, d, srcSize, ea)
            writeReg(d.reg, size: d.opSize, rex: d.rex, sext(v, srcSize) & sizeMask(d.opSize))
        case .LEA:
            writeReg(d.reg, size: d.opSize, rex: d.rex, ea & sizeMask(d.opSize))
        case .XCHG:
            let size = bytes(d.op0.size, d)
            let a = try readOpRMW(d.op0, d, size, ea)
            let b = try readOp(d.op1, d, size, ea)
            try writeOp(d.op0, d, size, ea, b)
            try writeOp(d.op1, d, size, ea, a)
        case .XADD:
            let size = bytes(d.op0.size, d)
            let a = try readOpRMW(d.op0, d, size, ea)
            let b = readReg(d.reg, size: size, rex: d.rex)
            let r = (a &+ b) & sizeMask(size)
            // Source first: with the same register for both, the sum wins.
            if d.isMem { try writeOp(d.op0, d, size, ea, r) }
            writeReg(d.reg, size: size, rex: d.rex, a)
            if !d.isMem { try writeOp(d.op0, d, size, ea, r) }
            setLazy(.add, size: size, dst: r, src: b, src2: a)
        case .CMPXCHG:
            let size = bytes(d.op0.size, d)
            let dst = try readOpRMW(d.op0, d, size, ea)
            let acc = readReg(0, size: size, rex: 0)
            if acc == dst {
                try writeOp(d.op0, d, size, ea, readReg(d.reg, size: size, rex: d.rex))
            } else {
                // A memory destination is written back with its own value (locked cycle); a
                // register destination is not written (its bits 63:32 survive), then rAX loaded.
                if d.isMem { try writeOp(d.op0, d, size, ea, dst) }
                writeReg(0, size: size, rex: 0, dst)
            }
            setLazy(.sub, size: size, dst: (acc &- dst) & sizeMask(size), src: dst, src2: acc)
        case .CMPXCHG8B:
            if d.rexW {
                if ea & 15 != 0 { throw Fault.gp(0) }
                let lo = try readRMW(seg: d.seg, off: ea, size: 8)
                let hi = try read(seg: d.seg, off: ea &+ 8, size: 8)
                if lo == gpr[0] && hi == gpr[2] {
                    try write(seg: d.seg, off: ea, size: 8, gpr[3])
                    try write(seg: d.seg, off: ea &+ 8, size: 8, gpr[1])
                    setFlags(FlagBit.ZF, mask: FlagBit.ZF)
                } else {
                    try write(seg: d.seg, off: ea, size: 8, lo)
                    gpr[0] = lo; gpr[2] = hi
                    setFlags(0, mask: FlagBit.ZF)
                }
            } else {
                let v = try readRMW(seg: d.seg, off: ea, size: 8)
                let cmp = (gpr[2] & 0xFFFF_FFFF) << 32 | (gpr[0] & 0xFFFF_FFFF)
                if v == cmp {
                    try write(seg: d.seg, off: ea, size: 8, (gpr[1] & 0xFFFF_FFFF) << 32 | (gpr[3] & 0xFFFF_FFFF))
                    setFlags(FlagBit.ZF, mask: FlagBit.ZF)
                } else {
                    try write(seg: d.seg, off: ea, size: 8, v)
                    gpr[0] = v & 0xFFFF_FFFF; gpr[2] = v >> 32
                    setFlags(0, mask: FlagBit.ZF)
                }
            }
        case .NOP, .PREFETCH, .PREFETCHW:
            break
        case .MOVBE:
            let size = d.opSize
            let v = try readOp(d.op1, d, size, ea)
            let swapped: UInt64
            switch size {
            case 2: swapped = UInt64(UInt16(truncatingIfNeeded: v).byteSwapped)
            case 4: swapped = UInt64(UInt32(truncatingIfNeeded: v).byteSwapped)
            default: swapped = v.byteSwapped
            }
            try writeOp(d.op0, d, size, ea, swapped)
        case .XLAT:
            var off = gpr[3] &+ (gpr[0] & 0xFF)
            if d.addrSize == 2 { off &= 0xFFFF } else if d.addrSize == 4 { off &= 0xFFFF_FFFF }
            let v = try read(seg: d.seg, off: off, size: 1)
            gpr[0] = (gpr[0] & ~0xFF) | v
        case .LAHF:
            let f = flags()
            gpr[0] = (gpr[0] & ~0xFF00) | (((f & 0xD5) | 2) << 8)
        case .SAHF:
            let ah = (gpr[0] >> 8) & 0xFF
            setFlags(ah, mask: 0xD5)
        case .CLC: setFlags(0, mask: FlagBit.CF)
        case .STC: setFlags(FlagBit.CF, mask: FlagBit.CF)
        case .CMC: setFlags(~flags(), mask: FlagBit.CF)
        case .CLD: s.pointee.rflags &= ~FlagBit.DF
        case .STD: s.pointee.rflags |= FlagBit.DF
        default:
            let raw = d.mn.rawValue
            if raw >= Mn.SETO.rawValue && raw <= Mn.SETNLE.rawValue {
                let c = condition(UInt8(raw - Mn.SETO.rawValue))
                try writeOp(d.op0, d, 1, ea, c ? 1 : 0)
            } else if raw >= Mn.CMOVO.rawValue && raw <= Mn.CMOVNLE.rawValue {
                let v = try readOp(d.op1, d, d.opSize, ea)
                if condition(UInt8(raw - Mn.CMOVO.rawValue)) {
                    writeReg(d.reg, size: d.opSize, rex: d.rex, v)
                } else if d.opSize == 4 {
                    writeReg(d.reg, size: 4, rex: d.rex, readReg(d.reg, size: 4, rex: d.rex))
                }
            } else {
                throw Fault.undefined
            }
        }
    }

    @inline(__always) func sreg_selector(_ i: UInt8) -> UInt16 { sreg[Int(i)].selector }
}
