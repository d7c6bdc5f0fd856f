// Executable memory for translated blocks, and the Swift → generated-code entry.
//
// W^X by dual mapping: one memfd (anonymous shared memory, found through dlsym because Glibc's
// Swift overlay does not import memfd_create) is mapped twice, read-write at `rwBase` and
// read-execute at `rxBase`. No page is ever writable and executable at once, and no mprotect
// flips are needed, so patching a chained jump is one 4-byte store through the RW view. x86 keeps
// instruction fetch coherent with stores to the same physical page through another mapping.
// If memfd_create is missing, an unlinked temporary file stands in for it.
//
// Placement: the RX view is mapped, when possible, within ±2 GiB of an anchor address (by default
// this module's code, which is linked into the emulator's executable together with the helpers
// the translated code calls), so helper calls can be a plain `call rel32`. `isNear(_:)` tells
// whether a target can be reached from everywhere in the cache; `X86Assembler.call(absolute:)`
// falls back to `mov r11, imm64; call r11` by itself when it cannot.
//
// Allocation is a bump pointer; the cache never frees single blocks. When `isFull` (less than
// `minimumFree` bytes left) the translator calls `flush()`, which discards every block, fills the
// used bytes with int3 and increments `generation` so block tables can be dropped. Only the entry
// trampoline and exit stub at the start of the region survive a flush. Flush only while no
// generated code is running (between `enter` calls).
//
// Calling convention (see `JITABI`): `enter(code, state:)` calls the trampoline as a SysV
// function (rdi = CPUState pointer, rsi = block address). The trampoline pushes the six callee-
// saved registers, reserves `JITABI.frameSize` bytes of spill space with rsp 16-byte aligned, puts
// the state pointer in rbp (`JITABI.statePointer`) and jumps to the block. A block leaves by
// jumping to `exitAddress` with its 64-bit result in rax; the exit stub restores the registers and
// returns rax to Swift. Inside a block rsp stays 16-byte aligned, so helpers are called directly.

import Glibc

/// Signature of the entry trampoline: (CPUState pointer, block address) -> value left in rax.
public typealias JITEntryFunction = @convention(c) (UnsafeMutableRawPointer, UnsafeRawPointer) -> UInt64

/// The register conventions of generated code.
public enum JITABI {
    /// Holds the CPUState pointer for the whole time generated code runs. rbp rather than r15:
    /// `[rbp + disp8]` needs no REX prefix for 8/16/32-bit accesses and every GPR slot (offsets
    /// 0..127) is a disp8 away.
    public static let statePointer: Reg = .rbp
    /// Bytes of scratch space the block owns at `[rsp + 0 ..< frameSize]` (a multiple of 16).
    public static let frameSize = 128
    /// Registers the trampoline saves, in push order; generated code may use them freely.
    public static let savedByTrampoline: [Reg] = [.rbp, .rbx, .r12, .r13, .r14, .r15]
    /// Free for generated code and preserved across helper calls (SysV callee-saved, minus rbp).
    public static let calleeSaved: [Reg] = [.rbx, .r12, .r13, .r14, .r15]
    /// Free for generated code but clobbered by helper calls (SysV caller-saved).
    public static let callerSaved: [Reg] = [.rax, .rcx, .rdx, .rsi, .rdi, .r8, .r9, .r10, .r11]
    /// SysV integer argument registers, in order.
    public static let argumentRegisters: [Reg] = [.rdi, .rsi, .rdx, .rcx, .r8, .r9]
    /// The register a block leaves its result in before jumping to the exit stub.
    public static let resultRegister: Reg = .rax
    /// Scratch register used by far calls/jumps (`mov r11, imm64; call r11`).
    public static let farScratch: Reg = .r11

    /// The i-th 8-byte spill slot of the block frame.
    public static func spillSlot(_ i: Int) -> Mem {
        precondition(i >= 0 && i * 8 < frameSize)
        return Mem(base: .rsp, disp: Int32(i * 8))
    }
}

public struct CodeCacheError: Error, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public var description: String { "code cache: \(operation) failed: \(String(cString: strerror(errno)))" }
}

/// Placement anchor: this module's code.
private func codeCacheAnchor() {}

public final class CodeCache {
    /// A block's memory: write through `rw`, run at `rx`.
    public struct Allocation {
        public let rx: UnsafeRawPointer
        public let rw: UnsafeMutableRawPointer
        public let size: Int
        public var address: UInt64 { UInt64(UInt(bitPattern: rx)) }
    }

