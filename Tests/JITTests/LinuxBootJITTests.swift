import XCTest
import Foundation
import CPU
import JIT
import Machine

/// Debian's cloud kernel + busybox initramfs (scripts/guest-images.sh) booted on PCMachine with
/// the JIT in place of `cpu.run`, deterministic clock, to the init's EMU-GUEST-READY marker.
/// JIT_LINUX=1: JIT only; JIT_LINUX=compare: also the interpreter, and the serial output and the
/// instruction count at the marker must be identical. Meant for release builds.
final class LinuxBootJITTests: XCTestCase {
    struct Boot { var seconds: Double; var icount: UInt64; var serial: String; var stats: String }

    /// PCMachine.run's loop (deterministic clock) with `step` in place of `cpu.run(budget:)`.
    func boot(jit: Bool, limit: UInt64 = 6_000_000_000) throws -> Boot {
        let guest = ProcessInfo.processInfo.environment["EMU_CACHE"].map { $0 + "/guest" }
            ?? (NSHomeDirectory() + "/.cache/emu/guest")
        var cfg = MachineConfig()
        cfg.kernel = guest + "/vmlinuz"
        cfg.initrd = guest + "/initramfs.cpio.gz"
        cfg.ramMiB = 256
        cfg.deterministic = true
        cfg.append = "console=ttyS0 panic=-1 emu.test=poweroff"
        let out = JITTestSupport.Output()
        _ = cfg
        let m = try makeMachine(out)
        let engine = jit ? try JITEngine(cpu: m.cpu) : nil
        engine?.profileHelpers = ProcessInfo.processInfo.environment["JIT_PROFILE"] != nil
        let marker = Array("EMU-GUEST-READY".utf8)
        let start = Date()
        var scanned = 0
        func seen() -> Bool {
            let b = out.bytes
            guard b.count >= marker.count else { return false }
            var i = max(0, scanned - marker.count)
            while i + marker.count <= b.count {
                if b[i] == marker[0] && Array(b[i..<(i + marker.count)]) == marker { return true }
                i += 1
            }
            scanned = b.count
            return false
        }
        while m.cpu.s.pointee.icount < limit {
            var budget = UInt64(m.sliceInstructions)
            if let dl = m.clock.nextDeadline, let n = m.clock.instructionsUntil(dl) { budget = min(budget, n) }
            let r = engine?.run(budget: Int(max(budget, 1))) ?? m.cpu.run(budget: Int(max(budget, 1)))
            _ = m.clock.runDue()
            if seen() { break }
            switch r {
            case .budget, .exitRequest: continue
            case .shutdown: XCTFail("shutdown at \(m.cpu.s.pointee.icount)"); return Boot(seconds: 0, icount: 0, serial: out.text, stats: "")
            case .halted:
                if let dl = m.clock.nextDeadline { m.clock.idle(until: dl); _ = m.clock.runDue() } else {
                    XCTFail("hung"); return Boot(seconds: 0, icount: 0, serial: out.text, stats: "")
                }
            }
        }
        if let e = engine, e.profileHelpers {
            for (k, v) in e.helperCounts.sorted(by: { $0.value > $1.value }).prefix(40) { print("HELPER \(k): \(v)") }
            for (k, v) in e.slowRIPs.sorted(by: { $0.value > $1.value }).prefix(12) { print("SLOW \(String(k, radix: 16)): \(v) \(e.slowText[k] ?? "")") }
        }
        return Boot(seconds: Date().timeIntervalSince(start), icount: m.cpu.s.pointee.icount,
                    serial: out.text, stats: engine?.statistics ?? "")
    }

