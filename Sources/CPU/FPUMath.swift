#if arch(x86_64)
import CPUState
#if canImport(Glibc)
import Glibc
#endif

// x87 numeric core: the 80-bit register format, the host x87 as an exact arithmetic engine, and
// the instructions computed in software (FPREM, FXTRACT, FSCALE, transcendental special cases).
//
// The host is an x86-64 with an x87, and Swift's Float80 arithmetic compiles to x87 instructions.
// `x87Host` runs a computation with the host control word set to the guest's precision and
// rounding control (all exceptions masked) and returns the host status word: the masked response,
// NaN propagation, denormal handling and exception flags are then exactly the hardware's.

/// An 80-bit extended-precision value: 64-bit significand (explicit integer bit) and sign|exponent.
struct F80: Equatable {
    var m: UInt64
    var se: UInt16

    static let zero = F80(m: 0, se: 0)
    static let one = F80(m: 1 << 63, se: 0x3FFF)
    static let indefinite = F80(m: 0xC000_0000_0000_0000, se: 0xFFFF)
    static let posInf = F80(m: 1 << 63, se: 0x7FFF)

    @inline(__always) var neg: Bool { se & 0x8000 != 0 }
    @inline(__always) var e: Int { Int(se & 0x7FFF) }
    @inline(__always) var j: Bool { m >> 63 != 0 }
    @inline(__always) var isZero: Bool { e == 0 && m == 0 }
    /// Denormal or pseudo-denormal (exponent 0, significand nonzero).
    @inline(__always) var isDenormal: Bool { e == 0 && m != 0 }
    /// Unnormal, pseudo-NaN, pseudo-infinity: invalid operands for every arithmetic instruction.
    @inline(__always) var isUnsupported: Bool { e != 0 && !j }
    @inline(__always) var isInf: Bool { e == 0x7FFF && m == 1 << 63 }
    @inline(__always) var isNaN: Bool { e == 0x7FFF && j && m << 1 != 0 }
    @inline(__always) var isSNaN: Bool { isNaN && m & (1 << 62) == 0 }
    @inline(__always) var quieted: F80 { F80(m: m | 1 << 62, se: se) }
    @inline(__always) var negated: F80 { F80(m: m, se: se ^ 0x8000) }
    @inline(__always) var abs: F80 { F80(m: m, se: se & 0x7FFF) }
    @inline(__always) func withSign(_ n: Bool) -> F80 { F80(m: m, se: (se & 0x7FFF) | (n ? 0x8000 : 0)) }

    /// Full tag: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported).
    var tag: UInt16 {
        if isZero { return 1 }
        if e == 0 || e == 0x7FFF || !j { return 2 }
        return 0
    }

    init(m: UInt64, se: UInt16) { self.m = m; self.se = se }

    init(_ x: Float80) {
        var v = x
        self = withUnsafeBytes(of: &v) { F80(m: $0.loadUnaligned(as: UInt64.self), se: $0.loadUnaligned(fromByteOffset: 8, as: UInt16.self)) }
    }

    var f: Float80 {
        var v = Float80(0)
        withUnsafeMutableBytes(of: &v) {
            $0.storeBytes(of: m, as: UInt64.self)
            $0.storeBytes(of: se, toByteOffset: 8, as: UInt16.self)
        }
        return v
    }

    /// Significand normalised (top bit set) and the exponent of its unit bit: value = m * 2^u.
    var normalized: (m: UInt64, u: Int) {
        if e == 0 {
            let lz = m.leadingZeroBitCount
            return (m << UInt64(lz), -16445 - lz)
        }
        return (m, e - 16383 - 63)
    }

    /// self * 2^k exactly (finite nonzero values; the caller keeps the result in range).
    func scaled(_ k: Int) -> F80 {
        if k == 0 || isZero || e == 0x7FFF || isUnsupported { return self }
        let (nm, u) = normalized
        if u + k + 63 + 16383 > 0x7FFE { return F80.posInf.withSign(neg) }
        return F80.exact(nm, u + k, neg: neg)
    }

    /// Exact value m * 2^u (must be representable: m < 2^64, result within range).
    static func exact(_ m: UInt64, _ u: Int, neg: Bool) -> F80 {
        if m == 0 { return F80(m: 0, se: neg ? 0x8000 : 0) }
        let lz = m.leadingZeroBitCount
        var sig = m << UInt64(lz)
        var be = u - lz + 63 + 16383
        if be <= 0 {
            sig >>= UInt64(1 - be)
            be = 0
        }
        return F80(m: sig, se: UInt16(be) | (neg ? 0x8000 : 0))
    }
}

@inline(__always) func ldF(_ d: UnsafeMutableRawPointer, _ i: Int) -> Float80 {
    d.load(fromByteOffset: 16 * i, as: Float80.self)
}
@inline(__always) func stF(_ d: UnsafeMutableRawPointer, _ i: Int, _ v: Float80) {
    d.storeBytes(of: v, toByteOffset: 16 * i, as: Float80.self)
}
@inline(__always) func pow2(_ k: Int) -> Float80 { Float80(sign: .plus, exponent: k, significand: 1) }

