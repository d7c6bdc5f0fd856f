// MMX / SSE2..SSE4.1 integer operations on 64-bit (MMX, low half of a V128) and 128-bit values.
// `w` is the operand width in bytes (8 or 16); lane-wise operations ignore it.

@inline(__always) func maskV<T: SIMD>(_ m: SIMDMask<T.MaskStorage>, _ t: T.Type) -> T where T.Scalar: FixedWidthInteger {
    T(repeating: 0).replacing(with: ~0, where: m)
}

@inline(__always) func sat8s(_ v: Int32) -> UInt8 { UInt8(bitPattern: Int8(clamping: v)) }
@inline(__always) func sat8u(_ v: Int32) -> UInt8 { UInt8(clamping: v) }
@inline(__always) func sat16s(_ v: Int32) -> UInt16 { UInt16(bitPattern: Int16(clamping: v)) }
@inline(__always) func sat16u(_ v: Int32) -> UInt16 { UInt16(clamping: v) }

extension VOp {
    /// The operations `vecIntBinary` computes from two full-width sources (lane-wise integer,
    /// pack/unpack, bitwise): the legacy-SSE/MMX and the VEX executors dispatch this one set.
    var isTwoSourceIntegerLane: Bool {
        switch self {
        case .PADDB, .PADDW, .PADDD, .PADDQ, .PADDSB, .PADDSW, .PADDUSB, .PADDUSW,
             .PSUBB, .PSUBW, .PSUBD, .PSUBQ, .PSUBSB, .PSUBSW, .PSUBUSB, .PSUBUSW,
             .PMULLW, .PMULHW, .PMULHUW, .PMULUDQ, .PMADDWD, .PMULDQ, .PMULLD, .PMULHRSW, .PMADDUBSW,
             .PAND, .PANDN, .POR, .PXOR, .ANDPS, .ANDPD, .ANDNPS, .ANDNPD, .ORPS, .ORPD, .XORPS, .XORPD,
             .PCMPEQB, .PCMPEQW, .PCMPEQD, .PCMPEQQ, .PCMPGTB, .PCMPGTW, .PCMPGTD, .PCMPGTQ,
             .PACKSSWB, .PACKSSDW, .PACKUSWB, .PACKUSDW,
             .PUNPCKLBW, .PUNPCKLWD, .PUNPCKLDQ, .PUNPCKLQDQ, .PUNPCKHBW, .PUNPCKHWD, .PUNPCKHDQ, .PUNPCKHQDQ,
             .UNPCKLPS, .UNPCKLPD, .UNPCKHPS, .UNPCKHPD,
             .PAVGB, .PAVGW, .PMINUB, .PMAXUB, .PMINSW, .PMAXSW, .PSADBW,
             .PMINSB, .PMINSD, .PMINUW, .PMINUD, .PMAXSB, .PMAXSD, .PMAXUW, .PMAXUD,
             .PSHUFB, .PHADDW, .PHADDD, .PHADDSW, .PHSUBW, .PHSUBD, .PHSUBSW, .PSIGNB, .PSIGNW, .PSIGND:
            return true
        default:
            return false
        }
    }
}

