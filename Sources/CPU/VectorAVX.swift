import CPUState

// VEX-encoded vector instructions: AVX (VEX.128/256 forms of the SSE instructions and the new
// AVX ones), AVX2, FMA3 and F16C.
//
// Registers are YMM0-15 (`CPUState.ymm`, 32 bytes each; XMM i is the low half). A VEX.128 form
// clears bits 255:128 of its destination register, a VEX.256 form writes all 256; legacy SSE forms
// leave bits 255:128 alone. VEX forms take their first source from VEX.vvvv (operand H) and never
// check the alignment of memory operands except the aligned moves.
//
// Most 256-bit forms work on each 128-bit lane separately and reuse the SSE lane functions
// (`vecIntBinary`, `vecShift`, the host FP windows); cross-lane forms are handled on their own.
// FP forms with two 128-bit lanes compute both lanes first and commit the MXCSR flags once.

extension CPU {
    // MARK: register file

    @inline(__always) func getHi(_ i: UInt8) -> V128 { UnsafeRawPointer(xmmPtr(i) + 16).loadUnaligned(as: V128.self) }
    @inline(__always) func setHi(_ i: UInt8, _ v: V128) { (xmmPtr(i) + 16).storeBytes(of: v, as: V128.self) }

    /// Writes a VEX destination register: both halves, or the low half with bits 255:128 cleared.
    @inline(__always) func setY(_ i: UInt8, _ lo: V128, _ hi: V128, _ l256: Bool) {
        setX(i, lo)
        setHi(i, l256 ? hi : V128())
    }

    @inline(__always) func avxCheck() throws(Fault) {
        if realMode || v86 { throw Fault.undefined }
        if s.pointee.cr4 & CR4Bit.OSXSAVE == 0 || s.pointee.xcr0 & 6 != 6 { throw Fault.undefined }
        if s.pointee.cr0 & 8 != 0 { throw Fault(vector: Fault.NM) }
    }

    /// `size`-aligned check of a VEX aligned move (#GP(0)).
    @inline(__always) func misaligned(_ seg: UInt8, _ ea: UInt64, _ size: UInt64) -> Bool {
        let base = seg >= 4 || s.pointee.mode & UInt32(MODE_CS64) == 0 ? sreg[Int(seg)].base : 0
        return (base &+ ea) & (size - 1) != 0
    }

    /// The W/U operand, 16 or 32 bytes.
    @inline(__always) func vexSrc(_ d: Instr, _ ea: UInt64, _ l256: Bool, aligned: Bool = false) throws(Fault) -> (V128, V128) {
        if !d.isMem { return (getX(d.rm), l256 ? getHi(d.rm) : V128()) }
        if aligned && misaligned(d.seg, ea, l256 ? 32 : 16) { throw Fault.gp(0) }
        if !l256 { return (try read16(d.seg, ea, aligned: false), V128()) }
        // 32 bytes: the whole operand is checked before anything is used.
        _ = try linear(seg: d.seg, off: ea, size: 32, write: false)
        let lo = try read16(d.seg, ea, aligned: false)
        let hi = try read16(d.seg, ea &+ 16, aligned: false)
        return (lo, hi)
    }

    /// A W operand of which only the low `size` bytes are used (memory: exactly `size` bytes).
    @inline(__always) func vexSrcLow(_ d: Instr, _ ea: UInt64, _ size: UInt8) throws(Fault) -> V128 {
        if !d.isMem { return getX(d.rm) }
        if size == 16 { return try read16(d.seg, ea, aligned: false) }
        return V128(lo: try vread(d, ea, size))
    }

    /// Stores 16 or 32 bytes (checked as a whole first).
    @inline(__always) func vexStore(_ d: Instr, _ ea: UInt64, _ lo: V128, _ hi: V128, _ l256: Bool, aligned: Bool) throws(Fault) {
        if aligned && misaligned(d.seg, ea, l256 ? 32 : 16) { throw Fault.gp(0) }
        if !l256 { try write16(d.seg, ea, lo, aligned: false); return }
        let lin = try linear(seg: d.seg, off: ea, size: 32, write: true)
        try probeWrite(lin, size: 32, user: userAccess)
        try write16(d.seg, ea, lo, aligned: false)
        try write16(d.seg, ea &+ 16, hi, aligned: false)
    }

    // MARK: dispatch

