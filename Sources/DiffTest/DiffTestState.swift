// Differential tester: random numbers, edge-weighted values, and the architectural state that is
// loaded into (and read back from) both the host CPU and the interpreter.

/// splitmix64: small, fast, and every seed gives a usable stream.
public struct DTRandom {
    var s: UInt64
    public init(seed: UInt64) { s = seed }
    public mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    /// True with probability `percent`/100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    public mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }

    /// 64-bit integer biased to the values where arithmetic goes wrong.
    public mutating func edge64() -> UInt64 {
        let r = next()
        switch below(20) {
        case 0: return 0
        case 1: return ~0
        case 2: return 1
        case 3: return UInt64(below(64))
        case 4, 5: return pick([0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF,
                                0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF,
                                0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FF80, 0xFFFF_FFFF_FFFF_8000,
                                0xFFFF_FFFF_8000_0000, 0x8000_0000_0000_0001, 0x7FFF_FFFF_FFFF_FFFE])
        case 6: return 0 &- UInt64(1 + below(64))
        case 7: return 1 << UInt64(below(64))
        case 8: return (1 << UInt64(below(64))) &- 1
        case 9: return (r & 0xFFFF_FFFF_0000_0000) | UInt64(below(300))
        case 10: return r & 0xFF
        case 11: return r & 0xFFFF
        case 12: return r & 0xFFFF_FFFF
        case 13: return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: r)))
        default: return r
        }
    }

    /// float32 bit pattern: zeros, infinities, NaNs (quiet and signalling), denormals, extremes.
    public mutating func fp32() -> UInt32 {
        let r = UInt32(truncatingIfNeeded: next())
        let sign: UInt32 = chance(50) ? 0x8000_0000 : 0
        switch below(16) {
        case 0: return sign
        case 1: return sign | 0x7F80_0000
        case 2: return sign | 0x7FC0_0000 | (chance(50) ? 0 : r & 0x3F_FFFF)
        case 3: return sign | 0x7F80_0000 | max(1, r & 0x3F_FFFF)
        case 4: return sign | max(1, r & 0x7F_FFFF) >> UInt32(below(20))
        case 5: return sign | 0x0080_0000 | (chance(50) ? 0 : r & 0x7F_FFFF)
        case 6: return sign | 0x7F7F_FFFF ^ (chance(50) ? 0 : r & 0xFF)
        case 7: return sign | 0x3F80_0000
        case 8: return sign | (UInt32(127 - 30 + below(60)) << 23) | (r & 0x7F_0000)
        case 9: return Float(Int32(truncatingIfNeeded: r) >> Int32(below(31))).bitPattern
        case 10: return sign | 0x4F00_0000 | (r & 0x3)      // near 2^31 (conversion limits)
        case 11: return sign | 0x5F00_0000 | (r & 0x3)      // near 2^63
        default: return sign | (UInt32(1 + below(253)) << 23) | (r & 0x7F_FFFF)
        }
    }

    /// float64 bit pattern, same classes as `fp32`.
    public mutating func fp64() -> UInt64 {
        let r = next()
        let sign: UInt64 = chance(50) ? 1 << 63 : 0
        switch below(16) {
        case 0: return sign
        case 1: return sign | 0x7FF0_0000_0000_0000
        case 2: return sign | 0x7FF8_0000_0000_0000 | (chance(50) ? 0 : r & 0x7_FFFF_FFFF_FFFF)
        case 3: return sign | 0x7FF0_0000_0000_0000 | max(1, r & 0x7_FFFF_FFFF_FFFF)
        case 4: return sign | max(1, r & 0xF_FFFF_FFFF_FFFF) >> UInt64(below(50))
        case 5: return sign | 0x0010_0000_0000_0000 | (chance(50) ? 0 : r & 0xF_FFFF_FFFF_FFFF)
        case 6: return sign | 0x7FEF_FFFF_FFFF_FFFF ^ (chance(50) ? 0 : r & 0xFFFF)
        case 7: return sign | 0x3FF0_0000_0000_0000
        case 8: return sign | (UInt64(1023 - 40 + below(80)) << 52) | (r & 0xF_FF00_0000_0000)
        case 9: return Double(Int64(bitPattern: r) >> Int64(below(63))).bitPattern
        case 10: return sign | 0x41E0_0000_0000_0000 | (r & 0x3_FFFF)   // near 2^31
        case 11: return sign | 0x43E0_0000_0000_0000 | (r & 0x3)        // near 2^63
        case 12: return Double(Float(bitPattern: fp32())).bitPattern         // exactly representable as float
        default: return sign | (UInt64(1 + below(2045)) << 52) | (r & 0xF_FFFF_FFFF_FFFF)
        }
    }

    /// 80-bit x87 value (mantissa, sign+exponent): specials, denormals, unsupported encodings.
    public mutating func f80() -> (UInt64, UInt16) {
        let sign: UInt16 = chance(50) ? 0x8000 : 0
        let r = next()
        switch below(16) {
        case 0: return (0, sign)
        case 1: return (1 << 63, 0x7FFF | sign)
        case 2: return (0xC000_0000_0000_0000 | (r >> 3), 0x7FFF | sign)
        case 3: return (0x8000_0000_0000_0000 | (r >> 3) | 1, 0x7FFF | sign)
        case 4: return (r >> UInt64(1 + below(62)), sign)
        case 5: return (r | 1 << 63, sign)                                      // pseudo-denormal
        case 6: return (r >> 1, UInt16(1 + below(0x7FFE)) | sign)               // unnormal
        case 7: return (r | 1 << 63, UInt16(1 + below(3)) | sign)
        case 8: return (r | 1 << 63, UInt16(0x7FFE - below(3)) | sign)
        case 9: return (UInt64(below(1 << 16)) << 48 | 1 << 63, UInt16(0x3FFF + below(20)) | sign)
        case 10: return (0xC000_0000_0000_0000, UInt16(0x3FFE + below(3)) | sign)
        case 11:
            // A float64 value widened (so stores back to memory can be exact).
            let d = Double(bitPattern: fp64() & 0x7FEF_FFFF_FFFF_FFFF | 0x10_0000_0000_0000)
            var v = Float80(d)
            var m: UInt64 = 0, e: UInt16 = 0
            withUnsafeBytes(of: &v) { m = $0.load(as: UInt64.self); e = $0.load(fromByteOffset: 8, as: UInt16.self) }
            return (m, e ^ sign)
        default: return (r | 1 << 63, UInt16(0x3FFF - 40 + below(80)) | sign)
        }
    }

    /// 16 bytes of vector data with one lane interpretation.
    public mutating func lane128(into p: UnsafeMutableRawPointer) {
        switch below(6) {
        case 0:
            for i in 0..<4 { p.storeBytes(of: fp32(), toByteOffset: 4 * i, as: UInt32.self) }
        case 1:
            for i in 0..<2 { p.storeBytes(of: fp64(), toByteOffset: 8 * i, as: UInt64.self) }
        case 2:
            for i in 0..<8 {
                let w: UInt16 = pick([0, 0xFFFF, 0x7FFF, 0x8000, 1, 0x7F, 0x80, 0xFF, UInt16(truncatingIfNeeded: next())])
                p.storeBytes(of: w, toByteOffset: 2 * i, as: UInt16.self)
            }
        case 3:
            for i in 0..<16 {
                let b: UInt8 = pick([0, 0xFF, 0x7F, 0x80, 1, UInt8(truncatingIfNeeded: next()), UInt8(below(16))])
                p.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
            }
        case 4:
            for i in 0..<2 { p.storeBytes(of: edge64(), toByteOffset: 8 * i, as: UInt64.self) }
        default:
            for i in 0..<2 { p.storeBytes(of: next(), toByteOffset: 8 * i, as: UInt64.self) }
        }
    }
}

