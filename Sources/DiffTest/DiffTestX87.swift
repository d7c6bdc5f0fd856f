import CPU

// The x87 sub-table: the opcode table lists D8-DF as one "FPU Ex" entry each; the tester needs
// the individual instructions (for names, --only, and which condition codes each leaves undefined).

let x87MemNames: [[String]] = [
    ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"],
    ["FLD", "X87-INVALID", "FST", "FSTP", "FLDENV", "FLDCW", "FNSTENV", "FNSTCW"],
    ["FIADD", "FIMUL", "FICOM", "FICOMP", "FISUB", "FISUBR", "FIDIV", "FIDIVR"],
    ["FILD", "FISTTP", "FIST", "FISTP", "X87-INVALID", "FLD", "X87-INVALID", "FSTP"],
    ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"],
    ["FLD", "FISTTP", "FST", "FSTP", "FRSTOR", "X87-INVALID", "FNSAVE", "FNSTSW"],
    ["FIADD", "FIMUL", "FICOM", "FICOMP", "FISUB", "FISUBR", "FIDIV", "FIDIVR"],
    ["FILD", "FISTTP", "FIST", "FISTP", "FBLD", "FILD", "FBSTP", "FISTP"],
]

func x87RegName(_ op: Int, _ reg: Int, _ rm: Int) -> String {
    switch (op, reg) {
    case (0, _): return ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"][reg]
    case (1, 0): return "FLD"
    case (1, 1): return "FXCH"
    case (1, 2): return rm == 0 ? "FNOP" : "X87-INVALID"
    case (1, 3): return "FSTP1"
    case (1, 4): return ["FCHS", "FABS", "X87-INVALID", "X87-INVALID", "FTST", "FXAM", "X87-INVALID", "X87-INVALID"][rm]
    case (1, 5): return ["FLD1", "FLDL2T", "FLDL2E", "FLDPI", "FLDLG2", "FLDLN2", "FLDZ", "X87-INVALID"][rm]
    case (1, 6): return ["F2XM1", "FYL2X", "FPTAN", "FPATAN", "FXTRACT", "FPREM1", "FDECSTP", "FINCSTP"][rm]
    case (1, 7): return ["FPREM", "FYL2XP1", "FSQRT", "FSINCOS", "FRNDINT", "FSCALE", "FSIN", "FCOS"][rm]
    case (2, 0...3): return ["FCMOVB", "FCMOVE", "FCMOVBE", "FCMOVU"][reg]
    case (2, 5): return rm == 1 ? "FUCOMPP" : "X87-INVALID"
    case (2, _): return "X87-INVALID"
    case (3, 0...3): return ["FCMOVNB", "FCMOVNE", "FCMOVNBE", "FCMOVNU"][reg]
    case (3, 4): return ["FNENI", "FNDISI", "FNCLEX", "FNINIT", "FNSETPM", "X87-INVALID", "X87-INVALID", "X87-INVALID"][rm]
    case (3, 5): return "FUCOMI"
    case (3, 6): return "FCOMI"
    case (3, _): return "X87-INVALID"
    case (4, _): return ["FADD", "FMUL", "FCOM2", "FCOMP3", "FSUBR", "FSUB", "FDIVR", "FDIV"][reg]
    case (5, _): return ["FFREE", "FXCH4", "FST", "FSTP", "FUCOM", "FUCOMP", "X87-INVALID", "X87-INVALID"][reg]
    case (6, 3): return rm == 1 ? "FCOMPP" : "X87-INVALID"
    case (6, _): return ["FADDP", "FMULP", "FCOMP5", "", "FSUBRP", "FSUBP", "FDIVRP", "FDIVP"][reg]
    default:
        if reg == 4 { return rm == 0 ? "FNSTSW" : "X87-INVALID" }
        return ["FFREEP", "FXCH7", "FSTP8", "FSTP9", "", "FUCOMIP", "FCOMIP", "X87-INVALID"][reg]
    }
}

let x87AllNames: Set<String> = {
    var s = Set<String>()
    for op in 0..<8 {
        for reg in 0..<8 {
            s.insert(x87MemNames[op][reg])
            for rm in 0..<8 { s.insert(x87RegName(op, reg, rm)) }
        }
    }
    return s
}()

