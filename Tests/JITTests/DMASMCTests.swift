import XCTest
import Foundation
import CPU
import JIT
import Machine

/// Code written into translated RAM by a device (DMA: the IDE bus master and fw_cfg DMA copy
/// through `PhysicalMemory.writeBytes`, which reports the range through `onExternalWrite`) must
/// drop the blocks made from it: the next call runs the new code.
final class DMASMCTests: XCTestCase {
    static let source = """
    bits 16
    org 0
    start:
        cli
        xor bx, bx
        mov cx, 100
    .l: call 0x0000:0x8000
        add bx, ax
        loop .l
        hlt
        mov cx, 100
    .m: call 0x0000:0x8000
        add bx, ax
        loop .m
        hlt
        times 0xfff0 - ($ - $$) db 0xff
        jmp 0xf000:start
        times 0x10000 - ($ - $$) db 0xff
    """

    func testDeviceWriteInvalidatesTranslatedCode() throws {
        let image = try JITTestSupport.assemble("dmasmc", source: Self.source)
        let m = try ROMMachine(rom: image, ramMiB: 32, output: { _ in })
        let jit = try JITEngine(cpu: m.cpu)
        // mov ax, 1 ; retf
        XCTAssertTrue([UInt8]([0xB8, 0x01, 0x00, 0xCB]).withUnsafeBytes { m.memory.writeBytes(0x8000, $0) })
        var r = jit.run(budget: 1_000_000)
        XCTAssertEqual(r, .halted)
        XCTAssertEqual(m.cpu.gpr[3] & 0xFFFF, 100)
        let before = jit.invalidations
        // The "DMA" transfer: mov ax, 2 ; retf over the translated function.
        XCTAssertTrue([UInt8]([0xB8, 0x02, 0x00, 0xCB]).withUnsafeBytes { m.memory.writeBytes(0x8000, $0) })
        XCTAssertGreaterThan(jit.invalidations, before, "the device write dropped no block")
        m.cpu.s.pointee.halted = 0
        r = jit.run(budget: 1_000_000)
        XCTAssertEqual(r, .halted)
        XCTAssertEqual(m.cpu.gpr[3] & 0xFFFF, 300, "stale translation ran after the device write")
    }
}
