import XCTest
import Foundation
import CPU
import JIT
import Machine

/// The host must survive anything the guest does: garbage written over translated code and run,
/// jumps into unassigned and device space, and a code cache too small for the working set.
/// Each run must also agree with the interpreter (same end, same instruction count, lockstep).
final class HostSafetyTests: XCTestCase {
    /// 32-bit ROM: translates a loop in RAM, overwrites it with pseudo-random bytes, then jumps
    /// into the garbage (and into unassigned/ROM/device addresses) again and again; every
    /// exception vector restarts the next attempt.
    static func garbageROM(seed: UInt64, attempts: Int = 48) -> String {
        var rng = RandomCodeTests.RNG(s: seed)
        var bytes: [String] = []
        for _ in 0..<4096 { bytes.append(String(rng.next() & 0xFF)) }
        var targets: [String] = []
        let specials = ["0xFEC00000", "0x07FF0000", "0xFFFFFFF0", "0x000A0000", "0x3FFFFFF0"]
        for i in 0..<attempts {
            targets.append(i % 9 == 8 ? specials[(i / 9) % specials.count] : "GARB + \(rng.int(4090))")
        }
        return """
        %define ROM_ORG 0xF0000
        %include "lib/rom.inc"
        %include "lib/modes.inc"
        GARB equ 0x30000
        COUNT equ 0x2F000
        IDTB equ 0x2E000
        main:
            ENTER_PM32
            ; IDT: 32 interrupt gates to `handler`
            mov edi, IDTB
            mov ecx, 32
        .g: mov eax, handler
            mov [edi], ax
            mov word [edi + 2], SEL_CODE32
            mov word [edi + 4], 0x8E00
            shr eax, 16
            mov [edi + 6], ax
            add edi, 8
            loop .g
            lidt [idtr]
            ; a hot loop in RAM, translated and chained
            mov esi, loop_code
            mov edi, GARB
            mov ecx, loop_end - loop_code
            rep movsb
            mov ebx, 20
        .hot:
            call GARB
            dec ebx
            jnz .hot
            ; garbage over it
            mov esi, garbage
            mov edi, GARB
            mov ecx, 4096
            rep movsb
            mov dword [COUNT], 0
        next_attempt:
            mov esp, 0x9F000
            mov ax, SEL_DATA32
            mov ds, ax
            mov es, ax
            mov ss, ax
            mov eax, [COUNT]
            inc dword [COUNT]
            cmp eax, \(attempts)
            jae done
            mov ebx, [targets + eax*4]
            xor eax, eax
            xor ecx, ecx
            xor edx, edx
            xor esi, esi
            xor edi, edi
            xor ebp, ebp
            push 0x2
            popfd
            jmp ebx
        handler:
            cli
            lgdt [cs:gdtr_copy]
            jmp SEL_CODE32:next_attempt
        done:
            PASS "garbage survived"
            FINISH
        loop_code:
            mov eax, 10
        .l: add ecx, eax
            dec eax
            jnz .l
            ret
        loop_end:
        align 4
        gdtr_copy: dw GDT_LIMIT
                   dd GDT_BASE
        idtr: dw 32 * 8 - 1
              dd IDTB
        targets: dd \(targets.joined(separator: ", "))
        garbage: db \(bytes.joined(separator: ", "))
        """
    }

    func testGarbageCodeAndWildJumps() throws {
        for seed: UInt64 in 1...4 {
            let src = Self.garbageROM(seed: seed)
            let image = try JITTestSupport.assemble("garbage-\(seed)", source: src)
            let limit: UInt64 = 1_000_000
            let a = try JITTestSupport.run(image: image, jit: false, limit: limit)
            let b = try JITTestSupport.run(image: image, jit: true, limit: limit)
            print("garbage seed \(seed): interpreter \(a.seconds) s, JIT \(b.seconds) s")
            let t0 = Date()
            XCTAssertEqual(a.exit, b.exit, "seed \(seed)")
            XCTAssertEqual(a.icount, b.icount, "seed \(seed)")
            XCTAssertEqual(a.output, b.output, "seed \(seed)")
            let (report, units) = try DiffRunner.run(image: image, maxUnits: 100_000)
            if let report, !report.hasPrefix("no end") { XCTFail("seed \(seed): \(report)") }
            print("garbage seed \(seed): \(a.exit), \(a.icount) instructions, \(units) lockstep blocks (\(Date().timeIntervalSince(t0)) s); JIT: \(b.stats)")
        }
    }

    /// Every ROM with a code cache so small it is flushed over and over.
    func testTinyCodeCache() throws {
        for name in JITTestSupport.romNames() {
            let image = try JITTestSupport.assemble(name)
            let a = try JITTestSupport.run(image: image, jit: false)
            let b = try JITTestSupport.run(image: image, jit: true, cacheSize: 96 << 10)
            XCTAssertEqual(b.exit, .exitPort(1), "\(name): \(b.exit)")
            XCTAssertEqual(a.output, b.output, "\(name)")
            XCTAssertEqual(a.icount, b.icount, "\(name)")
            print("tiny cache \(name): \(b.stats)")
        }
        // The lockstep comparison with a tiny cache too (flushes between blocks).
        for name in ["real_alu", "long_mode", "smc"] {
            let (report, _) = try DiffRunner.run(image: try JITTestSupport.assemble(name), cacheSize: 96 << 10)
            if let report { XCTFail("\(name) (tiny cache): \(report)") }
        }
    }
}
