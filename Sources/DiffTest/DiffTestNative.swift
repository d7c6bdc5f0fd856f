#if canImport(Glibc)
import Glibc
#endif
import CDiffTest

/// The host side: a fixed region below 2 GiB (so absolute disp32 operands reach it) holding
///   +0x0000 guard (no access), +0x1000 scratch (8 KiB, read/write), +0x3000 guard,
///   +0x4000 code (8 KiB; read/execute, made writable only while a sequence is placed: W^X), the rest reserved.
/// The interpreter maps the same linear addresses (see `EmuHarness`), so every pointer a test
/// puts in a register means the same thing on both sides.
public final class NativeRunner {
    public static let regionSize: UInt64 = 0x10000
    public let base: UInt64
    public var scratchAddr: UInt64 { base + 0x1000 }
    public var codeAddr: UInt64 { base + 0x4000 }
    public static let codeSize = 0x2000
    let st: UnsafeMutablePointer<DTNative>
    public let exitAddress: UInt64

    /// Host feature words, indexed like `CPUFeature.Word`.
    public let hostWords: [UInt32]
    public let hostXCR0: UInt64
    public let selectors: [UInt16]

    public init?() {
        guard dt_setup() == 0 else { return nil }
        var chosen: UInt64 = 0
        for b: UInt64 in [0x6000_0000, 0x5000_0000, 0x4000_0000, 0x3000_0000, 0x7000_0000, 0x2000_0000] {
            if dt_reserve(b, Int(NativeRunner.regionSize)) == 0 { chosen = b; break }
        }
        if chosen == 0 { return nil }
        base = chosen
        guard dt_protect(chosen + 0x1000, 0x2000, 3) == 0, dt_protect(chosen + 0x4000, 0x2000, 5) == 0 else { return nil }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<DTNative>.size, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<DTNative>.size)
        st = raw.bindMemory(to: DTNative.self, capacity: 1)
        exitAddress = dt_exit_address()
        var w = [UInt32](repeating: 0, count: 9)
        var r = [UInt32](repeating: 0, count: 4)
        func q(_ l: UInt32, _ s: UInt32) -> [UInt32] { r.withUnsafeMutableBufferPointer { dt_cpuid(l, s, $0.baseAddress) }; return r }
        let l1 = q(1, 0); w[0] = l1[3]; w[1] = l1[2]
        w[2] = q(6, 0)[0]
        let l7 = q(7, 0); w[3] = l7[1]; w[4] = l7[2]; w[5] = l7[3]
        let e1 = q(0x8000_0001, 0); w[6] = e1[3]; w[7] = e1[2]
        w[8] = q(0x8000_0007, 0)[3]
        hostWords = w
        hostXCR0 = dt_xgetbv0()
        var sel = [UInt16](repeating: 0, count: 6)
        sel.withUnsafeMutableBufferPointer { dt_selectors($0.baseAddress) }
        selectors = sel
    }

    /// Reinstalls the signal handlers (call before a batch: something else may have replaced them).
    public func prepare() { _ = dt_setup() }

    /// Places `code` (followed by a jump back to the runner) at `codeAddr`.
    func placeCode(_ code: [UInt8]) {
        let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(codeAddr))!
        precondition(code.count + 14 <= NativeRunner.codeSize)
        // W^X: writable while the bytes go in, then read/execute (as the emulator side maps it).
        precondition(dt_protect(codeAddr, NativeRunner.codeSize, 3) == 0, "mprotect of the difftest code page failed")
        defer { precondition(dt_protect(codeAddr, NativeRunner.codeSize, 5) == 0, "mprotect of the difftest code page failed") }
        code.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: code.count) }
        var tail: [UInt8] = [0xFF, 0x25, 0, 0, 0, 0]
        for i in 0..<8 { tail.append(UInt8(truncatingIfNeeded: exitAddress >> UInt64(8 * i))) }
        tail.withUnsafeBufferPointer { (p + code.count).update(from: $0.baseAddress!, count: tail.count) }
    }

    /// Runs `code` natively from `state`.
    public func run(code: [UInt8], state: DTState) -> DTResult {
        placeCode(code)
        let scratch = UnsafeMutablePointer<UInt8>(bitPattern: UInt(scratchAddr))!
        state.scratch.withUnsafeBufferPointer { scratch.update(from: $0.baseAddress!, count: DTState.scratchSize) }
        let g = dt_gprs(st)!
        for i in 0..<16 { g[i] = state.gpr[i] }
        st.pointee.rflags = state.rflags
        st.pointee.vector = -1
        let xs = dt_xsave_area(st)!
        xs.initialize(repeating: 0, count: 1024)
        state.fx.withUnsafeBufferPointer { xs.update(from: $0.baseAddress!, count: 512) }
        // Header: XSTATE_BV = x87 | SSE | AVX (upper halves always loaded), XCOMP_BV = 0.
        UnsafeMutableRawPointer(xs + 512).storeBytes(of: UInt64(7), as: UInt64.self)
        state.ymmHi.withUnsafeBufferPointer { (xs + 576).update(from: $0.baseAddress!, count: 256) }
        let faulted = dt_run(st, UnsafeRawPointer(bitPattern: UInt(codeAddr))!)
        var out = DTState()
        for i in 0..<16 { out.gpr[i] = g[i] }
        out.rflags = st.pointee.rflags
        let bv = UnsafeRawPointer(xs + 512).load(as: UInt64.self)
        for i in 0..<512 { out.fx[i] = xs[i] }
        // Components in their initial configuration (XSTATE_BV bit clear) read as init values.
        if bv & 1 == 0 {
            for i in 0..<24 { out.fx[i] = 0 }
            for i in 32..<160 { out.fx[i] = 0 }
            out.fx[0] = 0x7F; out.fx[1] = 0x03
        }
        if bv & 2 == 0 { for i in 160..<416 { out.fx[i] = 0 } }
        for i in 416..<512 { out.fx[i] = 0 }
        out.fx[28] = 0; out.fx[29] = 0; out.fx[30] = 0; out.fx[31] = 0   // MXCSR_MASK: not state
        if bv & 4 != 0 && (faulted == 0 || st.pointee.xstateSize >= 832) {
            for i in 0..<256 { out.ymmHi[i] = xs[576 + i] }
        }
        for i in 0..<DTState.scratchSize { out.scratch[i] = scratch[i] }
        var fault: DTFault?
        if faulted != 0 {
            fault = DTFault(vector: Int(st.pointee.vector), code: st.pointee.err, addr: st.pointee.addr, rip: st.pointee.rip)
        }
        return DTResult(state: out, fault: fault)
    }

    public func hostHas(word: Int, bit: Int) -> Bool { hostWords[word] & (1 << UInt32(bit)) != 0 }
}
