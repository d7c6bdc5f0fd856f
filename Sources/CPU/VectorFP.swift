#if canImport(Glibc)
import Glibc
#endif
import CPUState

// SSE/SSE2/SSE3/SSE4.1 floating point with MXCSR semantics.
//
// Values come from the host's own SSE unit (this emulator runs on x86-64), so rounding of
// + - * / sqrt and conversions is exact. Around those host operations the host rounding mode is
// set to MXCSR.RC and the host exception flags are read back (a "window"). Everything the host
// cannot do with all exceptions masked is done in software: NaN propagation order (the first
// source operand's NaN wins), DAZ (denormal inputs read as zero), FTZ (tiny results flushed to
// zero with UE|PE), DE (denormal operand, not reported by the host's fetestexcept), comparisons,
// MIN/MAX, rounding to integer, RCP/RSQRT, and float->int conversions with the integer
// indefinite value. Unmasked exceptions leave the destination unchanged and raise #XM
// (CR4.OSXMMEXCPT=1) or #UD.

let mxIE: UInt32 = 0x01, mxDE: UInt32 = 0x02, mxZE: UInt32 = 0x04, mxOE: UInt32 = 0x08
let mxUE: UInt32 = 0x10, mxPE: UInt32 = 0x20

protocol SSEFloat: BinaryFloatingPoint {
    var bits64: UInt64 { get }
    init(bits64: UInt64)
    static var quietBit: UInt64 { get }
}
extension Float: SSEFloat {
    @inline(__always) var bits64: UInt64 { UInt64(bitPattern) }
    @inline(__always) init(bits64: UInt64) { self.init(bitPattern: UInt32(truncatingIfNeeded: bits64)) }
    @inline(__always) static var quietBit: UInt64 { 0x40_0000 }
}
extension Double: SSEFloat {
    @inline(__always) var bits64: UInt64 { bitPattern }
    @inline(__always) init(bits64: UInt64) { self.init(bitPattern: bits64) }
    @inline(__always) static var quietBit: UInt64 { 1 << 51 }
}

@inline(__always) func quiet<T: SSEFloat>(_ x: T) -> T { T(bits64: x.bits64 | T.quietBit) }

/// Per-instruction floating-point context.
struct FPCtx {
    var flags: UInt32 = 0
    let daz: Bool
    let ftz: Bool
    let ueUnmasked: Bool
    let rule: FloatingPointRoundingRule
    init(_ mx: UInt32) {
        daz = mx & 0x40 != 0
        ftz = mx & 0x8000 != 0
        ueUnmasked = mx & 0x800 == 0
        switch (mx >> 13) & 3 {
        case 0: rule = .toNearestOrEven
        case 1: rule = .down
        case 2: rule = .up
        default: rule = .towardZero
        }
    }
}

/// A non-NaN input operand: DAZ or DE.
@inline(__always) func fpIn<T: SSEFloat>(_ x: T, _ c: inout FPCtx) -> T {
    if x.isSubnormal {
        if c.daz { return T(signOf: x, magnitudeOf: 0) }
        c.flags |= mxDE
    }
    return x
}

/// A result: FTZ, or UE for a tiny result when UE is unmasked.
@inline(__always) func fpOut<T: SSEFloat>(_ r: T, _ c: inout FPCtx) -> T {
    if r.isSubnormal {
        if c.ueUnmasked { c.flags |= mxUE } else if c.ftz { c.flags |= mxUE | mxPE; return T(signOf: r, magnitudeOf: 0) }
    }
    return r
}

@inline(__always) func fpNaN2<T: SSEFloat>(_ a: T, _ b: T, _ c: inout FPCtx) -> T {
    if a.isSignalingNaN || b.isSignalingNaN { c.flags |= mxIE }
    return a.isNaN ? quiet(a) : quiet(b)
}

// The arithmetic inside a window goes through functions the optimiser may not inline: a
// release build otherwise speculates cheap FP operations of untaken paths (computing both sides
// of a conditional and selecting one), and their exception flags would leak into the window.
@inline(never) func hAdd<T: SSEFloat>(_ a: T, _ b: T) -> T { a + b }
@inline(never) func hSub<T: SSEFloat>(_ a: T, _ b: T) -> T { a - b }
@inline(never) func hMul<T: SSEFloat>(_ a: T, _ b: T) -> T { a * b }
@inline(never) func hDiv<T: SSEFloat>(_ a: T, _ b: T) -> T { a / b }
@inline(never) func hSqrt<T: SSEFloat>(_ a: T) -> T { a.squareRoot() }
@inline(never) func hNarrow(_ a: Double) -> Float { Float(a) }
@inline(never) func hI32F(_ a: Int32) -> Float { Float(a) }
@inline(never) func hI64F(_ a: Int64) -> Float { Float(a) }
@inline(never) func hI64D(_ a: Int64) -> Double { Double(a) }