/// Runs `f` under the host x87 with control word `cw` (PC and RC taken, exceptions masked) and
/// returns the value `f` stored in slot 2 and the host status word. `f` reads its operands from
/// slots 0 and 1 of the buffer it is given. The operands, the result and the environments share
/// one allocation passed to fesetenv/fegetenv, so the compiler cannot move the arithmetic
/// outside the window.
@inline(never)
func x87Host(_ cw: UInt16, _ a: F80, _ b: F80 = .zero, _ f: (UnsafeMutableRawPointer) -> Void) -> (F80, UInt16) {
    let es = (MemoryLayout<fenv_t>.stride + 15) & ~15
    return withUnsafeTemporaryAllocation(byteCount: 3 * es + 64, alignment: 16) { buf -> (F80, UInt16) in
        let p = buf.baseAddress!
        let guest = p.assumingMemoryBound(to: fenv_t.self)
        let saved = (p + es).assumingMemoryBound(to: fenv_t.self)
        let out = (p + 2 * es).assumingMemoryBound(to: fenv_t.self)
        let d = p + 3 * es
        d.storeBytes(of: a.m, as: UInt64.self)
        d.storeBytes(of: a.se, toByteOffset: 8, as: UInt16.self)
        d.storeBytes(of: b.m, toByteOffset: 16, as: UInt64.self)
        d.storeBytes(of: b.se, toByteOffset: 24, as: UInt16.self)
        fegetenv(saved)
        guest.pointee = saved.pointee
        p.storeBytes(of: (cw & 0x0F00) | 0x7F, as: UInt16.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 4, as: UInt16.self)
        // Host MXCSR flags cleared too: library code may compute parts in SSE.
        let mxOff = MemoryLayout<fenv_t>.size - 4
        p.storeBytes(of: p.load(fromByteOffset: mxOff, as: UInt32.self) & ~0x3F, toByteOffset: mxOff, as: UInt32.self)
        fesetenv(guest)
        f(d)
        fegetenv(out)
        fesetenv(saved)
        let sw = (p + 2 * es).load(fromByteOffset: 4, as: UInt16.self) |
            UInt16((p + 2 * es).load(fromByteOffset: mxOff, as: UInt32.self) & 0x3F)
        return (F80(m: d.load(fromByteOffset: 32, as: UInt64.self), se: d.load(fromByteOffset: 40, as: UInt16.self)), sw)
    }
}

/// Host computation with C1 (rounded up in magnitude) derived from the rounding control.
/// `neg` gives the sign of the result when slot 2 does not hold an 80-bit value (conversions).
func x87Round(_ cw: UInt16, _ a: F80, _ b: F80, neg: Bool? = nil, _ f: (UnsafeMutableRawPointer) -> Void) -> (F80, UInt16, Bool) {
    let (r, sw) = x87Host(cw, a, b, f)
    let rneg = neg ?? r.neg
    var c1 = false
    if sw & 0x20 != 0 {
        switch (cw >> 10) & 3 {
        case 0:
            let (rz, _) = x87Host(cw | 0xC00, a, b, f)
            c1 = rz != r
        case 1: c1 = rneg
        case 2: c1 = !rneg
        default: c1 = false
        }
    }
    return (r, sw & 0x3F, c1)
}

// FSW bits.
let swIE: UInt16 = 0x01, swDE: UInt16 = 0x02, swZE: UInt16 = 0x04, swOE: UInt16 = 0x08
let swUE: UInt16 = 0x10, swPE: UInt16 = 0x20, swSF: UInt16 = 0x40, swES: UInt16 = 0x80
let swC0: UInt16 = 0x100, swC1: UInt16 = 0x200, swC2: UInt16 = 0x400, swC3: UInt16 = 0x4000
let swB: UInt16 = 0x8000

/// Exact conversion of an m32real/m64real bit pattern to 80 bits without any exception:
/// denormals are normalised, SNaNs stay signalling (so that NaN selection sees the original
/// significand). Returns the value and whether the source was a denormal.
func x87Widen(_ bits: UInt64, double: Bool) -> (F80, Bool) {
    let fb = double ? 52 : 23, eb = double ? 11 : 8
    let neg = bits >> UInt64(fb + eb) & 1 != 0
    let e = Int(bits >> UInt64(fb)) & ((1 << eb) - 1)
    let frac = bits & ((1 << UInt64(fb)) - 1)
    let bias = (1 << (eb - 1)) - 1
    let sign: UInt16 = neg ? 0x8000 : 0
    if e == (1 << eb) - 1 { return (F80(m: 1 << 63 | frac << UInt64(63 - fb), se: 0x7FFF | sign), false) }
    if e == 0 {
        if frac == 0 { return (F80(m: 0, se: sign), false) }
        return (F80.exact(frac, 1 - bias - fb, neg: neg), true)
    }
    return (F80(m: 1 << 63 | frac << UInt64(63 - fb), se: UInt16(e - bias + 16383) | sign), false)
}