    /// Forms whose VEX.256 encoding is AVX2 (integer lanes, broadcasts from a register);
    /// #UD when only AVX is advertised.
    static let avx2When256: Set<VOp> = [
        .PADDB, .PADDW, .PADDD, .PADDQ, .PADDSB, .PADDSW, .PADDUSB, .PADDUSW,
        .PSUBB, .PSUBW, .PSUBD, .PSUBQ, .PSUBSB, .PSUBSW, .PSUBUSB, .PSUBUSW,
        .PMULLW, .PMULHW, .PMULHUW, .PMULUDQ, .PMADDWD, .PMULDQ, .PMULLD, .PMULHRSW, .PMADDUBSW,
        .PAND, .PANDN, .POR, .PXOR, .PCMPEQB, .PCMPEQW, .PCMPEQD, .PCMPEQQ,
        .PCMPGTB, .PCMPGTW, .PCMPGTD, .PCMPGTQ, .PACKSSWB, .PACKSSDW, .PACKUSWB, .PACKUSDW,
        .PUNPCKLBW, .PUNPCKLWD, .PUNPCKLDQ, .PUNPCKLQDQ, .PUNPCKHBW, .PUNPCKHWD, .PUNPCKHDQ, .PUNPCKHQDQ,
        .PAVGB, .PAVGW, .PMINUB, .PMAXUB, .PMINSW, .PMAXSW, .PSADBW,
        .PMINSB, .PMINSD, .PMINUW, .PMINUD, .PMAXSB, .PMAXSD, .PMAXUW, .PMAXUD,
        .PSHUFB, .PHADDW, .PHADDD, .PHADDSW, .PHSUBW, .PHSUBD, .PHSUBSW, .PSIGNB, .PSIGNW, .PSIGND,
        .PABSB, .PABSW, .PABSD, .PSRLW, .PSRLD, .PSRLQ, .PSRAW, .PSRAD, .PSLLW, .PSLLD, .PSLLQ, .PSRLDQ, .PSLLDQ,
        .PSHUFD, .PSHUFHW, .PSHUFLW, .PALIGNR, .PBLENDW, .MPSADBW, .PBLENDVB, .PMOVMSKB, .MOVNTDQA,
        .PMOVSXBW, .PMOVSXBD, .PMOVSXBQ, .PMOVSXWD, .PMOVSXWQ, .PMOVSXDQ,
        .PMOVZXBW, .PMOVZXBD, .PMOVZXBQ, .PMOVZXWD, .PMOVZXWQ, .PMOVZXDQ,
    ]

