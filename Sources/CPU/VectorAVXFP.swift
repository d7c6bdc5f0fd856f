import CPUState

// Floating point of the VEX forms (AVX), FMA3 and F16C. The arithmetic runs in the same host
// windows as SSE (VectorFP.swift); 256-bit forms compute both 128-bit lanes and commit the MXCSR
// flags once, so an unmasked exception leaves the destination unchanged and reports every lane.

/// AVX compare predicates 0-31: (relation, result when unordered, signals on QNaN).
@inline(__always) func fpCmp32<T: SSEFloat>(_ a: T, _ b: T, _ imm: Int, _ c: inout FPCtx) -> Bool {
    let p = imm & 15
    // Signalling predicates for imm < 16; bit 4 swaps quiet and signalling.
    var signal = p == 1 || p == 2 || p == 5 || p == 6 || p == 9 || p == 10 || p == 13 || p == 14
    if imm & 16 != 0 { signal.toggle() }
    if a.isNaN || b.isNaN {
        if signal || a.isSignalingNaN || b.isSignalingNaN { c.flags |= mxIE }
        switch p {
        case 3, 4, 5, 6, 8, 9, 10, 15: return true
        default: return false
        }
    }
    let x = fpIn(a, &c), y = fpIn(b, &c)
    switch p {
    case 0, 8: return x == y
    case 1, 9: return x < y
    case 2, 10: return x <= y
    case 3, 11: return false
    case 4, 12: return x != y
    case 5, 13: return !(x < y)
    case 6, 14: return !(x <= y)
    default: return true
    }
}

/// FMA kinds: 0 a*b+c, 1 a*b-c, 2 -(a*b)+c, 3 -(a*b)-c.
@inline(never) func hFMA<T: SSEFloat>(_ a: T, _ b: T, _ c: T) -> T { c.addingProduct(a, b) }

/// One fused multiply-add element. Must run inside an FP window.
@inline(__always) func fpFMA<T: SSEFloat>(_ kind: Int, _ a: T, _ b: T, _ c0: T, _ ctx: inout FPCtx) -> T {
    if a.isNaN || b.isNaN || c0.isNaN {
        if a.isSignalingNaN || b.isSignalingNaN || c0.isSignalingNaN { ctx.flags |= mxIE }
        // The first NaN of the expression a*b+c (132: dst*rm+vvvv, 213: vvvv*dst+rm,
        // 231: vvvv*rm+dst), quieted, sign as given (negation does not apply to NaNs).
        if a.isNaN { return quiet(a) }
        if b.isNaN { return quiet(b) }
        return quiet(c0)
    }
    var t = ctx
    var x = fpIn(a, &t)
    let y = fpIn(b, &t)
    var z = fpIn(c0, &t)
    if kind >= 2 { x = -x }
    if kind & 1 != 0 { z = -z }
    // An invalid operation (inf*0, inf-inf) takes precedence over DE of the same element.
    let pInf = x.isInfinite || y.isInfinite
    let invalid = (x.isInfinite && y.isZero) || (x.isZero && y.isInfinite) ||
                  (pInf && z.isInfinite && (x.sign != y.sign) != (z.sign == .minus))
    if !invalid { ctx.flags = t.flags }
    return fpOut(hFMA(x, y, z), &ctx)
}

