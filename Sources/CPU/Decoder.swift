// Instruction decoder: legacy prefixes, REX, VEX, ModRM/SIB/displacement, immediates.
// Walks the decode tree built from the opcode table; produces a small value type.

public let regNone: UInt8 = 16
public let regRIP: UInt8 = 17

/// A decoded instruction. Plain value type; decoded once, executed possibly many times.
public struct Instr: Sendable {
    public var mn: Mn = .UNIMPL
    public var op0 = Operand()
    public var op1 = Operand()
    public var op2 = Operand()
    public var op3 = Operand()
    public var attrs: OpAttr = []
    public var infoIndex: Int32 = -1
    public var feature: UInt8 = 0          // opcode-table `feat:` index (0 = base ISA)
    public var opcode: UInt16 = 0        // map << 8 | opcode byte
    public var len: UInt8 = 0
    public var opSize: UInt8 = 4         // 2, 4 or 8
    public var addrSize: UInt8 = 4       // 2, 4 or 8
    public var seg: UInt8 = 3            // segment of the memory operand (override or default)
    public var segOverride: UInt8 = 0xFF // explicit segment prefix, 0xFF if none
    public var rep: UInt8 = 0            // 0, 0xF3 or 0xF2 (when not consumed as mandatory prefix)
    public var lock = false
    public var rex: UInt8 = 0            // 0x40|WRXB when a REX prefix applies
    public var modrm: UInt8 = 0
    public var reg: UInt8 = 0            // ModRM.reg extended by REX.R
    public var rm: UInt8 = 0             // ModRM.rm extended by REX.B (register form)
    public var isMem = false
    public var base: UInt8 = regNone
    public var index: UInt8 = regNone
    public var scale: UInt8 = 0          // shift count 0..3
    public var disp: Int64 = 0
    public var imm: UInt64 = 0
    public var imm2: UInt64 = 0
    public var vex = false
    public var vexL: UInt8 = 0
    public var vexV: UInt8 = 0
    public var vexW = false

    public init() {}

    @inline(__always) public var mod: UInt8 { modrm >> 6 }
    @inline(__always) public var modrmReg: UInt8 { (modrm >> 3) & 7 }
    @inline(__always) public var rexW: Bool { rex & 8 != 0 }
}

/// What the decoder needs to know about the current code segment.
public struct DecodeMode: Sendable, Equatable {
    public var code64: Bool
    public var default32: Bool
    public init(code64: Bool, default32: Bool) { self.code64 = code64; self.default32 = default32 }
    public static let real16 = DecodeMode(code64: false, default32: false)
    public static let prot32 = DecodeMode(code64: false, default32: true)
    public static let long64 = DecodeMode(code64: true, default32: false)
}

/// A window of instruction bytes directly readable; beyond it `slow` is asked (it may fault).
public struct FetchWindow {
    public var ptr: UnsafePointer<UInt8>
    public var avail: Int
    public init(ptr: UnsafePointer<UInt8>, avail: Int) { self.ptr = ptr; self.avail = avail }
}

public let ud = Fault(vector: 6)
public let gp0 = Fault(vector: 13, code: 0)

