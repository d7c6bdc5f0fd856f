// Integer arithmetic, logic, shifts/rotates, multiply/divide, BCD and bit instructions.

extension CPU {
    @inline(__always)
    func execArith(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .ADD, .OR, .ADC, .SBB, .AND, .SUB, .XOR, .CMP, .TEST:
            let size = bytes(d.op0.size, d)
            let a = d.mn == .CMP || d.mn == .TEST ? try readOp(d.op0, d, size, ea) : try readOpRMW(d.op0, d, size, ea)
            let b = try readOp(d.op1, d, size, ea) & sizeMask(size)
            let m = sizeMask(size)
            var r: UInt64
            var kind: CCKind
            var carryIn: UInt64 = 0
            switch d.mn {
            case .ADD: r = a &+ b; kind = .add
            case .ADC: carryIn = flags() & 1; r = a &+ b &+ carryIn; kind = .adc
            case .SUB, .CMP: r = a &- b; kind = .sub
            case .SBB: carryIn = flags() & 1; r = a &- b &- carryIn; kind = .sbb
            case .OR: r = a | b; kind = .logic
            case .AND, .TEST: r = a & b; kind = .logic
            default: r = a ^ b; kind = .logic
            }
            r &= m
            if d.mn != .CMP && d.mn != .TEST { try writeOp(d.op0, d, size, ea, r) }
            if kind == .adc && carryIn == 0 { kind = .add }
            if kind == .sbb && carryIn == 0 { kind = .sub }
            setLazy(kind, size: size, dst: r, src: b, src2: a)
        case .INC, .DEC:
            let size = bytes(d.op0.size, d)
            let a = try readOpRMW(d.op0, d, size, ea)
            let r = (d.mn == .INC ? a &+ 1 : a &- 1) & sizeMask(size)
            try writeOp(d.op0, d, size, ea, r)
            let cf = flags() & 1
            setLazy(d.mn == .INC ? .inc : .dec, size: size, dst: r, src: cf, src2: a)
        case .NOT:
            let size = bytes(d.op0.size, d)
            let a = try readOpRMW(d.op0, d, size, ea)
            try writeOp(d.op0, d, size, ea, ~a & sizeMask(size))
        case .NEG:
            let size = bytes(d.op0.size, d)
            let a = try readOpRMW(d.op0, d, size, ea)
            let r = (0 &- a) & sizeMask(size)
            try writeOp(d.op0, d, size, ea, r)
            setLazy(.sub, size: size, dst: r, src: a, src2: 0)
        case .MUL, .IMUL:
            try execMul(&d, ea)
        case .DIV, .IDIV:
            try execDiv(&d, ea)
        case .DAA, .DAS, .AAA, .AAS, .AAM, .AAD, .SALC:
            try execBCD(&d)
        case .CBW:
            switch d.opSize {
            case 2: gpr[0] = (gpr[0] & ~0xFFFF) | (sext(gpr[0], 1) & 0xFFFF)
            case 4: gpr[0] = sext(gpr[0], 2) & 0xFFFF_FFFF
            default: gpr[0] = sext(gpr[0], 4)
            }
        case .CWD:
            let size = d.opSize
            let neg = gpr[0] & signBit(size) != 0
            writeReg(2, size: size, rex: 0, neg ? ~0 : 0)
        case .ROL, .ROR, .RCL, .RCR, .SHL, .SHR, .SAR:
            try execShift(&d, ea)
        case .SHLD, .SHRD:
            try execDoubleShift(&d, ea)
        case .BT, .BTS, .BTR, .BTC:
            try execBitTest(&d, ea)
        case .BSF, .BSR, .TZCNT, .LZCNT, .POPCNT:
            let size = bytes(d.op0.size, d)
            let v = try readOp(d.op1, d, size, ea) & sizeMask(size)
            let bits = Int(size) * 8
            var f = flags() & ~FlagBit.status
            switch d.mn {
            case .BSF, .BSR:
                if v == 0 {
                    f |= FlagBit.ZF
                } else {
                    let r = d.mn == .BSF ? UInt64(v.trailingZeroBitCount) : UInt64(63 - v.leadingZeroBitCount)
                    writeReg(d.reg, size: size, rex: d.rex, r)
                    f |= parityTable(r) << 2
                }
            case .TZCNT, .LZCNT:
                let r = d.mn == .TZCNT ? (v == 0 ? bits : v.trailingZeroBitCount)
                                       : (v == 0 ? bits : v.leadingZeroBitCount - (64 - bits))
                writeReg(d.reg, size: size, rex: d.rex, UInt64(r))
                if v == 0 { f |= FlagBit.CF }
                if r == 0 { f |= FlagBit.ZF }
            default:
                let r = UInt64(v.nonzeroBitCount)
                writeReg(d.reg, size: size, rex: d.rex, r)
                if v == 0 { f |= FlagBit.ZF }
            }
            s.pointee.rflags = f
        case .BSWAP:
            let r = UInt8(d.opcode & 7) | ((d.rex & 1) << 3)
            switch d.opSize {
            case 8: gpr[Int(r)] = gpr[Int(r)].byteSwapped
            case 4: gpr[Int(r)] = UInt64(UInt32(truncatingIfNeeded: gpr[Int(r)]).byteSwapped)
            default: writeReg(r, size: 2, rex: d.rex, 0)   // 16-bit BSWAP: undefined; real CPUs give 0
            }
        default:
            throw Fault.undefined
        }
    }

    // MARK: multiply / divide

    func execMul(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        if d.op1.kind != .none {
            // IMUL Gv,Ev[,I]: truncated signed product.
            let size = bytes(d.op0.size, d)
            let a: UInt64
            let b: UInt64
            if d.op2.kind != .none {
                a = try readOp(d.op1, d, size, ea)
                b = d.imm & sizeMask(size)
            } else {
                a = try readOp(d.op0, d, size, ea)
                b = try readOp(d.op1, d, size, ea)
            }
            let (hi, lo) = Int64(bitPattern: sext(a, size)).multipliedFullWidth(by: Int64(bitPattern: sext(b, size)))
            let r = lo & sizeMask(size)
            let overflow: Bool
            if size == 8 {
                overflow = hi != (Int64(bitPattern: lo) < 0 ? -1 : 0)
            } else {
                overflow = sext(r, size) != UInt64(lo) || (hi != (Int64(bitPattern: lo) < 0 ? -1 : 0))
            }
            writeReg(d.reg, size: size, rex: d.rex, r)
            setResultFlags(r, size: size, cf: overflow, of: overflow)
            return
        }
        let size = bytes(d.op0.size, d)
        let b = try readOp(d.op0, d, size, ea)
        let a = readReg(0, size: size, rex: 0)
        var lo: UInt64, hi: UInt64, overflow: Bool
        if d.mn == .MUL {
            let p = a.multipliedFullWidth(by: b)
            if size == 8 { lo = p.low; hi = p.high }
            else { lo = p.low & sizeMask(size); hi = (p.low >> (UInt64(size) * 8)) & sizeMask(size) }
            overflow = hi != 0
        } else {
            let p = Int64(bitPattern: sext(a, size)).multipliedFullWidth(by: Int64(bitPattern: sext(b, size)))
            if size == 8 {
                lo = p.low; hi = UInt64(bitPattern: p.high)
                overflow = p.high != (Int64(bitPattern: p.low) < 0 ? -1 : 0)
            } else {
                let full = p.low
                lo = full & sizeMask(size)
                hi = (full >> (UInt64(size) * 8)) & sizeMask(size)
                overflow = sext(lo, size) != full
            }
        }
        if size == 1 {
            gpr[0] = (gpr[0] & ~0xFFFF) | (hi << 8) | lo
        } else {
            writeReg(0, size: size, rex: 0, lo)
            writeReg(2, size: size, rex: 0, hi)
        }
        setResultFlags(lo, size: size, cf: overflow, of: overflow)
    }

    func execDiv(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let size = bytes(d.op0.size, d)
        let divisor = try readOp(d.op0, d, size, ea)
        if divisor == 0 { throw Fault.divide }
        let lo: UInt64, hi: UInt64
        if size == 1 {
            lo = gpr[0] & 0xFF; hi = (gpr[0] >> 8) & 0xFF
        } else {
            lo = readReg(0, size: size, rex: 0); hi = readReg(2, size: size, rex: 0)
        }
        let bits = UInt64(size) * 8
        var q: UInt64, r: UInt64
        if d.mn == .DIV {
            if hi >= divisor { throw Fault.divide }
            if size == 8 {
                (q, r) = divisor.dividingFullWidth((hi, lo))
            } else {
                let n = (hi << bits) | lo
                q = n / divisor; r = n % divisor
            }
        } else {
            let dv = Int64(bitPattern: sext(divisor, size))
            if size == 8 {
                let neg = Int64(bitPattern: hi) < 0
                // |dividend| as 128-bit unsigned.
                var mh = hi, ml = lo
                if neg { ml = ~ml &+ 1; mh = ~mh &+ (ml == 0 ? 1 : 0) }
                let ad = dv < 0 ? UInt64(bitPattern: 0 &- dv) : UInt64(dv)
                if mh >= ad { throw Fault.divide }
                let (uq, ur) = ad.dividingFullWidth((mh, ml))
                let qneg = neg != (dv < 0)
                if qneg ? uq > (1 << 63) : uq > UInt64(Int64.max) { throw Fault.divide }
                q = qneg ? 0 &- uq : uq
                r = neg ? 0 &- ur : ur
            } else {
                let n = Int64(bitPattern: (sext(hi, size) << bits) | lo)
                if dv == -1 && n == Int64.min { throw Fault.divide }
                let qq = n / dv, rr = n % dv
                let maxQ = Int64(1) << (bits - 1)
                if qq >= maxQ || qq < -maxQ { throw Fault.divide }
                q = UInt64(bitPattern: qq) & sizeMask(size); r = UInt64(bitPattern: rr) & sizeMask(size)
            }
        }
        if size == 1 {
            gpr[0] = (gpr[0] & ~0xFFFF) | ((r & 0xFF) << 8) | (q & 0xFF)
        } else {
            writeReg(0, size: size, rex: 0, q)
            writeReg(2, size: size, rex: 0, r)
        }
    }

    // MARK: BCD

    func execBCD(_ d: inout Instr) throws(Fault) {
        let f = flags()
        let al = gpr[0] & 0xFF
        let af = f & FlagBit.AF != 0
        let cf = f & FlagBit.CF != 0
        switch d.mn {
        case .DAA:
            var r = al
            var ncf = false, naf = false
            if al & 0xF > 9 || af { r = r &+ 6; naf = true; ncf = cf || r > 0xFF }
            if al > 0x99 || cf { r = r &+ 0x60; ncf = true }
            r &= 0xFF
            gpr[0] = (gpr[0] & ~0xFF) | r
            // OF is undefined; real CPUs set it from the signed overflow of the adjustment.
            let of = (al & 0x80 == 0) && (r & 0x80 != 0)
            setResultFlags(r, size: 1, cf: ncf, of: of, af: naf)
        case .DAS:
            var r = al
            var ncf = false, naf = false
            if al & 0xF > 9 || af { ncf = cf || r < 6; r = r &- 6; naf = true }
            if al > 0x99 || cf { r = r &- 0x60; ncf = true }
            r &= 0xFF
            gpr[0] = (gpr[0] & ~0xFF) | r
            let of = (al & 0x80 != 0) && (r & 0x80 == 0)
            setResultFlags(r, size: 1, cf: ncf, of: of, af: naf)
        case .AAA, .AAS:
            var ax = gpr[0] & 0xFFFF
            let adjust = al & 0xF > 9 || af
            if adjust {
                if d.mn == .AAA { ax = ax &+ 0x106 } else { ax = (ax &- 6) &- 0x100 }
            }
            ax &= 0xFF0F
            gpr[0] = (gpr[0] & ~0xFFFF) | ax
            setResultFlags(ax & 0xFF, size: 1, cf: adjust, of: false, af: adjust)
        case .AAM:
            let base = d.imm & 0xFF
            if base == 0 { throw Fault.divide }
            let ah = al / base, nl = al % base
            gpr[0] = (gpr[0] & ~0xFFFF) | (ah << 8) | nl
            setResultFlags(nl, size: 1, cf: false, of: false)
        case .AAD:
            let base = d.imm & 0xFF
            let ah = (gpr[0] >> 8) & 0xFF
            let prod = (ah &* base) & 0xFF
            let r = (al &+ prod) & 0xFF
            gpr[0] = (gpr[0] & ~0xFFFF) | r
            // Flags as for ADD AL, AH*base (undefined architecturally; this is what silicon does).
            setLazy(.add, size: 1, dst: r, src: prod, src2: al)
        default: // SALC
            gpr[0] = (gpr[0] & ~0xFF) | (cf ? 0xFF : 0)
        }
    }

    // MARK: shifts and rotates

    func execShift(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let size = bytes(d.op0.size, d)
        let bits = UInt64(size) * 8
        let v = try readOpRMW(d.op0, d, size, ea)
        let rawCount: UInt64 = d.op1.kind == .one ? 1 : (d.op1.kind == .fixedReg ? gpr[1] & 0xFF : d.imm & 0xFF)
        let count = rawCount & (size == 8 ? 0x3F : 0x1F)
        if count == 0 {
            // Flags and value unchanged, but a 32-bit register destination is still written
            // (bits 63:32 cleared).
            if size == 4 && !d.isMem { writeReg(d.rm, size: 4, rex: d.rex, v) }
            return
        }
        let m = sizeMask(size)
        let top = bits - 1
        var f = flags()
        var r: UInt64
        var cf: UInt64
        var of: UInt64
        switch d.mn {
        case .ROL:
            let c = count % bits
            r = c == 0 ? v : ((v << c) | (v >> (bits - c))) & m
            cf = r & 1
            of = ((r >> top) & 1) ^ cf
            try writeOp(d.op0, d, size, ea, r)
            f = (f & ~(FlagBit.CF | FlagBit.OF)) | cf | (of << 11)
            s.pointee.rflags = f
            return
        case .ROR:
            let c = count % bits
            r = c == 0 ? v : ((v >> c) | (v << (bits - c))) & m
            cf = (r >> top) & 1
            of = cf ^ ((r >> (top - 1)) & 1)
            try writeOp(d.op0, d, size, ea, r)
            f = (f & ~(FlagBit.CF | FlagBit.OF)) | cf | (of << 11)
            s.pointee.rflags = f
            return
        case .RCL, .RCR:
            let c = size <= 2 ? count % (bits + 1) : count
            var carry = f & 1
            r = v
            if c != 0 {
                for _ in 0..<c {
                    if d.mn == .RCL {
                        let out = (r >> top) & 1
                        r = ((r << 1) | carry) & m
                        carry = out
                    } else {
                        let out = r & 1
                        r = (r >> 1) | (carry << top)
                        carry = out
                    }
                }
            }
            if d.mn == .RCL {
                of = ((r >> top) & 1) ^ carry
            } else {
                of = ((r >> top) ^ (r >> (top - 1))) & 1
            }
            try writeOp(d.op0, d, size, ea, r)
            f = (f & ~(FlagBit.CF | FlagBit.OF)) | carry | (of << 11)
            s.pointee.rflags = f
            return
        case .SHL:
            r = count >= 64 ? 0 : (v << count) & m
            cf = count > bits ? 0 : (v >> (bits - count)) & 1
            of = ((r >> top) & 1) ^ cf
        case .SHR:
            r = count >= 64 ? 0 : v >> count
            cf = count > bits ? 0 : (v >> (count - 1)) & 1
            // OF is the original sign for 1-bit shifts; silicon gives 0 for longer ones.
            of = count == 1 ? (v >> top) & 1 : 0
        default: // SAR
            let sv = Int64(bitPattern: sext(v, size))
            r = UInt64(bitPattern: sv >> Int64(min(count, 63))) & m
            cf = UInt64(bitPattern: sv >> Int64(min(count - 1, 63))) & 1
            of = 0
        }
        try writeOp(d.op0, d, size, ea, r)
        setResultFlags(r, size: size, cf: cf != 0, of: of != 0, af: false)
    }

    func execDoubleShift(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let size = bytes(d.op0.size, d)
        let bits = UInt64(size) * 8
        let dst = try readOpRMW(d.op0, d, size, ea)
        let src = readReg(d.reg, size: size, rex: d.rex)
        let raw = d.op2.kind == .fixedReg ? gpr[1] & 0xFF : d.imm & 0xFF
        let count = raw & (size == 8 ? 0x3F : 0x1F)
        if count == 0 {
            if size == 4 && !d.isMem { writeReg(d.rm, size: 4, rex: d.rex, dst) }
            return
        }
        let m = sizeMask(size)
        var r: UInt64, cf: UInt64
        if d.mn == .SHLD {
            if size == 2 {
                // 16-bit with count > 16: Intel shifts the 48-bit dst:src:dst pattern.
                let wide = (dst << 32) | (src << 16) | dst
                r = ((wide << count) >> 32) & m
                cf = ((wide << (count - 1)) >> 47) & 1
            } else {
                r = ((dst << count) | (src >> (bits - count))) & m
                cf = (dst >> (bits - count)) & 1
            }
        } else {
            if size == 2 {
                let w2 = (dst) | (src << 16) | (dst << 32)
                r = (w2 >> count) & m
                cf = (w2 >> (count - 1)) & 1
            } else {
                r = ((dst >> count) | (src << (bits - count))) & m
                cf = (dst >> (count - 1)) & 1
            }
        }
        let of = ((r ^ dst) >> (bits - 1)) & 1
        try writeOp(d.op0, d, size, ea, r)
        setResultFlags(r, size: size, cf: cf != 0, of: of != 0)
    }

    // MARK: bit test

    func execBitTest(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        let size = bytes(d.op0.size, d)
        let bits = UInt64(size) * 8
        var bitIndex: UInt64
        var off = ea
        if d.op1.kind == .G {
            let raw = readReg(d.reg, size: size, rex: d.rex)
            if d.isMem {
                // Register bit offsets are signed and may address outside the operand.
                let sidx = Int64(bitPattern: sext(raw, size))
                let unit = sidx >> Int64(bits.trailingZeroBitCount)
                off = ea &+ UInt64(bitPattern: unit &* Int64(size))
                switch d.addrSize {
                case 2: off &= 0xFFFF
                case 4: off &= 0xFFFF_FFFF
                default: break
                }
            }
            bitIndex = raw & (bits - 1)
        } else {
            bitIndex = d.imm & (bits - 1)
        }
        let v: UInt64
        if d.isMem {
            v = d.mn == .BT ? try read(seg: d.seg, off: off, size: size) : try readRMW(seg: d.seg, off: off, size: size)
        } else { v = readReg(d.rm, size: size, rex: d.rex) }
        let bit = (v >> bitIndex) & 1
        var nv = v
        switch d.mn {
        case .BTS: nv = v | (1 << bitIndex)
        case .BTR: nv = v & ~(1 << bitIndex)
        case .BTC: nv = v ^ (1 << bitIndex)
        default: break
        }
        if d.mn != .BT {
            if d.isMem { try write(seg: d.seg, off: off, size: size, nv) } else { writeReg(d.rm, size: size, rex: d.rex, nv) }
        }
        s.pointee.rflags = (flags() & ~FlagBit.CF) | bit
    }
}
