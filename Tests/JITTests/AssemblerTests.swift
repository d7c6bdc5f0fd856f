import XCTest
import Foundation
@testable import JIT

// Every encoder form is checked against nasm: each test collects many (nasm line, emitter) pairs,
// assembles all lines in one `nasm -f bin` run and compares the bytes with ours exactly. On a
// mismatch the failing lines are assembled one by one to name them.

// MARK: nasm runner

enum Nasm {
    static let path: String? = ["/usr/bin/nasm", "/usr/local/bin/nasm"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Assembles `source` and returns the flat binary, or an error text.
    static func assemble(_ source: String) -> Result<[UInt8], NasmError> {
        guard let nasm = path else { return .failure(NasmError(text: "nasm not installed")) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emu-jit-nasm-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("t.asm"), out = dir.appendingPathComponent("t.bin")
        do { try source.write(to: src, atomically: false, encoding: .utf8) } catch { return .failure(NasmError(text: "\(error)")) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-w-all", "-o", out.path, src.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return .failure(NasmError(text: "\(error)")) }
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let data = try? Data(contentsOf: out) else {
            return .failure(NasmError(text: msg))
        }
        return .success([UInt8](data))
    }
}

struct NasmError: Error { let text: String }

func hex(_ b: some Sequence<UInt8>) -> String { b.map { String(format: "%02X", $0) }.joined(separator: " ") }

/// A batch of cases: one assembler stream and the matching nasm lines.
final class Batch {
    let asm: X86Assembler
    let org: UInt64
    var lines: [String] = []
    var starts: [Int] = []

    init(org: UInt64 = 0) {
        self.org = org
        asm = X86Assembler(origin: org, capacity: 1 << 16)
    }

    var count: Int { lines.count }

    /// One case: the nasm line and the emitter that must produce the same bytes.
    func t(_ line: String, _ emit: (X86Assembler) -> Void) {
        starts.append(asm.count)
        lines.append(line)
        emit(asm)
    }

    /// A case whose nasm text depends on what the emitter did (returned by it).
    func tx(_ emit: (X86Assembler) -> String) {
        starts.append(asm.count)
        lines.append(emit(asm))
    }

    private var header: String { "bits 64\n" + (org != 0 ? "org \(org)\n" : "") }

    func check(file: StaticString = #filePath, line: UInt = #line) {
        guard Nasm.path != nil else { XCTFail("nasm is not installed", file: file, line: line); return }
        let src = header + lines.joined(separator: "\n") + "\n"
        let ours = asm.bytes
        switch Nasm.assemble(src) {
        case .failure(let e):
            XCTFail("nasm failed: \(e.text.prefix(2000))", file: file, line: line)
        case .success(let theirs):
            print("nasm batch: \(lines.count) cases, \(ours.count) bytes, \(theirs == ours ? "identical" : "DIFFERENT")")
            if theirs == ours { return }
            reportMismatches(theirs, file: file, line: line)
        }
    }

    /// Names the failing cases: those whose bytes differ from nasm's at the same offset are
    /// assembled alone (at that offset) to show nasm's encoding.
    private func reportMismatches(_ theirs: [UInt8], file: StaticString, line: UInt) {
        let ours = asm.bytes
        var failures = 0
        for i in 0..<lines.count {
            let end = i + 1 < starts.count ? starts[i + 1] : ours.count
            let mine = Array(ours[starts[i]..<end])
            let same = Array(theirs[min(starts[i], theirs.count)..<min(end, theirs.count)])
            if mine == same { continue }
            // Labels make single-line assembly meaningless.
            if lines[i].contains(" L") || lines[i].hasSuffix(":") {
                XCTFail("`\(lines[i])` (offset \(starts[i])): ours \(hex(mine)), nasm \(hex(same))", file: file, line: line)
            } else {
                let src = header + "times \(starts[i]) db 0\n" + lines[i] + "\n"
                switch Nasm.assemble(src) {
                case .failure(let e):
                    XCTFail("nasm rejected `\(lines[i])`: \(e.text)", file: file, line: line)
                case .success(let b):
                    XCTFail("`\(lines[i])`: ours \(hex(mine)), nasm \(hex(b.dropFirst(starts[i])))", file: file, line: line)
                }
            }
            failures += 1
            if failures >= 12 { break }
        }
        if failures == 0 {
            XCTFail("nasm output has \(theirs.count) bytes, ours \(ours.count)", file: file, line: line)
        }
    }
}

// MARK: operand names

let regNames64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
let regNames32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"]
let regNames16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
let regNames8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"]

func n(_ r: Reg, _ s: OpSize) -> String {
    switch r {
    case .ah: return "ah"
    case .ch: return "ch"
    case .dh: return "dh"
    case .bh: return "bh"
    default: break
    }
    let i = Int(r.rawValue)
    switch s {
    case .byte: return regNames8[i]
    case .word: return regNames16[i]
    case .dword: return regNames32[i]
    case .qword: return regNames64[i]
    }
}

func n(_ x: Xmm) -> String { "xmm\(x.rawValue)" }

func kw(_ s: OpSize) -> String {
    switch s { case .byte: "byte"; case .word: "word"; case .dword: "dword"; case .qword: "qword" }
}

func n(_ m: Mem, org: UInt64 = 0) -> String {
    if m.isRIPRelative {
        if m.target != 0 || m.disp == 0 { return "[rel $$+\(m.target &- org)]" }
    }
    var parts: [String] = []
    if let b = m.base { parts.append(regNames64[Int(b.rawValue)]) }
    if let i = m.index { parts.append("\(regNames64[Int(i.rawValue)])*\(m.scale)") }
    if m.base == nil && m.index == nil { return "[abs \(m.disp)]" }
    var s = parts.joined(separator: "+")
    if m.disp > 0 { s += "+\(m.disp)" } else if m.disp < 0 { s += "-\(-Int64(m.disp))" }
    return m.base == nil ? "[nosplit \(s)]" : "[\(s)]"
}

/// `size [mem]`.
func n(_ s: OpSize, _ m: Mem) -> String { "\(kw(s)) \(n(m))" }

let nopText = ["", "nop", "o16 nop", "nop dword [rax]", "nop dword [byte rax+0]", "nop dword [byte rax+rax*1+0]",
               "nop word [byte rax+rax*1+0]", "nop dword [dword rax+0]", "nop dword [dword rax+rax*1+0]",
               "nop word [dword rax+rax*1+0]"]

/// nasm lines for `X86Assembler.nop(k)` (greedy 9-byte pieces), each ending in a newline.
func nopLines(_ k: Int) -> String {
    var k = k, s = ""
    while k > 0 { let p = min(k, 9); s += nopText[p] + "\n"; k -= p }
    return s
}

func imm(_ v: Int32, _ s: OpSize) -> Int64 { X86Assembler.truncImm(v, s) }

let condNames = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]
let aluNames = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
let shiftNames: [ShiftOp: String] = [.rol: "rol", .ror: "ror", .rcl: "rcl", .rcr: "rcr", .shl: "shl", .shr: "shr", .sar: "sar"]
let bitNames: [BitOp: String] = [.bt: "bt", .bts: "bts", .btr: "btr", .btc: "btc"]

/// Memory shapes that exercise every ModRM/SIB special case.
let memShapes: [Mem] = [
    Mem(.rax), Mem(.rcx, 8), Mem(.rsp), Mem(.rbp), Mem(.r12), Mem(.r13), Mem(.rsp, 8), Mem(.rbp, 0),
    Mem(.r13, -8), Mem(.r12, 0x100), Mem(.r15, 127), Mem(.rdi, -128), Mem(.rsi, 128), Mem(.rbx, -129),
    Mem(.rbp, 0x12345678), Mem(.r11, Int32.min), Mem(.r9, Int32.max),
    Mem(base: .rax, index: .rbx), Mem(base: .rbp, index: .rax, scale: 1), Mem(base: .r13, index: .r13, scale: 2),
    Mem(base: .r12, index: .r12, scale: 4), Mem(base: .rsp, index: .rbp, scale: 8, disp: 16),
    Mem(base: .r8, index: .r15, scale: 8, disp: -0x1000), Mem(base: .rbp, index: .rsi, scale: 4, disp: 1000),
    Mem(base: nil, index: .rax, scale: 8, disp: 16), Mem(base: nil, index: .r12, scale: 1, disp: -4),
    Mem(base: nil, index: .rbp, scale: 2), .abs(0x1000), .abs(-8), .rip(target: 0x1234), .rip(target: 0x7000_0000),
]

/// Small deterministic generator (SplitMix64).
struct SplitMix {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func bool() -> Bool { next() & 1 == 1 }
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    mutating func reg() -> Reg { Reg(rawValue: UInt8(int(16)))! }
    mutating func lowReg() -> Reg { Reg(rawValue: UInt8(int(8)))! }
    mutating func size() -> OpSize { pick(OpSize.allCases) }
    mutating func xmm() -> Xmm { Xmm(rawValue: UInt8(int(16)))! }

    /// A byte register that may be ah..bh; `noREX` limits it to registers that need no REX.
    mutating func byteReg(noREX: Bool) -> Reg {
        if noREX { return pick([.rax, .rcx, .rdx, .rbx, .ah, .ch, .dh, .bh]) }
        return reg()
    }

    mutating func disp() -> Int32 {
        switch int(8) {
        case 0, 1: return 0
        case 2: return Int32(Int8(truncatingIfNeeded: next()))
        case 3: return pick([127, 128, -128, -129, 1, -1])
        default: return Int32(truncatingIfNeeded: next()) >> Int32(int(24))
        }
    }

    /// A random memory operand; `lowOnly` keeps its registers in rax..rdi (no REX).
    mutating func mem(lowOnly: Bool = false) -> Mem {
        let k = int(20)
        if k == 0 { return .rip(target: next() & 0xFFF_FFFF) }
        if k == 1 { return .abs(disp()) }
        let base: Reg? = k == 2 ? nil : (lowOnly ? lowReg() : reg())
        var index: Reg? = nil
        if int(3) == 0 || base == nil {
            var i = lowOnly ? lowReg() : reg()
            while i == .rsp { i = lowOnly ? lowReg() : reg() }
            index = i
        }
        return Mem(base: base, index: index, scale: pick([1, 2, 4, 8]), disp: disp())
    }

    mutating func imm32() -> Int32 {
        switch int(4) {
        case 0: return Int32(Int8(truncatingIfNeeded: next()))
        case 1: return pick([0, 1, -1, 127, 128, -128, -129, 255, 256, 0x7FFF, -0x8000, 0xFFFF, Int32.max, Int32.min])
        default: return Int32(truncatingIfNeeded: next())
        }
    }
}

// MARK: tests

final class AssemblerTests: XCTestCase {
    override func setUp() {
        super.setUp()
        if Nasm.path == nil { XCTFail("nasm is required for the encoder tests") }
    }

    func testMovAllRegisterPairsAndSizes() {
        let b = Batch()
        for s in OpSize.allCases {
            for d in Reg.gprs { for r in Reg.gprs { b.t("mov \(n(d, s)), \(n(r, s))") { $0.mov(s, d, r) } } }
        }
        for h in [Reg.ah, .ch, .dh, .bh] {
            for o in [Reg.rax, .rcx, .rdx, .rbx, .ah, .ch, .dh, .bh] {
                b.t("mov \(n(h, .byte)), \(n(o, .byte))") { $0.mov(.byte, h, o) }
                b.t("mov \(n(o, .byte)), \(n(h, .byte))") { $0.mov(.byte, o, h) }
            }
            b.t("mov \(n(h, .byte)), [rbx+rsi*2+4]") { $0.mov(.byte, h, Mem(base: .rbx, index: .rsi, scale: 2, disp: 4)) }
            b.t("mov [rbp], \(n(h, .byte))") { $0.mov(.byte, Mem(.rbp), h) }
            b.t("mov \(n(h, .byte)), 0x7f") { $0.mov(.byte, h, 0x7F) }
        }
        b.check()
    }

    func testMovMemoryAndImmediates() {
        let b = Batch()
        for s in OpSize.allCases {
            for m in memShapes {
                for r in [Reg.rax, .rsp, .rbp, .rsi, .r8, .r12, .r13, .r15] {
                    b.t("mov \(n(r, s)), \(n(s, m))") { $0.mov(s, r, m) }
                    b.t("mov \(n(s, m)), \(n(r, s))") { $0.mov(s, m, r) }
                }
                for v: Int32 in [0, 1, -1, 127, -128, 0x1234, -0x8000, 0x7FFF_FFFF, Int32.min] {
                    b.t("mov \(n(s, m)), \(imm(v, s))") { $0.mov(s, m, v) }
                }
            }
            let values: [Int64] = [0, 1, -1, 0x7F, -0x80, 0xFF, 0x1234, -0x8000, 0x7FFF_FFFF, 0x8000_0000,
                                   0xFFFF_FFFF, 0x1_0000_0000, -0x8000_0000, -0x8000_0001, Int64.max, Int64.min,
                                   0x1234_5678_9ABC_DEF0]
            for r in Reg.gprs {
                for v in values {
                    let t: Int64
                    switch s {
                    case .byte: t = Int64(Int8(truncatingIfNeeded: v))
                    case .word: t = Int64(Int16(truncatingIfNeeded: v))
                    case .dword: t = Int64(Int32(truncatingIfNeeded: v))
                    case .qword: t = v
                    }
                    b.t("mov \(n(r, s)), \(t)") { $0.mov(s, r, v) }
                }
            }
        }
        for r in Reg.gprs {
            for v: Int32 in [0, 5, -1, Int32.max, Int32.min] {
                b.t("mov \(n(r, .qword)), strict dword \(v)") { $0.movImm32(r, v) }
            }
            for v: UInt64 in [0, 5, 0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0] {
                b.t("mov \(n(r, .qword)), strict qword \(v)") { XCTAssertEqual($0.movabs(r, v), $0.count - 8) }
            }
        }
        b.check()
    }

    func testMovzxMovsxMovsxdLea() {
        let b = Batch()
        for (name, zero) in [("movzx", true), ("movsx", false)] {
            for d in Reg.gprs {
                for s in [Reg.rax, .rsp, .rbp, .rdi, .r8, .r13, .r15] {
                    for (ds, ss) in [(OpSize.word, OpSize.byte), (.dword, .byte), (.qword, .byte), (.dword, .word), (.qword, .word)] {
                        b.t("\(name) \(n(d, ds)), \(n(s, ss))") { zero ? $0.movzx(ds, d, ss, s) : $0.movsx(ds, d, ss, s) }
                    }
                }
                for m in memShapes.prefix(8) {
                    b.t("\(name) \(n(d, .dword)), \(n(.byte, m))") { zero ? $0.movzx(.dword, d, .byte, m) : $0.movsx(.dword, d, .byte, m) }
                    b.t("\(name) \(n(d, .qword)), \(n(.word, m))") { zero ? $0.movzx(.qword, d, .word, m) : $0.movsx(.qword, d, .word, m) }
                }
            }
            for h in [Reg.ah, .ch, .dh, .bh] {
                b.t("\(name) ebx, \(n(h, .byte))") { zero ? $0.movzx(.dword, .rbx, .byte, h) : $0.movsx(.dword, .rbx, .byte, h) }
            }
        }
        for d in Reg.gprs {
            for s in Reg.gprs { b.t("movsxd \(n(d, .qword)), \(n(s, .dword))") { $0.movsxd(d, s) } }
            for m in memShapes { b.t("movsxd \(n(d, .qword)), \(n(.dword, m))") { $0.movsxd(d, m) } }
            for s in [OpSize.word, .dword, .qword] {
                for m in memShapes { b.t("lea \(n(d, s)), \(n(m))") { $0.lea(s, d, m) } }
            }
        }
        b.check()
    }

    func testALUAllForms() {
        let b = Batch()
        let imms: [Int32] = [0, 1, -1, 5, 127, -128, 128, -129, 255, 0x1234, 0x7FFF, 0x8000, -0x8000, 0xFFFF, 0x12345, Int32.max, Int32.min]
        for op in ALUOp.allCases {
            let name = aluNames[Int(op.rawValue)]
            for s in OpSize.allCases {
                for d in Reg.gprs {
                    for r in [Reg.rax, .rcx, .rsp, .rbp, .rsi, .rdi, .r8, .r12, .r13, .r15] {
                        b.t("\(name) \(n(d, s)), \(n(r, s))") { $0.alu(op, s, d, r) }
                    }
                    for v in imms { b.t("\(name) \(n(d, s)), \(imm(v, s))") { $0.alu(op, s, d, v) } }
                }
                for m in memShapes {
                    b.t("\(name) \(n(.rdx, s)), \(n(s, m))") { $0.alu(op, s, .rdx, m) }
                    b.t("\(name) \(n(s, m)), \(n(.r10, s))") { $0.alu(op, s, m, .r10) }
                    for v: Int32 in [3, -100, 0x1000, Int32.min] { b.t("\(name) \(n(s, m)), \(imm(v, s))") { $0.alu(op, s, m, v) } }
                }
            }
        }
        // The named wrappers route to the same encoder.
        b.t("add rax, rbx") { $0.add(.qword, .rax, .rbx) }
        b.t("or ecx, [rdx]") { $0.or(.dword, .rcx, Mem(.rdx)) }
        b.t("adc [rdx], sil") { $0.adc(.byte, Mem(.rdx), .rsi) }
        b.t("sbb r9w, 300") { $0.sbb(.word, .r9, 300) }
        b.t("and qword [rsp+8], -16") { $0.and(.qword, Mem(.rsp, 8), -16) }
        b.t("sub rsp, 136") { $0.sub(.qword, .rsp, 136) }
        b.t("xor eax, eax") { $0.xor(.dword, .rax, .rax) }
        b.t("cmp byte [r13], 0x7f") { $0.cmp(.byte, Mem(.r13), 0x7F) }
        b.check()
    }

    func testTestIncDecNegNotMulDiv() {
        let b = Batch()
        for s in OpSize.allCases {
            for d in Reg.gprs {
                for r in [Reg.rax, .rbx, .rsp, .rdi, .r9, .r12] { b.t("test \(n(d, s)), \(n(r, s))") { $0.test(s, d, r) } }
                for v: Int32 in [1, -1, 0x80, 0x1234, Int32.min] { b.t("test \(n(d, s)), \(imm(v, s))") { $0.test(s, d, v) } }
                for (name, f) in [("inc", X86Assembler.inc), ("dec", X86Assembler.dec), ("not", X86Assembler.not),
                                  ("neg", X86Assembler.neg), ("mul", X86Assembler.mul), ("imul", X86Assembler.imul),
                                  ("div", X86Assembler.div), ("idiv", X86Assembler.idiv)] as [(String, (X86Assembler) -> (OpSize, Reg) -> Void)] {
                    b.t("\(name) \(n(d, s))") { f($0)(s, d) }
                }
            }
            for m in memShapes {
                b.t("test \(n(s, m)), \(n(.rcx, s))") { $0.test(s, m, .rcx) }
                b.t("test \(n(s, m)), \(imm(0x4321, s))") { $0.test(s, m, 0x4321) }
                for (name, f) in [("inc", X86Assembler.inc), ("dec", X86Assembler.dec), ("not", X86Assembler.not),
                                  ("neg", X86Assembler.neg), ("mul", X86Assembler.mul), ("imul", X86Assembler.imul),
                                  ("div", X86Assembler.div), ("idiv", X86Assembler.idiv)] as [(String, (X86Assembler) -> (OpSize, Mem) -> Void)] {
                    b.t("\(name) \(n(s, m))") { f($0)(s, m) }
                }
            }
        }
        b.check()
    }

    func testShiftsRotatesAndDoubleShifts() {
        let b = Batch()
        for op in ShiftOp.allCases {
            let name = shiftNames[op]!
            for s in OpSize.allCases {
                for d in Reg.gprs {
                    for c: UInt8 in [1, 2, 7, 31, 63] { b.t("\(name) \(n(d, s)), \(c)") { $0.shift(op, s, d, c) } }
                    b.t("\(name) \(n(d, s)), cl") { $0.shift(op, s, d, .cl) }
                }
                for m in memShapes {
                    b.t("\(name) \(n(s, m)), 1") { $0.shift(op, s, m, 1) }
                    b.t("\(name) \(n(s, m)), 5") { $0.shift(op, s, m, 5) }
                    b.t("\(name) \(n(s, m)), cl") { $0.shift(op, s, m, .cl) }
                }
            }
        }
        b.t("shl rax, 3") { $0.shl(.qword, .rax, 3) }
        b.t("shr dword [rax], cl") { $0.shr(.dword, Mem(.rax), .cl) }
        b.t("sar r8b, 1") { $0.sar(.byte, .r8, 1) }
        b.t("rol word [rsp], 4") { $0.rol(.word, Mem(.rsp), 4) }
        b.t("ror r15, cl") { $0.ror(.qword, .r15, .cl) }
        b.t("rcl spl, 1") { $0.rcl(.byte, .rsp, 1) }
        b.t("rcr qword [rbp+rax*8], cl") { $0.rcr(.qword, Mem(base: .rbp, index: .rax, scale: 8), .cl) }
        b.t("shl ah, 2") { $0.shl(.byte, .ah, 2) }
        for s in [OpSize.word, .dword, .qword] {
            for d in Reg.gprs {
                for r in [Reg.rax, .rsp, .rbp, .r8, .r13] {
                    b.t("shld \(n(d, s)), \(n(r, s)), 3") { $0.shld(s, d, r, 3) }
                    b.t("shrd \(n(d, s)), \(n(r, s)), 17") { $0.shrd(s, d, r, 17) }
                    b.t("shld \(n(d, s)), \(n(r, s)), cl") { $0.shld(s, d, r, .cl) }
                    b.t("shrd \(n(d, s)), \(n(r, s)), cl") { $0.shrd(s, d, r, .cl) }
                }
            }
            for m in memShapes {
                b.t("shld \(n(s, m)), \(n(.r9, s)), 1") { $0.shld(s, m, .r9, 1) }
                b.t("shrd \(n(s, m)), \(n(.rdx, s)), cl") { $0.shrd(s, m, .rdx, .cl) }
            }
        }
        b.check()
    }

    func testImulBitOpsScansBswap() {
        let b = Batch()
        for s in [OpSize.word, .dword, .qword] {
            for d in Reg.gprs {
                for r in [Reg.rax, .rcx, .rsp, .rbp, .r11, .r12, .r13] {
                    b.t("imul \(n(d, s)), \(n(r, s))") { $0.imul(s, d, r) }
                    for v: Int32 in [3, -128, 127, 128, 1000, -70000] { b.t("imul \(n(d, s)), \(n(r, s)), \(imm(v, s))") { $0.imul(s, d, r, v) } }
                    for op in BitOp.allCases {
                        b.t("\(bitNames[op]!) \(n(d, s)), \(n(r, s))") { $0.bitOp(op, s, d, r) }
                    }
                    b.t("bsf \(n(d, s)), \(n(r, s))") { $0.bsf(s, d, r) }
                    b.t("bsr \(n(d, s)), \(n(r, s))") { $0.bsr(s, d, r) }
                    b.t("tzcnt \(n(d, s)), \(n(r, s))") { $0.tzcnt(s, d, r) }
                    b.t("lzcnt \(n(d, s)), \(n(r, s))") { $0.lzcnt(s, d, r) }
                    b.t("popcnt \(n(d, s)), \(n(r, s))") { $0.popcnt(s, d, r) }
                    b.t("cmovne \(n(d, s)), \(n(r, s))") { $0.cmov(.ne, s, d, r) }
                }
                for op in BitOp.allCases {
                    b.t("\(bitNames[op]!) \(n(d, s)), 13") { $0.bitOp(op, s, d, 13) }
                }
            }
            for m in memShapes {
                b.t("imul \(n(.r14, s)), \(n(s, m))") { $0.imul(s, .r14, m) }
                b.t("imul \(n(.rax, s)), \(n(s, m)), 9") { $0.imul(s, .rax, m, 9) }
                b.t("imul \(n(.rbx, s)), \(n(s, m)), 30000") { $0.imul(s, .rbx, m, 30000) }
                for op in BitOp.allCases {
                    b.t("\(bitNames[op]!) \(n(s, m)), \(n(.rsi, s))") { $0.bitOp(op, s, m, .rsi) }
                    b.t("\(bitNames[op]!) \(n(s, m)), 7") { $0.bitOp(op, s, m, 7) }
                }
                b.t("bsf \(n(.rcx, s)), \(n(s, m))") { $0.bsf(s, .rcx, m) }
                b.t("bsr \(n(.r9, s)), \(n(s, m))") { $0.bsr(s, .r9, m) }
                b.t("tzcnt \(n(.rcx, s)), \(n(s, m))") { $0.tzcnt(s, .rcx, m) }
                b.t("lzcnt \(n(.r9, s)), \(n(s, m))") { $0.lzcnt(s, .r9, m) }
                b.t("popcnt \(n(.r12, s)), \(n(s, m))") { $0.popcnt(s, .r12, m) }
            }
        }
        b.t("bt rax, rbx") { $0.bt(.qword, .rax, .rbx) }
        b.t("bts dword [rax], 31") { $0.bts(.dword, Mem(.rax), 31) }
        b.t("btr r9w, r10w") { $0.btr(.word, .r9, .r10) }
        b.t("btc qword [rsp], rcx") { $0.btc(.qword, Mem(.rsp), .rcx) }
        for r in Reg.gprs {
            b.t("bswap \(n(r, .dword))") { $0.bswap(.dword, r) }
            b.t("bswap \(n(r, .qword))") { $0.bswap(.qword, r) }
        }
        b.check()
    }

    func testXchgCmpxchgXaddLock() {
        let b = Batch()
        for s in OpSize.allCases {
            for a in Reg.gprs {
                for c in Reg.gprs {
                    b.t("xchg \(n(a, s)), \(n(c, s))") { $0.xchg(s, a, c) }
                }
                for c in [Reg.rax, .rbx, .rsp, .rbp, .rsi, .r9, .r12, .r15] {
                    b.t("cmpxchg \(n(a, s)), \(n(c, s))") { $0.cmpxchg(s, a, c) }
                    b.t("xadd \(n(a, s)), \(n(c, s))") { $0.xadd(s, a, c) }
                }
            }
            for m in memShapes {
                b.t("xchg \(n(s, m)), \(n(.rdi, s))") { $0.xchg(s, m, .rdi) }
                b.t("cmpxchg \(n(s, m)), \(n(.r8, s))") { $0.cmpxchg(s, m, .r8) }
                b.t("xadd \(n(s, m)), \(n(.rbp, s))") { $0.xadd(s, m, .rbp) }
                b.t("lock cmpxchg \(n(s, m)), \(n(.rcx, s))") { $0.lock(); $0.cmpxchg(s, m, .rcx) }
                b.t("lock xadd \(n(s, m)), \(n(.rsi, s))") { $0.lock(); $0.xadd(s, m, .rsi) }
                b.t("lock add \(n(s, m)), 1") { $0.lock(); $0.add(s, m, 1) }
                b.t("lock or \(n(s, m)), \(n(.r13, s))") { $0.lock(); $0.or(s, m, .r13) }
                b.t("lock inc \(n(s, m))") { $0.lock(); $0.inc(s, m) }
                if s != .byte { b.t("lock bts \(n(s, m)), 3") { $0.lock(); $0.bts(s, m, 3) } }
            }
        }
        b.check()
    }

    func testSetccCmovcc() {
        let b = Batch()
        for c in Cond.allCases {
            let cn = condNames[Int(c.rawValue)]
            for r in Reg.gprs + [.ah, .ch, .dh, .bh] { b.t("set\(cn) \(n(r, .byte))") { $0.setcc(c, r) } }
            for m in memShapes { b.t("set\(cn) \(n(.byte, m))") { $0.setcc(c, m) } }
            for s in [OpSize.word, .dword, .qword] {
                for d in Reg.gprs {
                    for r in [Reg.rax, .rsp, .rbp, .r8, .r12, .r13] { b.t("cmov\(cn) \(n(d, s)), \(n(r, s))") { $0.cmov(c, s, d, r) } }
                }
                for m in memShapes { b.t("cmov\(cn) \(n(.r11, s)), \(n(s, m))") { $0.cmov(c, s, .r11, m) } }
            }
        }
        b.t("seto al") { $0.seto(.rax) }
        b.t("seto r10b") { $0.seto(.r10) }
        b.t("setc dil") { $0.setcc(.c, .rdi) }
        b.t("setz sil") { $0.setcc(.z, .rsi) }
        b.check()
        XCTAssertEqual(Cond.e.inverted, .ne)
        XCTAssertEqual(Cond.g.inverted, .le)
        XCTAssertEqual(Cond.b.inverted, .ae)
    }

    func testStackFlagsMiscAndNops() {
        let b = Batch()
        for r in Reg.gprs {
            b.t("push \(n(r, .qword))") { $0.push(r) }
            b.t("pop \(n(r, .qword))") { $0.pop(r) }
            b.t("jmp \(n(r, .qword))") { $0.jmp(r) }
            b.t("call \(n(r, .qword))") { $0.call(r) }
        }
        for m in memShapes {
            b.t("push qword \(n(m))") { $0.push(m) }
            b.t("pop qword \(n(m))") { $0.pop(m) }
            b.t("jmp qword \(n(m))") { $0.jmp(m) }
            b.t("call qword \(n(m))") { $0.call(m) }
        }
        for v: Int32 in [0, 5, -1, 127, -128, 128, 1000, Int32.max, Int32.min] { b.t("push \(v)") { $0.push(v) } }
        b.t("pushfq") { $0.pushfq() }
        b.t("popfq") { $0.popfq() }
        b.t("lahf") { $0.lahf() }
        b.t("sahf") { $0.sahf() }
        b.t("clc") { $0.clc() }
        b.t("stc") { $0.stc() }
        b.t("cmc") { $0.cmc() }
        b.t("cbw") { $0.cbw() }
        b.t("cwde") { $0.cwde() }
        b.t("cdqe") { $0.cdqe() }
        b.t("cwd") { $0.cwd() }
        b.t("cdq") { $0.cdq() }
        b.t("cqo") { $0.cqo() }
        b.t("ret") { $0.ret() }
        b.t("ret 16") { $0.ret(16) }
        b.t("int3") { $0.int3() }
        b.t("ud2") { $0.ud2() }
        for k in 1...9 { b.t(nopText[k]) { $0.nop(k) } }
        b.t("nop word [dword rax+rax*1+0]\nnop dword [dword rax+rax*1+0]") { $0.nop(17) }
        b.t("nop word [dword rax+rax*1+0]\nnop word [dword rax+rax*1+0]\nnop dword [rax]") { $0.nop(21) }
        for k in 0..<16 {
            b.tx { a in
                a.emitBytes(Array(repeating: 0x90, count: k))
                let before = a.count
                a.align(16)
                XCTAssertEqual(a.count % 16, 0)
                return "times \(k) db 0x90\n" + nopLines(a.count - before)
            }
        }
        b.check()
        XCTAssertEqual(b.asm.count % 16, 0)
    }

    func testSSEMoves() {
        let b = Batch()
        for x in Xmm.allCases {
            for r in [Reg.rax, .rcx, .rsp, .rbp, .r8, .r12, .r13, .r15] {
                b.t("movd \(n(x)), \(n(r, .dword))") { $0.movd(x, r) }
                b.t("movd \(n(r, .dword)), \(n(x))") { $0.movd(r, x) }
                b.t("movq \(n(x)), \(n(r, .qword))") { $0.movq(x, r) }
                b.t("movq \(n(r, .qword)), \(n(x))") { $0.movq(r, x) }
            }
            for y in [Xmm.xmm0, .xmm3, .xmm7, .xmm8, .xmm15] {
                b.t("movq \(n(x)), \(n(y))") { $0.movq(x, y) }
                b.t("movdqu \(n(x)), \(n(y))") { $0.movdqu(x, y) }
                b.t("movdqa \(n(x)), \(n(y))") { $0.movdqa(x, y) }
                b.t("movups \(n(x)), \(n(y))") { $0.movups(x, y) }
                b.t("movaps \(n(x)), \(n(y))") { $0.movaps(x, y) }
            }
            for m in memShapes {
                b.t("movd \(n(x)), \(n(m))") { $0.movd(x, m) }
                b.t("movd \(n(m)), \(n(x))") { $0.movd(m, x) }
                b.t("movq \(n(x)), \(n(m))") { $0.movq(x, m) }
                b.t("movq \(n(m)), \(n(x))") { $0.movq(m, x) }
                b.t("movdqu \(n(x)), \(n(m))") { $0.movdqu(x, m) }
                b.t("movdqu \(n(m)), \(n(x))") { $0.movdqu(m, x) }
                b.t("movdqa \(n(x)), \(n(m))") { $0.movdqa(x, m) }
                b.t("movdqa \(n(m)), \(n(x))") { $0.movdqa(m, x) }
                b.t("movups \(n(x)), \(n(m))") { $0.movups(x, m) }
                b.t("movups \(n(m)), \(n(x))") { $0.movups(m, x) }
                b.t("movaps \(n(x)), \(n(m))") { $0.movaps(x, m) }
                b.t("movaps \(n(m)), \(n(x))") { $0.movaps(m, x) }
            }
        }
        b.check()
    }

    func testLabelsForwardBackwardShortAndNear() {
        let b = Batch()
        var labels: [String: Label] = [:]
        func L(_ name: String) -> Label {
            if let l = labels[name] { return l }
            let l = b.asm.newLabel(); labels[name] = l; return l
        }
        func pad(_ k: Int) { b.t("times \(k) db 0x90") { $0.emitBytes(Array(repeating: 0x90, count: k)) } }

        // Backward: rel8 while the distance fits (-128 is the last one), rel32 beyond.
        for (i, k) in [0, 10, 126, 127, 128, 300, 70000].enumerated() {
            let name = "Lb\(i)"
            b.t("\(name):") { $0.bind(L(name)) }
            pad(k)
            b.t("jmp \(name)") { $0.jmp(L(name)) }
            b.t("\(name)c:") { $0.bind(L(name + "c")) }
            pad(k)
            b.t("jne \(name)c") { $0.jcc(.ne, L(name + "c")) }
            b.t("jle \(name)") { $0.jcc(.le, L(name)) }
        }
        // Forward: rel32 by default, rel8 when promised (up to +127).
        for (i, k) in [0, 1, 100, 127, 128, 5000].enumerated() {
            let name = "Lf\(i)"
            b.t("jmp near \(name)") { $0.jmp(L(name)) }
            b.t("jg near \(name)") { $0.jcc(.g, L(name)) }
            if k <= 127 - 2 { b.t("js short \(name)") { $0.jcc(.s, L(name), short: true) } }
            if k <= 127 - 4 { b.t("jmp short \(name)") { $0.jmp(L(name), short: true) } }
            pad(k)
            b.t("\(name):") { $0.bind(L(name)) }
        }
        // Exactly +127 with a short jump.
        b.t("jmp short Lx") { $0.jmp(L("Lx"), short: true) }
        pad(127)
        b.t("Lx:") { $0.bind(L("Lx")) }
        // Every condition both ways.
        for c in Cond.allCases {
            let cn = condNames[Int(c.rawValue)]
            b.t("Lc\(cn):") { $0.bind(L("Lc\(cn)")) }
            b.t("j\(cn) Lc\(cn)") { $0.jcc(c, L("Lc\(cn)")) }
            b.t("j\(cn) near Ld\(cn)") { $0.jcc(c, L("Ld\(cn)")) }
            b.t("j\(cn) short Ld\(cn)") { $0.jcc(c, L("Ld\(cn)"), short: true) }
            b.t("Ld\(cn):") { $0.bind(L("Ld\(cn)")) }
        }
        XCTAssertFalse(b.asm.hasUnresolvedLabels)
        XCTAssertEqual(b.asm.offset(of: L("Lb0")), 0)
        b.check()
    }

    func testAbsoluteTargetsPatchableSitesAndRIP() {
        let b = Batch()
        for t: UInt64 in [0x40, 0x1000, 0x12345, 0x7FFF_0000] {
            b.t("call $$+\(t)") { $0.call(absolute: t) }
            b.t("jmp $$+\(t)") { $0.jmp(absolute: t) }
            b.t("je $$+\(t)") { $0.jcc(.e, absolute: t) }
            b.t("mov rax, [rel $$+\(t)]") { $0.mov(.qword, .rax, .rip(target: t)) }
            b.t("add dword [rel $$+\(t)], 0x12345") { $0.add(.dword, .rip(target: t), 0x12345) }
            b.t("cmp byte [rel $$+\(t)], 7") { $0.cmp(.byte, .rip(target: t), 7) }
            b.t("movdqu xmm9, [rel $$+\(t)]") { $0.movdqu(.xmm9, .rip(target: t)) }
        }
        // Far targets: mov r11, imm64; call/jmp r11.
        for t: UInt64 in [0x7FFF_1234_5000, 0xFFFF_8000_0000_0000] {
            b.t("mov r11, \(t)\ncall r11") { $0.call(absolute: t) }
            b.t("mov r11, \(t)\njmp r11") { $0.jmp(absolute: t) }
            b.t("mov rax, \(t)\ncall rax") { $0.call(absolute: t, scratch: .rax) }
        }
        b.t("mov r11, 4096\ncall r11") { $0.callIndirect(absolute: 4096) }
        // Raw RIP displacement: same bytes as the target form.
        b.t("mov ecx, [rel $+6+100]") { $0.mov(.dword, .rcx, .rip(100)) }
        // Backward jmp to a nearby absolute target picks rel8.
        b.tx { a in
            let here = a.currentAddress
            a.jmp(absolute: here)
            return "jmp $$+\(here)"
        }
        // Patchable sites: the rel32 field is 4-byte aligned (NOP padding before it).
        for k in 0..<8 {
            b.tx { a in
                a.emitBytes(Array(repeating: 0x90, count: k))
                let before = a.count
                let field = a.jmpPatchable(to: 0x2000)
                XCTAssertEqual(field % 4, 0)
                XCTAssertEqual(a[field - 1], 0xE9)
                return "times \(k) db 0x90\n" + nopLines(field - 1 - before) + "jmp near $$+0x2000"
            }
            b.tx { a in
                let before = a.count
                let field = a.jccPatchable(.b)
                XCTAssertEqual(field % 4, 0)
                return nopLines(field - 2 - before) + "jb near $+6"
            }
        }
        b.tx { a in
            let before = a.count
            let field = a.jmpPatchable()
            a.patchRel32(atOffset: field, target: 0x3000)
            return nopLines(field - 1 - before) + "jmp near $$+0x3000"
        }
        b.check()
    }

    func testNonZeroOrigin() {
        let b = Batch(org: 0x40_0000)
        b.t("call $$+0x1000") { $0.call(absolute: 0x40_1000) }
        b.t("jmp $$") { $0.jmp(absolute: 0x40_0000) }
        b.t("mov rax, [rel $$+0x100]") { $0.mov(.qword, .rax, .rip(target: 0x40_0100)) }
        b.t("jne $$+0x100000") { $0.jcc(.ne, absolute: 0x50_0000) }
        b.tx { a in
            let before = a.count
            a.align(16)
            return nopLines(a.count - before)
        }
        b.check()
        XCTAssertEqual(b.asm.currentAddress, 0x40_0000 + UInt64(b.asm.count))
    }

    func testBufferGrowthResetAndUnresolvedLabels() {
        // The buffer grows past its initial capacity, a forward label resolves after it grew,
        // and reset keeps the storage but forgets the labels.
        let a = X86Assembler(origin: 0x1000, capacity: 16)
        let l = a.newLabel()
        a.jmp(l)
        XCTAssertTrue(a.hasUnresolvedLabels)
        for _ in 0..<100 { a.mov(.byte, .ah, .rbx) }   // grows past the initial capacity
        a.bind(l)
        XCTAssertFalse(a.hasUnresolvedLabels)
        XCTAssertEqual(a.count, 5 + 200)
        XCTAssertEqual(Array(a.bytes.prefix(5)), [0xE9, 200, 0, 0, 0])
        a.reset(origin: 0x2000)
        XCTAssertEqual(a.count, 0)
        XCTAssertEqual(a.origin, 0x2000)
        XCTAssertFalse(a.hasUnresolvedLabels)
    }

    // MARK: random operand combinations

    /// One random instruction (any form, any size, any registers/memory) into the batch.
    func randomCase(_ g: inout SplitMix, _ b: Batch) {
        let s = g.size()
        switch g.int(24) {
        case 0...5:
            let op = ALUOp(rawValue: UInt8(g.int(8)))!
            let name = aluNames[Int(op.rawValue)]
            switch g.int(5) {
            case 0:
                if s == .byte && g.int(4) == 0 {
                    let d = g.byteReg(noREX: true), r = g.byteReg(noREX: true)
                    b.t("\(name) \(n(d, s)), \(n(r, s))") { $0.alu(op, s, d, r) }
                } else {
                    let d = g.reg(), r = g.reg()
                    b.t("\(name) \(n(d, s)), \(n(r, s))") { $0.alu(op, s, d, r) }
                }
            case 1:
                let hi = s == .byte && g.int(4) == 0
                let d = hi ? g.byteReg(noREX: true) : g.reg(), m = g.mem(lowOnly: hi)
                b.t("\(name) \(n(d, s)), \(n(s, m))") { $0.alu(op, s, d, m) }
            case 2:
                let r = g.reg(), m = g.mem()
                b.t("\(name) \(n(s, m)), \(n(r, s))") { $0.alu(op, s, m, r) }
            case 3:
                let d = g.reg(), v = g.imm32()
                b.t("\(name) \(n(d, s)), \(imm(v, s))") { $0.alu(op, s, d, v) }
            default:
                let m = g.mem(), v = g.imm32()
                b.t("\(name) \(n(s, m)), \(imm(v, s))") { $0.alu(op, s, m, v) }
            }
        case 6...8:
            switch g.int(5) {
            case 0: let d = g.reg(), r = g.reg(); b.t("mov \(n(d, s)), \(n(r, s))") { $0.mov(s, d, r) }
            case 1: let d = g.reg(), m = g.mem(); b.t("mov \(n(d, s)), \(n(s, m))") { $0.mov(s, d, m) }
            case 2: let r = g.reg(), m = g.mem(); b.t("mov \(n(s, m)), \(n(r, s))") { $0.mov(s, m, r) }
            case 3:
                let d = g.reg()
                let v = Int64(bitPattern: g.next()) >> Int64(g.int(64))
                let t: Int64 = s == .byte ? Int64(Int8(truncatingIfNeeded: v)) : s == .word ? Int64(Int16(truncatingIfNeeded: v)) : s == .dword ? Int64(Int32(truncatingIfNeeded: v)) : v
                b.t("mov \(n(d, s)), \(t)") { $0.mov(s, d, v) }
            default: let m = g.mem(), v = g.imm32(); b.t("mov \(n(s, m)), \(imm(v, s))") { $0.mov(s, m, v) }
            }
        case 9:
            let d = g.reg(), m = g.mem(), ls = s == .byte ? OpSize.qword : s
            b.t("lea \(n(d, ls)), \(n(m))") { $0.lea(ls, d, m) }
        case 10:
            let op = ShiftOp.allCases[g.int(7)], d = g.reg(), m = g.mem(), c = UInt8(g.int(64))
            let name = shiftNames[op]!
            switch g.int(4) {
            case 0: b.t("\(name) \(n(d, s)), \(c)") { $0.shift(op, s, d, c) }
            case 1: b.t("\(name) \(n(s, m)), \(c)") { $0.shift(op, s, m, c) }
            case 2: b.t("\(name) \(n(d, s)), cl") { $0.shift(op, s, d, .cl) }
            default: b.t("\(name) \(n(s, m)), cl") { $0.shift(op, s, m, .cl) }
            }
        case 11:
            let d = g.reg(), m = g.mem(), f = g.int(8)
            let names = ["inc", "dec", "not", "neg", "mul", "imul", "div", "idiv"]
            let fs: [(X86Assembler) -> (OpSize, Reg) -> Void] = [X86Assembler.inc, X86Assembler.dec, X86Assembler.not, X86Assembler.neg, X86Assembler.mul, X86Assembler.imul, X86Assembler.div, X86Assembler.idiv]
            let fm: [(X86Assembler) -> (OpSize, Mem) -> Void] = [X86Assembler.inc, X86Assembler.dec, X86Assembler.not, X86Assembler.neg, X86Assembler.mul, X86Assembler.imul, X86Assembler.div, X86Assembler.idiv]
            if g.bool() { b.t("\(names[f]) \(n(d, s))") { fs[f]($0)(s, d) } } else { b.t("\(names[f]) \(n(s, m))") { fm[f]($0)(s, m) } }
        case 12:
            let d = g.reg(), r = g.reg(), m = g.mem(), v = g.imm32()
            switch g.int(4) {
            case 0: b.t("test \(n(d, s)), \(n(r, s))") { $0.test(s, d, r) }
            case 1: b.t("test \(n(s, m)), \(n(r, s))") { $0.test(s, m, r) }
            case 2: b.t("test \(n(d, s)), \(imm(v, s))") { $0.test(s, d, v) }
            default: b.t("test \(n(s, m)), \(imm(v, s))") { $0.test(s, m, v) }
            }
        case 13:
            let ws = [OpSize.word, .dword, .qword][g.int(3)], d = g.reg(), r = g.reg(), m = g.mem(), v = g.imm32()
            switch g.int(4) {
            case 0: b.t("imul \(n(d, ws)), \(n(r, ws))") { $0.imul(ws, d, r) }
            case 1: b.t("imul \(n(d, ws)), \(n(ws, m))") { $0.imul(ws, d, m) }
            case 2: b.t("imul \(n(d, ws)), \(n(r, ws)), \(imm(v, ws))") { $0.imul(ws, d, r, v) }
            default: b.t("imul \(n(d, ws)), \(n(ws, m)), \(imm(v, ws))") { $0.imul(ws, d, m, v) }
            }
        case 14:
            let ws = [OpSize.word, .dword, .qword][g.int(3)], d = g.reg(), r = g.reg(), m = g.mem(), c = UInt8(g.int(32))
            let op = BitOp.allCases[g.int(4)], name = bitNames[op]!
            switch g.int(8) {
            case 0: b.t("\(name) \(n(d, ws)), \(n(r, ws))") { $0.bitOp(op, ws, d, r) }
            case 1: b.t("\(name) \(n(ws, m)), \(n(r, ws))") { $0.bitOp(op, ws, m, r) }
            case 2: b.t("\(name) \(n(d, ws)), \(c)") { $0.bitOp(op, ws, d, c) }
            case 3: b.t("\(name) \(n(ws, m)), \(c)") { $0.bitOp(op, ws, m, c) }
            case 4: b.t("shld \(n(d, ws)), \(n(r, ws)), \(c)") { $0.shld(ws, d, r, c) }
            case 5: b.t("shrd \(n(ws, m)), \(n(r, ws)), cl") { $0.shrd(ws, m, r, .cl) }
            case 6: b.t("bsr \(n(d, ws)), \(n(ws, m))") { $0.bsr(ws, d, m) }
            default: b.t("bsf \(n(d, ws)), \(n(r, ws))") { $0.bsf(ws, d, r) }
            }
        case 15:
            let d = g.reg(), r = g.reg(), m = g.mem()
            switch g.int(5) {
            case 0: b.t("xchg \(n(d, s)), \(n(r, s))") { $0.xchg(s, d, r) }
            case 1: b.t("xchg \(n(s, m)), \(n(r, s))") { $0.xchg(s, m, r) }
            case 2: b.t("lock cmpxchg \(n(s, m)), \(n(r, s))") { $0.lock(); $0.cmpxchg(s, m, r) }
            case 3: b.t("xadd \(n(d, s)), \(n(r, s))") { $0.xadd(s, d, r) }
            default: b.t("cmpxchg \(n(d, s)), \(n(r, s))") { $0.cmpxchg(s, d, r) }
            }
        case 16:
            let c = Cond(rawValue: UInt8(g.int(16)))!, cn = condNames[Int(c.rawValue)]
            let ws = [OpSize.word, .dword, .qword][g.int(3)], d = g.reg(), r = g.reg(), m = g.mem()
            switch g.int(4) {
            case 0: b.t("set\(cn) \(n(d, .byte))") { $0.setcc(c, d) }
            case 1: b.t("set\(cn) \(n(.byte, m))") { $0.setcc(c, m) }
            case 2: b.t("cmov\(cn) \(n(d, ws)), \(n(r, ws))") { $0.cmov(c, ws, d, r) }
            default: b.t("cmov\(cn) \(n(d, ws)), \(n(ws, m))") { $0.cmov(c, ws, d, m) }
            }
        case 17:
            let d = g.reg(), r = g.reg(), m = g.mem()
            let (ds, ss): (OpSize, OpSize) = g.pick([(.word, .byte), (.dword, .byte), (.qword, .byte), (.dword, .word), (.qword, .word)])
            switch g.int(5) {
            case 0: b.t("movzx \(n(d, ds)), \(n(r, ss))") { $0.movzx(ds, d, ss, r) }
            case 1: b.t("movsx \(n(d, ds)), \(n(ss, m))") { $0.movsx(ds, d, ss, m) }
            case 2: b.t("movsxd \(n(d, .qword)), \(n(.dword, m))") { $0.movsxd(d, m) }
            case 3: b.t("movsxd \(n(d, .qword)), \(n(r, .dword))") { $0.movsxd(d, r) }
            default: b.t("movzx \(n(d, ds)), \(n(ss, m))") { $0.movzx(ds, d, ss, m) }
            }
        case 18:
            let r = g.reg(), m = g.mem()
            switch g.int(6) {
            case 0: b.t("push \(n(r, .qword))") { $0.push(r) }
            case 1: b.t("pop qword \(n(m))") { $0.pop(m) }
            case 2: b.t("call qword \(n(m))") { $0.call(m) }
            case 3: b.t("jmp \(n(r, .qword))") { $0.jmp(r) }
            case 4: let v = g.imm32(); b.t("push \(v)") { $0.push(v) }
            default: b.t("bswap \(n(r, .qword))") { $0.bswap(.qword, r) }
            }
        case 19, 20:
            let x = g.xmm(), y = g.xmm(), r = g.reg(), m = g.mem()
            switch g.int(10) {
            case 0: b.t("movd \(n(x)), \(n(r, .dword))") { $0.movd(x, r) }
            case 1: b.t("movq \(n(r, .qword)), \(n(x))") { $0.movq(r, x) }
            case 2: b.t("movq \(n(x)), \(n(m))") { $0.movq(x, m) }
            case 3: b.t("movq \(n(m)), \(n(x))") { $0.movq(m, x) }
            case 4: b.t("movdqu \(n(x)), \(n(m))") { $0.movdqu(x, m) }
            case 5: b.t("movdqu \(n(m)), \(n(x))") { $0.movdqu(m, x) }
            case 6: b.t("movd \(n(m)), \(n(x))") { $0.movd(m, x) }
            case 7: b.t("movdqu \(n(x)), \(n(y))") { $0.movdqu(x, y) }
            case 8: b.t("movaps \(n(m)), \(n(x))") { $0.movaps(m, x) }
            default: b.t("movq \(n(x)), \(n(r, .qword))") { $0.movq(x, r) }
            }
        default:
            // Byte operations with the legacy high-byte registers (no REX anywhere).
            let d = g.byteReg(noREX: true), r = g.byteReg(noREX: true), m = g.mem(lowOnly: true)
            switch g.int(6) {
            case 0: b.t("mov \(n(d, .byte)), \(n(.byte, m))") { $0.mov(.byte, d, m) }
            case 1: b.t("xchg \(n(d, .byte)), \(n(r, .byte))") { $0.xchg(.byte, d, r) }
            case 2: b.t("test \(n(d, .byte)), \(n(r, .byte))") { $0.test(.byte, d, r) }
            case 3: let c = UInt8(g.int(8)); b.t("ror \(n(d, .byte)), \(c)") { $0.ror(.byte, d, c) }
            case 4: b.t("movzx eax, \(n(d, .byte))") { $0.movzx(.dword, .rax, .byte, d) }
            default: b.t("cmp \(n(.byte, m)), \(n(d, .byte))") { $0.cmp(.byte, m, d) }
            }
        }
    }

    func testRandomOperandCombinations() {
        var g = SplitMix(s: 0x5EED_0001)
        var total = 0
        for _ in 0..<3 {
            let b = Batch()
            for _ in 0..<4000 { randomCase(&g, b) }
            total += b.count
            b.check()
        }
        XCTAssertEqual(total, 12000)
    }
}