/// Lane-wise and layout integer operations with two full-width operands.
/// Returns nil for operations not handled here.
func vecIntBinary(_ op: VOp, _ a: V128, _ b: V128, _ w: Int) -> V128? {
    var r = V128()
    switch op {
    case .PADDB: return a &+ b
    case .PADDW: r.w = a.w &+ b.w
    case .PADDD: r.d = a.d &+ b.d
    case .PADDQ: r.q = a.q &+ b.q
    case .PSUBB: return a &- b
    case .PSUBW: r.w = a.w &- b.w
    case .PSUBD: r.d = a.d &- b.d
    case .PSUBQ: r.q = a.q &- b.q
    case .PADDSB: r.sb = SIMD16<Int8>(clamping: SIMD16<Int16>(truncatingIfNeeded: a.sb) &+ SIMD16<Int16>(truncatingIfNeeded: b.sb))
    case .PSUBSB: r.sb = SIMD16<Int8>(clamping: SIMD16<Int16>(truncatingIfNeeded: a.sb) &- SIMD16<Int16>(truncatingIfNeeded: b.sb))
    case .PADDUSB: r = SIMD16<UInt8>(clamping: SIMD16<UInt16>(truncatingIfNeeded: a) &+ SIMD16<UInt16>(truncatingIfNeeded: b))
    case .PSUBUSB: r = SIMD16<UInt8>(clamping: SIMD16<Int16>(truncatingIfNeeded: a) &- SIMD16<Int16>(truncatingIfNeeded: b))
    case .PADDSW: r.sw = SIMD8<Int16>(clamping: SIMD8<Int32>(truncatingIfNeeded: a.sw) &+ SIMD8<Int32>(truncatingIfNeeded: b.sw))
    case .PSUBSW: r.sw = SIMD8<Int16>(clamping: SIMD8<Int32>(truncatingIfNeeded: a.sw) &- SIMD8<Int32>(truncatingIfNeeded: b.sw))
    case .PADDUSW: r.w = SIMD8<UInt16>(clamping: SIMD8<UInt32>(truncatingIfNeeded: a.w) &+ SIMD8<UInt32>(truncatingIfNeeded: b.w))
    case .PSUBUSW: r.w = SIMD8<UInt16>(clamping: SIMD8<Int32>(truncatingIfNeeded: a.w) &- SIMD8<Int32>(truncatingIfNeeded: b.w))
    case .PMULLW: r.w = a.w &* b.w
    case .PMULHW:
        let p = SIMD8<Int32>(truncatingIfNeeded: a.sw) &* SIMD8<Int32>(truncatingIfNeeded: b.sw)
        r.sw = SIMD8<Int16>(truncatingIfNeeded: p &>> 16)
    case .PMULHUW:
        let p = SIMD8<UInt32>(truncatingIfNeeded: a.w) &* SIMD8<UInt32>(truncatingIfNeeded: b.w)
        r.w = SIMD8<UInt16>(truncatingIfNeeded: p &>> 16)
    case .PMULHRSW:
        let p = SIMD8<Int32>(truncatingIfNeeded: a.sw) &* SIMD8<Int32>(truncatingIfNeeded: b.sw)
        r.sw = SIMD8<Int16>(truncatingIfNeeded: ((p &>> 14) &+ 1) &>> 1)
    case .PMULUDQ:
        r.q = SIMD2<UInt64>(UInt64(a.d[0]) &* UInt64(b.d[0]), UInt64(a.d[2]) &* UInt64(b.d[2]))
    case .PMULDQ:
        r.sq = SIMD2<Int64>(Int64(a.sd[0]) &* Int64(b.sd[0]), Int64(a.sd[2]) &* Int64(b.sd[2]))
    case .PMULLD: r.d = a.d &* b.d
    case .PMADDWD:
        let p = SIMD8<Int32>(truncatingIfNeeded: a.sw) &* SIMD8<Int32>(truncatingIfNeeded: b.sw)
        r.sd = p.evenHalf &+ p.oddHalf
    case .PMADDUBSW:
        let p = SIMD16<Int32>(truncatingIfNeeded: a) &* SIMD16<Int32>(truncatingIfNeeded: b.sb)
        r.sw = SIMD8<Int16>(clamping: p.evenHalf &+ p.oddHalf)
    case .PAND, .ANDPS, .ANDPD: return a & b
    case .PANDN, .ANDNPS, .ANDNPD: return ~a & b
    case .POR, .ORPS, .ORPD: return a | b
    case .PXOR, .XORPS, .XORPD: return a ^ b
    case .PCMPEQB: return maskV(a .== b, V128.self)
    case .PCMPEQW: r.w = maskV(a.w .== b.w, SIMD8<UInt16>.self)
    case .PCMPEQD: r.d = maskV(a.d .== b.d, SIMD4<UInt32>.self)
    case .PCMPEQQ: r.q = maskV(a.q .== b.q, SIMD2<UInt64>.self)
    case .PCMPGTB: r.sb = maskV(a.sb .> b.sb, SIMD16<Int8>.self)
    case .PCMPGTW: r.sw = maskV(a.sw .> b.sw, SIMD8<Int16>.self)
    case .PCMPGTD: r.sd = maskV(a.sd .> b.sd, SIMD4<Int32>.self)
    case .PCMPGTQ: r.sq = maskV(a.sq .> b.sq, SIMD2<Int64>.self)
    case .PAVGB:
        r = SIMD16<UInt8>(truncatingIfNeeded: (SIMD16<UInt16>(truncatingIfNeeded: a) &+ SIMD16<UInt16>(truncatingIfNeeded: b) &+ 1) &>> 1)
    case .PAVGW:
        r.w = SIMD8<UInt16>(truncatingIfNeeded: (SIMD8<UInt32>(truncatingIfNeeded: a.w) &+ SIMD8<UInt32>(truncatingIfNeeded: b.w) &+ 1) &>> 1)
    case .PMINUB: return pointwiseMin(a, b)
    case .PMAXUB: return pointwiseMax(a, b)
    case .PMINSW: r.sw = pointwiseMin(a.sw, b.sw)
    case .PMAXSW: r.sw = pointwiseMax(a.sw, b.sw)
    case .PMINSB: r.sb = pointwiseMin(a.sb, b.sb)
    case .PMAXSB: r.sb = pointwiseMax(a.sb, b.sb)
    case .PMINSD: r.sd = pointwiseMin(a.sd, b.sd)
    case .PMAXSD: r.sd = pointwiseMax(a.sd, b.sd)
    case .PMINUW: r.w = pointwiseMin(a.w, b.w)
    case .PMAXUW: r.w = pointwiseMax(a.w, b.w)
    case .PMINUD: r.d = pointwiseMin(a.d, b.d)
    case .PMAXUD: r.d = pointwiseMax(a.d, b.d)
    case .PSADBW:
        let diff = SIMD16<Int16>(truncatingIfNeeded: a) &- SIMD16<Int16>(truncatingIfNeeded: b)
        let ad = diff.replacing(with: 0 &- diff, where: diff .< 0)
        var s0: UInt64 = 0, s1: UInt64 = 0
        for i in 0..<8 { s0 &+= UInt64(ad[i]); s1 &+= UInt64(ad[i + 8]) }
        r.q = SIMD2<UInt64>(s0, s1)
    case .PSIGNB:
        r.sb = a.sb.replacing(with: 0 &- a.sb, where: b.sb .< 0).replacing(with: 0, where: b.sb .== 0)
    case .PSIGNW:
        r.sw = a.sw.replacing(with: 0 &- a.sw, where: b.sw .< 0).replacing(with: 0, where: b.sw .== 0)
    case .PSIGND:
        r.sd = a.sd.replacing(with: 0 &- a.sd, where: b.sd .< 0).replacing(with: 0, where: b.sd .== 0)
    case .PABSB: r.sb = b.sb.replacing(with: 0 &- b.sb, where: b.sb .< 0)
    case .PABSW: r.sw = b.sw.replacing(with: 0 &- b.sw, where: b.sw .< 0)
    case .PABSD: r.sd = b.sd.replacing(with: 0 &- b.sd, where: b.sd .< 0)
    // layout operations (depend on the width)
    case .PACKSSWB:
        let n = w / 2
        for i in 0..<n { r[i] = sat8s(Int32(a.sw[i])); r[i + n] = sat8s(Int32(b.sw[i])) }
    case .PACKUSWB:
        let n = w / 2
        for i in 0..<n { r[i] = sat8u(Int32(a.sw[i])); r[i + n] = sat8u(Int32(b.sw[i])) }
    case .PACKSSDW:
        let n = w / 4
        var o = SIMD8<UInt16>()
        for i in 0..<n { o[i] = sat16s(a.sd[i]); o[i + n] = sat16s(b.sd[i]) }
        r.w = o
    case .PACKUSDW:
        var o = SIMD8<UInt16>()
        for i in 0..<4 { o[i] = sat16u(a.sd[i]); o[i + 4] = sat16u(b.sd[i]) }
        r.w = o
    case .PUNPCKLBW:
        for i in 0..<(w / 2) { r[2 * i] = a[i]; r[2 * i + 1] = b[i] }
    case .PUNPCKHBW:
        let h = w / 2
        for i in 0..<h { r[2 * i] = a[i + h]; r[2 * i + 1] = b[i + h] }
    case .PUNPCKLWD:
        var o = SIMD8<UInt16>()
        for i in 0..<(w / 4) { o[2 * i] = a.w[i]; o[2 * i + 1] = b.w[i] }
        r.w = o
    case .PUNPCKHWD:
        var o = SIMD8<UInt16>()
        let h = w / 4
        for i in 0..<h { o[2 * i] = a.w[i + h]; o[2 * i + 1] = b.w[i + h] }
        r.w = o
    case .PUNPCKLDQ, .UNPCKLPS:
        if w == 8 { r.d = SIMD4<UInt32>(a.d[0], b.d[0], 0, 0) } else { r.d = SIMD4<UInt32>(a.d[0], b.d[0], a.d[1], b.d[1]) }
    case .PUNPCKHDQ, .UNPCKHPS:
        if w == 8 { r.d = SIMD4<UInt32>(a.d[1], b.d[1], 0, 0) } else { r.d = SIMD4<UInt32>(a.d[2], b.d[2], a.d[3], b.d[3]) }
    case .PUNPCKLQDQ, .UNPCKLPD: r.q = SIMD2<UInt64>(a.q[0], b.q[0])
    case .PUNPCKHQDQ, .UNPCKHPD: r.q = SIMD2<UInt64>(a.q[1], b.q[1])
    case .PSHUFB:
        let m = UInt8(w - 1)
        for i in 0..<w { let c = b[i]; r[i] = c & 0x80 != 0 ? 0 : a[Int(c & m)] }
    case .PHADDW, .PHSUBW, .PHADDSW, .PHSUBSW:
        let n = w / 4
        var o = SIMD8<Int16>()
        for i in 0..<n {
            let x0 = Int32(a.sw[2 * i]), x1 = Int32(a.sw[2 * i + 1])
            let y0 = Int32(b.sw[2 * i]), y1 = Int32(b.sw[2 * i + 1])
            let rx, ry: Int32
            if op == .PHADDW || op == .PHADDSW { rx = x0 + x1; ry = y0 + y1 } else { rx = x0 - x1; ry = y0 - y1 }
            if op == .PHADDSW || op == .PHSUBSW {
                o[i] = Int16(clamping: rx); o[i + n] = Int16(clamping: ry)
            } else {
                o[i] = Int16(truncatingIfNeeded: rx); o[i + n] = Int16(truncatingIfNeeded: ry)
            }
        }
        r.sw = o
    case .PHADDD, .PHSUBD:
        let n = w / 8
        var o = SIMD4<UInt32>()
        let add = op == .PHADDD
        for i in 0..<n {
            o[i] = add ? a.d[2 * i] &+ a.d[2 * i + 1] : a.d[2 * i] &- a.d[2 * i + 1]
            o[i + n] = add ? b.d[2 * i] &+ b.d[2 * i + 1] : b.d[2 * i] &- b.d[2 * i + 1]
        }
        r.d = o
    default: return nil
    }
    return r
}

