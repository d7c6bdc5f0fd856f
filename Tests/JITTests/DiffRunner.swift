import Foundation
import CPU
import CPUState
import JIT
import Machine

/// Lockstep differential execution: one ROMMachine on the interpreter, one on the JIT in
/// single-block mode. After each JIT block (or interpreted step) the interpreter runs the same
/// number of steps and the CPU states are compared; RAM is compared every `ramEvery` blocks and
/// at the end. A mismatch is localised by deterministic replay to the first instruction whose
/// translation differs from the interpreter.
final class DiffRunner {
    let image: [UInt8]
    let cacheSize: Int
    var interp: ROMMachine
    var jitMachine: ROMMachine
    var jit: JITEngine
    let outI = JITTestSupport.Output()
    let outJ = JITTestSupport.Output()
    /// The budget of each JIT run (a small one makes blocks stop early or not be entered).
    var jitBudget: () -> Int = { 1 << 30 }

    init(image: [UInt8], cacheSize: Int = 32 << 20) throws {
        self.image = image
        self.cacheSize = cacheSize
        let oi = outI, oj = outJ
        interp = try ROMMachine(rom: image, ramMiB: 32, output: { oi.bytes.append($0) })
        jitMachine = try ROMMachine(rom: image, ramMiB: 32, output: { oj.bytes.append($0) })
        jit = try JITEngine(cpu: jitMachine.cpu, cacheSize: cacheSize)
        jit.singleBlock = true
    }

    enum UnitResult { case ok(StopReason), diverged(String), finished }

    /// One lockstep unit. `check`: compare CPU state afterwards.
    func unit(check: Bool) -> UnitResult {
        if jitMachine.exitStatus != nil || interp.exitStatus != nil {
            return jitMachine.exitStatus == interp.exitStatus ? .finished
                : .diverged("exit status \(String(describing: interp.exitStatus)) (interpreter) vs \(String(describing: jitMachine.exitStatus)) (JIT)")
        }
        let r1 = jit.run(budget: jitBudget())
        let k = jit.lastRunSteps
        let r2 = interp.cpu.run(budget: k == 0 ? 1 : k)
        if r1 != r2 { return .diverged("stop reason \(r2) (interpreter) vs \(r1) (JIT) after \(k) steps") }
        if check, let d = JITTestSupport.compare(interp.cpu, jitMachine.cpu) {
            return .diverged("state (interpreter vs JIT): " + d)
        }
        if r1 == .shutdown || r1 == .halted { return .finished }
        return .ok(r1)
    }

    /// Runs to the end; nil when both machines agreed throughout, else a report.
    static func run(image: [UInt8], cacheSize: Int = 32 << 20, ramEvery: Int = 2048,
                    maxUnits: Int = 20_000_000) throws -> (report: String?, units: Int) {
        var r = try DiffRunner(image: image, cacheSize: cacheSize)
        var units = 0
        var ramGood = 0
        while units < maxUnits {
            let res = r.unit(check: true)
            units += 1
            switch res {
            case .diverged(let why):
                return (try localise(image: image, cacheSize: cacheSize, unit: units - 1, why: why), units)
            case .finished:
                if let off = JITTestSupport.compareRAM(r.interp.memory, r.jitMachine.memory) {
                    let bad = try firstRAMDivergence(image: image, cacheSize: cacheSize, from: ramGood, to: units)
                    return (try localise(image: image, cacheSize: cacheSize, unit: bad,
                                         why: "RAM differs at \(JITTestSupport.hex(UInt64(off)))"), units)
                }
                if r.outI.bytes != r.outJ.bytes { return ("COM1 output differs:\n\(r.outI.text)\n--- JIT ---\n\(r.outJ.text)", units) }
                return (nil, units)
            case .ok:
                if units % ramEvery == 0 {
                    if JITTestSupport.compareRAM(r.interp.memory, r.jitMachine.memory) != nil {
                        let bad = try firstRAMDivergence(image: image, cacheSize: cacheSize, from: ramGood, to: units)
                        return (try localise(image: image, cacheSize: cacheSize, unit: bad, why: "RAM differs"), units)
                    }
                    ramGood = units
                }
            }
        }
        r = try DiffRunner(image: image)
        return ("no end within \(maxUnits) blocks", units)
    }

    /// Replays and compares RAM after every unit in (from, to]; returns the index of the first
    /// unit after which RAM differs.
    static func firstRAMDivergence(image: [UInt8], cacheSize: Int, from: Int, to: Int) throws -> Int {
        let r = try DiffRunner(image: image, cacheSize: cacheSize)
        for _ in 0..<from { _ = r.unit(check: false) }
        for u in from..<to {
            _ = r.unit(check: false)
            if JITTestSupport.compareRAM(r.interp.memory, r.jitMachine.memory) != nil { return u }
        }
        return to - 1
    }

    /// Replays to unit `u` and translates that block with 1, 2, ... instructions until the
    /// prefix diverges: names the first differing instruction.
    static func localise(image: [UInt8], cacheSize: Int, unit u: Int, why: String) throws -> String {
        var prevRIP: UInt64 = 0
        var startRIP: UInt64 = 0
        var text = ""
        for m in 1...256 {
            let r = try DiffRunner(image: image, cacheSize: cacheSize)
            for _ in 0..<u { _ = r.unit(check: false) }
            startRIP = r.jitMachine.cpu.rip
            if m == 1 { prevRIP = startRIP }
            r.jit.maxBlockInstructions = m
            r.jit.invalidateAll()
            let res = r.unit(check: true)
            var bad: String? = nil
            if case .diverged(let w) = res { bad = w }
            if bad == nil, let off = JITTestSupport.compareRAM(r.interp.memory, r.jitMachine.memory) {
                bad = "RAM differs at \(JITTestSupport.hex(UInt64(off)))"
            }
            if let bad {
                text = "block #\(u) at \(JITTestSupport.hex(startRIP)) (mode \(JITTestSupport.hex(UInt64(r.interp.cpu.mode)))): "
                    + "first differing instruction is #\(m - 1): " + describeAt(r.interp, prevRIP) + "; " + bad
                return text + "\n(first seen: \(why))"
            }
            if r.jit.lastRunSteps < m { break }
            prevRIP = r.interp.cpu.rip
        }
        return "block #\(u) at \(JITTestSupport.hex(startRIP)): \(why) (not reproduced by shorter blocks)"
    }

    static func describeAt(_ m: ROMMachine, _ rip: UInt64) -> String {
        JITTestSupport.describe(m.cpu, rip: rip)
    }
}
