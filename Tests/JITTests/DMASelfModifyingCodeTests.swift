import XCTest
import Foundation
import CPU
import JIT
import Machine

/// Code written by device DMA: an IDE bus-master READ DMA lands on guest pages that hold
/// translated code. The PC machine runs a small firmware image (assembled here) with a disk
/// whose sectors hold replacement code:
///  1. a routine at 0x7800, written by CPU stores and called until it is translated (AX = 1),
///     is overwritten by DMA of sector 1 (AX = 3) and called again;
///  2. RAM code at 0x7000 starts the bus master itself with an OUT whose DMA lands on the
///     instruction right after that OUT (same block): the first run DMAs elsewhere (AX = 1,
///     the block is translated), the second run must execute the DMA-written bytes (AX = 2).
/// The result is printed on COM1; the interpreter and the JIT must both print the PASS lines.
final class DMASelfModifyingCodeTests: XCTestCase {
    static let source = """
    bits 16
    org 0
    BM equ 0xC000                 ; bus-master base (BAR4 of the IDE function 00:01.1)
    %macro PUTS 1
        mov si, %1
        call puts
    %endmacro
    start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x6000
        mov es, ax
        ; PCI 00:01.1: BAR4 = BM (I/O), command = I/O space + bus master
        mov dx, 0xCF8
        mov eax, 0x80000920
        out dx, eax
        mov dx, 0xCFC
        mov eax, BM | 1
        out dx, eax
        mov dx, 0xCF8
        mov eax, 0x80000904
        out dx, eax
        mov dx, 0xCFC
        mov ax, 5
        out dx, ax
        ; RAM code to 0x7000 (DS = CS for the source)
        push cs
        pop ds
        mov si, ramcode
        mov di, 0x7000
        mov cx, ramcode_end - ramcode
        cld
        rep movsb
        xor ax, ax
        mov ds, ax

        ; --- 1: routine at 0x7800 written by the CPU, replaced by DMA ---
        mov word [0x7800], 0x01B8     ; mov ax, 1
        mov word [0x7802], 0xCB00     ;           retf
        mov cx, 3
    .warm:
        xor ax, ax
        call 0:0x7800
        cmp ax, 1
        jne fail1
        loop .warm
        mov eax, 1                    ; LBA 1 -> 0x7800
        mov edi, 0x7800
        call dma_setup
        mov dx, BM
        mov al, 9                     ; start, device -> memory
        out dx, al
        call dma_check
        xor ax, ax
        call 0:0x7800
        cmp ax, 3
        jne fail1
        PUTS msg1
        ; --- 2: DMA over the instruction after the OUT that starts it ---
        mov eax, 2                    ; LBA 2 -> 0x7A00 (harmless)
        mov edi, 0x7A00
        call dma_setup
        xor ax, ax
        call 0:0x7000
        cmp ax, 1
        jne fail2
        call dma_check
        mov eax, 0                    ; LBA 0 -> the instruction after the OUT
        mov edi, 0x7000 + (target - ramcode)
        call dma_setup
        xor ax, ax
        call 0:0x7000
        cmp ax, 2
        jne fail2
        call dma_check
        PUTS msg2
        mov al, 0
        out 0xF4, al
        hlt
    fail1:
        PUTS bad1
        jmp done
    fail2:
        PUTS bad2
    done:
        mov al, 1
        out 0xF4, al
        hlt

    ; EAX = LBA, EDI = destination: PRD table at 0x5000, READ DMA of one sector.
    dma_setup:
        push eax
        mov [0x5000], edi
        mov word [0x5004], 512
        mov word [0x5006], 0x8000
        mov dx, BM
        xor al, al
        out dx, al                    ; stop
        mov dx, BM + 2
        mov al, 6
        out dx, al                    ; clear error and interrupt
        mov dx, BM + 4
        mov eax, 0x5000
        out dx, eax
        pop eax
        mov dx, 0x1F3
        out dx, al                    ; LBA 7:0
        mov dx, 0x1F4
        mov al, 0
        out dx, al
        mov dx, 0x1F5
        out dx, al
        mov dx, 0x1F6
        mov al, 0xE0                  ; master, LBA
        out dx, al
        mov dx, 0x1F2
        mov al, 1
        out dx, al
        mov dx, 0x1F7
        mov al, 0xC8                  ; READ DMA
        out dx, al
        ret

    ; The bus master must report the interrupt and no error; then stop it.
    dma_check:
        mov dx, BM + 2
        in al, dx
        test al, 2
        jnz dmafail
        test al, 4
        jz dmafail
        mov dx, BM
        xor al, al
        out dx, al
        mov dx, 0x1F7
        in al, dx                     ; acknowledge the device interrupt
        ret
    dmafail:
        PUTS bad3
        jmp done

    puts:                             ; CS:SI, NUL-terminated, to COM1
        mov dx, 0x3F8
    .c: cs lodsb
        test al, al
        jz .r
        out dx, al
        jmp .c
    .r: ret

    ramcode:                          ; runs at 0000:7000
        mov dx, BM
        mov al, 9
        out dx, al                    ; DMA (second run: lands on `target`)
    target:
        mov ax, 1                     ; B8 01 00, replaced by B8 02 00
        retf
        times 16 nop
    ramcode_end:

    msg1: db "DMA-SMC 1 PASS: routine replaced by DMA", 10, 0
    msg2: db "DMA-SMC 2 PASS: next instruction replaced by DMA", 10, 0
    bad1: db "DMA-SMC 1 FAIL", 10, 0
    bad2: db "DMA-SMC 2 FAIL", 10, 0
    bad3: db "DMA-SMC FAIL: bus master error", 10, 0

        times 0xfff0 - ($ - $$) db 0xff
        jmp 0xf000:start
        times 0x10000 - ($ - $$) db 0xff
    """