/// x*y+z (finite operands, DAZ and negations applied) with an unbounded exponent: is it
/// inexact, and is it tiny (below the smallest normal) after rounding with the unbounded exponent
/// in MXCSR's rounding mode (FMA detects tininess after rounding)? Computed outside any FP window
/// on operands scaled into the normal range.
@inline(never)
func fmaUnbounded<T: SSEFloat>(_ x: T, _ y: T, _ z: T, mxcsr: UInt32 = 0x1F80) -> (inexact: Bool, tiny: Bool) {
    let m = T.significandBitCount
    let far = T.Exponent(2 * m + 6)
    let emin = T.leastNormalMagnitude.exponent
    if x.isZero || y.isZero { return (false, z.isZero || z.exponent < emin) }
    let ep = x.exponent + y.exponent
    let pNeg = x.sign != y.sign
    var xs = T(sign: x.sign, exponent: 0, significand: x.significand)
    var ys = T(sign: y.sign, exponent: 0, significand: y.significand)
    var zs = z
    var e0 = ep
    if !z.isZero {
        let ez = z.exponent
        if ez - ep > far {
            // The product only contributes a sticky bit below z.
            e0 = ez
            zs = T(sign: z.sign, exponent: 0, significand: z.significand)
            xs = T(sign: pNeg ? .minus : .plus, exponent: -far, significand: 1); ys = 1
        } else if ep - ez > far {
            zs = T(sign: z.sign, exponent: -far, significand: 1)
        } else {
            zs = T(sign: z.sign, exponent: ez - ep, significand: z.significand)
        }
    }
    var sc = FPScratch(a: V128(), b: V128(), imm: 0)
    let f = withUnsafeMutablePointer(to: &sc) { p in
        fpWindow(0x1F80 | (mxcsr & 0x6000), p) { p in
            if T.self == Float.self {
                p.pointee.r.ps[0] = hFMA(xs as! Float, ys as! Float, zs as! Float)
            } else {
                p.pointee.r.pd[0] = hFMA(xs as! Double, ys as! Double, zs as! Double)
            }
        }
    }
    let rz: T = T.self == Float.self ? sc.r.ps[0] as! T : sc.r.pd[0] as! T
    return (f & mxPE != 0, rz.isZero || rz.exponent + e0 < emin)
}

extension CPU {
    /// Commits the flags of a (possibly two-lane) host computation.
    @inline(__always) func avxCommit(_ f: UInt32) throws(Fault) { try fpCommit(f) }

