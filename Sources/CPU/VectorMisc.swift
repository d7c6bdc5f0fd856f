import CPUState

// SSE4.2 string compares and CRC32, PCLMULQDQ, AES-NI.

/// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78.
let crc32cTable: [UInt32] = (0..<256).map { (i: Int) -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    return c
}

@inline(__always) func gfMul(_ a: UInt8, _ b: UInt8) -> UInt8 {
    var a = a, b = b, p: UInt8 = 0
    while b != 0 {
        if b & 1 != 0 { p ^= a }
        a = (a << 1) ^ (a & 0x80 != 0 ? 0x1B : 0)
        b >>= 1
    }
    return p
}

let aesSbox: [UInt8] = (0..<256).map { (i: Int) -> UInt8 in
    var inv: UInt8 = 0
    if i != 0 { for c in 1...255 where gfMul(UInt8(i), UInt8(c)) == 1 { inv = UInt8(c); break } }
    var s = inv
    for k in 1...4 { s ^= (inv << UInt8(k)) | (inv >> UInt8(8 - k)) }
    return s ^ 0x63
}

let aesInvSbox: [UInt8] = {
    var t = [UInt8](repeating: 0, count: 256)
    for i in 0..<256 { t[Int(aesSbox[i])] = UInt8(i) }
    return t
}()

func aesShiftRows(_ s: V128, inverse: Bool) -> V128 {
    var r = V128()
    for c in 0..<4 {
        for row in 0..<4 {
            let src = inverse ? (c - row + 4) & 3 : (c + row) & 3
            r[row + 4 * c] = s[row + 4 * src]
        }
    }
    return r
}

func aesSub(_ s: V128, inverse: Bool) -> V128 {
    var r = V128()
    for i in 0..<16 { r[i] = inverse ? aesInvSbox[Int(s[i])] : aesSbox[Int(s[i])] }
    return r
}

func aesMix(_ s: V128, inverse: Bool) -> V128 {
    var r = V128()
    let m: [UInt8] = inverse ? [14, 11, 13, 9] : [2, 3, 1, 1]
    for c in 0..<4 {
        for row in 0..<4 {
            var v: UInt8 = 0
            for k in 0..<4 { v ^= gfMul(m[(k - row + 4) & 3], s[k + 4 * c]) }
            r[row + 4 * c] = v
        }
    }
    return r
}

@inline(__always) func aesSubWord(_ x: UInt32) -> UInt32 {
    var r: UInt32 = 0
    for i in 0..<4 { r |= UInt32(aesSbox[Int((x >> (8 * UInt32(i))) & 0xFF)]) << (8 * UInt32(i)) }
    return r
}

/// Carry-less 64x64 -> 128 multiplication.
func clmul(_ a: UInt64, _ b: UInt64) -> (lo: UInt64, hi: UInt64) {
    var lo: UInt64 = 0, hi: UInt64 = 0
    for i in 0..<64 where (b >> UInt64(i)) & 1 != 0 {
        lo ^= a << UInt64(i)
        if i > 0 { hi ^= a >> UInt64(64 - i) }
    }
    return (lo, hi)
}

/// The PCMPxSTRx core: returns IntRes2 (bit i for element i).
func pcmpstr(_ a: V128, _ b: V128, len1: Int, len2: Int, imm: Int) -> UInt32 {
    let words = imm & 1 != 0
    let signed = imm & 2 != 0
    let n = words ? 8 : 16
    @inline(__always) func elem(_ v: V128, _ i: Int) -> Int {
        if words { return signed ? Int(v.sw[i]) : Int(v.w[i]) }
        return signed ? Int(v.sb[i]) : Int(v[i])
    }
    let agg = (imm >> 2) & 3
    // BoolRes[j][i]: xmm2 element j against xmm1 element i, with the validity overrides.
    @inline(__always) func boolRes(_ j: Int, _ i: Int, _ ranges: Bool) -> Bool {
        let v1 = i < len1, v2 = j < len2
        if !v1 && !v2 { return agg >= 2 }
        if !v1 { return agg == 3 }
        if !v2 { return false }
        if ranges {
            return i & 1 == 0 ? elem(b, j) >= elem(a, i) : elem(b, j) <= elem(a, i)
        }
        return elem(b, j) == elem(a, i)
    }
    var res1: UInt32 = 0
    switch agg {
    case 0:
        for j in 0..<n {
            for i in 0..<n where boolRes(j, i, false) { res1 |= 1 << UInt32(j); break }
        }
    case 1:
        for j in 0..<n {
            var i = 0
            while i < n {
                if boolRes(j, i, true) && boolRes(j, i + 1, true) { res1 |= 1 << UInt32(j); break }
                i += 2
            }
        }
    case 2:
        for j in 0..<n where boolRes(j, j, false) { res1 |= 1 << UInt32(j) }
    default:
        for j in 0..<n {
            var ok = true
            var i = 0
            while i < n - j {
                if !boolRes(j + i, i, false) { ok = false; break }
                i += 1
            }
            if ok { res1 |= 1 << UInt32(j) }
        }
    }
    let all: UInt32 = (1 << UInt32(n)) - 1
    switch (imm >> 4) & 3 {
    case 1: return ~res1 & all
    case 3:
        let valid: UInt32 = len2 >= 32 ? all : ((1 << UInt32(len2)) - 1) & all
        return res1 ^ valid
    default: return res1
    }
}

