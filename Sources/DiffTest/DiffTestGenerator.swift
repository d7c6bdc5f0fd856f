import CPU

/// One generated instruction: register set-up moves, the instruction bytes, and what the
/// comparison must know about it (flags it reads, leaves undefined, results that are random).
public struct DTInstr {
    public var setup: [UInt8] = []
    public var bytes: [UInt8] = []
    /// Offset in `bytes` of a RIP-relative disp32 that must reach `ripTarget`, or -1.
    var ripFix = -1
    var ripTarget: UInt64 = 0
    public var name: String
    var flagsRead: UInt16 = 0
    var flagsWritten: UInt16 = 0
    var flagsUndef: UInt16 = 0
    /// x87: stores C0-C3 somewhere (FNSTSW, FNSTENV, FNSAVE, FXSAVE).
    var ccRead = false
    /// x87 condition-code class: 0 unchanged, 1 all defined, 2 `ccUndef` left undefined.
    var ccClass = 0
    var ccUndef: UInt16 = 0
    var ignoreGPR: UInt16 = 0
    var ignoreFlags: UInt64 = 0
    var mustBeFirst = false
    var mustBeLast = false
    /// Initial-memory fixes (scratch offset, size, and-mask, or-mask), e.g. TF/AC cleared under POPF.
    var patches: [(off: Int, size: Int, and: UInt64, or: UInt64)] = []
    /// Addresses the instruction accesses (shown in reports).
    public var targets: [UInt64] = []
    var usesX87 = false
    var usesVector = false
    /// Destination XMM register of an approximation (RCPxS/RSQRTxS): compared within the
    /// architectural error bound, not bit for bit. -1 if none.
    var approxReg = -1
    /// x87 transcendental: ST registers compared within a few ulp, C1 ignored.
    var approxX87 = false
    /// VEX.vvvv register chosen (VEX forms).
    var vexV = 0
}

/// Instructions the tester never generates, and why.
public let diffTestExclusions: [(names: [String], reason: String)] = [
    (["JO", "JNO", "JB", "JNB", "JZ", "JNZ", "JBE", "JNBE", "JS", "JNS", "JP", "JNP", "JL", "JNL", "JLE", "JNLE",
      "JMP", "JMPF", "CALL", "CALLF", "RET", "RETF", "IRET", "LOOP", "LOOPE", "LOOPNE", "JCXZ"],
     "control flow: leaves the native stub"),
    (["INT", "INT3", "INT1", "INTO"], "software interrupts: delivered through the host kernel's IDT"),
    (["SYSCALL", "SYSENTER", "SYSRET", "SYSEXIT"], "enter (or fault into) the host kernel"),
    (["IN", "OUT", "INS", "OUTS"], "I/O permission of the host process (TSS bitmap) is not modelled in the stub"),
    (["CPUID", "RDTSC", "RDTSCP", "RDPMC", "RDPID", "XGETBV"], "report host values that differ from the emulated model by design"),
    (["SLDT", "STR", "SGDT", "SIDT", "SMSW", "LAR", "LSL", "VERR", "VERW"],
     "read the host kernel's descriptor tables / CR0 (emulated by Linux under UMIP)"),
    (["LFS", "LGS", "LSS", "MOV Sw,Ew", "POP FS", "POP GS"], "load segment registers of the host process"),
    (["RDFSBASE", "RDGSBASE", "WRFSBASE", "WRGSBASE", "FS/GS segment prefixes"], "FS/GS hold the host thread pointer"),
    (["XSAVE", "XRSTOR", "XSAVEOPT"], "host XCR0 enables more components (AVX-512, PKRU) and tracks XINUSE"),
    (["BOUND (62)", "LES/LDS (C4/C5)", "INC/DEC (40-4F)"], "these bytes are EVEX, VEX and REX prefixes in 64-bit mode"),
]

let excludedNames: Set<String> = {
    var s = Set<String>()
    for e in diffTestExclusions { for n in e.names { s.insert(n) } }
    return s
}()

/// Generates random instructions from the opcode table (x87 from its own sub-table).
public final class DTGenerator {
    public struct Entry {
        public var enc: OpcodeEncoding
        public var info: OpInfo
        public var name: String
    }
    let table = OpcodeTable.shared
    public private(set) var pool: [Entry] = []
    /// Table names skipped because the emulated CPUID or the host lacks their feature.
    public private(set) var skippedFeatures: [String: String] = [:]
    let scratch: UInt64
    let size = DTState.scratchSize
    let only: String?
    /// Encoder/decoder length disagreements seen (first few kept for the report).
    public var disagreements: [String] = []