    /// Runs the firmware with the disk on the interpreter or the JIT; returns COM1 and the exit.
    func run(jit: Bool, bios: URL, disk: URL) throws -> (String, PCExit, JITEngine?) {
        var config = MachineConfig()
        config.ramMiB = 32
        config.bios = bios.path
        config.disks = [disk.path]
        config.diskMode = .readOnly
        config.deterministic = true
        config.noReboot = true
        var out = [UInt8]()
        let m = try PCMachine(config: config) { out.append($0) }
        if jit { try m.useJIT() }
        let r = m.run(maxInstructions: 10_000_000)
        return (String(decoding: out, as: UTF8.self), r, m.jit)
    }

    func testDMAWrittenCodeIsExecuted() throws {
        let image = try JITTestSupport.assemble("dma_smc", source: Self.source)
        XCTAssertEqual(image.count, 0x10000)
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("emu-dma-smc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bios = dir.appendingPathComponent("bios.bin")
        try Data(image).write(to: bios)
        // Sector 0: mov ax, 2; retf.  Sector 1: mov ax, 3; retf.  Sector 2: filler.
        var disk = [UInt8](repeating: 0, count: 512 * 16)
        disk.replaceSubrange(0..<4, with: [0xB8, 0x02, 0x00, 0xCB])
        disk.replaceSubrange(512..<516, with: [0xB8, 0x03, 0x00, 0xCB])
        for i in 1024..<1536 { disk[i] = 0x90 }
        let diskURL = dir.appendingPathComponent("disk.img")
        try Data(disk).write(to: diskURL)

        let (itext, ir, _) = try run(jit: false, bios: bios, disk: diskURL)
        XCTAssertEqual(ir, .exitPort(1), "interpreter:\n\(itext)")
        XCTAssertTrue(itext.contains("DMA-SMC 1 PASS") && itext.contains("DMA-SMC 2 PASS"), itext)

        let (jtext, jr, engine) = try run(jit: true, bios: bios, disk: diskURL)
        XCTAssertEqual(jr, .exitPort(1), "JIT:\n\(jtext)")
        XCTAssertEqual(jtext, itext)
        let e = try XCTUnwrap(engine)
        XCTAssertGreaterThan(e.blocksTranslated, 0)
        XCTAssertGreaterThan(e.invalidations, 0, "the DMA writes invalidated translated code")
        XCTAssertEqual(Data(disk), try Data(contentsOf: diskURL), "the disk image was not modified")
    }
}
