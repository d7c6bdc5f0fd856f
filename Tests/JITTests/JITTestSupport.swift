import XCTest
import Foundation
import CPU
import CPUState
import JIT
import Machine

/// Shared helpers: assembling test ROMs, running them on the interpreter or the JIT, and
/// comparing CPU state.
enum JITTestSupport {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let romDir = repo.appendingPathComponent("testroms")

    static func romNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: romDir.path)) ?? []
        return names.filter { $0.hasSuffix(".asm") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func nasmPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let p = dir + "/nasm"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    nonisolated(unsafe) static var imageCache: [String: [UInt8]] = [:]

    /// Assembles testroms/<name>.asm (or the given source text) and returns the image.
    static func assemble(_ name: String, source: String? = nil) throws -> [UInt8] {
        if source == nil, let img = imageCache[name] { return img }
        guard let nasm = nasmPath() else {
            throw NSError(domain: "JITTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "nasm is not installed"])
        }
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("emu-jit-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent(name + ".bin")
        var src = romDir.appendingPathComponent(name + ".asm")
        if let source {
            src = tmp.appendingPathComponent(name + ".asm")
            try source.write(to: src, atomically: true, encoding: .utf8)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-I", romDir.path + "/", "-o", out.path, src.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "JITTests", code: 2, userInfo: [NSLocalizedDescriptionKey: "nasm failed on \(name):\n\(msg)"])
        }
        let img = [UInt8](try Data(contentsOf: out))
        if source == nil { imageCache[name] = img }
        return img
    }

    final class Output { var bytes: [UInt8] = []; var text: String { String(decoding: bytes, as: UTF8.self) } }

    /// ROMMachine.run with the JIT in place of `cpu.run` (the same loop).
    static func runJIT(_ m: ROMMachine, _ jit: JITEngine, maxInstructions: UInt64) -> MachineExit {
        var left = maxInstructions
        while true {
            if let st = m.exitStatus { return .exitPort(st) }
            let chunk = Int(min(left, 1 << 20))
            if chunk == 0 { return .instructionLimit }
            let before = m.cpu.s.pointee.icount
            let r = jit.run(budget: chunk)
            let done = m.cpu.s.pointee.icount &- before
            left = left > done ? left - done : 0
            switch r {
            case .exitRequest, .budget:
                if let st = m.exitStatus { return .exitPort(st) }
                if m.cpu.s.pointee.shutdown != 0 { return .shutdown }
                if r == .budget && left == 0 { return .instructionLimit }
            case .shutdown:
                return .shutdown
            case .halted:
                if let st = m.exitStatus { return .exitPort(st) }
                return .hung
            }
        }
    }

    struct RunResult {
        var exit: MachineExit
        var output: String
        var icount: UInt64
        var seconds: Double
        var stats = ""
        var gprs: [UInt64] = []
        var rflags: UInt64 = 0
        var ramHash: UInt64 = 0
    }

    static func run(image: [UInt8], jit: Bool, cacheSize: Int = 32 << 20, limit: UInt64 = 200_000_000,
                    configure: ((JITEngine) -> Void)? = nil) throws -> RunResult {
        let out = Output()
        let m = try ROMMachine(rom: image, ramMiB: 32, output: { out.bytes.append($0) })
        let start = Date()
        let exit: MachineExit
        var stats = ""
        if jit {
            let e = try JITEngine(cpu: m.cpu, cacheSize: cacheSize)
            configure?(e)
            exit = runJIT(m, e, maxInstructions: limit)
            stats = e.statistics
        } else {
            exit = m.run(maxInstructions: limit)
        }
        let secs = Date().timeIntervalSince(start)
        var h: UInt64 = 0xcbf29ce484222325
        for i in 0..<Int(2 << 20) { h = (h ^ UInt64(m.memory.ram[i])) &* 0x100000001b3 }
        return RunResult(exit: exit, output: out.text, icount: m.cpu.s.pointee.icount,
                         seconds: secs, stats: stats, gprs: (0..<16).map { m.cpu.gpr[$0] },
                         rflags: m.cpu.flags(), ramHash: h)
    }

    // MARK: state comparison

    /// Differences in architectural CPU state (flags compared materialised), or nil.
    static func compare(_ a: CPU, _ b: CPU) -> String? {
        var diffs: [String] = []
        let names = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                     "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
        for i in 0..<16 where a.gpr[i] != b.gpr[i] {
            diffs.append("\(names[i]) \(hex(a.gpr[i])) vs \(hex(b.gpr[i]))")
        }
        let sa = a.s, sb = b.s
        if sa.pointee.rip != sb.pointee.rip { diffs.append("rip \(hex(sa.pointee.rip)) vs \(hex(sb.pointee.rip))") }
        let fa = a.flags(), fb = b.flags()
        if fa != fb { diffs.append("rflags \(hex(fa)) vs \(hex(fb))") }
        for i in 0..<8 {
            let x = a.sreg[i], y = b.sreg[i]
            if x.base != y.base || x.limit != y.limit || x.selector != y.selector || x.attr != y.attr {
                diffs.append("seg\(i) \(hex(UInt64(x.selector)))/\(hex(x.base))/\(hex(UInt64(x.limit)))/\(hex(UInt64(x.attr))) vs \(hex(UInt64(y.selector)))/\(hex(y.base))/\(hex(UInt64(y.limit)))/\(hex(UInt64(y.attr)))")
            }
        }
        func f(_ n: String, _ x: UInt64, _ y: UInt64) { if x != y { diffs.append("\(n) \(hex(x)) vs \(hex(y))") } }
        f("cr0", sa.pointee.cr0, sb.pointee.cr0)
        f("cr2", sa.pointee.cr2, sb.pointee.cr2)
        f("cr3", sa.pointee.cr3, sb.pointee.cr3)
        f("cr4", sa.pointee.cr4, sb.pointee.cr4)
        f("efer", sa.pointee.efer, sb.pointee.efer)
        f("cpl", UInt64(sa.pointee.cpl), UInt64(sb.pointee.cpl))
        f("mode", UInt64(sa.pointee.mode), UInt64(sb.pointee.mode))
        f("icount", sa.pointee.icount, sb.pointee.icount)
        f("halted", UInt64(sa.pointee.halted), UInt64(sb.pointee.halted))
        f("intr_shadow", UInt64(sa.pointee.intr_shadow), UInt64(sb.pointee.intr_shadow))
        f("shutdown", UInt64(sa.pointee.shutdown), UInt64(sb.pointee.shutdown))
        f("exceptions", sa.pointee.exceptions, sb.pointee.exceptions)
        f("gdtr", sa.pointee.gdtr.base, sb.pointee.gdtr.base)
        f("idtr", sa.pointee.idtr.base, sb.pointee.idtr.base)
        f("dr6", sa.pointee.dr.6, sb.pointee.dr.6)
        let xa = sa.pointee.ymm, xb = sb.pointee.ymm
        let same = withUnsafeBytes(of: xa) { a in withUnsafeBytes(of: xb) { b in a.elementsEqual(b) } }
        if !same { diffs.append("ymm registers differ") }
        return diffs.isEmpty ? nil : diffs.joined(separator: ", ")
    }

    /// First differing RAM offset in [0, count), or nil.
    static func compareRAM(_ a: PhysicalMemory, _ b: PhysicalMemory, count: Int? = nil) -> Int? {
        let n = count ?? Int(min(a.ramSize, b.ramSize))
        if memcmp(a.ram, b.ram, n) == 0 { return nil }
        var lo = 0
        while lo < n {
            let c = min(4096, n - lo)
            if memcmp(a.ram + lo, b.ram + lo, c) != 0 {
                for i in lo..<(lo + c) where a.ram[i] != b.ram[i] { return i }
            }
            lo += c
        }
        return nil
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// Instruction bytes at the CPU's current CS:rip (for reports).
    static func describe(_ cpu: CPU, rip: UInt64) -> String {
        let code64 = cpu.s.pointee.mode & UInt32(MODE_CS64) != 0
        let lin = code64 ? rip : (cpu.sreg[1].base &+ rip) & 0xFFFF_FFFF
        var bytes: [UInt8] = []
        for i in 0..<15 {
            guard let pa = try? cpu.translate(lin &+ UInt64(i), kind: .exec, user: cpu.s.pointee.cpl == 3, fill: false) else { break }
            bytes.append(UInt8(truncatingIfNeeded: cpu.mem.read(pa, size: 1)))
        }
        var text = "\(hex(rip)):"
        if let d = try? cpu.table.decode(bytes: bytes, mode: cpu.acceleratorDecodeMode) {
            text += " " + bytes.prefix(Int(d.len)).map { String(format: "%02x", $0) }.joined(separator: " ")
            text += " (\(d.mn))"
        } else {
            text += " " + bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + " (undecodable)"
        }
        return text
    }
}
