// The block translator's run loop: a drop-in replacement for `CPU.run(budget:)`.
//
// Shape (see docs/ARCHITECTURE.md, "JIT"):
//   * The dispatcher (`run`) repeats the interpreter loop's boundary checks (exit request,
//     shutdown, NMI/interrupt delivery, HLT) and, where the interpreter would call `step`, looks
//     up the block for the current state (translating it on a miss) and runs it. It falls back to
//     `CPU.step` for one instruction when TF is set, an interrupt shadow is active, a trace hook is
//     installed, the code is not in RAM/ROM, or the block has more instructions than the budget.
//   * Blocks are keyed by the host address of their first byte (RAM or ROM image: unique per
//     physical byte and robust against shadow-RAM remapping) plus everything translation depends
//     on: RIP, CS base and limit, mode bits, CPL and which data segments are flat.
//   * Generated code runs with rbp = CPUState, r15 = the JIT context (budget, jump cache),
//     r14 = the soft TLB. Every block starts with `sub [r15+budget], N; jl bail`: the one
//     compare-and-branch that bounds chained execution. Everything else that ends a run of blocks
//     (exit request, interrupts, HLT, mode or segment changes, TLB flushes, code invalidation)
//     can only happen inside a helper call, and helpers report it in their return value, so the
//     block leaves right after that instruction.
//   * Guest state is in CPUState between instructions (except inside a register-resident
//     self-loop, TranslatorLoop.swift, which has no helper calls and stores it at its exits), lazy flags
//     are written exactly as the interpreter writes them, so a helper (the interpreter executing
//     one instruction) or the next dispatcher iteration always sees the same state `step` would.

import CPU
import CPUState
import Glibc

/// Exit codes a block leaves in rax.
enum JITExit {
    static let stop: UInt64 = 0          // state complete; back to the dispatcher's checks
    static let indirect: UInt64 = 1      // continue at RIP (in state): look it up, fill the jump cache
    static let chainTag: UInt64 = 2      // (slot << 2) | 2: continue at a constant target; may be patched
}

/// Offsets in the JIT context (r15).
enum JITContextLayout {
    static let budget = 0
    static let target = 8
    static let engine = 16
    /// The jump cache's tag salt: entries hold `rip ^ salt` (see `clearJumpCache`).
    static let jumpCacheSalt = 24
    static let jumpCache = 64
    static let jumpCacheBits = 12
    static let jumpCacheEntries = 1 << jumpCacheBits
    static let size = jumpCache + jumpCacheEntries * 16
    @inline(__always) static func jcIndex(_ rip: UInt64) -> Int {
        Int(((rip >> 12) ^ rip) & UInt64(jumpCacheEntries - 1))
    }
}

/// Bits of `BlockKey.flags` above the MODE_* bits.
enum JITKeyBits {
    static let cpl = 8          // 2 bits
    static let flat = 10        // 6 bits, one per segment ES..GS
    static let readable = 16    // 6 bits
    static let writable = 24    // 6 bits
}

/// What a block was translated under. Equal keys mean identical generated code would result.
struct BlockKey: Equatable {
    var host: UInt          // host address of the first byte
    var rip: UInt64
    var csBase: UInt64
    var csLimit: UInt32
    var flags: UInt32       // MODE_* bits, then JITKeyBits
}

/// The part of the key that describes the CPU state (everything but the code address).
struct StateKey: Equatable {
    var csBase: UInt64
    var csLimit: UInt32
    var flags: UInt32
}

struct Block {
    var key: BlockKey
    var code: UInt64         // RX entry address
    var count: Int32         // guest instructions
    var hashNext: Int32
    var valid: Bool
    var ramPage: Int32       // RAM page index of the bytes, -1 for ROM
    var hostEnd: UInt        // one past the last instruction byte
    var linPage: UInt64      // linear page of the first byte
}

/// A patchable direct exit of a block.
struct ExitSlot {
    var block: Int32
    var field: UInt64        // RX address of the rel32 field
    var stub: UInt64         // its original target (the cold stub that returns to the dispatcher)
    var linkedTo: Int32      // block it is patched to, or -1
}

public final class JITEngine {
    public let cpu: CPU
    public let cache: CodeCache
    let s: UnsafeMutablePointer<CPUState>
    let mem: PhysicalMemory
    let ctx: UnsafeMutableRawPointer
    let tlbBase: UnsafeMutableRawPointer

