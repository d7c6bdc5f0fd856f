// Decoded-instruction cache for the interpreter.
//
// Keyed by the host address of the instruction bytes and the decode mode; an entry is used only
// if the bytes in guest memory still equal the bytes it was decoded from (compared as two masked
// 64-bit words), so stores into code — self-modifying code, DMA, loaders — can never run a
// stale decode, and nothing has to be invalidated.

struct DecodeCacheEntry {
    var key: UInt = 0
    var mode: UInt8 = 0xFF
    var lo: UInt64 = 0
    var hi: UInt64 = 0
    var instr = Instr()
}

final class DecodeCache {
    static let bits = 12
    static let size = 1 << bits
    let entries: UnsafeMutablePointer<DecodeCacheEntry>
    var hits: UInt64 = 0
    var misses: UInt64 = 0

    init() {
        entries = .allocate(capacity: DecodeCache.size)
        entries.initialize(repeating: DecodeCacheEntry(), count: DecodeCache.size)
    }
    deinit { entries.deallocate() }

    @inline(__always) static func masks(_ len: Int) -> (UInt64, UInt64) {
        let lo: UInt64 = len >= 8 ? ~0 : (1 << (UInt64(len) * 8)) - 1
        let hi: UInt64 = len <= 8 ? 0 : (len >= 16 ? ~0 : (1 << (UInt64(len - 8) * 8)) - 1)
        return (lo, hi)
    }

    /// The cached decode for the bytes at `p`, if still valid. `p` must have 16 readable bytes.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, mode: UInt8, avail: Int) -> UnsafeMutablePointer<DecodeCacheEntry>? {
        let key = UInt(bitPattern: p)
        let e = entries + Int((key ^ (key >> UInt(DecodeCache.bits))) & UInt(DecodeCache.size - 1))
        if e.pointee.key != key || e.pointee.mode != mode { return nil }
        let len = Int(e.pointee.instr.len)
        if len > avail { return nil }
        let raw = UnsafeRawPointer(p)
        let (ml, mh) = DecodeCache.masks(len)
        if raw.loadUnaligned(as: UInt64.self) & ml != e.pointee.lo { return nil }
        if mh != 0 && raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & mh != e.pointee.hi { return nil }
        return e
    }

    @inline(__always)
    func insert(_ p: UnsafePointer<UInt8>, mode: UInt8, _ d: Instr) {
        let key = UInt(bitPattern: p)
        let e = entries + Int((key ^ (key >> UInt(DecodeCache.bits))) & UInt(DecodeCache.size - 1))
        let raw = UnsafeRawPointer(p)
        let (ml, mh) = DecodeCache.masks(Int(d.len))
        e.pointee.key = key
        e.pointee.mode = mode
        e.pointee.lo = raw.loadUnaligned(as: UInt64.self) & ml
        e.pointee.hi = mh == 0 ? 0 : raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & mh
        e.pointee.instr = d
    }
}