    func execAVXFloat(_ op: VOp, _ d: inout Instr, _ ea: UInt64, _ l256: Bool) throws(Fault) {
        let h = d.vexV
        let mx = s.pointee.mxcsr
        switch op {
        case .ADDPS, .SUBPS, .MULPS, .DIVPS, .ADDPD, .SUBPD, .MULPD, .DIVPD,
             .ADDSUBPS, .ADDSUBPD, .HADDPS, .HSUBPS, .HADDPD, .HSUBPD, .CVTDQ2PS:
            let b = try vexSrc(d, ea, l256)
            let (lo, f0) = fpStage(op, getX(h), b.0, imm: 0)
            var hi = V128(), f1: UInt32 = 0
            if l256 { (hi, f1) = fpStage(op, getHi(h), b.1, imm: 0) }
            try avxCommit(f0 | f1)
            setY(d.reg, lo, hi, l256)
        case .SQRTPS, .SQRTPD:
            let b = try vexSrc(d, ea, l256)
            let (lo, f0) = fpStage(op, b.0, b.0, imm: 0)
            var hi = V128(), f1: UInt32 = 0
            if l256 { (hi, f1) = fpStage(op, b.1, b.1, imm: 0) }
            try avxCommit(f0 | f1)
            setY(d.reg, lo, hi, l256)
        case .ADDSS, .SUBSS, .MULSS, .DIVSS, .SQRTSS, .ADDSD, .SUBSD, .MULSD, .DIVSD, .SQRTSD, .CVTSD2SS:
            let sz: UInt8 = op == .ADDSS || op == .SUBSS || op == .MULSS || op == .DIVSS || op == .SQRTSS ? 4 : 8
            let b = try vexSrcLow(d, ea, sz)
            let (r, f) = fpStage(op, getX(h), b, imm: 0)
            try avxCommit(f)
            setY(d.reg, r, V128(), false)
        case .CVTSI2SS, .CVTSI2SD:
            let sz: UInt8 = d.vexW && code64 ? 8 : 4
            let v = try readOp(d.op2, d, sz, ea)
            let (r, f) = fpStage(op, getX(h), V128(lo: v), imm: Int(sz))
            try avxCommit(f)
            setY(d.reg, r, V128(), false)
        case .CVTSS2SD:
            let b = try vexSrcLow(d, ea, 4)
            var c = FPCtx(mx)
            var r = getX(h)
            r.pd[0] = fpWiden(b.ps[0], &c)
            try avxCommit(c.flags)
            setY(d.reg, r, V128(), false)
        case .CVTPD2PS:
            let b = try vexSrc(d, ea, l256)
            let (r0, f0) = fpStage(op, b.0, b.0, imm: 0)
            var r = r0, f1: UInt32 = 0
            if l256 {
                let (r1, g) = fpStage(op, b.1, b.1, imm: 0)
                r.d[2] = r1.d[0]; r.d[3] = r1.d[1]; f1 = g
            }
            try avxCommit(f0 | f1)
            setY(d.reg, r, V128(), false)
        case .CVTPS2PD, .CVTDQ2PD:
            let b = try vexSrcLow(d, ea, l256 ? 16 : 8)
            var c = FPCtx(mx)
            var lo = V128(), hi = V128()
            if op == .CVTPS2PD {
                lo.pd = SIMD2<Double>(fpWiden(b.ps[0], &c), fpWiden(b.ps[1], &c))
                if l256 { hi.pd = SIMD2<Double>(fpWiden(b.ps[2], &c), fpWiden(b.ps[3], &c)) }
            } else {
                lo.pd = SIMD2<Double>(Double(b.sd[0]), Double(b.sd[1]))
                if l256 { hi.pd = SIMD2<Double>(Double(b.sd[2]), Double(b.sd[3])) }
            }
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .CVTPS2DQ, .CVTTPS2DQ:
            let b = try vexSrc(d, ea, l256)
            var c = FPCtx(mx)
            var lo = V128(), hi = V128()
            let t = op == .CVTTPS2DQ
            for i in 0..<4 { lo.d[i] = UInt32(fpToInt(b.0.ps[i], is64: false, trunc: t, &c)) }
            if l256 { for i in 0..<4 { hi.d[i] = UInt32(fpToInt(b.1.ps[i], is64: false, trunc: t, &c)) } }
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .CVTPD2DQ, .CVTTPD2DQ:
            let b = try vexSrc(d, ea, l256)
            var c = FPCtx(mx)
            var r = V128()
            let t = op == .CVTTPD2DQ
            for i in 0..<2 { r.d[i] = UInt32(fpToInt(b.0.pd[i], is64: false, trunc: t, &c)) }
            if l256 { for i in 0..<2 { r.d[2 + i] = UInt32(fpToInt(b.1.pd[i], is64: false, trunc: t, &c)) } }
            try avxCommit(c.flags)
            setY(d.reg, r, V128(), false)
        case .COMISS, .UCOMISS, .COMISD, .UCOMISD, .CVTSS2SI, .CVTTSS2SI, .CVTSD2SI, .CVTTSD2SI:
            // As the legacy forms (no VEX.vvvv, scalar memory operands).
            try execSSEFloat(op, &d, ea)
        case .MINPS, .MAXPS, .MINPD, .MAXPD:
            let b = try vexSrc(d, ea, l256)
            var c = FPCtx(mx)
            let lo = avxMinMax(op, getX(h), b.0, 4, &c)
            let hi = l256 ? avxMinMax(op, getHi(h), b.1, 4, &c) : V128()
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .MINSS, .MAXSS, .MINSD, .MAXSD:
            let dbl = op == .MINSD || op == .MAXSD
            let b = try vexSrcLow(d, ea, dbl ? 8 : 4)
            var c = FPCtx(mx)
            let r = avxMinMax(op, getX(h), b, 1, &c)
            try avxCommit(c.flags)
            setY(d.reg, r, V128(), false)
        case .CMPPS, .CMPPD:
            let b = try vexSrc(d, ea, l256)
            var c = FPCtx(mx)
            let imm = Int(d.imm & 31)
            let lo = avxCmp(op == .CMPPD, getX(h), b.0, imm, 4, &c)
            let hi = l256 ? avxCmp(op == .CMPPD, getHi(h), b.1, imm, 4, &c) : V128()
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .CMPSS, .CMPSD:
            let dbl = op == .CMPSD
            let b = try vexSrcLow(d, ea, dbl ? 8 : 4)
            var c = FPCtx(mx)
            let r = avxCmp(dbl, getX(h), b, Int(d.imm & 31), 1, &c)
            try avxCommit(c.flags)
            setY(d.reg, r, V128(), false)
        case .RCPPS, .RSQRTPS:
            let b = try vexSrc(d, ea, l256)
            var lo = V128(), hi = V128()
            for i in 0..<4 {
                lo.ps[i] = op == .RCPPS ? fpRcp(b.0.ps[i]) : fpRsqrt(b.0.ps[i])
                hi.ps[i] = op == .RCPPS ? fpRcp(b.1.ps[i]) : fpRsqrt(b.1.ps[i])
            }
            setY(d.reg, lo, hi, l256)
        case .RCPSS, .RSQRTSS:
            let b = try vexSrcLow(d, ea, 4)
            var r = getX(h)
            r.ps[0] = op == .RCPSS ? fpRcp(b.ps[0]) : fpRsqrt(b.ps[0])
            setY(d.reg, r, V128(), false)
        case .ROUNDPS, .ROUNDPD:
            let b = try vexSrc(d, ea, l256)
            var c = FPCtx(mx)
            let imm = Int(d.imm)
            var lo = b.0, hi = b.1
            if op == .ROUNDPS {
                for i in 0..<4 { lo.ps[i] = fpRound(b.0.ps[i], imm, &c); if l256 { hi.ps[i] = fpRound(b.1.ps[i], imm, &c) } }
            } else {
                for i in 0..<2 { lo.pd[i] = fpRound(b.0.pd[i], imm, &c); if l256 { hi.pd[i] = fpRound(b.1.pd[i], imm, &c) } }
            }
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .ROUNDSS, .ROUNDSD:
            let b = try vexSrcLow(d, ea, op == .ROUNDSS ? 4 : 8)
            var c = FPCtx(mx)
            var r = getX(h)
            if op == .ROUNDSS { r.ps[0] = fpRound(b.ps[0], Int(d.imm), &c) } else { r.pd[0] = fpRound(b.pd[0], Int(d.imm), &c) }
            try avxCommit(c.flags)
            setY(d.reg, r, V128(), false)
        case .DPPS, .DPPD:
            let b = try vexSrc(d, ea, l256)
            let imm = Int(d.imm & 0xFF)
            let ps = op == .DPPS
            let (p0, g0) = fpStage(ps ? .dppsMul : .dppdMul, getX(h), b.0, imm: imm)
            var p1 = V128(), g1: UInt32 = 0
            if l256 { (p1, g1) = fpStage(.dppsMul, getHi(h), b.1, imm: imm) }
            let f1 = g0 | g1
            if f1 & ~(mx >> 7) & 0x3F != 0 { try fpCommit(f1) }
            let (s0, k0) = fpStage(ps ? .dppsAdd : .dppdAdd, p0, p0, imm: imm)
            var s1 = V128(), k1: UInt32 = 0
            if l256 { (s1, k1) = fpStage(.dppsAdd, p1, p1, imm: imm) }
            let f2 = k0 | k1
            let unmasked = f2 & ~(mx >> 7) & 0x3F
            if unmasked != 0 {
                s.pointee.mxcsr = mx | f1 | (unmasked & 7 != 0 ? f2 & 7 : f2)
                throw s.pointee.cr4 & 0x400 != 0 ? Fault(vector: Fault.XM) : Fault.undefined
            }
            s.pointee.mxcsr = mx | f1 | f2
            setY(d.reg, s0, s1, l256)
        case .VCVTPH2PS:
            let b = try vexSrcLow(d, ea, l256 ? 16 : 8)
            var c = FPCtx(mx)
            var lo = V128(), hi = V128()
            for i in 0..<4 {
                lo.d[i] = halfToFloat(b.w[i], &c)
                if l256 { hi.d[i] = halfToFloat(b.w[4 + i], &c) }
            }
            try avxCommit(c.flags)
            setY(d.reg, lo, hi, l256)
        case .VCVTPS2PH:
            var c = FPCtx(mx)
            let imm = Int(d.imm)
            let rc = imm & 4 != 0 ? Int(mx >> 13) & 3 : imm & 3
            let a = (getX(d.reg), getHi(d.reg))
            var r = V128()
            for i in 0..<4 {
                r.w[i] = floatToHalf(a.0.ps[i], rc, &c, oeUnmasked: mx & 0x400 == 0)
                if l256 { r.w[4 + i] = floatToHalf(a.1.ps[i], rc, &c, oeUnmasked: mx & 0x400 == 0) }
            }
            try avxCommit(c.flags)
            if d.isMem {
                if l256 { try write16(d.seg, ea, r, aligned: false) } else { try vwrite(d, ea, 8, r.lo) }
            } else {
                setY(d.rm, r, V128(), false)
            }
        default:
            if op.rawValue >= VOp.VFMADD132PS.rawValue && op.rawValue <= VOp.VFNMSUB231SS.rawValue {
                try execFMA(op, &d, ea, l256)
                return
            }
            throw Fault.undefined
        }
    }

