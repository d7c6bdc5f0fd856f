// Parsed form of the opcode table: operand descriptors, per-instruction attributes and the
// decode tree the decoder walks. Built once from `opcodeTableText`.

/// Mnemonics the interpreter dispatches on. Table names not listed here decode to `.UNIMPL`
/// (their name is kept for diagnostics) and raise #UD when executed.
public enum Mn: UInt16, CaseIterable, Sendable {
    case UNIMPL = 0
    case ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NOT, NEG, MUL, IMUL, DIV, IDIV
    case DAA, DAS, AAA, AAS, AAM, AAD, SALC, CBW, CWD, XLAT
    case ROL, ROR, RCL, RCR, SHL, SHR, SAR, SHLD, SHRD
    case BT, BTS, BTR, BTC, BSF, BSR, TZCNT, LZCNT, POPCNT, BSWAP, MOVBE
    case MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B, NOP, PREFETCH, PREFETCHW
    case PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE, LAHF, SAHF
    case JO, JNO, JB, JNB, JZ, JNZ, JBE, JNBE, JS, JNS, JP, JNP, JL, JNL, JLE, JNLE
    case SETO, SETNO, SETB, SETNB, SETZ, SETNZ, SETBE, SETNBE, SETS, SETNS, SETP, SETNP, SETL, SETNL, SETLE, SETNLE
    case CMOVO, CMOVNO, CMOVB, CMOVNB, CMOVZ, CMOVNZ, CMOVBE, CMOVNBE, CMOVS, CMOVNS, CMOVP, CMOVNP, CMOVL, CMOVNL, CMOVLE, CMOVNLE
    case JMP, JMPF, CALL, CALLF, RET, RETF, LOOP, LOOPE, LOOPNE, JCXZ
    case INT, INT3, INTO, INT1, IRET, BOUND
    case MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, IN, OUT
    case CLC, STC, CMC, CLI, STI, CLD, STD, HLT, FWAIT
    case LES, LDS, LSS, LFS, LGS
    case ARPL, LAR, LSL, VERR, VERW, SLDT, STR, LLDT, LTR, SGDT, SIDT, LGDT, LIDT, SMSW, LMSW
    case INVLPG, CLTS, INVD, WBINVD, CLFLUSH, CLFLUSHOPT, CLWB, LFENCE, MFENCE, SFENCE, MONITOR, MWAIT, CLAC, STAC
    case XGETBV, XSETBV, SWAPGS, RDTSCP, RDTSC, RDMSR, WRMSR, RDPMC, CPUID, SYSCALL, SYSRET, SYSENTER, SYSEXIT
    case RDFSBASE, RDGSBASE, WRFSBASE, WRGSBASE, RDRAND, RDSEED, RDPID
    case UD0, UD1, UD2, RSM, GETSEC, FPU
    case FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, XSAVE, XRSTOR, XSAVEOPT
    case ANDN, BEXTR, BLSI, BLSMSK, BLSR, BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX, ADCX, ADOX
}

/// Operand kinds, after Intel's addressing-method letters.
public enum OperandKind: UInt8, Sendable {
    case none = 0
    case E, G, M, R          // ModRM r/m (reg or mem), ModRM.reg GPR, memory only, register only
    case I, Is, J            // immediate, sign-extended imm8, relative offset
    case Z                   // register in the low opcode bits (+REX.B)
    case A                   // direct far pointer
    case O                   // memory offset (moffs)
    case S, C, D             // segment / control / debug register from ModRM.reg
    case X, Y                // string source DS:rSI / destination ES:rDI
    case fixedReg            // AL/CL/DX/rAX/eAX (register number in `reg`)
    case fixedSeg            // ES..GS (segment number in `reg`)
    case one                 // the constant 1
    case V, W, U, H, P, Q, N // vector / MMX operands
    case B                   // general-purpose register in VEX.vvvv
    case L                   // vector register in imm8[7:4] (VEX is4 operand)
}

/// Operand sizes. `v`: operand size; `z`: operand size capped at 32; `y`: 32 or 64;
/// `p`: far pointer (z + 16-bit selector); `a`: BOUND pair; `s`: 6/10-byte table register.
public enum OperandSize: UInt8, Sendable {
    case none = 0, b, w, d, q, v, z, y, p, a, s, x, dq, ps, pd, ss, sd, pi, mx, qq
}