/// Shift of each lane by `count` (already the full 64-bit count).
func vecShift(_ op: VOp, _ a: V128, _ count: UInt64) -> V128 {
    var r = V128()
    switch op {
    case .PSRLW: if count < 16 { r.w = a.w &>> UInt16(count) }
    case .PSRLD: if count < 32 { r.d = a.d &>> UInt32(count) }
    case .PSRLQ: if count < 64 { r.q = a.q &>> count }
    case .PSLLW: if count < 16 { r.w = a.w &<< UInt16(count) }
    case .PSLLD: if count < 32 { r.d = a.d &<< UInt32(count) }
    case .PSLLQ: if count < 64 { r.q = a.q &<< count }
    case .PSRAW: r.sw = a.sw &>> Int16(min(count, 15))
    case .PSRAD: r.sd = a.sd &>> Int32(min(count, 31))
    case .PSRLDQ:
        if count < 16 { let c = Int(count); for i in 0..<(16 - c) { r[i] = a[i + c] } }
    case .PSLLDQ:
        if count < 16 { let c = Int(count); for i in c..<16 { r[i] = a[i - c] } }
    default: break
    }
    return r
}

/// PALIGNR: (a:b) >> (imm * 8), low `w` bytes.
func vecAlignr(_ a: V128, _ b: V128, _ imm: Int, _ w: Int) -> V128 {
    var r = V128()
    for i in 0..<w {
        let k = i + imm
        if k < w { r[i] = b[k] } else if k < 2 * w { r[i] = a[k - w] }
    }
    return r
}