    // MARK: FMA3

    func execFMA(_ op: VOp, _ d: inout Instr, _ ea: UInt64, _ l256: Bool) throws(Fault) {
        // kind: 0 madd, 1 msub, 2 nmadd, 3 nmsub, 4 maddsub, 5 msubadd; order: 132, 213, 231.
        let (kind, order, scalar) = fmaShape(op)
        let dbl = d.vexW
        let v = (getX(d.reg), getHi(d.reg)), hv = (getX(d.vexV), getHi(d.vexV))
        let w: (V128, V128) = scalar ? (try vexSrcLow(d, ea, dbl ? 8 : 4), V128()) : try vexSrc(d, ea, l256)
        let mx = s.pointee.mxcsr
        var c = FPCtx(mx)
        var sc = FPScratch(a: v.0, b: hv.0, imm: 0)
        var lo = v.0, hi = V128()
        let lanes = scalar ? 1 : (l256 ? 2 : 1)
        var flags: UInt32 = 0
        for lane in 0..<lanes {
            let x = lane == 0 ? v.0 : v.1, y = lane == 0 ? hv.0 : hv.1, z = lane == 0 ? w.0 : w.1
            sc.a = x; sc.b = y; sc.r = z
            let hf = withUnsafeMutablePointer(to: &sc) { p in
                fpWindow(mx, p) { p in fmaLane(kind, order, dbl, scalar, p, &c) }
            }
            flags |= hf
            if lane == 0 { lo = sc.r } else { hi = sc.r }
        }
        var f = c.flags | flags
        if c.ftz || c.ueUnmasked {
            f |= fmaLaneTiny(kind, order, dbl, scalar, v.0, hv.0, w.0, &lo, mxcsr: mx, daz: c.daz, ftz: c.ftz, ueUnmasked: c.ueUnmasked)
            if lanes == 2 { f |= fmaLaneTiny(kind, order, dbl, scalar, v.1, hv.1, w.1, &hi, mxcsr: mx, daz: c.daz, ftz: c.ftz, ueUnmasked: c.ueUnmasked) }
        }
        if f & ~(mx >> 7) & (mxOE | mxUE) != 0 {
            // With overflow/underflow unmasked, PE means inexact with an unbounded exponent.
            var pe = false
            for lane in 0..<lanes {
                let x = lane == 0 ? v.0 : v.1, y = lane == 0 ? hv.0 : hv.1, z = lane == 0 ? w.0 : w.1
                if fmaLanePE(kind, order, dbl, scalar, x, y, z, lane == 0 ? lo : hi, daz: c.daz, oeUnmasked: mx & 0x400 == 0) { pe = true }
            }
            f = (f & ~mxPE) | (pe ? mxPE : 0)
        }
        try fpCommit(f)
        if scalar {
            // The upper elements come from the destination; bits 255:128 cleared.
            var r = v.0
            if dbl { r.q[0] = lo.q[0] } else { r.d[0] = lo.d[0] }
            setY(d.reg, r, V128(), false)
        } else {
            setY(d.reg, lo, hi, l256)
        }
    }
}

