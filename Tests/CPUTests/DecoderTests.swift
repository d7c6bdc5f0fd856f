import XCTest
import Foundation
import CPU

/// Decoder unit tests: instruction lengths checked against nasm (each snippet is assembled at test
/// time and the decoder must consume exactly nasm's byte count), fields of selected encodings,
/// and the architectural #UD / #GP decode faults.
final class DecoderTests: XCTestCase {
    let t = OpcodeTable.shared

    // MARK: - lengths against nasm

    static let lines64 = [
        "add rax, rbx", "add r8d, [r9 + r10*8 + 0x12345678]", "mov rax, 0x1122334455667788",
        "mov eax, [rel $]", "mov rax, [rel $ + 0x1000]", "mov al, [qword 0x1122334455667788]",
        "mov eax, [dword 0x1000]", "lea rax, [rsp + 8]", "lea r13, [r13]", "lea rax, [r12 + 4]",
        "push r12", "pop r15", "push qword 0x12345678", "push byte -1",
        "imul r11, [rbp - 8], 0x1000", "imul rax, rbx, 3", "test byte [rax], 1",
        "test qword [rax], 0x7fffffff", "movzx eax, byte [rsi]", "movsx r8, word [rdi]",
        "movsxd rax, ecx", "cmpxchg16b [rdi]", "lock xadd [rax], ecx", "lock add qword [rbx], 1",
        "rep movsq", "repne scasb", "jmp qword [rax]", "call [rel $]", "call $ + 0x1000",
        "jmp short $", "jnz near $ + 0x1000", "jrcxz $", "loop $", "enter 0x1000, 3", "ret 8",
        "iretq", "syscall", "sysret", "swapgs", "cpuid", "rdtsc", "rdmsr",
        "movq xmm0, rax", "movq rax, xmm15", "pshufb xmm1, xmm2", "pinsrd xmm1, eax, 2",
        "pextrq rax, xmm3, 1", "pcmpistri xmm1, xmm2, 0x1a", "crc32 eax, byte [rdi]",
        "crc32 rax, qword [rdi]", "popcnt rax, rbx", "lzcnt ecx, edx", "tzcnt r9, [r10]",
        "movdqa xmm8, [r9]", "movdqu [rsp + 0x100], xmm2", "addsd xmm1, [rax + 8]",
        "cvtsi2sd xmm0, rax", "cvttss2si r10, xmm4", "shufps xmm0, xmm1, 0x1b",
        "pclmulqdq xmm0, xmm1, 0x11", "aesenc xmm0, [rax]", "fld qword [rax]", "fstp st1",
        "fnstsw ax", "fldcw [rsp]", "fxsave [rax]", "xchg r8, rax", "xchg eax, eax",
        "mov fs, ax", "mov cr3, rax", "mov rax, dr7", "mov cr8, rax", "bt qword [rax], 63",
        "bts rax, rcx", "shld rax, rbx, 3", "shrd [rax], ebx, cl", "rol qword [rax], 1",
        "out 0x80, al", "in eax, dx", "int 0x80", "int3", "nop dword [rax + rax*1 + 0]",
        "nop word [cs:rax + rax*1 + 0]", "xlatb", "cqo", "mov byte [rsp + 0x80], 5",
        "add word [rax], 0x1234", "add word [rax], 0x12", "mov word [rel $ + 0x10], 0x1234",
        "fs mov rax, [0]", "gs mov eax, [rbx]", "mov ah, 1", "mov spl, 1", "mov r8b, [rax]",
        "movbe eax, [rdi]", "prefetcht0 [rax]", "clflush [rax]", "lfence", "mfence", "pause",
        "ud2", "hlt", "lgdt [rax]", "lidt [rel $]", "invlpg [rax]", "wrmsr", "xgetbv",
        "movnti [rax], rcx", "cmovae rax, [rbx + rcx*2]", "setg byte [rax + 1]",
        "vzeroupper", "vaddps xmm0, xmm1, xmm2", "vmovdqu ymm0, [rax]",
        "vpshufb xmm0, xmm1, xmm2", "vaddpd ymm8, ymm9, [r10]", "vpxor xmm3, xmm4, [rax + 0x80]",
    ]
    static let lines32 = [
        "mov eax, [ebx + ecx*4 + 8]", "mov eax, [0x12345678]", "mov ax, [bx + si]",
        "mov eax, [esp]", "mov eax, [ebp]", "mov eax, [ebp + eax*2]", "mov eax, [eax*4 + 0x10]",
        "push 0x12345678", "push byte -1", "push word 0x1234", "jmp 0x08:0x12345678",
        "call 0x10:0x1000", "call far [eax]", "jmp far [ebx + 4]", "aam", "aad 16", "daa", "das",
        "aaa", "aas", "pusha", "popa", "bound eax, [ecx]", "arpl [eax], cx", "les eax, [ebx]",
        "lds esi, [ebx + 4]", "into", "mov eax, cr0", "mov cr4, eax", "lgdt [eax]", "ltr ax",
        "lar eax, ecx", "verr ax", "int3", "int 0x21", "enter 8, 0", "leave",
        "imul eax, ebx, 1000", "movsx eax, word [esi]", "fs mov eax, [0]",
        "a16 mov eax, [bp + di + 0x10]", "o16 mov ax, 0x1234", "mov [0x1000], al",
        "mov eax, [0x1000]", "a16 mov [0x1000], eax", "rep stosd", "lock cmpxchg8b [esi]",
        "pcmpeqb mm0, mm1", "movq mm0, [eax]", "shufps xmm0, xmm1, 0x1b", "movaps xmm7, [esp]",
        "cvtsi2ss xmm0, eax", "sysenter", "sysexit", "inc eax", "dec edi", "push es", "pop ds",
        "push cs", "salc", "xchg ebx, eax", "jecxz $", "jmp $ + 0x10000",
        "ret", "retf 8", "iret", "fild dword [eax]", "fistp qword [ebx]", "fnsave [eax]", "fwait",
        "vaddps ymm0, ymm1, ymm2", "vmovdqa xmm1, [eax]",
    ]
    static let lines16 = [
        "mov ax, [bx + si + 0x1234]", "mov ax, [bp]", "mov ax, [0x1234]", "mov ax, [bx + di - 2]",
        "mov eax, [ebx + ecx*4]", "mov eax, [esp + 8]", "jmp 0xf000:0xfff0", "call 0x1234:0x5678",
        "call near [bx]", "call far [bx]", "jmp short $", "jz near $", "mov al, [0x1234]",
        "mov [0x1234], ax", "a32 mov al, [0x12345678]", "push word 0x1234", "push dword 0x12345678",
        "int 0x10", "iret", "retf 4", "ret", "les bx, [si]", "lds si, [bx + 2]", "lss sp, [bx]",
        "lfs ax, [bx]", "mov cr0, eax", "lidt [bx]", "smsw ax", "in al, 0x60", "out dx, ax",
        "rep movsb", "rep movsd", "enter 4, 2", "imul ax, bx, 0x1000", "imul ax, bx, 5",
        "bt word [bx], 3", "bt eax, ecx", "shld ax, bx, 4", "setc al", "cmovz ax, bx",
        "movzx eax, byte [si]", "movsx ax, bl", "xlatb", "cs lodsb", "aad 10", "aam",
        "fild word [bx]", "fld tword [bx + si]", "pushf", "popfd", "pusha", "pushad",
        "o32 call dword $", "call dword $", "jmp dword 0x08:0x12345678", "loop $",
        "a32 loop $",
        "mov ds, ax", "mov ax, es", "xchg ax, bx", "cwd", "cdq", "cbw", "cwde", "bswap eax",
        "lock inc word [bx]", "add byte [bx], 1", "add word [bx], 0x1234", "add dword [bx], 0x12345678",
        "ud2", "hlt", "cli", "wbinvd", "cpuid", "arpl [bx], ax",
    ]