public struct Operand: Sendable {
    public var kind: OperandKind
    public var size: OperandSize
    public var reg: UInt8
    public init(_ kind: OperandKind = .none, _ size: OperandSize = .none, reg: UInt8 = 0) {
        self.kind = kind; self.size = size; self.reg = reg
    }
}

public struct OpAttr: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let lock = OpAttr(rawValue: 1 << 0)
    public static let rep = OpAttr(rawValue: 1 << 1)
    public static let endsBlock = OpAttr(rawValue: 1 << 2)
    public static let invalid64 = OpAttr(rawValue: 1 << 3)
    public static let only64 = OpAttr(rawValue: 1 << 4)
    public static let default64 = OpAttr(rawValue: 1 << 5)
    public static let force64 = OpAttr(rawValue: 1 << 6)
    public static let privileged = OpAttr(rawValue: 1 << 7)
    public static let modrm = OpAttr(rawValue: 1 << 8)        // derived: needs a ModRM byte
    public static let mandatoryPrefix = OpAttr(rawValue: 1 << 9) // derived: selected by 66/F3/F2
    /// #UD when reached with a 66/F2/F3 prefix that selects no variant of the opcode (vector
    /// instructions, and `NP` entries): the prefix would name a different instruction.
    public static let noPrefix = OpAttr(rawValue: 1 << 10)
    /// #UD when reached with an F2/F3 prefix that selects no variant (table attribute `norep`).
    public static let noRepPrefix = OpAttr(rawValue: 1 << 11)
    /// VEX-encoded form (table lines starting with `V`; decoded from the VEX maps only).
    public static let vex = OpAttr(rawValue: 1 << 12)
    /// VEX.L must be 0 (table attribute `L0`), else #UD.
    public static let vexL0 = OpAttr(rawValue: 1 << 13)
    /// VEX.W selects nothing (table attribute `WIG`); without it W is significant for the
    /// executor (operand size of GP forms, element size of some vector forms).
    public static let vexWIG = OpAttr(rawValue: 1 << 14)
    /// VEX.L must be 1 (`L1`); VEX.W must be 0 (`W0`) / 1 (`W1`); else #UD.
    public static let vexL1 = OpAttr(rawValue: 1 << 15)
    public static let vexW0 = OpAttr(rawValue: 1 << 16)
    public static let vexW1 = OpAttr(rawValue: 1 << 17)
}

/// Flag bits in RFLAGS order; the table's letters map onto these.
public enum FlagBit {
    public static let CF: UInt64 = 1 << 0
    public static let PF: UInt64 = 1 << 2
    public static let AF: UInt64 = 1 << 4
    public static let ZF: UInt64 = 1 << 6
    public static let SF: UInt64 = 1 << 7
    public static let TF: UInt64 = 1 << 8
    public static let IF: UInt64 = 1 << 9
    public static let DF: UInt64 = 1 << 10
    public static let OF: UInt64 = 1 << 11
    public static let IOPL: UInt64 = 3 << 12
    public static let NT: UInt64 = 1 << 14
    public static let RF: UInt64 = 1 << 16
    public static let VM: UInt64 = 1 << 17
    public static let AC: UInt64 = 1 << 18
    public static let VIF: UInt64 = 1 << 19
    public static let VIP: UInt64 = 1 << 20
    public static let ID: UInt64 = 1 << 21
    public static let status: UInt64 = CF | PF | AF | ZF | SF | OF
}

/// One decodable instruction form.
public struct OpInfo: Sendable {
    public var mn: Mn
    public var op0: Operand
    public var op1: Operand
    public var op2: Operand
    public var op3: Operand
    public var attrs: OpAttr
    public var flagsRead: UInt16
    public var flagsWritten: UInt16
    public var flagsUndefined: UInt16
    public var nameIndex: UInt16
    public var feature: UInt8
}

/// Decode-tree node. Children are consecutive in `OpcodeTable.nodes`.
struct DecodeNode {
    enum Kind: UInt8 { case invalid = 0, leaf, group, prefixed, memreg, rmsel, mode, prefix, escape }
    var kind: Kind
    var index: Int32   // leaf: index into infos; others: first child node
}

