import XCTest
import CPU
import DiffTest

/// Runs instruction bytes at CPL 3 in 64-bit mode with paging, in the interpreter and (when the host
/// can) natively through the differential tester, and requires that both agree. The scratch area
/// (8 KiB, read/write) lies between unmapped guard pages; code runs at `code`.
enum UserMode {
    nonisolated(unsafe) static let tester = DiffTester.shared
    nonisolated(unsafe) static let ownEmu: EmuHarness? = tester == nil
        ? EmuHarness(regionBase: 0x6000_0000, selectors: [0, 0x33, 0x2B, 0, 0, 0], xcr0: 3) : nil
    static var base: UInt64 { tester?.native.base ?? 0x6000_0000 }
    static var scratch: UInt64 { base + 0x1000 }
    static var guardAbove: UInt64 { base + 0x3000 }
    static var code: UInt64 { base + 0x4000 }

    /// The interpreter's result; unless `native` is false the host must agree.
    @discardableResult
    static func run(_ bytes: [UInt8], native: Bool = true, undefinedFlags: UInt64 = 0, undefinedFSW: UInt16 = 0,
                    file: StaticString = #filePath, line: UInt = #line,
                    _ setup: (inout DTState) -> Void = { _ in }) -> DTResult {
        var st = DTState.initial
        setup(&st)
        if let t = tester {
            let r = t.check(code: bytes, state: st, undefinedFlags: undefinedFlags, undefinedFSW: undefinedFSW)
            if native {
                XCTAssertEqual(r.diffs, [], "host and interpreter disagree on \(bytes.map { String($0, radix: 16) })",
                               file: file, line: line)
            }
            return r.emu
        }
        return ownEmu!.run(code: bytes, codeAddr: code, state: st)
    }
}

extension DTState {
    mutating func mem(_ addr: UInt64, _ size: Int, _ v: UInt64) {
        let o = Int(addr - UserMode.scratch)
        for i in 0..<size { scratch[o + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
    }
    func mem(_ addr: UInt64, _ size: Int) -> UInt64 {
        let o = Int(addr - UserMode.scratch)
        var v: UInt64 = 0
        for i in 0..<size { v |= UInt64(scratch[o + i]) << UInt64(8 * i) }
        return v
    }
    mutating func setXMM(_ i: Int, _ lo: UInt64, _ hi: UInt64 = 0) { setFx(160 + 16 * i, 8, lo); setFx(168 + 16 * i, 8, hi) }
    mutating func setST(_ i: Int, _ m: UInt64, _ se: UInt16) { setFx(32 + 16 * i, 8, m); setFx(40 + 16 * i, 2, UInt64(se)) }
    mutating func setX87(fcw: UInt16 = 0x37F, fsw: UInt16, tags: UInt8) {
        setFx(0, 2, UInt64(fcw)); setFx(2, 2, UInt64(fsw)); fx[4] = tags
    }
    mutating func setMXCSR(_ v: UInt32) { setFx(24, 4, UInt64(v)) }
    var top: Int { Int(fsw >> 11) & 7 }
}