    // Block table.
    var blocks: UnsafeMutablePointer<Block>
    var blockCapacity: Int
    var blockCount = 0
    var incoming: [[Int32]] = []             // per block: exit slots patched to jump to it
    var slots: [ExitSlot] = []
    static let hashBits = 16
    let buckets: UnsafeMutablePointer<Int32>
    var pageBlocks: [Int32: [Int32]] = [:]   // RAM page -> blocks translated from it
    let codePages: UnsafeMutablePointer<UInt8>
    let ramPages: Int

    // Per-generation stubs (re-emitted after each flush).
    var entryStub: UnsafeRawPointer?
    var indirectStub: UInt64 = 0
    var carryStub: UInt64 = 0
    var invalidatedStub: UInt64 = 0
    var stubGeneration: UInt64 = .max

    // Dispatcher state.
    var activeKey = StateKey(csBase: 0, csLimit: 0, flags: 0)
    var jumpCacheKey: StateKey? = nil
    var pendingSlot: Int = -1
    var pendingIndirect = false
    var insideCode = false
    /// Set by hooks while generated code runs; helpers turn it into a block exit.
    var event = false
    var tlbFlushed = false
    var codeInvalidated = false
    var flushRequested = false
    var scratch = Instr()
    let translator: Translator
    /// Decoded instructions of this cache generation's blocks: helper calls pass `jitExec` an
    /// index into this arena. It only grows while translating (never while generated code runs)
    /// and is emptied by `flushAll` together with the code that refers to it.
    var instrArena: UnsafeMutablePointer<Instr>
    var instrArenaCapacity = 4096
    var instrArenaCount = 0
    /// Debugging / measurement: helpers re-decode with `CPU.step` (JIT_NOEXEC=1).
    let execDecoded = getenv("JIT_NOEXEC") == nil
    /// Self-loops of register-only instructions run with guest registers and flags in host
    /// registers (TranslatorLoop.swift); JIT_NOLOOP=1 turns that off (measurement, debugging).
    public var registerLoops = getenv("JIT_NOLOOP") == nil

    // Options.
    /// Largest number of guest instructions per block.
    public var maxBlockInstructions = 64 {
        didSet { maxBlockInstructions = Swift.max(1, Swift.min(maxBlockInstructions, 256)) }
    }
    /// Debugging: leave `run` after every block or interpreted step (returning `.budget`), with
    /// chaining and the jump cache disabled. `lastRunSteps` tells how many steps were taken.
    public var singleBlock = false
    /// Debugging: called after each translation with the guest RIP, the number of guest
    /// instructions and the host code (for disassembly).
    public var onTranslate: ((UInt64, Int, UnsafeRawBufferPointer) -> Void)?
    /// Steps (instructions, faulting instructions and delivered interrupts) of the last `run`.
    public private(set) var lastRunSteps = 0

    // Statistics.
    public private(set) var blocksTranslated = 0
    /// Blocks translated as register-resident loops (TranslatorLoop.swift).
    public internal(set) var loopBlocksTranslated = 0
    public private(set) var blockEntries: UInt64 = 0
    public private(set) var interpretedSteps: UInt64 = 0
    public private(set) var invalidations = 0
    public private(set) var flushes = 0
    public private(set) var chainsPatched = 0
    public private(set) var exitsStop: UInt64 = 0
    public private(set) var exitsIndirect: UInt64 = 0
    public private(set) var exitsChain: UInt64 = 0
    public private(set) var stepsNoBlock: UInt64 = 0
    /// Debugging: count helper-executed instructions by mnemonic in `helperCounts`.
    public var profileHelpers = false
    /// Native instructions that took their slow path (TLB miss, limit, page crossing, bad target).
    public private(set) var slowPathSteps: UInt64 = 0
    public private(set) var tlbFlushCount: UInt64 = 0
    public private(set) var tlbFills: UInt64 = 0
    public private(set) var helperCounts: [String: Int] = [:]
    public private(set) var slowRIPs: [UInt64: Int] = [:]
    public private(set) var slowText: [UInt64: String] = [:]

