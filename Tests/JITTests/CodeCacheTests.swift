import XCTest
import Foundation
import CPUState
@testable import JIT

/// Helper called from generated code: reads state[0], writes state[1] = 77, returns state[0] * arg + 1.
private func swiftHelper(_ state: UnsafeMutableRawPointer?, _ arg: UInt64) -> UInt64 {
    let p = state!.assumingMemoryBound(to: UInt64.self)
    p[1] = 77
    return p[0] &* arg &+ 1
}

/// Helper that uses the stack the way compiled code may (aligned SSE spills) and returns a sum.
private func swiftSumHelper(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64) -> UInt64 {
    var v = SIMD4<Double>(Double(a), Double(b), Double(c), Double(d))
    v = v * 2
    return UInt64(v.sum()) / 2 + e + f
}

final class CodeCacheTests: XCTestCase {
    typealias Helper = @convention(c) (UnsafeMutableRawPointer?, UInt64) -> UInt64
    typealias SumHelper = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) -> UInt64

    var state: UnsafeMutableRawPointer!

    override func setUp() {
        super.setUp()
        state = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        state.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
    }

    override func tearDown() {
        state.deallocate()
        super.tearDown()
    }

    func slot(_ i: Int) -> UInt64 { state.load(fromByteOffset: i * 8, as: UInt64.self) }
    func setSlot(_ i: Int, _ v: UInt64) { state.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }

    func makeCache(size: Int = 1 << 20, minimumFree: Int = 4096) throws -> CodeCache {
        try CodeCache(size: size, minimumFree: minimumFree)
    }

    /// Assembles a block at the cache's next address and installs it.
    func block(_ cache: CodeCache, _ body: (X86Assembler) -> Void) -> UnsafeRawPointer {
        let a = X86Assembler(origin: cache.nextAddress())
        body(a)
        guard let p = cache.install(a) else { XCTFail("cache full"); return cache.rxBase }
        return p
    }

    let sp = JITABI.statePointer

    func testPlainFunctionAddsTwoRegisters() throws {
        let cache = try makeCache()
        let a = X86Assembler(origin: cache.nextAddress())
        a.lea(.qword, .rax, Mem(base: .rdi, index: .rsi))
        a.ret()
        let p = try XCTUnwrap(cache.install(a))
        typealias F = @convention(c) (UInt64, UInt64) -> UInt64
        let f = unsafeBitCast(p, to: F.self)
        XCTAssertEqual(f(40, 2), 42)
        XCTAssertEqual(f(UInt64.max, 2), 1)
    }

    func testTrampolinePinsStateAndReturnsRAX() throws {
        let cache = try makeCache()
        let code = block(cache) { a in
            a.mov(.qword, .rax, Mem(sp, 0))
            a.add(.qword, .rax, Mem(sp, 8))
            a.mov(.qword, Mem(sp, 16), .rax)
            a.mov(.qword, Mem(sp, 24), sp)                 // the state pointer itself
            a.mov(.qword, .rcx, .rsp)
            a.and(.qword, .rcx, 15)
            a.mov(.qword, Mem(sp, 32), .rcx)               // rsp alignment inside a block
            a.mov(.qword, JITABI.spillSlot(0), .rax)       // the spill area is usable
            a.mov(.qword, JITABI.spillSlot(15), .rax)
            // Clobber every register the trampoline promised to restore.
            for r in JITABI.calleeSaved { a.mov(.qword, r, 0x5A5A) }
            a.jmp(absolute: cache.exitAddress)
        }
        setSlot(0, 0x1111_0000_0000)
        setSlot(1, 0x2222)
        let r = cache.enter(code, state: state)
        XCTAssertEqual(r, 0x1111_0000_2222)
        XCTAssertEqual(slot(2), 0x1111_0000_2222)
        XCTAssertEqual(slot(3), UInt64(UInt(bitPattern: state)))
        XCTAssertEqual(slot(4), 0, "rsp must be 16-byte aligned inside a block")
        // Survived clobbering callee-saved registers: call again to be sure the stack is intact.
        XCTAssertEqual(cache.entry(state, code), 0x1111_0000_2222)
    }

    func testRealCPUStateOffsets() throws {
        let cache = try makeCache()
        let cpu = UnsafeMutablePointer<CPUState>.allocate(capacity: 1)
        defer { cpu.deallocate() }
        UnsafeMutableRawPointer(cpu).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<CPUState>.size)
        let raw = UnsafeMutableRawPointer(cpu)
        raw.storeBytes(of: UInt64(5), toByteOffset: Int(CPU_OFF_GPR) + 8 * 3, as: UInt64.self)   // rbx
        let code = block(cache) { a in
            // rip += rbx * 4
            a.mov(.qword, .rax, Mem(sp, Int32(CPU_OFF_GPR) + 8 * 3))
            a.shl(.qword, .rax, 2)
            a.add(.qword, Mem(sp, Int32(CPU_OFF_RIP)), .rax)
            a.mov(.qword, .rax, Mem(sp, Int32(CPU_OFF_RIP)))
            a.jmp(absolute: cache.exitAddress)
        }
        raw.storeBytes(of: UInt64(0x1000), toByteOffset: Int(CPU_OFF_RIP), as: UInt64.self)
        XCTAssertEqual(cache.enter(code, state: raw), 0x1014)
        XCTAssertEqual(cpu.pointee.rip, 0x1014)
    }

    func testLoopWithBackwardBranch() throws {
        let cache = try makeCache()
        let code = block(cache) { a in
            a.xor(.dword, .rax, .rax)
            a.mov(.qword, .rcx, Mem(sp, 0))
            let top = a.newLabel(), done = a.newLabel()
            a.test(.qword, .rcx, .rcx)
            a.jcc(.z, done)
            a.bind(top)
            a.add(.qword, .rax, .rcx)
            a.dec(.qword, .rcx)
            a.jcc(.nz, top)
            a.bind(done)
            a.jmp(absolute: cache.exitAddress)
        }
        for n: UInt64 in [0, 1, 10, 100_000] {
            setSlot(0, n)
            XCTAssertEqual(cache.enter(code, state: state), n * (n + 1) / 2)
        }
    }

    func testCallOutToSwiftAndBack() throws {
        let cache = try makeCache()
        let helper: Helper = swiftHelper
        let helperAddr = UInt64(UInt(bitPattern: unsafeBitCast(helper, to: UnsafeRawPointer.self)))
        XCTAssertTrue(cache.isNear(helperAddr), "the cache should be placed within rel32 reach of this binary")
        var callOffset = 0
        let code = block(cache) { a in
            a.mov(.qword, .r12, 0x1234_5678_9ABC)          // callee-saved: must survive the call
            a.mov(.qword, .rdi, sp)
            a.mov(.dword, .rsi, 5)
            callOffset = a.offset
            a.call(absolute: helperAddr)
            a.mov(.qword, Mem(sp, 16), sp)                 // state pointer still pinned
            a.mov(.qword, Mem(sp, 24), .r12)
            a.mov(.qword, .rbx, .rax)
            // Second call through a register (the far form), with six arguments.
            for (i, r) in JITABI.argumentRegisters.enumerated() { a.mov(.qword, r, Int64(i + 1)) }
            a.callIndirect(absolute: UInt64(UInt(bitPattern: unsafeBitCast(swiftSumHelper as SumHelper, to: UnsafeRawPointer.self))))
            a.mov(.qword, Mem(sp, 32), .rax)
            a.mov(.qword, .rax, .rbx)
            a.jmp(absolute: cache.exitAddress)
        }
        XCTAssertEqual(code.load(fromByteOffset: callOffset, as: UInt8.self), 0xE8, "near helper: call rel32")
        setSlot(0, 8)
        XCTAssertEqual(cache.enter(code, state: state), 41)
        XCTAssertEqual(slot(1), 77)
        XCTAssertEqual(slot(2), UInt64(UInt(bitPattern: state)))
        XCTAssertEqual(slot(3), 0x1234_5678_9ABC)
        XCTAssertEqual(slot(4), 21)
    }

    func testRIPRelativeDataAndReturnOf64BitValue() throws {
        let cache = try makeCache()
        let a = X86Assembler(origin: cache.nextAddress())
        let data = a.currentAddress
        a.emit64(0xDEAD_BEEF_CAFE_BABE)
        a.emit64(0x0123_4567_89AB_CDEF)
        let entry = a.offset
        a.mov(.qword, .rax, .rip(target: data))
        a.movq(.xmm1, .rip(target: data + 8))
        a.movq(.rcx, .xmm1)
        a.mov(.qword, Mem(sp, 0), .rcx)
        a.jmp(absolute: cache.exitAddress)
        let p = try XCTUnwrap(cache.install(a))
        XCTAssertEqual(cache.enter(p + entry, state: state), 0xDEAD_BEEF_CAFE_BABE)
        XCTAssertEqual(slot(0), 0x0123_4567_89AB_CDEF)
    }

    func testChainingByPatchingRel32() throws {
        let cache = try makeCache()
        var fieldOffset = 0, jccOffset = 0
        let a = block(cache) { a in
            a.mov(.dword, .rax, 1)
            a.cmp(.qword, Mem(sp, 0), 0)
            jccOffset = a.jccPatchable(.ne)            // initially falls through (rel32 = 0)
            fieldOffset = a.jmpPatchable()             // initially to the next instruction
            a.jmp(absolute: cache.exitAddress)
        }
        let b = block(cache) { a in
            a.mov(.dword, .rax, 2)
            a.jmp(absolute: cache.exitAddress)
        }
        let c = block(cache) { a in
            a.mov(.dword, .rax, 3)
            a.jmp(absolute: cache.exitAddress)
        }
        let addr = { (p: UnsafeRawPointer) in UInt64(UInt(bitPattern: p)) }
        XCTAssertEqual(cache.enter(a, state: state), 1)
        cache.patchRel32(fieldAt: addr(a) + UInt64(fieldOffset), target: addr(b))
        XCTAssertEqual(cache.enter(a, state: state), 2)
        cache.patchRel32(fieldAt: addr(a) + UInt64(jccOffset), target: addr(c))
        XCTAssertEqual(cache.enter(a, state: state), 2)
        setSlot(0, 1)
        XCTAssertEqual(cache.enter(a, state: state), 3)
        // Unchain.
        cache.patchRel32(fieldAt: addr(a) + UInt64(fieldOffset), target: addr(a) + UInt64(fieldOffset) + 4)
        setSlot(0, 0)
        XCTAssertEqual(cache.enter(a, state: state), 1)
    }

    /// /proc/self/maps read to the end with read(2) (its size is reported as 0, and other
    /// threads may map and unmap while it is read: one consistent snapshot per call).
    static func procMaps() -> String? {
        let fd = open("/proc/self/maps", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The permissions column of the mapping holding `p`. /proc/self/maps is generated page by
    /// page, so a read racing another thread's mmap can miss a line: look up to 5 times.
    func permissions(of p: UnsafeRawPointer) -> String? {
        for _ in 0..<5 {
            if let r = permissionsOnce(of: p) { return r }
        }
        return nil
    }

    func permissionsOnce(of p: UnsafeRawPointer) -> String? {
        guard let maps = Self.procMaps() else { return nil }
        let a = UInt(bitPattern: p)
        for line in maps.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 2 else { continue }
            let r = f[0].split(separator: "-")
            guard r.count == 2, let lo = UInt(r[0], radix: 16), let hi = UInt(r[1], radix: 16) else { continue }
            if a >= lo && a < hi { return String(f[1]) }
        }
        return nil
    }

    func testWriteXorExecute() throws {
        let cache = try makeCache()
        XCTAssertEqual(permissions(of: cache.rxBase), "r-xs")
        XCTAssertEqual(permissions(of: cache.rxBase + cache.capacity - 1), "r-xs")
        // (The RW view's line was seen missing from /proc/self/maps under load: checked when found;
        // the no-rwx scan below is the W^X property itself.)
        if let rw = permissions(of: UnsafeRawPointer(cache.rwBase)) { XCTAssertEqual(rw, "rw-s") }
        XCTAssertNotEqual(UInt(bitPattern: cache.rxBase), UInt(bitPattern: cache.rwBase))
        // No mapping of this process is writable and executable at once.
        let maps = try XCTUnwrap(Self.procMaps())
        for line in maps.split(separator: "\n") {
            let perms = line.split(separator: " ")[1]
            XCTAssertFalse(perms.hasPrefix("rwx"), "W+X mapping: \(line)")
        }
        // Bytes written through the RW view are what the RX view shows.
        let p = try XCTUnwrap(cache.install(bytes: [0xB8, 0x2A, 0, 0, 0, 0xC3]))
        XCTAssertEqual(cache.writableAddress(of: UInt64(UInt(bitPattern: p))).load(as: UInt8.self), 0xB8)
        typealias F = @convention(c) () -> UInt32
        XCTAssertEqual(unsafeBitCast(p, to: F.self)(), 42)
    }

    func testFlushInvalidatesAndBumpsGeneration() throws {
        let cache = try makeCache()
        let first = cache.nextAddress()
        let code = block(cache) { a in
            a.mov(.dword, .rax, 7)
            a.jmp(absolute: cache.exitAddress)
        }
        XCTAssertEqual(UInt64(UInt(bitPattern: code)), first)
        XCTAssertEqual(cache.enter(code, state: state), 7)
        XCTAssertGreaterThan(cache.blockBytes, 0)
        XCTAssertEqual(cache.generation, 0)
        cache.flush()
        XCTAssertEqual(cache.generation, 1)
        XCTAssertEqual(cache.blockBytes, 0)
        XCTAssertEqual(code.load(as: UInt8.self), 0xCC, "flushed code is int3")
        XCTAssertEqual(cache.nextAddress(), first)
        // The trampoline survives a flush.
        let again = block(cache) { a in
            a.mov(.dword, .rax, 9)
            a.jmp(absolute: cache.exitAddress)
        }
        XCTAssertEqual(again, code)
        XCTAssertEqual(cache.enter(again, state: state), 9)
        cache.flush()
        XCTAssertEqual(cache.generation, 2)
    }

    func testFullCacheRefusesThenFlushRecovers() throws {
        let cache = try makeCache(size: 64 << 10, minimumFree: 4096)
        XCTAssertEqual(cache.capacity, 64 << 10)
        XCTAssertFalse(cache.isFull)
        XCTAssertNil(cache.allocate(cache.capacity))
        var installed = 0
        var sawFull = false
        while true {
            if cache.isFull { sawFull = true }
            let a = X86Assembler(origin: cache.nextAddress(alignment: 64))
            a.mov(.dword, .rax, Int64(installed))
            a.jmp(absolute: cache.exitAddress)
            a.nop(1000)
            guard let p = cache.install(a, alignment: 64) else { break }
            XCTAssertEqual(UInt(bitPattern: p) % 64, 0)
            installed += 1
            if installed % 20 == 0 { XCTAssertEqual(cache.enter(p, state: state), UInt64(installed - 1)) }
        }
        XCTAssertTrue(sawFull)
        XCTAssertTrue(cache.isFull)
        XCTAssertLessThan(cache.available, 1100)
        XCTAssertGreaterThan(installed, 50)
        let gen = cache.generation
        cache.flush()
        XCTAssertEqual(cache.generation, gen + 1)
        XCTAssertFalse(cache.isFull)
        let p = block(cache) { a in
            a.mov(.dword, .rax, 0xABC)
            a.jmp(absolute: cache.exitAddress)
        }
        XCTAssertEqual(cache.enter(p, state: state), 0xABC)
    }

    func testSeveralCachesCoexist() throws {
        let c1 = try makeCache(), c2 = try makeCache()
        XCTAssertNotEqual(c1.rxBase, c2.rxBase)
        let p1 = block(c1) { a in a.mov(.dword, .rax, 1); a.jmp(absolute: c1.exitAddress) }
        let p2 = block(c2) { a in a.mov(.dword, .rax, 2); a.jmp(absolute: c2.exitAddress) }
        XCTAssertEqual(c1.enter(p1, state: state), 1)
        XCTAssertEqual(c2.enter(p2, state: state), 2)
        XCTAssertTrue(c1.contains(UInt64(UInt(bitPattern: p1))))
        XCTAssertFalse(c1.contains(UInt64(UInt(bitPattern: p2))))
    }

    func testStatusSeam() {
        XCTAssertTrue(JITStatus.available)
        XCTAssertEqual(JITABI.statePointer, .rbp)
        XCTAssertEqual(JITABI.frameSize % 16, 0)
    }
}
