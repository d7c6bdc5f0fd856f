import XCTest
import Foundation
import CPU
import JIT
import Machine

/// Helper calls execute the instruction decoded at translation time (`jitExec`), so executing it
/// must not change the stored form: TZCNT/LZCNT run as BSF/BSR when the CPUID model hides
/// BMI1/LZCNT, and the interpreter rewrites its copy of the instruction to do that. A block
/// that runs them again must still see TZCNT (it did see BSF once and raised #UD).
final class HelperExecTests: XCTestCase {
    static let source = """
    %define ROM_ORG 0xF0000
    %include "lib/rom.inc"
    %include "lib/modes.inc"
    main:
        ENTER_PM32
        mov ecx, 200
        xor esi, esi
    .l: mov ebx, ecx
        shl ebx, 3
        tzcnt eax, ebx
        add esi, eax
        lzcnt edx, ebx
        add esi, edx
        dec ecx
        jnz .l
        cmp esi, 0
        je .bad
        PASS "tzcnt loop"
        FINISH
    .bad:
        FAIL "tzcnt loop"
        FINISH
    """

    func run(jit: Bool, hide: Bool) throws -> (MachineExit, [UInt64], UInt64, String) {
        let image = try JITTestSupport.assemble("helperexec", source: Self.source)
        let out = JITTestSupport.Output()
        let m = try ROMMachine(rom: image, ramMiB: 32, output: { out.bytes.append($0) })
        if hide {
            m.cpu.cpuid.set(.bmi1, false)
            m.cpu.cpuid.set(.abm, false)
        }
        let exit: MachineExit
        if jit {
            let e = try JITEngine(cpu: m.cpu)
            exit = JITTestSupport.runJIT(m, e, maxInstructions: 10_000_000)
        } else {
            exit = m.run(maxInstructions: 10_000_000)
        }
        return (exit, (0..<16).map { m.cpu.gpr[$0] }, m.cpu.s.pointee.icount, out.text)
    }

    func testDecodedFormSurvivesExecution() throws {
        for hide in [true, false] {
            let a = try run(jit: false, hide: hide)
            let b = try run(jit: true, hide: hide)
            XCTAssertEqual(a.0, b.0, "exit (hidden \(hide))")
            XCTAssertEqual(a.1, b.1, "registers (hidden \(hide))")
            XCTAssertEqual(a.2, b.2, "icount (hidden \(hide))")
            XCTAssertEqual(a.3, b.3, "output (hidden \(hide))")
            XCTAssertTrue(b.3.contains("PASS"), b.3)
        }
    }
}
