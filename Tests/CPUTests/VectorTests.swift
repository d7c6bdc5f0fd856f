import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CPU
import CPUState

/// MMX / SSE..SSE4.2 tests. Code is assembled with nasm and run in 64-bit mode (flat, no paging);
/// floating-point results are compared with the host's own SSE unit run under the same MXCSR.
final class VectorTests: XCTestCase {
    var mem: PhysicalMemory!
    var cpu: CPU!
    var fault: Fault?
    nonisolated(unsafe) static var asmCache: [String: [UInt8]] = [:]

    override func setUp() {
        mem = PhysicalMemory(ramSize: 1 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
        cpu.s.pointee.cr0 = 0x13          // PE | MP | ET
        cpu.s.pointee.cr4 = 0x600         // OSFXSR | OSXMMEXCPT
        cpu.s.pointee.efer = 0x500
        cpu.sreg[1].attr = UInt16(ATTR_P | ATTR_S | 0xB | ATTR_L)
        for i in [0, 2, 3, 4, 5] {
            cpu.sreg[i] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: 0x10, attr: UInt16(ATTR_P | ATTR_S | 0x3 | ATTR_DB | ATTR_G))
        }
        cpu.updateMode()
        cpu.gpr[4] = 0x80000
        cpu.s.pointee.idtr.base = 0xF0000
        cpu.traceFault = { [unowned self] _, f in if self.fault == nil { self.fault = f } }
    }

    // MARK: harness

    var bits = 64

    func assemble(_ src0: String) -> [UInt8] {
        let src = "bits \(bits)\n" + src0
        if let b = Self.asmCache[src] { return b }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vt-\(getpid())-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inp = dir.appendingPathComponent("a.asm"), out = dir.appendingPathComponent("a.bin")
        try! (src + "\n").write(to: inp, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nasm")
        p.arguments = ["-f", "bin", "-o", out.path, inp.path]
        try! p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "nasm failed on: \(src)")
        let b = [UInt8]((try? Data(contentsOf: out)) ?? Data())
        Self.asmCache[src] = b
        return b
    }

    /// Runs `src` (instructions separated by newlines or ';') from 0x1000; returns the first fault.
    @discardableResult
    func run(_ src: String) -> Fault? {
        let code = assemble(src.replacingOccurrences(of: ";", with: "\n"))
        for (i, b) in code.enumerated() { mem.write(0x1000 + UInt64(i), size: 1, value: UInt64(b)) }
        cpu.rip = 0x1000
        fault = nil
        var d = Instr()
        let end = 0x1000 + UInt64(code.count)
        var n = 0
        while cpu.rip != end && fault == nil && n < 10000 { cpu.step(&d); n += 1 }
        return fault
    }