    func execAVX(_ op: VOp, _ d: inout Instr, _ ea: UInt64) throws(Fault) {
        try avxCheck()
        let l256 = d.vexL != 0
        if l256 && !cpuid.has(.avx2) {
            if CPU.avx2When256.contains(op) { throw Fault.undefined }
            if (op == .VBROADCASTSS || op == .VBROADCASTSD) && !d.isMem { throw Fault.undefined }
        }
        if !d.isMem && (op == .VBROADCASTSS) && !cpuid.has(.avx2) { throw Fault.undefined }
        let h = d.vexV
        switch op {
        // ---- moves ---------------------------------------------------------------------------------
        case .MOVUPS, .MOVUPD, .MOVAPS, .MOVAPD, .MOVDQA, .MOVDQU, .LDDQU, .MOVNTDQA:
            let al = op == .MOVAPS || op == .MOVAPD || op == .MOVDQA || op == .MOVNTDQA
            if d.op0.kind == .W {
                let v = (getX(d.reg), getHi(d.reg))
                if d.isMem { try vexStore(d, ea, v.0, v.1, l256, aligned: al) } else { setY(d.rm, v.0, v.1, l256) }
            } else {
                let v = try vexSrc(d, ea, l256, aligned: al)
                setY(d.reg, v.0, v.1, l256)
            }
        case .MOVNTPS, .MOVNTPD, .MOVNTDQ:
            try vexStore(d, ea, getX(d.reg), getHi(d.reg), l256, aligned: true)
        case .MOVSS, .MOVSD:
            let sz: UInt8 = op == .MOVSS ? 4 : 8
            if d.op0.kind == .W {
                if d.isMem {
                    if h != 0 { throw Fault.undefined }
                    try vwrite(d, ea, sz, getX(d.reg).lo & sizeMask(sz))
                } else {
                    setY(d.rm, mergeLow(getX(h), getX(d.reg), sz), V128(), false)
                }
            } else if d.isMem {
                if h != 0 { throw Fault.undefined }
                setY(d.reg, V128(lo: try vread(d, ea, sz)), V128(), false)
            } else {
                setY(d.reg, mergeLow(getX(h), getX(d.rm), sz), V128(), false)
            }
        case .MOVLPS, .MOVLPD, .MOVHPS, .MOVHPD:
            let high = op == .MOVHPS || op == .MOVHPD
            if d.op0.kind == .M {
                try vwrite(d, ea, 8, high ? getX(d.reg).hi : getX(d.reg).lo)
                break
            }
            var r = getX(h)
            if high { r.hi = d.isMem ? try vread(d, ea, 8) : getX(d.rm).lo }     // register form: VMOVLHPS
            else { r.lo = d.isMem ? try vread(d, ea, 8) : getX(d.rm).hi }        // register form: VMOVHLPS
            setY(d.reg, r, V128(), false)
        case .MOVSLDUP, .MOVSHDUP, .MOVDDUP:
            let (a, b) = op == .MOVDDUP && !l256 ? (try vexSrcLow(d, ea, 8), V128()) : try vexSrc(d, ea, l256)
            setY(d.reg, avxDup(op, a), avxDup(op, b), l256)
        case .MOVD:
            let sz: UInt8 = d.vexW && code64 ? 8 : 4
            if d.op0.kind == .E {
                try writeOp(d.op0, d, sz, ea, getX(d.reg).lo & sizeMask(sz))
            } else {
                setY(d.reg, V128(lo: try readOp(d.op1, d, sz, ea)), V128(), false)
            }
        case .MOVQ:
            if d.op0.kind == .W {
                let v = getX(d.reg).lo
                if d.isMem { try vwrite(d, ea, 8, v) } else { setY(d.rm, V128(lo: v), V128(), false) }
            } else {
                setY(d.reg, V128(lo: d.isMem ? try vread(d, ea, 8) : getX(d.rm).lo), V128(), false)
            }
        case .MOVMSKPS, .MOVMSKPD, .PMOVMSKB:
            let a = getX(d.rm), b = getHi(d.rm)
            var m: UInt64 = 0
            switch op {
            case .MOVMSKPS:
                for i in 0..<4 { m |= UInt64(a.d[i] >> 31) << UInt64(i); if l256 { m |= UInt64(b.d[i] >> 31) << UInt64(i + 4) } }
            case .MOVMSKPD:
                for i in 0..<2 { m |= (a.q[i] >> 63) << UInt64(i); if l256 { m |= (b.q[i] >> 63) << UInt64(i + 2) } }
            default:
                for i in 0..<16 { m |= UInt64(a[i] >> 7) << UInt64(i); if l256 { m |= UInt64(b[i] >> 7) << UInt64(i + 16) } }
            }
            writeReg(d.reg, size: d.vexW && code64 ? 8 : 4, rex: d.rex, m)
        case .MASKMOVDQU:
            // Same as the legacy form (128 bits, VEX.vvvv unused).
            try execSSE(op, &d, ea, vfSSE | op.rawValue)
        case .VLDMXCSR:
            let v = UInt32(try vread(d, ea, 4))
            if v & ~mxcsrMask != 0 { throw Fault.gp(0) }
            s.pointee.mxcsr = v
        case .VSTMXCSR:
            try vwrite(d, ea, 4, UInt64(s.pointee.mxcsr))
        case .VZEROUPPER:
            let n: UInt8 = code64 ? 16 : 8
            for i in 0..<n {
                if l256 { setX(i, V128()) }
                setHi(i, V128())
            }

        // ---- integer lane operations -------------------------------------------------------------------
        case _ where op.isTwoSourceIntegerLane:
            let b = try vexSrc(d, ea, l256)
            guard let lo = vecIntBinary(op, getX(h), b.0, 16), let hi = vecIntBinary(op, getHi(h), b.1, 16) else {
                throw Fault.undefined
            }
            setY(d.reg, lo, hi, l256)
        case .PABSB, .PABSW, .PABSD:
            let b = try vexSrc(d, ea, l256)
            setY(d.reg, vecIntBinary(op, V128(), b.0, 16)!, vecIntBinary(op, V128(), b.1, 16)!, l256)
        case .PSRLW, .PSRLD, .PSRLQ, .PSRAW, .PSRAD, .PSLLW, .PSLLD, .PSLLQ, .PSRLDQ, .PSLLDQ:
            if d.op2.kind == .I {
                // VEX.vvvv is the destination, ModRM.rm the source.
                let c = d.imm & 0xFF
                setY(h, vecShift(op, getX(d.rm), c), vecShift(op, getHi(d.rm), c), l256)
            } else {
                let c = (try vexSrcLow(d, ea, 16)).lo
                setY(d.reg, vecShift(op, getX(h), c), vecShift(op, getHi(h), c), l256)
            }
        case .VPSLLVD, .VPSRLVD, .VPSRAVD:
            let b = try vexSrc(d, ea, l256)
            setY(d.reg, avxVarShift(op, getX(h), b.0, q: d.vexW), avxVarShift(op, getHi(h), b.1, q: d.vexW), l256)
        case .PSHUFD, .PSHUFHW, .PSHUFLW, .VPERMILPS, .VPERMILPD:
            if op == .VPERMILPS || op == .VPERMILPD, d.op2.kind != .I {
                // Variable form: control in W, data in H.
                let b = try vexSrc(d, ea, l256)
                setY(d.reg, avxPermilVar(op, getX(h), b.0), avxPermilVar(op, getHi(h), b.1), l256)
                break
            }
            let b = try vexSrc(d, ea, l256)
            let imm = Int(d.imm & 0xFF)
            setY(d.reg, avxShuffleImm(op, b.0, imm), avxShuffleImm(op, b.1, op == .VPERMILPD ? imm >> 2 : imm), l256)
        case .SHUFPS, .SHUFPD, .PALIGNR, .PBLENDW, .BLENDPS, .BLENDPD, .MPSADBW, .VPBLENDD:
            let b = try vexSrc(d, ea, l256)
            let imm = Int(d.imm & 0xFF)
            let (imm0, imm1): (Int, Int)
            switch op {
            case .SHUFPD: (imm0, imm1) = (imm, imm >> 2)
            case .BLENDPS: (imm0, imm1) = (imm, imm >> 4)
            case .BLENDPD: (imm0, imm1) = (imm, imm >> 2)
            case .MPSADBW: (imm0, imm1) = (imm, imm >> 3)
            case .VPBLENDD: (imm0, imm1) = (imm, imm >> 4)
            default: (imm0, imm1) = (imm, imm)
            }
            setY(d.reg, avxLaneImm(op, getX(h), b.0, imm0), avxLaneImm(op, getHi(h), b.1, imm1), l256)
        case .PBLENDVB, .BLENDVPS, .BLENDVPD:
            let b = try vexSrc(d, ea, l256)
            let mr = UInt8(d.imm >> 4) & (code64 ? 15 : 7)
            setY(d.reg, avxBlendV(op, getX(h), b.0, getX(mr)), avxBlendV(op, getHi(h), b.1, getHi(mr)), l256)
        case .PMOVSXBW, .PMOVSXBD, .PMOVSXBQ, .PMOVSXWD, .PMOVSXWQ, .PMOVSXDQ,
             .PMOVZXBW, .PMOVZXBD, .PMOVZXBQ, .PMOVZXWD, .PMOVZXWQ, .PMOVZXDQ:
            let n = pmovxSize(op)
            let src = try vexSrcLow(d, ea, l256 ? n * 2 : n)
            var upper = V128()
            if l256 {
                // The upper result half converts the next n source bytes.
                for i in 0..<Int(16 - n) { upper[i] = src[i + Int(n)] }
            }
            setY(d.reg, vecPmovx(op, src), vecPmovx(op, upper), l256)
        case .PTEST, .VTESTPS, .VTESTPD:
            let b = try vexSrc(d, ea, l256)
            let a = (getX(d.reg), l256 ? getHi(d.reg) : V128())
            var sel = V128()
            switch op {
            case .VTESTPS: sel.d = SIMD4<UInt32>(repeating: 0x8000_0000)
            case .VTESTPD: sel.q = SIMD2<UInt64>(repeating: 1 << 63)
            default: sel = V128(repeating: 0xFF)
            }
            let z = ((a.0 & b.0 & sel) | (a.1 & b.1 & sel)) == V128()
            let c = ((~a.0 & b.0 & sel) | (~a.1 & b.1 & sel)) == V128()
            setFlags((z ? FlagBit.ZF : 0) | (c ? FlagBit.CF : 0), mask: FlagBit.status)
        case .PINSRW, .PINSRB, .PINSRD, .INSERTPS:
            var r = getX(h)
            let imm = Int(d.imm & 0xFF)
            switch op {
            case .PINSRW: r.w[imm & 7] = UInt16(truncatingIfNeeded: try readOp(d.op2, d, 2, ea))
            case .PINSRB:
                r[imm & 15] = UInt8(truncatingIfNeeded: d.isMem ? try vread(d, ea, 1) : readReg(d.rm, size: 4, rex: d.rex))
            case .PINSRD:
                if d.vexW && code64 { r.q[imm & 1] = try readOp(d.op2, d, 8, ea) }
                else { r.d[imm & 3] = UInt32(truncatingIfNeeded: try readOp(d.op2, d, 4, ea)) }
            default:
                let v: UInt32 = d.isMem ? UInt32(try vread(d, ea, 4)) : getX(d.rm).d[(imm >> 6) & 3]
                r.d[(imm >> 4) & 3] = v
                for i in 0..<4 where imm & (1 << i) != 0 { r.d[i] = 0 }
            }
            setY(d.reg, r, V128(), false)
        case .PEXTRW, .PEXTRB, .PEXTRD, .EXTRACTPS:
            let imm = Int(d.imm & 0xFF)
            if d.opcode == 0x1C5 {
                writeReg(d.reg, size: 4, rex: d.rex, UInt64(getX(d.rm).w[imm & 7]))
                break
            }
            let x = getX(d.reg)
            switch op {
            case .PEXTRB:
                let v = UInt64(x[imm & 15])
                if d.isMem { try vwrite(d, ea, 1, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
            case .PEXTRW:
                let v = UInt64(x.w[imm & 7])
                if d.isMem { try vwrite(d, ea, 2, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
            default:
                if op == .PEXTRD && d.vexW && code64 { try writeOp(d.op0, d, 8, ea, x.q[imm & 1]); break }
                let v = UInt64(x.d[imm & 3])
                if d.isMem { try vwrite(d, ea, 4, v) } else { writeReg(d.rm, size: 4, rex: d.rex, v) }
            }
        case .PHMINPOSUW:
            let b = try vexSrcLow(d, ea, 16)
            var mi = b.w[0], idx = 0
            for i in 1..<8 where b.w[i] < mi { mi = b.w[i]; idx = i }
            setY(d.reg, V128(lo: UInt64(mi) | UInt64(idx) << 16), V128(), false)

        // ---- broadcasts, inserts, permutes (cross-lane) ----------------------------------------------------
        case .VBROADCASTSS, .VBROADCASTSD, .VBROADCASTF128, .VBROADCASTI128,
             .VPBROADCASTB, .VPBROADCASTW, .VPBROADCASTD, .VPBROADCASTQ:
            let n: UInt8
            switch op {
            case .VPBROADCASTB: n = 1
            case .VPBROADCASTW: n = 2
            case .VBROADCASTSS, .VPBROADCASTD: n = 4
            case .VBROADCASTSD, .VPBROADCASTQ: n = 8
            default: n = 16
            }
            let s = try vexSrcLow(d, ea, n)
            var r = V128()
            switch n {
            case 1: r = V128(repeating: s[0])
            case 2: r.w = SIMD8<UInt16>(repeating: s.w[0])
            case 4: r.d = SIMD4<UInt32>(repeating: s.d[0])
            case 8: r.q = SIMD2<UInt64>(repeating: s.q[0])
            default: r = s
            }
            setY(d.reg, r, r, l256)
        case .VINSERTF128, .VINSERTI128:
            let b = try vexSrcLow(d, ea, 16)
            var lo = getX(h), hi = getHi(h)
            if d.imm & 1 == 0 { lo = b } else { hi = b }
            setY(d.reg, lo, hi, true)
        case .VEXTRACTF128, .VEXTRACTI128:
            let v = d.imm & 1 == 0 ? getX(d.reg) : getHi(d.reg)
            if d.isMem { try write16(d.seg, ea, v, aligned: false) } else { setY(d.rm, v, V128(), false) }
        case .VPERM2F128, .VPERM2I128:
            let b = try vexSrc(d, ea, true)
            let a = (getX(h), getHi(h))
            let imm = Int(d.imm & 0xFF)
            @inline(__always) func pick(_ c: Int) -> V128 {
                if c & 8 != 0 { return V128() }
                switch c & 3 { case 0: return a.0; case 1: return a.1; case 2: return b.0; default: return b.1 }
            }
            setY(d.reg, pick(imm), pick(imm >> 4), true)
        case .VPERMD, .VPERMPS:
            let b = try vexSrc(d, ea, true)
            let idx = (getX(h), getHi(h))
            var lo = V128(), hi = V128()
            for i in 0..<8 {
                let k = Int((i < 4 ? idx.0.d[i] : idx.1.d[i - 4]) & 7)
                let v = k < 4 ? b.0.d[k] : b.1.d[k - 4]
                if i < 4 { lo.d[i] = v } else { hi.d[i - 4] = v }
            }
            setY(d.reg, lo, hi, true)
        case .VPERMQ, .VPERMPD:
            let b = try vexSrc(d, ea, true)
            let imm = Int(d.imm & 0xFF)
            @inline(__always) func q(_ k: Int) -> UInt64 { k & 2 == 0 ? b.0.q[k & 1] : b.1.q[k & 1] }
            setY(d.reg, V128(lo: q(imm), hi: q(imm >> 2)), V128(lo: q(imm >> 4), hi: q(imm >> 6)), true)
        case .VMASKMOVPS, .VMASKMOVPD, .VPMASKMOVD:
            try avxMaskMov(op, &d, ea, l256)
        case .VPGATHERDD, .VPGATHERQD, .VGATHERDPS, .VGATHERQPS:
            try avxGather(op, d, l256)

        // ---- crypto and strings (128-bit) --------------------------------------------------------------------
        case .AESENC, .AESENCLAST, .AESDEC, .AESDECLAST:
            let key = try vexSrcLow(d, ea, 16)
            let inv = op == .AESDEC || op == .AESDECLAST
            var t = aesSub(aesShiftRows(getX(h), inverse: inv), inverse: inv)
            if op == .AESENC || op == .AESDEC { t = aesMix(t, inverse: inv) }
            setY(d.reg, t ^ key, V128(), false)
        case .AESIMC:
            setY(d.reg, aesMix(try vexSrcLow(d, ea, 16), inverse: true), V128(), false)
        case .AESKEYGENASSIST:
            let b = try vexSrcLow(d, ea, 16)
            let rcon = UInt32(d.imm & 0xFF)
            let x1 = aesSubWord(b.d[1]), x3 = aesSubWord(b.d[3])
            var r = V128()
            r.d = SIMD4<UInt32>(x1, ((x1 >> 8) | (x1 << 24)) ^ rcon, x3, ((x3 >> 8) | (x3 << 24)) ^ rcon)
            setY(d.reg, r, V128(), false)
        case .PCMPESTRI, .PCMPESTRM, .PCMPISTRI, .PCMPISTRM:
            // Same as the legacy forms (memory operands never need alignment); the mask forms write
            // XMM0 as a VEX.128 destination (bits 255:128 cleared).
            try execVectorMisc(op, &d, ea)
            if op == .PCMPESTRM || op == .PCMPISTRM { setHi(0, V128()) }
        case .PCLMULQDQ:
            let a = getX(h)
            let b = try vexSrcLow(d, ea, 16)
            let imm = Int(d.imm)
            let r = clmul(a.q[imm & 1], b.q[(imm >> 4) & 1])
            setY(d.reg, V128(lo: r.lo, hi: r.hi), V128(), false)

        // ---- floating point ---------------------------------------------------------------------------
        default:
            try execAVXFloat(op, &d, ea, l256)
        }
    }

    /// VPGATHERDD/DQ/QD/QQ, VGATHERDPS/DPD/QPS/QPD. Elements are loaded in order; each one
    /// loaded clears its mask element, so a fault leaves a restartable state. On completion the
    /// whole mask register is zero; bits above the result width are cleared.
    func avxGather(_ op: VOp, _ d: Instr, _ l256: Bool) throws(Fault) {
        // VSIB needs a SIB byte and 32/64-bit addressing; dest, index and mask must differ.
        if d.addrSize == 2 || d.modrm & 7 != 4 { throw Fault.undefined }
        let xi: UInt8 = d.index == regNone ? 4 : d.index
        let dst = d.reg, msk = d.vexV
        if dst == xi || dst == msk || xi == msk { throw Fault.undefined }
        let qIdx = op == .VPGATHERQD || op == .VGATHERQPS
        let qElem = d.vexW
        let es = qElem ? 8 : 4
        let n = qIdx || qElem ? (l256 ? 4 : 2) : (l256 ? 8 : 4)
        // Bytes of the destination / mask the result covers.
        let width = n * es
        var nd = d
        nd.index = regNone
        let base = effectiveAddress(nd)
        func lane(_ r: UInt8) -> [UInt8] {
            let p = UnsafeRawPointer(xmmPtr(r))
            return (0..<32).map { p.load(fromByteOffset: $0, as: UInt8.self) }
        }
        func store(_ r: UInt8, _ v: [UInt8]) {
            let p = UnsafeMutableRawPointer(xmmPtr(r))
            for i in 0..<32 { p.storeBytes(of: v[i], toByteOffset: i, as: UInt8.self) }
        }
        func get(_ v: [UInt8], _ off: Int, _ size: Int) -> UInt64 {
            var x: UInt64 = 0
            for i in 0..<size { x |= UInt64(v[off + i]) << UInt64(8 * i) }
            return x
        }
        func put(_ v: inout [UInt8], _ off: Int, _ size: Int, _ x: UInt64) {
            for i in 0..<size { v[off + i] = UInt8(truncatingIfNeeded: x >> UInt64(8 * i)) }
        }
        let idx = lane(xi)
        var dv = lane(dst), mv = lane(msk)
        var loaded = false
        for j in 0..<n {
            if mv[j * es + es - 1] & 0x80 == 0 { continue }
            let iv = qIdx ? get(idx, 8 * j, 8) : UInt64(bitPattern: Int64(Int32(bitPattern: UInt32(get(idx, 4 * j, 4)))))
            var a = base &+ (iv << UInt64(d.scale))
            if d.addrSize == 4 { a &= 0xFFFF_FFFF }
            let v: UInt64
            do throws(Fault) {
                let lin = try linear(seg: d.seg, off: a, size: UInt8(es), write: false)
                v = try readLinear(wrapLinear(lin), size: es, user: userAccess)
            } catch {
                // The mask elements (over the vector length, even where the result is narrower)
                // read as all ones or zeros, bits above VL cleared; elements already loaded stay
                // in the destination (written as a VEX destination once one has).
                let vl = l256 ? 32 : 16
                for k in 0..<(vl / es) {
                    let on = mv[k * es + es - 1] & 0x80 != 0
                    for b in 0..<es { mv[k * es + b] = on ? 0xFF : 0 }
                }
                for i in vl..<32 { mv[i] = 0 }
                if loaded { for i in vl..<32 { dv[i] = 0 } }
                store(dst, dv); store(msk, mv)
                throw error
            }
            put(&dv, j * es, es, v)
            put(&mv, j * es, es, 0)
            loaded = true
        }
        for i in width..<32 { dv[i] = 0 }
        for i in 0..<32 { mv[i] = 0 }
        store(dst, dv); store(msk, mv)
    }

    /// VMASKMOVPS/PD, VPMASKMOVD/Q. Unselected elements are not accessed at all (no #GP for a
    /// non-canonical address, no #PF).
    func avxMaskMov(_ op: VOp, _ d: inout Instr, _ ea: UInt64, _ l256: Bool) throws(Fault) {
        let q = op == .VMASKMOVPD || (op == .VPMASKMOVD && d.vexW)
        let es = q ? 8 : 4
        let n = (l256 ? 32 : 16) / es
        let m = (getX(d.vexV), getHi(d.vexV))
        @inline(__always) func sel(_ i: Int) -> Bool {
            let v = i * es < 16 ? m.0 : m.1
            let k = (i * es) & 15
            return v[k + es - 1] & 0x80 != 0
        }
        let store = d.op0.kind == .M
        let segBase = d.seg >= 4 || s.pointee.mode & UInt32(MODE_CS64) == 0 ? sreg[Int(d.seg)].base : 0
        let first = segBase &+ ea
        func off(_ i: Int) -> UInt64 {
            let o = ea &+ UInt64(i * es)
            return d.addrSize == 4 ? o & 0xFFFF_FFFF : (d.addrSize == 2 ? o & 0xFFFF : o)
        }
        // Stores: a fault on the page of the first selected element reports that element, one
        // on a later page the last byte of the last selected element. Loads report the natural
        // address.
        let firstSel = (0..<n).first(where: sel) ?? 0, lastSel = (0..<n).last(where: sel) ?? 0
        func fixCR2(_ f: Fault) -> Fault {
            if f.vector == Fault.PF && store {
                let lo = first &+ UInt64(firstSel * es)
                if s.pointee.cr2 & ~0xFFF != lo & ~0xFFF { s.pointee.cr2 = first &+ UInt64(lastSel * es + es - 1) }
            }
            return f
        }
        var lins = [UInt64](repeating: 0, count: n)
        for i in 0..<n where sel(i) {
            lins[i] = try linear(seg: d.seg, off: off(i), size: UInt8(es), write: store)
        }
        if store {
            let v = (getX(d.reg), getHi(d.reg))
            do throws(Fault) {
                for i in 0..<n where sel(i) { try probeWrite(wrapLinear(lins[i]), size: es, user: userAccess) }
            } catch { throw fixCR2(error) }
            for i in 0..<n where sel(i) {
                let src = i * es < 16 ? v.0 : v.1
                let k = (i * es) & 15
                let val = es == 8 ? src.q[k / 8] : UInt64(src.d[k / 4])
                try writeLinear(wrapLinear(lins[i]), size: es, user: userAccess, val)
            }
        } else {
            var lo = V128(), hi = V128()
            for i in 0..<n where sel(i) {
                let val: UInt64
                do throws(Fault) { val = try readLinear(wrapLinear(lins[i]), size: es, user: userAccess) } catch { throw fixCR2(error) }
                let k = (i * es) & 15
                if i * es < 16 {
                    if es == 8 { lo.q[k / 8] = val } else { lo.d[k / 4] = UInt32(truncatingIfNeeded: val) }
                } else if es == 8 { hi.q[k / 8] = val } else { hi.d[k / 4] = UInt32(truncatingIfNeeded: val) }
            }
            setY(d.reg, lo, hi, l256)
        }
    }
}

// MARK: lane helpers

@inline(__always) func avxDup(_ op: VOp, _ s: V128) -> V128 {
    switch op {
    case .MOVDDUP: return V128(lo: s.lo, hi: s.lo)
    default:
        let o = op == .MOVSHDUP ? 1 : 0
        var r = V128()
        r.d = SIMD4<UInt32>(s.d[o], s.d[o], s.d[2 + o], s.d[2 + o])
        return r
    }
}

/// PSHUFD/HW/LW and VPERMILPS/PD with an immediate, one 128-bit lane.
@inline(__always) func avxShuffleImm(_ op: VOp, _ b: V128, _ imm: Int) -> V128 {
    var r = b
    switch op {
    case .PSHUFD, .VPERMILPS:
        for i in 0..<4 { r.d[i] = b.d[(imm >> (2 * i)) & 3] }
    case .PSHUFHW:
        for i in 0..<4 { r.w[4 + i] = b.w[4 + ((imm >> (2 * i)) & 3)] }
    case .PSHUFLW:
        for i in 0..<4 { r.w[i] = b.w[(imm >> (2 * i)) & 3] }
    default: // VPERMILPD
        for i in 0..<2 { r.q[i] = b.q[(imm >> i) & 1] }
    }
    return r
}

@inline(__always) func avxPermilVar(_ op: VOp, _ a: V128, _ c: V128) -> V128 {
    var r = V128()
    if op == .VPERMILPS {
        for i in 0..<4 { r.d[i] = a.d[Int(c.d[i] & 3)] }
    } else {
        for i in 0..<2 { r.q[i] = a.q[Int((c.q[i] >> 1) & 1)] }
    }
    return r
}

/// Two-source operations with an immediate, one 128-bit lane.
@inline(__always) func avxLaneImm(_ op: VOp, _ a: V128, _ b: V128, _ imm: Int) -> V128 {
    var r = a
    switch op {
    case .SHUFPS:
        r.d = SIMD4<UInt32>(a.d[imm & 3], a.d[(imm >> 2) & 3], b.d[(imm >> 4) & 3], b.d[(imm >> 6) & 3])
    case .SHUFPD:
        r = V128(lo: a.q[imm & 1], hi: b.q[(imm >> 1) & 1])
    case .PALIGNR:
        r = vecAlignr(a, b, imm & 0xFF, 16)
    case .PBLENDW:
        for i in 0..<8 where imm & (1 << i) != 0 { r.w[i] = b.w[i] }
    case .BLENDPS, .VPBLENDD:
        for i in 0..<4 where imm & (1 << i) != 0 { r.d[i] = b.d[i] }
    case .BLENDPD:
        for i in 0..<2 where imm & (1 << i) != 0 { r.q[i] = b.q[i] }
    default: // MPSADBW
        r = vecMpsadbw(a, b, imm & 7)
    }
    return r
}

@inline(__always) func avxBlendV(_ op: VOp, _ a: V128, _ b: V128, _ m: V128) -> V128 {
    var r = a
    switch op {
    case .PBLENDVB: r = a.replacing(with: b, where: m.sb .< 0)
    case .BLENDVPS: r.d = a.d.replacing(with: b.d, where: m.sd .< 0)
    default: r.q = a.q.replacing(with: b.q, where: m.sq .< 0)
    }
    return r
}

/// VPSLLVD/Q, VPSRLVD/Q, VPSRAVD: per-element counts (too large: zero, or the sign).
@inline(__always) func avxVarShift(_ op: VOp, _ a: V128, _ c: V128, q: Bool) -> V128 {
    var r = V128()
    if q && op != .VPSRAVD {
        for i in 0..<2 {
            let n = c.q[i]
            r.q[i] = n > 63 ? 0 : (op == .VPSLLVD ? a.q[i] << n : a.q[i] >> n)
        }
    } else {
        for i in 0..<4 {
            let n = c.d[i]
            switch op {
            case .VPSLLVD: r.d[i] = n > 31 ? 0 : a.d[i] << n
            case .VPSRLVD: r.d[i] = n > 31 ? 0 : a.d[i] >> n
            default: r.sd[i] = a.sd[i] >> Int32(min(n, 31))
            }
        }
    }
    return r
}