    /// Assembles each line with nasm (one file: the instructions, then a table of their lengths).
    static func nasmLengths(_ lines: [String], bits: Int) throws -> [(String, [UInt8])] {
        guard let nasm = nasmPath() else {
            throw NSError(domain: "DecoderTests", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "nasm is not installed (apt-get install nasm): cannot build the reference encodings"])
        }
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("emu-dec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var src = "bits \(bits)\n[warning -all]\n"
        for (i, l) in lines.enumerated() { src += "i\(i): \(l)\n" }
        src += "i\(lines.count):\n"
        for i in 0..<lines.count { src += "dw i\(i + 1) - i\(i)\n" }
        let asm = dir.appendingPathComponent("t.asm"), bin = dir.appendingPathComponent("t.bin")
        try src.write(to: asm, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-o", bin.path, asm.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "DecoderTests", code: 2, userInfo: [NSLocalizedDescriptionKey: "nasm: \(msg)"])
        }
        let b = [UInt8](try Data(contentsOf: bin))
        let table = b.count - 2 * lines.count
        var out: [(String, [UInt8])] = []
        var off = 0
        for (i, l) in lines.enumerated() {
            let n = Int(b[table + 2 * i]) | Int(b[table + 2 * i + 1]) << 8
            out.append((l, Array(b[off..<off + n])))
            off += n
        }
        XCTAssertEqual(off, table)
        return out
    }