/// Arithmetic operation codes (ModRM.reg of D8): 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 divr;
/// 8 sqrt (unary).
func x87ArithOp(_ op: Int, _ cw: UInt16, _ a: F80, _ b: F80, scaleA: Int = 0, scaleB: Int = 0) -> (F80, UInt16, Bool) {
    // Rebiasing scales are applied exactly in software (host multiplies would round to PC).
    // One closure per operation (see x87LoadReal: no speculated operations in the window).
    let x = a.scaled(scaleA), y = b.scaled(scaleB)
    switch op {
    case 0: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 0) + ldF(d, 1)) }
    case 1: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 0) * ldF(d, 1)) }
    case 4: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 0) - ldF(d, 1)) }
    case 5: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 1) - ldF(d, 0)) }
    case 6: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 0) / ldF(d, 1)) }
    case 7: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 1) / ldF(d, 0)) }
    default: return x87Round(cw, x, y) { d in stF(d, 2, ldF(d, 0).squareRoot()) }
    }
}

/// sin, cos and tan of a finite nonzero |x| < 2^63, reduced the way the x87 does: modulo pi/2
/// with pi rounded to 66 bits (exactly, in integer arithmetic), then evaluated accurately.
func x87Trig(_ a: F80) -> (Float80, Float80, Float80) {
    let (m, u) = a.normalized
    let sh = u + 65
    let p66: UInt128 = 0x3_243F_6A88_85A3_08D3          // pi * 2^64, 66 bits
    var k: UInt128 = 0
    var rhi: Float80, rlo: Float80 = 0
    if sh < 0 {
        rhi = a.abs.f + 0                                 // |x| < 1/4: no reduction (canonical encoding)
    } else {
        let n = UInt128(m) << UInt128(sh)                 // |x| * 2^65
        k = n / p66
        let rem = n % p66                                 // (|x| - k * pi66/2) * 2^65
        let hi = Float80(rem)
        let hiInt = UInt128(hi)
        let lo = rem >= hiInt ? Float80(rem - hiInt) : -Float80(hiInt - rem)
        rhi = hi * 0x1p-65
        rlo = lo * 0x1p-65
    }
    let s0 = sinl(rhi), c0 = cosl(rhi)
    let sr = s0 + c0 * rlo, cr = c0 - s0 * rlo
    var t = tanl(rhi)
    t += rlo * (1 + t * t)
    var sx: Float80, cx: Float80, tx: Float80
    switch Int(k & 3) {
    case 0: sx = sr; cx = cr; tx = t
    case 1: sx = cr; cx = -sr; tx = -1 / t
    case 2: sx = -sr; cx = -cr; tx = t
    default: sx = -cr; cx = sr; tx = -1 / t
    }
    if a.neg { sx = -sx; tx = -tx }
    return (sx, cx, tx)
}

extension CPU {
    // MARK: register stack