/// (kind, order, scalar) of an FMA VOp.
func fmaShape(_ op: VOp) -> (Int, Int, Bool) {
    let i = Int(op.rawValue - VOp.VFMADD132PS.rawValue)
    // Layout of the VOp cases: for each order (132, 213, 231): PS x 6 kinds, then SS x 4 kinds.
    let order = i / 10, k = i % 10
    return k < 6 ? (k, order, false) : (k - 6, order, true)
}

/// One 128-bit lane of an FMA: a = destination, b = VEX.vvvv, r (in) = r/m; result in r.
@inline(never)
func fmaLane(_ kind: Int, _ order: Int, _ dbl: Bool, _ scalar: Bool, _ p: UnsafeMutablePointer<FPScratch>, _ c: inout FPCtx) {
    let d = p.pointee.a, v = p.pointee.b, w = p.pointee.r
    var r = V128()
    @inline(__always) func k(_ i: Int) -> Int {
        switch kind {
        case 4: return i & 1 == 0 ? 1 : 0      // maddsub: even subtract, odd add
        case 5: return i & 1 == 0 ? 0 : 1      // msubadd
        default: return kind
        }
    }
    if dbl {
        let n = scalar ? 1 : 2
        for i in 0..<n {
            let x = d.pd[i], y = v.pd[i], z = w.pd[i]
            switch order {
            case 0: r.pd[i] = fpFMA(k(i), x, z, y, &c)   // 132: d*w + v
            case 1: r.pd[i] = fpFMA(k(i), y, x, z, &c)   // 213: v*d + w
            default: r.pd[i] = fpFMA(k(i), y, z, x, &c)  // 231: v*w + d
            }
        }
    } else {
        let n = scalar ? 1 : 4
        for i in 0..<n {
            let x = d.ps[i], y = v.ps[i], z = w.ps[i]
            switch order {
            case 0: r.ps[i] = fpFMA(k(i), x, z, y, &c)
            case 1: r.ps[i] = fpFMA(k(i), y, x, z, &c)
            default: r.ps[i] = fpFMA(k(i), y, z, x, &c)
            }
        }
    }
    p.pointee.r = r
}

