import XCTest
import CPU

/// Decoder tests: instruction lengths and fields across modes, prefixes, REX, VEX, and the
/// architectural #UD / #GP cases.
final class DecoderTableTests: XCTestCase {
    let t = OpcodeTable.shared

    func len(_ b: [UInt8], _ m: DecodeMode) -> Int? { (try? t.decode(bytes: b, mode: m)).map { Int($0.len) } }
    func fault(_ b: [UInt8], _ m: DecodeMode) -> UInt8? {
        do { _ = try t.decode(bytes: b, mode: m); return nil } catch { return error.vector }
    }

    func testLengthsIn64BitMode() {
        let cases: [([UInt8], Int)] = [
            ([0x48, 0x01, 0xD8], 3),                                  // add rax, rbx
            ([0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8], 10),               // mov rax, imm64
            ([0x48, 0x8B, 0x05, 0, 0, 0, 0], 7),                      // mov rax, [rip+0]
            ([0x8B, 0x44, 0x24, 0x08], 4),                            // mov eax, [rsp+8] (SIB)
            ([0x42, 0x8B, 0x04, 0xA5, 0, 0, 0, 0], 8),                // mov eax, [r12*4+0] (no base)
            ([0x66, 0x81, 0xC0, 0x34, 0x12], 5),                      // add ax, imm16
            ([0x81, 0xC0, 1, 0, 0, 0], 6),                            // add eax, imm32
            ([0x48, 0x81, 0xC0, 1, 0, 0, 0], 7),                      // add rax, imm32 (sign-extended)
            ([0xA1, 1, 2, 3, 4, 5, 6, 7, 8], 9),                      // mov eax, moffs64
            ([0x67, 0xA1, 1, 2, 3, 4], 6),                            // mov eax, moffs32
            ([0xC8, 0x10, 0x00, 0x01], 4),                            // enter 16, 1
            ([0x0F, 0x38, 0xF1, 0x07], 4),                            // movbe [rdi], eax
            ([0x66, 0x0F, 0x3A, 0x0F, 0xC1, 0x08], 6),                // palignr xmm0, xmm1, 8
            ([0xF3, 0x48, 0x0F, 0xB8, 0xC1], 5),                      // popcnt rcx... with REX after F3
            ([0xE8, 0, 0, 0, 0], 5),                                  // call rel32
            ([0x66, 0xE8, 0, 0, 0, 0], 6),                            // call rel32 (66 ignored: f64)
            ([0x0F, 0x1F, 0x44, 0x00, 0x00], 5),                      // nopl [rax+rax]
        ]
        for (b, n) in cases {
            XCTAssertEqual(len(b, .long64), n, "bytes \(b.map { String($0, radix: 16) })")
        }
        // VEX forms decode to their length but are never executed as the legacy twin.
        let v = try? t.decode(bytes: [0xC5, 0xF8, 0x77], mode: .long64)
        XCTAssertEqual(v?.len, 3)
        XCTAssertEqual(v?.vex, true)
        XCTAssertEqual(v?.mn, .UNIMPL)
        XCTAssertEqual(len([0xC4, 0xE2, 0x79, 0x18, 0x07], .long64), 5, "vbroadcastss xmm0, [rdi]")
        XCTAssertEqual(fault([0xC4, 0xE2, 0x7D, 0x5A, 0xC0], .long64), Fault.UD, "vbroadcasti128 needs a memory operand")
    }

    func testLengthsIn16And32BitModes() {
        XCTAssertEqual(len([0x8B, 0x46, 0x02], .real16), 3)                       // mov ax, [bp+2]
        XCTAssertEqual(len([0x8B, 0x06, 0x34, 0x12], .real16), 4)                 // mov ax, [1234]
        XCTAssertEqual(len([0x66, 0xB8, 1, 2, 3, 4], .real16), 6)                 // mov eax, imm32
        XCTAssertEqual(len([0x67, 0x8B, 0x04, 0x24], .real16), 4)                 // mov ax, [esp]
        XCTAssertEqual(len([0x9A, 0x00, 0x10, 0x00, 0xF0], .real16), 5)           // call far ptr16:16
        XCTAssertEqual(len([0x9A, 1, 2, 3, 4, 0x08, 0x00], .prot32), 7)           // call far ptr16:32
        XCTAssertEqual(len([0xC4, 0x06, 0x00, 0x10], .real16), 4)                 // les ax, [1000]: not VEX
        XCTAssertEqual(len([0x8B, 0x05, 1, 2, 3, 4], .prot32), 6)                 // mov eax, [abs32] (no RIP)
        let d = try? t.decode(bytes: [0x8B, 0x05, 1, 2, 3, 4], mode: .prot32)
        XCTAssertEqual(d?.base, regNone)
        XCTAssertEqual(d?.disp, 0x04030201)
    }