    /// Bytes and mnemonic of the instruction at `rip` (debugging).
    public func describeInstruction(at rip: UInt64) -> String {
        let sk = currentStateKey()
        let lin = sk.flags & UInt32(MODE_CS64) != 0 ? rip : (sk.csBase &+ rip) & 0xFFFF_FFFF
        guard let h = codePointer(lin, user: s.pointee.cpl == 3) else { return "?" }
        let n = min(15, 4096 - Int(lin & 0xFFF))
        let bytes = Array(UnsafeBufferPointer(start: UnsafePointer<UInt8>(bitPattern: h)!, count: n))
        var t = bytes.map { String($0, radix: 16) }.joined(separator: " ")
        if let d = try? cpu.table.decode(bytes: bytes, mode: cpu.acceleratorDecodeMode) {
            t = bytes.prefix(Int(d.len)).map { String($0, radix: 16) }.joined(separator: " ") + " \(d.mn) seg \(d.seg)"
        }
        return t
    }
    /// Host time spent translating (ns).
    public private(set) var translateNanos: UInt64 = 0

    /// One line of counters for logs and benchmarks.
    public var statistics: String {
        "blocks translated \(blocksTranslated) (register loops \(loopBlocksTranslated)), block entries \(blockEntries), interpreted steps \(interpretedSteps) (slow paths \(slowPathSteps)), "
            + "chains \(chainsPatched), invalidations \(invalidations), flushes \(flushes), code bytes \(cache.blockBytes); "
            + "exits: stop \(exitsStop), jump-cache miss \(exitsIndirect), unchained \(exitsChain); dispatcher steps \(stepsNoBlock); translation \(translateNanos / 1_000_000) ms; TLB flushes \(tlbFlushCount), TLB fills \(tlbFills)"
    }