    /// Size of the region in bytes (page-rounded).
    public let capacity: Int
    /// Fewer free bytes than this make the cache `isFull` (the largest block one translation may need).
    public let minimumFree: Int
    public let rxBase: UnsafeRawPointer
    public let rwBase: UnsafeMutableRawPointer
    /// Incremented by every `flush()`; block tables tagged with an older generation are stale.
    public private(set) var generation: UInt64 = 0
    /// Address of the entry trampoline (a `JITEntryFunction`).
    public private(set) var entryAddress: UInt64 = 0
    /// Address blocks jump to when they leave generated code (result in rax).
    public private(set) var exitAddress: UInt64 = 0
    /// The trampoline as a callable C function.
    public private(set) var entry: JITEntryFunction

    private let fd: Int32
    private var top = 0
    private var permanentEnd = 0

    /// The default placement anchor: the address of code in this module.
    public static var defaultAnchor: UnsafeRawPointer {
        let f: @convention(c) () -> Void = codeCacheAnchor
        return unsafeBitCast(f, to: UnsafeRawPointer.self)
    }

    /// Maps a cache of `size` bytes (rounded up to pages). `near`: place the RX view within
    /// ±2 GiB of this address when the address space allows (nil: anywhere).
    public init(size: Int = 64 << 20, minimumFree: Int = 64 << 10,
                near anchor: UnsafeRawPointer? = CodeCache.defaultAnchor) throws(CodeCacheError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let cap = (Swift.max(size, page) + page - 1) / page * page
        precondition(cap < 1 << 31, "code cache larger than 2 GiB: rel32 jumps would not reach")
        capacity = cap
        self.minimumFree = Swift.min(minimumFree, cap / 2)

        let fd = try CodeCache.makeBackingFile()
        guard ftruncate(fd, off_t(cap)) == 0 else {
            let e = errno; close(fd); throw CodeCacheError(operation: "ftruncate", errno: e)
        }
        guard let rw = mmap(nil, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), rw != MAP_FAILED else {
            let e = errno; close(fd); throw CodeCacheError(operation: "mmap (RW view)", errno: e)
        }
        guard let rx = CodeCache.mapExecutable(fd: fd, size: cap, near: anchor) else {
            let e = errno; munmap(rw, cap); close(fd); throw CodeCacheError(operation: "mmap (RX view)", errno: e)
        }
        self.fd = fd
        rwBase = rw
        rxBase = UnsafeRawPointer(rx)
        entry = unsafeBitCast(rxBase, to: JITEntryFunction.self)
        installTrampoline()
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: rxBase), capacity)
        munmap(rwBase, capacity)
        close(fd)
    }

    private static func makeBackingFile() throws(CodeCacheError) -> Int32 {
        typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create") {
            let memfd = unsafeBitCast(sym, to: MemfdCreate.self)
            let fd = memfd("emu-jit-code", 1 /* MFD_CLOEXEC */)
            if fd >= 0 { return fd }
        }
        var template = Array("/tmp/emu-jit-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw CodeCacheError(operation: "memfd_create/mkstemp", errno: errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }

    private static func mapExecutable(fd: Int32, size: Int, near anchor: UnsafeRawPointer?) -> UnsafeMutableRawPointer? {
        let prot = PROT_READ | PROT_EXEC
        if let anchor {
            let mapFixedNoReplace: Int32 = 0x100000   // MAP_FIXED_NOREPLACE (Linux 4.17)
            let a = Int64(Int(bitPattern: anchor)) & ~Int64((2 << 20) - 1)
            let s = Int64(size)
            // Below the executable first (the heap grows upwards from its end), then above.
            let offsets: [Int64] = [-(s + (256 << 20)), -(s + (512 << 20)), -(s + (1 << 30)),
                                    1 << 30, (1 << 30) + (256 << 20)]
            for off in offsets {
                let hint = a + off
                guard hint > 1 << 32 else { continue }
                if let p = mmap(UnsafeMutableRawPointer(bitPattern: Int(hint)), size, prot,
                                MAP_SHARED | mapFixedNoReplace, fd, 0), p != MAP_FAILED {
                    let d = Int64(Int(bitPattern: p)) - Int64(Int(bitPattern: anchor))
                    if Swift.abs(d) + s < (1 << 31) - (64 << 20) { return p }
                    munmap(p, size)     // old kernel ignoring the flag placed it elsewhere
                }
            }
        }
        guard let p = mmap(nil, size, prot, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        return p
    }

    // MARK: trampoline

    private func installTrampoline() {
        let base = UInt64(UInt(bitPattern: rxBase))
        let a = X86Assembler(origin: base, capacity: 128)
        for r in JITABI.savedByTrampoline { a.push(r) }
        // 6 pushes + return address = 56 bytes: 8 more plus the frame re-aligns rsp to 16.
        a.sub(.qword, .rsp, Int32(JITABI.frameSize + 8))
        a.mov(.qword, JITABI.statePointer, .rdi)
        a.jmp(.rsi)
        a.align(16)
        let exitOffset = a.offset
        a.add(.qword, .rsp, Int32(JITABI.frameSize + 8))
        for r in JITABI.savedByTrampoline.reversed() { a.pop(r) }
        a.ret()
        a.align(64)
        a.withUnsafeBytes { rwBase.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        top = a.count
        permanentEnd = a.count
        entryAddress = base
        exitAddress = base + UInt64(exitOffset)
        entry = unsafeBitCast(rxBase, to: JITEntryFunction.self)
    }

    /// Runs generated code at `code` with `state` in `JITABI.statePointer`; returns the block's rax.
    @inline(__always)
    public func enter(_ code: UnsafeRawPointer, state: UnsafeMutableRawPointer) -> UInt64 {
        entry(state, code)
    }

    // MARK: allocation

    /// Bytes in use, including the permanent trampoline.
    public var used: Int { top }
    /// Bytes still free.
    public var available: Int { capacity - top }
    /// Less than `minimumFree` bytes left: flush before translating more.
    public var isFull: Bool { capacity - top < minimumFree }
    /// Bytes used by blocks (0 right after a flush).
    public var blockBytes: Int { top - permanentEnd }

    @inline(__always) private func alignUp(_ v: Int, _ a: Int) -> Int {
        precondition(a > 0 && a & (a - 1) == 0, "alignment must be a power of two")
        return (v + a - 1) & ~(a - 1)
    }

    /// The RX address the next block will get with this alignment: the `origin` to give the
    /// assembler that produces it.
    public func nextAddress(alignment: Int = 16) -> UInt64 {
        UInt64(UInt(bitPattern: rxBase)) + UInt64(alignUp(top, alignment))
    }

    /// Reserves `size` bytes; nil when they do not fit (flush and try again).
    public func allocate(_ size: Int, alignment: Int = 16) -> Allocation? {
        let start = alignUp(top, alignment)
        guard size >= 0, start + size <= capacity else { return nil }
        top = start + size
        return Allocation(rx: rxBase + start, rw: rwBase + start, size: size)
    }

    /// Copies an assembled block into the cache and returns its RX address, or nil when it does
    /// not fit. The assembler's origin must be `nextAddress(alignment:)` (its position-dependent
    /// encodings were computed for that address) and all its labels must be bound.
    public func install(_ asm: X86Assembler, alignment: Int = 16) -> UnsafeRawPointer? {
        precondition(!asm.hasUnresolvedLabels, "block has jumps to unbound labels")
        precondition(asm.origin == nextAddress(alignment: alignment),
                     "assembler origin differs from the address the block would get")
        guard let a = allocate(asm.count, alignment: alignment) else { return nil }
        asm.withUnsafeBytes { a.rw.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return a.rx
    }

    /// Copies position-independent bytes into the cache; nil when they do not fit.
    public func install(bytes: [UInt8], alignment: Int = 16) -> UnsafeRawPointer? {
        guard let a = allocate(bytes.count, alignment: alignment) else { return nil }
        bytes.withUnsafeBytes { a.rw.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return a.rx
    }

    /// Discards every block: the used bytes become int3, the bump pointer returns to the end of
    /// the trampoline and `generation` is incremented.
    public func flush() {
        (rwBase + permanentEnd).initializeMemory(as: UInt8.self, repeating: 0xCC, count: top - permanentEnd)
        top = permanentEnd
        generation &+= 1
    }

    // MARK: addresses and patching

    /// True when `address` lies in the RX view.
    public func contains(_ address: UInt64) -> Bool {
        let b = UInt64(UInt(bitPattern: rxBase))
        return address >= b && address < b + UInt64(capacity)
    }

    /// The RW alias of an RX address in the cache.
    public func writableAddress(of address: UInt64) -> UnsafeMutableRawPointer {
        precondition(contains(address))
        return rwBase + Int(address - UInt64(UInt(bitPattern: rxBase)))
    }

    /// True when a rel32 call/jump from anywhere in the cache reaches `target`.
    public func isNear(_ target: UInt64) -> Bool {
        let b = UInt64(UInt(bitPattern: rxBase))
        return X86Assembler.rel32(fieldAt: b, to: target) != nil
            && X86Assembler.rel32(fieldAt: b + UInt64(capacity) - 4, to: target) != nil
    }

    /// Retargets the rel32 field at RX address `field` (from `jmpPatchable`/`jccPatchable`) to
    /// `target`. An aligned field is rewritten with one 4-byte store.
    public func patchRel32(fieldAt field: UInt64, target: UInt64) {
        guard let d = X86Assembler.rel32(fieldAt: field, to: target) else {
            preconditionFailure("jump target out of ±2 GiB range")
        }
        let p = writableAddress(of: field)
        if field & 3 == 0 {
            p.assumingMemoryBound(to: Int32.self).pointee = d
        } else {
            p.storeBytes(of: d, as: Int32.self)
        }
    }
}