    static func nasmPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for d in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            if FileManager.default.isExecutableFile(atPath: d + "/nasm") { return d + "/nasm" }
        }
        return nil
    }

    func checkLengths(_ lines: [String], bits: Int, mode: DecodeMode) throws {
        for (line, bytes) in try Self.nasmLengths(lines, bits: bits) {
            let hex = bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
            // Trailing INT3 bytes must not be consumed.
            do {
                let d = try t.decode(bytes: bytes + [0xCC, 0xCC, 0xCC, 0xCC], mode: mode)
                XCTAssertEqual(Int(d.len), bytes.count, "\(bits)-bit '\(line)' (\(hex)): decoder length \(d.len), nasm \(bytes.count)")
            } catch {
                XCTFail("\(bits)-bit '\(line)' (\(hex)): decoder raised \(error)")
            }
        }
    }

    func testLengthsMatchNasmIn64BitMode() throws { try checkLengths(Self.lines64, bits: 64, mode: .long64) }
    func testLengthsMatchNasmIn32BitMode() throws { try checkLengths(Self.lines32, bits: 32, mode: .prot32) }
    func testLengthsMatchNasmIn16BitMode() throws { try checkLengths(Self.lines16, bits: 16, mode: .real16) }

    // MARK: - fields

    func testOperandAndAddressSizes() throws {
        var d = try t.decode(bytes: [0x66, 0x67, 0x8B, 0x00], mode: .real16)        // mov eax, [eax]
        XCTAssertEqual(d.opSize, 4); XCTAssertEqual(d.addrSize, 4); XCTAssertTrue(d.isMem)
        d = try t.decode(bytes: [0x8B, 0x00], mode: .real16)                        // mov ax, [bx+si]
        XCTAssertEqual(d.opSize, 2); XCTAssertEqual(d.addrSize, 2)
        d = try t.decode(bytes: [0x66, 0x8B, 0x00], mode: .prot32)
        XCTAssertEqual(d.opSize, 2); XCTAssertEqual(d.addrSize, 4)
        d = try t.decode(bytes: [0x48, 0x66, 0x8B, 0x00], mode: .long64)            // REX not last: ignored
        XCTAssertEqual(d.opSize, 2)
        d = try t.decode(bytes: [0x66, 0x48, 0x8B, 0x00], mode: .long64)            // REX.W wins over 66
        XCTAssertEqual(d.opSize, 8)
        d = try t.decode(bytes: [0x67, 0x8B, 0x00], mode: .long64)
        XCTAssertEqual(d.addrSize, 4)
        d = try t.decode(bytes: [0x50], mode: .long64)                              // push: 64-bit default
        XCTAssertEqual(d.opSize, 8)
        d = try t.decode(bytes: [0x66, 0x50], mode: .long64)
        XCTAssertEqual(d.opSize, 2)
    }

    func testImmediatesAndDisplacements() throws {
        var d = try t.decode(bytes: [0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11], mode: .long64)
        XCTAssertEqual(d.imm, 0x1122334455667788)
        d = try t.decode(bytes: [0x8B, 0x84, 0x8B, 0x78, 0x56, 0x34, 0x12], mode: .prot32) // [ebx+ecx*4+disp32]
        XCTAssertEqual(d.base, 3); XCTAssertEqual(d.index, 1); XCTAssertEqual(d.scale, 2)
        XCTAssertEqual(d.disp, 0x12345678)
        d = try t.decode(bytes: [0x8B, 0x46, 0xFE], mode: .real16)                   // [bp-2]
        XCTAssertEqual(d.disp, -2)
        d = try t.decode(bytes: [0x83, 0xC0, 0xFF], mode: .prot32)                   // add eax, -1
        XCTAssertEqual(UInt32(truncatingIfNeeded: d.imm), 0xFFFF_FFFF)
        d = try t.decode(bytes: [0xC8, 0x34, 0x12, 0x05], mode: .real16)             // enter 0x1234, 5
        XCTAssertEqual(d.len, 4)
        XCTAssertEqual(d.imm & 0xFFFF, 0x1234)
        d = try t.decode(bytes: [0xEA, 0xF0, 0xFF, 0x00, 0xF0], mode: .real16)       // jmp f000:fff0
        XCTAssertEqual(d.len, 5)
        d = try t.decode(bytes: [0x8B, 0x05, 0x10, 0, 0, 0], mode: .long64)          // RIP-relative
        XCTAssertEqual(d.disp, 0x10)
        XCTAssertTrue(d.isMem)
    }

    // MARK: - faults

    func fault(_ b: [UInt8], _ m: DecodeMode) -> UInt8? {
        do { _ = try t.decode(bytes: b, mode: m); return nil } catch { return error.vector }
    }

    func testOpcodesInvalidIn64BitModeAreUD() {
        let invalid: [[UInt8]] = [
            [0x06], [0x07], [0x0E], [0x16], [0x17], [0x1E], [0x1F],       // push/pop es cs ss ds
            [0x27], [0x2F], [0x37], [0x3F],                               // daa das aaa aas
            [0x60], [0x61],                                               // pusha popa
            [0x9A, 0, 0, 0, 0, 0, 0],                                     // call far ptr
            [0xEA, 0, 0, 0, 0, 0, 0],                                     // jmp far ptr
            [0xCE], [0xD4, 0x0A], [0xD5, 0x0A], [0xD6],                   // into aam aad salc
            [0x82, 0xC0, 0x01],                                           // 82 alias of 80
        ]
        for b in invalid {
            XCTAssertEqual(fault(b, .long64), 6, "\(b.map { String($0, radix: 16) }) must be #UD in 64-bit mode")
            XCTAssertNil(fault(b, .prot32), "\(b.map { String($0, radix: 16) }) is valid in 32-bit mode")
        }
    }

    func testLockRules() {
        XCTAssertEqual(fault([0xF0, 0x90], .prot32), 6, "lock nop")
        XCTAssertEqual(fault([0xF0, 0x01, 0xD8], .prot32), 6, "lock add eax, ebx (register form)")
        XCTAssertEqual(fault([0xF0, 0x8B, 0x00], .prot32), 6, "lock mov eax, [eax]")
        XCTAssertEqual(fault([0xF0, 0x89, 0x00], .long64), 6, "lock mov [rax], eax")
        XCTAssertEqual(fault([0xF0, 0x0F, 0xA2], .long64), 6, "lock cpuid")
        XCTAssertEqual(fault([0xF0, 0x0F, 0xA3, 0x00], .prot32), 6, "lock bt (not lockable)")
        XCTAssertNil(fault([0xF0, 0x01, 0x18], .prot32), "lock add [eax], ebx")
        XCTAssertNil(fault([0xF0, 0x0F, 0xB1, 0x0B], .long64), "lock cmpxchg [rbx], ecx")
        XCTAssertNil(fault([0xF0, 0x0F, 0xAB, 0x00], .prot32), "lock bts [eax], eax")
        XCTAssertNil(fault([0xF0, 0x87, 0x00], .prot32), "lock xchg [eax], eax")
        XCTAssertNil(fault([0xF0, 0xFF, 0x00], .prot32), "lock inc dword [eax]")
        XCTAssertEqual(fault([0xF0, 0xFF, 0xC0], .prot32), 6, "lock inc eax")
        XCTAssertNil(fault([0xF0, 0x0F, 0xC7, 0x0E], .prot32), "lock cmpxchg8b [esi]")
    }

    func testInstructionLengthLimit() {
        let fifteen = [UInt8](repeating: 0x66, count: 14) + [0x90]
        XCTAssertNil(fault(fifteen, .prot32), "15 bytes are allowed")
        let sixteen = [UInt8](repeating: 0x66, count: 15) + [0x90]
        XCTAssertEqual(fault(sixteen, .prot32), 13, "16 bytes: #GP")
        let longImm = [UInt8](repeating: 0x2E, count: 11) + [0x81, 0xC0, 1, 2, 3, 4]  // 17 bytes
        XCTAssertEqual(fault(longImm, .prot32), 13)
        let rexMany = [UInt8](repeating: 0x66, count: 6) + [0x48, 0xB8] + [UInt8](repeating: 0, count: 8) // 16
        XCTAssertEqual(fault(rexMany, .long64), 13, "mov rax, imm64 with 6 prefixes is 16 bytes")
    }

    func testReservedEncodings() throws {
        // UD2 and ARPL-in-real-mode decode normally; their #UD is raised when executed (the
        // real_control test ROM checks that, with the return address).
        XCTAssertEqual(try t.decode(bytes: [0x0F, 0x0B], mode: .real16).len, 2, "ud2")
        XCTAssertEqual(fault([0x8D, 0xC0], .prot32), 6, "lea with a register operand")
        XCTAssertEqual(fault([0x0F, 0x01, 0xF8], .prot32), 6, "swapgs outside 64-bit mode")
        XCTAssertEqual(try t.decode(bytes: [0x9B, 0xDD, 0x30], mode: .prot32).len, 1, "fwait is an instruction of its own")
    }
}
