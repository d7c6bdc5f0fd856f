import XCTest
import Foundation
import CPU
import CPUState
import JIT

/// The SingleStepTests 80286 real-mode vectors (../shared/conformance/80286-real, see
/// ConformanceTests/Conformance286Tests.swift) run through the JIT: each vector's state is loaded
/// into two CPUs, one runs the interpreter (`CPU.step`) and one the JIT in single-block mode,
/// until HLT; registers, segments, IP, all flags (undefined ones included: the JIT must match the
/// interpreter bit for bit), exceptions taken and the vector's RAM bytes, the IVT and the stack
/// window must be identical. The interpreter's agreement with silicon is Conformance286Tests'
/// job. Every 16th vector by default (~30 s in a debug build); JIT_CONFORMANCE_ALL=1 runs all of them.
final class Conformance286JITTests: XCTestCase {
    static let dataDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/conformance/80286-real")
    static let skippedFPUForms: Set<String> = ["D9", "DA", "DB", "DC", "DD", "DE", "DF"]
    static let regNames = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
    static let segNames = ["es", "cs", "ss", "ds"]
    static let maxSteps = 64

    func loadJSON(_ url: URL) throws -> Any {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", url.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "Conformance286JIT", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "gzip -dc \(url.path) failed"])
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    func load(_ cpu: CPU, _ mem: PhysicalMemory, _ iregs: [String: Int], _ iram: [[Int]]) {
        cpu.reset()
        for (i, n) in Self.regNames.enumerated() { cpu.gpr[i] = UInt64(iregs[n] ?? 0) }
        for (i, n) in Self.segNames.enumerated() {
            let sel = UInt16(iregs[n] ?? 0)
            cpu.sreg[i] = SegmentCache(base: UInt64(sel) << 4, limit: 0xFFFF, selector: sel,
                                       attr: UInt16(ATTR_P | ATTR_S) | (i == 1 ? 0xB : 0x3))
        }
        cpu.updateMode()
        cpu.s.pointee.idtr = DescriptorTable(base: 0, limit: 0x3FF, _pad: 0)
        cpu.rip = UInt64(iregs["ip"] ?? 0)
        cpu.writeRFLAGS(UInt64(iregs["flags"] ?? 2) & 0x0FFF | 2)
        for pair in iram { mem.ram[pair[0]] = UInt8(pair[1]) }
    }

    func testVectorsUnderJIT() throws {
        guard FileManager.default.fileExists(atPath: Self.dataDir.appendingPathComponent("metadata.json").path) else {
            throw XCTSkip("80286 conformance data not found at \(Self.dataDir.path); the vectors were NOT run")
        }
        let every = ProcessInfo.processInfo.environment["JIT_CONFORMANCE_ALL"] != nil ? 1 : 16
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dataDir.path)
            .filter { $0.hasSuffix(".json.gz") }.sorted()
        XCTAssertGreaterThan(files.count, 300)
        let memA = PhysicalMemory(ramSize: 16 << 20), memB = PhysicalMemory(ramSize: 16 << 20)
        let a = CPU(memory: memA, ports: PortBus()), b = CPU(memory: memB, ports: PortBus())
        let jit = try JITEngine(cpu: b, cacheSize: 1 << 20)
        jit.singleBlock = true
        var run = 0, failed = 0, native = 0
        var examples: [String] = []
        for file in files {
            let form = String(file.dropLast(".json.gz".count))
            if Self.skippedFPUForms.contains(String(form.split(separator: ".")[0])) { continue }
            let tests = try loadJSON(Self.dataDir.appendingPathComponent(file)) as! [[String: Any]]
            for (vi, t) in tests.enumerated() where vi % every == 0 {
                let initial = t["initial"] as! [String: Any]
                let iregs = initial["regs"] as! [String: Int]
                let iram = initial["ram"] as! [[Int]]
                let fram = (t["final"] as! [String: Any])["ram"] as! [[Int]]
                load(a, memA, iregs, iram)
                load(b, memB, iregs, iram)
                jit.invalidateAll()      // the vector rewrote code bytes behind the JIT's back
                var d = Instr()
                var steps = 0
                while a.s.pointee.halted == 0 && a.s.pointee.shutdown == 0 && steps < Self.maxSteps {
                    a.step(&d); steps += 1
                }
                let before = jit.interpretedSteps
                // The same number of steps as the interpreter took (vectors that fault into a zeroed
                // IVT run on until the step limit).
                var left = steps
                while b.s.pointee.halted == 0 && b.s.pointee.shutdown == 0 && left > 0 {
                    _ = jit.run(budget: left)
                    left -= max(jit.lastRunSteps, 1)
                }
                if jit.interpretedSteps &- before <= 1 { native += 1 }   // only the HLT interpreted
                run += 1
                var problems: [String] = []
                if let diff = JITTestSupport.compare(a, b) { problems.append(diff) }
                var addrs = Set(iram.map { $0[0] } + fram.map { $0[0] })
                for x in 0..<0x400 { addrs.insert(x) }
                let ssBase = (iregs["ss"] ?? 0) << 4, sp0 = iregs["sp"] ?? 0
                for k in -16..<16 { addrs.insert(ssBase + ((sp0 + k) & 0xFFFF)) }
                for x in addrs.sorted() where memA.ram[x] != memB.ram[x] {
                    problems.append("ram[\(String(x, radix: 16))] \(memA.ram[x]) vs \(memB.ram[x])")
                }
                // Clean both memories for the next vector.
                for x in addrs { memA.ram[x] = 0; memB.ram[x] = 0 }
                if !problems.isEmpty {
                    failed += 1
                    if examples.count < 20 {
                        let bytes = (initial["ram"] as! [[Int]]).prefix(8).map { String($0[1], radix: 16) }.joined(separator: " ")
                        examples.append("\(form) #\(vi) (\(t["name"] as? String ?? bytes)): " + problems.prefix(4).joined(separator: "; "))
                    }
                }
            }
        }
        print("286 vectors under the JIT: \(run) run (every \(every)), \(failed) differ from the interpreter, \(native) with only the HLT interpreted")
        for e in examples { print("  " + e) }
        XCTAssertEqual(failed, 0, examples.prefix(5).joined(separator: "\n"))
        XCTAssertGreaterThan(run, 1000)
    }
}
