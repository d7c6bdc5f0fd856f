// Host x86-64 encoder for the JIT: the instruction forms the block translator emits.
//
// Encoding facts follow the Intel SDM vol. 2 (ModRM/SIB tables 2-2/2-3, REX in 2.2.1, the
// one-byte and 0F opcode maps). Where several encodings are equivalent, the encoder picks the one
// nasm (`-O` default) picks, so the unit tests can compare our bytes with nasm's exactly:
//   * reg,reg ALU/MOV/TEST use the "r/m, reg" opcode (01 /r, 89 /r, 85 /r): ModRM.rm = destination;
//   * ALU with an immediate: imm8 form (83 /n) when the value fits a signed byte, else the short
//     accumulator form (05 id for rax/eax/ax, 04 ib for al), else 81 /n;
//   * `mov r64, imm` uses B8+r id (zero-extending 32-bit move) for 0...UInt32.max, C7 /0 id for
//     other sign-extended 32-bit values and B8+r io (movabs) only otherwise;
//   * shifts by a constant 1 use D1 /n (no immediate byte);
//   * xchg with the accumulator uses 90+r, except `xchg eax, eax` (87 C0: 90 is a no-op that would
//     not clear the upper half of rax);
//   * `[index*1 + disp]` with no base is encoded as `[index + disp]` (nasm does this only for r12
//     and keeps a SIB no-base disp32 form for other registers; ours is shorter and equivalent);
//   * disp8 whenever the displacement fits a signed byte, no displacement when it is 0 (except for
//     rbp/r13 bases, which need mod=01 with disp8 0); rsp/r12 bases always take a SIB byte.
// Prefix order: F0 (lock), 66 (operand size), F2/F3 (mandatory), REX, opcode. nasm emits the same.
//
// Byte registers: with operand size .byte, rax...r15 name al, cl, dl, bl, spl, bpl, sil, dil,
// r8b...r15b. spl/bpl/sil/dil need a REX prefix (an empty 0x40 if nothing else asks for one);
// ah/ch/dh/bh (`Reg.ah` ...) cannot be encoded together with any REX prefix, which traps.
//
// Labels: a jump to a bound label (backward) takes rel8 when the distance fits, rel32 otherwise.
// A jump to an unbound label (forward) takes rel32 unless `short: true` is passed, which promises
// the distance fits a rel8 (checked at `bind`). There is no branch relaxation: the encoder never
// moves code it has emitted, so offsets returned to the caller stay valid.
//
// Position: `origin` is the address byte 0 will have when it runs (the code cache's RX address).
// It is needed for `call(absolute:)`, `jmp(absolute:)`, patchable sites with targets and
// `Mem.rip(target:)`; everything else is position independent.

/// General-purpose registers. The size of the operand (`OpSize`) picks the register's width; with
/// `.byte`, `rsp`...`rdi` are spl/bpl/sil/dil and `ah`...`bh` are the legacy high-byte registers.
public enum Reg: UInt8, Sendable, CaseIterable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi
    case r8, r9, r10, r11, r12, r13, r14, r15
    /// Legacy high-byte registers, valid only with `.byte` and never with a REX prefix.
    case ah = 0x14, ch, dh, bh

    /// The 3 bits that go into ModRM/SIB/opcode.
    @inline(__always) var low3: UInt8 { rawValue & 7 }
    /// The fourth bit (REX.R/X/B).
    @inline(__always) var ext: UInt8 { (rawValue >> 3) & 1 }
    @inline(__always) public var isHighByte: Bool { rawValue >= 0x14 }
    /// The 16 registers addressable in every size.
    public static let gprs: [Reg] = [.rax, .rcx, .rdx, .rbx, .rsp, .rbp, .rsi, .rdi,
                                     .r8, .r9, .r10, .r11, .r12, .r13, .r14, .r15]
}

/// The name used in the JIT brief; the same type.
public typealias Reg64 = Reg

public enum Xmm: UInt8, Sendable, CaseIterable {
    case xmm0 = 0, xmm1, xmm2, xmm3, xmm4, xmm5, xmm6, xmm7
    case xmm8, xmm9, xmm10, xmm11, xmm12, xmm13, xmm14, xmm15
}

public enum OpSize: UInt8, Sendable, CaseIterable {
    case byte = 1, word = 2, dword = 4, qword = 8
    public var bytes: Int { Int(rawValue) }
}

/// Condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc).
public enum Cond: UInt8, Sendable, CaseIterable {
    case o = 0, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
    public static let c = Cond.b, nae = Cond.b, nc = Cond.ae, nb = Cond.ae
    public static let z = Cond.e, nz = Cond.ne, na = Cond.be, nbe = Cond.a
    public static let pe = Cond.p, po = Cond.np, nge = Cond.l, nl = Cond.ge, ng = Cond.le, nle = Cond.g
    /// The opposite condition (flip of the low bit).
    public var inverted: Cond { Cond(rawValue: rawValue ^ 1)! }
}

/// The eight classic ALU operations in encoding order (opcode row and /digit).
public enum ALUOp: UInt8, Sendable, CaseIterable {
    case add = 0, or, adc, sbb, and, sub, xor, cmp
}

/// Group-2 shifts and rotates by their /digit.
public enum ShiftOp: UInt8, Sendable, CaseIterable {
    case rol = 0, ror, rcl, rcr, shl, shr, sar = 7
}

/// BT family by the /digit of its immediate form (0F BA /4.../7).
public enum BitOp: UInt8, Sendable, CaseIterable {
    case bt = 4, bts, btr, btc
}

/// Marker for "count in CL": `shl(.qword, .rax, .cl)`.
public enum CountRegister: Sendable { case cl }

public struct Label: Hashable, Sendable {
    @usableFromInline let id: Int32
}

/// A memory operand: `[base + index*scale + disp]`, `[rip + disp]`, or an absolute `[disp32]`.
public struct Mem: Sendable, Equatable {
    @usableFromInline enum Kind: UInt8, Sendable { case regular, ripDisp, ripTarget }

    public let base: Reg?
    public let index: Reg?
    public let scale: UInt8
    public let disp: Int32
    @usableFromInline let kind: Kind
    /// For `rip(target:)`: the absolute address the operand refers to.
    public let target: UInt64

    /// `[base + index*scale + disp]`; no base and no index is an absolute `[disp32]`
    /// (sign-extended to 64 bits). The index cannot be rsp.
    public init(base: Reg? = nil, index: Reg? = nil, scale: UInt8 = 1, disp: Int32 = 0) {
        precondition(scale == 1 || scale == 2 || scale == 4 || scale == 8, "scale must be 1, 2, 4 or 8")
        precondition(index != .rsp, "rsp cannot be an index register")
        precondition(!(base?.isHighByte ?? false) && !(index?.isHighByte ?? false), "address registers are 64-bit")
        if base == nil, let i = index, scale == 1 {
            // [index*1 + disp] is [index + disp]: encode it as a base (no 4-byte zero displacement).
            self.base = i; self.index = nil
        } else {
            self.base = base; self.index = index
        }
        self.scale = self.index == nil ? 1 : scale
        self.disp = disp
        self.kind = .regular; self.target = 0
    }

    /// `[base + disp]`.
    public init(_ base: Reg, _ disp: Int32 = 0) { self.init(base: base, disp: disp) }

    private init(rip disp: Int32, kind: Kind, target: UInt64) {
        base = nil; index = nil; scale = 1; self.disp = disp; self.kind = kind; self.target = target
    }

    /// Absolute `[disp32]` (SIB form with no base and no index; not RIP-relative).
    public static func abs(_ address: Int32) -> Mem { Mem(base: nil, index: nil, disp: address) }
    /// `[rip + disp]`, the displacement counted from the end of the instruction.
    public static func rip(_ disp: Int32) -> Mem { Mem(rip: disp, kind: .ripDisp, target: 0) }
    /// RIP-relative reference to an absolute address; the assembler's origin must be the address
    /// the code runs at and the target must be within ±2 GiB of it.
    public static func rip(target: UInt64) -> Mem { Mem(rip: 0, kind: .ripTarget, target: target) }