/// Condition-code behaviour: (class, undefined bits, stores C0-C3). Class 0 leaves them
/// unchanged, 1 defines all four, 2 leaves `undef` undefined and defines the others.
func x87CC(_ name: String) -> (Int, UInt16, Bool) {
    let c0c2c3: UInt16 = 0x4500, all: UInt16 = 0x4700
    switch name {
    case "FCOM", "FCOMP", "FCOM2", "FCOMP3", "FCOMP5", "FCOMPP", "FUCOM", "FUCOMP", "FUCOMPP", "FICOM", "FICOMP",
         "FTST", "FXAM", "FPREM", "FPREM1", "FLDENV", "FRSTOR", "FNINIT":
        return (1, 0, false)
    case "FNSAVE": return (1, 0, true)
    case "FNSTENV", "FNSTSW": return (0, 0, true)
    case "FNSTCW", "FCOMI", "FUCOMI", "FCOMIP", "FUCOMIP", "FNENI", "FNDISI", "FNSETPM", "X87-INVALID": return (0, 0, false)
    case "FPTAN", "FSIN", "FCOS", "FSINCOS": return (2, 0x4100, false)
    case "FNCLEX", "FLDCW", "FFREE", "FFREEP", "FNOP": return (2, all, false)
    default: return (2, c0c2c3, false)
    }
}

extension DTGenerator {
    func genX87(_ e: Entry, _ rng: inout DTRandom) -> DTInstr? {
        let op = Int(e.enc.opcode) - 0xD8
        for _ in 0..<64 {
            let mem = rng.chance(50)
            let reg = rng.below(8), rm = rng.below(8)
            let name = mem ? x87MemNames[op][reg] : x87RegName(op, reg, rm)
            if let only, only != "FPU", name != only { continue }
            if name == "X87-INVALID" && !rng.chance(10) { continue }
            var out = DTInstr(name: name)
            out.usesX87 = true
            if ["F2XM1", "FYL2X", "FYL2XP1", "FPTAN", "FPATAN", "FSIN", "FCOS", "FSINCOS"].contains(name) {
                // Computed with the host's libm, not Intel's microcode: compared to within a few
                // units in the last place (and C1, the rounding direction, not at all).
                out.approxX87 = true
                out.mustBeLast = true
            }
            let cc = x87CC(name)
            out.ccClass = cc.0; out.ccUndef = cc.1; out.ccRead = cc.2
            if !mem {
                switch name {
                case "FCOMI", "FUCOMI", "FCOMIP", "FUCOMIP": out.flagsWritten = 0x8D5
                case "FCMOVB", "FCMOVNB": out.flagsRead = 0x01
                case "FCMOVE", "FCMOVNE": out.flagsRead = 0x40
                case "FCMOVBE", "FCMOVNBE": out.flagsRead = 0x41
                case "FCMOVU", "FCMOVNU": out.flagsRead = 0x04
                default: break
                }
            }
            var legacy: [UInt8] = []
            var addr32 = false
            if mem && rng.chance(12) { legacy.append(0x66) }
            if mem && rng.chance(10) { legacy.append(0x67); addr32 = true }
            if rng.chance(3) { legacy.append(rng.pick([0x26, 0x2E, 0x36, 0x3E])) }
            var bytes = legacy
            var setups: [(Int, UInt64)] = []
            var modrm: [UInt8] = []
            var X = false, B = false
            var ripAt = -1
            var t: UInt64 = 0
            if mem {
                t = target(&rng, room: 128, align: 8)
                out.targets.append(t)
                let m = memOperand(&rng, regField: reg, T: t, addr32: addr32, avoid: 0)
                modrm = m.bytes; X = m.X; B = m.B; setups = m.setups
                if m.ripRel { ripAt = m.dispAt }
                if name == "FLDCW" && rng.chance(70) && t >= scratch && t + 2 <= scratch + UInt64(size) {
                    // Mostly masked control words (unmasked ones make every later instruction #MF).
                    out.patches.append((Int(t - scratch), 2, 0xFFFF, 0x3F))
                }
            } else {
                modrm = [0xC0 | UInt8(reg) << 3 | UInt8(rm)]
            }
            let rex = UInt8((rng.chance(8) ? 8 : 0) | (X ? 2 : 0) | (B ? 1 : 0))
            if rex != 0 || rng.chance(10) { bytes.append(0x40 | rex) }
            bytes.append(UInt8(0xD8 + op))
            let at = bytes.count
            bytes += modrm
            if ripAt >= 0 { out.ripFix = at + ripAt; out.ripTarget = t }
            do {
                let d = try table.decode(bytes: bytes, mode: .long64)
                if Int(d.len) != bytes.count {
                    if disagreements.count < 20 { disagreements.append("\(name): encoded \(bytesHex(bytes)), decoder says \(d.len) bytes") }
                    return nil
                }
            } catch {
                return nil
            }
            out.bytes = bytes
            for (r, v) in setups { out.setup += DTGenerator.movImm(r, v) }
            return out
        }
        return nil
    }
}