/// MPSADBW: eight 4-byte SADs of sliding windows of a against one block of b.
func vecMpsadbw(_ a: V128, _ b: V128, _ imm: Int) -> V128 {
    let ao = (imm >> 2 & 1) * 4, bo = (imm & 3) * 4
    var r = SIMD8<UInt16>()
    for i in 0..<8 {
        var sum = 0
        for j in 0..<4 { sum += abs(Int(a[ao + i + j]) - Int(b[bo + j])) }
        r[i] = UInt16(sum)
    }
    var v = V128(); v.w = r
    return v
}

/// PMOVSX/PMOVZX from the low bytes of b.
func vecPmovx(_ op: VOp, _ b: V128) -> V128 {
    var r = V128()
    switch op {
    case .PMOVSXBW: for i in 0..<8 { r.sw[i] = Int16(b.sb[i]) }
    case .PMOVSXBD: for i in 0..<4 { r.sd[i] = Int32(b.sb[i]) }
    case .PMOVSXBQ: for i in 0..<2 { r.sq[i] = Int64(b.sb[i]) }
    case .PMOVSXWD: for i in 0..<4 { r.sd[i] = Int32(b.sw[i]) }
    case .PMOVSXWQ: for i in 0..<2 { r.sq[i] = Int64(b.sw[i]) }
    case .PMOVSXDQ: for i in 0..<2 { r.sq[i] = Int64(b.sd[i]) }
    case .PMOVZXBW: for i in 0..<8 { r.w[i] = UInt16(b[i]) }
    case .PMOVZXBD: for i in 0..<4 { r.d[i] = UInt32(b[i]) }
    case .PMOVZXBQ: for i in 0..<2 { r.q[i] = UInt64(b[i]) }
    case .PMOVZXWD: for i in 0..<4 { r.d[i] = UInt32(b.w[i]) }
    case .PMOVZXWQ: for i in 0..<2 { r.q[i] = UInt64(b.w[i]) }
    default: for i in 0..<2 { r.q[i] = UInt64(b.d[i]) }
    }
    return r
}

/// Memory size of the PMOVSX/ZX source.
func pmovxSize(_ op: VOp) -> UInt8 {
    switch op {
    case .PMOVSXBQ, .PMOVZXBQ: return 2
    case .PMOVSXBD, .PMOVZXBD, .PMOVSXWQ, .PMOVZXWQ: return 4
    default: return 8
    }
}