    public var isRIPRelative: Bool { kind != .regular }
}

/// Register or memory operand of a ModRM form (internal).
@usableFromInline enum RM {
    case r(Reg)
    case m(Mem)
}

/// x86-64 encoder writing into a growable byte buffer. See the file comment for the choices.
public final class X86Assembler {
    /// The address byte 0 of the buffer will have when the code runs.
    public private(set) var origin: UInt64
    @usableFromInline var buf: UnsafeMutablePointer<UInt8>
    @usableFromInline var cap: Int
    /// Number of bytes emitted (the offset of the next instruction).
    public private(set) var count: Int = 0

    @usableFromInline var lockNext = false
    @usableFromInline var ripFixAt = -1
    @usableFromInline var ripFixTarget: UInt64 = 0

    @usableFromInline struct Fixup {
        var field: Int      // offset of the rel8/rel32 field
        var label: Int32
        var short: Bool
    }
    @usableFromInline var labelOffsets: [Int] = []
    @usableFromInline var fixups: [Fixup] = []

    public init(origin: UInt64 = 0, capacity: Int = 4096) {
        self.origin = origin
        cap = Swift.max(capacity, 64)
        buf = .allocate(capacity: cap)
    }

    deinit { buf.deallocate() }

    /// Empties the buffer (keeping its storage) and forgets all labels.
    public func reset(origin: UInt64) {
        self.origin = origin
        count = 0
        lockNext = false
        ripFixAt = -1
        labelOffsets.removeAll(keepingCapacity: true)
        fixups.removeAll(keepingCapacity: true)
    }