/// Binary arithmetic: k = 0 add, 1 sub, 2 mul, 3 div. Must run inside an FP window.
@inline(__always) func fpBin<T: SSEFloat>(_ k: Int, _ a: T, _ b: T, _ c: inout FPCtx) -> T {
    if a.isNaN || b.isNaN { return fpNaN2(a, b, &c) }
    let f0 = c.flags
    let x = fpIn(a, &c), y = fpIn(b, &c)
    let r: T
    switch k {
    case 0: r = hAdd(x, y)
    case 1: r = hSub(x, y)
    case 2: r = hMul(x, y)
    default:
        // Divide-by-zero takes precedence over a denormal dividend.
        if y == 0 && !x.isZero && !x.isInfinite { c.flags = f0 }
        r = hDiv(x, y)
    }
    if k >= 2 && (c.ftz || c.ueUnmasked) && r.magnitude == T.leastNormalMagnitude && tinyBeforeRounding(k, x, y) {
        // Tininess is detected before rounding: a result that rounded up to the smallest normal
        // is still tiny.
        if c.ueUnmasked { c.flags |= mxUE } else { c.flags |= mxUE | mxPE; return T(signOf: r, magnitudeOf: 0) }
    }
    return fpOut(r, &c)
}

/// Is x op y (k: 0 add, 1 sub, 2 mul, 3 div) inexact when the exponent range is unbounded?
/// Independent of the rounding mode; computed in round-to-nearest outside any FP window.
@inline(never)
func fpInexactUnbounded<T: SSEFloat>(_ k: Int, _ a: T, _ b: T, daz: Bool, r: T, oeUnmasked: Bool) -> Bool {
    var x = a, y = b
    if daz { if x.isSubnormal { x = 0 }; if y.isSubnormal { y = 0 } }
    if !x.isFinite || !y.isFinite || x.isZero || y.isZero { return false }
    // A masked overflow is always inexact.
    if r.isInfinite && !oeUnmasked { return true }
    let maxE = T.greatestFiniteMagnitude.exponent
    switch k {
    case 0, 1:
        if k == 1 { y = -y }
        var s = x + y
        if !s.isFinite {
            if !oeUnmasked { return true }
            if x.isSubnormal || y.isSubnormal { return true }
            x = x / 2; y = y / 2; s = x + y
        }
        let bb = s - x
        return (x - (s - bb)) + (y - bb) != 0
    case 2:
        let xs = T(sign: x.sign, exponent: 0, significand: x.significand)
        let ys = T(sign: y.sign, exponent: 0, significand: y.significand)
        let p = xs * ys
        if !oeUnmasked && x.exponent + y.exponent + (p.magnitude >= 2 ? 1 : 0) > maxE { return true }
        return (-p).addingProduct(xs, ys) != 0
    default:
        let xs = T(sign: x.sign, exponent: 0, significand: x.significand)
        let ys = T(sign: y.sign, exponent: 0, significand: y.significand)
        let q = xs / ys
        if !oeUnmasked && x.exponent - y.exponent - (q.magnitude < 1 ? 1 : 0) > maxE { return true }
        return xs.addingProduct(-q, ys) != 0
    }
}