    /// - Parameters:
    ///   - cacheSize: bytes of executable memory; when it fills, every block is discarded.
    public init(cpu: CPU, cacheSize: Int = 64 << 20) throws {
        self.cpu = cpu
        s = cpu.s
        mem = cpu.mem
        cache = try CodeCache(size: cacheSize, minimumFree: Swift.min(64 << 10, cacheSize / 4))
        ctx = UnsafeMutableRawPointer.allocate(byteCount: JITContextLayout.size, alignment: 64)
        ctx.initializeMemory(as: UInt8.self, repeating: 0, count: JITContextLayout.size)
        tlbBase = UnsafeMutableRawPointer(s.pointee.tlb)
        blockCapacity = 1024
        blocks = .allocate(capacity: blockCapacity)
        instrArena = .allocate(capacity: instrArenaCapacity)
        buckets = .allocate(capacity: 1 << JITEngine.hashBits)
        buckets.initialize(repeating: -1, count: 1 << JITEngine.hashBits)
        ramPages = Int((mem.ramSize + 4095) >> 12)
        codePages = .allocate(capacity: ramPages)
        codePages.initialize(repeating: 0, count: ramPages)
        translator = Translator()
        translator.engine = self
        clearJumpCache()
        ctx.storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), toByteOffset: JITContextLayout.engine,
                       as: UnsafeMutableRawPointer.self)
        // Hooks: code-page stores, DMA and loader writes, TLB flushes.
        mem.codePages = codePages
        mem.onCodeWrite = { [unowned self] off, n in self.codeWritten(ramOffset: off, count: UInt64(n)) }
        let previousExternal = mem.onExternalWrite
        mem.onExternalWrite = { [unowned self] pa, n in
            self.notifyWrite(physical: pa, length: n)
            previousExternal?(pa, n)
        }
        let previousFlush = cpu.onTLBFlush
        cpu.onTLBFlush = { [unowned self] in
            self.tlbFlushCount &+= 1
            self.tlbFlushed = true
            self.event = true
            previousFlush?()
        }
    }

    deinit {
        if mem.codePages == codePages {
            mem.codePages = nil
            mem.onCodeWrite = nil
        }
        ctx.deallocate()
        blocks.deallocate()
        buckets.deallocate()
        codePages.deallocate()
        instrArena.deallocate()
    }

    // MARK: run loop

    /// Runs until `budget` steps are done, HLT, shutdown or an exit request, with the semantics
    /// of `CPU.run(budget:)` (steps = instructions executed or faulting plus interrupts delivered).
    public func run(budget: Int) -> StopReason {
        var n = budget
        defer { lastRunSteps = budget - n }
        while n > 0 {
            if s.pointee.exit_request != 0 {
                s.pointee.exit_request = 0
                return .exitRequest
            }
            if s.pointee.shutdown != 0 { return .shutdown }
            if (cpu.interruptPending || s.pointee.nmi_pending != 0) && s.pointee.intr_shadow == 0 {
                if cpu.acceleratorCheckExternalInterrupt() {
                    n -= 1
                    pendingSlot = -1; pendingIndirect = false
                    if singleBlock { return .budget }
                    continue
                }
            }
            if s.pointee.halted != 0 { return .halted }
            if event { handleEvents() }
            var entered = false
            if s.pointee.rflags & FlagBit.TF == 0 && s.pointee.intr_shadow == 0 && cpu.trace == nil {
                let b = lookup()
                if b >= 0 && Int(blocks[b].count) <= n {
                    if pendingSlot >= 0 { link(slot: pendingSlot, to: b) }
                    if pendingIndirect { fillJumpCache(b) }
                    pendingSlot = -1; pendingIndirect = false
                    ctx.storeBytes(of: Int64(n), toByteOffset: JITContextLayout.budget, as: Int64.self)
                    ctx.storeBytes(of: blocks[b].code, toByteOffset: JITContextLayout.target, as: UInt64.self)
                    blockEntries &+= 1
                    insideCode = true
                    let r = cache.enter(entryStub!, state: UnsafeMutableRawPointer(s))
                    insideCode = false
                    n = Int(ctx.load(fromByteOffset: JITContextLayout.budget, as: Int64.self))
                    if r & 3 == JITExit.chainTag {
                        pendingSlot = singleBlock ? -1 : Int(r >> 2)
                        exitsChain &+= 1
                    } else if r == JITExit.indirect {
                        pendingIndirect = !singleBlock
                        exitsIndirect &+= 1
                    } else {
                        exitsStop &+= 1
                    }
                    entered = true
                }
            }
            if !entered {
                pendingSlot = -1; pendingIndirect = false
                cpu.step(&scratch)
                interpretedSteps &+= 1
                stepsNoBlock &+= 1
                n -= 1
            }
            if singleBlock { return .budget }
        }
        return .budget
    }

    func handleEvents() {
        event = false
        if flushRequested {
            flushRequested = false
            flushAll()
        }
        if tlbFlushed {
            tlbFlushed = false
            clearJumpCache()
            pendingIndirect = false
        }
        if codeInvalidated {
            codeInvalidated = false
            pendingIndirect = false
        }
    }

    // MARK: keys and lookup

    /// The state part of the block key for the current CPU state.
    @inline(__always)
    func currentStateKey() -> StateKey {
        let m = s.pointee.mode
        var flags = m | (s.pointee.cpl & 3) << 8
        if m & UInt32(MODE_CS64) != 0 { return StateKey(csBase: 0, csLimit: 0, flags: flags) }
        let sr = cpu.sreg
        // Per data segment: readable / writable by `linear`'s fast path (present expand-up
        // data), and flat (base 0, limit 4 GiB: no limit check or base add needed).
        @inline(__always) func flat(_ seg: Int) {
            let sc = sr + seg
            let a = UInt32(sc.pointee.attr)
            if a & 0x9C == 0x90 { flags |= 1 << UInt32(JITKeyBits.readable + seg) }
            if a & 0x9E == 0x92 { flags |= 1 << UInt32(JITKeyBits.writable + seg) }
            if sc.pointee.base == 0 && sc.pointee.limit == 0xFFFF_FFFF { flags |= 1 << UInt32(JITKeyBits.flat + seg) }
        }
        flat(0); flat(2); flat(3); flat(4); flat(5)
        return StateKey(csBase: sr[1].base, csLimit: sr[1].limit, flags: flags)
    }

    @inline(__always)
    func hash(_ host: UInt, _ rip: UInt64, _ flags: UInt32) -> Int {
        var h = UInt64(host) &* 0x9E37_79B9_7F4A_7C15
        h ^= rip &* 0xC2B2_AE3D_27D4_EB4F
        h ^= UInt64(flags) &* 0x1656_67B1_9E37_79F9
        return Int(truncatingIfNeeded: (h >> 40) & UInt64((1 << JITEngine.hashBits) - 1))
    }

    /// Finds or translates the block at the current RIP; -1 when the interpreter must step.
    func lookup() -> Int {
        let sk = currentStateKey()
        activeKey = sk
        if jumpCacheKey != sk {
            clearJumpCache()
            jumpCacheKey = sk
        }
        let rip = s.pointee.rip
        let code64 = sk.flags & UInt32(MODE_CS64) != 0
        let lin: UInt64
        if code64 {
            if UInt64(bitPattern: Int64(bitPattern: rip << 16) >> 16) != rip { return -1 }
            lin = rip
        } else {
            if rip > UInt64(sk.csLimit) { return -1 }
            lin = (sk.csBase &+ rip) & 0xFFFF_FFFF
        }
        let user = s.pointee.cpl == 3
        guard let host = codePointer(lin, user: user) else { return -1 }
        let key = BlockKey(host: host, rip: rip, csBase: sk.csBase, csLimit: sk.csLimit, flags: sk.flags)
        let h = hash(host, rip, sk.flags)
        var i = buckets[h]
        while i >= 0 {
            if blocks[Int(i)].key == key { return Int(i) }
            i = blocks[Int(i)].hashNext
        }
        if cache.generation != stubGeneration || cache.isFull {
            if cache.isFull { flushAll() }
            installStubs()
        }
        return translate(key: key, lin: lin, hash: h)
    }

    /// Host address of the code byte at linear `lin` (exec TLB, else a page walk), or nil when it
    /// is not RAM/ROM or the fetch would fault (the interpreter then raises the fault).
    func codePointer(_ lin: UInt64, user: Bool) -> UInt? {
        let idx = Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        let e = tlb_entries(s.pointee.tlb, user ? 1 : 0, Int32(TLB_EXEC))! + idx
        if e.pointee.tag != lin & ~0xFFF {
            do { _ = try cpu.translate(lin, kind: .exec, user: user) } catch { return nil }
            if e.pointee.tag != lin & ~0xFFF { return nil }
        }
        return UInt(truncatingIfNeeded: e.pointee.addend &+ lin)
    }

    // MARK: translation bookkeeping

    @inline(__always) static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }

    func translate(key: BlockKey, lin: UInt64, hash h: Int) -> Int {
        let t0 = JITEngine.now()
        defer { translateNanos &+= JITEngine.now() &- t0 }
        guard let r = translator.translate(key: key, lin: lin) else { return -1 }
        if let hook = onTranslate {
            hook(key.rip, r.count, UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: UInt(r.code)), count: r.size))
        }
        if blockCount == blockCapacity {
            let nb = UnsafeMutablePointer<Block>.allocate(capacity: blockCapacity * 2)
            nb.moveInitialize(from: blocks, count: blockCount)
            blocks.deallocate()
            blocks = nb
            blockCapacity *= 2
        }
        let idx = blockCount
        blockCount += 1
        let ramBase = UInt(bitPattern: mem.ram)
        var page: Int32 = -1
        if key.host >= ramBase && key.host < ramBase + UInt(mem.ramSize) {
            page = Int32((key.host - ramBase) >> 12)
        }
        (blocks + idx).initialize(to: Block(key: key, code: r.code, count: Int32(r.count), hashNext: buckets[h],
                                            valid: true, ramPage: page, hostEnd: key.host + UInt(r.bytes),
                                            linPage: lin >> 12))
        buckets[h] = Int32(idx)
        incoming.append([])
        for f in r.slotFields {
            slots.append(ExitSlot(block: Int32(idx), field: f.field, stub: f.stub, linkedTo: -1))
        }
        if page >= 0 {
            if codePages[Int(page)] == 0 {
                codePages[Int(page)] = 1
                dropWriteTLB(hostPage: key.host & ~0xFFF)
            }
            pageBlocks[page, default: []].append(Int32(idx))
        }
        blocksTranslated += 1
        return idx
    }

    /// Removes write-TLB entries that map the host page (it now holds translated code).
    func dropWriteTLB(hostPage: UInt) {
        for user in 0..<2 {
            let e = tlb_entries(s.pointee.tlb, Int32(user), Int32(TLB_WRITE))!
            for i in 0..<Int(TLB_ENTRIES) where e[i].tag != TLB_INVALID {
                if UInt(truncatingIfNeeded: e[i].addend &+ e[i].tag) == hostPage { e[i].tag = TLB_INVALID }
            }
        }
    }

    /// Patches exit slot `slot` to jump straight to block `b` when that is safe: same state key
    /// and the same linear page as the block the slot belongs to.
    func link(slot: Int, to b: Int) {
        guard slot < slots.count, slots[slot].linkedTo < 0 else { return }
        let from = Int(slots[slot].block)
        guard blocks[from].valid, blocks[b].valid,
              blocks[from].key.flags == blocks[b].key.flags,
              blocks[from].key.csBase == blocks[b].key.csBase,
              blocks[from].key.csLimit == blocks[b].key.csLimit,
              blocks[from].linPage == blocks[b].linPage else { return }
        cache.patchRel32(fieldAt: slots[slot].field, target: blocks[b].code)
        slots[slot].linkedTo = Int32(b)
        incoming[b].append(Int32(slot))
        chainsPatched += 1
    }

    func fillJumpCache(_ b: Int) {
        let rip = blocks[b].key.rip
        let e = ctx + JITContextLayout.jumpCache + JITContextLayout.jcIndex(rip) * 16
        e.storeBytes(of: rip ^ (jumpCacheEpoch << 48), as: UInt64.self)
        e.storeBytes(of: blocks[b].code, toByteOffset: 8, as: UInt64.self)
    }

    /// Current jump-cache epoch, 1...0x7FFF. An entry's tag is `rip ^ (epoch << 48)`. RIPs are
    /// canonical (bits 63..48 all 0 or all 1), and two different epochs below 0x8000 differ in
    /// bits 63..48 by neither 0 nor 0xFFFF, so an entry of an earlier epoch can never match, and
    /// a zero tag never matches at all. Emptying the cache is therefore one increment; the
    /// 64 KiB table is only rewritten when the epochs wrap.
    var jumpCacheEpoch: UInt64 = 0

    func clearJumpCache() {
        if jumpCacheEpoch == 0 || jumpCacheEpoch >= 0x7FFF {
            let e = (ctx + JITContextLayout.jumpCache).assumingMemoryBound(to: UInt64.self)
            e.update(repeating: 0, count: 2 * JITContextLayout.jumpCacheEntries)
            jumpCacheEpoch = 1
        } else {
            jumpCacheEpoch += 1
        }
        ctx.storeBytes(of: jumpCacheEpoch << 48, toByteOffset: JITContextLayout.jumpCacheSalt, as: UInt64.self)
    }

    // MARK: invalidation

    /// Discards every translated block (e.g. after the machine loaded new code by other means).
    /// While generated code runs (a device called this from a helper) the flush is deferred to
    /// the end of the current instruction.
    public func invalidateAll() {
        if insideCode {
            flushRequested = true
            event = true
        } else {
            flushAll()
        }
    }

    /// Devices call this after writing guest RAM directly (DMA); `PhysicalMemory.writeBytes`
    /// already does through `onExternalWrite`, which the engine hooks.
    public func notifyWrite(physical pa: UInt64, length: UInt64) {
        guard length > 0 else { return }
        if pa == 0 && length >= mem.ramSize {
            invalidateAll()
            return
        }
        var a = pa & ~0xFFF
        let end = pa &+ length
        while a < end && a < PhysicalMemory.maxPhysical {
            if let p = mem.ramPointer(a) {
                let off = UInt64(p - mem.ram)
                let lo = Swift.max(a, pa), hi = Swift.min(a + 4096, end)
                codeWritten(ramOffset: off + (lo - a), count: hi - lo)
            }
            a += 4096
        }
    }

    /// A store (CPU slow path, DMA) changed RAM bytes [off, off+n): drop the blocks made from them.
    func codeWritten(ramOffset off: UInt64, count n: UInt64) {
        guard n > 0 else { return }
        let first = Int(off >> 12), last = Int((off + n - 1) >> 12)
        guard first < ramPages else { return }
        let ramBase = UInt(bitPattern: mem.ram)
        let lo = ramBase + UInt(off), hi = ramBase + UInt(off + n)
        for page in first...Swift.min(last, ramPages - 1) where codePages[page] != 0 {
            guard var list = pageBlocks[Int32(page)] else { codePages[page] = 0; continue }
            var k = 0
            while k < list.count {
                let b = Int(list[k])
                if blocks[b].key.host < hi && blocks[b].hostEnd > lo {
                    invalidate(b)
                    list.swapAt(k, list.count - 1)
                    list.removeLast()
                } else {
                    k += 1
                }
            }
            if list.isEmpty {
                pageBlocks[Int32(page)] = nil
                codePages[page] = 0
            } else {
                pageBlocks[Int32(page)] = list
            }
        }
    }

    func invalidate(_ b: Int) {
        guard blocks[b].valid else { return }
        blocks[b].valid = false
        invalidations += 1
        // Unlink from its hash chain.
        let k = blocks[b].key
        let h = hash(k.host, k.rip, k.flags)
        if buckets[h] == Int32(b) {
            buckets[h] = blocks[b].hashNext
        } else {
            var i = buckets[h]
            while i >= 0 {
                if blocks[Int(i)].hashNext == Int32(b) { blocks[Int(i)].hashNext = blocks[b].hashNext; break }
                i = blocks[Int(i)].hashNext
            }
        }
        // Direct jumps into it go back to their stubs.
        for sl in incoming[b] {
            let slot = Int(sl)
            if slots[slot].linkedTo == Int32(b) {
                cache.patchRel32(fieldAt: slots[slot].field, target: slots[slot].stub)
                slots[slot].linkedTo = -1
            }
        }
        incoming[b] = []
        // Jump-cache entries may still lead here: the entry now jumps to the stub that returns
        // to the dispatcher for a fresh lookup of RIP (every way into a block through the jump
        // cache has stored RIP first), so the cache need not be emptied.
        let entry = blocks[b].code
        let w = cache.writableAddress(of: entry)
        w.storeBytes(of: 0xE9, as: UInt8.self)
        w.storeBytes(of: X86Assembler.rel32(fieldAt: entry + 1, to: invalidatedStub)!, toByteOffset: 1, as: Int32.self)
        codeInvalidated = true
        event = true
    }

    /// Drops every block and empties the code cache.
    func flushAll() {
        cache.flush()
        instrArenaCount = 0
        flushes += 1
        blockCount = 0
        incoming.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        pageBlocks.removeAll(keepingCapacity: true)
        buckets.update(repeating: -1, count: 1 << JITEngine.hashBits)
        codePages.update(repeating: 0, count: ramPages)
        clearJumpCache()
        pendingSlot = -1
        pendingIndirect = false
        installStubs()
    }

    /// Emits the per-generation stubs at the start of the (just flushed) cache.
    func installStubs() {
        entryStub = translator.emitEntryStub(ctx: ctx, tlb: tlbBase)
        indirectStub = translator.emitIndirectStub()
        carryStub = translator.emitCarryStub()
        invalidatedStub = translator.emitInvalidatedStub()
        stubGeneration = cache.generation
    }

    // MARK: helpers called from generated code

    /// Executes the instruction at RIP with the interpreter. 0: continue with the next
    /// instruction at `next`; 1: leave the block (state complete); 2: continue at RIP (control
    /// went elsewhere but nothing else needs the dispatcher).
    @inline(__always)
    func helperStep(_ next: UInt64, slow: Bool = false) -> UInt64 {
        let startRIP = s.pointee.rip
        if slow && profileHelpers && slowRIPs[startRIP] == nil { slowText[startRIP] = describeInstruction(at: startRIP) }
        cpu.step(&scratch)
        interpretedSteps &+= 1
        if slow { slowPathSteps &+= 1; if profileHelpers { slowRIPs[startRIP, default: 0] += 1 } }
        if profileHelpers {
            var name = "\(scratch.mn)"
            if scratch.mn == .UNIMPL, scratch.infoIndex >= 0, Int(scratch.infoIndex) < cpu.table.infos.count {
                name = "UNIMPL " + cpu.table.names[Int(cpu.table.infos[Int(scratch.infoIndex)].nameIndex)]
            }
            helperCounts["\(slow ? "[slow] " : "")\(name)\(scratch.rep != 0 ? " rep" : "")\(scratch.isMem ? " m" : "")", default: 0] += 1
        }
        if scratch.mn == .INVLPG { tlbFlushed = true; event = true }
        return boundaryStatus(next)
    }

    /// TLB miss of a native access: walks the page tables for `lin` as the interpreter's slow
    /// path would (`translate`, which fills the TLB) and returns the host pointer, or 0 when the
    /// instruction must run in the interpreter instead (page crossing, non-canonical, fault, MMIO,
    /// a code page for writes, or an event such as an A/D-bit store into translated code).
    /// info = write | size << 8.
    func helperFill(_ lin: UInt64, _ info: UInt64) -> UInt64 {
        let write = info & 1 != 0
        let size = Int(info >> 8)
        if Int(lin & 0xFFF) + size > 4096 { return 0 }
        if s.pointee.mode & UInt32(MODE_CS64) != 0 {
            if UInt64(bitPattern: Int64(bitPattern: lin << 16) >> 16) != lin { return 0 }
        } else if lin > 0xFFFF_FFFF {
            return 0
        }
        let user = s.pointee.cpl == 3
        tlbFills &+= 1
        do { _ = try cpu.translate(lin, kind: write ? .write : .read, user: user) } catch { return 0 }
        if event { return 0 }
        let e = tlb_entries(s.pointee.tlb, user ? 1 : 0, Int32(write ? TLB_WRITE : TLB_READ))! + Int((lin >> 12) & UInt64(TLB_ENTRIES - 1))
        if e.pointee.tag != lin & ~0xFFF { return 0 }
        return e.pointee.addend &+ lin
    }

    /// Copies one decoded instruction (run by a helper) into the arena; returns its index.
    func storeInstr(_ d: Instr) -> Int {
        if instrArenaCount == instrArenaCapacity {
            let cap = instrArenaCapacity * 2
            let na = UnsafeMutablePointer<Instr>.allocate(capacity: cap)
            na.moveInitialize(from: instrArena, count: instrArenaCount)
            instrArena.deallocate()
            instrArena = na
            instrArenaCapacity = cap
        }
        (instrArena + instrArenaCount).initialize(to: d)
        instrArenaCount += 1
        return instrArenaCount - 1
    }

    /// `helperStep` for an instruction decoded at translation time (arena index `idx`).
    @inline(__always)
    func helperExec(_ next: UInt64, _ idx: UInt64, slow: Bool) -> UInt64 {
        let d = UnsafePointer(instrArena + Int(idx))
        if profileHelpers || trace { return helperStep(next, slow: slow) }
        cpu.acceleratorExecute(d, next: next)
        interpretedSteps &+= 1
        if slow { slowPathSteps &+= 1 }
        if d.pointee.mn == .INVLPG { tlbFlushed = true; event = true }
        return boundaryStatus(next)
    }

    var trace: Bool { cpu.trace != nil }

    @inline(__always)
    func boundaryStatus(_ next: UInt64) -> UInt64 {
        if s.pointee.exit_request | s.pointee.shutdown | s.pointee.halted | s.pointee.intr_shadow != 0 { return 1 }
        if s.pointee.rflags & FlagBit.TF != 0 || event { return 1 }
        if cpu.acceleratorInterruptDeliverable { return 1 }
        if currentStateKey() != activeKey { return 1 }
        return s.pointee.rip == next ? 0 : (singleBlock ? 1 : 2)
    }
}