/// CPUID feature names used by `feat:`; index 0 means "base ISA".
public let featureNames = ["", "mmx", "sse", "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "popcnt",
                           "lzcnt", "bmi1", "movbe", "adx", "aes", "pclmulqdq", "sha", "xsave", "fxsr",
                           "fsgsbase", "rdrand", "rdseed", "rdpid", "clflushopt", "clwb",
                           "bmi2", "avx", "avx2", "fma", "f16c"]

public final class OpcodeTable: @unchecked Sendable {
    public private(set) var infos: [OpInfo] = []
    public private(set) var names: [String] = []
    var nodes: [DecodeNode] = []
    /// Flat copies for the decoder's hot path (never freed: the table lives for the process).
    private(set) var nodePtr = UnsafeMutablePointer<DecodeNode>.allocate(capacity: 1)
    private(set) var infoPtr = UnsafeMutablePointer<OpInfo>.allocate(capacity: 1)

    public static let shared = OpcodeTable(text: opcodeTableText)

    init(text: String) {
        // Roots: 4 legacy maps and 3 VEX maps (0F, 0F38, 0F3A) x 256 opcodes.
        nodes = Array(repeating: DecodeNode(kind: .invalid, index: 0), count: 7 * 256)
        for p in [0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66, 0x67, 0xF0, 0xF2, 0xF3] {
            nodes[p] = DecodeNode(kind: .prefix, index: 0)
        }
        nodes[0x0F] = DecodeNode(kind: .escape, index: 0)
        nodes[0x100 + 0x38] = DecodeNode(kind: .escape, index: 2)
        nodes[0x100 + 0x3A] = DecodeNode(kind: .escape, index: 3)
        var mnByName: [String: Mn] = [:]
        for m in Mn.allCases { mnByName["\(m)"] = m }
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            lineNo += 1
            let line = raw.drop(while: { $0 == " " })
            if line.isEmpty || line.hasPrefix("#") { continue }
            parseLine(String(line), mnByName: mnByName)
        }
        nodePtr = UnsafeMutablePointer<DecodeNode>.allocate(capacity: nodes.count)
        nodePtr.initialize(from: nodes, count: nodes.count)
        infoPtr = UnsafeMutablePointer<OpInfo>.allocate(capacity: infos.count)
        infoPtr.initialize(from: infos, count: infos.count)
    }

    private func allocChildren(_ n: Int) -> Int32 {
        let base = nodes.count
        nodes.append(contentsOf: Array(repeating: DecodeNode(kind: .invalid, index: 0), count: n))
        return Int32(base)
    }

    /// Returns the index of the node reached by descending `kind` child `slot`, creating it.
    private func descend(_ at: Int, _ kind: DecodeNode.Kind, count: Int, slot: Int) -> Int {
        if nodes[at].kind != kind && kind == .prefixed && nodes[at].kind != .invalid {
            // An entry without a mandatory prefix already sits here: it becomes the default variant.
            let old = nodes[at]
            let c = allocChildren(4)
            nodes[Int(c)] = old
            nodes[at] = DecodeNode(kind: .prefixed, index: c)
        }
        if nodes[at].kind != kind {
            precondition(nodes[at].kind == .invalid, "opcode table: conflicting entries at node \(at)")
            let c = allocChildren(count)
            nodes[at] = DecodeNode(kind: kind, index: c)
        }
        return Int(nodes[at].index) + slot
    }

    private func parseLine(_ line: String, mnByName: [String: Mn]) {
        var toks = line.split(separator: " ").map(String.init)
        var prefixSlot = -1
        var vexForm = false
        if toks[0] == "V" { vexForm = true; toks.removeFirst() }
        switch toks[0] {
        case "NP": prefixSlot = 0; toks.removeFirst()
        case "66": if toks.count > 1 && toks[1].hasPrefix("0F") { prefixSlot = 1; toks.removeFirst() }
        case "F3": if toks.count > 1 && toks[1].hasPrefix("0F") { prefixSlot = 2; toks.removeFirst() }
        case "F2": if toks.count > 1 && toks[1].hasPrefix("0F") { prefixSlot = 3; toks.removeFirst() }
        default: break
        }
        var map = 0
        switch toks[0] {
        case "0F": map = 1; toks.removeFirst()
        case "0F38": map = 2; toks.removeFirst()
        case "0F3A": map = 3; toks.removeFirst()
        default: break
        }
        if vexForm {
            // VEX forms live in their own maps (4, 5, 6 for 0F, 0F38, 0F3A), always under a
            // mandatory-prefix node selected by VEX.pp.
            precondition(map >= 1, "opcode table: VEX form outside 0F/0F38/0F3A: '\(line)'")
            map += 3
            if prefixSlot < 0 { prefixSlot = 0 }
        }
        let key = toks[0]
        let name = toks[1]
        let operandText = toks.count > 2 ? toks[2] : "-"
        let attrText = toks.count > 3 ? Array(toks[3...]) : []

        var opcodePart = Substring(key)
        var groupReg = -1
        var memreg = -1   // 0 mem, 1 reg
        var rmSel = -1
        if let slash = key.firstIndex(of: "/") {
            opcodePart = key[..<slash]
            var rest = key[key.index(after: slash)...]
            groupReg = Int(String(rest.first!))!
            rest = rest.dropFirst()
            if rest.first == "." {
                rest = rest.dropFirst()
                if rest.first == "m" { memreg = 0 } else { memreg = 1 }
                rest = rest.dropFirst()
                if let d = rest.first { rmSel = Int(String(d))! }
            }
        }
        let opcode = Int(opcodePart, radix: 16)!

        // Build the leaf.
        var info = OpInfo(mn: mnByName[name] ?? .UNIMPL, op0: Operand(), op1: Operand(), op2: Operand(), op3: Operand(),
                          attrs: [], flagsRead: 0, flagsWritten: 0, flagsUndefined: 0,
                          nameIndex: UInt16(names.count), feature: 0)
        names.append(name)
        var ops: [Operand] = []
        if operandText != "-" {
            for o in operandText.split(separator: ",") { ops.append(Self.parseOperand(String(o))) }
        }
        if ops.count > 0 { info.op0 = ops[0] }
        if ops.count > 1 { info.op1 = ops[1] }
        if ops.count > 2 { info.op2 = ops[2] }
        if ops.count > 3 { info.op3 = ops[3] }
        for o in ops where [.E, .G, .M, .R, .S, .C, .D, .V, .W, .U, .P, .Q, .N].contains(o.kind) {
            info.attrs.insert(.modrm)
        }
        if groupReg >= 0 || map == 2 || map == 3 || map == 5 || map == 6 { info.attrs.insert(.modrm) }   // 4-6: VEX 0F/0F38/0F3A
        if prefixSlot > 0 { info.attrs.insert(.mandatoryPrefix) }
        if prefixSlot == 0 || ops.contains(where: { [.V, .W, .U, .H, .P, .Q, .N].contains($0.kind) }) {
            info.attrs.insert(.noPrefix)
        }
        if vexForm { info.attrs.insert(.vex) }
        for a in attrText {
            switch a {
            case "lock": info.attrs.insert(.lock)
            case "rep": info.attrs.insert(.rep)
            case "end": info.attrs.insert(.endsBlock)
            case "i64": info.attrs.insert(.invalid64)
            case "o64": info.attrs.insert(.only64)
            case "d64": info.attrs.insert(.default64)
            case "f64": info.attrs.insert(.force64)
            case "priv": info.attrs.insert(.privileged)
            case "norep": info.attrs.insert(.noRepPrefix)
            case "L0": info.attrs.insert(.vexL0)
            case "WIG": info.attrs.insert(.vexWIG)
            case "L1": info.attrs.insert(.vexL1)
            case "W0": info.attrs.insert(.vexW0)
            case "W1": info.attrs.insert(.vexW1)
            default:
                if a.hasPrefix("w:") { info.flagsWritten = Self.parseFlags(a.dropFirst(2)) }
                else if a.hasPrefix("r:") { info.flagsRead = Self.parseFlags(a.dropFirst(2)) }
                else if a.hasPrefix("u:") { info.flagsUndefined = Self.parseFlags(a.dropFirst(2)) }
                else if a.hasPrefix("feat:") {
                    let f = String(a.dropFirst(5))
                    guard let i = featureNames.firstIndex(of: f) else { preconditionFailure("opcode table: unknown feature \(f)") }
                    info.feature = UInt8(i)
                } else { preconditionFailure("opcode table: unknown attribute \(a) in '\(line)'") }
            }
        }
        let infoIndex = Int32(infos.count)
        infos.append(info)

        // Insert into the tree.
        var at = map * 256 + opcode
        if prefixSlot >= 0 || nodes[at].kind == .prefixed {
            at = descend(at, .prefixed, count: 4, slot: max(prefixSlot, 0))
        }
        if groupReg >= 0 {
            at = descend(at, .group, count: 8, slot: groupReg)
            if memreg >= 0 { at = descend(at, .memreg, count: 2, slot: memreg) }
            if rmSel >= 0 { at = descend(at, .rmsel, count: 8, slot: rmSel) }
        } else if nodes[at].kind == .leaf {
            // Same opcode listed twice: split by mode (e.g. 63 ARPL / MOVSXD).
            let old = nodes[at]
            let c = allocChildren(2)
            nodes[at] = DecodeNode(kind: .mode, index: c)
            let oldIs64 = infos[Int(old.index)].attrs.contains(.only64)
            nodes[Int(c) + (oldIs64 ? 1 : 0)] = old
            at = Int(c) + (oldIs64 ? 0 : 1)
        }
        precondition(nodes[at].kind == .invalid, "opcode table: duplicate entry '\(line)'")
        nodes[at] = DecodeNode(kind: .leaf, index: infoIndex)
    }

    static func parseFlags(_ s: Substring) -> UInt16 {
        var v: UInt16 = 0
        for c in s {
            switch c {
            case "C": v |= 1 << 0
            case "P": v |= 1 << 2
            case "A": v |= 1 << 4
            case "Z": v |= 1 << 6
            case "S": v |= 1 << 7
            case "T": v |= 1 << 8
            case "I": v |= 1 << 9
            case "D": v |= 1 << 10
            case "O": v |= 1 << 11
            default: preconditionFailure("opcode table: unknown flag \(c)")
            }
        }
        return v
    }

    static func parseOperand(_ s: String) -> Operand {
        switch s {
        case "AL": return Operand(.fixedReg, .b, reg: 0)
        case "CL": return Operand(.fixedReg, .b, reg: 1)
        case "DX": return Operand(.fixedReg, .w, reg: 2)
        case "rAX": return Operand(.fixedReg, .v, reg: 0)
        case "eAX": return Operand(.fixedReg, .z, reg: 0)
        case "ES": return Operand(.fixedSeg, .w, reg: 0)
        case "CS": return Operand(.fixedSeg, .w, reg: 1)
        case "SS": return Operand(.fixedSeg, .w, reg: 2)
        case "DS": return Operand(.fixedSeg, .w, reg: 3)
        case "FS": return Operand(.fixedSeg, .w, reg: 4)
        case "GS": return Operand(.fixedSeg, .w, reg: 5)
        case "1": return Operand(.one, .b)
        case "M": return Operand(.M, .none)
        default: break
        }
        let kindChar = s.first!
        var sizeText = String(s.dropFirst())
        var kind: OperandKind
        switch kindChar {
        case "E": kind = .E
        case "G": kind = .G
        case "M": kind = .M
        case "R": kind = .R
        case "I":
            if sizeText == "bs" { kind = .Is; sizeText = "b" } else { kind = .I }
        case "J": kind = .J
        case "Z": kind = .Z
        case "A": kind = .A
        case "O": kind = .O
        case "S": kind = .S
        case "C": kind = .C
        case "D": kind = .D
        case "X": kind = .X
        case "Y": kind = .Y
        case "V": kind = .V
        case "W": kind = .W
        case "U": kind = .U
        case "H": kind = .H
        case "P": kind = .P
        case "Q": kind = .Q
        case "N": kind = .N
        case "B": kind = .B
        case "L": kind = .L
        default: preconditionFailure("opcode table: unknown operand \(s)")
        }
        let size: OperandSize
        switch sizeText {
        case "b": size = .b
        case "w": size = .w
        case "d": size = .d
        case "q": size = .q
        case "v": size = .v
        case "z": size = .z
        case "y": size = .y
        case "p": size = .p
        case "a": size = .a
        case "s": size = .s
        case "x": size = .x
        case "dq": size = .dq
        case "ps": size = .ps
        case "pd": size = .pd
        case "ss": size = .ss
        case "sd": size = .sd
        case "pi": size = .pi
        case "qq": size = .qq
        case "": size = .none
        default: preconditionFailure("opcode table: unknown operand size \(s)")
        }
        return Operand(kind, size)
    }

    public func name(of info: OpInfo) -> String { names[Int(info.nameIndex)] }
}
