// The encodings behind each opcode-table entry, recovered from the decode tree: which map and
// opcode byte, which mandatory prefix, which ModRM.reg / mod / rm the entry requires. Used by
// tools that generate instructions from the table (the differential tester), never at run time.

/// One way to encode an opcode-table entry.
public struct OpcodeEncoding: Sendable {
    /// 0 one-byte map, 1 0F, 2 0F38, 3 0F3A.
    public var map: Int
    public var opcode: UInt8
    /// Mandatory prefix selecting this entry (0x66, 0xF3, 0xF2), or 0.
    public var prefix: UInt8
    /// The opcode has mandatory-prefix variants: 66/F3/F2 added to this entry may select another.
    public var hasPrefixVariants: Bool
    /// Required ModRM.reg (group member), or -1.
    public var reg: Int
    /// 1: memory form only, 0: register form only, -1: either (ModRM present) or no ModRM.
    public var mem: Int
    /// Required ModRM.rm (register form), or -1.
    public var rm: Int
    /// 1: only decoded this way in 64-bit mode, 0: only outside it, -1: both.
    public var mode: Int
    /// Index into `OpcodeTable.infos`.
    public var infoIndex: Int
    /// VEX-encoded (the mandatory prefix goes into VEX.pp, `map` into VEX.mmmmm).
    public var vex = false
}

extension OpcodeTable {
    /// Every leaf of the decode tree with the encoding that reaches it.
    public var encodings: [OpcodeEncoding] {
        var out: [OpcodeEncoding] = []
        func walk(_ n: Int, _ e: OpcodeEncoding) {
            let node = nodes[n]
            let c = Int(node.index)
            switch node.kind {
            case .leaf:
                var x = e
                x.infoIndex = Int(node.index)
                out.append(x)
            case .prefixed:
                let pfx: [UInt8] = [0, 0x66, 0xF3, 0xF2]
                for i in 0..<4 {
                    var x = e
                    x.prefix = pfx[i]
                    x.hasPrefixVariants = true
                    walk(c + i, x)
                }
            case .group:
                for i in 0..<8 { var x = e; x.reg = i; walk(c + i, x) }
            case .memreg:
                for i in 0..<2 { var x = e; x.mem = i == 0 ? 1 : 0; walk(c + i, x) }
            case .rmsel:
                for i in 0..<8 { var x = e; x.rm = i; x.mem = 0; walk(c + i, x) }
            case .mode:
                for i in 0..<2 { var x = e; x.mode = i; walk(c + i, x) }
            case .invalid, .prefix, .escape:
                break
            }
        }
        for map in 0..<7 {
            for op in 0..<256 {
                var e = OpcodeEncoding(map: map >= 4 ? map - 3 : map, opcode: UInt8(op), prefix: 0,
                                       hasPrefixVariants: false, reg: -1, mem: -1, rm: -1, mode: -1, infoIndex: -1)
                e.vex = map >= 4
                walk(map * 256 + op, e)
            }
        }
        return out
    }
}