// MARK: C entry points for generated code

@inline(__always)
private func withEngine<R>(_ ctx: UnsafeMutableRawPointer, _ body: (JITEngine) -> R) -> R {
    let p = ctx.load(fromByteOffset: JITContextLayout.engine, as: UnsafeMutableRawPointer.self)
    return Unmanaged<JITEngine>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
}

private func jitStep(_ ctx: UnsafeMutableRawPointer, _ next: UInt64) -> UInt64 {
    withEngine(ctx) { $0.helperStep(next) }
}

private func jitStepSlow(_ ctx: UnsafeMutableRawPointer, _ next: UInt64) -> UInt64 {
    withEngine(ctx) { $0.helperStep(next, slow: true) }
}

private func jitFill(_ ctx: UnsafeMutableRawPointer, _ lin: UInt64, _ info: UInt64) -> UInt64 {
    withEngine(ctx) { $0.helperFill(lin, info) }
}

private func jitExec(_ ctx: UnsafeMutableRawPointer, _ next: UInt64, _ d: UInt64) -> UInt64 {
    withEngine(ctx) { $0.helperExec(next, d, slow: false) }
}

private func jitExecSlow(_ ctx: UnsafeMutableRawPointer, _ next: UInt64, _ d: UInt64) -> UInt64 {
    withEngine(ctx) { $0.helperExec(next, d, slow: true) }
}

private func jitCondition(_ ctx: UnsafeMutableRawPointer, _ cc: UInt64) -> UInt64 {
    withEngine(ctx) { $0.cpu.condition(UInt8(truncatingIfNeeded: cc)) ? 1 : 0 }
}

private func jitFlags(_ ctx: UnsafeMutableRawPointer) -> UInt64 {
    withEngine(ctx) { $0.cpu.flags() }
}

enum JITHelpers {
    typealias Fn1 = @convention(c) (UnsafeMutableRawPointer) -> UInt64
    typealias Fn2 = @convention(c) (UnsafeMutableRawPointer, UInt64) -> UInt64
    typealias Fn3 = @convention(c) (UnsafeMutableRawPointer, UInt64, UInt64) -> UInt64
    static let exec: UInt64 = { let f: Fn3 = jitExec; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let execSlow: UInt64 = { let f: Fn3 = jitExecSlow; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let fill: UInt64 = { let f: Fn3 = jitFill; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let stepSlow: UInt64 = { let f: Fn2 = jitStepSlow; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let step: UInt64 = { let f: Fn2 = jitStep; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let condition: UInt64 = { let f: Fn2 = jitCondition; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
    static let flags: UInt64 = { let f: Fn1 = jitFlags; return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }()
}