    /// The offset of the next byte (same as `count`).
    public var offset: Int { count }
    /// The run-time address of the next byte.
    public var currentAddress: UInt64 { origin &+ UInt64(count) }
    /// A copy of the emitted bytes.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: buf, count: count)) }
    /// True while some jump refers to a label that was never bound.
    public var hasUnresolvedLabels: Bool { !fixups.isEmpty }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: buf, count: count))
    }

    // MARK: raw output

    @inline(__always) @usableFromInline func ensure(_ n: Int) {
        if count + n > cap { grow(count + n) }
    }

    @usableFromInline func grow(_ need: Int) {
        var newCap = cap * 2
        while newCap < need { newCap *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: newCap)
        nb.update(from: buf, count: count)
        buf.deallocate()
        buf = nb
        cap = newCap
    }

    /// Caller has ensured room.
    @inline(__always) @usableFromInline func put(_ b: UInt8) {
        buf[count] = b
        count &+= 1
    }

    @inline(__always) @usableFromInline func putLE(_ v: UInt64, _ n: Int) {
        var v = v
        for _ in 0..<n { buf[count] = UInt8(truncatingIfNeeded: v); count &+= 1; v >>= 8 }
    }

    @inline(__always) func store32(at off: Int, _ v: UInt32) {
        buf[off] = UInt8(truncatingIfNeeded: v)
        buf[off + 1] = UInt8(truncatingIfNeeded: v >> 8)
        buf[off + 2] = UInt8(truncatingIfNeeded: v >> 16)
        buf[off + 3] = UInt8(truncatingIfNeeded: v >> 24)
    }

    public func emit8(_ v: UInt8) { ensure(1); put(v) }
    public func emit16(_ v: UInt16) { ensure(2); putLE(UInt64(v), 2) }
    public func emit32(_ v: UInt32) { ensure(4); putLE(UInt64(v), 4) }
    public func emit64(_ v: UInt64) { ensure(8); putLE(v, 8) }
    public func emitBytes(_ bytes: [UInt8]) {
        ensure(bytes.count)
        for b in bytes { put(b) }
    }

    /// Reads back one emitted byte (tests, disassembly).
    public subscript(offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < count)
        return buf[offset]
    }

    // MARK: core encoder

    /// Emits [F0] [66] [mandatory] [REX] opcode ModRM [SIB] [disp] [imm].
    /// `reg` is the ModRM.reg value (a `Reg.rawValue`, an `Xmm.rawValue` or a /digit);
    /// `regByte`/`rmByte` say that the operand is a byte register (for the spl..dil / ah..bh rules).
    @inline(__always) @usableFromInline
    func enc(w: Bool, p66: Bool, mandatory: UInt8 = 0, opcode: UInt32, opLen: Int,
             reg: UInt8, regByte: Bool, rm: RM, rmByte: Bool, imm: Int64 = 0, immLen: Int = 0) {
        ensure(16)
        if lockNext { put(0xF0); lockNext = false }
        if p66 { put(0x66) }
        if mandatory != 0 { put(mandatory) }
        var rex: UInt8 = w ? 8 : 0
        rex |= ((reg >> 3) & 1) << 2
        var force = false
        var forbid = false
        if regByte {
            if reg >= 4 && reg <= 7 { force = true } else if reg >= 0x14 { forbid = true }
        }
        switch rm {
        case .r(let r):
            rex |= r.ext
            if rmByte {
                if r.rawValue >= 4 && r.rawValue <= 7 { force = true } else if r.isHighByte { forbid = true }
            }
        case .m(let m):
            if let b = m.base { rex |= b.ext }
            if let i = m.index { rex |= i.ext << 1 }
        }
        if rex != 0 || force {
            precondition(!forbid, "ah/ch/dh/bh cannot be encoded in an instruction that needs a REX prefix")
            put(0x40 | rex)
        }
        var i = opLen - 1
        while i >= 0 { put(UInt8(truncatingIfNeeded: opcode >> (8 * UInt32(i)))); i -= 1 }
        switch rm {
        case .r(let r): put(0xC0 | (reg & 7) << 3 | r.low3)
        case .m(let m): putMem(reg & 7, m)
        }
        if immLen > 0 { putLE(UInt64(bitPattern: imm), immLen) }
        if ripFixAt >= 0 { resolveRIP() }
    }

    @inline(__always) @usableFromInline func putMem(_ reg: UInt8, _ m: Mem) {
        switch m.kind {
        case .ripDisp:
            put(reg << 3 | 5)
            putLE(UInt64(UInt32(bitPattern: m.disp)), 4)
            return
        case .ripTarget:
            put(reg << 3 | 5)
            ripFixAt = count
            ripFixTarget = m.target
            putLE(0, 4)
            return
        case .regular:
            break
        }
        guard let base = m.base else {
            put(reg << 3 | 4)
            let idx = m.index?.low3 ?? 4
            put(scaleBits(m.scale) << 6 | idx << 3 | 5)
            putLE(UInt64(UInt32(bitPattern: m.disp)), 4)
            return
        }
        let b = base.low3
        let mod: UInt8
        if m.disp == 0 && b != 5 { mod = 0 } else if Int8(exactly: m.disp) != nil { mod = 1 } else { mod = 2 }
        if m.index != nil || b == 4 {
            put(mod << 6 | reg << 3 | 4)
            let idx = m.index?.low3 ?? 4
            put(scaleBits(m.scale) << 6 | idx << 3 | b)
        } else {
            put(mod << 6 | reg << 3 | b)
        }
        if mod == 1 { put(UInt8(truncatingIfNeeded: m.disp)) } else if mod == 2 { putLE(UInt64(UInt32(bitPattern: m.disp)), 4) }
    }

    @inline(__always) func scaleBits(_ s: UInt8) -> UInt8 {
        switch s { case 1: return 0; case 2: return 1; case 4: return 2; default: return 3 }
    }

    @usableFromInline func resolveRIP() {
        let next = origin &+ UInt64(count)
        let d = Int64(bitPattern: ripFixTarget &- next)
        guard let d32 = Int32(exactly: d) else {
            preconditionFailure("RIP-relative target out of ±2 GiB range")
        }
        store32(at: ripFixAt, UInt32(bitPattern: d32))
        ripFixAt = -1
    }

    /// ModRM form whose reg field is a register of the operation's size.
    @inline(__always) func rr(_ s: OpSize, _ opc: UInt32, _ len: Int = 1, reg: Reg, rm: RM,
                              imm: Int64 = 0, immLen: Int = 0, mandatory: UInt8 = 0) {
        checkSize(reg, s)
        if case .r(let r) = rm { checkSize(r, s) }
        enc(w: s == .qword, p66: s == .word, mandatory: mandatory, opcode: opc, opLen: len,
            reg: reg.rawValue, regByte: s == .byte, rm: rm, rmByte: s == .byte, imm: imm, immLen: immLen)
    }

    /// ModRM form whose reg field is an opcode extension (/digit).
    @inline(__always) func dg(_ s: OpSize, _ opc: UInt32, _ len: Int = 1, digit: UInt8, rm: RM,
                              imm: Int64 = 0, immLen: Int = 0) {
        if case .r(let r) = rm { checkSize(r, s) }
        enc(w: s == .qword, p66: s == .word, opcode: opc, opLen: len,
            reg: digit, regByte: false, rm: rm, rmByte: s == .byte, imm: imm, immLen: immLen)
    }

    /// Opcode with the register in its low 3 bits (B8+r, 50+r, ...): [66] [REX] op+r [imm].
    @inline(__always) func plusR(_ s: OpSize, _ opc: UInt8, _ r: Reg, w: Bool, prefix0F: Bool = false,
                                 imm: UInt64 = 0, immLen: Int = 0) {
        checkSize(r, s)
        ensure(16)
        if lockNext { put(0xF0); lockNext = false }
        if s == .word { put(0x66) }
        let rex: UInt8 = (w ? 8 : 0) | r.ext
        let force = s == .byte && r.rawValue >= 4 && r.rawValue <= 7
        if rex != 0 || force { put(0x40 | rex) }
        if prefix0F { put(0x0F) }
        put(opc | r.low3)
        if immLen > 0 { putLE(imm, immLen) }
    }

    /// Opcode with no ModRM and only size prefixes: [66] [REX.W] op [imm].
    @inline(__always) func sized(_ s: OpSize, _ opc: UInt8, imm: Int64 = 0, immLen: Int = 0) {
        ensure(16)
        if lockNext { put(0xF0); lockNext = false }
        if s == .word { put(0x66) }
        if s == .qword { put(0x48) }
        put(opc)
        if immLen > 0 { putLE(UInt64(bitPattern: imm), immLen) }
    }

    @inline(__always) func checkSize(_ r: Reg, _ s: OpSize) {
        precondition(s == .byte || !r.isHighByte, "ah/ch/dh/bh are byte registers")
    }

    @inline(__always) static func immLen(_ s: OpSize) -> Int { s == .byte ? 1 : s == .word ? 2 : 4 }

    /// The immediate as the CPU sees it after truncation to the operand size (sign-extended).
    @inline(__always) static func truncImm(_ v: Int32, _ s: OpSize) -> Int64 {
        switch s {
        case .byte: return Int64(Int8(truncatingIfNeeded: v))
        case .word: return Int64(Int16(truncatingIfNeeded: v))
        default: return Int64(v)
        }
    }

    /// Makes the next instruction carry a LOCK prefix (F0).
    public func lock() { lockNext = true }

    // MARK: MOV

    /// `mov dst, src` (88/89 /r).
    public func mov(_ s: OpSize, _ dst: Reg, _ src: Reg) { rr(s, s == .byte ? 0x88 : 0x89, reg: src, rm: .r(dst)) }
    /// `mov dst, [mem]` (8A/8B /r).
    public func mov(_ s: OpSize, _ dst: Reg, _ src: Mem) { rr(s, s == .byte ? 0x8A : 0x8B, reg: dst, rm: .m(src)) }
    /// `mov [mem], src` (88/89 /r).
    public func mov(_ s: OpSize, _ dst: Mem, _ src: Reg) { rr(s, s == .byte ? 0x88 : 0x89, reg: src, rm: .m(dst)) }

    /// `mov dst, imm` in the shortest form: B0+r ib, 66 B8+r iw, B8+r id; for `.qword` B8+r id
    /// when the value is in 0...UInt32.max (zero-extending), C7 /0 id when it fits a sign-extended
    /// 32-bit immediate, else movabs (REX.W B8+r io). The value is truncated to the operand size.
    public func mov(_ s: OpSize, _ dst: Reg, _ imm: Int64) {
        switch s {
        case .byte: plusR(.byte, 0xB0, dst, w: false, imm: UInt64(bitPattern: imm), immLen: 1)
        case .word: plusR(.word, 0xB8, dst, w: false, imm: UInt64(bitPattern: imm), immLen: 2)
        case .dword: plusR(.dword, 0xB8, dst, w: false, imm: UInt64(bitPattern: imm), immLen: 4)
        case .qword:
            if imm >= 0 && imm <= Int64(UInt32.max) {
                plusR(.dword, 0xB8, dst, w: false, imm: UInt64(imm), immLen: 4)
            } else if Int32(exactly: imm) != nil {
                dg(.qword, 0xC7, digit: 0, rm: .r(dst), imm: imm, immLen: 4)
            } else {
                plusR(.qword, 0xB8, dst, w: true, imm: UInt64(bitPattern: imm), immLen: 8)
            }
        }
    }

    /// `mov r64, simm32` always in the 7-byte sign-extending form (REX.W C7 /0 id).
    public func movImm32(_ dst: Reg, _ imm: Int32) { dg(.qword, 0xC7, digit: 0, rm: .r(dst), imm: Int64(imm), immLen: 4) }

    /// `movabs r64, imm64` always in the 10-byte form. Returns the offset of the 8-byte immediate
    /// (for patching a constant later).
    @discardableResult
    public func movabs(_ dst: Reg, _ imm: UInt64) -> Int {
        plusR(.qword, 0xB8, dst, w: true, imm: imm, immLen: 8)
        return count - 8
    }

    /// `mov [mem], imm` (C6 /0 ib, C7 /0 iw/id; for `.qword` the imm32 is sign-extended).
    public func mov(_ s: OpSize, _ dst: Mem, _ imm: Int32) {
        dg(s, s == .byte ? 0xC6 : 0xC7, digit: 0, rm: .m(dst), imm: Int64(imm), immLen: X86Assembler.immLen(s))
    }

    /// `movzx dst, src` (0F B6 / 0F B7). `srcSize` is `.byte` or `.word`, `s` is the destination size.
    public func movzx(_ s: OpSize, _ dst: Reg, _ srcSize: OpSize, _ src: Reg) { extend(0xB6, s, dst, srcSize, .r(src)) }
    public func movzx(_ s: OpSize, _ dst: Reg, _ srcSize: OpSize, _ src: Mem) { extend(0xB6, s, dst, srcSize, .m(src)) }
    /// `movsx dst, src` (0F BE / 0F BF).
    public func movsx(_ s: OpSize, _ dst: Reg, _ srcSize: OpSize, _ src: Reg) { extend(0xBE, s, dst, srcSize, .r(src)) }
    public func movsx(_ s: OpSize, _ dst: Reg, _ srcSize: OpSize, _ src: Mem) { extend(0xBE, s, dst, srcSize, .m(src)) }

    func extend(_ base: UInt32, _ s: OpSize, _ dst: Reg, _ srcSize: OpSize, _ src: RM) {
        precondition(srcSize == .byte || srcSize == .word, "movzx/movsx source is a byte or a word")
        precondition(s.rawValue > srcSize.rawValue, "movzx/movsx widen")
        checkSize(dst, s)
        if case .r(let r) = src { checkSize(r, srcSize) }
        enc(w: s == .qword, p66: s == .word, opcode: 0x0F00 | (base + (srcSize == .word ? 1 : 0)), opLen: 2,
            reg: dst.rawValue, regByte: false, rm: src, rmByte: srcSize == .byte)
    }

    /// `movsxd r64, r/m32` (REX.W 63 /r).
    public func movsxd(_ dst: Reg, _ src: Reg) { enc(w: true, p66: false, opcode: 0x63, opLen: 1, reg: dst.rawValue, regByte: false, rm: .r(src), rmByte: false) }
    public func movsxd(_ dst: Reg, _ src: Mem) { enc(w: true, p66: false, opcode: 0x63, opLen: 1, reg: dst.rawValue, regByte: false, rm: .m(src), rmByte: false) }

    /// `lea dst, [mem]` (8D /r); size `.word`, `.dword` or `.qword`.
    public func lea(_ s: OpSize, _ dst: Reg, _ src: Mem) {
        precondition(s != .byte)
        rr(s, 0x8D, reg: dst, rm: .m(src))
    }

    // MARK: ALU

    /// `op dst, src` with registers (00+8n /r or 01+8n /r: ModRM.rm = dst).
    public func alu(_ op: ALUOp, _ s: OpSize, _ dst: Reg, _ src: Reg) {
        rr(s, UInt32(op.rawValue << 3 | (s == .byte ? 0 : 1)), reg: src, rm: .r(dst))
    }
    /// `op dst, [mem]` (02+8n / 03+8n /r).
    public func alu(_ op: ALUOp, _ s: OpSize, _ dst: Reg, _ src: Mem) {
        rr(s, UInt32(op.rawValue << 3 | (s == .byte ? 2 : 3)), reg: dst, rm: .m(src))
    }
    /// `op [mem], src` (00+8n / 01+8n /r).
    public func alu(_ op: ALUOp, _ s: OpSize, _ dst: Mem, _ src: Reg) {
        rr(s, UInt32(op.rawValue << 3 | (s == .byte ? 0 : 1)), reg: src, rm: .m(dst))
    }
    /// `op dst, imm`: 83 /n ib when the (size-truncated) value fits a signed byte, the accumulator
    /// form for al/ax/eax/rax, else 80 /n ib or 81 /n iw/id. For `.qword` the imm32 is sign-extended.
    public func alu(_ op: ALUOp, _ s: OpSize, _ dst: Reg, _ imm: Int32) {
        let v = X86Assembler.truncImm(imm, s)
        if s == .byte {
            if dst == .rax { sized(.byte, op.rawValue << 3 | 4, imm: v, immLen: 1) } else { dg(.byte, 0x80, digit: op.rawValue, rm: .r(dst), imm: v, immLen: 1) }
        } else if Int8(exactly: v) != nil {
            dg(s, 0x83, digit: op.rawValue, rm: .r(dst), imm: v, immLen: 1)
        } else if dst == .rax {
            sized(s, op.rawValue << 3 | 5, imm: v, immLen: X86Assembler.immLen(s))
        } else {
            dg(s, 0x81, digit: op.rawValue, rm: .r(dst), imm: v, immLen: X86Assembler.immLen(s))
        }
    }
    /// `op [mem], imm` (80 /n ib, 83 /n ib, 81 /n iw/id).
    public func alu(_ op: ALUOp, _ s: OpSize, _ dst: Mem, _ imm: Int32) {
        let v = X86Assembler.truncImm(imm, s)
        if s == .byte {
            dg(.byte, 0x80, digit: op.rawValue, rm: .m(dst), imm: v, immLen: 1)
        } else if Int8(exactly: v) != nil {
            dg(s, 0x83, digit: op.rawValue, rm: .m(dst), imm: v, immLen: 1)
        } else {
            dg(s, 0x81, digit: op.rawValue, rm: .m(dst), imm: v, immLen: X86Assembler.immLen(s))
        }
    }

    public func add(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.add, s, d, r) }
    public func add(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.add, s, d, m) }
    public func add(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.add, s, m, r) }
    public func add(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.add, s, d, i) }
    public func add(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.add, s, m, i) }
    public func or(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.or, s, d, r) }
    public func or(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.or, s, d, m) }
    public func or(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.or, s, m, r) }
    public func or(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.or, s, d, i) }
    public func or(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.or, s, m, i) }
    public func adc(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.adc, s, d, r) }
    public func adc(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.adc, s, d, m) }
    public func adc(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.adc, s, m, r) }
    public func adc(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.adc, s, d, i) }
    public func adc(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.adc, s, m, i) }
    public func sbb(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.sbb, s, d, r) }
    public func sbb(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.sbb, s, d, m) }
    public func sbb(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.sbb, s, m, r) }
    public func sbb(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.sbb, s, d, i) }
    public func sbb(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.sbb, s, m, i) }
    public func and(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.and, s, d, r) }
    public func and(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.and, s, d, m) }
    public func and(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.and, s, m, r) }
    public func and(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.and, s, d, i) }
    public func and(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.and, s, m, i) }
    public func sub(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.sub, s, d, r) }
    public func sub(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.sub, s, d, m) }
    public func sub(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.sub, s, m, r) }
    public func sub(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.sub, s, d, i) }
    public func sub(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.sub, s, m, i) }
    public func xor(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.xor, s, d, r) }
    public func xor(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.xor, s, d, m) }
    public func xor(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.xor, s, m, r) }
    public func xor(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.xor, s, d, i) }
    public func xor(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.xor, s, m, i) }
    public func cmp(_ s: OpSize, _ d: Reg, _ r: Reg) { alu(.cmp, s, d, r) }
    public func cmp(_ s: OpSize, _ d: Reg, _ m: Mem) { alu(.cmp, s, d, m) }
    public func cmp(_ s: OpSize, _ m: Mem, _ r: Reg) { alu(.cmp, s, m, r) }
    public func cmp(_ s: OpSize, _ d: Reg, _ i: Int32) { alu(.cmp, s, d, i) }
    public func cmp(_ s: OpSize, _ m: Mem, _ i: Int32) { alu(.cmp, s, m, i) }

    /// `test a, b` (84/85 /r, ModRM.rm = a).
    public func test(_ s: OpSize, _ a: Reg, _ b: Reg) { rr(s, s == .byte ? 0x84 : 0x85, reg: b, rm: .r(a)) }
    public func test(_ s: OpSize, _ a: Mem, _ b: Reg) { rr(s, s == .byte ? 0x84 : 0x85, reg: b, rm: .m(a)) }
    /// `test r, imm` (A8 ib / A9 iw/id for the accumulator, else F6 /0 ib, F7 /0 iw/id).
    public func test(_ s: OpSize, _ a: Reg, _ imm: Int32) {
        let v = X86Assembler.truncImm(imm, s)
        if a == .rax {
            sized(s, s == .byte ? 0xA8 : 0xA9, imm: v, immLen: X86Assembler.immLen(s))
        } else {
            dg(s, s == .byte ? 0xF6 : 0xF7, digit: 0, rm: .r(a), imm: v, immLen: X86Assembler.immLen(s))
        }
    }
    public func test(_ s: OpSize, _ a: Mem, _ imm: Int32) {
        dg(s, s == .byte ? 0xF6 : 0xF7, digit: 0, rm: .m(a), imm: X86Assembler.truncImm(imm, s), immLen: X86Assembler.immLen(s))
    }

    // MARK: unary (inc dec not neg mul imul div idiv)

    @inline(__always) func group3(_ d: UInt8, _ s: OpSize, _ rm: RM) { dg(s, s == .byte ? 0xF6 : 0xF7, digit: d, rm: rm) }
    @inline(__always) func group45(_ d: UInt8, _ s: OpSize, _ rm: RM) { dg(s, s == .byte ? 0xFE : 0xFF, digit: d, rm: rm) }

    public func inc(_ s: OpSize, _ r: Reg) { group45(0, s, .r(r)) }
    public func inc(_ s: OpSize, _ m: Mem) { group45(0, s, .m(m)) }
    public func dec(_ s: OpSize, _ r: Reg) { group45(1, s, .r(r)) }
    public func dec(_ s: OpSize, _ m: Mem) { group45(1, s, .m(m)) }
    public func not(_ s: OpSize, _ r: Reg) { group3(2, s, .r(r)) }
    public func not(_ s: OpSize, _ m: Mem) { group3(2, s, .m(m)) }
    public func neg(_ s: OpSize, _ r: Reg) { group3(3, s, .r(r)) }
    public func neg(_ s: OpSize, _ m: Mem) { group3(3, s, .m(m)) }
    /// Unsigned multiply of the accumulator: rdx:rax = rax * src (F6/F7 /4).
    public func mul(_ s: OpSize, _ r: Reg) { group3(4, s, .r(r)) }
    public func mul(_ s: OpSize, _ m: Mem) { group3(4, s, .m(m)) }
    /// One-operand signed multiply of the accumulator (F6/F7 /5).
    public func imul(_ s: OpSize, _ r: Reg) { group3(5, s, .r(r)) }
    public func imul(_ s: OpSize, _ m: Mem) { group3(5, s, .m(m)) }
    public func div(_ s: OpSize, _ r: Reg) { group3(6, s, .r(r)) }
    public func div(_ s: OpSize, _ m: Mem) { group3(6, s, .m(m)) }
    public func idiv(_ s: OpSize, _ r: Reg) { group3(7, s, .r(r)) }
    public func idiv(_ s: OpSize, _ m: Mem) { group3(7, s, .m(m)) }

    /// `imul dst, src` (0F AF /r); size `.word`...`.qword`.
    public func imul(_ s: OpSize, _ dst: Reg, _ src: Reg) { precondition(s != .byte); rr(s, 0x0FAF, 2, reg: dst, rm: .r(src)) }
    public func imul(_ s: OpSize, _ dst: Reg, _ src: Mem) { precondition(s != .byte); rr(s, 0x0FAF, 2, reg: dst, rm: .m(src)) }
    /// `imul dst, src, imm` (6B /r ib when the value fits a signed byte, else 69 /r iw/id).
    public func imul(_ s: OpSize, _ dst: Reg, _ src: Reg, _ imm: Int32) { imul3(s, dst, .r(src), imm) }
    public func imul(_ s: OpSize, _ dst: Reg, _ src: Mem, _ imm: Int32) { imul3(s, dst, .m(src), imm) }

    func imul3(_ s: OpSize, _ dst: Reg, _ src: RM, _ imm: Int32) {
        precondition(s != .byte)
        let v = X86Assembler.truncImm(imm, s)
        if Int8(exactly: v) != nil {
            rr(s, 0x6B, reg: dst, rm: src, imm: v, immLen: 1)
        } else {
            rr(s, 0x69, reg: dst, rm: src, imm: v, immLen: X86Assembler.immLen(s))
        }
    }

    // MARK: shifts and rotates

    /// `op dst, count`: D0/D1 /n for a count of 1, C0/C1 /n ib otherwise.
    public func shift(_ op: ShiftOp, _ s: OpSize, _ dst: Reg, _ count: UInt8) { shiftImm(op, s, .r(dst), count) }
    public func shift(_ op: ShiftOp, _ s: OpSize, _ dst: Mem, _ count: UInt8) { shiftImm(op, s, .m(dst), count) }
    /// `op dst, cl` (D2/D3 /n).
    public func shift(_ op: ShiftOp, _ s: OpSize, _ dst: Reg, _: CountRegister) { dg(s, s == .byte ? 0xD2 : 0xD3, digit: op.rawValue, rm: .r(dst)) }
    public func shift(_ op: ShiftOp, _ s: OpSize, _ dst: Mem, _: CountRegister) { dg(s, s == .byte ? 0xD2 : 0xD3, digit: op.rawValue, rm: .m(dst)) }

    func shiftImm(_ op: ShiftOp, _ s: OpSize, _ rm: RM, _ count: UInt8) {
        if count == 1 {
            dg(s, s == .byte ? 0xD0 : 0xD1, digit: op.rawValue, rm: rm)
        } else {
            dg(s, s == .byte ? 0xC0 : 0xC1, digit: op.rawValue, rm: rm, imm: Int64(count), immLen: 1)
        }
    }

    public func shl(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.shl, s, d, n) }
    public func shl(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.shl, s, d, n) }
    public func shl(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.shl, s, d, c) }
    public func shl(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.shl, s, d, c) }
    public func shr(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.shr, s, d, n) }
    public func shr(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.shr, s, d, n) }
    public func shr(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.shr, s, d, c) }
    public func shr(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.shr, s, d, c) }
    public func sar(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.sar, s, d, n) }
    public func sar(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.sar, s, d, n) }
    public func sar(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.sar, s, d, c) }
    public func sar(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.sar, s, d, c) }
    public func rol(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.rol, s, d, n) }
    public func rol(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.rol, s, d, n) }
    public func rol(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.rol, s, d, c) }
    public func rol(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.rol, s, d, c) }
    public func ror(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.ror, s, d, n) }
    public func ror(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.ror, s, d, n) }
    public func ror(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.ror, s, d, c) }
    public func ror(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.ror, s, d, c) }
    public func rcl(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.rcl, s, d, n) }
    public func rcl(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.rcl, s, d, n) }
    public func rcl(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.rcl, s, d, c) }
    public func rcl(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.rcl, s, d, c) }
    public func rcr(_ s: OpSize, _ d: Reg, _ n: UInt8) { shift(.rcr, s, d, n) }
    public func rcr(_ s: OpSize, _ d: Mem, _ n: UInt8) { shift(.rcr, s, d, n) }
    public func rcr(_ s: OpSize, _ d: Reg, _ c: CountRegister) { shift(.rcr, s, d, c) }
    public func rcr(_ s: OpSize, _ d: Mem, _ c: CountRegister) { shift(.rcr, s, d, c) }

    /// `shld dst, src, imm8` (0F A4 /r ib) and `shld dst, src, cl` (0F A5 /r); `.word`...`.qword`.
    public func shld(_ s: OpSize, _ dst: Reg, _ src: Reg, _ n: UInt8) { dshift(0x0FA4, s, .r(dst), src, n) }
    public func shld(_ s: OpSize, _ dst: Mem, _ src: Reg, _ n: UInt8) { dshift(0x0FA4, s, .m(dst), src, n) }
    public func shld(_ s: OpSize, _ dst: Reg, _ src: Reg, _: CountRegister) { dshiftCL(0x0FA5, s, .r(dst), src) }
    public func shld(_ s: OpSize, _ dst: Mem, _ src: Reg, _: CountRegister) { dshiftCL(0x0FA5, s, .m(dst), src) }
    /// `shrd` (0F AC /r ib, 0F AD /r).
    public func shrd(_ s: OpSize, _ dst: Reg, _ src: Reg, _ n: UInt8) { dshift(0x0FAC, s, .r(dst), src, n) }
    public func shrd(_ s: OpSize, _ dst: Mem, _ src: Reg, _ n: UInt8) { dshift(0x0FAC, s, .m(dst), src, n) }
    public func shrd(_ s: OpSize, _ dst: Reg, _ src: Reg, _: CountRegister) { dshiftCL(0x0FAD, s, .r(dst), src) }
    public func shrd(_ s: OpSize, _ dst: Mem, _ src: Reg, _: CountRegister) { dshiftCL(0x0FAD, s, .m(dst), src) }

    func dshift(_ opc: UInt32, _ s: OpSize, _ dst: RM, _ src: Reg, _ n: UInt8) {
        precondition(s != .byte)
        rr(s, opc, 2, reg: src, rm: dst, imm: Int64(n), immLen: 1)
    }
    func dshiftCL(_ opc: UInt32, _ s: OpSize, _ dst: RM, _ src: Reg) {
        precondition(s != .byte)
        rr(s, opc, 2, reg: src, rm: dst)
    }

    // MARK: bit operations

    /// `bt/bts/btr/btc dst, src` (0F A3/AB/B3/BB /r); `.word`...`.qword`.
    public func bitOp(_ op: BitOp, _ s: OpSize, _ dst: Reg, _ src: Reg) { bitReg(op, s, .r(dst), src) }
    public func bitOp(_ op: BitOp, _ s: OpSize, _ dst: Mem, _ src: Reg) { bitReg(op, s, .m(dst), src) }
    /// `bt/bts/btr/btc dst, imm8` (0F BA /4.../7 ib).
    public func bitOp(_ op: BitOp, _ s: OpSize, _ dst: Reg, _ bit: UInt8) { bitImm(op, s, .r(dst), bit) }
    public func bitOp(_ op: BitOp, _ s: OpSize, _ dst: Mem, _ bit: UInt8) { bitImm(op, s, .m(dst), bit) }

    func bitReg(_ op: BitOp, _ s: OpSize, _ dst: RM, _ src: Reg) {
        precondition(s != .byte)
        rr(s, 0x0FA3 + UInt32(op.rawValue - 4) * 8, 2, reg: src, rm: dst)
    }
    func bitImm(_ op: BitOp, _ s: OpSize, _ dst: RM, _ bit: UInt8) {
        precondition(s != .byte)
        dg(s, 0x0FBA, 2, digit: op.rawValue, rm: dst, imm: Int64(bit), immLen: 1)
    }

    public func bt(_ s: OpSize, _ d: Reg, _ r: Reg) { bitOp(.bt, s, d, r) }
    public func bt(_ s: OpSize, _ d: Mem, _ r: Reg) { bitOp(.bt, s, d, r) }
    public func bt(_ s: OpSize, _ d: Reg, _ n: UInt8) { bitOp(.bt, s, d, n) }
    public func bt(_ s: OpSize, _ d: Mem, _ n: UInt8) { bitOp(.bt, s, d, n) }
    public func bts(_ s: OpSize, _ d: Reg, _ r: Reg) { bitOp(.bts, s, d, r) }
    public func bts(_ s: OpSize, _ d: Mem, _ r: Reg) { bitOp(.bts, s, d, r) }
    public func bts(_ s: OpSize, _ d: Reg, _ n: UInt8) { bitOp(.bts, s, d, n) }
    public func bts(_ s: OpSize, _ d: Mem, _ n: UInt8) { bitOp(.bts, s, d, n) }
    public func btr(_ s: OpSize, _ d: Reg, _ r: Reg) { bitOp(.btr, s, d, r) }
    public func btr(_ s: OpSize, _ d: Mem, _ r: Reg) { bitOp(.btr, s, d, r) }
    public func btr(_ s: OpSize, _ d: Reg, _ n: UInt8) { bitOp(.btr, s, d, n) }
    public func btr(_ s: OpSize, _ d: Mem, _ n: UInt8) { bitOp(.btr, s, d, n) }
    public func btc(_ s: OpSize, _ d: Reg, _ r: Reg) { bitOp(.btc, s, d, r) }
    public func btc(_ s: OpSize, _ d: Mem, _ r: Reg) { bitOp(.btc, s, d, r) }
    public func btc(_ s: OpSize, _ d: Reg, _ n: UInt8) { bitOp(.btc, s, d, n) }
    public func btc(_ s: OpSize, _ d: Mem, _ n: UInt8) { bitOp(.btc, s, d, n) }

    /// `bsf dst, src` (0F BC /r), `bsr` (0F BD /r); `.word`...`.qword`.
    public func bsf(_ s: OpSize, _ dst: Reg, _ src: Reg) { scan(0x0FBC, 0, s, dst, .r(src)) }
    public func bsf(_ s: OpSize, _ dst: Reg, _ src: Mem) { scan(0x0FBC, 0, s, dst, .m(src)) }
    public func bsr(_ s: OpSize, _ dst: Reg, _ src: Reg) { scan(0x0FBD, 0, s, dst, .r(src)) }
    public func bsr(_ s: OpSize, _ dst: Reg, _ src: Mem) { scan(0x0FBD, 0, s, dst, .m(src)) }
    /// `tzcnt` (F3 0F BC), `lzcnt` (F3 0F BD), `popcnt` (F3 0F B8): need BMI1/LZCNT/POPCNT on the host.
    public func tzcnt(_ s: OpSize, _ dst: Reg, _ src: Reg) { scan(0x0FBC, 0xF3, s, dst, .r(src)) }
    public func tzcnt(_ s: OpSize, _ dst: Reg, _ src: Mem) { scan(0x0FBC, 0xF3, s, dst, .m(src)) }
    public func lzcnt(_ s: OpSize, _ dst: Reg, _ src: Reg) { scan(0x0FBD, 0xF3, s, dst, .r(src)) }
    public func lzcnt(_ s: OpSize, _ dst: Reg, _ src: Mem) { scan(0x0FBD, 0xF3, s, dst, .m(src)) }
    public func popcnt(_ s: OpSize, _ dst: Reg, _ src: Reg) { scan(0x0FB8, 0xF3, s, dst, .r(src)) }
    public func popcnt(_ s: OpSize, _ dst: Reg, _ src: Mem) { scan(0x0FB8, 0xF3, s, dst, .m(src)) }

    func scan(_ opc: UInt32, _ mandatory: UInt8, _ s: OpSize, _ dst: Reg, _ src: RM) {
        precondition(s != .byte)
        rr(s, opc, 2, reg: dst, rm: src, mandatory: mandatory)
    }

    /// `bswap r32/r64` (0F C8+r).
    public func bswap(_ s: OpSize, _ r: Reg) {
        precondition(s == .dword || s == .qword, "bswap is 32- or 64-bit")
        plusR(s, 0xC8, r, w: s == .qword, prefix0F: true)
    }

    // MARK: exchange and atomics

    /// `xchg a, b`: 90+r when one operand is the accumulator (except `xchg eax, eax`, 87 C0),
    /// else 86/87 /r with ModRM.reg = a, ModRM.rm = b.
    public func xchg(_ s: OpSize, _ a: Reg, _ b: Reg) {
        if s != .byte && (a == .rax || b == .rax) && !(s == .dword && a == .rax && b == .rax) {
            plusR(s, 0x90, a == .rax ? b : a, w: s == .qword)
        } else {
            rr(s, s == .byte ? 0x86 : 0x87, reg: a, rm: .r(b))
        }
    }
    /// `xchg [mem], r` (86/87 /r; implicitly locked by the CPU).
    public func xchg(_ s: OpSize, _ m: Mem, _ r: Reg) { rr(s, s == .byte ? 0x86 : 0x87, reg: r, rm: .m(m)) }

    /// `cmpxchg dst, src` (0F B0/B1 /r). Precede with `lock()` for an atomic memory form.
    public func cmpxchg(_ s: OpSize, _ dst: Reg, _ src: Reg) { rr(s, s == .byte ? 0x0FB0 : 0x0FB1, 2, reg: src, rm: .r(dst)) }
    public func cmpxchg(_ s: OpSize, _ dst: Mem, _ src: Reg) { rr(s, s == .byte ? 0x0FB0 : 0x0FB1, 2, reg: src, rm: .m(dst)) }
    /// `xadd dst, src` (0F C0/C1 /r).
    public func xadd(_ s: OpSize, _ dst: Reg, _ src: Reg) { rr(s, s == .byte ? 0x0FC0 : 0x0FC1, 2, reg: src, rm: .r(dst)) }
    public func xadd(_ s: OpSize, _ dst: Mem, _ src: Reg) { rr(s, s == .byte ? 0x0FC0 : 0x0FC1, 2, reg: src, rm: .m(dst)) }

    // MARK: flags and conditions

    /// `setcc r8` (0F 90+cc /0).
    public func setcc(_ c: Cond, _ r: Reg) { dg(.byte, 0x0F90 | UInt32(c.rawValue), 2, digit: 0, rm: .r(r)) }
    public func setcc(_ c: Cond, _ m: Mem) { dg(.byte, 0x0F90 | UInt32(c.rawValue), 2, digit: 0, rm: .m(m)) }
    /// `seto r8`.
    public func seto(_ r: Reg) { setcc(.o, r) }
    /// `cmovcc dst, src` (0F 40+cc /r); `.word`...`.qword`.
    public func cmov(_ c: Cond, _ s: OpSize, _ dst: Reg, _ src: Reg) { precondition(s != .byte); rr(s, 0x0F40 | UInt32(c.rawValue), 2, reg: dst, rm: .r(src)) }
    public func cmov(_ c: Cond, _ s: OpSize, _ dst: Reg, _ src: Mem) { precondition(s != .byte); rr(s, 0x0F40 | UInt32(c.rawValue), 2, reg: dst, rm: .m(src)) }

    public func pushfq() { emit8(0x9C) }
    public func popfq() { emit8(0x9D) }
    public func lahf() { emit8(0x9F) }
    public func sahf() { emit8(0x9E) }
    public func clc() { emit8(0xF8) }
    public func stc() { emit8(0xF9) }
    public func cmc() { emit8(0xF5) }

    // MARK: sign extension of the accumulator

    public func cbw() { emitBytes([0x66, 0x98]) }
    public func cwde() { emit8(0x98) }
    public func cdqe() { emitBytes([0x48, 0x98]) }
    public func cwd() { emitBytes([0x66, 0x99]) }
    public func cdq() { emit8(0x99) }
    public func cqo() { emitBytes([0x48, 0x99]) }

    // MARK: stack

    /// `push r64` (50+r).
    public func push(_ r: Reg) { plusR(.dword, 0x50, r, w: false) }
    /// `pop r64` (58+r).
    public func pop(_ r: Reg) { plusR(.dword, 0x58, r, w: false) }
    /// `push qword [mem]` (FF /6).
    public func push(_ m: Mem) { dg(.dword, 0xFF, digit: 6, rm: .m(m)) }
    /// `pop qword [mem]` (8F /0).
    public func pop(_ m: Mem) { dg(.dword, 0x8F, digit: 0, rm: .m(m)) }
    /// `push simm` (6A ib or 68 id, sign-extended to 64 bits).
    public func push(_ imm: Int32) {
        if Int8(exactly: imm) != nil { sized(.dword, 0x6A, imm: Int64(imm), immLen: 1) } else { sized(.dword, 0x68, imm: Int64(imm), immLen: 4) }
    }

    // MARK: control flow

    public func ret() { emit8(0xC3) }
    /// `ret imm16` (C2 iw).
    public func ret(_ pop: UInt16) { ensure(3); put(0xC2); putLE(UInt64(pop), 2) }
    public func int3() { emit8(0xCC) }
    public func ud2() { emitBytes([0x0F, 0x0B]) }

    /// `jmp r64` (FF /4).
    public func jmp(_ r: Reg) { dg(.dword, 0xFF, digit: 4, rm: .r(r)) }
    /// `jmp qword [mem]` (FF /4).
    public func jmp(_ m: Mem) { dg(.dword, 0xFF, digit: 4, rm: .m(m)) }
    /// `call r64` (FF /2).
    public func call(_ r: Reg) { dg(.dword, 0xFF, digit: 2, rm: .r(r)) }
    /// `call qword [mem]` (FF /2).
    public func call(_ m: Mem) { dg(.dword, 0xFF, digit: 2, rm: .m(m)) }

    /// rel32 from a field at `fieldAddress` (the displacement's own address) to `target`, or nil
    /// when out of range.
    public static func rel32(fieldAt fieldAddress: UInt64, to target: UInt64) -> Int32? {
        Int32(exactly: Int64(bitPattern: target &- (fieldAddress &+ 4)))
    }

    /// `call target` as E8 rel32 when the target is within ±2 GiB of this code, else
    /// `mov scratch, imm64; call scratch` (scratch defaults to r11, which the SysV ABI leaves free).
    public func call(absolute target: UInt64, scratch: Reg = .r11) {
        if let d = X86Assembler.rel32(fieldAt: currentAddress &+ 1, to: target) {
            ensure(5); put(0xE8); putLE(UInt64(UInt32(bitPattern: d)), 4)
        } else {
            callIndirect(absolute: target, via: scratch)
        }
    }

    /// `mov via, imm; call via` regardless of the distance.
    public func callIndirect(absolute target: UInt64, via: Reg = .r11) {
        mov(.qword, via, Int64(bitPattern: target))
        call(via)
    }

    /// `jmp target` (EB rel8 / E9 rel32 when within range, else `mov scratch, imm64; jmp scratch`).
    public func jmp(absolute target: UInt64, scratch: Reg = .r11) {
        let d8 = Int64(bitPattern: target &- (currentAddress &+ 2))
        if Int8(exactly: d8) != nil {
            ensure(2); put(0xEB); put(UInt8(truncatingIfNeeded: d8))
        } else if let d = X86Assembler.rel32(fieldAt: currentAddress &+ 1, to: target) {
            ensure(5); put(0xE9); putLE(UInt64(UInt32(bitPattern: d)), 4)
        } else {
            mov(.qword, scratch, Int64(bitPattern: target))
            jmp(scratch)
        }
    }

    /// `jcc target` (70+cc rel8 / 0F 80+cc rel32); the target must be within ±2 GiB.
    public func jcc(_ c: Cond, absolute target: UInt64) {
        let d8 = Int64(bitPattern: target &- (currentAddress &+ 2))
        if Int8(exactly: d8) != nil {
            ensure(2); put(0x70 | c.rawValue); put(UInt8(truncatingIfNeeded: d8))
        } else {
            guard let d = X86Assembler.rel32(fieldAt: currentAddress &+ 2, to: target) else {
                preconditionFailure("jcc target out of ±2 GiB range")
            }
            ensure(6); put(0x0F); put(0x80 | c.rawValue); putLE(UInt64(UInt32(bitPattern: d)), 4)
        }
    }

    /// `jmp rel32` whose displacement field is 4-byte aligned (NOPs are inserted before it if
    /// needed), so a later 4-byte store can retarget it atomically. Returns the offset of the
    /// rel32 field. With no target the jump goes to the next instruction (rel32 = 0).
    @discardableResult
    public func jmpPatchable(to target: UInt64? = nil) -> Int {
        alignField(opcodeLength: 1)
        ensure(5); put(0xE9)
        return patchableField(target)
    }

    /// `jcc rel32` (0F 80+cc) with a 4-byte-aligned displacement field; returns the field's offset.
    @discardableResult
    public func jccPatchable(_ c: Cond, to target: UInt64? = nil) -> Int {
        alignField(opcodeLength: 2)
        ensure(6); put(0x0F); put(0x80 | c.rawValue)
        return patchableField(target)
    }

    func alignField(opcodeLength: Int) {
        let mis = Int((currentAddress &+ UInt64(opcodeLength)) & 3)
        if mis != 0 { nop(4 - mis) }
    }

    func patchableField(_ target: UInt64?) -> Int {
        let field = count
        var d: Int32 = 0
        if let t = target {
            guard let r = X86Assembler.rel32(fieldAt: currentAddress, to: t) else { preconditionFailure("jump target out of ±2 GiB range") }
            d = r
        }
        putLE(UInt64(UInt32(bitPattern: d)), 4)
        return field
    }

    /// Rewrites the rel32 field at `field` (an offset in this buffer) to reach `target`.
    public func patchRel32(atOffset field: Int, target: UInt64) {
        precondition(field >= 0 && field + 4 <= count)
        guard let d = X86Assembler.rel32(fieldAt: origin &+ UInt64(field), to: target) else { preconditionFailure("jump target out of ±2 GiB range") }
        store32(at: field, UInt32(bitPattern: d))
    }

    // MARK: labels

    public func newLabel() -> Label {
        labelOffsets.append(-1)
        return Label(id: Int32(labelOffsets.count - 1))
    }

    /// Binds `label` to the current offset and resolves the jumps waiting for it.
    public func bind(_ label: Label) {
        let i = Int(label.id)
        precondition(labelOffsets[i] < 0, "label bound twice")
        labelOffsets[i] = count
        var k = 0
        while k < fixups.count {
            let f = fixups[k]
            if f.label == label.id {
                if f.short {
                    let d = count - (f.field + 1)
                    guard let d8 = Int8(exactly: d) else { preconditionFailure("short jump to a label \(d) bytes away") }
                    buf[f.field] = UInt8(bitPattern: d8)
                } else {
                    store32(at: f.field, UInt32(bitPattern: Int32(count - (f.field + 4))))
                }
                fixups.swapAt(k, fixups.count - 1)
                fixups.removeLast()
            } else {
                k += 1
            }
        }
    }

    /// The offset a label was bound to, or nil.
    public func offset(of label: Label) -> Int? {
        let o = labelOffsets[Int(label.id)]
        return o < 0 ? nil : o
    }

    /// Run-time address of a bound label.
    public func address(of label: Label) -> UInt64? { offset(of: label).map { origin &+ UInt64($0) } }

    /// `jmp label`: rel8 for a bound label within range, rel32 otherwise; an unbound label gets
    /// rel32 unless `short` promises it will be bound within 127 bytes.
    public func jmp(_ label: Label, short: Bool = false) { branch(0xEB, 0xE9, nil, label, short) }
    /// `jcc label` (70+cc rel8 / 0F 80+cc rel32), same rules as `jmp(_:short:)`.
    public func jcc(_ c: Cond, _ label: Label, short: Bool = false) { branch(0x70 | c.rawValue, 0x80 | c.rawValue, 0x0F, label, short) }

    func branch(_ op8: UInt8, _ op32: UInt8, _ pfx32: UInt8?, _ label: Label, _ short: Bool) {
        ensure(6)
        let target = labelOffsets[Int(label.id)]
        if target >= 0 {
            let d8 = target - (count + 2)
            if Int8(exactly: d8) != nil {
                put(op8); put(UInt8(bitPattern: Int8(d8)))
            } else {
                if let p = pfx32 { put(p) }
                put(op32)
                putLE(UInt64(UInt32(bitPattern: Int32(target - (count + 4)))), 4)
            }
        } else if short {
            put(op8)
            fixups.append(Fixup(field: count, label: label.id, short: true))
            put(0)
        } else {
            if let p = pfx32 { put(p) }
            put(op32)
            fixups.append(Fixup(field: count, label: label.id, short: false))
            putLE(0, 4)
        }
    }

    // MARK: padding

    /// Recommended multi-byte NOPs (SDM vol. 2B, NOP), longest first, up to 9 bytes each.
    static let nops: [[UInt8]] = [
        [],
        [0x90],
        [0x66, 0x90],
        [0x0F, 0x1F, 0x00],
        [0x0F, 0x1F, 0x40, 0x00],
        [0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
        [0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]

    /// `n` bytes of padding as the fewest multi-byte NOPs (9 bytes at most each).
    public func nop(_ n: Int = 1) {
        var n = n
        while n > 0 {
            let k = Swift.min(n, 9)
            emitBytes(X86Assembler.nops[k])
            n -= k
        }
    }

    /// Pads with NOPs until the run-time address is a multiple of `alignment` (a power of two).
    public func align(_ alignment: Int) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0)
        let mis = Int(currentAddress & UInt64(alignment - 1))
        if mis != 0 { nop(alignment - mis) }
    }

    // MARK: SSE moves (spills)

    @inline(__always) func sse(_ mandatory: UInt8, _ opc: UInt32, w: Bool, reg: UInt8, rm: RM) {
        enc(w: w, p66: false, mandatory: mandatory, opcode: opc, opLen: 2, reg: reg, regByte: false, rm: rm, rmByte: false)
    }
    @inline(__always) func xrm(_ x: Xmm) -> RM { .r(Reg(rawValue: x.rawValue)!) }

    /// `movd xmm, r32` (66 0F 6E /r).
    public func movd(_ dst: Xmm, _ src: Reg) { sse(0x66, 0x0F6E, w: false, reg: dst.rawValue, rm: .r(src)) }
    /// `movd xmm, [mem32]`.
    public func movd(_ dst: Xmm, _ src: Mem) { sse(0x66, 0x0F6E, w: false, reg: dst.rawValue, rm: .m(src)) }
    /// `movd r32, xmm` (66 0F 7E /r).
    public func movd(_ dst: Reg, _ src: Xmm) { sse(0x66, 0x0F7E, w: false, reg: src.rawValue, rm: .r(dst)) }
    /// `movd [mem32], xmm`.
    public func movd(_ dst: Mem, _ src: Xmm) { sse(0x66, 0x0F7E, w: false, reg: src.rawValue, rm: .m(dst)) }
    /// `movq xmm, r64` (66 REX.W 0F 6E /r).
    public func movq(_ dst: Xmm, _ src: Reg) { sse(0x66, 0x0F6E, w: true, reg: dst.rawValue, rm: .r(src)) }
    /// `movq r64, xmm` (66 REX.W 0F 7E /r).
    public func movq(_ dst: Reg, _ src: Xmm) { sse(0x66, 0x0F7E, w: true, reg: src.rawValue, rm: .r(dst)) }
    /// `movq xmm, [mem64]` (F3 0F 7E /r).
    public func movq(_ dst: Xmm, _ src: Mem) { sse(0xF3, 0x0F7E, w: false, reg: dst.rawValue, rm: .m(src)) }
    /// `movq [mem64], xmm` (66 0F D6 /r).
    public func movq(_ dst: Mem, _ src: Xmm) { sse(0x66, 0x0FD6, w: false, reg: src.rawValue, rm: .m(dst)) }
    /// `movq xmm, xmm` (F3 0F 7E /r; clears bits 64..127).
    public func movq(_ dst: Xmm, _ src: Xmm) { sse(0xF3, 0x0F7E, w: false, reg: dst.rawValue, rm: xrm(src)) }
    /// `movdqu xmm, xmm/m128` (F3 0F 6F /r) and `movdqu m128, xmm` (F3 0F 7F /r).
    public func movdqu(_ dst: Xmm, _ src: Xmm) { sse(0xF3, 0x0F6F, w: false, reg: dst.rawValue, rm: xrm(src)) }
    public func movdqu(_ dst: Xmm, _ src: Mem) { sse(0xF3, 0x0F6F, w: false, reg: dst.rawValue, rm: .m(src)) }
    public func movdqu(_ dst: Mem, _ src: Xmm) { sse(0xF3, 0x0F7F, w: false, reg: src.rawValue, rm: .m(dst)) }
    /// `movdqa` (66 0F 6F / 66 0F 7F); memory must be 16-byte aligned.
    public func movdqa(_ dst: Xmm, _ src: Xmm) { sse(0x66, 0x0F6F, w: false, reg: dst.rawValue, rm: xrm(src)) }
    public func movdqa(_ dst: Xmm, _ src: Mem) { sse(0x66, 0x0F6F, w: false, reg: dst.rawValue, rm: .m(src)) }
    public func movdqa(_ dst: Mem, _ src: Xmm) { sse(0x66, 0x0F7F, w: false, reg: src.rawValue, rm: .m(dst)) }
    /// `movups` (0F 10 / 0F 11) and `movaps` (0F 28 / 0F 29).
    public func movups(_ dst: Xmm, _ src: Xmm) { sse(0, 0x0F10, w: false, reg: dst.rawValue, rm: xrm(src)) }
    public func movups(_ dst: Xmm, _ src: Mem) { sse(0, 0x0F10, w: false, reg: dst.rawValue, rm: .m(src)) }
    public func movups(_ dst: Mem, _ src: Xmm) { sse(0, 0x0F11, w: false, reg: src.rawValue, rm: .m(dst)) }
    public func movaps(_ dst: Xmm, _ src: Xmm) { sse(0, 0x0F28, w: false, reg: dst.rawValue, rm: xrm(src)) }
    public func movaps(_ dst: Xmm, _ src: Mem) { sse(0, 0x0F28, w: false, reg: dst.rawValue, rm: .m(src)) }
    public func movaps(_ dst: Mem, _ src: Xmm) { sse(0, 0x0F29, w: false, reg: src.rawValue, rm: .m(dst)) }
}