/// PE of a whole operation under the unbounded-exponent rule, or nil when not modelled.
func fpUnboundedInexact(_ op: VOp, _ a: V128, _ b: V128, daz: Bool, imm: Int = 0, r: V128, oeUnmasked: Bool) -> Bool? {
    func k(_ op: VOp) -> Int {
        switch op {
        case .ADDPS, .ADDPD, .ADDSS, .ADDSD: return 0
        case .SUBPS, .SUBPD, .SUBSS, .SUBSD: return 1
        case .MULPS, .MULPD, .MULSS, .MULSD: return 2
        default: return 3
        }
    }
    var pe = false
    switch op {
    case .ADDPS, .SUBPS, .MULPS, .DIVPS:
        for i in 0..<4 { pe = pe || fpInexactUnbounded(k(op), a.ps[i], b.ps[i], daz: daz, r: r.ps[i], oeUnmasked: oeUnmasked) }
    case .ADDPD, .SUBPD, .MULPD, .DIVPD:
        for i in 0..<2 { pe = pe || fpInexactUnbounded(k(op), a.pd[i], b.pd[i], daz: daz, r: r.pd[i], oeUnmasked: oeUnmasked) }
    case .ADDSS, .SUBSS, .MULSS, .DIVSS:
        pe = fpInexactUnbounded(k(op), a.ps[0], b.ps[0], daz: daz, r: r.ps[0], oeUnmasked: oeUnmasked)
    case .ADDSD, .SUBSD, .MULSD, .DIVSD:
        pe = fpInexactUnbounded(k(op), a.pd[0], b.pd[0], daz: daz, r: r.pd[0], oeUnmasked: oeUnmasked)
    case .ADDSUBPS:
        for i in 0..<4 { pe = pe || fpInexactUnbounded(i & 1 == 0 ? 1 : 0, a.ps[i], b.ps[i], daz: daz, r: r.ps[i], oeUnmasked: oeUnmasked) }
    case .ADDSUBPD:
        for i in 0..<2 { pe = pe || fpInexactUnbounded(i & 1 == 0 ? 1 : 0, a.pd[i], b.pd[i], daz: daz, r: r.pd[i], oeUnmasked: oeUnmasked) }
    case .HADDPS, .HSUBPS:
        let kk = op == .HADDPS ? 0 : 1
        for i in 0..<2 {
            pe = pe || fpInexactUnbounded(kk, a.ps[2 * i], a.ps[2 * i + 1], daz: daz, r: r.ps[i], oeUnmasked: oeUnmasked)
            pe = pe || fpInexactUnbounded(kk, b.ps[2 * i], b.ps[2 * i + 1], daz: daz, r: r.ps[2 + i], oeUnmasked: oeUnmasked)
        }
    case .HADDPD, .HSUBPD:
        let kk = op == .HADDPD ? 0 : 1
        pe = fpInexactUnbounded(kk, a.pd[0], a.pd[1], daz: daz, r: r.pd[0], oeUnmasked: oeUnmasked) || fpInexactUnbounded(kk, b.pd[0], b.pd[1], daz: daz, r: r.pd[1], oeUnmasked: oeUnmasked)
    case .dppsMul:
        for i in 0..<4 where imm & (0x10 << i) != 0 { pe = pe || fpInexactUnbounded(2, a.ps[i], b.ps[i], daz: daz, r: r.ps[i], oeUnmasked: oeUnmasked) }
    case .dppdMul:
        for i in 0..<2 where imm & (0x10 << i) != 0 { pe = pe || fpInexactUnbounded(2, a.pd[i], b.pd[i], daz: daz, r: r.pd[i], oeUnmasked: oeUnmasked) }
    case .CVTPD2PS, .CVTSD2SS:
        for i in 0..<(op == .CVTPD2PS ? 2 : 1) {
            var x = b.pd[i]
            if daz && x.isSubnormal { x = 0 }
            if !x.isFinite || x.isZero { continue }
            if r.ps[i].isInfinite && !oeUnmasked { pe = true; continue }
            let xs = Double(sign: x.sign, exponent: 0, significand: x.significand)
            pe = pe || Double(Float(xs)) != xs
        }
    default:
        return nil
    }
    return pe
}

/// Is the exact x*y (k = 2) or x/y (k = 3) below the smallest normal? (Called only when the
/// rounded result is exactly the smallest normal; scaled so the error terms do not underflow.)
@inline(never)
func tinyBeforeRounding<T: SSEFloat>(_ k: Int, _ x: T, _ y: T) -> Bool {
    let s = T(sign: .plus, exponent: 100, significand: 1)
    let thr = T.leastNormalMagnitude * s
    if k == 2 {
        let (u, v) = x.magnitude < y.magnitude ? (x.magnitude * s, y.magnitude) : (y.magnitude * s, x.magnitude)
        let p = u * v
        if p != thr { return p < thr }
        return (-p).addingProduct(u, v) < 0
    }
    let u = x.magnitude * s, v = y.magnitude
    let q = u / v
    if q != thr { return q < thr }
    return u.addingProduct(-q, v) < 0
}

@inline(__always) func fpSqrt<T: SSEFloat>(_ a: T, _ c: inout FPCtx) -> T {
    if a.isNaN { if a.isSignalingNaN { c.flags |= mxIE }; return quiet(a) }
    // A negative operand is invalid before it is a denormal (no DE), unless DAZ makes it -0.
    if a.sign == .minus && a.isSubnormal && !c.daz { c.flags |= mxIE; return -T.nan }
    return hSqrt(fpIn(a, &c))
}

@inline(__always) func fpMinMax<T: SSEFloat>(_ a: T, _ b: T, max: Bool, _ c: inout FPCtx) -> T {
    if a.isNaN || b.isNaN {
        c.flags |= mxIE
        return c.daz && b.isSubnormal ? T(signOf: b, magnitudeOf: 0) : b
    }
    let x = fpIn(a, &c), y = fpIn(b, &c)
    if max { return x > y ? x : y }
    return x < y ? x : y
}

/// CMPxx predicate 0..7.
@inline(__always) func fpCmp<T: SSEFloat>(_ a: T, _ b: T, _ pred: Int, _ c: inout FPCtx) -> Bool {
    let p = pred & 7
    if a.isNaN || b.isNaN {
        if a.isSignalingNaN || b.isSignalingNaN || p & 3 == 1 || p & 3 == 2 { c.flags |= mxIE }
        return p >= 3 && p != 7
    }
    let x = fpIn(a, &c), y = fpIn(b, &c)
    switch p {
    case 0: return x == y
    case 1: return x < y
    case 2: return x <= y
    case 3: return false
    case 4: return x != y
    case 5: return !(x < y)
    case 6: return !(x <= y)
    default: return true
    }
}

@inline(__always) func roundRule(_ rc: Int) -> FloatingPointRoundingRule {
    switch rc & 3 {
    case 0: return .toNearestOrEven
    case 1: return .down
    case 2: return .up
    default: return .towardZero
    }
}