/// Architectural state compared by the tester.
public struct DTState: Equatable {
    public static let scratchSize = 8192
    public var gpr = [UInt64](repeating: 0, count: 16)
    public var rflags: UInt64 = 0x202
    /// FXSAVE64 image: FCW FSW FTW(abridged) FOP FIP FDP MXCSR, ST0-7, XMM0-15.
    public var fx = [UInt8](repeating: 0, count: 512)
    /// Bits 255:128 of YMM0-15.
    public var ymmHi = [UInt8](repeating: 0, count: 256)
    /// The scratch pages every memory operand points into.
    public var scratch = [UInt8](repeating: 0, count: DTState.scratchSize)

    public init() {}

    /// RESET-like x87/SSE state (FCW 0x37F, all registers empty, MXCSR 0x1F80), zero elsewhere.
    public static var initial: DTState {
        var s = DTState()
        s.setFx(0, 2, 0x37F)
        s.setFx(24, 4, 0x1F80)
        return s
    }

    func fx16(_ o: Int) -> UInt16 { UInt16(fx[o]) | UInt16(fx[o + 1]) << 8 }
    func fx32(_ o: Int) -> UInt32 { UInt32(fx16(o)) | UInt32(fx16(o + 2)) << 16 }
    func fx64(_ o: Int) -> UInt64 { UInt64(fx32(o)) | UInt64(fx32(o + 4)) << 32 }
    public mutating func setFx(_ o: Int, _ n: Int, _ v: UInt64) {
        for i in 0..<n { fx[o + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
    }
    public var fcw: UInt16 { fx16(0) }
    public var fsw: UInt16 { fx16(2) }
    public var ftw: UInt8 { fx[4] }
    public var fop: UInt16 { fx16(6) }
    public var fip: UInt64 { fx64(8) }
    public var fdp: UInt64 { fx64(16) }
    public var mxcsr: UInt32 { fx32(24) }
    public func st(_ i: Int) -> (UInt64, UInt16) { (fx64(32 + 16 * i), fx16(40 + 16 * i)) }
    public func xmm(_ i: Int) -> (UInt64, UInt64) { (fx64(160 + 16 * i), fx64(168 + 16 * i)) }
    public func ymmHigh(_ i: Int) -> (UInt64, UInt64) {
        func q(_ o: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(ymmHi[o + k]) << UInt64(8 * k) }
            return v
        }
        return (q(16 * i), q(16 * i + 8))
    }
}

/// Exception raised by a run (vector, error code, CR2 for #PF, RIP of the faulting instruction).
public struct DTFault: Equatable {
    public var vector: Int
    public var code: UInt64
    public var addr: UInt64
    public var rip: UInt64
}

public struct DTResult {
    public var state: DTState
    public var fault: DTFault?
    /// For runs that neither finished nor faulted (emulator only): where it stopped.
    public var stuckAt: UInt64?
}

let vectorNames = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MP", "#TS", "#NP", "#SS",
                   "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"]

func hex(_ v: UInt64, _ digits: Int = 0) -> String {
    let s = String(v, radix: 16)
    return "0x" + (s.count < digits ? String(repeating: "0", count: digits - s.count) + s : s)
}

func describe(_ f: DTFault?) -> String {
    guard let f else { return "none" }
    let n = f.vector < vectorNames.count ? vectorNames[f.vector] : "vector \(f.vector)"
    var s = n
    if [10, 11, 12, 13, 14, 17].contains(f.vector) { s += "(\(hex(f.code)))" }
    if f.vector == 14 { s += " cr2=\(hex(f.addr))" }
    return s + " at rip=\(hex(f.rip))"
}

func bytesHex(_ b: ArraySlice<UInt8>) -> String {
    b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
func bytesHex(_ b: [UInt8]) -> String { bytesHex(b[...]) }