/// The operands x, y, z of x*y+z for one element (order 0: 132, 1: 213, 2: 231; DAZ and the
/// kind's negations applied), or nil when one is a NaN or an infinity.
@inline(__always) func fmaOperands<T: SSEFloat>(_ k: Int, _ order: Int, _ d: T, _ v: T, _ w: T, daz: Bool) -> (T, T, T)? {
    var (x, y, z) = order == 0 ? (d, w, v) : (order == 1 ? (v, d, w) : (v, w, d))
    if !x.isFinite || !y.isFinite || !z.isFinite { return nil }
    if daz {
        if x.isSubnormal { x = T(signOf: x, magnitudeOf: 0) }
        if y.isSubnormal { y = T(signOf: y, magnitudeOf: 0) }
        if z.isSubnormal { z = T(signOf: z, magnitudeOf: 0) }
    }
    if k >= 2 { x = -x }
    if k & 1 != 0 { z = -z }
    return (x, y, z)
}

@inline(__always) func fmaKind(_ kind: Int, _ i: Int) -> Int {
    kind == 4 ? (i & 1 == 0 ? 1 : 0) : (kind == 5 ? (i & 1 == 0 ? 0 : 1) : kind)
}

/// PE of one FMA lane under the unbounded-exponent rule (a = destination, b = VEX.vvvv, c = r/m).
func fmaLanePE(_ kind: Int, _ order: Int, _ dbl: Bool, _ scalar: Bool, _ a: V128, _ b: V128, _ c: V128, _ r: V128,
               daz: Bool, oeUnmasked: Bool) -> Bool {
    func one<T: SSEFloat>(_ k: Int, _ d: T, _ v: T, _ w: T, _ res: T) -> Bool {
        guard let (x, y, z) = fmaOperands(k, order, d, v, w, daz: daz) else { return false }
        if res.isInfinite && !oeUnmasked { return true }
        return fmaUnbounded(x, y, z).inexact
    }
    var pe = false
    if dbl {
        for i in 0..<(scalar ? 1 : 2) where one(fmaKind(kind, i), a.pd[i], b.pd[i], c.pd[i], r.pd[i]) { pe = true }
    } else {
        for i in 0..<(scalar ? 1 : 4) where one(fmaKind(kind, i), a.ps[i], b.ps[i], c.ps[i], r.ps[i]) { pe = true }
    }
    return pe
}