/// Float -> integer (32 or 64 bits) with the integer indefinite value for NaN / out of range.
@inline(__always) func fpToInt<T: SSEFloat>(_ x: T, is64: Bool, trunc: Bool, _ c: inout FPCtx) -> UInt64 {
    let indef: UInt64 = is64 ? 1 << 63 : 0x8000_0000
    if x.isNaN { c.flags |= mxIE; return indef }
    var v = x
    if v.isSubnormal && c.daz { v = 0 }
    let r = v.rounded(trunc ? .towardZero : c.rule)
    let lim: T = is64 ? 9223372036854775808.0 : 2147483648.0
    if !(r >= -lim && r < lim) { c.flags |= mxIE; return indef }
    if r != v { c.flags |= mxPE }
    let i = Int64(r)
    return is64 ? UInt64(bitPattern: i) : UInt64(UInt32(truncatingIfNeeded: i))
}

/// float -> double (exact).
@inline(__always) func fpWiden(_ x: Float, _ c: inout FPCtx) -> Double {
    if x.isNaN {
        if x.isSignalingNaN { c.flags |= mxIE }
        let b = UInt64(x.bitPattern)
        return Double(bitPattern: (b >> 31) << 63 | 0x7FF8_0000_0000_0000 | (b & 0x3F_FFFF) << 29)
    }
    return Double(fpIn(x, &c))
}

/// double -> float (rounded by the host: inside a window).
@inline(__always) func fpNarrow(_ x: Double, _ c: inout FPCtx) -> Float {
    if x.isNaN {
        if x.isSignalingNaN { c.flags |= mxIE }
        let b = x.bitPattern
        return Float(bitPattern: UInt32(b >> 63) << 31 | 0x7FC0_0000 | UInt32((b >> 29) & 0x3F_FFFF))
    }
    let v = fpIn(x, &c)
    let r = hNarrow(v)
    if (c.ftz || c.ueUnmasked) && r.magnitude == Float.leastNormalMagnitude && v.magnitude < Double(Float.leastNormalMagnitude) {
        if c.ueUnmasked { c.flags |= mxUE } else { c.flags |= mxUE | mxPE; return Float(signOf: r, magnitudeOf: 0) }
    }
    return fpOut(r, &c)
}

@inline(__always) func fpRound<T: SSEFloat>(_ x: T, _ imm: Int, _ c: inout FPCtx) -> T {
    if x.isNaN { if x.isSignalingNaN { c.flags |= mxIE }; return quiet(x) }
    var v = x
    if v.isSubnormal && c.daz { v = T(signOf: v, magnitudeOf: 0) }
    let r = v.rounded(imm & 4 != 0 ? c.rule : roundRule(imm))
    if r != v && imm & 8 == 0 { c.flags |= mxPE }
    return r
}

/// RCPPS/RCPSS (no exceptions; denormal inputs read as zero, tiny results flushed).
@inline(__always) func fpRcp(_ x: Float) -> Float {
    if x.isNaN { return quiet(x) }
    if x == 0 || x.isSubnormal { return Float(signOf: x, magnitudeOf: .infinity) }
    // |x| >= 2^126: the hardware's approximation of 1/x is below 2^-126, so tiny, so zero (the
    // SDM leaves the inputs just below 2^126 to the implementation; this host flushes 2^126).
    if x.isInfinite || Swift.abs(x) >= 0x1p126 { return Float(signOf: x, magnitudeOf: 0) }
    let r = Float(1.0 / Double(x))
    return r.isSubnormal ? Float(signOf: r, magnitudeOf: 0) : r
}

@inline(__always) func fpRsqrt(_ x: Float) -> Float {
    if x.isNaN { return quiet(x) }
    if x == 0 || x.isSubnormal { return Float(signOf: x, magnitudeOf: .infinity) }
    if x < 0 { return Float(bitPattern: 0xFFC0_0000) }
    if x.isInfinite { return 0 }
    return Float(1.0 / Double(x).squareRoot())
}

/// Operands and result of a host FP window, kept in memory the flag calls can see so the
/// compiler cannot move the arithmetic out of the window.
struct FPScratch {
    var fex: UInt16 = 0
    var pad0: UInt16 = 0
    var pad1: UInt32 = 0
    var a: V128
    var b: V128
    var r = V128()
    var imm: Int = 0
}

/// Runs `body` with the host rounding mode set from MXCSR and returns the host exception flags
/// it raised (in MXCSR bit positions; flags already set and masked in the guest may be stale).
@inline(__always)
func fpWindow(_ mx: UInt32, _ p: UnsafeMutablePointer<FPScratch>, _ body: (UnsafeMutablePointer<FPScratch>) -> Void) -> UInt32 {
    let fp = UnsafeMutableRawPointer(p).assumingMemoryBound(to: fexcept_t.self)
    _ = fegetexceptflag(fp, 0x3D)
    let interesting = 0x3D & ~(mx & (mx >> 7))
    if UInt32(fp.pointee) & interesting != 0 { _ = feclearexcept(0x3D) }
    let rc = (mx >> 13) & 3
    if rc != 0 { _ = fesetround(Int32(rc << 10)) }
    body(p)
    _ = fegetexceptflag(fp, 0x3D)
    if rc != 0 { _ = fesetround(0) }
    return UInt32(fp.pointee) & 0x3D
}