extension OpcodeTable {
    /// Decodes one instruction. Throws #UD for invalid encodings, #GP(0) beyond 15 bytes, and
    /// whatever `slow` throws when a byte outside the window is needed.
    @inline(__always)
    public func decode(_ w: FetchWindow, mode: DecodeMode, into d: inout Instr,
                       slow: (Int) throws(Fault) -> UInt8) throws(Fault) {
        var pos = 0
        @inline(__always) func next() throws(Fault) -> UInt8 {
            if pos >= 15 { throw gp0 }
            let b: UInt8
            if pos < w.avail { b = w.ptr[pos] } else { b = try slow(pos) }
            pos += 1
            return b
        }
        @inline(__always) func next32() throws(Fault) -> UInt32 {
            let a = UInt32(try next()), b = UInt32(try next()), c = UInt32(try next()), e = UInt32(try next())
            return a | b << 8 | c << 16 | e << 24
        }
        @inline(__always) func nextN(_ n: Int) throws(Fault) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(try next()) << (8 * UInt64(i)) }
            return v
        }
        d = Instr()
        var opsizePrefix = false
        var addrPrefix = false
        var vexUnlisted = false
        var lastRepPrefix: UInt8 = 0
        var byte: UInt8
        let nodes = nodePtr
        // Legacy prefixes and REX.
        while true {
            byte = try next()
            switch byte {
            case 0x26, 0x2E, 0x36, 0x3E:
                let s = (byte >> 3) & 3   // 26->0 ES, 2E->1 CS, 36->2 SS, 3E->3 DS
                d.segOverride = mode.code64 ? 0xFF : s
                d.rex = 0
                continue
            case 0x64: d.segOverride = 4; d.rex = 0; continue
            case 0x65: d.segOverride = 5; d.rex = 0; continue
            case 0x66: opsizePrefix = true; d.rex = 0; continue
            case 0x67: addrPrefix = true; d.rex = 0; continue
            case 0xF0: d.lock = true; d.rex = 0; continue
            case 0xF2, 0xF3: lastRepPrefix = byte; d.rex = 0; continue
            case 0x40...0x4F where mode.code64:
                d.rex = byte
                continue
            default: break
            }
            break
        }
        // Sizes.
        if mode.code64 {
            d.addrSize = addrPrefix ? 4 : 8
            d.opSize = (d.rex & 8) != 0 ? 8 : (opsizePrefix ? 2 : 4)
        } else {
            let a32 = mode.default32 != addrPrefix
            d.addrSize = a32 ? 4 : 2
            d.opSize = (mode.default32 != opsizePrefix) ? 4 : 2
        }
        // Opcode and map.
        var map = 0
        var node = nodes[Int(byte)]
        var modrmFetched = false
        var vexPP = -1
        if byte == 0x0F {
            byte = try next()
            map = 1
            if byte == 0x38 || byte == 0x3A {
                map = byte == 0x38 ? 2 : 3
                byte = try next()
            }
            node = nodes[map * 256 + Int(byte)]
        } else if (byte == 0xC4 || byte == 0xC5) {
            // VEX, unless this is LES/LDS outside 64-bit mode (ModRM.mod != 3).
            let b1 = try peekVex(w, pos: pos, slow: slow)
            if mode.code64 || b1 & 0xC0 == 0xC0 {
                if opsizePrefix || lastRepPrefix != 0 || d.lock || d.rex != 0 { throw ud }
                d.vex = true
                _ = try next()
                var R = (b1 & 0x80) == 0
                var X = false, B = false
                if byte == 0xC5 {
                    map = 1
                    d.vexV = (~b1 >> 3) & 15
                    d.vexL = (b1 >> 2) & 1
                    vexPP = Int(b1 & 3)
                } else {
                    X = (b1 & 0x40) == 0
                    B = (b1 & 0x20) == 0
                    map = Int(b1 & 0x1F)
                    if map < 1 || map > 3 { throw ud }
                    let b2 = try next()
                    d.vexW = b2 & 0x80 != 0
                    d.vexV = (~b2 >> 3) & 15
                    d.vexL = (b2 >> 2) & 1
                    vexPP = Int(b2 & 3)
                }
                if !mode.code64 { R = false; X = false; B = false; d.vexV &= 7 }
                d.rex = 0x40 | (d.vexW && mode.code64 ? 8 : 0) | (R ? 4 : 0) | (X ? 2 : 0) | (B ? 1 : 0)
                if d.vexW && mode.code64 { d.opSize = 8 }
                byte = try next()
                node = nodes[(map + 3) * 256 + Int(byte)]
                if node.kind == .invalid {
                    // VEX forms not in the table yet: decoded through the legacy twin (for the
                    // length) and never executed.
                    node = nodes[map * 256 + Int(byte)]
                    vexUnlisted = true
                }
            }
        }
        d.opcode = UInt16(map << 8) | UInt16(byte)

        // Walk the decode tree.
        var modrm: UInt8 = 0
        var selected66 = false
        var selectedRep = false
        var strayPrefix = false
        var strayRep = false
        var plainNode = -1   // the no-prefix variant, when a prefix selected a (sparse) subtree
        loop: while true {
            switch node.kind {
            case .leaf:
                break loop
            case .prefixed:
                let c = Int(node.index)
                var slot = 0
                if d.vex { slot = vexPP == 0 ? 0 : (vexPP == 1 ? 1 : (vexPP == 2 ? 2 : 3)) }
                else if lastRepPrefix == 0xF3 && nodes[c + 2].kind != .invalid { slot = 2; selectedRep = true }
                else if lastRepPrefix == 0xF2 && nodes[c + 3].kind != .invalid { slot = 3; selectedRep = true }
                else if opsizePrefix && nodes[c + 1].kind != .invalid { slot = 1; selected66 = true }
                // A 66/F2/F3 that selects nothing here: fine for general-purpose instructions
                // (operand size / ignored), #UD for vector and NP entries (checked at the leaf).
                if !d.vex && !selectedRep && lastRepPrefix != 0 { strayPrefix = true; strayRep = true }
                if !d.vex && !selected66 && !selectedRep && opsizePrefix { strayPrefix = true }
                node = nodes[c + slot]
                if node.kind == .invalid && slot != 0 && !d.vex {
                    node = nodes[c]; selected66 = false; selectedRep = false
                } else if slot != 0 && !d.vex {
                    plainNode = c
                }
            case .group:
                if !modrmFetched { modrm = try next(); modrmFetched = true }
                node = nodes[Int(node.index) + Int((modrm >> 3) & 7)]
            case .memreg:
                if !modrmFetched { modrm = try next(); modrmFetched = true }
                node = nodes[Int(node.index) + (modrm >= 0xC0 ? 1 : 0)]
            case .rmsel:
                if !modrmFetched { modrm = try next(); modrmFetched = true }
                node = nodes[Int(node.index) + Int(modrm & 7)]
            case .mode:
                node = nodes[Int(node.index) + (mode.code64 ? 1 : 0)]
            case .invalid, .prefix, .escape:
                if plainNode >= 0 && node.kind == .invalid {
                    // e.g. F3 0F C7 /1: only /7 has an F3 form; the prefix is stray for CMPXCHG8B.
                    node = nodes[plainNode]
                    plainNode = -1
                    if selectedRep { strayRep = true }
                    strayPrefix = true
                    selected66 = false; selectedRep = false
                    continue
                }
                if d.vex {
                    // VEX forms we do not list yet: consume a plausible length, then #UD.
                    if map >= 2 && !modrmFetched { modrm = try next(); modrmFetched = true }
                }
                throw ud
            }
        }
        let info = infoPtr[Int(node.index)]
        // #UD found from here on waits until the whole instruction is decoded: its length is
        // still determined, and beyond 15 bytes the processor raises #GP(0) instead (host).
        var deferredUD = false
        if strayPrefix && info.attrs.contains(.noPrefix) { deferredUD = true }
        if strayRep && info.attrs.contains(.noRepPrefix) { deferredUD = true }
        d.mn = info.mn
        d.op0 = info.op0
        d.op1 = info.op1
        d.op2 = info.op2
        d.op3 = info.op3
        d.attrs = info.attrs
        d.infoIndex = node.index
        d.feature = info.feature
        if mode.code64 {
            if info.attrs.contains(.invalid64) { deferredUD = true }
            if info.attrs.contains(.force64) { d.opSize = 8 }
            else if info.attrs.contains(.default64) && !(opsizePrefix && d.rex & 8 == 0) { d.opSize = 8 }
            else if info.attrs.contains(.default64) { d.opSize = 2 }
        } else if info.attrs.contains(.only64) { deferredUD = true }
        if selected66 {
            // 66 consumed as a mandatory prefix: it does not change the operand size.
            if mode.code64 { d.opSize = d.rex & 8 != 0 ? 8 : 4 } else { d.opSize = mode.default32 ? 4 : 2 }
        }
        d.rep = selectedRep ? 0 : lastRepPrefix

        // ModRM and addressing.
        if info.attrs.contains(.modrm) {
            if !modrmFetched { modrm = try next() }
            d.modrm = modrm
            let rexR: UInt8 = (d.rex & 4) << 1
            let rexX: UInt8 = (d.rex & 2) << 2
            let rexB: UInt8 = (d.rex & 1) << 3
            d.reg = ((modrm >> 3) & 7) | rexR
            let rm = modrm & 7
            // MOV to/from CR/DR (0F 20-23) ignore ModRM.mod: always the register form.
            let mod = (d.opcode >= 0x120 && d.opcode <= 0x123) ? 3 : modrm >> 6
            if mod == 3 {
                d.rm = rm | rexB
                d.isMem = false
            } else {
                d.isMem = true
                var defaultSS = false
                if d.addrSize == 2 {
                    switch rm {
                    case 0: d.base = 3; d.index = 6
                    case 1: d.base = 3; d.index = 7
                    case 2: d.base = 5; d.index = 6; defaultSS = true
                    case 3: d.base = 5; d.index = 7; defaultSS = true
                    case 4: d.base = 6
                    case 5: d.base = 7
                    case 6:
                        if mod == 0 { d.base = regNone } else { d.base = 5; defaultSS = true }
                    default: d.base = 3
                    }
                    if mod == 0 && rm == 6 {
                        d.disp = Int64(Int16(bitPattern: UInt16(try next()) | UInt16(try next()) << 8))
                    } else if mod == 1 {
                        d.disp = Int64(Int8(bitPattern: try next()))
                    } else if mod == 2 {
                        d.disp = Int64(Int16(bitPattern: UInt16(try next()) | UInt16(try next()) << 8))
                    }
                } else {
                    if rm == 4 {
                        let sib = try next()
                        let idx = ((sib >> 3) & 7) | rexX
                        d.index = idx == 4 ? regNone : idx
                        d.scale = sib >> 6
                        let b = sib & 7
                        if b == 5 && mod == 0 {
                            d.base = regNone
                            d.disp = Int64(Int32(bitPattern: try next32()))
                        } else {
                            d.base = b | rexB
                            defaultSS = d.base == 4 || d.base == 5
                        }
                    } else if rm == 5 && mod == 0 {
                        d.base = mode.code64 ? regRIP : regNone
                        d.disp = Int64(Int32(bitPattern: try next32()))
                    } else {
                        d.base = rm | rexB
                        defaultSS = d.base == 5
                    }
                    if mod == 1 {
                        d.disp = Int64(Int8(bitPattern: try next()))
                    } else if mod == 2 {
                        d.disp = Int64(Int32(bitPattern: try next32()))
                    }
                }
                d.seg = d.segOverride != 0xFF ? d.segOverride : (defaultSS ? 2 : 3)
            }
        } else {
            d.seg = d.segOverride != 0xFF ? d.segOverride : 3
        }
        // Operand-form checks.
        if (d.op0.kind == .M || d.op1.kind == .M || d.op2.kind == .M) && !d.isMem { deferredUD = true }
        if (d.op0.kind == .R || d.op1.kind == .R || d.op0.kind == .U || d.op1.kind == .U ||
            d.op0.kind == .N || d.op1.kind == .N) && d.isMem { deferredUD = true }
        if d.lock && (!info.attrs.contains(.lock) || !d.isMem) {
            // LOCK MOV CR0 is AMD's alternative CR8 encoding; everything else is #UD.
            deferredUD = true
        }
        if d.opcode == 0x90 && d.rex & 1 == 0 && !d.vex { d.mn = .NOP }
        if vexUnlisted {
            d.mn = .UNIMPL
        } else if d.vex {
            // VEX.L must be 0 for L0 forms; VEX.vvvv must be 1111 when no operand uses it.
            if info.attrs.contains(.vexL0) && d.vexL != 0 { deferredUD = true }
            if info.attrs.contains(.vexL1) && d.vexL == 0 { deferredUD = true }
            if info.attrs.contains(.vexW0) && d.vexW { deferredUD = true }
            if info.attrs.contains(.vexW1) && !d.vexW { deferredUD = true }
            let usesV = d.op0.kind == .H || d.op1.kind == .H || d.op2.kind == .H || d.op3.kind == .H ||
                        d.op0.kind == .B || d.op1.kind == .B || d.op2.kind == .B || d.op3.kind == .B
            if !usesV && d.vexV != 0 { deferredUD = true }
        }

        // Immediates, in operand order.
        for k in 0..<4 {
            let o = k == 0 ? d.op0 : (k == 1 ? d.op1 : (k == 2 ? d.op2 : d.op3))
            switch o.kind {
            case .I:
                let n: Int
                switch o.size {
                case .b: n = 1
                case .w: n = 2
                case .d: n = 4
                case .z: n = d.opSize == 2 ? 2 : 4
                case .v: n = Int(d.opSize)
                default: n = 4
                }
                var v = try nextN(n)
                if o.size == .z && d.opSize == 8 { v = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v))) }
                if k == 0 || d.op0.kind != .I { d.imm = v } else { d.imm2 = v }
            case .Is:
                d.imm = UInt64(bitPattern: Int64(Int8(bitPattern: try next())))
            case .L:
                d.imm = UInt64(try next())   // is4: register in bits 7:4
            case .J:
                if o.size == .b {
                    d.imm = UInt64(bitPattern: Int64(Int8(bitPattern: try next())))
                } else if d.opSize == 2 {
                    d.imm = UInt64(bitPattern: Int64(Int16(bitPattern: UInt16(try nextN(2)))))
                } else {
                    d.imm = UInt64(bitPattern: Int64(Int32(bitPattern: try next32())))
                }
            case .A:
                d.imm = try nextN(d.opSize == 2 ? 2 : 4)
                d.imm2 = try nextN(2)
            case .O:
                d.imm = try nextN(Int(d.addrSize))
            default: break
            }
        }
        if deferredUD { throw ud }
        d.len = UInt8(pos)
    }

    @inline(__always)
    func peekVex(_ w: FetchWindow, pos: Int, slow: (Int) throws(Fault) -> UInt8) throws(Fault) -> UInt8 {
        if pos < w.avail { return w.ptr[pos] }
        if pos >= 15 { throw gp0 }
        return try slow(pos)
    }

    /// Decodes from a byte array (tests, disassembly). Bytes past the array raise #PF(0).
    public func decode(bytes: [UInt8], mode: DecodeMode) throws(Fault) -> Instr {
        var d = Instr()
        let copy = bytes
        try copy.withUnsafeBufferPointer { (buf) throws(Fault) in
            let w = FetchWindow(ptr: buf.baseAddress ?? UnsafePointer(bitPattern: 8)!, avail: buf.count)
            try decode(w, mode: mode, into: &d, slow: { (_: Int) throws(Fault) -> UInt8 in throw Fault(vector: 14, code: 0) })
        }
        return d
    }
}