/// Results that rounded up to the smallest normal but are tiny after rounding: flushed to zero
/// with UE|PE under FTZ, UE when UE is unmasked. Returns the flags to add.
func fmaLaneTiny(_ kind: Int, _ order: Int, _ dbl: Bool, _ scalar: Bool, _ a: V128, _ b: V128, _ c: V128, _ r: inout V128,
                 mxcsr: UInt32, daz: Bool, ftz: Bool, ueUnmasked: Bool) -> UInt32 {
    var f: UInt32 = 0
    func one<T: SSEFloat>(_ k: Int, _ d: T, _ v: T, _ w: T, _ res: inout T) {
        guard res.magnitude == T.leastNormalMagnitude, let (x, y, z) = fmaOperands(k, order, d, v, w, daz: daz),
              fmaUnbounded(x, y, z, mxcsr: mxcsr).tiny else { return }
        if ueUnmasked { f |= mxUE } else { f |= mxUE | mxPE; res = T(signOf: res, magnitudeOf: 0) }
    }
    if dbl {
        for i in 0..<(scalar ? 1 : 2) { var t = r.pd[i]; one(fmaKind(kind, i), a.pd[i], b.pd[i], c.pd[i], &t); r.pd[i] = t }
    } else {
        for i in 0..<(scalar ? 1 : 4) { var t = r.ps[i]; one(fmaKind(kind, i), a.ps[i], b.ps[i], c.ps[i], &t); r.ps[i] = t }
    }
    return f
}

/// MIN/MAX on `n` elements (1: scalar, the rest from a).
func avxMinMax(_ op: VOp, _ a: V128, _ b: V128, _ n: Int, _ c: inout FPCtx) -> V128 {
    var r = a
    let mx = op == .MAXPS || op == .MAXPD || op == .MAXSS || op == .MAXSD
    if op == .MINPD || op == .MAXPD || op == .MINSD || op == .MAXSD {
        for i in 0..<(n == 1 ? 1 : 2) { r.pd[i] = fpMinMax(a.pd[i], b.pd[i], max: mx, &c) }
    } else {
        for i in 0..<n { r.ps[i] = fpMinMax(a.ps[i], b.ps[i], max: mx, &c) }
    }
    return r
}