    @inline(__always) var x87Top: Int { Int(s.pointee.fsw >> 11) & 7 }
    @inline(__always) func x87SetTop(_ t: Int) {
        s.pointee.fsw = (s.pointee.fsw & ~0x3800) | UInt16(t & 7) << 11
    }
    @inline(__always) func x87Phys(_ i: Int) -> Int { (x87Top + i) & 7 }
    @inline(__always) func x87Tag(phys p: Int) -> UInt16 { (s.pointee.ftw >> UInt16(2 * p)) & 3 }
    @inline(__always) func x87SetTag(phys p: Int, _ t: UInt16) {
        s.pointee.ftw = (s.pointee.ftw & ~(3 << UInt16(2 * p))) | (t << UInt16(2 * p))
    }
    @inline(__always) func x87Empty(_ i: Int) -> Bool { x87Tag(phys: x87Phys(i)) == 3 }
    @inline(__always) func x87Raw(phys p: Int) -> F80 {
        let q = UnsafeMutableRawPointer(cpu_st(s)!) + 16 * p
        return F80(m: q.loadUnaligned(as: UInt64.self), se: q.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }
    @inline(__always) func x87SetRaw(phys p: Int, _ v: F80) {
        let q = UnsafeMutableRawPointer(cpu_st(s)!) + 16 * p
        q.storeBytes(of: v.m, as: UInt64.self)
        q.storeBytes(of: v.se, toByteOffset: 8, as: UInt16.self)
    }
    @inline(__always) func st(_ i: Int) -> F80 { x87Raw(phys: x87Phys(i)) }
    @inline(__always) func setST(_ i: Int, _ v: F80) {
        let p = x87Phys(i)
        x87SetRaw(phys: p, v)
        x87SetTag(phys: p, v.tag)
    }
    @inline(__always) func x87Push(_ v: F80) {
        x87SetTop(x87Top - 1)
        setST(0, v)
    }
    @inline(__always) func x87Pop() {
        x87SetTag(phys: x87Phys(0), 3)
        x87SetTop(x87Top + 1)
    }
    /// Recomputes the tags of non-empty registers from their contents.
    func x87Retag() {
        for p in 0..<8 where x87Tag(phys: p) != 3 { x87SetTag(phys: p, x87Raw(phys: p).tag) }
    }

    // MARK: exceptions

    @inline(__always) func x87Unmasked(_ flags: UInt16) -> Bool { flags & ~s.pointee.fcw & 0x3F != 0 }

    /// ORs exception flags (and SF) into FSW; sets ES and B when one of them is unmasked.
    /// Returns true if an unmasked exception was raised.
    @discardableResult
    func x87Raise(_ flags: UInt16) -> Bool {
        var w = s.pointee.fsw | (flags & 0x7F)
        let um = x87Unmasked(flags)
        if um { w |= swES | swB }
        s.pointee.fsw = w
        return um
    }

    @inline(__always) func x87SetCC(_ bits: UInt16, mask: UInt16) {
        s.pointee.fsw = (s.pointee.fsw & ~mask) | (bits & mask)
    }
    @inline(__always) func x87SetC1(_ on: Bool) { x87SetCC(on ? swC1 : 0, mask: swC1) }

    /// Stack underflow (IE|SF, C1=0). True when masked: the caller applies the masked response.
    func x87Underflow() -> Bool { x87SetC1(false); return !x87Raise(swIE | swSF) }
    /// Stack overflow (IE|SF, C1=1). True when masked.
    func x87Overflow() -> Bool { x87SetC1(true); return !x87Raise(swIE | swSF) }

    /// Raises `flags`; false (and only the pre-computation flags raised) when IE, DE or ZE is unmasked:
    /// the destination must then stay unchanged.
    func x87Commit(_ flags: UInt16) -> Bool {
        let pre = flags & (swIE | swDE | swZE)
        if x87Unmasked(pre) { x87SetC1(false); x87Raise(pre); return false }
        x87Raise(flags)
        return true
    }

    @inline(__always) var x87Rounding: FloatingPointRoundingRule {
        switch (s.pointee.fcw >> 10) & 3 {
        case 0: return .toNearestOrEven
        case 1: return .down
        case 2: return .up
        default: return .towardZero
        }
    }

    // MARK: arithmetic

    /// a op b with the guest's PC/RC; nil when an unmasked exception leaves the destination alone.
    /// `memDenormal`: the memory operand (b) was an m32/m64 denormal (DE unless a NaN or an
    /// unsupported operand takes precedence).
    func x87Arith(_ op: Int, _ a: F80, _ b: F80, memDenormal: Bool = false) -> F80? {
        let cw = s.pointee.fcw
        var (r, flags, c1) = x87ArithOp(op, cw, a, b)
        // A denormal memory operand raises DE unless a NaN/unsupported operand or a division by
        // zero takes precedence.
        let divByZero = (op == 6 && b.isZero) || (op == 7 && a.isZero)
        if memDenormal && !a.isNaN && !a.isUnsupported && !b.isNaN && !divByZero { flags |= swDE }
        let before = flags
        if x87Unmasked(flags & (swIE | swDE | swZE)) {
            x87SetC1(false)
            x87Raise(flags & (swIE | swDE | swZE))
            return nil
        }
        // Unmasked overflow/underflow: the result is delivered with the exponent rebiased by 24576.
        if flags & swOE != 0 && x87Unmasked(swOE) && op != 8 {
            let k = -24576
            let (sa, sb): (Int, Int) = op == 1 ? (k / 2, k / 2) : (op == 6 ? (k / 2, -k / 2) : (op == 7 ? (-k / 2, k / 2) : (k, k)))
            (r, flags, c1) = x87ArithOp(op, cw, a, b, scaleA: sa, scaleB: sb)
            flags = (before & ~(swOE | swUE | swPE)) | (flags & swPE) | swOE
        } else if x87Unmasked(swUE) && op != 8 && (flags & swUE != 0 || (r.isDenormal && !a.isNaN && !b.isNaN)) {
            let k = 24576
            let (sa, sb): (Int, Int) = op == 1 ? (k / 2, k / 2) : (op == 6 ? (k / 2, -k / 2) : (op == 7 ? (-k / 2, k / 2) : (k, k)))
            (r, flags, c1) = x87ArithOp(op, cw, a, b, scaleA: sa, scaleB: sb)
            flags = (before & ~(swOE | swUE | swPE)) | (flags & swPE) | swUE
        }
        x87Raise(flags)
        x87SetC1(c1)
        return r
    }

    /// FCOM family: 0 greater, 1 less, 2 equal, 3 unordered.
    /// The condition codes are set even when the exception is unmasked (the processor does so);
    /// `unmasked` tells the caller not to pop.
    func x87Compare(_ a: F80, _ b: F80, quiet: Bool, memDenormal: Bool = false) -> (res: Int, unmasked: Bool) {
        var flags: UInt16 = 0
        let res: Int
        if a.isUnsupported || b.isUnsupported {
            flags = swIE; res = 3
        } else if a.isNaN || b.isNaN {
            if !quiet || a.isSNaN || b.isSNaN { flags = swIE }
            res = 3
        } else {
            if a.isDenormal || b.isDenormal || memDenormal { flags = swDE }
            let x = a.f, y = b.f
            res = x > y ? 0 : (x < y ? 1 : 2)
        }
        return (res, flags != 0 && x87Raise(flags))
    }

    /// Converts to a signed integer of `bits` bits (FIST/FISTTP). Returns the value to store (the
    /// integer indefinite on invalid) or nil when an unmasked IE suppresses the store.
    func x87ToInt(_ v: F80, bits: Int, truncate: Bool) -> UInt64? {
        let indef = UInt64(1) << UInt64(bits - 1)
        x87SetC1(false)
        if v.isNaN || v.isInf || v.isUnsupported {
            return x87Raise(swIE) ? nil : indef
        }
        let x = v.f
        let r = x.rounded(truncate ? .towardZero : x87Rounding)
        let lim = pow2(bits - 1)
        if r >= lim || r < -lim { return x87Raise(swIE) ? nil : indef }
        if r != x {
            x87Raise(swPE)
            x87SetC1(Swift.abs(r) > Swift.abs(x))
        }
        return UInt64(bitPattern: Int64(r)) & (bits == 64 ? ~0 : (UInt64(1) << UInt64(bits)) - 1)
    }

    /// NaN result of an operation with NaN operands (x87 propagation rules, via the host).
    func x87PropagateNaN(_ a: F80, _ b: F80) -> (F80, UInt16) {
        let (r, sw) = x87Host(0x37F, a, b) { d in stF(d, 2, ldF(d, 0) + ldF(d, 1)) }
        return (r, sw & swIE)
    }

    // MARK: software instructions

    /// FRNDINT.
    func x87RoundInt() {
        let a = st(0)
        var flags: UInt16 = 0
        var r = a
        x87SetC1(false)
        if a.isUnsupported { flags = swIE; r = .indefinite }
        else if a.isNaN { if a.isSNaN { flags = swIE }; r = a.quieted }
        else if a.isInf || a.isZero { r = a }
        else {
            if a.isDenormal { flags |= swDE }
            let x = a.f
            let y = x.rounded(x87Rounding)
            r = F80(y)
            if y.isZero { r = r.withSign(a.neg) }
            if y != x {
                flags |= swPE
                if !x87Unmasked(flags & swDE) { x87SetC1(Swift.abs(y) > Swift.abs(x)) }
            }
        }
        if x87Commit(flags) { setST(0, r) }
    }

    /// FXTRACT (the stack checks are done by the caller).
    func x87Extract() {
        let a = st(0)
        var sig = a, ex = F80.zero
        var flags: UInt16 = 0
        if a.isUnsupported { flags = swIE; sig = .indefinite; ex = .indefinite }
        else if a.isNaN { if a.isSNaN { flags = swIE }; sig = a.quieted; ex = sig }
        else if a.isInf { sig = a; ex = .posInf }
        else if a.isZero { flags = swZE; sig = a; ex = F80.posInf.negated }
        else {
            if a.isDenormal { flags = swDE }
            let (m, u) = a.normalized
            sig = F80(m: m, se: 0x3FFF | (a.neg ? 0x8000 : 0))
            ex = F80(Float80(u + 63))
        }
        x87SetC1(false)
        if x87Commit(flags) {
            setST(0, ex)
            x87Push(sig)
        }
    }

    /// FSCALE.
    func x87Scale() {
        let a = st(0), b = st(1)
        var flags: UInt16 = 0
        var r: F80
        x87SetC1(false)
        if a.isUnsupported || b.isUnsupported { flags = swIE; r = .indefinite }
        else if a.isNaN || b.isNaN { (r, flags) = x87PropagateNaN(a, b) }
        else {
            if a.isDenormal || b.isDenormal { flags = swDE }
            if b.isInf {
                if !b.neg {
                    if a.isZero { flags |= swIE; r = .indefinite } else { r = F80.posInf.withSign(a.neg) }
                } else {
                    if a.isInf { flags |= swIE; r = .indefinite } else { r = F80.zero.withSign(a.neg) }
                }
            } else if a.isZero || a.isInf || b.isZero {
                // A zero scale leaves ST(0) as it is (pseudo-denormals come out canonical).
                r = a.isDenormal ? F80.exact(a.normalized.m, a.normalized.u, neg: a.neg) : a
            } else if x87Unmasked(flags) {
                r = a
            } else {
                let t = b.f.rounded(.towardZero)
                let k = t > 200_000 ? 200_000 : (t < -200_000 ? -200_000 : Int(t))
                let cw = s.pointee.fcw | 0x300
                func scaled(_ k: Int) -> (F80, UInt16, Bool) {
                  x87Round(cw, a, b) { d in
                    var x = ldF(d, 0)
                    var k = k
                    if k >= 0 {
                        while k > 16000 { x = x * pow2(16000); k -= 16000 }
                        x = x * pow2(k)
                    } else {
                        // Exact steps while the result stays normal, then one rounding step.
                        var k1 = Swift.max(k, -16382 - Int(x.exponent))
                        k -= k1
                        while k1 < -16000 { x = x * pow2(-16000); k1 += 16000 }
                        while k1 > 16000 { x = x * pow2(16000); k1 -= 16000 }
                        x = x * pow2(k1)
                        x = x * pow2(Swift.max(k, -200))
                    }
                    stF(d, 2, x)
                  }
                }
                var (v, f2, c1) = scaled(k)
                // Unmasked overflow/underflow: exponent rebiased by 24576; still out of range: infinity/zero.
                if f2 & swOE != 0 && x87Unmasked(swOE) {
                    (v, f2, c1) = scaled(k - 24576)
                    if f2 & swOE != 0 || v.e == 0x7FFF { v = F80.posInf.withSign(a.neg); c1 = true }
                    f2 = (f2 & swPE) | swOE
                } else if (f2 & swUE != 0 || v.isDenormal) && x87Unmasked(swUE) {
                    // Unmasked underflow is signalled on tininess alone (exact results too).
                    (v, f2, c1) = scaled(k + 24576)
                    if f2 & swUE != 0 || v.isZero { v = F80.zero.withSign(a.neg); c1 = false }
                    f2 = (f2 & swPE) | swUE
                }
                r = v
                flags |= f2 & ~swDE
                x87SetC1(c1)
            }
        }
        if x87Commit(flags) { setST(0, r) }
    }

    /// FPREM / FPREM1 (stack checks done by the caller).
    func x87Remainder(ieee: Bool) {
        let a = st(0), b = st(1)
        var flags: UInt16 = 0
        var r: F80
        var cc: UInt16 = 0          // C0 C1 C2 C3 result
        var ccMask = swC0 | swC1 | swC2 | swC3
        if a.isUnsupported || b.isUnsupported || a.isNaN || b.isNaN || a.isInf || b.isZero {
            ccMask = swC1 | swC2      // no quotient: C1 and C2 cleared, C0 and C3 keep their values
        }
        if a.isUnsupported || b.isUnsupported { flags = swIE; r = .indefinite }
        else if a.isNaN || b.isNaN { (r, flags) = x87PropagateNaN(a, b) }
        else if a.isInf || b.isZero { flags = swIE; r = .indefinite }
        else {
            if a.isDenormal || b.isDenormal { flags = swDE }
            if b.isInf || a.isZero {
                r = a.isZero ? a : F80.exact(a.normalized.m, a.normalized.u, neg: a.neg)
            } else {
                let (ma, ua) = a.normalized
                let (mb, ub) = b.normalized
                let dexp = ua - ub
                if dexp >= 64 {
                    let n = 32 + (dexp - 32) % 32
                    let x = UInt128(ma) << UInt128(n)
                    let q = x / UInt128(mb)
                    let rem = x % UInt128(mb)
                    r = F80.exact(UInt64(rem), ua - n, neg: a.neg)
                    cc = swC2
                    _ = q
                } else if dexp < -1 {
                    r = F80.exact(ma, ua, neg: a.neg)
                } else {
                    let x: UInt128, y: UInt128, unit: Int
                    if dexp >= 0 { x = UInt128(ma) << UInt128(dexp); y = UInt128(mb); unit = ub }
                    else { x = UInt128(ma); y = UInt128(mb) << 1; unit = ua }
                    var q = x / y
                    var rem = x % y
                    var neg = a.neg
                    if ieee && (2 * rem > y || (2 * rem == y && q & 1 == 1)) {
                        q += 1
                        rem = y - rem
                        neg.toggle()
                    }
                    // The remainder is below 2^64 at this unit (dexp = -1: at most |b|/2 after rounding).
                    r = F80.exact(UInt64(rem), unit, neg: neg)
                    if rem == 0 { r = F80.zero.withSign(a.neg) }
                    cc = (q & 4 != 0 ? swC0 : 0) | (q & 2 != 0 ? swC3 : 0) | (q & 1 != 0 ? swC1 : 0)
                }
            }
        }
        if r.isDenormal && flags & swIE == 0 && !b.isInf && x87Unmasked(swUE) {
            // A tiny (exact) remainder with underflow unmasked is delivered rebiased.
            let (m, u) = r.normalized
            r = F80.exact(m, u + 24576, neg: r.neg)
            flags |= swUE
        }
        if x87Commit(flags) {
            setST(0, r)
            x87SetCC(cc, mask: ccMask)
        }
    }

    /// Unmasked underflow (tiny result) or overflow on a transcendental result: deliver it rebiased
    /// by 2^(+/-24576), computed from scaled operands. x = ST(0), y = ST(1).
    func x87TinyRebias(_ code: UInt8, _ r: inout F80, _ flags: inout UInt16, _ x: F80, _ y: F80) {
        guard flags & swIE == 0 else { return }
        let under = (r.isDenormal || (r.isZero && flags & swUE != 0)) && x87Unmasked(swUE)
        let over = flags & swOE != 0 && x87Unmasked(swOE)
        guard under || over else { return }
        let cw = (s.pointee.fcw & 0xC00) | 0x37F
        let ln2 = F80(m: 0xB172_17F7_D1CF_79AC, se: 0x3FFE).f
        let log2e = F80(m: 0xB8AA_3B29_5C17_F0BC, se: 0x3FFF).f
        let k = under ? 24576 : -24576
        switch code {
        case 0x0:
            r = x87Host(cw, x.scaled(k)) { d in stF(d, 2, ldF(d, 0) * ln2) }.0
        case 0x1:
            r = x87Host(cw, x, y.scaled(k)) { d in stF(d, 2, ldF(d, 1) * log2l(ldF(d, 0))) }.0
        case 0x9:
            let tinyX = under && x.e < 16383 - 16000
            let ky = !tinyX ? k : (y.e < 16383 - 16000 ? k / 2 : 0)   // both tiny: split the scale
            r = x87Host(cw, tinyX ? x.scaled(k - ky) : x, y.scaled(ky)) { d in
                let xv = ldF(d, 0)
                stF(d, 2, (ldF(d, 1) * log2e) * (tinyX ? xv : log1pl(xv)))
            }.0
        case 0x3:
            r = x87Host(cw, x.scaled(-k / 2), y.scaled(k / 2)) { d in stF(d, 2, ldF(d, 1) / ldF(d, 0)) }.0
        default:
            r = x.scaled(k)                       // sin x, tan x ~ x
        }
        flags = (flags & ~(swUE | swOE)) | (under ? swUE : swOE) | swPE
    }

    /// Transcendental and logarithmic instructions computed with the host's long double library.
    /// `code` is the low nibble of D9 F0..FF.
    func x87Transcendental(_ code: UInt8) {
        let cw = (s.pointee.fcw & 0xC00) | 0x37F
        let ln2 = F80(m: 0xB172_17F7_D1CF_79AC, se: 0x3FFE).f
        let log2e = F80(m: 0xB8AA_3B29_5C17_F0BC, se: 0x3FFF).f
        switch code {
        case 0x0: // F2XM1
            let a = st(0)
            var flags: UInt16 = 0
            var r: F80
            if a.isUnsupported { flags = swIE; r = .indefinite }
            else if a.isNaN { if a.isSNaN { flags = swIE }; r = a.quieted }
            else if a.isZero { r = a }
            else if a.isInf { r = a.neg ? F80.one.negated : a }
            else if a.e >= 0x3FFF && !(a.e == 0x3FFF && a.m == 1 << 63) { r = a; flags = swPE } // |x| > 1: unchanged
            else {
                if a.isDenormal { flags = swDE }
                let (v, sw) = x87Host(cw, a) { d in stF(d, 2, expm1l(ldF(d, 0) * ln2)) }
                r = v
                flags |= (sw & swUE) | swPE
            }
            x87SetC1(false)
            x87TinyRebias(code, &r, &flags, a, a)
            if x87Commit(flags) { setST(0, r) }
        case 0x1, 0x9: // FYL2X, FYL2XP1: ST(1) = ST(1) * log2(ST(0) [+1]); pop
            if x87Empty(0) || x87Empty(1) {
                if x87Underflow() { setST(1, .indefinite); x87Pop() }
                return
            }
            let x = st(0), y = st(1)
            var flags: UInt16 = 0
            var r: F80
            if x.isUnsupported || y.isUnsupported { flags = swIE; r = .indefinite }
            else if x.isNaN || y.isNaN { (r, flags) = x87PropagateNaN(x, y) }
            else {
                if x.isDenormal || y.isDenormal { flags = swDE }
                let p1 = code == 0x9
                if !p1 && (x.isZero || (x.neg && !x.isZero) || (x.isInf && y.isZero) || (x == .one && y.isInf)) {
                    // Special operands (SDM FYL2X table); no denormal exception on these paths.
                    flags = 0
                    if x.neg && !x.isZero { flags = swIE; r = .indefinite }
                    else if x.isZero {
                        if y.isZero { flags = swIE; r = .indefinite }
                        else { if !y.isInf { flags |= swZE }; r = F80.posInf.withSign(!y.neg) }
                    } else { flags = swIE; r = .indefinite }
                    x87SetC1(false)
                    if x87Commit(flags) { setST(1, r); x87Pop() }
                    return
                }
                if p1 && (x.isZero || y.isZero) {
                    // log2(1 + 0) * y = 0, and x * 0 = 0 (signed); 0 * infinity is invalid.
                    if y.isInf || x.isInf { flags = swIE; r = .indefinite } else { r = F80.zero.withSign(x.neg != y.neg) }
                    x87SetC1(false)
                    if x87Commit(flags) { setST(1, r); x87Pop() }
                    return
                }
                if p1 && x.neg && !x.isInf && x.e >= 0x3FFF {
                    // x <= -1 is outside FYL2XP1's domain; the processor returns x (a signed
                    // infinity when y is infinite).
                    r = y.isInf ? F80.posInf.withSign(x.neg != y.neg) : x
                    if !y.isInf { flags |= swPE }
                    x87SetC1(false)
                    if x87Commit(flags) { setST(1, r); x87Pop() }
                    return
                }
                let down = [Float80(1), pow2(-8192), pow2(-16384)]
                let (v, sw) = x87Host(cw, x, y) { d in
                    let xv = ldF(d, 0), yv = ldF(d, 1)
                    if p1 {
                        // Tiny factors are scaled up so that the product is rounded only once.
                        var l = xv.isSubnormal ? xv : log1pl(xv), yy = yv
                        var sc = 0
                        if Swift.abs(l) < 0x1p-16000 { l *= pow2(8192); sc += 8192 }
                        if Swift.abs(yy) < 0x1p-16000 { yy *= pow2(8192); sc += 8192 }
                        let t = Swift.abs(yy) >= 1 ? (yy * l) * log2e : (yy * log2e) * l
                        stF(d, 2, t * down[sc / 8192])
                    } else {
                        stF(d, 2, yv * log2l(xv))
                    }
                }
                r = v
                flags |= sw & (swIE | swZE | swOE | swUE | swPE)
                if flags & swIE != 0 { r = .indefinite; flags &= ~(swZE | swDE) }
                // Exact results (y = 0, y infinite, log of 1): no precision exception.
                if y.isZero || y.isInf || x.isInf || (!p1 && x == .one) { flags &= ~swPE }
                // The processor's internal result is inexact: a tiny one underflows.
                if r.isDenormal && flags & swPE != 0 { flags |= swUE }
            }
            x87SetC1(false)
            x87TinyRebias(code, &r, &flags, x, y)
            if x87Commit(flags) { setST(1, r); x87Pop() }
        case 0x3: // FPATAN: ST(1) = atan2(ST(1), ST(0)); pop
            if x87Empty(0) || x87Empty(1) {
                if x87Underflow() { setST(1, .indefinite); x87Pop() }
                return
            }
            let x = st(0), y = st(1)
            var flags: UInt16 = 0
            var r: F80
            if x.isUnsupported || y.isUnsupported { flags = swIE; r = .indefinite }
            else if x.isNaN || y.isNaN { (r, flags) = x87PropagateNaN(x, y) }
            else {
                if x.isDenormal || y.isDenormal { flags = swDE }
                let (v, sw) = x87Host(cw, x, y) { d in stF(d, 2, atan2l(ldF(d, 1), ldF(d, 0))) }
                r = v
                flags |= sw & (swUE | swPE)
                if !r.isZero && !(y.isZero) { flags |= swPE }
            }
            x87SetC1(false)
            x87TinyRebias(code, &r, &flags, x, y)
            if x87Commit(flags) { setST(1, r); x87Pop() }
        case 0x2, 0xB: // FPTAN (push 1.0), FSINCOS (ST1 = sin, ST0 = cos)
            if x87Empty(0) || !x87Empty(7) {
                x87SetCC(0, mask: swC2)
                let masked = x87Empty(0) ? x87Underflow() : x87Overflow()
                if masked { setST(0, .indefinite); x87Push(.indefinite) }
                return
            }
            let a = st(0)
            x87SetCC(0, mask: swC1 | swC2)
            var flags: UInt16 = 0
            var r1 = a, r2 = a
            if a.isUnsupported || a.isInf { flags = swIE; r1 = .indefinite; r2 = .indefinite }
            else if a.isNaN { if a.isSNaN { flags = swIE }; r1 = a.quieted; r2 = r1 }
            else if a.e >= 16383 + 63 { x87SetCC(swC2, mask: swC2); return }
            else {
                if a.isDenormal { flags = swDE }
                if a.isZero {
                    r1 = a; r2 = .one
                } else {
                    let (sx, cx, tx) = x87Trig(a)
                    flags |= swPE
                    if code == 2 { r1 = F80(tx); r2 = .one } else { r1 = F80(sx); r2 = F80(cx) }
                    if r1.isDenormal { flags |= swUE }
                }
            }
            x87TinyRebias(code, &r1, &flags, a, a)
            if x87Commit(flags) { setST(0, r1); x87Push(r2) }
        case 0xE, 0xF: // FSIN, FCOS
            let a = st(0)
            x87SetCC(0, mask: swC1 | swC2)
            var flags: UInt16 = 0
            var r = a
            if a.isUnsupported || a.isInf { flags = swIE; r = .indefinite }
            else if a.isNaN { if a.isSNaN { flags = swIE }; r = a.quieted }
            else if a.e >= 16383 + 63 { x87SetCC(swC2, mask: swC2); return }
            else {
                if a.isDenormal { flags = swDE }
                if a.isZero { r = code == 0xE ? a : .one }
                else {
                    let (sx, cx, _) = x87Trig(a)
                    r = F80(code == 0xE ? sx : cx)
                    flags |= swPE | (r.isDenormal ? swUE : 0)
                }
            }
            x87TinyRebias(code, &r, &flags, a, a)
            if x87Commit(flags) { setST(0, r) }
        default:
            break
        }
    }
}
#endif