    /// `featureOK(i)`: opcode-table feature index i is advertised by the emulator and present on the host.
    public init(scratch: UInt64, only: String?, featureOK: (Int) -> String?) {
        self.scratch = scratch
        self.only = only?.uppercased()
        for e in table.encodings {
            if e.mode == 0 { continue }
            let info = table.infos[e.infoIndex]
            let name = table.names[Int(info.nameIndex)]
            if excludedNames.contains(name) { continue }
            if e.map == 0 && (e.opcode == 0x62 || e.opcode == 0xC4 || e.opcode == 0xC5 || (e.opcode & 0xF0) == 0x40) { continue }
            if e.map == 0 && e.opcode == 0x8E { continue }                          // MOV Sw,Ew
            if e.map == 1 && (e.opcode == 0xA1 || e.opcode == 0xA9) { continue }    // POP FS / POP GS
            let kinds = [info.op0.kind, info.op1.kind, info.op2.kind]
            if kinds.contains(.J) || kinds.contains(.A) { continue }
            if info.feature != 0, let why = featureOK(Int(info.feature)) {
                skippedFeatures[name] = why
                continue
            }
            if let only = self.only {
                if info.mn == .FPU {
                    if !x87AllNames.contains(only) && only != "FPU" { continue }
                } else if name != only { continue }
            }
            pool.append(Entry(enc: e, info: info, name: name))
        }
    }

    // MARK: encoding helpers