    func makeMachine(_ out: JITTestSupport.Output) throws -> PCMachine {
        let guest = ProcessInfo.processInfo.environment["EMU_CACHE"].map { $0 + "/guest" }
            ?? (NSHomeDirectory() + "/.cache/emu/guest")
        var cfg = MachineConfig()
        cfg.kernel = guest + "/vmlinuz"
        cfg.initrd = guest + "/initramfs.cpio.gz"
        cfg.ramMiB = 256
        cfg.deterministic = true
        cfg.append = "console=ttyS0 panic=-1 emu.test=poweroff"
        let m = try PCMachine(config: cfg, serial: { out.bytes.append($0) })
        // RDRAND/RDSEED return host randomness (not deterministic): hide them for comparisons.
        m.cpu.cpuid.set(.rdrand, false)
        m.cpu.cpuid.set(.rdseed, false)
        return m
    }

    /// JIT_LINUX=lockstep: two PCs, JIT (single-block mode) vs interpreter, registers compared
    /// after every block until the marker or the first difference.
    func testBootLockstep() throws {
        guard ProcessInfo.processInfo.environment["JIT_LINUX"] == "lockstep" else { return }
        let oa = JITTestSupport.Output(), ob = JITTestSupport.Output()
        let a = try makeMachine(oa), b = try makeMachine(ob)
        let jit = try JITEngine(cpu: b.cpu)
        jit.singleBlock = true
        if let m = ProcessInfo.processInfo.environment["JIT_MAXBLOCK"], let v = Int(m) { jit.maxBlockInstructions = v }
        var recent: [UInt64] = []
        var units = 0
        let start = Date()
        outer: while a.cpu.s.pointee.icount < 2_000_000_000 {
            var budget = UInt64(a.sliceInstructions)
            if let dl = a.clock.nextDeadline, let n = a.clock.instructionsUntil(dl) { budget = min(budget, n) }
            var left = Int(max(budget, 1))
            var ra = StopReason.budget
            while left > 0 {
                let rip = b.cpu.rip
                let rb = jit.run(budget: left)
                let k = jit.lastRunSteps
                ra = a.cpu.run(budget: max(k, 1))
                units += 1
                recent.append(rip); if recent.count > 16 { recent.removeFirst() }
                if ra != rb || JITTestSupport.compare(a.cpu, b.cpu) != nil {
                    let why = JITTestSupport.compare(a.cpu, b.cpu) ?? "stop \(ra) vs \(rb)"
                    XCTFail("diverged after block at \(JITTestSupport.describe(b.cpu, rip: rip)) (\(k) steps, unit \(units), icount \(a.cpu.s.pointee.icount)): \(why)\nrecent blocks: " + recent.map { String($0, radix: 16) }.joined(separator: " "))
                    break outer
                }
                if rb != .budget { break }
                left -= max(k, 1)
            }
            _ = a.clock.runDue(); _ = b.clock.runDue()
            if oa.text.contains("EMU-GUEST-READY") { break }
            if ra == .halted {
                if let dl = a.clock.nextDeadline { a.clock.idle(until: dl); _ = a.clock.runDue() }
                if let dl = b.clock.nextDeadline { b.clock.idle(until: dl); _ = b.clock.runDue() }
            } else if ra == .shutdown { XCTFail("shutdown"); break }
        }
        print("LOCKSTEP: \(units) units, icount \(a.cpu.s.pointee.icount), \(Date().timeIntervalSince(start)) s")
    }

    func testBootToMarker() throws {
        guard let mode = ProcessInfo.processInfo.environment["JIT_LINUX"] else { return }
        let j = try boot(jit: true)
        XCTAssertTrue(j.serial.contains("EMU-GUEST-READY"), "no marker under the JIT:\n" + j.serial.suffix(3000))
        print(String(format: "LINUX JIT: marker after %.2f s, %llu instructions; ", j.seconds, j.icount) + j.stats)
        if mode == "compare" {
            let i = try boot(jit: false)
            print(String(format: "LINUX interpreter: marker after %.2f s, %llu instructions", i.seconds, i.icount))
            XCTAssertEqual(i.icount, j.icount, "instruction count at the marker")
            XCTAssertEqual(i.serial, j.serial, "serial output")
        }
    }
}
