import XCTest
import Foundation
import JIT
import Machine

/// Tight-loop ROMs, interpreter vs JIT (wall time and instructions per second). Runs with
/// JIT_BENCH=1, meant for release builds: `swift build -c release --build-tests &&
/// JIT_BENCH=1 swift test -c release --skip-build --filter JITBenchmarkTests`.
final class JITBenchmarkTests: XCTestCase {
    static let loops: [(String, String)] = [
        ("pm32 alu+mem loop", """
        %define ROM_ORG 0xF0000
        %include "lib/rom.inc"
        %include "lib/modes.inc"
        main:
            ENTER_PM32
            mov ecx, 10000000
            mov ebx, 0x20000
        .l: add eax, ecx
            xor edx, eax
            mov [ebx + 8], eax
            add esi, [ebx + 8]
            dec ecx
            jnz .l
            PASS "loop"
            FINISH
        """),
        ("long64 call/array loop", """
        %define ROM_ORG 0xF0000
        %include "lib/rom.inc"
        %include "lib/modes.inc"
        main:
            ENTER_PM32
            ENTER_LONG64
            mov r12, 4000000
            mov rbx, 0x20000
        .l: mov rdi, r12
            and rdi, 63
            call f
            add [rbx + rdi*8], rax
            shl rax, 3
            sub r12, 1
            jnz .l
            PASS "loop"
            FINISH
        f:  lea rax, [rdi*4 + 7]
            imul rax, rdi
            cmp rax, 100
            jb .s
            xor rax, rdi
        .s: ret
        """),
        ("real16 loop", """
        %include "lib/rom.inc"
        main:
            mov cx, 0
            mov di, 200
        .o: 
        .l: add ax, cx
            xor dx, ax
            rol dx, 1
            dec cx
            jnz .l
            dec di
            jnz .o
            PASS "loop"
            FINISH
        """),
    ]

    func testLoops() throws {
        guard ProcessInfo.processInfo.environment["JIT_BENCH"] != nil else { return }
        var all = Self.loops
        for f in ["loop", "mixed"] {
            let url = JITTestSupport.repo.appendingPathComponent("benchmarks/\(f).asm")
            if let text = try? String(contentsOf: url, encoding: .utf8) { all.append(("benchmarks/\(f).asm", text)) }
        }
        for (name, src) in all {
            let image = try JITTestSupport.assemble("bench", source: src)
            let a = try JITTestSupport.run(image: image, jit: false, limit: 2_000_000_000)
            let b = try JITTestSupport.run(image: image, jit: true, limit: 2_000_000_000)
            XCTAssertEqual(a.exit, .exitPort(1))
            XCTAssertEqual(b.exit, .exitPort(1))
            XCTAssertEqual(a.icount, b.icount)
            XCTAssertEqual(a.gprs, b.gprs, name)
            XCTAssertEqual(a.rflags, b.rflags, name)
            XCTAssertEqual(a.ramHash, b.ramHash, name)
            print("  final rax \(String(b.gprs[0], radix: 16)) rsi \(String(b.gprs[6], radix: 16))")
            let mi = Double(a.icount) / 1e6
            print(String(format: "BENCH %@: %.1f M instructions; interpreter %.3f s (%.0f MIPS), JIT %.3f s (%.0f MIPS), speed-up %.1fx",
                         name, mi, a.seconds, mi / a.seconds, b.seconds, mi / b.seconds, a.seconds / b.seconds))
            print("  JIT: " + b.stats)
        }
    }
}