/// The operations computed inside a host window.
@inline(never)
func fpHostOp(_ op: VOp, _ p: UnsafeMutablePointer<FPScratch>, _ c: inout FPCtx) {
    let a = p.pointee.a, b = p.pointee.b
    var r = a
    switch op {
    case .ADDPS, .SUBPS, .MULPS, .DIVPS:
        let k = op == .ADDPS ? 0 : (op == .SUBPS ? 1 : (op == .MULPS ? 2 : 3))
        var v = a.ps
        let y = b.ps
        for i in 0..<4 { v[i] = fpBin(k, v[i], y[i], &c) }
        r.ps = v
    case .ADDPD, .SUBPD, .MULPD, .DIVPD:
        let k = op == .ADDPD ? 0 : (op == .SUBPD ? 1 : (op == .MULPD ? 2 : 3))
        var v = a.pd
        let y = b.pd
        for i in 0..<2 { v[i] = fpBin(k, v[i], y[i], &c) }
        r.pd = v
    case .ADDSS, .SUBSS, .MULSS, .DIVSS:
        let k = op == .ADDSS ? 0 : (op == .SUBSS ? 1 : (op == .MULSS ? 2 : 3))
        r.ps[0] = fpBin(k, a.ps[0], b.ps[0], &c)
    case .ADDSD, .SUBSD, .MULSD, .DIVSD:
        let k = op == .ADDSD ? 0 : (op == .SUBSD ? 1 : (op == .MULSD ? 2 : 3))
        r.pd[0] = fpBin(k, a.pd[0], b.pd[0], &c)
    case .SQRTPS:
        var v = b.ps
        for i in 0..<4 { v[i] = fpSqrt(v[i], &c) }
        r.ps = v
    case .SQRTPD:
        var v = b.pd
        for i in 0..<2 { v[i] = fpSqrt(v[i], &c) }
        r.pd = v
    case .SQRTSS: r.ps[0] = fpSqrt(b.ps[0], &c)
    case .SQRTSD: r.pd[0] = fpSqrt(b.pd[0], &c)
    case .ADDSUBPS:
        let x = a.ps, y = b.ps
        r.ps = SIMD4<Float>(fpBin(1, x[0], y[0], &c), fpBin(0, x[1], y[1], &c),
                            fpBin(1, x[2], y[2], &c), fpBin(0, x[3], y[3], &c))
    case .ADDSUBPD:
        let x = a.pd, y = b.pd
        r.pd = SIMD2<Double>(fpBin(1, x[0], y[0], &c), fpBin(0, x[1], y[1], &c))
    case .HADDPS, .HSUBPS:
        let k = op == .HADDPS ? 0 : 1
        let x = a.ps, y = b.ps
        r.ps = SIMD4<Float>(fpBin(k, x[0], x[1], &c), fpBin(k, x[2], x[3], &c),
                            fpBin(k, y[0], y[1], &c), fpBin(k, y[2], y[3], &c))
    case .HADDPD, .HSUBPD:
        let k = op == .HADDPD ? 0 : 1
        let x = a.pd, y = b.pd
        r.pd = SIMD2<Double>(fpBin(k, x[0], x[1], &c), fpBin(k, y[0], y[1], &c))
    case .dppsMul:
        // Only the selected products are computed; the others are +0.
        let imm = p.pointee.imm
        let x = a.ps, y = b.ps
        var t = SIMD4<Float>()
        for i in 0..<4 where imm & (0x10 << i) != 0 { t[i] = fpBin(2, x[i], y[i], &c) }
        r.ps = t
    case .dppsAdd:
        // Each lane adds the products in its own order (which only shows in which NaN wins):
        // h[i] = p[i^1] + p[i], lane i = h[i] + h[i^2].
        let imm = p.pointee.imm
        let t = a.ps
        var h = SIMD4<Float>()
        for i in 0..<4 { h[i] = fpBin(0, t[i ^ 1], t[i], &c) }
        // The sums are computed (and raise their flags) whether or not a lane is written.
        var v = SIMD4<Float>()
        for i in 0..<4 {
            let sum = fpBin(0, h[i], h[i ^ 2], &c)
            if imm & (1 << i) != 0 { v[i] = sum }
        }
        r.ps = v
    case .dppdMul:
        let imm = p.pointee.imm
        let x = a.pd, y = b.pd
        var t = SIMD2<Double>()
        for i in 0..<2 where imm & (0x10 << i) != 0 { t[i] = fpBin(2, x[i], y[i], &c) }
        r.pd = t
    case .dppdAdd:
        // Lane i adds p[i] + p[i^1] (the order only shows in which NaN wins).
        let imm = p.pointee.imm
        let t = a.pd
        var v = SIMD2<Double>()
        for i in 0..<2 {
            let sum = fpBin(0, t[i], t[i ^ 1], &c)
            if imm & (1 << i) != 0 { v[i] = sum }
        }
        r.pd = v
    case .CVTPD2PS:
        let x = b.pd
        r = V128()
        r.ps = SIMD4<Float>(fpNarrow(x[0], &c), fpNarrow(x[1], &c), 0, 0)
    case .CVTSD2SS:
        r.ps[0] = fpNarrow(b.pd[0], &c)
    case .CVTDQ2PS:
        let x = b.sd
        r.ps = SIMD4<Float>(hI32F(x[0]), hI32F(x[1]), hI32F(x[2]), hI32F(x[3]))
    case .CVTPI2PS:
        let x = b.sd
        r.ps[0] = hI32F(x[0]); r.ps[1] = hI32F(x[1])
    case .CVTSI2SS:
        if p.pointee.imm == 8 { r.ps[0] = hI64F(Int64(bitPattern: b.lo)) } else { r.ps[0] = hI32F(Int32(truncatingIfNeeded: b.lo)) }
    case .CVTSI2SD:
        if p.pointee.imm == 8 { r.pd[0] = hI64D(Int64(bitPattern: b.lo)) } else { r.pd[0] = Double(Int32(truncatingIfNeeded: b.lo)) }
    default: break
    }
    p.pointee.r = r
}