extension CPU {
    func execVectorMisc(_ op: VOp, _ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch op {
        case .CRC32:
            let sz: UInt8 = d.opcode & 1 == 0 ? 1 : d.opSize
            let v = try readOp(d.op1, d, sz, ea)
            var crc = UInt32(truncatingIfNeeded: gpr[Int(d.reg)])
            for i in 0..<Int(sz) {
                let byte = UInt32((v >> (8 * UInt64(i))) & 0xFF)
                crc = crc32cTable[Int((crc ^ byte) & 0xFF)] ^ (crc >> 8)
            }
            gpr[Int(d.reg)] = UInt64(crc)
        case .PCMPESTRI, .PCMPESTRM, .PCMPISTRI, .PCMPISTRM:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false, aligned: false)
            let imm = Int(d.imm & 0xFF)
            let n = imm & 1 != 0 ? 8 : 16
            let len1: Int, len2: Int
            if op == .PCMPESTRI || op == .PCMPESTRM {
                @inline(__always) func elen(_ r: Int) -> Int {
                    let v = d.rexW ? Int64(bitPattern: gpr[r]) : Int64(Int32(truncatingIfNeeded: gpr[r]))
                    return Int(min(v.magnitude, UInt64(n)))
                }
                len1 = elen(0); len2 = elen(2)
            } else {
                @inline(__always) func ilen(_ v: V128) -> Int {
                    for i in 0..<n where (n == 8 ? v.w[i] == 0 : v[i] == 0) { return i }
                    return n
                }
                len1 = ilen(a); len2 = ilen(b)
            }
            let r2 = pcmpstr(a, b, len1: len1, len2: len2, imm: imm)
            if op == .PCMPESTRI || op == .PCMPISTRI {
                var idx = n
                if r2 != 0 { idx = imm & 0x40 != 0 ? 31 - r2.leadingZeroBitCount : r2.trailingZeroBitCount }
                gpr[1] = UInt64(idx)
            } else {
                var m = V128()
                if imm & 0x40 != 0 {
                    for i in 0..<n where r2 & (1 << UInt32(i)) != 0 {
                        if n == 8 { m.w[i] = 0xFFFF } else { m[i] = 0xFF }
                    }
                } else {
                    m.lo = UInt64(r2)
                }
                setX(0, m)
            }
            var f: UInt64 = 0
            if r2 != 0 { f |= FlagBit.CF }
            if len2 < n { f |= FlagBit.ZF }
            if len1 < n { f |= FlagBit.SF }
            if r2 & 1 != 0 { f |= FlagBit.OF }
            setFlags(f, mask: FlagBit.status)
        case .PCLMULQDQ:
            let a = getX(d.reg)
            let b = try srcFull(d, ea, mmx: false)
            let imm = Int(d.imm)
            let r = clmul(a.q[imm & 1], b.q[(imm >> 4) & 1])
            setX(d.reg, V128(lo: r.lo, hi: r.hi))
        case .AESENC, .AESENCLAST, .AESDEC, .AESDECLAST:
            let st = getX(d.reg)
            let key = try srcFull(d, ea, mmx: false)
            let inv = op == .AESDEC || op == .AESDECLAST
            var t = aesSub(aesShiftRows(st, inverse: inv), inverse: inv)
            if op == .AESENC || op == .AESDEC { t = aesMix(t, inverse: inv) }
            setX(d.reg, t ^ key)
        case .AESIMC:
            setX(d.reg, aesMix(try srcFull(d, ea, mmx: false), inverse: true))
        case .AESKEYGENASSIST:
            let b = try srcFull(d, ea, mmx: false)
            let rcon = UInt32(d.imm & 0xFF)
            let x1 = aesSubWord(b.d[1]), x3 = aesSubWord(b.d[3])
            @inline(__always) func rot(_ x: UInt32) -> UInt32 { (x >> 8) | (x << 24) }
            var r = V128()
            r.d = SIMD4<UInt32>(x1, rot(x1) ^ rcon, x3, rot(x3) ^ rcon)
            setX(d.reg, r)
        case .SHA1RNDS4, .SHA1NEXTE, .SHA1MSG1, .SHA1MSG2, .SHA256RNDS2, .SHA256MSG1, .SHA256MSG2:
            // Memory operands need 16-byte alignment (legacy SSE).
            let b = try srcFull(d, ea, mmx: false)
            var r = V128()
            r.d = shaOp(op, getX(d.reg).d, b.d, getX(0).d, imm: Int(d.imm & 3))
            setX(d.reg, r)
        default:
            throw Fault.undefined
        }
    }
}