    static func movImm(_ r: Int, _ v: UInt64) -> [UInt8] {
        if v <= 0xFFFF_FFFF {
            var b: [UInt8] = r >= 8 ? [0x41] : []
            b.append(0xB8 + UInt8(r & 7))
            for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
            return b
        }
        var b: [UInt8] = [r >= 8 ? 0x49 : 0x48, 0xB8 + UInt8(r & 7)]
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
        return b
    }

    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) } }

    /// A memory target inside the scratch area with `room` bytes after it (occasionally one that
    /// straddles or misses the scratch area, to provoke page faults).
    func target(_ rng: inout DTRandom, room: Int, align: Int, before: Int = 64) -> UInt64 {
        let r = rng.below(1000)
        if r < 15 { return scratch + UInt64(size) - UInt64(1 + rng.below(min(room, 24))) }   // into the guard above
        if r < 22 { return scratch - UInt64(1 + rng.below(32)) }                              // the guard below
        let lo = before, hi = size - room - 64
        var off = lo + rng.below(max(1, hi - lo))
        if rng.chance(70) { off &= ~(align - 1) }
        return scratch + UInt64(off)
    }

    struct Mem {
        var bytes: [UInt8] = []     // ModRM, SIB, displacement
        var X = false, B = false
        var setups: [(Int, UInt64)] = []
        var ripRel = false
        var dispAt = 0              // offset of the disp32 within `bytes` (RIP-relative)
    }

    /// ModRM (+SIB, displacement) addressing `T`, with the registers it needs set up.
    func memOperand(_ rng: inout DTRandom, regField: Int, T target: UInt64, addr32: Bool, avoid: UInt16) -> Mem {
        var m = Mem()
        var T = target
        let mask: UInt64 = addr32 ? 0xFFFF_FFFF : ~0
        func garbage(_ v: UInt64) -> UInt64 {
            addr32 && rng.chance(50) ? (v & 0xFFFF_FFFF) | (rng.next() << 32) : v & mask
        }
        func pickReg(_ extra: UInt16 = 0) -> Int {
            while true {
                let r = rng.below(16)
                if (avoid | extra) & (1 << UInt16(r)) == 0 { return r }
            }
        }
        let reg = UInt8(regField & 7) << 3
        let canNonCanonical = !addr32 && rng.below(1000) < 6
        var form = rng.below(100)
        if form >= 92 && form < 96 && T > 0x7FFF_FFFF { form = 0 }
        switch form {
        case 0..<45:
            // [base + disp]
            let b = pickReg()
            var mod = rng.below(3)
            if b & 7 == 5 && mod == 0 { mod = 1 }
            let disp: Int64 = mod == 0 ? 0 : (mod == 1 ? Int64(Int8(truncatingIfNeeded: rng.next())) : Int64(rng.below(4096)) - 2048)
            if canNonCanonical { T ^= 0x8000_0000_0000 }
            m.bytes.append(UInt8(mod << 6) | reg | UInt8(b & 7))
            if b & 7 == 4 { m.bytes.append(0x24) }
            if mod == 1 { m.bytes.append(UInt8(truncatingIfNeeded: disp)) }
            if mod == 2 { m.bytes += DTGenerator.le(UInt64(bitPattern: disp), 4) }
            m.B = b >= 8
            m.setups.append((b, garbage(T &- UInt64(bitPattern: disp))))
        case 45..<82:
            // [base + index*scale + disp]
            let b = pickReg()
            var i = pickReg()
            if i == 4 { i = 12 }
            if avoid & (1 << UInt16(i)) != 0 { i = pickReg(1 << 4) }
            let sc = rng.below(4)
            var mod = rng.below(3)
            if b & 7 == 5 && mod == 0 { mod = 1 }
            if b == i { mod = 2 }
            if canNonCanonical { T ^= 0x8000_0000_0000 }
            var disp: Int64 = mod == 0 ? 0 : (mod == 1 ? Int64(Int8(truncatingIfNeeded: rng.next())) : Int64(rng.below(4096)) - 2048)
            if b == i {
                let k = UInt64(1 + (1 << sc))
                let x = (T &- UInt64(bitPattern: disp)) / k
                disp = Int64(bitPattern: T &- x &* k)
                m.setups.append((b, garbage(x)))
            } else {
                let iv = rng.chance(30) ? 0 : UInt64(bitPattern: Int64(rng.below(512)) - 256)
                m.setups.append((i, garbage(iv)))
                m.setups.append((b, garbage(T &- UInt64(bitPattern: disp) &- (iv << UInt64(sc)))))
            }
            m.bytes.append(UInt8(mod << 6) | reg | 4)
            m.bytes.append(UInt8(sc << 6) | UInt8(i & 7) << 3 | UInt8(b & 7))
            if mod == 1 { m.bytes.append(UInt8(truncatingIfNeeded: disp)) }
            if mod == 2 { m.bytes += DTGenerator.le(UInt64(bitPattern: disp), 4) }
            m.B = b >= 8; m.X = i >= 8
        case 82..<92:
            // [index*scale + disp32]
            var i = pickReg(1 << 4)
            if i == 4 { i = 12 }
            let sc = rng.below(4)
            let delta = Int64(rng.below(64)) - 32
            let iv = (T >> UInt64(sc)) &+ UInt64(bitPattern: delta)
            let disp = T &- (iv << UInt64(sc))
            if Int64(bitPattern: disp) > Int64(Int32.max) || Int64(bitPattern: disp) < Int64(Int32.min) {
                return memOperand(&rng, regField: regField, T: target, addr32: addr32, avoid: avoid)
            }
            m.bytes.append(reg | 4)
            m.bytes.append(UInt8(sc << 6) | UInt8(i & 7) << 3 | 5)
            m.bytes += DTGenerator.le(disp, 4)
            m.X = i >= 8
            m.setups.append((i, garbage(iv)))
        case 92..<96:
            // [disp32] (absolute, through SIB without base and index)
            m.bytes.append(reg | 4)
            m.bytes.append(0x25)
            m.bytes += DTGenerator.le(T, 4)
        default:
            // [rip + disp32]
            m.bytes.append(reg | 5)
            m.dispAt = 1
            m.bytes += [0, 0, 0, 0]
            m.ripRel = true
        }
        return m
    }

    // MARK: generation

    /// Generates an instruction for pool entry `k`; nil if this attempt should be retried.
    public func generate(_ k: Int, _ rng: inout DTRandom) -> DTInstr? {
        let e = pool[k]
        if e.info.mn == .FPU { return genX87(e, &rng) }
        if e.info.attrs.contains(.vex) && e.enc.map == 2 && (0x90...0x93).contains(e.enc.opcode) { return genGather(e, &rng) }
        return genGeneric(e, &rng)
    }

    /// AVX2 gathers: a VSIB operand with the base in the scratch area and the index register's
    /// elements shifted into a small range first (set-up VPSRLD/VPSRAD/VPSRLQ), masks random.
    func genGather(_ e: Entry, _ rng: inout DTRandom) -> DTInstr? {
        var out = DTInstr(name: e.name)
        out.usesVector = true
        let qIdx = e.enc.opcode & 1 != 0
        let W = rng.chance(50), L = rng.below(2)
        let dst = rng.below(16)
        var xi = rng.below(16), msk = rng.below(16)
        if !rng.chance(2) {                                   // equal registers: #UD
            while xi == dst { xi = rng.below(16) }
            while msk == dst || msk == xi { msk = rng.below(16) }
        }
        var base = rng.below(16)
        while base == 4 { base = rng.below(16) }
        let scale = rng.below(4)
        let off = 1024 + rng.below(2048)
        var setup = DTGenerator.movImm(base, scratch + UInt64(off))
        do {
            // VPSRLQ/VPSRLD/VPSRAD ymm(xi), ymm(xi), imm8 (VEX.256.66.0F 73 /2, 72 /2, 72 /4)
            let (opc, ext, cnt): (UInt8, Int, UInt8) = qIdx ? (0x73, 2, 58) : (0x72, rng.chance(50) ? 2 : 4, 26)
            setup += [0xC4, 0xC0 | (xi < 8 ? 0x20 : 0) | 0x01, UInt8((~xi & 15) << 3) | 0x04 | 0x01,
                      opc, 0xC0 | UInt8(ext << 3) | UInt8(xi & 7), cnt]
        }
        var bytes: [UInt8] = [0xC4, (dst < 8 ? 0x80 : 0) | (xi < 8 ? 0x40 : 0) | (base < 8 ? 0x20 : 0) | 0x02,
                              (W ? 0x80 : 0) | UInt8((~msk & 15) << 3) | UInt8(L << 2) | 0x01, e.enc.opcode]
        let sib = UInt8(scale << 6) | UInt8((xi & 7) << 3) | UInt8(base & 7)
        let r = rng.below(10)
        if r < 3 && base & 7 != 5 {
            bytes += [UInt8((dst & 7) << 3) | 4, sib]
        } else if r < 8 {
            bytes += [0x40 | UInt8((dst & 7) << 3) | 4, sib, UInt8(truncatingIfNeeded: rng.below(256) - 128)]
        } else {
            bytes += [0x80 | UInt8((dst & 7) << 3) | 4, sib] + DTGenerator.le(UInt64(bitPattern: Int64(rng.below(4096) - 2048)), 4)
        }
        if rng.chance(1) { bytes[bytes.count > 6 ? 4 : 4] = (bytes[4] & 0xF8) | UInt8(rng.below(4)) }   // no SIB: #UD
        out.setup = setup
        out.bytes = bytes
        out.targets.append(scratch + UInt64(off))
        return out
    }

    func genGeneric(_ e: Entry, _ rng: inout DTRandom) -> DTInstr? {
        let info = e.info, enc = e.enc, mn = info.mn
        let ops = [info.op0, info.op1, info.op2, info.op3]
        let kinds = ops.map { $0.kind }
        var out = DTInstr(name: e.name)
        out.flagsRead = info.flagsRead
        out.flagsWritten = info.flagsWritten
        out.flagsUndef = info.flagsUndefined
        let vectorKinds: [OperandKind] = [.V, .W, .U, .P, .Q, .N]
        out.usesVector = kinds.contains { vectorKinds.contains($0) }
        if kinds.contains(.P) || kinds.contains(.Q) || kinds.contains(.N) || e.name == "EMMS" { out.usesX87 = true }
        let needsModRM = info.attrs.contains(.modrm)
        var isMem = false
        if needsModRM {
            if enc.mem == 1 { isMem = true } else if enc.mem == 0 { isMem = false }
            else if kinds.contains(.M) { isMem = true }
            else if kinds.contains(where: { $0 == .R || $0 == .U || $0 == .N }) { isMem = false }
            else { isMem = rng.chance(55) }
        }
        let stackOp = [Mn.PUSH, .POP, .PUSHF, .POPF, .ENTER, .LEAVE].contains(mn)
        let stringOp = [Mn.MOVS, .CMPS, .STOS, .LODS, .SCAS].contains(mn)
        let maskMov = e.name == "MASKMOVQ" || e.name == "MASKMOVDQU" || e.name == "VMASKMOVDQU"
        let implicitMem = stackOp || stringOp || maskMov || mn == .XLAT || kinds.contains(.O)

        // Legacy prefixes (the mandatory one last; for VEX forms it goes into VEX.pp).
        var legacy: [UInt8] = []
        var has66 = false, addr32 = false
        let vex = enc.vex
        if !vex && enc.prefix == 0 && rng.chance(enc.hasPrefixVariants ? 4 : 20) { legacy.append(0x66); has66 = true }
        if vex {
            // Only segment and address-size prefixes may precede VEX (others: #UD, rarely tried).
            if rng.below(1000) < 8 { legacy.append(rng.pick([0x66, 0xF2, 0xF3, 0xF0, 0x40])) }
        } else if info.attrs.contains(.rep) {
            if rng.chance(50) { legacy.append(rng.chance(50) ? 0xF3 : 0xF2) }
        } else if enc.prefix == 0 && rng.chance(3) {
            legacy.append(rng.chance(50) ? 0xF3 : 0xF2)
        }
        if (isMem || implicitMem) && rng.chance(15) { legacy.append(0x67); addr32 = true }
        if !vex && isMem && info.attrs.contains(.lock) && rng.chance(30) { legacy.append(0xF0) }
        else if !vex && rng.below(1000) < 6 { legacy.append(0xF0) }
        if rng.chance(4) { legacy.append(rng.pick([0x26, 0x2E, 0x36, 0x3E])) }
        for i in stride(from: legacy.count - 1, to: 0, by: -1) { legacy.swapAt(i, rng.below(i + 1)) }
        if enc.prefix != 0 && !vex { legacy.append(enc.prefix) }

        let sizeDependent = ops.contains { $0.size == .v || $0.size == .y || $0.size == .z } || mn == .MOVSXD
        var W = rng.chance(vex ? 50 : (sizeDependent ? 40 : 8))
        if info.attrs.contains(.vexW0) { W = rng.below(1000) < 8 }
        if info.attrs.contains(.vexW1) { W = rng.below(1000) >= 8 }
        var opSize = W ? 8 : (has66 ? 2 : 4)
        if info.attrs.contains(.force64) { opSize = 8 }
        else if info.attrs.contains(.default64) { opSize = (has66 && !W) ? 2 : 8 }

        // Special registers and memory for implicit operands.
        var setups: [(Int, UInt64)] = []
        var avoid: UInt16 = 0
        func addr(_ v: UInt64) -> UInt64 { addr32 && rng.chance(50) ? (v & 0xFFFF_FFFF) | (rng.next() << 32) : v }
        if stackOp || (mn == .POP && isMem) {
            var t = target(&rng, room: 600, align: 8, before: 600)
            if rng.chance(10) { t = scratch + 0x800 + UInt64(rng.below(16)) }
            setups.append((4, t)); avoid |= 1 << 4
            out.targets.append(t)
            if mn == .POPF {
                out.mustBeFirst = true
                if t >= scratch && t + 2 <= scratch + UInt64(size) {
                    let n = Int(min(8, scratch + UInt64(size) - t))
                    out.patches.append((Int(t - scratch), n, ~UInt64(0x4_0100), 0))
                }
            }
            if mn == .ENTER || mn == .LEAVE {
                let t2 = mn == .LEAVE ? t : target(&rng, room: 300, align: 8, before: 600)
                setups.append((5, t2)); avoid |= 1 << 5
            }
        }
        if stringOp {
            let t1 = target(&rng, room: 300, align: 8, before: 300), t2 = target(&rng, room: 300, align: 8, before: 300)
            setups.append((6, addr(t1))); setups.append((7, addr(t2)))
            avoid |= 1 << 6 | 1 << 7 | 1 << 1
            if legacy.contains(0xF3) || legacy.contains(0xF2) { setups.append((1, addr(UInt64(rng.below(12))))) }
            out.targets += [t1, t2]
        }
        if mn == .XLAT {
            let t = target(&rng, room: 300, align: 1)
            setups.append((3, addr(t))); avoid |= 1 << 3
            out.targets.append(t)
        }
        if maskMov {
            let t = target(&rng, room: 16, align: 16)
            setups.append((7, addr(t))); avoid |= 1 << 7
            out.targets.append(t)
        }

        // ModRM.
        let regField = enc.reg >= 0 ? enc.reg : rng.below(8)
        let R = rng.chance(30)
        var X = false, B = false
        var modrmBytes: [UInt8] = []
        var ripFixInModRM = -1
        var memTarget: UInt64 = 0
        if needsModRM {
            if isMem {
                var room = 64, align = vex ? 32 : 16
                switch mn {
                case .FXSAVE, .FXRSTOR: room = 512
                case .CMPXCHG8B: room = 16
                default: break
                }
                if [Mn.BT, .BTS, .BTR, .BTC].contains(mn) && kinds[1] == .G {
                    // Register bit offsets reach +-2 KiB bits around the operand.
                    var off = UInt64(bitPattern: Int64(rng.below(3000)) - 1500)
                    if rng.chance(30) { off ^= rng.next() << UInt64(opSize * 8 - 1 > 62 ? 63 : opSize * 8) }
                    if opSize == 8 { off = UInt64(bitPattern: Int64(rng.below(3000)) - 1500) }
                    let g = (R ? 8 : 0) + regField
                    setups.append((g, off)); avoid |= 1 << UInt16(g)
                    room = 400
                }
                if [Mn.BT, .BTS, .BTR, .BTC].contains(mn) { align = 1 }
                let t = target(&rng, room: room, align: align, before: 400)
                memTarget = t
                out.targets.append(t)
                var m = memOperand(&rng, regField: regField, T: t, addr32: addr32, avoid: avoid)
                if m.ripRel { ripFixInModRM = m.dispAt }
                X = m.X; B = m.B
                setups += m.setups
                modrmBytes = m.bytes
                m.bytes = []
                if (mn == .LDMXCSR || e.name == "VLDMXCSR") && rng.chance(80) && t >= scratch && t + 4 <= scratch + UInt64(size) {
                    out.patches.append((Int(t - scratch), 4, 0xFFFF, 0))
                }
                if mn == .FXRSTOR && rng.chance(80) && t >= scratch && t + 28 <= scratch + UInt64(size) {
                    out.patches.append((Int(t - scratch) + 24, 4, 0xFFFF, 0))
                }
                if mn == .FXSAVE || mn == .FXRSTOR { out.usesX87 = true; out.usesVector = true; out.ccRead = mn == .FXSAVE }
                if mn == .FXRSTOR { out.ccClass = 1 }
            } else {
                let rmField = enc.rm >= 0 ? enc.rm : rng.below(8)
                B = rng.chance(30)
                modrmBytes = [0xC0 | UInt8(regField) << 3 | UInt8(rmField)]
            }
        }
        if ["RCPPS", "RCPSS", "RSQRTPS", "RSQRTSS", "VRCPPS", "VRCPSS", "VRSQRTPS", "VRSQRTSS"].contains(e.name) {
            out.approxReg = regField + (R ? 8 : 0)
            out.mustBeLast = true
        }
        if [Mn.RDRAND, .RDSEED].contains(mn) {
            let r = Int(modrmBytes.first ?? 0) & 7 + (B ? 8 : 0)
            out.ignoreGPR |= 1 << UInt16(r)
            out.ignoreFlags |= 1
            out.mustBeLast = true
        }
        let rexBits = UInt8((W ? 8 : 0) | (R ? 4 : 0) | (X ? 2 : 0) | (B ? 1 : 0))
        var bytes = legacy
        if vex {
            let usesV = kinds.contains(.B) || kinds.contains(.H)
            var vvvv = usesV ? rng.below(16) : 0
            if !usesV && rng.below(1000) < 8 { vvvv = 1 + rng.below(15) }           // #UD
            var L = info.attrs.contains(.vexL0) ? 0 : (info.attrs.contains(.vexL1) ? 1 : rng.below(2))
            // A wrong L is #UD (except where the host has a wider extension: VAES, VPCLMULQDQ).
            let wider = ["VAESENC", "VAESENCLAST", "VAESDEC", "VAESDECLAST", "VPCLMULQDQ"].contains(e.name)
            if info.attrs.contains(.vexL0) && !wider && rng.below(1000) < 8 { L = 1 }
            if info.attrs.contains(.vexL1) && rng.below(1000) < 8 { L = 0 }
            let pp: UInt8 = enc.prefix == 0x66 ? 1 : (enc.prefix == 0xF3 ? 2 : (enc.prefix == 0xF2 ? 3 : 0))
            let vbits = UInt8((~vvvv & 15) << 3) | UInt8(L << 2) | pp
            if enc.map == 1 && !X && !B && !W && rng.chance(50) {
                bytes += [0xC5, (R ? 0 : 0x80) | vbits]
            } else {
                bytes += [0xC4, (R ? 0 : 0x80) | (X ? 0 : 0x40) | (B ? 0 : 0x20) | UInt8(enc.map),
                          (W ? 0x80 : 0) | vbits]
            }
            out.vexV = vvvv
        } else {
            if rexBits != 0 || rng.chance(15) { bytes.append(0x40 | rexBits) }
            switch enc.map {
            case 1: bytes.append(0x0F)
            case 2: bytes += [0x0F, 0x38]
            case 3: bytes += [0x0F, 0x3A]
            default: break
            }
        }
        bytes.append(enc.opcode)
        let modrmAt = bytes.count
        bytes += modrmBytes
        if ripFixInModRM >= 0 { out.ripFix = modrmAt + ripFixInModRM; out.ripTarget = memTarget }

        // Immediates.
        var lastImm: UInt64 = 0
        for (k, o) in ops.enumerated() {
            switch o.kind {
            case .I:
                var n: Int
                switch o.size {
                case .b: n = 1
                case .w: n = 2
                case .d: n = 4
                case .z: n = opSize == 2 ? 2 : 4
                case .v: n = opSize
                default: n = 4
                }
                var v = rng.edge64()
                if mn == .ENTER {
                    if k == 0 { v = rng.chance(85) ? UInt64(rng.below(256)) : v & 0xFFFF }
                    else { v = rng.chance(60) ? 0 : (rng.chance(75) ? UInt64(1 + rng.below(3)) : UInt64(rng.below(32))) }
                }
                if n == 1 && rng.chance(40) { v = UInt64(rng.below(70)) }   // shift counts, selectors
                bytes += DTGenerator.le(v, n)
                lastImm = v
            case .Is:
                bytes.append(rng.chance(40) ? UInt8(rng.below(70)) : UInt8(truncatingIfNeeded: rng.edge64()))
            case .L:
                bytes.append(UInt8(rng.below(16)) << 4 | UInt8(rng.below(16)))
            case .O:
                let t = target(&rng, room: 16, align: 8)
                out.targets.append(t)
                bytes += DTGenerator.le(t, addr32 ? 4 : 8)
            default:
                break
            }
        }

        // Flags written only conditionally: shifts by a count of zero and REP string instructions
        // with a zero count leave them alone (an earlier undefined flag stays undefined).
        if [Mn.ROL, .ROR, .RCL, .RCR, .SHL, .SHR, .SAR, .SHLD, .SHRD].contains(mn) {
            let countOp = mn == .SHLD || mn == .SHRD ? ops[2] : ops[1]
            if countOp.kind == .fixedReg { out.flagsWritten = 0 }
            if countOp.kind == .I && lastImm & (W ? 0x3F : 0x1F) == 0 { out.flagsWritten = 0; out.flagsUndef = 0 }
        }
        if stringOp && legacy.contains(where: { $0 == 0xF3 || $0 == 0xF2 }) { out.flagsWritten = 0 }

        // Now and then redundant segment prefixes (ignored in 64-bit mode) bring the instruction
        // to 14-17 bytes: beyond 15 the host raises #GP(0), and so must we.
        var overlong = false
        if rng.below(1000) < 5 {
            let target = 14 + rng.below(4)
            var k = 0
            while bytes.count < target { bytes.insert(rng.pick([0x26, 0x2E, 0x36, 0x3E]), at: 0); k += 1 }
            if out.ripFix >= 0 { out.ripFix += k }
            overlong = bytes.count > 15
        }

        // Our decoder must see the entry we encoded, with the length we encoded.
        do {
            let d = try table.decode(bytes: bytes, mode: .long64)
            if Int(d.infoIndex) != e.enc.infoIndex { return nil }
            if Int(d.len) != bytes.count {
                if disagreements.count < 20 { disagreements.append("\(e.name): encoded \(bytesHex(bytes)) (\(bytes.count) bytes), decoder says \(d.len)") }
                return nil
            }
        } catch {
            // An encoding our decoder rejects (#UD/#GP): worth checking against the host sometimes
            // (always when it is too long).
            if !overlong && !rng.chance(20) { return nil }
        }
        out.bytes = bytes
        for (r, v) in setups { out.setup += DTGenerator.movImm(r, v) }
        return out
    }
}