    func testFieldsAndDefaults() throws {
        let push = try t.decode(bytes: [0x50], mode: .long64)
        XCTAssertEqual(push.mn, .PUSH)
        XCTAssertEqual(push.opSize, 8, "PUSH defaults to 64-bit in long mode")
        let push16 = try t.decode(bytes: [0x66, 0x50], mode: .long64)
        XCTAssertEqual(push16.opSize, 2)
        let rex = try t.decode(bytes: [0x41, 0x8B, 0xC1], mode: .long64)  // mov eax, r9d
        XCTAssertEqual(rex.rm, 9)
        let rip = try t.decode(bytes: [0x8B, 0x05, 0x10, 0, 0, 0], mode: .long64)
        XCTAssertEqual(rip.base, regRIP)
        XCTAssertEqual(rip.disp, 0x10)
        let seg = try t.decode(bytes: [0x36, 0x8B, 0x07], mode: .prot32)     // mov eax, ss:[edi]
        XCTAssertEqual(seg.seg, 2)
        let bp = try t.decode(bytes: [0x8B, 0x45, 0x00], mode: .prot32)      // mov eax, [ebp]: default SS
        XCTAssertEqual(bp.seg, 2)
        let nop = try t.decode(bytes: [0x90], mode: .long64)
        XCTAssertEqual(nop.mn, .NOP)
        let xchg = try t.decode(bytes: [0x41, 0x90], mode: .long64)         // xchg r8d, eax
        XCTAssertEqual(xchg.mn, .XCHG)
        let movsxd = try t.decode(bytes: [0x48, 0x63, 0xC1], mode: .long64)
        XCTAssertEqual(movsxd.mn, .MOVSXD)
        let arpl = try t.decode(bytes: [0x63, 0xC1], mode: .prot32)
        XCTAssertEqual(arpl.mn, .ARPL)
        let tz = try t.decode(bytes: [0xF3, 0x0F, 0xBC, 0xC1], mode: .prot32)
        XCTAssertEqual(tz.mn, .TZCNT)
        XCTAssertEqual(tz.rep, 0, "F3 consumed as a mandatory prefix")
        let bsf = try t.decode(bytes: [0x66, 0x0F, 0xBC, 0xC1], mode: .prot32)
        XCTAssertEqual(bsf.mn, .BSF)
        XCTAssertEqual(bsf.opSize, 2, "66 stays an operand-size prefix when no variant uses it")
    }

    func testInvalidEncodings() {
        XCTAssertEqual(fault([0x06], .long64), Fault.UD, "PUSH ES is invalid in 64-bit mode")
        XCTAssertEqual(fault([0x37], .long64), Fault.UD, "AAA is invalid in 64-bit mode")
        XCTAssertEqual(fault([0xF0, 0x01, 0xC0], .prot32), Fault.UD, "LOCK with a register destination")
        XCTAssertEqual(fault([0xF0, 0x8B, 0x00], .prot32), Fault.UD, "LOCK MOV")
        XCTAssertNil(fault([0xF0, 0x01, 0x00], .prot32), "LOCK ADD [eax], eax is fine")
        XCTAssertEqual(fault([0x8D, 0xC0], .prot32), Fault.UD, "LEA with a register operand")
        XCTAssertEqual(fault([0x0F, 0x0B], .prot32), nil, "UD2 decodes (and raises #UD when run)")
        XCTAssertEqual(fault([0x0F, 0x04], .prot32), Fault.UD, "undefined 0F 04")
        // 15 prefixes + opcode = 16 bytes: #GP(0).
        XCTAssertEqual(fault([UInt8](repeating: 0x66, count: 15) + [0x90], .prot32), Fault.GP)
        XCTAssertEqual(len([UInt8](repeating: 0x66, count: 14) + [0x90], .prot32), 15)
        // Running out of bytes mid-instruction asks the slow path (here: #PF).
        XCTAssertEqual(fault([0x48, 0xB8, 1, 2], .long64), Fault.PF)
    }
}