// MARK: SHA extensions (SDM pseudo-code; dword 3 is bits 127:96)

@inline(__always) private func rol(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }
@inline(__always) private func ror(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

func shaOp(_ op: VOp, _ a: SIMD4<UInt32>, _ b: SIMD4<UInt32>, _ x0: SIMD4<UInt32>, imm: Int) -> SIMD4<UInt32> {
    switch op {
    case .SHA1NEXTE:
        return SIMD4(b[0], b[1], b[2], b[3] &+ rol(a[3], 30))
    case .SHA1MSG1:
        return SIMD4(b[2] ^ a[0], b[3] ^ a[1], a[0] ^ a[2], a[1] ^ a[3])
    case .SHA1MSG2:
        let w16 = rol(a[3] ^ b[2], 1), w17 = rol(a[2] ^ b[1], 1), w18 = rol(a[1] ^ b[0], 1), w19 = rol(a[0] ^ w16, 1)
        return SIMD4(w19, w18, w17, w16)
    case .SHA1RNDS4:
        let k: [UInt32] = [0x5A82_7999, 0x6ED9_EBA1, 0x8F1B_BCDC, 0xCA62_C1D6]
        func f(_ b: UInt32, _ c: UInt32, _ d: UInt32) -> UInt32 {
            switch imm {
            case 0: return (b & c) ^ (~b & d)
            case 2: return (b & c) ^ (b & d) ^ (c & d)
            default: return b ^ c ^ d
            }
        }
        var (A, B, C, D, E): (UInt32, UInt32, UInt32, UInt32, UInt32) = (a[3], a[2], a[1], a[0], 0)
        let w = [b[3], b[2], b[1], b[0]]
        for i in 0..<4 {
            let t = f(B, C, D) &+ rol(A, 5) &+ w[i] &+ E &+ k[imm]
            E = D; D = C; C = rol(B, 30); B = A; A = t
        }
        return SIMD4(D, C, B, A)
    case .SHA256MSG1:
        func s0(_ w: UInt32) -> UInt32 { ror(w, 7) ^ ror(w, 18) ^ (w >> 3) }
        return SIMD4(a[0] &+ s0(a[1]), a[1] &+ s0(a[2]), a[2] &+ s0(a[3]), a[3] &+ s0(b[0]))
    case .SHA256MSG2:
        func s1(_ w: UInt32) -> UInt32 { ror(w, 17) ^ ror(w, 19) ^ (w >> 10) }
        let w16 = a[0] &+ s1(b[2]), w17 = a[1] &+ s1(b[3])
        let w18 = a[2] &+ s1(w16), w19 = a[3] &+ s1(w17)
        return SIMD4(w16, w17, w18, w19)
    default: // SHA256RNDS2
        var (A, B, C, D) = (b[3], b[2], a[3], a[2])
        var (E, F, G, H) = (b[1], b[0], a[1], a[0])
        for i in 0..<2 {
            let ch = (E & F) ^ (~E & G)
            let maj = (A & B) ^ (A & C) ^ (B & C)
            let S0 = ror(A, 2) ^ ror(A, 13) ^ ror(A, 22)
            let S1 = ror(E, 6) ^ ror(E, 11) ^ ror(E, 25)
            let t = ch &+ S1 &+ x0[i] &+ H
            let nA = t &+ maj &+ S0, nE = t &+ D
            H = G; G = F; F = E; E = nE
            D = C; C = B; B = A; A = nA
        }
        return SIMD4(F, E, B, A)
    }
}