    func X(_ i: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(cpu_ymm(cpu.s)!) + i * 32 }
    func setX(_ i: Int, _ lo: UInt64, _ hi: UInt64) {
        X(i).storeBytes(of: lo, as: UInt64.self); X(i).storeBytes(of: hi, toByteOffset: 8, as: UInt64.self)
    }
    func getX(_ i: Int) -> (UInt64, UInt64) { (X(i).load(as: UInt64.self), X(i).load(fromByteOffset: 8, as: UInt64.self)) }
    func setXb(_ i: Int, _ b: [UInt8]) { for k in 0..<16 { X(i).storeBytes(of: k < b.count ? b[k] : 0, toByteOffset: k, as: UInt8.self) } }
    func getXb(_ i: Int) -> [UInt8] { (0..<16).map { X(i).load(fromByteOffset: $0, as: UInt8.self) } }
    func setXf(_ i: Int, _ f: [Float]) { for k in 0..<4 { X(i).storeBytes(of: f[k].bitPattern, toByteOffset: 4 * k, as: UInt32.self) } }
    func getXf(_ i: Int) -> [UInt32] { (0..<4).map { X(i).load(fromByteOffset: 4 * $0, as: UInt32.self) } }
    func setXd(_ i: Int, _ f: [Double]) { setX(i, f[0].bitPattern, f[1].bitPattern) }
    func M(_ i: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(cpu_st(cpu.s)!) + i * 16 }
    func setM(_ i: Int, _ v: UInt64) { M(i).storeBytes(of: v, as: UInt64.self) }
    func getM(_ i: Int) -> UInt64 { M(i).load(as: UInt64.self) }
    func w64(_ a: UInt64, _ v: UInt64) { mem.write(a, size: 8, value: v) }
    func r64(_ a: UInt64) -> UInt64 { mem.read(a, size: 8) }
    var mxcsr: UInt32 { get { cpu.s.pointee.mxcsr } set { cpu.s.pointee.mxcsr = newValue } }
    var rflags: UInt64 { cpu.flags() & FlagBit.status }

    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (state >> 32) | (state << 32)
        }
    }

    // MARK: checks and MMX state

    func testProtectedMode32() {
        bits = 32
        cpu.s.pointee.efer = 0
        cpu.sreg[1].attr = UInt16(ATTR_P | ATTR_S | 0xB | ATTR_DB | ATTR_G)
        cpu.sreg[1].limit = 0xFFFF_FFFF
        cpu.sreg[1].base = 0
        cpu.updateMode()
        cpu.gpr[0] = 0xFFFF_FFFF_1234_5678; cpu.gpr[3] = 0x2000
        XCTAssertNil(run("movd xmm0, eax; pshufd xmm0, xmm0, 0; movdqu [ebx+1], xmm0; movd ecx, xmm0; cvtsi2sd xmm1, eax"))
        XCTAssertEqual(r64(0x2001), 0x1234_5678_1234_5678); XCTAssertEqual(r64(0x2009), 0x1234_5678_1234_5678)
        XCTAssertEqual(cpu.gpr[1], 0x1234_5678)
        XCTAssertEqual(getX(1).0, Double(0x1234_5678).bitPattern)
        // A DS limit violation on the second half of a 16-byte operand is #GP(0), nothing written.
        cpu.sreg[3].limit = 0x2008
        w64(0x2000, 0); w64(0x2008, 0)
        XCTAssertEqual(run("movdqu [0x2000], xmm0"), Fault.gp(0))
        XCTAssertEqual(r64(0x2000), 0)
        // CR0.TS on LDMXCSR; CRC32 with a 16-bit operand.
        cpu.sreg[3].limit = 0xFFFF_FFFF
        cpu.gpr[0] = 0xFFFF_FFFF
        w64(0x2000, 0x3231)
        XCTAssertNil(run("crc32 eax, word [0x2000]"))
        XCTAssertEqual(cpu.gpr[0] ^ 0xFFFF_FFFF, 0x7355_C460, "crc32c(\"12\")")
    }

    func testExceptionChecks() {
        setX(1, 0, 0)
        cpu.s.pointee.cr0 |= 8                                        // TS
        XCTAssertEqual(run("addps xmm0, xmm1")?.vector, Fault.NM)
        XCTAssertEqual(run("paddb mm0, mm1")?.vector, Fault.NM)
        XCTAssertEqual(run("stmxcsr [0x3000]")?.vector, Fault.NM)
        cpu.s.pointee.cr0 = 0x13 | 4                                  // EM
        XCTAssertEqual(run("addps xmm0, xmm1")?.vector, Fault.UD)
        XCTAssertEqual(run("paddb mm0, mm1")?.vector, Fault.UD)
        cpu.s.pointee.cr0 = 0x13
        cpu.s.pointee.cr4 = 0                                         // OSFXSR = 0
        XCTAssertEqual(run("xorps xmm0, xmm1")?.vector, Fault.UD)
        XCTAssertEqual(run("paddd xmm0, xmm1")?.vector, Fault.UD)
        XCTAssertNil(run("paddb mm0, mm1"), "MMX does not need OSFXSR")
        XCTAssertNil(run("crc32 eax, bl"), "CRC32 is not an SSE-state instruction")
        cpu.s.pointee.cr4 = 0x600
        XCTAssertNil(run("xorps xmm0, xmm1"))
        // VEX encodings are not executed (AVX not implemented).
        XCTAssertEqual(run("vaddps xmm0, xmm1, xmm2")?.vector, Fault.UD)
    }

    func testMMXStateTransitions() {
        cpu.s.pointee.ftw = 0xFFFF
        cpu.s.pointee.fsw = 0x3800
        setM(0, 0x0102_0304_0506_0708); setM(1, 0x0101_0101_0101_0101)
        XCTAssertNil(run("paddb mm0, mm1"))
        XCTAssertEqual(getM(0), 0x0203_0405_0607_0809)
        XCTAssertEqual(cpu.s.pointee.ftw, 0)
        XCTAssertEqual(cpu.s.pointee.fsw & 0x3800, 0)
        XCTAssertEqual(M(0).load(fromByteOffset: 8, as: UInt16.self), 0xFFFF, "MMX write sets the exponent to all ones")
        XCTAssertNil(run("emms"))
        XCTAssertEqual(cpu.s.pointee.ftw, 0xFFFF)
        // A pending x87 exception: #MF on MMX instructions.
        cpu.s.pointee.fsw = 0x80
        XCTAssertEqual(run("paddb mm0, mm1")?.vector, Fault.MF)
        cpu.s.pointee.fsw = 0
        // MOVQ2DQ / MOVDQ2Q / MOVD / MOVQ with GPRs.
        cpu.gpr[0] = 0x1122_3344_5566_7788
        XCTAssertNil(run("movq mm2, rax; movd mm3, eax; movq2dq xmm4, mm2; movdq2q mm5, xmm4; movd ebx, mm2; movq rcx, mm5"))
        XCTAssertEqual(getM(2), 0x1122_3344_5566_7788)
        XCTAssertEqual(getM(3), 0x5566_7788)
        XCTAssertEqual(getX(4).0, 0x1122_3344_5566_7788); XCTAssertEqual(getX(4).1, 0)
        XCTAssertEqual(cpu.gpr[3], 0x5566_7788)
        XCTAssertEqual(cpu.gpr[1], 0x1122_3344_5566_7788)
    }

    // MARK: moves

    func testMovesAndAlignment() {
        w64(0x2000, 0x1111_1111_2222_2222); w64(0x2008, 0x3333_3333_4444_4444)
        w64(0x2010, 0x5555_5555_6666_6666)
        XCTAssertNil(run("movaps xmm1, [0x2000]"))
        XCTAssertEqual(getX(1).0, 0x1111_1111_2222_2222); XCTAssertEqual(getX(1).1, 0x3333_3333_4444_4444)
        XCTAssertEqual(run("movaps xmm1, [0x2004]"), Fault.gp(0))
        XCTAssertEqual(run("movdqa [0x2008], xmm1"), Fault.gp(0))
        XCTAssertEqual(run("paddd xmm1, [0x2008]"), Fault.gp(0), "legacy SSE arithmetic needs 16-byte alignment")
        XCTAssertNil(run("movups xmm2, [0x2004]; movdqu xmm3, [0x2008]; lddqu xmm4, [0x2001]"))
        XCTAssertEqual(getX(2).0, 0x4444_4444_1111_1111); XCTAssertEqual(getX(2).1, 0x6666_6666_3333_3333)
        XCTAssertEqual(getX(3).0, 0x3333_3333_4444_4444)
        XCTAssertNil(run("addss xmm1, [0x2004]"), "scalar memory operands are not aligned")
        XCTAssertNil(run("pcmpistri xmm1, [0x2003], 0"), "string compares accept unaligned operands")
        // MOVSS: load zeroes the upper part, register form merges.
        setX(5, ~0, ~0)
        XCTAssertNil(run("movss xmm5, [0x2000]"))
        XCTAssertEqual(getX(5).0, 0x2222_2222); XCTAssertEqual(getX(5).1, 0)
        setX(5, ~0, ~0); setX(6, 0x1234_5678_9ABC_DEF0, 1)
        XCTAssertNil(run("movss xmm5, xmm6"))
        XCTAssertEqual(getX(5).0, 0xFFFF_FFFF_9ABC_DEF0); XCTAssertEqual(getX(5).1, ~0)
        XCTAssertNil(run("movsd xmm5, xmm6"))
        XCTAssertEqual(getX(5).0, 0x1234_5678_9ABC_DEF0); XCTAssertEqual(getX(5).1, ~0)
        // MOVHLPS / MOVLHPS / MOVHPS / MOVLPD / MOVQ forms.
        setX(7, 1, 2); setX(8, 3, 4)
        XCTAssertNil(run("movhlps xmm7, xmm8"))
        XCTAssertEqual(getX(7).0, 4); XCTAssertEqual(getX(7).1, 2)
        XCTAssertNil(run("movlhps xmm7, xmm8"))
        XCTAssertEqual(getX(7).0, 4); XCTAssertEqual(getX(7).1, 3)
        XCTAssertNil(run("movhps [0x2100], xmm7; movlpd xmm9, [0x2010]; movq xmm10, [0x2000]; movq [0x2108], xmm8"))
        XCTAssertEqual(r64(0x2100), 3); XCTAssertEqual(getX(9).0, 0x5555_5555_6666_6666)
        XCTAssertEqual(getX(10).0, 0x1111_1111_2222_2222); XCTAssertEqual(getX(10).1, 0)
        XCTAssertEqual(r64(0x2108), 3)
        setX(11, 5, 6)
        XCTAssertNil(run("movq xmm12, xmm11; movd xmm13, eax; movq xmm14, rax; movq r8, xmm11"))
        XCTAssertEqual(getX(12).0, 5); XCTAssertEqual(getX(12).1, 0)
        XCTAssertEqual(cpu.gpr[8], 5)
        // Stores: MOVNTDQ aligned, MOVNTI, MASKMOVDQU.
        setX(1, 0xAAAA_AAAA_AAAA_AAAA, 0xBBBB_BBBB_BBBB_BBBB)
        XCTAssertNil(run("movntdq [0x2200], xmm1"))
        XCTAssertEqual(r64(0x2208), 0xBBBB_BBBB_BBBB_BBBB)
        cpu.gpr[0] = 0xDEAD_BEEF_CAFE_F00D
        XCTAssertNil(run("movnti [0x2210], rax"))
        XCTAssertEqual(r64(0x2210), 0xDEAD_BEEF_CAFE_F00D)
        w64(0x2300, 0); w64(0x2308, 0)
        setX(2, 0x0000_0000_0000_80FF, 0x8000_0000_0000_0000)
        cpu.gpr[7] = 0x2300
        XCTAssertNil(run("maskmovdqu xmm1, xmm2"))
        XCTAssertEqual(r64(0x2300), 0xAAAA)
        XCTAssertEqual(r64(0x2308), 0xBB00_0000_0000_0000)
        setM(1, 0x1122_3344_5566_7788); setM(2, 0x80)
        w64(0x2310, 0)
        cpu.gpr[7] = 0x2310
        XCTAssertNil(run("maskmovq mm1, mm2"))
        XCTAssertEqual(r64(0x2310), 0x88)
        // MOVMSKPS / MOVMSKPD / PMOVMSKB
        setX(3, 0x8000_0000_0000_0001, 0x0000_0001_8000_0000)
        XCTAssertNil(run("movmskps eax, xmm3; movmskpd ebx, xmm3; pmovmskb ecx, xmm3"))
        XCTAssertEqual(cpu.gpr[0], 0b0110); XCTAssertEqual(cpu.gpr[3], 0b01); XCTAssertEqual(cpu.gpr[1], 0x0880)
        // SSE3 dups
        setX(4, 0x2222_2222_1111_1111, 0x4444_4444_3333_3333)
        XCTAssertNil(run("movsldup xmm5, xmm4; movshdup xmm6, xmm4; movddup xmm7, xmm4"))
        XCTAssertEqual(getX(5).0, 0x1111_1111_1111_1111); XCTAssertEqual(getX(5).1, 0x3333_3333_3333_3333)
        XCTAssertEqual(getX(6).0, 0x2222_2222_2222_2222); XCTAssertEqual(getX(6).1, 0x4444_4444_4444_4444)
        XCTAssertEqual(getX(7).0, 0x2222_2222_1111_1111); XCTAssertEqual(getX(7).1, 0x2222_2222_1111_1111)
    }

    // MARK: integer

    /// Lane-wise ops checked against scalar reference code on random data.
    func testIntegerLaneOpsAgainstReference() {
        typealias Ref = ([UInt8], [UInt8]) -> [UInt8]
        func lanes16(_ f: @escaping (Int16, Int16) -> Int) -> Ref {
            return { a, b in
                var r = [UInt8]()
                for i in 0..<(a.count / 2) {
                    let x = Int16(bitPattern: UInt16(a[2 * i]) | UInt16(a[2 * i + 1]) << 8)
                    let y = Int16(bitPattern: UInt16(b[2 * i]) | UInt16(b[2 * i + 1]) << 8)
                    let v = UInt16(truncatingIfNeeded: f(x, y))
                    r += [UInt8(v & 0xFF), UInt8(v >> 8)]
                }
                return r
            }
        }
        func lanes8(_ f: @escaping (Int8, Int8) -> Int) -> Ref {
            return { a, b in zip(a, b).map { UInt8(truncatingIfNeeded: f(Int8(bitPattern: $0), Int8(bitPattern: $1))) } }
        }
        func lanes32(_ f: @escaping (Int32, Int32) -> Int) -> Ref {
            return { a, b in
                var r = [UInt8]()
                for i in 0..<(a.count / 4) {
                    var x: UInt32 = 0, y: UInt32 = 0
                    for k in 0..<4 { x |= UInt32(a[4 * i + k]) << (8 * k); y |= UInt32(b[4 * i + k]) << (8 * k) }
                    let v = UInt32(truncatingIfNeeded: f(Int32(bitPattern: x), Int32(bitPattern: y)))
                    for k in 0..<4 { r.append(UInt8((v >> (8 * k)) & 0xFF)) }
                }
                return r
            }
        }
        func u8(_ v: Int8) -> Int { Int(UInt8(bitPattern: v)) }
        func u16(_ v: Int16) -> Int { Int(UInt16(bitPattern: v)) }
        func u32(_ v: Int32) -> Int { Int(UInt32(bitPattern: v)) }
        func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { max(lo, min(hi, v)) }
        let cases: [(String, Ref)] = [
            ("paddb", lanes8 { Int($0) + Int($1) }), ("paddw", lanes16 { Int($0) + Int($1) }),
            ("paddd", lanes32 { Int($0) + Int($1) }), ("psubb", lanes8 { Int($0) - Int($1) }),
            ("psubw", lanes16 { Int($0) - Int($1) }), ("psubd", lanes32 { Int($0) - Int($1) }),
            ("paddsb", lanes8 { clamp(Int($0) + Int($1), -128, 127) }),
            ("paddsw", lanes16 { clamp(Int($0) + Int($1), -32768, 32767) }),
            ("psubsb", lanes8 { clamp(Int($0) - Int($1), -128, 127) }),
            ("psubsw", lanes16 { clamp(Int($0) - Int($1), -32768, 32767) }),
            ("paddusb", lanes8 { min(255, u8($0) + u8($1)) }), ("paddusw", lanes16 { min(65535, u16($0) + u16($1)) }),
            ("psubusb", lanes8 { max(0, u8($0) - u8($1)) }), ("psubusw", lanes16 { max(0, u16($0) - u16($1)) }),
            ("pmullw", lanes16 { Int($0) * Int($1) }), ("pmulhw", lanes16 { (Int($0) * Int($1)) >> 16 }),
            ("pmulhuw", lanes16 { (u16($0) * u16($1)) >> 16 }),
            ("pmulhrsw", lanes16 { (((Int($0) * Int($1)) >> 14) + 1) >> 1 }),
            ("pmulld", lanes32 { Int($0) * Int($1) }),
            ("pcmpeqb", lanes8 { $0 == $1 ? -1 : 0 }), ("pcmpeqw", lanes16 { $0 == $1 ? -1 : 0 }),
            ("pcmpeqd", lanes32 { $0 == $1 ? -1 : 0 }), ("pcmpgtb", lanes8 { $0 > $1 ? -1 : 0 }),
            ("pcmpgtw", lanes16 { $0 > $1 ? -1 : 0 }), ("pcmpgtd", lanes32 { $0 > $1 ? -1 : 0 }),
            ("pavgb", lanes8 { (u8($0) + u8($1) + 1) >> 1 }), ("pavgw", lanes16 { (u16($0) + u16($1) + 1) >> 1 }),
            ("pminub", lanes8 { min(u8($0), u8($1)) }), ("pmaxub", lanes8 { max(u8($0), u8($1)) }),
            ("pminsw", lanes16 { Int(min($0, $1)) }), ("pmaxsw", lanes16 { Int(max($0, $1)) }),
            ("pminsb", lanes8 { Int(min($0, $1)) }), ("pmaxsb", lanes8 { Int(max($0, $1)) }),
            ("pminuw", lanes16 { min(u16($0), u16($1)) }), ("pmaxuw", lanes16 { max(u16($0), u16($1)) }),
            ("pminsd", lanes32 { Int(min($0, $1)) }), ("pmaxsd", lanes32 { Int(max($0, $1)) }),
            ("pminud", lanes32 { min(u32($0), u32($1)) }), ("pmaxud", lanes32 { max(u32($0), u32($1)) }),
            ("psignb", lanes8 { $1 < 0 ? -Int($0) : ($1 == 0 ? 0 : Int($0)) }),
            ("psignw", lanes16 { $1 < 0 ? -Int($0) : ($1 == 0 ? 0 : Int($0)) }),
            ("psignd", lanes32 { $1 < 0 ? -Int($0) : ($1 == 0 ? 0 : Int($0)) }),
            ("pabsb", lanes8 { abs(Int($1)) }), ("pabsw", lanes16 { abs(Int($1)) }), ("pabsd", lanes32 { abs(Int($1)) }),
            ("pand", lanes8 { Int($0 & $1) }), ("pandn", lanes8 { Int(~$0 & $1) }),
            ("por", lanes8 { Int($0 | $1) }), ("pxor", lanes8 { Int($0 ^ $1) }),
        ]
        let mmxOK: Set<String> = ["paddb", "paddw", "paddd", "psubb", "psubw", "psubd", "paddsb", "paddsw", "psubsb",
                                  "psubsw", "paddusb", "paddusw", "psubusb", "psubusw", "pmullw", "pmulhw", "pmulhuw",
                                  "pmulhrsw", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pavgb",
                                  "pavgw", "pminub", "pmaxub", "pminsw", "pmaxsw", "psignb", "psignw", "psignd", "pabsb",
                                  "pabsw", "pabsd", "pand", "pandn", "por", "pxor"]
        var rng = LCG(state: 7)
        let edge: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x81]
        for (name, ref) in cases {
            for iter in 0..<6 {
                var a = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                var b = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if iter < 3 {
                    a = a.map { _ in edge[Int(rng.next() % UInt64(edge.count))] }
                    b = b.map { _ in edge[Int(rng.next() % UInt64(edge.count))] }
                }
                if iter == 5 { b = a }
                setXb(1, a); setXb(2, b)
                XCTAssertNil(run("\(name) xmm1, xmm2"), name)
                XCTAssertEqual(getXb(1), ref(a, b), "\(name) xmm \(a) \(b)")
                // Memory form (aligned).
                for k in 0..<16 { mem.write(0x2000 + UInt64(k), size: 1, value: UInt64(b[k])) }
                setXb(3, a)
                XCTAssertNil(run("\(name) xmm3, [0x2000]"), name)
                XCTAssertEqual(getXb(3), ref(a, b), "\(name) mem")
                if mmxOK.contains(name) {
                    let a8 = Array(a[0..<8]), b8 = Array(b[0..<8])
                    setM(1, a8.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
                    setM(2, b8.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
                    XCTAssertNil(run("\(name) mm1, mm2"), name)
                    let got = (0..<8).map { UInt8((getM(1) >> (8 * UInt64($0))) & 0xFF) }
                    XCTAssertEqual(got, ref(a8, b8), "\(name) mmx")
                }
            }
        }
    }

    func testMultiplyAddAndSAD() {
        // PMADDWD: 0x8000 * 0x8000 * 2 wraps to 0x80000000.
        setX(1, 0x8000_8000_0002_0003, 0xFFFF_0001_7FFF_7FFF)
        setX(2, 0x8000_8000_0004_0005, 0x0002_0003_7FFF_7FFF)
        XCTAssertNil(run("movdqa xmm3, xmm1; pmaddwd xmm3, xmm2"))
        XCTAssertEqual(getX(3).0, 0x8000_0000_0000_0017)
        XCTAssertEqual(getX(3).1, 0x0000_0001_7FFE_0002)
        // PMULUDQ / PMULDQ
        setX(1, 0x0000_0001_FFFF_FFFF, 0x0000_0000_8000_0000)
        setX(2, 0x0000_0005_FFFF_FFFF, 0x0000_0000_0000_0002)
        XCTAssertNil(run("movdqa xmm3, xmm1; pmuludq xmm3, xmm2; movdqa xmm4, xmm1; pmuldq xmm4, xmm2"))
        XCTAssertEqual(getX(3).0, 0xFFFF_FFFE_0000_0001); XCTAssertEqual(getX(3).1, 0x1_0000_0000)
        XCTAssertEqual(getX(4).0, 1); XCTAssertEqual(getX(4).1, 0xFFFF_FFFF_0000_0000)
        setM(1, 0xFFFF_FFFF); setM(2, 0xFFFF_FFFF)
        XCTAssertNil(run("pmuludq mm1, mm2"))
        XCTAssertEqual(getM(1), 0xFFFF_FFFE_0000_0001)
        // PSADBW
        setXb(1, [0, 255, 10, 20, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
        setXb(2, [255, 0, 20, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9])
        XCTAssertNil(run("psadbw xmm1, xmm2"))
        XCTAssertEqual(getX(1).0, 530); XCTAssertEqual(getX(1).1, 15)
        // PMADDUBSW: unsigned x signed with signed saturation.
        setXb(1, [255, 255, 1, 2] + [UInt8](repeating: 0, count: 12))
        setXb(2, [127, 127, 0x80, 0x80] + [UInt8](repeating: 0, count: 12))
        XCTAssertNil(run("pmaddubsw xmm1, xmm2"))
        XCTAssertEqual(getX(1).0 & 0xFFFF_FFFF, 0xFE80_7FFF)
        // PHMINPOSUW
        setX(1, 0x0005_0007_0003_0009, 0x0003_0010_0020_0030)
        XCTAssertNil(run("phminposuw xmm2, xmm1"))
        XCTAssertEqual(getX(2).0, 0x1_0003); XCTAssertEqual(getX(2).1, 0)
        // MPSADBW imm=0: blocks a[0..10] vs b[0..3]
        setXb(1, Array(0..<16).map { UInt8($0) }); setXb(2, [1, 2, 3, 4])
        XCTAssertNil(run("mpsadbw xmm1, xmm2, 0"))
        let w = getXb(1)
        XCTAssertEqual(Int(w[0]) | Int(w[1]) << 8, 4 + 0 + 0 + 0 + 0 - 0 + 0)   // |0-1|+|1-2|+|2-3|+|3-4| = 4
        XCTAssertEqual(Int(w[2]) | Int(w[3]) << 8, 0)                            // 1,2,3,4 vs 1,2,3,4
        XCTAssertEqual(Int(w[14]) | Int(w[15]) << 8, 24)                         // 7..10 vs 1..4
    }

    func testShifts() {
        setX(1, 0x8000_4000_2000_1001, 0xFFFF_0000_0001_8000)
        XCTAssertNil(run("movdqa xmm2, xmm1; psrlw xmm2, 4; movdqa xmm3, xmm1; psraw xmm3, 20; movdqa xmm4, xmm1; psllq xmm4, 1"))
        XCTAssertEqual(getX(2).0, 0x0800_0400_0200_0100); XCTAssertEqual(getX(2).1, 0x0FFF_0000_0000_0800)
        XCTAssertEqual(getX(3).0, 0xFFFF_0000_0000_0000); XCTAssertEqual(getX(3).1, 0xFFFF_0000_0000_FFFF)
        XCTAssertEqual(getX(4).0, 0x0000_8000_4000_2002); XCTAssertEqual(getX(4).1, 0xFFFE_0000_0003_0000)
        setX(5, 33, 0)
        XCTAssertNil(run("movdqa xmm6, xmm1; psrld xmm6, xmm5; movdqa xmm7, xmm1; psrad xmm7, xmm5; movdqa xmm8, xmm1; psllq xmm8, xmm5"))
        XCTAssertEqual(getX(6).0, 0); XCTAssertEqual(getX(6).1, 0)
        XCTAssertEqual(getX(7).0, 0xFFFF_FFFF_0000_0000); XCTAssertEqual(getX(7).1, 0xFFFF_FFFF_0000_0000)
        XCTAssertEqual(getX(8).0, 0x2000_1001 << 33 & 0xFFFF_FFFF_FFFF_FFFF)
        XCTAssertNil(run("movdqa xmm9, xmm1; psrldq xmm9, 3; movdqa xmm10, xmm1; pslldq xmm10, 9; movdqa xmm11, xmm1; psrldq xmm11, 16"))
        XCTAssertEqual(getX(9).0, 0x0180_0080_0040_0020); XCTAssertEqual(getX(9).1, 0x0000_00FF_FF00_0000)
        XCTAssertEqual(getX(10).0, 0); XCTAssertEqual(getX(10).1, 0x0040_0020_0010_0100)
        XCTAssertEqual(getX(11).0, 0); XCTAssertEqual(getX(11).1, 0)
        setM(1, 0x8000_0000_0000_0001); setM(2, 1)
        XCTAssertNil(run("psrlq mm1, 63; psllw mm2, 15; psraw mm2, 15"))
        XCTAssertEqual(getM(1), 1); XCTAssertEqual(getM(2), 0xFFFF)
    }

    func testPackUnpackShuffle() {
        setX(1, 0x7FFF_8000_0100_FF80, 0x0000_0001_FFFF_007F)
        setX(2, 0x0080_FF7F_0002_0003, 0x0004_0005_0006_0007)
        XCTAssertNil(run("movdqa xmm3, xmm1; packsswb xmm3, xmm2; movdqa xmm4, xmm1; packuswb xmm4, xmm2"))
        XCTAssertEqual(getXb(3), [0x80, 0x7F, 0x80, 0x7F, 0x7F, 0xFF, 0x01, 0x00, 3, 2, 0x80, 0x7F, 7, 6, 5, 4])
        XCTAssertEqual(getXb(4), [0x00, 0xFF, 0x00, 0xFF, 0x7F, 0x00, 0x01, 0x00, 3, 2, 0x00, 0x80, 7, 6, 5, 4])
        setX(1, 0x8000_0000_7FFF_FFFF, 0x0001_0000_FFFF_FFFF)
        XCTAssertNil(run("movdqa xmm3, xmm1; packssdw xmm3, xmm1; movdqa xmm4, xmm1; packusdw xmm4, xmm1"))
        XCTAssertEqual(getX(3).0, 0x7FFF_FFFF_8000_7FFF)
        XCTAssertEqual(getX(4).0, 0xFFFF_0000_0000_FFFF)
        // unpack
        setX(1, 0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908)
        setX(2, 0x1716_1514_1312_1110, 0x1F1E_1D1C_1B1A_1918)
        XCTAssertNil(run("movdqa xmm3, xmm1; punpcklbw xmm3, xmm2; movdqa xmm4, xmm1; punpckhwd xmm4, xmm2; movdqa xmm5, xmm1; punpckldq xmm5, xmm2; movdqa xmm6, xmm1; punpckhqdq xmm6, xmm2"))
        XCTAssertEqual(getXb(3), [0, 0x10, 1, 0x11, 2, 0x12, 3, 0x13, 4, 0x14, 5, 0x15, 6, 0x16, 7, 0x17])
        XCTAssertEqual(getX(4).0, 0x1B1A_0B0A_1918_0908); XCTAssertEqual(getX(4).1, 0x1F1E_0F0E_1D1C_0D0C)
        XCTAssertEqual(getX(5).0, 0x1312_1110_0302_0100); XCTAssertEqual(getX(5).1, 0x1716_1514_0706_0504)
        XCTAssertEqual(getX(6).0, 0x0F0E_0D0C_0B0A_0908); XCTAssertEqual(getX(6).1, 0x1F1E_1D1C_1B1A_1918)
        setM(1, 0x0706_0504_0302_0100); w64(0x2000, 0x1716_1514_1312_1110)
        XCTAssertNil(run("punpcklwd mm1, [0x2000]"))
        XCTAssertEqual(getM(1), 0x1312_0302_1110_0100)
        // shuffles
        XCTAssertNil(run("pshufd xmm3, xmm1, 0x1B; pshuflw xmm4, xmm1, 0x1B; pshufhw xmm5, xmm1, 0x1B"))
        XCTAssertEqual(getX(3).0, 0x0B0A_0908_0F0E_0D0C); XCTAssertEqual(getX(3).1, 0x0302_0100_0706_0504)
        XCTAssertEqual(getX(4).0, 0x0100_0302_0504_0706); XCTAssertEqual(getX(4).1, 0x0F0E_0D0C_0B0A_0908)
        XCTAssertEqual(getX(5).1, 0x0908_0B0A_0D0C_0F0E)
        setX(6, 0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908)
        XCTAssertNil(run("shufps xmm6, xmm2, 0x4E; movdqa xmm7, xmm1; shufpd xmm7, xmm2, 1"))
        XCTAssertEqual(getX(6).0, 0x0F0E_0D0C_0B0A_0908); XCTAssertEqual(getX(6).1, 0x1716_1514_1312_1110)
        XCTAssertEqual(getX(7).0, 0x0F0E_0D0C_0B0A_0908); XCTAssertEqual(getX(7).1, 0x1716_1514_1312_1110)
        setM(3, 0x4444_3333_2222_1111)
        XCTAssertNil(run("pshufw mm4, mm3, 0x1B"))
        XCTAssertEqual(getM(4), 0x1111_2222_3333_4444)
        // PSHUFB / PALIGNR
        setXb(8, [15, 14, 0x80, 0, 1, 1, 0x8F, 3, 4, 5, 6, 7, 8, 9, 10, 0x1F])
        XCTAssertNil(run("movdqa xmm9, xmm1; pshufb xmm9, xmm8; movdqa xmm10, xmm1; palignr xmm10, xmm2, 5"))
        XCTAssertEqual(getXb(9), [15, 14, 0, 0, 1, 1, 0, 3, 4, 5, 6, 7, 8, 9, 10, 15])
        XCTAssertEqual(getXb(10), [0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0, 1, 2, 3, 4])
    }

    func testPackMMXExact() {
        setM(1, 0x7FFF_8000_0100_FF80); setM(2, 0x0080_FF7F_0002_0003)
        XCTAssertNil(run("packsswb mm1, mm2"))
        XCTAssertEqual(getM(1), 0x7F80_0203_7F80_7F80)
        setM(1, 0x0706_0504_0302_0100); setM(2, 0x1716_1514_1312_1110)
        XCTAssertNil(run("palignr mm1, mm2, 3"))
        XCTAssertEqual(getM(1), 0x0201_0017_1615_1413)
    }

    func testSSSE3HorizontalAndSSE41Misc() {
        setX(1, 0x0004_0003_0002_0001, 0x8000_8000_7FFF_7FFF)
        setX(2, 0x0001_0001_0001_0001, 0xFFFF_0001_0002_0003)
        XCTAssertNil(run("movdqa xmm3, xmm1; phaddw xmm3, xmm2; movdqa xmm4, xmm1; phaddsw xmm4, xmm2; movdqa xmm5, xmm1; phsubw xmm5, xmm2"))
        XCTAssertEqual(getX(3).0, 0x0000_FFFE_0007_0003); XCTAssertEqual(getX(3).1, 0x0000_0005_0002_0002)
        XCTAssertEqual(getX(4).0, 0x8000_7FFF_0007_0003)
        XCTAssertEqual(getX(5).0, 0x0000_0000_FFFF_FFFF); XCTAssertEqual(getX(5).1, 0x0002_0001_0000_0000)
        setX(1, 0x0000_0002_0000_0001, 0x0000_0004_0000_0003); setX(2, 0x0000_0001_0000_0005, 0)
        XCTAssertNil(run("movdqa xmm3, xmm1; phaddd xmm3, xmm2; movdqa xmm4, xmm1; phsubd xmm4, xmm2"))
        XCTAssertEqual(getX(3).0, 0x0000_0007_0000_0003); XCTAssertEqual(getX(3).1, 0x0000_0000_0000_0006)
        XCTAssertEqual(getX(4).0, 0xFFFF_FFFF_FFFF_FFFF); XCTAssertEqual(getX(4).1, 4)
        // blends
        setX(0, 0x8000_0000_0000_0000, 0x0000_0080_0000_0000)
        setX(1, 0x1111_1111_1111_1111, 0x2222_2222_2222_2222); setX(2, 0x3333_3333_3333_3333, 0x4444_4444_4444_4444)
        XCTAssertNil(run("movdqa xmm3, xmm1; pblendvb xmm3, xmm2; movdqa xmm4, xmm1; blendvps xmm4, xmm2; movdqa xmm5, xmm1; blendvpd xmm5, xmm2"))
        XCTAssertEqual(getX(3).0, 0x3311_1111_1111_1111); XCTAssertEqual(getX(3).1, 0x2222_2244_2222_2222)
        XCTAssertEqual(getX(4).0, 0x3333_3333_1111_1111); XCTAssertEqual(getX(4).1, 0x2222_2222_2222_2222)
        XCTAssertEqual(getX(5).0, 0x3333_3333_3333_3333); XCTAssertEqual(getX(5).1, 0x2222_2222_2222_2222)
        XCTAssertNil(run("movdqa xmm3, xmm1; blendps xmm3, xmm2, 0x9; movdqa xmm4, xmm1; blendpd xmm4, xmm2, 2; movdqa xmm5, xmm1; pblendw xmm5, xmm2, 0x81"))
        XCTAssertEqual(getX(3).0, 0x1111_1111_3333_3333); XCTAssertEqual(getX(3).1, 0x4444_4444_2222_2222)
        XCTAssertEqual(getX(4).0, 0x1111_1111_1111_1111); XCTAssertEqual(getX(4).1, 0x4444_4444_4444_4444)
        XCTAssertEqual(getX(5).0, 0x1111_1111_1111_3333); XCTAssertEqual(getX(5).1, 0x4444_2222_2222_2222)
        // PTEST
        setX(1, 0xF0, 0); setX(2, 0x0F, 0)
        XCTAssertNil(run("ptest xmm1, xmm2"))
        XCTAssertEqual(rflags, FlagBit.ZF)
        setX(2, 0x1F, 0)
        XCTAssertNil(run("ptest xmm1, xmm2"))
        XCTAssertEqual(rflags, 0)
        setX(2, 0x30, 0)
        XCTAssertNil(run("ptest xmm1, xmm2"))
        XCTAssertEqual(rflags, FlagBit.CF)
        // PMOVSX / PMOVZX
        w64(0x2000, 0x8081_0203_FF7F_0180)
        XCTAssertNil(run("pmovsxbw xmm1, [0x2000]; pmovzxbd xmm2, [0x2000]; pmovsxwq xmm3, [0x2000]; pmovzxdq xmm4, [0x2000]; pmovsxbq xmm5, [0x2000]"))
        XCTAssertEqual(getX(1).0, 0xFFFF_007F_0001_FF80); XCTAssertEqual(getX(1).1, 0xFF80_FF81_0002_0003)
        XCTAssertEqual(getX(2).0, 0x0000_0001_0000_0080); XCTAssertEqual(getX(2).1, 0x0000_00FF_0000_007F)
        XCTAssertEqual(getX(3).0, 0x0000_0000_0000_0180); XCTAssertEqual(getX(3).1, 0xFFFF_FFFF_FFFF_FF7F)
        XCTAssertEqual(getX(4).0, 0xFF7F_0180); XCTAssertEqual(getX(4).1, 0x8081_0203)
        XCTAssertEqual(getX(5).0, 0xFFFF_FFFF_FFFF_FF80); XCTAssertEqual(getX(5).1, 1)
        // PCMPEQQ / PCMPGTQ
        setX(1, 5, 0x8000_0000_0000_0000); setX(2, 5, 1)
        XCTAssertNil(run("movdqa xmm3, xmm1; pcmpeqq xmm3, xmm2; movdqa xmm4, xmm1; pcmpgtq xmm4, xmm2; movdqa xmm5, xmm2; pcmpgtq xmm5, xmm1"))
        XCTAssertEqual(getX(3).0, ~0); XCTAssertEqual(getX(3).1, 0)
        XCTAssertEqual(getX(4).0, 0); XCTAssertEqual(getX(4).1, 0)
        XCTAssertEqual(getX(5).0, 0); XCTAssertEqual(getX(5).1, ~0)
    }

    func testInsertExtract() {
        setX(1, 0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908)
        XCTAssertNil(run("pextrb eax, xmm1, 13; pextrw ebx, xmm1, 5; pextrd ecx, xmm1, 3; pextrq rdx, xmm1, 1; extractps esi, xmm1, 1; pextrw edi, xmm1, 2"))
        XCTAssertEqual(cpu.gpr[0], 0x0D); XCTAssertEqual(cpu.gpr[3], 0x0B0A)
        XCTAssertEqual(cpu.gpr[1], 0x0F0E_0D0C); XCTAssertEqual(cpu.gpr[2], 0x0F0E_0D0C_0B0A_0908)
        XCTAssertEqual(cpu.gpr[6], 0x0706_0504); XCTAssertEqual(cpu.gpr[7], 0x0504)
        XCTAssertNil(run("pextrb [0x2000], xmm1, 15; pextrw [0x2001], xmm1, 0; pextrd [0x2004], xmm1, 2"))
        XCTAssertEqual(r64(0x2000), 0x0B0A_0908_0001_000F)
        cpu.gpr[0] = 0xAABB; cpu.gpr[3] = 0x1122_3344_5566_7788
        XCTAssertNil(run("pinsrb xmm1, eax, 0; pinsrw xmm1, eax, 7; pinsrd xmm1, ebx, 1; pinsrq xmm1, rbx, 1"))
        XCTAssertEqual(getX(1).0, 0x5566_7788_0302_01BB); XCTAssertEqual(getX(1).1, 0x1122_3344_5566_7788)
        setM(1, 0x4444_3333_2222_1111)
        XCTAssertNil(run("pinsrw mm1, eax, 2; pextrw ecx, mm1, 2"))
        XCTAssertEqual(getM(1), 0x4444_AABB_2222_1111); XCTAssertEqual(cpu.gpr[1], 0xAABB)
        // INSERTPS: src element 2 into dest element 1, zero element 3.
        setXf(2, [1, 2, 3, 4]); setXf(3, [5, 6, 7, 8])
        XCTAssertNil(run("insertps xmm3, xmm2, 0x98"))
        XCTAssertEqual(getXf(3), [Float(5), 3, 7, 0].map { $0.bitPattern })
    }

    // MARK: SSE4.2

    func testCRC32() {
        let s = Array("123456789".utf8)
        for (i, b) in s.enumerated() { mem.write(0x2000 + UInt64(i), size: 1, value: UInt64(b)) }
        cpu.gpr[0] = 0xFFFF_FFFF
        var prog = ""
        for i in 0..<9 { prog += "crc32 eax, byte [0x\(String(0x2000 + i, radix: 16))]\n" }
        XCTAssertNil(run(prog))
        XCTAssertEqual(cpu.gpr[0] ^ 0xFFFF_FFFF, 0xE306_9283)
        // Wider forms give the same result as byte-wise.
        cpu.gpr[0] = 0xFFFF_FFFF
        XCTAssertNil(run("crc32 rax, qword [0x2000]; crc32 eax, byte [0x2008]"))
        XCTAssertEqual(cpu.gpr[0] ^ 0xFFFF_FFFF, 0xE306_9283)
        cpu.gpr[0] = 0xFFFF_FFFF
        XCTAssertNil(run("crc32 eax, dword [0x2000]; crc32 eax, word [0x2004]; mov bx, [0x2006]; crc32 eax, bx; crc32 eax, byte [0x2008]"))
        XCTAssertEqual(cpu.gpr[0] ^ 0xFFFF_FFFF, 0xE306_9283)
    }

    func putString(_ a: UInt64, _ s: String) {
        let b = Array(s.utf8)
        for i in 0..<16 { mem.write(a + UInt64(i), size: 1, value: i < b.count ? UInt64(b[i]) : 0) }
    }

    func testStringCompares() {
        // Equal any: first 'a' or 'e'.
        putString(0x2000, "ae"); putString(0x2010, "hello a world")
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpistri xmm1, [0x2010], 0x00"))
        XCTAssertEqual(cpu.gpr[1], 1)
        XCTAssertEqual(rflags, FlagBit.CF | FlagBit.ZF | FlagBit.SF)
        XCTAssertNil(run("pcmpistri xmm1, [0x2010], 0x40"))
        XCTAssertEqual(cpu.gpr[1], 6)
        // Ranges: first lowercase letter.
        putString(0x2000, "az"); putString(0x2010, "ABCdef")
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpistri xmm1, [0x2010], 0x04"))
        XCTAssertEqual(cpu.gpr[1], 3)
        // Negative polarity ranges (first non-lowercase), masked-negative.
        putString(0x2010, "abcDef")
        XCTAssertNil(run("pcmpistri xmm1, [0x2010], 0x14"))
        XCTAssertEqual(cpu.gpr[1], 3)
        XCTAssertNil(run("pcmpistrm xmm1, [0x2010], 0x34"))
        XCTAssertEqual(getX(0).0, 0x08)
        XCTAssertNil(run("pcmpistrm xmm1, [0x2010], 0x14"))
        XCTAssertEqual(getX(0).0, 0xFFC8)
        // Equal ordered: substring search.
        putString(0x2000, "lo"); putString(0x2010, "hello world")
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpistri xmm1, [0x2010], 0x0C"))
        XCTAssertEqual(cpu.gpr[1], 3)
        // Equal each (strcmp): first difference; byte mask output.
        putString(0x2000, "hellO"); putString(0x2010, "hello")
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpistri xmm1, [0x2010], 0x18"))
        XCTAssertEqual(cpu.gpr[1], 4)
        XCTAssertNil(run("pcmpistrm xmm1, [0x2010], 0x58"))
        XCTAssertEqual(getX(0).0, 0xFF_0000_0000); XCTAssertEqual(getX(0).1, 0)
        // Identical strings: no match bit, ZF and SF set, index 16.
        putString(0x2000, "same"); putString(0x2010, "same")
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpistri xmm1, [0x2010], 0x18"))
        XCTAssertEqual(cpu.gpr[1], 16)
        XCTAssertEqual(rflags, FlagBit.ZF | FlagBit.SF)
        // Explicit lengths (words): equal any with lengths from EAX/EDX; negative lengths use |len|.
        for i in 0..<8 { mem.write(0x2000 + 2 * UInt64(i), size: 2, value: UInt64(i + 1)) }
        for i in 0..<8 { mem.write(0x2010 + 2 * UInt64(i), size: 2, value: UInt64(10 - i)) }
        cpu.gpr[0] = 3; cpu.gpr[2] = UInt64(bitPattern: -8)
        XCTAssertNil(run("movdqu xmm1, [0x2000]; pcmpestri xmm1, [0x2010], 0x01"))
        XCTAssertEqual(cpu.gpr[1], 7)   // 3 appears at index 7 of the second string
        XCTAssertEqual(rflags, FlagBit.CF | FlagBit.SF)
        cpu.gpr[0] = 8; cpu.gpr[2] = 8
        XCTAssertNil(run("pcmpestrm xmm1, [0x2010], 0x41"))
        XCTAssertEqual(getX(0).0, 0xFFFF_FFFF_0000_0000); XCTAssertEqual(getX(0).1, 0xFFFF_FFFF_FFFF_FFFF)
        XCTAssertEqual(rflags, FlagBit.CF)
    }

    func testPCLMULQDQAndAES() {
        setX(1, 3, 0x8000_0000_0000_0000); setX(2, 3, 2)
        XCTAssertNil(run("movdqa xmm3, xmm1; pclmulqdq xmm3, xmm2, 0x00; movdqa xmm4, xmm1; pclmulqdq xmm4, xmm2, 0x11"))
        XCTAssertEqual(getX(3).0, 5); XCTAssertEqual(getX(3).1, 0)
        XCTAssertEqual(getX(4).0, 0); XCTAssertEqual(getX(4).1, 1)
        // FIPS-197 C.1: AES-128 with key 000102..0f, plaintext 00112233..ff.
        setX(1, 0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908)   // key
        setX(0, 0x7766_5544_3322_1100, 0xFFEE_DDCC_BBAA_9988)   // plaintext
        var prog = "movdqa xmm4, xmm1\npxor xmm0, xmm1\n"
        let rcon = [1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36]
        for (r, c) in rcon.enumerated() {
            prog += """
            aeskeygenassist xmm2, xmm1, \(c)
            pshufd xmm2, xmm2, 0xff
            movdqa xmm3, xmm1
            pslldq xmm3, 4
            pxor xmm1, xmm3
            pslldq xmm3, 4
            pxor xmm1, xmm3
            pslldq xmm3, 4
            pxor xmm1, xmm3
            pxor xmm1, xmm2
            movdqa xmm\(5 + r), xmm1
            \(r == 9 ? "aesenclast" : "aesenc") xmm0, xmm1

            """
        }
        XCTAssertNil(run(prog))
        XCTAssertEqual(getX(0).0, 0x3004_7B6A_D8E0_C469); XCTAssertEqual(getX(0).1, 0x5AC5_B470_80B7_CDD8)
        // Equivalent inverse cipher: AESIMC'd round keys with AESDEC / AESDECLAST.
        var dec = "movdqa xmm15, xmm0\npxor xmm15, xmm14\n"
        for i in stride(from: 9, through: 1, by: -1) { dec += "aesimc xmm2, xmm\(4 + i)\naesdec xmm15, xmm2\n" }
        dec += "aesdeclast xmm15, xmm4\n"
        XCTAssertNil(run(dec))
        XCTAssertEqual(getX(15).0, 0x7766_5544_3322_1100); XCTAssertEqual(getX(15).1, 0xFFEE_DDCC_BBAA_9988)
    }

    // MARK: floating point: oracle

    struct OracleBuf {
        var env = fenv_t()
        var a: UInt64 = 0
        var b: UInt64 = 0
        var r: UInt64 = 0
    }

    /// Runs `f` on the host SSE unit with rounding/DAZ/FTZ from `mx` and all exceptions masked.
    @inline(never)
    func oracle(_ mx: UInt32, _ a: UInt64, _ b: UInt64, _ f: (UnsafeMutablePointer<OracleBuf>) -> Void) -> (UInt64, UInt32) {
        var saved = fenv_t()
        fegetenv(&saved)
        var buf = OracleBuf()
        buf.a = a; buf.b = b
        withUnsafeMutablePointer(to: &buf) { p in
            let envp = UnsafeMutableRawPointer(p).assumingMemoryBound(to: fenv_t.self)
            fegetenv(envp)
            envp.pointee.__mxcsr = (mx & 0xE040) | 0x1F80
            fesetenv(envp)
            f(p)
            fegetenv(envp)
        }
        fesetenv(&saved)
        return (buf.r, buf.env.__mxcsr & 0x3F)
    }

    static let fvals: [Float] = [0, -0.0, 1, -1.5, 3, 0.1, 1e-30, -1e-30, 3e38, -3e38, .infinity, -.infinity,
                                 Float(bitPattern: 1), Float(bitPattern: 0x8000_0005), Float(bitPattern: 0x0080_0000),
                                 Float(bitPattern: 0x0080_0001), .greatestFiniteMagnitude, 1.0000001, 7.5e-39,
                                 .nan, Float(bitPattern: 0x7FA0_0000), Float(bitPattern: 0xFFC0_1234)]
    static let dvals: [Double] = [0, -0.0, 1, -1.5, 3, 0.1, 1e-300, -1e-300, 1e308, -1e308, .infinity, -.infinity,
                                  Double(bitPattern: 1), Double(bitPattern: 0x8000_0000_0000_0005),
                                  Double(bitPattern: 0x0010_0000_0000_0000), 2.2250738585072014e-308 * 0.75,
                                  .greatestFiniteMagnitude, 1.0000000000000002, 3e-39, 5e38,
                                  .nan, Double(bitPattern: 0x7FF4_0000_0000_0000), Double(bitPattern: 0xFFF8_0000_0000_1234)]

    func quietF(_ x: Float) -> UInt32 { x.bitPattern | 0x40_0000 }
    func quietD(_ x: Double) -> UInt64 { x.bitPattern | 1 << 51 }

    let mxcsrs: [UInt32] = [0x1F80, 0x3F80, 0x5F80, 0x7F80, 0x1FC0, 0x9F80, 0x9FC0, 0xDF80]

    func testScalarSingleArithmeticMatchesHost() {
        let ops: [(String, (Float, Float) -> Float)] = [
            ("addss", { $0 + $1 }), ("subss", { $0 - $1 }), ("mulss", { $0 * $1 }), ("divss", { $0 / $1 }),
            ("sqrtss", { $1.squareRoot() }),
        ]
        for (name, f) in ops {
            for mx in mxcsrs {
                for a in Self.fvals {
                    for b in Self.fvals {
                        setX(1, UInt64(a.bitPattern) | 0xABCD_0000_0000_0000, 0x1234)
                        setX(2, UInt64(b.bitPattern), 0)
                        mxcsr = mx
                        XCTAssertNil(run("\(name) xmm1, xmm2"))
                        let got = getX(1)
                        XCTAssertEqual(got.0 >> 32, 0xABCD_0000, "\(name) upper lanes preserved")
                        XCTAssertEqual(got.1, 0x1234)
                        let gotBits = UInt32(truncatingIfNeeded: got.0)
                        let expBits: UInt32, expFlags: UInt32
                        let unary = name == "sqrtss"
                        if (a.isNaN && !unary) || b.isNaN {
                            expBits = (a.isNaN && !unary) ? quietF(a) : quietF(b)
                            expFlags = ((a.isSignalingNaN && !unary) || b.isSignalingNaN) ? 1 : 0
                        } else if unary && b < 0 && !(b.isSubnormal && mx & 0x40 != 0) {
                            // SQRTSS of a negative operand: IE only, even for a denormal (the
                            // hardware does not raise DE; libm's sqrt, the oracle, would).
                            expBits = 0xFFC0_0000; expFlags = 1
                        } else {
                            let (r, fl) = oracle(mx, UInt64(a.bitPattern), UInt64(b.bitPattern)) { p in
                                let x = Float(bitPattern: UInt32(truncatingIfNeeded: p.pointee.a))
                                let y = Float(bitPattern: UInt32(truncatingIfNeeded: p.pointee.b))
                                p.pointee.r = UInt64(f(x, y).bitPattern)
                            }
                            expBits = UInt32(truncatingIfNeeded: r); expFlags = fl
                        }
                        XCTAssertEqual(gotBits, expBits, "\(name) \(a) \(b) mx=\(String(mx, radix: 16))")
                        XCTAssertEqual(mxcsr, mx | expFlags, "\(name) flags \(a) \(b) mx=\(String(mx, radix: 16))")
                    }
                }
            }
        }
    }

    func testScalarDoubleArithmeticMatchesHost() {
        let ops: [(String, (Double, Double) -> Double)] = [
            ("addsd", { $0 + $1 }), ("subsd", { $0 - $1 }), ("mulsd", { $0 * $1 }), ("divsd", { $0 / $1 }),
            ("sqrtsd", { $1.squareRoot() }),
        ]
        for (name, f) in ops {
            for mx in mxcsrs {
                for a in Self.dvals {
                    for b in Self.dvals {
                        setX(1, a.bitPattern, 0x1234); setX(2, b.bitPattern, 0)
                        mxcsr = mx
                        XCTAssertNil(run("\(name) xmm1, xmm2"))
                        let got = getX(1)
                        XCTAssertEqual(got.1, 0x1234)
                        let unary = name == "sqrtsd"
                        let expBits: UInt64, expFlags: UInt32
                        if (a.isNaN && !unary) || b.isNaN {
                            expBits = (a.isNaN && !unary) ? quietD(a) : quietD(b)
                            expFlags = ((a.isSignalingNaN && !unary) || b.isSignalingNaN) ? 1 : 0
                        } else if unary && b < 0 && !(b.isSubnormal && mx & 0x40 != 0) {
                            // SQRTSD of a negative operand: IE only, even for a denormal.
                            expBits = 0xFFF8_0000_0000_0000; expFlags = 1
                        } else {
                            (expBits, expFlags) = oracle(mx, a.bitPattern, b.bitPattern) { p in
                                p.pointee.r = f(Double(bitPattern: p.pointee.a), Double(bitPattern: p.pointee.b)).bitPattern
                            }
                        }
                        XCTAssertEqual(got.0, expBits, "\(name) \(a) \(b) mx=\(String(mx, radix: 16))")
                        XCTAssertEqual(mxcsr, mx | expFlags, "\(name) flags \(a) \(b) mx=\(String(mx, radix: 16))")
                    }
                }
            }
        }
    }

    func testPackedArithmeticAndConversionsMatchHost() {
        var rng = LCG(state: 99)
        for mx in mxcsrs {
            for _ in 0..<40 {
                let fa = (0..<4).map { _ in Self.fvals[Int(rng.next() % 19)] }   // no NaNs
                let fb = (0..<4).map { _ in Self.fvals[Int(rng.next() % 19)] }
                for (name, f) in [("addps", { (x: Float, y: Float) in x + y }), ("mulps", { $0 * $1 }), ("divps", { $0 / $1 })] {
                    setXf(1, fa); setXf(2, fb); mxcsr = mx
                    XCTAssertNil(run("\(name) xmm1, xmm2"))
                    var flags: UInt32 = 0
                    for i in 0..<4 {
                        let (r, fl) = oracle(mx, UInt64(fa[i].bitPattern), UInt64(fb[i].bitPattern)) { p in
                            p.pointee.r = UInt64(f(Float(bitPattern: UInt32(p.pointee.a)), Float(bitPattern: UInt32(p.pointee.b))).bitPattern)
                        }
                        flags |= fl
                        XCTAssertEqual(getXf(1)[i], UInt32(r), "\(name) lane \(i) \(fa[i]) \(fb[i])")
                    }
                    XCTAssertEqual(mxcsr, mx | flags, "\(name) flags \(fa) \(fb) \(String(mx, radix: 16))")
                }
                // CVTPD2PS / CVTPS2PD / CVTSD2SS
                let da = (0..<2).map { _ in Self.dvals[Int(rng.next() % 20)] }
                setXd(1, da); mxcsr = mx
                XCTAssertNil(run("cvtpd2ps xmm2, xmm1"))
                var flags: UInt32 = 0
                for i in 0..<2 {
                    let (r, fl) = oracle(mx, da[i].bitPattern, 0) { p in p.pointee.r = UInt64(Float(Double(bitPattern: p.pointee.a)).bitPattern) }
                    flags |= fl
                    XCTAssertEqual(getXf(2)[i], UInt32(r), "cvtpd2ps \(da[i]) \(String(mx, radix: 16))")
                }
                XCTAssertEqual(getX(2).1, 0)
                XCTAssertEqual(mxcsr, mx | flags, "cvtpd2ps flags \(da) \(String(mx, radix: 16))")
                setXf(1, fa); mxcsr = mx
                XCTAssertNil(run("cvtps2pd xmm2, xmm1"))
                flags = 0
                for i in 0..<2 {
                    let (r, fl) = oracle(mx, UInt64(fa[i].bitPattern), 0) { p in p.pointee.r = Double(Float(bitPattern: UInt32(p.pointee.a))).bitPattern }
                    flags |= fl
                    XCTAssertEqual(i == 0 ? getX(2).0 : getX(2).1, r, "cvtps2pd \(fa[i])")
                }
                XCTAssertEqual(mxcsr, mx | flags, "cvtps2pd flags \(fa) \(String(mx, radix: 16))")
            }
        }
        // NaN payloads through conversions.
        mxcsr = 0x1F80
        setX(1, Double(bitPattern: 0x7FF0_0000_2000_0001).bitPattern, 0)
        XCTAssertNil(run("cvtsd2ss xmm2, xmm1"))
        XCTAssertEqual(getXf(2)[0], 0x7FC0_0001)
        XCTAssertEqual(mxcsr, 0x1F81)
        mxcsr = 0x1F80
        setX(1, 0x7F80_0001, 0)
        XCTAssertNil(run("cvtss2sd xmm2, xmm1"))
        XCTAssertEqual(getX(2).0, 0x7FF8_0000_2000_0000)
    }

    func testSSE3HorizontalAndDotProduct() {
        mxcsr = 0x1F80
        setXf(1, [1, 2, 3, 4]); setXf(2, [10, 20, 30, 40])
        XCTAssertNil(run("movaps xmm3, xmm1; haddps xmm3, xmm2; movaps xmm4, xmm1; hsubps xmm4, xmm2; movaps xmm5, xmm1; addsubps xmm5, xmm2"))
        XCTAssertEqual(getXf(3), [Float(3), 7, 30, 70].map { $0.bitPattern })
        XCTAssertEqual(getXf(4), [Float(-1), -1, -10, -10].map { $0.bitPattern })
        XCTAssertEqual(getXf(5), [Float(-9), 22, -27, 44].map { $0.bitPattern })
        XCTAssertNil(run("movaps xmm6, xmm1; dpps xmm6, xmm2, 0xF1; movaps xmm7, xmm1; dpps xmm7, xmm2, 0x5A"))
        XCTAssertEqual(getXf(6), [Float(300), 0, 0, 0].map { $0.bitPattern })
        XCTAssertEqual(getXf(7), [Float(0), 100, 0, 100].map { $0.bitPattern })
        setXd(1, [1.5, 2.5]); setXd(2, [4, 8])
        XCTAssertNil(run("movapd xmm3, xmm1; haddpd xmm3, xmm2; movapd xmm4, xmm1; addsubpd xmm4, xmm2; movapd xmm5, xmm1; dppd xmm5, xmm2, 0x32"))
        XCTAssertEqual(getX(3).0, Double(4).bitPattern); XCTAssertEqual(getX(3).1, Double(12).bitPattern)
        XCTAssertEqual(getX(4).0, Double(-2.5).bitPattern); XCTAssertEqual(getX(4).1, Double(10.5).bitPattern)
        XCTAssertEqual(getX(5).0, 0); XCTAssertEqual(getX(5).1, Double(26).bitPattern)
        XCTAssertEqual(mxcsr, 0x1F80)
    }

    func testCompareMinMaxAndFlags() {
        let qnan = Float.nan, snan = Float(bitPattern: 0x7FA0_0000)
        // CMPPS predicates with an ordered pair and NaNs.
        let a: [Float] = [1, 2, qnan, 5], b: [Float] = [2, 2, 1, snan]
        let expect: [[UInt32]] = [
            [0, ~0, 0, 0], [~0, 0, 0, 0], [~0, ~0, 0, 0], [0, 0, ~0, ~0],
            [~0, 0, ~0, ~0], [0, ~0, ~0, ~0], [0, 0, ~0, ~0], [~0, ~0, 0, 0],
        ]
        for p in 0..<8 {
            setXf(1, a); setXf(2, b); mxcsr = 0x1F80
            XCTAssertNil(run("cmpps xmm1, xmm2, \(p)"))
            XCTAssertEqual(getXf(1), expect[p], "cmpps \(p)")
            XCTAssertEqual(mxcsr, 0x1F81, "SNaN always signals")
        }
        setXf(1, [1, 0, 0, 0]); setXf(2, [qnan, 0, 0, 0]); mxcsr = 0x1F80
        XCTAssertNil(run("cmpss xmm1, xmm2, 0"))
        XCTAssertEqual(mxcsr, 0x1F80, "EQ_OQ is quiet on QNaN")
        setXf(1, [1, 0, 0, 0])
        XCTAssertNil(run("cmpss xmm1, xmm2, 1"))
        XCTAssertEqual(mxcsr, 0x1F81, "LT_OS signals on QNaN")
        // MIN/MAX: NaN or equal zeros return the second operand.
        setXf(1, [qnan, 1, -0.0, 3]); setXf(2, [2, qnan, 0, Float(bitPattern: 1)]); mxcsr = 0x1F80
        XCTAssertNil(run("minps xmm1, xmm2"))
        XCTAssertEqual(getXf(1), [Float(2).bitPattern, qnan.bitPattern, 0, 1])
        XCTAssertEqual(mxcsr, 0x1F83)
        setXd(1, [-1, 7]); setXd(2, [-2, 9]); mxcsr = 0x1F80
        XCTAssertNil(run("maxpd xmm1, xmm2"))
        XCTAssertEqual(getX(1).0, Double(-1).bitPattern); XCTAssertEqual(getX(1).1, Double(9).bitPattern)
        // COMISS / UCOMISS
        func cmp(_ insn: String, _ x: Float, _ y: Float) -> (UInt64, UInt32) {
            setXf(1, [x, 0, 0, 0]); setXf(2, [y, 0, 0, 0]); mxcsr = 0x1F80
            cpu.setFlags(FlagBit.status, mask: FlagBit.status)
            XCTAssertNil(run("\(insn) xmm1, xmm2"))
            return (rflags, mxcsr & 0x3F)
        }
        XCTAssertEqual(cmp("comiss", 1, 2).0, FlagBit.CF)
        XCTAssertEqual(cmp("comiss", 2, 1).0, 0)
        XCTAssertEqual(cmp("comiss", 2, 2).0, FlagBit.ZF)
        XCTAssertEqual(cmp("comiss", -0.0, 0).0, FlagBit.ZF)
        XCTAssertEqual(cmp("ucomiss", 2, qnan).0, FlagBit.ZF | FlagBit.PF | FlagBit.CF)
        XCTAssertEqual(cmp("ucomiss", 2, qnan).1, 0)
        XCTAssertEqual(cmp("comiss", 2, qnan).1, 1)
        XCTAssertEqual(cmp("ucomiss", snan, 1).1, 1)
        setX(1, Double(1).bitPattern, 0); setX(2, Double.nan.bitPattern, 0)
        XCTAssertNil(run("ucomisd xmm1, xmm2"))
        XCTAssertEqual(rflags, FlagBit.ZF | FlagBit.PF | FlagBit.CF)
    }

    func testIntegerConversionsAndRounding() {
        func cvt(_ insn: String, _ x: Float, mx: UInt32 = 0x1F80) -> UInt64 {
            setXf(1, [x, 0, 0, 0]); mxcsr = mx; cpu.gpr[0] = 0xDEAD_DEAD_DEAD_DEAD
            XCTAssertNil(run("\(insn)"))
            return cpu.gpr[0]
        }
        XCTAssertEqual(cvt("cvtss2si eax, xmm1", 2.5), 2)
        XCTAssertEqual(cvt("cvtss2si eax, xmm1", 3.5), 4)
        XCTAssertEqual(mxcsr, 0x1FA0)
        XCTAssertEqual(cvt("cvtss2si eax, xmm1", -2.5, mx: 0x3F80), 0xFFFF_FFFD)
        XCTAssertEqual(cvt("cvtss2si eax, xmm1", 2.5, mx: 0x5F80), 3)
        XCTAssertEqual(cvt("cvtss2si eax, xmm1", -2.7, mx: 0x7F80), 0xFFFF_FFFE)
        XCTAssertEqual(cvt("cvttss2si eax, xmm1", -2.7), 0xFFFF_FFFE)
        XCTAssertEqual(cvt("cvttss2si eax, xmm1", 3e9), 0x8000_0000)
        XCTAssertEqual(mxcsr, 0x1F81)
        XCTAssertEqual(cvt("cvttss2si rax, xmm1", 3e9), 3_000_000_000)
        XCTAssertEqual(cvt("cvttss2si rax, xmm1", .nan), 0x8000_0000_0000_0000)
        XCTAssertEqual(cvt("cvttss2si eax, xmm1", -2147483648.0), 0x8000_0000)
        XCTAssertEqual(mxcsr, 0x1F80)
        setX(1, Double(-1e10).bitPattern, Double(2147483647.4).bitPattern); mxcsr = 0x1F80
        XCTAssertNil(run("cvtsd2si rax, xmm1; cvtpd2dq xmm2, xmm1; cvttpd2pi mm3, xmm1"))
        XCTAssertEqual(cpu.gpr[0], UInt64(bitPattern: -10_000_000_000))
        XCTAssertEqual(getX(2).0, 0x7FFF_FFFF_8000_0000); XCTAssertEqual(getX(2).1, 0)
        XCTAssertEqual(getM(3), 0x7FFF_FFFF_8000_0000)
        XCTAssertEqual(mxcsr, 0x1FA1)
        // int -> float
        cpu.gpr[0] = UInt64(bitPattern: -3); cpu.gpr[3] = 0x7FFF_FFFF_FFFF_FFFF
        setX(4, 0, 0x99); mxcsr = 0x1F80
        XCTAssertNil(run("cvtsi2ss xmm4, eax; cvtsi2sd xmm5, rbx; cvtsi2ss xmm6, rbx"))
        XCTAssertEqual(getXf(4)[0], Float(-3).bitPattern); XCTAssertEqual(getX(4).1, 0x99)
        XCTAssertEqual(getX(5).0, Double(9.223372036854775807e18).bitPattern)
        XCTAssertEqual(mxcsr, 0x1FA0)
        mxcsr = 0x7F80   // toward zero: 2^63-1 truncates to the float below 2^63
        XCTAssertNil(run("cvtsi2ss xmm6, rbx"))
        XCTAssertEqual(getXf(6)[0], 0x5EFF_FFFF)
        setX(7, 0xFFFF_FFFF_0000_0005, 0x8000_0000_7FFF_FFFF); mxcsr = 0x1F80
        XCTAssertNil(run("cvtdq2ps xmm8, xmm7; cvtdq2pd xmm9, xmm7"))
        XCTAssertEqual(getXf(8), [Float(5), -1, 2147483648, -2147483648].map { $0.bitPattern })
        XCTAssertEqual(getX(9).0, Double(5).bitPattern); XCTAssertEqual(getX(9).1, Double(-1).bitPattern)
        setM(1, 0xFFFF_FFFE_0000_0007)
        XCTAssertNil(run("cvtpi2ps xmm10, mm1; cvtpi2pd xmm11, mm1"))
        XCTAssertEqual(getXf(10)[0], Float(7).bitPattern); XCTAssertEqual(getXf(10)[1], Float(-2).bitPattern)
        XCTAssertEqual(getX(11).1, Double(-2).bitPattern)
        setXf(1, [1.5, -2.5, 2.5, 1e10]); mxcsr = 0x1F80
        XCTAssertNil(run("cvtps2dq xmm2, xmm1; cvttps2dq xmm3, xmm1; cvtps2pi mm4, xmm1"))
        XCTAssertEqual(getXf(2), [2, 0xFFFF_FFFE, 2, 0x8000_0000])
        XCTAssertEqual(getXf(3), [1, 0xFFFF_FFFE, 2, 0x8000_0000])
        XCTAssertEqual(getM(4), 0xFFFF_FFFE_0000_0002)
        // ROUNDPS / ROUNDSD
        setXf(1, [1.5, -1.5, 2.5, -0.2]); mxcsr = 0x1F80
        XCTAssertNil(run("roundps xmm2, xmm1, 0; roundps xmm3, xmm1, 1; roundps xmm4, xmm1, 2; roundps xmm5, xmm1, 0xB"))
        XCTAssertEqual(getXf(2), [Float(2), -2, 2, -0.0].map { $0.bitPattern })
        XCTAssertEqual(getXf(3), [Float(1), -2, 2, -1].map { $0.bitPattern })
        XCTAssertEqual(getXf(4), [Float(2), -1, 3, -0.0].map { $0.bitPattern })
        XCTAssertEqual(getXf(5), [Float(1), -1, 2, -0.0].map { $0.bitPattern })
        XCTAssertEqual(mxcsr, 0x1FA0)
        mxcsr = 0x5F80
        XCTAssertNil(run("roundps xmm6, xmm1, 0xC"))
        XCTAssertEqual(getXf(6), [Float(2), -1, 3, -0.0].map { $0.bitPattern })
        XCTAssertEqual(mxcsr, 0x5F80, "precision exception suppressed")
        setX(1, Double(-2.5).bitPattern, 0); setX(2, 0, 7)
        XCTAssertNil(run("roundsd xmm2, xmm1, 0"))
        XCTAssertEqual(getX(2).0, Double(-2).bitPattern); XCTAssertEqual(getX(2).1, 7)
    }

    func testReciprocalsAndLogic() {
        setXf(1, [4, 0, -.infinity, 0.25]); mxcsr = 0x1F80
        XCTAssertNil(run("rcpps xmm2, xmm1; rsqrtps xmm3, xmm1"))
        let r = getXf(2).map { Float(bitPattern: $0) }, q = getXf(3).map { Float(bitPattern: $0) }
        XCTAssertEqual(r[0], 0.25, accuracy: 0.25 * 1.5 / 4096)
        XCTAssertEqual(r[1], .infinity); XCTAssertEqual(r[2].bitPattern, (-0.0 as Float).bitPattern)
        XCTAssertEqual(q[0], 0.5, accuracy: 0.5 * 1.5 / 4096); XCTAssertEqual(q[1], .infinity)
        XCTAssertTrue(q[2].isNaN); XCTAssertEqual(q[3], 2, accuracy: 2 * 1.5 / 4096)
        XCTAssertEqual(mxcsr, 0x1F80, "RCP/RSQRT raise no exceptions")
        setX(1, 0xFF00_FF00_FF00_FF00, 0x0F0F_0F0F_0F0F_0F0F); setX(2, 0x0FF0_0FF0_0FF0_0FF0, 0xFFFF_0000_FFFF_0000)
        XCTAssertNil(run("movaps xmm3, xmm1; andps xmm3, xmm2; movaps xmm4, xmm1; andnpd xmm4, xmm2; movaps xmm5, xmm1; orps xmm5, xmm2; movaps xmm6, xmm1; xorpd xmm6, xmm2"))
        XCTAssertEqual(getX(3).0, 0x0F00_0F00_0F00_0F00); XCTAssertEqual(getX(4).0, 0x00F0_00F0_00F0_00F0)
        XCTAssertEqual(getX(5).1, 0xFFFF_0F0F_FFFF_0F0F); XCTAssertEqual(getX(6).1, 0xF0F0_0F0F_F0F0_0F0F)
        setX(1, 0x0000_0002_0000_0001, 0x0000_0004_0000_0003); setX(2, 0x0000_0006_0000_0005, 0x0000_0008_0000_0007)
        XCTAssertNil(run("movaps xmm3, xmm1; unpcklps xmm3, xmm2; movaps xmm4, xmm1; unpckhpd xmm4, xmm2"))
        XCTAssertEqual(getX(3).0, 0x0000_0005_0000_0001); XCTAssertEqual(getX(3).1, 0x0000_0006_0000_0002)
        XCTAssertEqual(getX(4).0, 0x0000_0004_0000_0003); XCTAssertEqual(getX(4).1, 0x0000_0008_0000_0007)
    }

    func testUnmaskedExceptionsAndMXCSR() {
        // Unmasked ZE: #XM with OSXMMEXCPT, destination unchanged, flag set.
        setXf(1, [1, 1, 1, 1]); setXf(2, [1, 0, 1, 1])
        mxcsr = 0x1F80 & ~0x200
        XCTAssertEqual(run("divps xmm1, xmm2")?.vector, Fault.XM)
        XCTAssertEqual(getXf(1), [Float(1), 1, 1, 1].map { $0.bitPattern })
        XCTAssertEqual(mxcsr & 0x3F, 0x04)
        cpu.s.pointee.cr4 = 0x200
        mxcsr = 0x1F80 & ~0x200
        XCTAssertEqual(run("divps xmm1, xmm2")?.vector, Fault.UD, "without OSXMMEXCPT an unmasked exception is #UD")
        cpu.s.pointee.cr4 = 0x600
        // Unmasked PE on an inexact result; masked IE with a QNaN gives no exception.
        mxcsr = 0x1F80 & ~0x1000
        setXf(1, [1, 0, 0, 0]); setXf(2, [3, 0, 0, 0])
        XCTAssertEqual(run("divss xmm1, xmm2")?.vector, Fault.XM)
        XCTAssertEqual(mxcsr & 0x3F, 0x20)
        XCTAssertEqual(getXf(1)[0], Float(1).bitPattern)
        // Unmasked IE on float->int conversion.
        mxcsr = 0x1F80 & ~0x80
        setXf(1, [.nan, 0, 0, 0]); cpu.gpr[0] = 77
        XCTAssertEqual(run("cvttss2si eax, xmm1")?.vector, Fault.XM)
        XCTAssertEqual(cpu.gpr[0], 77)
        // Unmasked DE on a denormal operand.
        mxcsr = 0x1F80 & ~0x100
        setXf(1, [Float(bitPattern: 5), 0, 0, 0]); setXf(2, [1, 0, 0, 0])
        XCTAssertEqual(run("addss xmm1, xmm2")?.vector, Fault.XM)
        XCTAssertEqual(mxcsr & 0x3F, 0x02)
        // Unmasked UE: tiny result even when exact.
        mxcsr = 0x1F80 & ~0x800
        setXf(1, [Float(bitPattern: 0x0080_0000), 0, 0, 0]); setXf(2, [2, 0, 0, 0])
        XCTAssertEqual(run("divss xmm1, xmm2")?.vector, Fault.XM)
        XCTAssertEqual(mxcsr & 0x10, 0x10)
        // LDMXCSR / STMXCSR
        w64(0x2000, 0x0001_0000)
        XCTAssertEqual(run("ldmxcsr [0x2000]"), Fault.gp(0))
        w64(0x2000, 0xFFFF)
        XCTAssertNil(run("ldmxcsr [0x2000]; stmxcsr [0x2004]"))
        XCTAssertEqual(mxcsr, 0xFFFF)
        XCTAssertEqual(mem.read(0x2004, size: 4), 0xFFFF)
        // Host state is left alone: rounding mode back to nearest.
        XCTAssertEqual(fegetround(), 0)
    }
}