func avxCmp(_ dbl: Bool, _ a: V128, _ b: V128, _ imm: Int, _ n: Int, _ c: inout FPCtx) -> V128 {
    var r = a
    if dbl {
        for i in 0..<(n == 1 ? 1 : 2) { r.q[i] = fpCmp32(a.pd[i], b.pd[i], imm, &c) ? ~0 : 0 }
    } else {
        for i in 0..<n { r.d[i] = fpCmp32(a.ps[i], b.ps[i], imm, &c) ? ~0 : 0 }
    }
    return r
}

// MARK: F16C

/// Half to single precision (exact; a signalling NaN is quieted and raises IE).
func halfToFloat(_ h: UInt16, _ c: inout FPCtx) -> UInt32 {
    let sign = UInt32(h & 0x8000) << 16
    let e = Int(h >> 10) & 31
    var m = UInt32(h & 0x3FF)
    if e == 31 {
        if m == 0 { return sign | 0x7F80_0000 }
        if m & 0x200 == 0 { c.flags |= mxIE }
        return sign | 0x7FC0_0000 | m << 13
    }
    if e == 0 {
        if m == 0 { return sign }
        var ex = -14
        while m & 0x400 == 0 { m <<= 1; ex -= 1 }
        return sign | UInt32(ex + 127) << 23 | (m & 0x3FF) << 13
    }
    return sign | UInt32(e - 15 + 127) << 23 | m << 13
}

/// Single to half precision with rounding control `rc` (0 nearest, 1 down, 2 up, 3 zero).
func floatToHalf(_ f: Float, _ rc: Int, _ c: inout FPCtx, oeUnmasked: Bool = false) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16(bits >> 16) & 0x8000
    if f.isNaN {
        if f.isSignalingNaN { c.flags |= mxIE }
        return sign | 0x7E00 | UInt16((bits >> 13) & 0x3FF)
    }
    if f.isInfinite { return sign | 0x7C00 }
    var x = Double(f)
    if f.isSubnormal {
        if c.daz { return sign }
        c.flags |= mxDE
    }
    if x == 0 { return sign }
    x = Swift.abs(x)
    let neg = sign != 0
    // With UE/OE unmasked, PE means inexact with 11 significant bits and an unbounded exponent;
    // a single-precision denormal input always reports PE (seen on the host: 2^-129 too).
    let u11 = Double(sign: .plus, exponent: x.exponent - 10, significand: 1)
    let exact11 = !f.isSubnormal && (x / u11).rounded(.towardZero) == x / u11
    if x < 0x1p-14 && c.ueUnmasked {
        c.flags |= mxUE | (exact11 ? 0 : mxPE)
        return sign
    }
    // Units of the last place: 2^(e-10) for normal halves, 2^-24 below 2^-14.
    let e = Swift.max(Int(x.exponent), -14)
    let ulp = Double(sign: .plus, exponent: e - 10, significand: 1)
    let q = x / ulp
    var n = q.rounded(.towardZero)
    let frac = q - n
    if frac != 0 {
        switch rc {
        case 0: if frac > 0.5 || (frac == 0.5 && n.truncatingRemainder(dividingBy: 2) == 1) { n += 1 }
        case 1: if neg { n += 1 }
        case 2: if !neg { n += 1 }
        default: break
        }
        if x < 0x1p-14 { c.flags |= mxUE }
    }
    let r = n * ulp
    if r > 65504 && oeUnmasked {
        c.flags |= mxOE | (exact11 ? 0 : mxPE)
        return sign | 0x7C00
    }
    if frac != 0 { c.flags |= mxPE }
    if r > 65504 {
        c.flags |= mxOE | mxPE
        let toInf = rc == 0 || (rc == 1 && neg) || (rc == 2 && !neg)
        return sign | (toInf ? 0x7C00 : 0x7BFF)
    }
    if r < 0x1p-14 { return sign | UInt16(r / 0x1p-24) }
    let he = Int(r.exponent)
    let hm = UInt16((r / Double(sign: .plus, exponent: he, significand: 1) - 1) * 1024)
    return sign | UInt16(he + 15) << 10 | hm
}