extension CPU {
    /// Merges new flags into MXCSR; unmasked exceptions raise #XM / #UD (destination untouched).
    @inline(__always) func fpCommit(_ f: UInt32) throws(Fault) {
        let mx = s.pointee.mxcsr
        let unmasked = f & ~(mx >> 7) & 0x3F
        if unmasked != 0 {
            s.pointee.mxcsr = mx | (unmasked & 7 != 0 ? f & 7 : f)
            throw s.pointee.cr4 & 0x400 != 0 ? Fault(vector: Fault.XM) : Fault.undefined
        }
        s.pointee.mxcsr = mx | f
    }

    /// Runs a host-window operation and commits flags; returns the result.
    @inline(__always) func fpHost(_ op: VOp, _ a: V128, _ b: V128, imm: Int = 0) throws(Fault) -> V128 {
        let mx = s.pointee.mxcsr
        var c = FPCtx(mx)
        var sc = FPScratch(a: a, b: b, imm: imm)
        let hf = withUnsafeMutablePointer(to: &sc) { p in
            fpWindow(mx, p) { p in fpHostOp(op, p, &c) }
        }
        var f = c.flags | hf
        if f & ~(mx >> 7) & (mxOE | mxUE) != 0, let pe = fpUnboundedInexact(op, a, b, daz: c.daz, r: sc.r, oeUnmasked: mx & 0x400 == 0) {
            // With overflow/underflow unmasked, PE means the result is inexact even with an
            // unbounded exponent (not the inexactness of the masked, denormalised result).
            f = (f & ~mxPE) | (pe ? mxPE : 0)
        }
        try fpCommit(f)
        return sc.r
    }

    /// One host-window stage: the result and the flags it raised (not yet committed).
    @inline(__always) func fpStage(_ op: VOp, _ a: V128, _ b: V128, imm: Int) -> (V128, UInt32) {
        let mx = s.pointee.mxcsr
        var c = FPCtx(mx)
        var sc = FPScratch(a: a, b: b, imm: imm)
        let hf = withUnsafeMutablePointer(to: &sc) { p in
            fpWindow(mx, p) { p in fpHostOp(op, p, &c) }
        }
        var f = c.flags | hf
        if f & ~(mx >> 7) & (mxOE | mxUE) != 0, let pe = fpUnboundedInexact(op, a, b, daz: c.daz, imm: imm, r: sc.r, oeUnmasked: mx & 0x400 == 0) {
            f = (f & ~mxPE) | (pe ? mxPE : 0)
        }
        return (sc.r, f)
    }

