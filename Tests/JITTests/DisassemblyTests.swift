import XCTest
import Foundation
import JIT
import Machine

/// Writes the host code of every block of a small loop to /tmp (JIT_DUMP=1) for objdump.
final class DisassemblyTests: XCTestCase {
    func testDumpLoopBlocks() throws {
        guard ProcessInfo.processInfo.environment["JIT_DUMP"] != nil else { return }
        let src = """
        %define ROM_ORG 0xF0000
        %include "lib/rom.inc"
        %include "lib/modes.inc"
        main:
            ENTER_PM32
            mov ecx, 1000
            mov ebx, 0x20000
        .l: add eax, ecx
            xor edx, eax
            mov [ebx + 8], eax
            add esi, [ebx + 8]
            dec ecx
            jnz .l
            FINISH
        """
        let image = try JITTestSupport.assemble("dump", source: src)
        var n = 0
        _ = try JITTestSupport.run(image: image, jit: true, configure: { e in
            e.onTranslate = { rip, count, code in
                n += 1
                let path = "/tmp/jitdump/block-\(n)-\(String(rip, radix: 16))-\(count).bin"
                FileManager.default.createFile(atPath: path, contents: Data(code))
            }
        })
    }
}
