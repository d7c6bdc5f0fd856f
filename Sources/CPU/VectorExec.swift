import CPUState

// The vector instruction switch: moves, integer operations, shuffles and inserts/extracts.
// Floating point lives in VectorFP.swift, string/CRC/crypto in VectorMisc.swift.

extension CPU {
    func execSSE(_ op: VOp, _ d: inout Instr, _ ea: UInt64, _ e: UInt16) throws(Fault) {
        let mmx = e & vfMMX != 0 && e & vfSSE == 0
        let store = e & vfStore != 0
        let w = mmx ? 8 : 16
        switch op {
        // ---- 128-bit moves ---------------------------------------------------------------------
        case .MOVUPS, .MOVUPD, .MOVDQU, .LDDQU, .MOVAPS, .MOVAPD, .MOVDQA, .MOVNTDQA:
            let al = !(op == .MOVUPS || op == .MOVUPD || op == .MOVDQU || op == .LDDQU)
            if store {
                let v = getX(d.reg)
                if d.isMem { try write16(d.seg, ea, v, aligned: al) } else { setX(d.rm, v) }
            } else {
                setX(d.reg, d.isMem ? try read16(d.seg, ea, aligned: al) : getX(d.rm))
            }
        case .MOVNTPS, .MOVNTPD, .MOVNTDQ:
            try write16(d.seg, ea, getX(d.reg), aligned: true)
        case .MOVSS, .MOVSD:
            let sz: UInt8 = op == .MOVSS ? 4 : 8
            if store {
                let v = getX(d.reg)
                if d.isMem { try vwrite(d, ea, sz, v.lo) } else { setX(d.rm, mergeLow(getX(d.rm), v, sz)) }
            } else if d.isMem {
                setX(d.reg, V128(lo: try vread(d, ea, sz)))
            } else {
                setX(d.reg, mergeLow(getX(d.reg), getX(d.rm), sz))
            }
        case .MOVLPS, .MOVLPD:
            if store { try vwrite(d, ea, 8, getX(d.reg).lo); break }
            var v = getX(d.reg)
            v.lo = d.isMem ? try vread(d, ea, 8) : getX(d.rm).hi     // register form: MOVHLPS
            setX(d.reg, v)
        case .MOVHPS, .MOVHPD:
            if store { try vwrite(d, ea, 8, getX(d.reg).hi); break }
            var v = getX(d.reg)
            v.hi = d.isMem ? try vread(d, ea, 8) : getX(d.rm).lo     // register form: MOVLHPS
            setX(d.reg, v)
        case .MOVSLDUP, .MOVSHDUP:
            let s = d.isMem ? try read16(d.seg, ea, aligned: true) : getX(d.rm)
            var r = V128()
            let o = op == .MOVSHDUP ? 1 : 0
            r.d = SIMD4<UInt32>(s.d[o], s.d[o], s.d[2 + o], s.d[2 + o])
            setX(d.reg, r)
        case .MOVDDUP:
            let s = try srcLow(d, ea, 8)
            setX(d.reg, V128(lo: s.lo, hi: s.lo))
        case .MOVD:
            let sz: UInt8 = d.rexW ? 8 : 4
            if store {
                let v = mmx ? getM(d.reg) : getX(d.reg).lo
                try writeOp(d.op0, d, sz, ea, v & sizeMask(sz))
            } else {
                let v = try readOp(d.op1, d, sz, ea)
                if mmx { setM(d.reg, v) } else { setX(d.reg, V128(lo: v)) }
            }
        case .MOVQ:
            if mmx {
                if store {
                    if d.isMem { try vwrite(d, ea, 8, getM(d.reg)) } else { setM(d.rm, getM(d.reg)) }
                } else {
                    setM(d.reg, d.isMem ? try vread(d, ea, 8) : getM(d.rm))
                }
            } else if store {
                let v = getX(d.reg).lo
                if d.isMem { try vwrite(d, ea, 8, v) } else { setX(d.rm, V128(lo: v)) }
            } else {
                setX(d.reg, V128(lo: d.isMem ? try vread(d, ea, 8) : getX(d.rm).lo))
            }
        case .MOVNTQ:
            try vwrite(d, ea, 8, getM(d.reg))
        case .MOVNTI:
            let sz: UInt8 = d.opSize == 8 ? 8 : 4
            try vwrite(d, ea, sz, readReg(d.reg, size: sz, rex: d.rex))
        case .MOVQ2DQ:
            setX(d.reg, V128(lo: getM(d.rm)))
        case .MOVDQ2Q:
            setM(d.reg, getX(d.rm).lo)
        case .MASKMOVQ, .MASKMOVDQU:
            let data = dstGet(d, mmx: mmx)
            let mask = mmx ? V128(lo: getM(d.rm)) : getX(d.rm)
            var base = gpr[7]
            if d.addrSize == 4 { base &= 0xFFFF_FFFF } else if d.addrSize == 2 { base &= 0xFFFF }
            // Check the whole destination first, then store the selected bytes.
            // The destination is checked even when the mask selects nothing (as the host does).
            let lin = try linear(seg: d.seg, off: base, size: UInt8(w), write: true)
            // Checked in 8-byte halves, the high half of MASKMOVDQU first (as the host reports
            // the faulting address), whatever the mask selects within a half.
            if w == 16 { try probeWrite(wrapLinear(lin &+ 8), size: 8, user: userAccess) }
            try probeWrite(lin, size: 8, user: userAccess)
            for i in 0..<w where mask[i] & 0x80 != 0 {
                try writeLinear(wrapLinear(lin &+ UInt64(i)), size: 1, user: userAccess, UInt64(data[i]))
            }
        case .MOVMSKPS:
            let v = getX(d.rm)
            var m: UInt64 = 0
            for i in 0..<4 { m |= UInt64(v.d[i] >> 31) << UInt64(i) }
            writeReg(d.reg, size: 4, rex: d.rex, m)
        case .MOVMSKPD:
            let v = getX(d.rm)
            writeReg(d.reg, size: 4, rex: d.rex, (v.q[0] >> 63) | (v.q[1] >> 63) << 1)
        case .PMOVMSKB:
            let v = mmx ? V128(lo: getM(d.rm)) : getX(d.rm)
            var m: UInt64 = 0
            for i in 0..<w { m |= UInt64(v[i] >> 7) << UInt64(i) }
            writeReg(d.reg, size: 4, rex: d.rex, m)
        case .EMMS:
            s.pointee.ftw = 0xFFFF
            s.pointee.fsw &= ~0x3800

        // ---- shifts ----------------------------------------------------------------------------
        case .PSRLW, .PSRLD, .PSRLQ, .PSRAW, .PSRAD, .PSLLW, .PSLLD, .PSLLQ, .PSRLDQ, .PSLLDQ:
            if d.op1.kind == .I {
                // Immediate form: the register is ModRM.rm.
                let a = mmx ? V128(lo: getM(d.rm)) : getX(d.rm)
                let r = vecShift(op, a, d.imm & 0xFF)
                if mmx { setM(d.rm, r.lo) } else { setX(d.rm, r) }
            } else {
                let a = dstGet(d, mmx: mmx)
                let b = try srcFull(d, ea, mmx: mmx)
                dstSet(d, mmx: mmx, vecShift(op, a, b.lo))
            }

        // ---- shuffles, inserts, extracts ----------------------------------------------------------
        case .PSHUFW:
            let b = try srcFull(d, ea, mmx: true)
            var r = V128()
            let imm = Int(d.imm)
            for i in 0..<4 { r.w[i] = b.w[(imm >> (2 * i)) & 3] }
            setM(d.reg, r.lo)
        case .PSHUFD:
            let b = try srcFull(d, ea, mmx: false)
            var r = V128()
            let imm = Int(d.imm)
            for i in 0..<4 { r.d[i] = b.d[(imm >> (2 * i)) & 3] }
            setX(d.reg, r)
        case .PSHUFHW, .PSHUFLW:
            let b = try srcFull(d, ea, mmx: false)
            var r = b
            let imm = Int(d.imm)
            let o = op == .PSHUFHW ? 4 : 0
            for i in 0..<4 { r.w[o + i] = b.w[o + ((imm >> (2 * i)) & 3)] }
            setX(d.reg, r)
        case .PINSRW:
            let v = try readOp(d.op1, d, 2, ea)
            var r = dstGet(d, mmx: mmx)
            r.w[Int(d.imm) & (mmx ? 3 : 7)] = UInt16(truncatingIfNeeded: v)
            dstSet(d, mmx: mmx, r)
        case .PEXTRW:
            if d.opcode == 0x1C5 {
                let a = mmx ? V128(lo: getM(d.rm)) : getX(d.rm)
                writeReg(d.reg, size: 4, rex: d.rex, UInt64(a.w[Int(d.imm) & (mmx ? 3 : 7)]))
            } else {
                // 66 0F3A 15: Ed,Vdq,Ib
                let v = UInt64(getX(d.reg).w[Int(d.imm) & 7])
                if d.isMem { try vwrite(d, ea, 2, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
            }
        case .PEXTRB:
            let v = UInt64(getX(d.reg)[Int(d.imm) & 15])
            if d.isMem { try vwrite(d, ea, 1, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
        case .PEXTRD, .EXTRACTPS:
            let x = getX(d.reg)
            if op == .PEXTRD && d.rexW {
                try writeOp(d.op0, d, 8, ea, x.q[Int(d.imm) & 1])
            } else {
                let v = UInt64(x.d[Int(d.imm) & 3])
                if d.isMem { try vwrite(d, ea, 4, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
            }
        case .PINSRB:
            let v = d.isMem ? try vread(d, ea, 1) : readReg(d.rm, size: 4, rex: d.rex)
            var r = getX(d.reg)
            r[Int(d.imm) & 15] = UInt8(truncatingIfNeeded: v)
            setX(d.reg, r)
        case .PINSRD:
            var r = getX(d.reg)
            if d.rexW { r.q[Int(d.imm) & 1] = try readOp(d.op1, d, 8, ea) }
            else { r.d[Int(d.imm) & 3] = UInt32(truncatingIfNeeded: try readOp(d.op1, d, 4, ea)) }
            setX(d.reg, r)
        case .INSERTPS:
            let imm = Int(d.imm)
            let v: UInt32 = d.isMem ? UInt32(try vread(d, ea, 4)) : getX(d.rm).d[(imm >> 6) & 3]
            var r = getX(d.reg)
            r.d[(imm >> 4) & 3] = v
            for i in 0..<4 where imm & (1 << i) != 0 { r.d[i] = 0 }
            setX(d.reg, r)
        case .SHUFPS:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let imm = Int(d.imm)
            var r = V128()
            r.d = SIMD4<UInt32>(a.d[imm & 3], a.d[(imm >> 2) & 3], b.d[(imm >> 4) & 3], b.d[(imm >> 6) & 3])
            setX(d.reg, r)
        case .SHUFPD:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let imm = Int(d.imm)
            setX(d.reg, V128(lo: a.q[imm & 1], hi: b.q[(imm >> 1) & 1]))
        case .PALIGNR:
            let a = dstGet(d, mmx: mmx)
            let b = try srcFull(d, ea, mmx: mmx)
            dstSet(d, mmx: mmx, vecAlignr(a, b, Int(d.imm & 0xFF), w))
        case .PBLENDVB, .BLENDVPS, .BLENDVPD:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let m = getX(0)
            var r = a
            switch op {
            case .PBLENDVB: r = a.replacing(with: b, where: m.sb .< 0)
            case .BLENDVPS: r.d = a.d.replacing(with: b.d, where: m.sd .< 0)
            default: r.q = a.q.replacing(with: b.q, where: m.sq .< 0)
            }
            setX(d.reg, r)
        case .BLENDPS, .BLENDPD, .PBLENDW:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let imm = Int(d.imm)
            var r = a
            switch op {
            case .BLENDPS: for i in 0..<4 where imm & (1 << i) != 0 { r.d[i] = b.d[i] }
            case .BLENDPD: for i in 0..<2 where imm & (1 << i) != 0 { r.q[i] = b.q[i] }
            default: for i in 0..<8 where imm & (1 << i) != 0 { r.w[i] = b.w[i] }
            }
            setX(d.reg, r)
        case .PTEST:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let z = (a & b) == V128()
            let c = (~a & b) == V128()
            setFlags((z ? FlagBit.ZF : 0) | (c ? FlagBit.CF : 0), mask: FlagBit.status)
        case .PMOVSXBW, .PMOVSXBD, .PMOVSXBQ, .PMOVSXWD, .PMOVSXWQ, .PMOVSXDQ,
             .PMOVZXBW, .PMOVZXBD, .PMOVZXBQ, .PMOVZXWD, .PMOVZXWQ, .PMOVZXDQ:
            let b = try srcLow(d, ea, pmovxSize(op))
            setX(d.reg, vecPmovx(op, b))
        case .PHMINPOSUW:
            let b = try srcFull(d, ea, mmx: false)
            var mi = b.w[0], idx = 0
            for i in 1..<8 where b.w[i] < mi { mi = b.w[i]; idx = i }
            setX(d.reg, V128(lo: UInt64(mi) | UInt64(idx) << 16))
        case .MPSADBW:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            setX(d.reg, vecMpsadbw(a, b, Int(d.imm)))

        // ---- two-operand integer operations -----------------------------------------------------
        case _ where op.isTwoSourceIntegerLane, .PABSB, .PABSW, .PABSD:
            let a = dstGet(d, mmx: mmx)
            let b: V128
            if mmx && d.isMem && (op == .PUNPCKLBW || op == .PUNPCKLWD || op == .PUNPCKLDQ) {
                b = V128(lo: try vread(d, ea, 4))
            } else {
                b = try srcFull(d, ea, mmx: mmx)
            }
            guard let r = vecIntBinary(op, a, b, w) else { throw Fault.undefined }
            dstSet(d, mmx: mmx, r)

        case .CRC32, .PCMPESTRI, .PCMPESTRM, .PCMPISTRI, .PCMPISTRM, .PCLMULQDQ,
             .AESENC, .AESENCLAST, .AESDEC, .AESDECLAST, .AESIMC, .AESKEYGENASSIST,
             .SHA1RNDS4, .SHA1NEXTE, .SHA1MSG1, .SHA1MSG2, .SHA256RNDS2, .SHA256MSG1, .SHA256MSG2:
            try execVectorMisc(op, &d, ea)
        case .none:
            throw Fault.undefined
        default:
            try execSSEFloat(op, &d, ea)
        }
    }
}

/// Replaces the low `size` bytes of `a` by those of `b`.
@inline(__always) func mergeLow(_ a: V128, _ b: V128, _ size: UInt8) -> V128 {
    var r = a
    if size == 8 { r.lo = b.lo } else { r.d[0] = b.d[0] }
    return r
}