    func execSSEFloat(_ op: VOp, _ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch op {
        case .ADDPS, .SUBPS, .MULPS, .DIVPS, .ADDPD, .SUBPD, .MULPD, .DIVPD,
             .ADDSUBPS, .ADDSUBPD, .HADDPS, .HSUBPS, .HADDPD, .HSUBPD, .SQRTPS, .SQRTPD, .CVTDQ2PS, .CVTPD2PS:
            let b = try srcFull(d, ea, mmx: false)
            setX(d.reg, try fpHost(op, getX(d.reg), b))
        case .DPPS, .DPPD:
            // Two stages: the products (their flags stay recorded even when a product fed to
            // the additions raises an unmasked exception there, e.g. DE for a denormal product).
            let b = try srcFull(d, ea, mmx: false)
            let imm = Int(d.imm & 0xFF)
            let mx = s.pointee.mxcsr
            let ps = op == .DPPS
            let (prod, f1) = fpStage(ps ? .dppsMul : .dppdMul, getX(d.reg), b, imm: imm)
            if f1 & ~(mx >> 7) & 0x3F != 0 { try fpCommit(f1) }
            let (sum, f2) = fpStage(ps ? .dppsAdd : .dppdAdd, prod, prod, imm: imm)
            let unmasked = f2 & ~(mx >> 7) & 0x3F
            if unmasked != 0 {
                s.pointee.mxcsr = mx | f1 | (unmasked & 7 != 0 ? f2 & 7 : f2)
                throw s.pointee.cr4 & 0x400 != 0 ? Fault(vector: Fault.XM) : Fault.undefined
            }
            s.pointee.mxcsr = mx | f1 | f2
            setX(d.reg, sum)
        case .ADDSS, .SUBSS, .MULSS, .DIVSS, .SQRTSS:
            let b = try srcLow(d, ea, 4)
            setX(d.reg, try fpHost(op, getX(d.reg), b))
        case .ADDSD, .SUBSD, .MULSD, .DIVSD, .SQRTSD, .CVTSD2SS:
            let b = try srcLow(d, ea, 8)
            setX(d.reg, try fpHost(op, getX(d.reg), b))
        case .CVTSI2SS, .CVTSI2SD:
            let sz: UInt8 = d.rexW ? 8 : 4
            let v = try readOp(d.op1, d, sz, ea)
            setX(d.reg, try fpHost(op, getX(d.reg), V128(lo: v), imm: Int(sz)))
        case .CVTPI2PS:
            let v = d.isMem ? try vread(d, ea, 8) : getM(d.rm)
            setX(d.reg, try fpHost(op, getX(d.reg), V128(lo: v)))
        case .CVTPI2PD:
            let v = V128(lo: d.isMem ? try vread(d, ea, 8) : getM(d.rm))
            var r = V128()
            r.pd = SIMD2<Double>(Double(v.sd[0]), Double(v.sd[1]))
            setX(d.reg, r)
        case .CVTDQ2PD:
            let v = try srcLow(d, ea, 8)
            var r = V128()
            r.pd = SIMD2<Double>(Double(v.sd[0]), Double(v.sd[1]))
            setX(d.reg, r)

        // ---- software-only operations ------------------------------------------------------------
        case .MINPS, .MAXPS, .MINPD, .MAXPD, .MINSS, .MAXSS, .MINSD, .MAXSD:
            let scalar = op == .MINSS || op == .MAXSS || op == .MINSD || op == .MAXSD
            let dbl = op == .MINPD || op == .MAXPD || op == .MINSD || op == .MAXSD
            let mx = op == .MAXPS || op == .MAXPD || op == .MAXSS || op == .MAXSD
            let b = scalar ? try srcLow(d, ea, dbl ? 8 : 4) : try srcFull(d, ea, mmx: false)
            var r = getX(d.reg)
            var c = FPCtx(s.pointee.mxcsr)
            if dbl {
                var v = r.pd
                for i in 0..<(scalar ? 1 : 2) { v[i] = fpMinMax(v[i], b.pd[i], max: mx, &c) }
                r.pd = v
            } else {
                var v = r.ps
                for i in 0..<(scalar ? 1 : 4) { v[i] = fpMinMax(v[i], b.ps[i], max: mx, &c) }
                r.ps = v
            }
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CMPPS, .CMPPD, .CMPSS, .CMPSD:
            let scalar = op == .CMPSS || op == .CMPSD
            let dbl = op == .CMPPD || op == .CMPSD
            let b = scalar ? try srcLow(d, ea, dbl ? 8 : 4) : try srcFull(d, ea, mmx: false)
            var r = getX(d.reg)
            var c = FPCtx(s.pointee.mxcsr)
            let pred = Int(d.imm & 7)
            if dbl {
                for i in 0..<(scalar ? 1 : 2) { r.q[i] = fpCmp(r.pd[i], b.pd[i], pred, &c) ? ~0 : 0 }
            } else {
                for i in 0..<(scalar ? 1 : 4) { r.d[i] = fpCmp(r.ps[i], b.ps[i], pred, &c) ? ~0 : 0 }
            }
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .COMISS, .UCOMISS, .COMISD, .UCOMISD:
            let dbl = op == .COMISD || op == .UCOMISD
            let b = try srcLow(d, ea, dbl ? 8 : 4)
            let a = getX(d.reg)
            var c = FPCtx(s.pointee.mxcsr)
            let signalQ = op == .COMISS || op == .COMISD
            let f = dbl ? fpCompareFlags(a.pd[0], b.pd[0], signalQ, &c) : fpCompareFlags(a.ps[0], b.ps[0], signalQ, &c)
            try fpCommit(c.flags)
            setFlags(f, mask: FlagBit.status)
        case .RCPPS, .RSQRTPS:
            let b = try srcFull(d, ea, mmx: false)
            var v = b.ps
            for i in 0..<4 { v[i] = op == .RCPPS ? fpRcp(v[i]) : fpRsqrt(v[i]) }
            var r = V128(); r.ps = v
            setX(d.reg, r)
        case .RCPSS, .RSQRTSS:
            let b = try srcLow(d, ea, 4)
            var r = getX(d.reg)
            r.ps[0] = op == .RCPSS ? fpRcp(b.ps[0]) : fpRsqrt(b.ps[0])
            setX(d.reg, r)
        case .ROUNDPS, .ROUNDPD, .ROUNDSS, .ROUNDSD:
            let imm = Int(d.imm)
            var c = FPCtx(s.pointee.mxcsr)
            var r: V128
            switch op {
            case .ROUNDPS:
                r = try srcFull(d, ea, mmx: false)
                var v = r.ps
                for i in 0..<4 { v[i] = fpRound(v[i], imm, &c) }
                r.ps = v
            case .ROUNDPD:
                r = try srcFull(d, ea, mmx: false)
                var v = r.pd
                for i in 0..<2 { v[i] = fpRound(v[i], imm, &c) }
                r.pd = v
            case .ROUNDSS:
                let b = try srcLow(d, ea, 4)
                r = getX(d.reg)
                r.ps[0] = fpRound(b.ps[0], imm, &c)
            default:
                let b = try srcLow(d, ea, 8)
                r = getX(d.reg)
                r.pd[0] = fpRound(b.pd[0], imm, &c)
            }
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CVTPS2PD:
            let b = try srcLow(d, ea, 8)
            var c = FPCtx(s.pointee.mxcsr)
            var r = V128()
            r.pd = SIMD2<Double>(fpWiden(b.ps[0], &c), fpWiden(b.ps[1], &c))
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CVTSS2SD:
            let b = try srcLow(d, ea, 4)
            var c = FPCtx(s.pointee.mxcsr)
            var r = getX(d.reg)
            r.pd[0] = fpWiden(b.ps[0], &c)
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CVTPS2DQ, .CVTTPS2DQ:
            let b = try srcFull(d, ea, mmx: false)
            var c = FPCtx(s.pointee.mxcsr)
            var r = V128()
            for i in 0..<4 { r.d[i] = UInt32(fpToInt(b.ps[i], is64: false, trunc: op == .CVTTPS2DQ, &c)) }
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CVTPD2DQ, .CVTTPD2DQ:
            let b = try srcFull(d, ea, mmx: false)
            var c = FPCtx(s.pointee.mxcsr)
            var r = V128()
            for i in 0..<2 { r.d[i] = UInt32(fpToInt(b.pd[i], is64: false, trunc: op == .CVTTPD2DQ, &c)) }
            try fpCommit(c.flags)
            setX(d.reg, r)
        case .CVTPS2PI, .CVTTPS2PI, .CVTPD2PI, .CVTTPD2PI:
            var c = FPCtx(s.pointee.mxcsr)
            var r = V128()
            if op == .CVTPS2PI || op == .CVTTPS2PI {
                let b = try srcLow(d, ea, 8)
                for i in 0..<2 { r.d[i] = UInt32(fpToInt(b.ps[i], is64: false, trunc: op == .CVTTPS2PI, &c)) }
            } else {
                let b = try srcFull(d, ea, mmx: false)
                for i in 0..<2 { r.d[i] = UInt32(fpToInt(b.pd[i], is64: false, trunc: op == .CVTTPD2PI, &c)) }
            }
            try fpCommit(c.flags)
            setM(d.reg, r.lo)
        case .CVTSS2SI, .CVTTSS2SI, .CVTSD2SI, .CVTTSD2SI:
            let dbl = op == .CVTSD2SI || op == .CVTTSD2SI
            let trunc = op == .CVTTSS2SI || op == .CVTTSD2SI
            let b = try srcLow(d, ea, dbl ? 8 : 4)
            var c = FPCtx(s.pointee.mxcsr)
            let is64 = d.rexW
            let v = dbl ? fpToInt(b.pd[0], is64: is64, trunc: trunc, &c) : fpToInt(b.ps[0], is64: is64, trunc: trunc, &c)
            try fpCommit(c.flags)
            writeReg(d.reg, size: is64 ? 8 : 4, rex: d.rex, v)
        default:
            throw Fault.undefined
        }
    }
}

/// COMISx / UCOMISx: ZF, PF, CF (OF, SF, AF cleared).
@inline(__always) func fpCompareFlags<T: SSEFloat>(_ a: T, _ b: T, _ signalQ: Bool, _ c: inout FPCtx) -> UInt64 {
    if a.isNaN || b.isNaN {
        if signalQ || a.isSignalingNaN || b.isSignalingNaN { c.flags |= mxIE }
        return FlagBit.ZF | FlagBit.PF | FlagBit.CF
    }
    let x = fpIn(a, &c), y = fpIn(b, &c)
    if x == y { return FlagBit.ZF }
    return x < y ? FlagBit.CF : 0
}
