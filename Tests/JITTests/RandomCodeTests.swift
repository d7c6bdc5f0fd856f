import XCTest
import Foundation
import JIT
import Machine

/// Seeded random instruction streams over the natively translated subset (and some helper-only
/// neighbours), assembled with nasm and run in lockstep on the interpreter and the JIT.
final class RandomCodeTests: XCTestCase {
    enum Mode: String { case real16, pm32, long64 }

    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
        mutating func chance(_ p: Int) -> Bool { int(100) < p }
    }

    /// Generates one test ROM.
    struct Generator {
        var rng: RNG
        let mode: Mode
        var label = 0
        var lines: [String] = []

        init(seed: UInt64, mode: Mode) { rng = RNG(s: seed); self.mode = mode }

        var widths: [Int] { mode == .long64 ? [8, 16, 32, 64] : [8, 16, 32] }

        func regs(_ w: Int) -> [String] {
            switch (mode, w) {
            case (.long64, 64): return ["rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
            case (.long64, 32): return ["eax", "ebx", "ecx", "edx", "esi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
            case (.long64, 16): return ["ax", "bx", "cx", "dx", "si", "r8w", "r9w", "r12w", "r15w"]
            case (.long64, 8): return ["al", "bl", "cl", "dl", "sil", "r8b", "r9b", "r13b", "r15b"]
            case (_, 32): return ["eax", "ebx", "ecx", "edx", "esi"]
            case (_, 16): return ["ax", "bx", "cx", "dx", "si"]
            default: return ["al", "bl", "cl", "dl", "ah", "bh", "ch", "dh"]
            }
        }
        func sizeWord(_ w: Int) -> String { w == 8 ? "byte" : w == 16 ? "word" : w == 32 ? "dword" : "qword" }

        mutating func imm(_ w: Int) -> String {
            let edge: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
            var v = rng.chance(40) ? rng.pick(edge) : rng.next()
            let m: UInt64 = w >= 32 ? 0xFFFF_FFFF : (1 << UInt64(w)) - 1
            v &= m
            if w == 64 {
                // imm32 sign-extended: give nasm a signed value in range.
                return String(Int64(Int32(truncatingIfNeeded: v)))
            }
            return "0x" + String(v, radix: 16)
        }

        /// A memory operand of width w in the data area (disp may cross a page boundary).
        mutating func mem(_ w: Int, write: Bool = true) -> String {
            let disp = rng.chance(20) ? 0xFF8 + rng.int(16) : rng.int(0x7C0)
            let sw = sizeWord(w)
            switch mode {
            case .real16:
                return rng.chance(50) ? "\(sw) [ds:bp + \(disp)]" : "\(sw) [ds:bp + di + \(disp)]"
            case .pm32:
                return rng.chance(50) ? "\(sw) [ebp + \(disp)]" : "\(sw) [ebp + edi*\(rng.pick([1, 2, 4, 8])) + \(disp)]"
            case .long64:
                if !write && rng.chance(10) { return "\(sw) [rel romdata + \(rng.int(32))]" }
                return rng.chance(50) ? "\(sw) [rbp + \(disp)]" : "\(sw) [rbp + rdi*\(rng.pick([1, 2, 4, 8])) + \(disp)]"
            }
        }

        mutating func newLabel() -> String { label += 1; return ".L\(label)" }

        mutating func instruction(depth: Int = 0) -> [String] {
            let w = rng.pick(widths)
            let r = rng.pick(regs(w)), r2 = rng.pick(regs(w))
            let alu = rng.pick(["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"])
            let cc = rng.pick(["o", "no", "b", "nb", "z", "nz", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"])
            switch rng.int(36) {
            case 0, 1, 2: return ["\(alu) \(r), \(r2)"]
            case 3, 4: return alu == "test" && w == 64 ? ["test \(r), \(r2)"] : ["\(alu) \(r), \(imm(w))"]
            case 5: return ["\(alu) \(mem(w)), \(r)"]
            case 6: return alu == "test" ? ["test \(mem(w)), \(r)"] : ["\(alu) \(r), \(mem(w, write: false))"]
            case 7: return ["\(alu) \(mem(w)), \(imm(w))"]
            case 8: return w > 8 && alu != "test" ? ["\(alu) \(r), byte \(Int8(truncatingIfNeeded: rng.next()))"] : ["\(alu) \(r), \(r2)"]
            case 9: return ["\(rng.pick(["inc", "dec", "neg", "not"])) \(rng.chance(70) ? r : mem(w))"]
            case 10, 11:
                let op = rng.pick(["shl", "shr", "sar", "shl", "shr", "sar", "rol", "ror", "rcl", "rcr"])
                let count = rng.chance(15) ? "1" : (rng.chance(30) ? "cl" : String(rng.int(70)))
                return ["\(op) \(rng.chance(75) ? r : mem(w)), \(count)"]
            case 12, 13: return ["mov \(r), \(r2)"]
            case 14: return w == 64 && rng.chance(50) ? ["mov \(r), 0x\(String(rng.next(), radix: 16))"] : ["mov \(r), \(imm(w))"]
            case 15: return rng.chance(50) ? ["mov \(r), \(mem(w, write: false))"] : ["mov \(mem(w)), \(r)"]
            case 16: return ["mov \(mem(w)), \(imm(w))"]
            case 17:
                let dw = rng.pick(mode == .long64 ? [16, 32, 64] : [16, 32])
                let sw = rng.pick(dw == 16 ? [8] : [8, 16])
                let src = rng.chance(60) ? rng.pick(regs(sw)) : mem(sw, write: false)
                if mode == .long64 && sw == 8 && src.hasPrefix("a") == false && src.count == 2 && ["ah", "bh", "ch", "dh"].contains(src) { return [] }
                return ["\(rng.pick(["movzx", "movsx"])) \(rng.pick(regs(dw))), \(src)"]
            case 18:
                if mode == .long64 {
                    return ["movsxd \(rng.pick(regs(64))), \(rng.chance(50) ? rng.pick(regs(32)) : mem(32, write: false))"]
                }
                return ["lea \(rng.pick(regs(32))), [ebx + ecx*\(rng.pick([1, 2, 4, 8])) + \(rng.int(100000) - 50000)]"]
            case 19:
                let dw = rng.pick(mode == .long64 ? [16, 32, 64] : [16, 32])
                let rr = rng.pick(regs(dw))
                switch mode {
                case .real16: return ["lea \(rr), [bx + si + \(rng.int(60000) - 30000)]"]
                case .pm32: return ["lea \(rr), [esi + edx*\(rng.pick([1, 2, 4, 8])) + \(rng.int(100000) - 50000)]"]
                case .long64:
                    return rng.chance(20) ? ["lea \(rr), [rel romdata]"]
                        : ["lea \(rr), [rsi + r9*\(rng.pick([1, 2, 4, 8])) + \(rng.int(100000) - 50000)]"]
                }
            case 20: return ["xchg \(r), \(rng.chance(60) ? r2 : mem(w))"]
            case 21:
                guard w >= 16 else { return ["imul \(r)"] }
                switch rng.int(3) {
                case 0: return ["imul \(r), \(r2)"]
                case 1: return ["imul \(r), \(mem(w, write: false))"]
                default: return ["imul \(r), \(rng.chance(50) ? r2 : mem(w, write: false)), \(rng.chance(50) ? String(Int8(truncatingIfNeeded: rng.next())) : imm(min(w, 32)))"]
                }
            case 22: return ["set\(cc) \(rng.chance(70) ? rng.pick(regs(8)) : mem(8))"]
            case 23:
                let dw = rng.pick(mode == .long64 ? [16, 32, 64] : [16, 32])
                return ["cmov\(cc) \(rng.pick(regs(dw))), \(rng.chance(60) ? rng.pick(regs(dw)) : mem(dw, write: false))"]
            case 24: return [rng.pick(mode == .long64 ? ["cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"] : ["cbw", "cwde", "cwd", "cdq"])]
            case 25: return [rng.pick(["clc", "stc", "cmc", "cld", "std", "nop", "lahf", "sahf"])]
            case 26:
                let pw = mode == .long64 ? rng.pick([16, 64]) : rng.pick([16, 32])
                let a = rng.pick(regs(pw)), b = rng.pick(regs(pw))
                if rng.chance(30) { return ["push \(pw == 16 ? "word" : (mode == .long64 ? "qword" : "dword")) \(imm(min(pw, 16)))", "pop \(b)"] }
                return ["push \(a)", "pop \(b)"]
            case 27:
                guard depth < 2 else { return ["nop"] }
                let l = newLabel()
                return ["j\(cc) \(l)"] + instruction(depth: depth + 1) + ["\(l):"]
            case 28:
                guard depth < 2 else { return ["nop"] }
                let f = newLabel(), g = newLabel()
                var body = ["call \(f)", "jmp \(g)", "\(f):"]
                for _ in 0..<rng.int(4) { body += instruction(depth: depth + 1) }
                return body + ["ret", "\(g):"]
            case 29:
                guard depth < 1 else { return ["nop"] }
                let l = newLabel()
                let ctr = mode == .real16 ? "word [ds:bp + 0x800]" : (mode == .pm32 ? "dword [ebp + 0x800]" : "dword [rbp + 0x800]")
                var body = ["mov \(ctr), \(2 + rng.int(5))", "\(l):"]
                for _ in 0..<(1 + rng.int(5)) { body += instruction(depth: depth + 1) }
                return body + ["dec \(ctr)", "jnz \(l)"]
            case 30:
                if rng.chance(40) { return sse(r) }
                let bop = rng.pick(["bt", "bts", "btr", "btc"])
                switch rng.int(w >= 16 ? 7 : 3) {
                case 0:
                    guard w >= 16, rng.chance(60) else { return ["mul \(r)"] }
                    // DIV with a nonzero divisor and rDX = 0 (no #DE).
                    let dv = rng.pick(regs(w).filter { !["ax", "eax", "rax", "dx", "edx", "rdx"].contains($0) })
                    let dxr = w == 16 ? "dx" : (w == 32 ? "edx" : "rdx")
                    let base = mode == .real16 ? "ds:bp + 0x940" : (mode == .pm32 ? "ebp + 0x940" : "rbp + 0x940")
                    let sz = w == 16 ? "word" : (w == 32 ? "dword" : "qword")
                    if rng.chance(40) {
                        return ["mov \(sz) [\(base)], \(1 + rng.int(30000))", "xor \(dxr), \(dxr)", "div \(sz) [\(base)]"]
                    }
                    return ["xor \(dxr), \(dxr)", "or \(dv), 1", "div \(dv)"]
                case 1: return ["xadd \(rng.chance(60) ? r : mem(w)), \(r2)"]
                case 2: return ["cmpxchg \(rng.chance(60) ? r : mem(w)), \(r2)"]
                case 3: return ["\(bop) \(r), \(rng.int(w))"]
                case 4: return ["\(bop) \(r), \(r2)"]
                case 5: return ["\(bop) \(mem(w, write: bop != "bt")), \(rng.int(w))"]
                default: return w >= 32 ? ["bswap \(r)"] : ["\(bop) \(r), \(r2)"]
                }
            case 31:
                guard depth < 2 else { return ["nop"] }
                // Indirect jump / call through a register or memory.
                let f = newLabel(), g = newLabel()
                let reg = mode == .long64 ? "rax" : (mode == .pm32 ? "eax" : "ax")
                let addr = mode == .real16 ? "\(f) - $$" : f
                if rng.chance(50) {
                    return ["mov \(reg), \(addr)", "jmp \(reg)", "nop", "\(f):"]
                }
                let slot = mode == .real16 ? "[ds:bp + 0x810]" : (mode == .pm32 ? "[ebp + 0x810]" : "[rbp + 0x810]")
                let sz = mode == .long64 ? "qword" : (mode == .pm32 ? "dword" : "word")
                return ["mov \(reg), \(addr)", "mov \(sz) \(slot), \(reg)", "call \(sz) \(slot)", "jmp \(g)", "\(f):"]
                    + instruction(depth: depth + 1) + ["ret", "\(g):"]
            case 32:
                guard mode != .real16 else { return ["nop"] }
                // LEAVE after a frame.
                return mode == .long64 ? ["push rbp", "mov rbp, rsp", "sub rsp, 32", "leave"]
                    : ["push ebp", "mov ebp, esp", "sub esp, 32", "leave"]
            case 33:
                guard depth < 1 else { return ["nop"] }
                let l = newLabel()
                let safe = ["add eax, ebx", "xor edx, eax", "cmp eax, edx", "test ebx, 3", "sub esi, eax", "rol edx, 3", "ror ebx, 31"]
                var body = ["mov ecx, \(1 + rng.int(6))", "\(l):"]
                for _ in 0..<(1 + rng.int(2)) { body.append(rng.pick(safe)) }
                return body + ["\(rng.pick(["loop", "loope", "loopne", "loop"])) \(l)"]
            case 34:
                let l = newLabel()
                let j = mode == .long64 ? rng.pick(["jrcxz", "jecxz"]) : (mode == .pm32 ? rng.pick(["jecxz", "jcxz"]) : rng.pick(["jcxz", "jecxz"]))
                return [rng.chance(30) ? "xor ecx, ecx" : "nop", "\(j) \(l)", "inc ebx", "\(l):"]
            default:
                return ["\(alu) \(r), \(r2)"]
            }
        }

        /// A counted self-loop (the counter is rCX) whose body is register-only instructions of
        /// the register-resident loop subset, sometimes with a neighbour that disqualifies it
        /// (AH..BH, a memory operand, a shift): exercises TranslatorLoop.swift.
        mutating func registerLoop() -> [String] {
            let l = newLabel()
            var body = ["mov ecx, \(1 + rng.int(40))", "\(l):"]
            for _ in 0..<(1 + rng.int(7)) {
                let w = rng.pick(widths)
                let pool = regs(w).filter { !["rcx", "ecx", "cx", "cl", "ch"].contains($0) }
                let r = rng.pick(pool), r2 = rng.pick(pool)
                let alu = rng.pick(["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test"])
                switch rng.int(14) {
                case 0, 1, 2: body.append("\(alu) \(r), \(r2)")
                case 3, 4: body.append(alu == "test" && w == 64 ? "test \(r), \(r2)" : "\(alu) \(r), \(imm(w))")
                case 5: body.append(w > 8 && alu != "test" ? "\(alu) \(r), byte \(Int8(truncatingIfNeeded: rng.next()))" : "\(alu) \(r), \(r2)")
                case 6: body.append("\(rng.pick(["inc", "dec", "neg", "not"])) \(r)")
                case 7: body.append(rng.chance(50) ? "mov \(r), \(r2)" : (w == 64 && rng.chance(50) ? "mov \(r), 0x\(String(rng.next(), radix: 16))" : "mov \(r), \(imm(w))"))
                case 8:
                    guard w >= 16 else { body.append("mov \(r), \(r2)"); break }
                    let src = rng.pick(regs(rng.chance(50) || w == 16 ? 8 : 16).filter { !["cl", "ch", "cx"].contains($0) })
                    body.append("\(rng.pick(["movzx", "movsx"])) \(r), \(src)")
                case 9:
                    switch mode {
                    case .real16: body.append("lea \(rng.pick(["ax", "bx", "dx", "si"])), [bx + si + \(rng.int(60000) - 30000)]")
                    case .pm32: body.append("lea \(rng.pick(["eax", "ebx", "edx", "esi", "ax"])), [esi + edx*\(rng.pick([1, 2, 4, 8])) + \(rng.int(100000) - 50000)]")
                    case .long64: body.append("lea \(rng.pick(["rax", "r9", "edx", "r12d", "si"])), [rsi + r8*\(rng.pick([1, 2, 4, 8])) + \(rng.int(100000) - 50000)]")
                    }
                case 10: body.append(rng.pick(["clc", "stc", "cmc", "nop"]))
                case 11: body.append("\(rng.pick(["adc", "sbb"])) \(r), \(r2)")
                case 12 where rng.chance(30): body.append(rng.pick(["shl \(r), 3", "add ah, bl", "add \(mode == .long64 ? "[rbp + 8]" : (mode == .pm32 ? "[ebp + 8]" : "[bp + 8]")), ebx"]))
                default: body.append("\(rng.pick(["inc", "dec"])) \(r)")
                }
            }
            // The counter's test, with a condition that ends the loop when ecx reaches 0.
            body += rng.pick([["dec ecx", "jnz \(l)"], ["sub ecx, 1", "jnz \(l)"], ["dec ecx", "jg \(l)"],
                              ["sub ecx, 1", "ja \(l)"], ["test ecx, ecx", "lea ecx, [ecx - 1]", "jnz \(l)"]])
            return body
        }

        /// A flag-writing instruction of a random kind and size, then a jump, then an instruction
        /// that needs the carry at the start of the next block (where the translator does not
        /// know the lazy flag kind: the shared carry stub computes it).
        mutating func carryAtBlockStart() -> [String] {
            let w = rng.pick(widths)
            let r = rng.pick(regs(w)), r2 = rng.pick(regs(w))
            let l = newLabel()
            let first: String
            switch rng.int(6) {
            case 0: first = "\(rng.pick(["add", "sub", "adc", "sbb", "cmp", "and", "or", "xor"])) \(r), \(rng.chance(50) ? r2 : imm(w))"
            case 1: first = "\(rng.pick(["inc", "dec", "neg"])) \(r)"
            case 2: first = "\(rng.pick(["shl", "shr", "sar", "rol"])) \(r), \(1 + rng.int(w - 1))"
            case 3: first = rng.pick(["stc", "clc", "cmc"])
            case 4: first = w > 8 ? "imul \(r), \(r2)" : "test \(r), \(r2)"
            default: first = "\(rng.pick(["add", "sub"])) \(r), \(r2)"
            }
            let w2 = rng.pick(widths)
            let a = rng.pick(regs(w2)), b = rng.pick(regs(w2))
            let use = rng.pick(["inc \(a)", "dec \(a)", "adc \(a), \(b)", "sbb \(a), \(b)", "adc \(a), 0", "setc \(rng.pick(regs(8)))"])
            return [first, "jmp \(l)", "\(l):", use]
        }

        /// Integer SSE (the natively translated subset and neighbours); CR4.OSFXSR is set.
        mutating func sse(_ r: String) -> [String] {
            let nx = mode == .long64 ? 16 : 8
            let x = "xmm\(rng.int(nx))", y = "xmm\(rng.int(nx))"
            let base = mode == .real16 ? "ds:bp + 0x900" : (mode == .pm32 ? "ebp + 0x900" : "rbp + 0x900")
            let amem = "[\(base) + \(16 * rng.int(4))]"
            let umem = "[\(base) + \(rng.int(64))]"
            let r32 = rng.pick(regs(32))
            switch rng.int(9) {
            case 0, 1:
                let op = rng.pick(["pxor", "por", "pand", "pandn", "paddd", "paddq", "psubd", "punpckldq",
                                   "punpckhdq", "punpcklqdq", "punpckhqdq", "pshufb", "paddw", "pcmpeqd"])
                return ["\(op) \(x), \(rng.chance(70) ? y : amem)"]
            case 2: return ["\(rng.pick(["pslld", "psrld", "psllq", "psrlq", "psraw"])) \(x), \(rng.int(70))"]
            case 3: return ["pshufd \(x), \(rng.chance(70) ? y : amem), \(rng.int(256))"]
            case 4: return rng.chance(50) ? ["movdqa \(x), \(rng.chance(50) ? y : amem)"] : ["movdqa \(amem), \(x)"]
            case 5: return rng.chance(50) ? ["movdqu \(x), \(rng.chance(30) ? y : umem)"] : ["movdqu \(umem), \(x)"]
            case 6: return rng.chance(50) ? ["movd \(x), \(rng.chance(60) ? r32 : "dword " + umem)"] : ["movd \(rng.chance(60) ? r32 : "dword " + umem), \(x)"]
            case 7:
                if mode == .long64 { return rng.chance(50) ? ["movq \(x), \(rng.pick(regs(64)))"] : ["movq \(rng.pick(regs(64))), \(x)"] }
                return ["movd \(x), \(r32)", "pshufd \(y), \(x), 0x1b"]
            default:
                // Unaligned aligned-form access: #GP, taken by the interpreter.
                return ["paddd \(x), \(y)"]
            }
        }

        /// Instructions from `registerLoop` instead of `instruction`.
        var loopsOnly = false
        /// Instructions from `carryAtBlockStart` instead of `instruction`.
        var carryOnly = false

        mutating func source(count: Int) -> String {
            var body: [String] = []
            let init32 = ["eax", "ebx", "ecx", "edx", "esi"]
            body += mode == .long64 ? [] : ["mov eax, cr4", "or eax, 0x200", "mov cr4, eax"]
            switch mode {
            case .real16:
                body += ["mov ax, 0x2000", "mov ds, ax", "xor bp, bp", "mov di, \(rng.int(8))"]
                for r in init32 { body.append("mov \(r), 0x\(String(rng.next() & 0xFFFF_FFFF, radix: 16))") }
            case .pm32:
                body += ["ENTER_PM32", "mov ebp, 0x20000", "mov edi, \(rng.int(8))"]
                for r in init32 { body.append("mov \(r), 0x\(String(rng.next() & 0xFFFF_FFFF, radix: 16))") }
            case .long64:
                body += ["ENTER_PM32", "ENTER_LONG64", "mov rax, cr4", "or eax, 0x200", "mov cr4, rax", "mov rbp, 0x20000", "mov rdi, \(rng.int(8))"]
                for r in ["rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"] {
                    body.append("mov \(r), 0x\(String(rng.next(), radix: 16))")
                }
            }
            for _ in 0..<count { body += loopsOnly ? registerLoop() : (carryOnly ? carryAtBlockStart() : instruction()) }
            body.append(mode == .real16 ? "cld" : "cld")
            body.append("FINISH")
            let header = mode == .real16 ? "%include \"lib/rom.inc\"\n" : "%define ROM_ORG 0xF0000\n%include \"lib/rom.inc\"\n%include \"lib/modes.inc\"\n"
            return header + "main:\n" + body.map { $0.hasSuffix(":") || $0.hasPrefix("ENTER") || $0 == "FINISH" ? $0 : "    " + $0 }.joined(separator: "\n")
                + "\n    align 16\nromdata: dq 0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0\n"
        }
    }

    func runSeeds(_ mode: Mode, seeds: ClosedRange<UInt64>, count: Int) throws {
        for seed in seeds {
            var g = Generator(seed: seed &* 7919 &+ UInt64(mode.rawValue.count), mode: mode)
            let src = g.source(count: count)
            let name = "random-\(mode.rawValue)-\(seed)"
            let image: [UInt8]
            do { image = try JITTestSupport.assemble(name, source: src) } catch {
                XCTFail("\(name): \(error)\n\(src)")
                continue
            }
            let (report, units) = try DiffRunner.run(image: image)
            if let report {
                let path = NSTemporaryDirectory() + "/\(name).asm"
                try? src.write(toFile: path, atomically: true, encoding: .utf8)
                XCTFail("\(name) (source kept at \(path)): \(report)")
            } else {
                // The run must reach the end (the generated code is fault-free by construction).
                let r = try JITTestSupport.run(image: image, jit: true)
                XCTAssertEqual(r.exit, .exitPort(1), "\(name): \(r.exit)\n\(r.output)")
                if seed <= 6 { print("\(name): \(units) blocks in lockstep, \(r.icount) instructions; " + r.stats) }
            }
        }
    }

    /// Register-resident loops: lockstep with the whole budget (loops run to their end), then
    /// again with small random budgets (loops stop at their head when the budget runs out, or
    /// the block is not entered), comparing CPU state after every JIT run.
    func runLoopSeeds(_ mode: Mode, seeds: ClosedRange<UInt64>) throws {
        var loopBlocks = 0
        for seed in seeds {
            var g = Generator(seed: seed &* 104_729 &+ UInt64(mode.rawValue.count), mode: mode)
            g.loopsOnly = true
            let src = g.source(count: 60)
            let name = "loops-\(mode.rawValue)-\(seed)"
            let image: [UInt8]
            do { image = try JITTestSupport.assemble(name, source: src) } catch {
                XCTFail("\(name): \(error)\n\(src)")
                continue
            }
            let path = NSTemporaryDirectory() + "/\(name).asm"
            let (report, _) = try DiffRunner.run(image: image)
            if let report {
                try? src.write(toFile: path, atomically: true, encoding: .utf8)
                XCTFail("\(name) (source kept at \(path)): \(report)")
                continue
            }
            let r = try DiffRunner(image: image)
            var rng = RNG(s: seed)
            r.jitBudget = { 1 + rng.int(60) }
            var units = 0
            loop: while units < 1_000_000 {
                units += 1
                switch r.unit(check: true) {
                case .finished: break loop
                case .diverged(let why):
                    try? src.write(toFile: path, atomically: true, encoding: .utf8)
                    XCTFail("\(name) with small budgets (source kept at \(path)), unit \(units) at \(JITTestSupport.hex(r.interp.cpu.rip)): \(why)")
                    break loop
                case .ok: continue
                }
            }
            XCTAssertNotNil(r.jitMachine.exitStatus, "\(name): no end with small budgets")
            loopBlocks += r.jit.loopBlocksTranslated
        }
        XCTAssertGreaterThan(loopBlocks, 0, "no block was translated as a register-resident loop")
        print("register loops \(mode.rawValue): \(loopBlocks) loop blocks over \(seeds.count) seeds")
    }

    /// CF needed at a block start after every flag-writing kind and size (the carry stub).
    func testCarryAtBlockStart() throws {
        for mode in [Mode.real16, .pm32, .long64] {
            for seed in UInt64(1)...max(2, extraSeeds) {
                var g = Generator(seed: seed &* 15_485_863 &+ UInt64(mode.rawValue.count), mode: mode)
                g.carryOnly = true
                let src = g.source(count: 400)
                let name = "carry-\(mode.rawValue)-\(seed)"
                let image = try JITTestSupport.assemble(name, source: src)
                let (report, _) = try DiffRunner.run(image: image)
                if let report {
                    let path = NSTemporaryDirectory() + "/\(name).asm"
                    try? src.write(toFile: path, atomically: true, encoding: .utf8)
                    XCTFail("\(name) (source kept at \(path)): \(report)")
                }
            }
        }
    }

    func testRegisterLoopsReal16() throws { try runLoopSeeds(.real16, seeds: 1...max(3, extraSeeds)) }
    func testRegisterLoopsPM32() throws { try runLoopSeeds(.pm32, seeds: 1...max(3, extraSeeds)) }
    func testRegisterLoopsLong64() throws { try runLoopSeeds(.long64, seeds: 1...max(3, extraSeeds)) }

    /// JIT_FUZZ_SEEDS=n runs n seeds per mode (default: a few, to keep the suite quick).
    var extraSeeds: UInt64 { UInt64(ProcessInfo.processInfo.environment["JIT_FUZZ_SEEDS"] ?? "") ?? 0 }

    func testRandomCodeReal16() throws { try runSeeds(.real16, seeds: 1...max(4, extraSeeds), count: 1500) }
    func testRandomCodePM32() throws { try runSeeds(.pm32, seeds: 1...max(6, extraSeeds), count: 2500) }
    func testRandomCodeLong64() throws { try runSeeds(.long64, seeds: 1...max(6, extraSeeds), count: 2500) }
}
