// Block formation and host code generation.
//
// A block is decoded once with the shared opcode table (`OpcodeTable.decode`, the interpreter's
// decoder) and ends after a control transfer or any instruction with the table's `end` attribute,
// a privileged or segment-loading instruction, at the end of the 4 KiB page (an instruction that
// would cross it is left to the next block, or to the interpreter when it is the first), at the CS
// limit, or after `maxBlockInstructions`.
//
// Each instruction is either emitted natively or as a call to `jitStep` (the interpreter executes
// exactly that one instruction with `CPU.step`, faults included). A native instruction checks
// everything that could make it fault or leave the fast path (soft-TLB miss, page crossing,
// branch target beyond the CS limit or not canonical) before it changes any guest state, and
// branches to a cold stub that runs the same instruction through `jitStep` instead; so MMIO,
// page walks, #PF/#GP and stores into translated code all take the interpreter's exact path.
//
// Register use inside a block: rbp = CPUState, r15 = JIT context, r14 = soft TLB, rbx = a value
// that must survive a helper call within one instruction; rax, rcx, rdx, rsi, rdi, r8 scratch.
//
// Lazy flags are written exactly as the interpreter writes them (`cc_dst`, `cc_src`, `cc_src2`,
// `cc_op`), or eagerly into RFLAGS with `cc_op = 0` where the interpreter sets flags eagerly.
// The translator tracks which lazy kind the last flag-writing instruction of the block left, so
// a Jcc/SETcc/CMOVcc/INC right after it recomputes the host flags from the stored operands with
// one host instruction instead of calling a helper.
//
// Instruction counting: `icount` is advanced in batches (before every helper call and at every
// exit), so a helper always sees the count the interpreter would have; the per-block budget is
// taken in one step at block entry and the unexecuted rest is given back on early exits.

import CPU
import CPUState

final class Translator {
    unowned(unsafe) var engine: JITEngine!
    let asm = X86Assembler(capacity: 1 << 16)

    struct Result {
        var code: UInt64
        var count: Int
        var bytes: Int
        var size: Int
        var slotFields: [(field: UInt64, stub: UInt64)]
    }

    enum FlagState: Equatable {
        case unknown                       // whatever the previous block / a helper left
        case lazy(CCKind, UInt8)           // cc_op = kind, size (bytes) written by this block
        case eager                         // cc_op = 0, status flags in RFLAGS
    }

    enum Cold {
        case slow(label: Label, k: Int, pending: Int, rejoin: Label?)
        case chainStub(label: Label, target: UInt64, slot: Int)
        case fill(label: Label, hit: Label, slow: Label, info: Int32)
    }

    // Offsets in CPUState.
    let offRIP = Int32(CPU_OFF_RIP)
    let offRFLAGS = Int32(CPU_OFF_RFLAGS)
    let offDst = Int32(CPU_OFF_CC_DST)
    let offSrc = Int32(CPU_OFF_CC_SRC)
    let offSrc2 = Int32(CPU_OFF_CC_SRC2)
    let offOp = Int32(CPU_OFF_CC_OP)
    let offSeg = Int32(CPU_OFF_SEG)
    let offICount = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.icount)!)
    let offYMM = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.ymm)!)
    let offCR0 = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.cr0)!)
    let offCR4 = Int32(MemoryLayout<CPUState>.offset(of: \CPUState.cr4)!)
    /// `sseKind` by opcode-table entry.
    var sseKinds: [Int: SSEKind] = [:]

    // Per-block state.
    var key = BlockKey(host: 0, rip: 0, csBase: 0, csLimit: 0, flags: 0)
    var code64 = false
    var user = 0
    var n = 0
    var pending = 0
    var flagState = FlagState.unknown
    var cold: [Cold] = []
    var chainFields: [(field: Int, stub: Label)] = []
    var stopLabels: [Label?] = []
    var indirectLabels: [Label?] = []
    var helperExitLabels: [Label?] = []
    var bail = Label(id: 0)
    // Per-instruction state.
    var k = 0
    var kPending = 0
    var kSlow: Label?
    var kRejoin: Label?
    var kEnds = false
    var rips: [UInt64] = []
    /// The block's decoded instructions, and the arena index (`JITEngine.storeInstr`) of each
    /// one a helper runs (-1: not stored). Only helper-run instructions are stored.
    var blockInstrs: [Instr] = []
    var arenaIndex: [Int32] = []
    var nexts: [UInt64] = []

    // MARK: entry points

    /// Decodes and translates the block for `key` starting at linear address `lin`.
    func translate(key: BlockKey, lin: UInt64) -> Result? {
        let e = engine!
        var instrs: [Instr] = []
        rips.removeAll(keepingCapacity: true)
        nexts.removeAll(keepingCapacity: true)
        self.key = key
        code64 = key.flags & UInt32(MODE_CS64) != 0
        user = (key.flags >> 8) & 3 == 3 ? 1 : 0
        let mode = DecodeMode(code64: code64, default32: key.flags & UInt32(MODE_CS32) != 0)
        let ipMask: UInt64 = code64 ? ~0 : (key.flags & UInt32(MODE_CS32) != 0 ? 0xFFFF_FFFF : 0xFFFF)
        var avail = 4096 - Int(lin & 0xFFF)
        if !code64 {
            let room = UInt64(key.csLimit) &- key.rip &+ 1
            if room < UInt64(avail) { avail = Int(room) }
        }
        let host = UnsafePointer<UInt8>(bitPattern: key.host)!
        var off = 0
        var rip = key.rip
        let table = e.cpu.table
        while instrs.count < e.maxBlockInstructions && off < avail {
            var d = Instr()
            let w = FetchWindow(ptr: host + off, avail: Swift.min(15, avail - off))
            var ok = true
            do {
                try table.decode(w, mode: mode, into: &d, slow: { (_: Int) throws(Fault) -> UInt8 in throw Fault.gp(0xFFFF) })
            } catch {
                ok = false
            }
            if !ok {
                if instrs.isEmpty {
                    // Undecodable or crossing the page/limit: one interpreter step (which faults
                    // or fetches across the boundary itself). The "next" RIP is unknown.
                    d = Instr()
                    d.mn = .UNIMPL
                    d.len = 0
                    instrs.append(d); rips.append(rip); nexts.append(rip)
                }
                break
            }
            let next = (rip &+ UInt64(d.len)) & ipMask
            instrs.append(d); rips.append(rip); nexts.append(next)
            off += Int(d.len)
            if endsBlock(d) || next < rip { break }
            rip = next
        }
        return emitBlock(instrs, bytes: Swift.max(off, 1))
    }

    func endsBlock(_ d: Instr) -> Bool {
        if d.attrs.contains(.endsBlock) || d.attrs.contains(.privileged) { return true }
        switch d.mn {
        case .UNIMPL, .LES, .LDS, .LSS, .LFS, .LGS, .JMPF, .CALLF, .RETF, .IRET: return true
        case .POP: return d.op0.kind == .fixedSeg
        default: return false
        }
    }

    // MARK: block emission

    func emitBlock(_ instrs: [Instr], bytes: Int) -> Result? {
        let e = engine!
        let plan = loopPlan(instrs)
        if plan != nil { e.loopBlocksTranslated += 1 }
        for attempt in 0..<2 {
            // Stored per attempt: the flush before the retry empties the arena.
            blockInstrs = instrs
            arenaIndex = Array(repeating: -1, count: instrs.count)
            asm.reset(origin: e.cache.nextAddress(alignment: 16))
            n = instrs.count
            pending = 0
            flagState = .unknown
            cold.removeAll(keepingCapacity: true)
            chainFields.removeAll(keepingCapacity: true)
            stopLabels = Array(repeating: nil, count: n)
            indirectLabels = Array(repeating: nil, count: n)
            helperExitLabels = Array(repeating: nil, count: n)
            bail = asm.newLabel()

            asm.sub(.qword, Mem(.r15, Int32(JITContextLayout.budget)), Int32(n))
            asm.jcc(.l, bail)
            var terminated = false
            if let p = plan {
                emitLoopBlock(p, instrs)
                terminated = true
            }
            for i in 0..<n where plan == nil {
                k = i
                kPending = pending
                kSlow = nil
                kRejoin = nil
                kEnds = i == n - 1 && endsBlock(instrs[i])
                terminatedByLast = false
                var d = instrs[i]
                let before = asm.count
                if !emitNative(&d) {
                    precondition(asm.count == before, "native emitter left partial code")
                    emitHelper()
                } else {
                    if let r = kRejoin { asm.bind(r) }
                    pending += 1
                }
                if kEnds { terminated = terminatedByLast }
            }
            if !terminated {
                flushICount()
                emitChainExit(target: nexts[n - 1])
            }
            emitCold()
            for f in chainFields {
                asm.patchRel32(atOffset: f.field, target: asm.address(of: f.stub)!)
            }
            if let p = e.cache.install(asm) {
                let code = UInt64(UInt(bitPattern: p))
                return Result(code: code, count: n, bytes: bytes, size: asm.count,
                              slotFields: chainFields.map { (field: asm.origin + UInt64($0.field), stub: asm.address(of: $0.stub)!) })
            }
            if attempt == 0 {
                // Frees every generation's storage, this attempt's included (nothing refers to it).
                e.flushAll()
            }
        }
        return nil
    }

    /// Set by the emitter of the block's last instruction when it emitted the block's exits.
    var terminatedByLast = false

    /// Interpreter call for instruction k.
    func emitHelper() {
        flushICount()
        storeRIP(rips[k])
        emitExecCall(k, slow: false)
        asm.test(.dword, .rax, .rax)
        asm.jcc(.ne, helperExitLabel(k))
        flagState = .unknown
        // The interpreter counted the instruction itself.
        terminatedByLast = false
    }

    /// Calls the interpreter for instruction kk: with its decoded form when there is one.
    func emitExecCall(_ kk: Int, slow: Bool) {
        asm.mov(.qword, .rdi, .r15)
        asm.mov(.qword, .rsi, Int64(bitPattern: nexts[kk]))
        if engine.execDecoded && blockInstrs[kk].len != 0 {
            if arenaIndex[kk] < 0 { arenaIndex[kk] = Int32(engine.storeInstr(blockInstrs[kk])) }
            asm.mov(.dword, .rdx, Int64(arenaIndex[kk]))
            asm.call(absolute: slow ? JITHelpers.execSlow : JITHelpers.exec)
        } else {
            asm.call(absolute: slow ? JITHelpers.stepSlow : JITHelpers.step)
        }
    }

    func emitCold() {
        let exitAddr = engine.cache.exitAddress
        asm.align(16)
        // Bail-out: not enough budget for the whole block.
        asm.bind(bail)
        asm.add(.qword, Mem(.r15, Int32(JITContextLayout.budget)), Int32(n))
        storeRIP(key.rip)
        asm.alu(.xor, .dword, .rax, .rax)
        asm.jmp(absolute: exitAddr)
        var i = 0
        while i < cold.count {
            switch cold[i] {
            case .slow(let label, let kk, let pend, let rejoin):
                asm.bind(label)
                if pend > 0 { asm.add(.qword, Mem(.rbp, offICount), Int32(pend)) }
                storeRIP(rips[kk])
                emitExecCall(kk, slow: true)
                asm.test(.dword, .rax, .rax)
                asm.jcc(.ne, helperExitLabel(kk))
                if let r = rejoin {
                    // The main path counts this instruction in its pending batch.
                    asm.sub(.qword, Mem(.rbp, offICount), Int32(pend + 1))
                    asm.jmp(r)
                } else {
                    asm.jmp(indirectLabel(kk))
                }
            case .fill(let label, let hit, let slow, let info):
                // TLB miss: walk and fill, keep the live scratch registers, retry natively.
                asm.bind(label)
                asm.mov(.qword, JITABI.spillSlot(0), .rax)
                asm.mov(.qword, JITABI.spillSlot(1), .rcx)
                asm.mov(.qword, JITABI.spillSlot(2), .r8)
                asm.mov(.qword, .rdi, .r15)
                asm.mov(.dword, .rdx, Int64(info))
                asm.call(absolute: JITHelpers.fill)
                asm.mov(.qword, .rsi, .rax)
                asm.mov(.qword, .rax, JITABI.spillSlot(0))
                asm.mov(.qword, .rcx, JITABI.spillSlot(1))
                asm.mov(.qword, .r8, JITABI.spillSlot(2))
                asm.test(.qword, .rsi, .rsi)
                asm.jcc(.e, slow)
                asm.jmp(hit)
            case .chainStub(let label, let target, let slot):
                asm.bind(label)
                if samePage(target) {
                    storeRIP(target)
                    asm.mov(.dword, .rax, Int64(slot << 2) | Int64(JITExit.chainTag))
                    asm.jmp(absolute: exitAddr)
                } else {
                    // Never patched (another linear page may be remapped): through the jump cache.
                    asm.mov(.qword, .rax, Int64(bitPattern: target))
                    asm.mov(.qword, Mem(.rbp, offRIP), .rax)
                    asm.jmp(absolute: engine.indirectStub)
                }
            }
            i += 1
        }
        // Shared exits (a helper exit may create an indirect and a stop exit).
        for kk in 0..<n {
            if let l = helperExitLabels[kk] {
                asm.bind(l)
                asm.cmp(.dword, .rax, 1)
                asm.jcc(.e, stopLabel(kk))
                asm.jmp(indirectLabel(kk))
            }
        }
        for kk in 0..<n {
            if let l = indirectLabels[kk] {
                asm.bind(l)
                let back = n - (kk + 1)
                if back > 0 { asm.add(.qword, Mem(.r15, Int32(JITContextLayout.budget)), Int32(back)) }
                asm.mov(.qword, .rax, Mem(.rbp, offRIP))
                asm.jmp(absolute: engine.indirectStub)
            }
            if let l = stopLabels[kk] {
                asm.bind(l)
                let back = n - (kk + 1)
                if back > 0 { asm.add(.qword, Mem(.r15, Int32(JITContextLayout.budget)), Int32(back)) }
                asm.alu(.xor, .dword, .rax, .rax)
                asm.jmp(absolute: exitAddr)
            }
        }
    }

    func stopLabel(_ kk: Int) -> Label {
        if let l = stopLabels[kk] { return l }
        let l = asm.newLabel(); stopLabels[kk] = l; return l
    }
    func indirectLabel(_ kk: Int) -> Label {
        if let l = indirectLabels[kk] { return l }
        let l = asm.newLabel(); indirectLabels[kk] = l; return l
    }
    func helperExitLabel(_ kk: Int) -> Label {
        if let l = helperExitLabels[kk] { return l }
        let l = asm.newLabel(); helperExitLabels[kk] = l; return l
    }

    /// The cold path of the current native instruction: run it with the interpreter instead.
    func slowLabel() -> Label {
        if let l = kSlow { return l }
        let l = asm.newLabel()
        kSlow = l
        let rejoin: Label? = kEnds ? nil : asm.newLabel()
        kRejoin = rejoin
        cold.append(.slow(label: l, k: k, pending: kPending, rejoin: rejoin))
        return l
    }

    // MARK: small emitters

    func flushICount() {
        if pending > 0 {
            asm.add(.qword, Mem(.rbp, offICount), Int32(pending))
            pending = 0
        }
    }

    func storeRIP(_ v: UInt64) {
        if Int32(exactly: Int64(bitPattern: v)) != nil {
            asm.mov(.qword, Mem(.rbp, offRIP), Int32(truncatingIfNeeded: Int64(bitPattern: v)))
        } else {
            asm.mov(.qword, .rax, Int64(bitPattern: v))
            asm.mov(.qword, Mem(.rbp, offRIP), .rax)
        }
    }

    /// True when `target` (a RIP) is in the linear page of the block's first byte (chainable).
    func samePage(_ target: UInt64) -> Bool {
        let lin = code64 ? target : (key.csBase &+ target) & 0xFFFF_FFFF
        let start = code64 ? key.rip : (key.csBase &+ key.rip) & 0xFFFF_FFFF
        return lin >> 12 == start >> 12
    }

    /// A direct exit to `target`: a patchable jump, initially to a stub returning to the dispatcher.
    func emitChainExit(target: UInt64) {
        let field = asm.jmpPatchable()
        addChainStub(field: field, target: target)
    }

    func addChainStub(field: Int, target: UInt64) {
        let stub = asm.newLabel()
        let slot = engine.slots.count + chainFields.count
        chainFields.append((field: field, stub: stub))
        cold.append(.chainStub(label: stub, target: target, slot: slot))
    }

    /// Per-generation entry stub: loads the pinned registers and jumps to ctx.target.
    func emitEntryStub(ctx: UnsafeMutableRawPointer, tlb: UnsafeMutableRawPointer) -> UnsafeRawPointer {
        let c = engine.cache
        asm.reset(origin: c.nextAddress(alignment: 16))
        asm.mov(.qword, .r15, Int64(Int(bitPattern: ctx)))
        asm.mov(.qword, .r14, Int64(Int(bitPattern: tlb)))
        asm.jmp(Mem(.r15, Int32(JITContextLayout.target)))
        return c.install(asm)!
    }

    /// Per-generation stub an invalidated block's entry is patched to jump to: back to the
    /// dispatcher to look up RIP again (as a jump-cache miss).
    func emitInvalidatedStub() -> UInt64 {
        let c = engine.cache
        asm.reset(origin: c.nextAddress(alignment: 16))
        asm.mov(.dword, .rax, Int64(JITExit.indirect))
        asm.jmp(absolute: c.exitAddress)
        return UInt64(UInt(bitPattern: c.install(asm)!))
    }

    /// Per-generation carry stub, called (near) from blocks that need the guest CF while the
    /// lazy flag state is unknown at translation time (INC/DEC/ADC/SBB at a block start):
    /// rbx = CF (0 or 1) of `cc_op`/`cc_src`/`cc_src2` as `materializeFlags` would compute it;
    /// clobbers the caller-saved registers. ADD/SUB are recomputed with both operands shifted to
    /// the top of a 64-bit register (the carry out of bit 63 is the carry at the operand size);
    /// the rare ADC/SBB states call `jitFlags`.
    func emitCarryStub() -> UInt64 {
        let c = engine.cache
        asm.reset(origin: c.nextAddress(alignment: 16))
        let eager = asm.newLabel(), zero = asm.newLabel(), incdec = asm.newLabel()
        let add = asm.newLabel(), sub = asm.newLabel()
        asm.mov(.dword, .rax, Mem(.rbp, offOp))
        asm.mov(.dword, .rdx, .rax)
        asm.shr(.dword, .rdx, 2)
        asm.jcc(.e, eager)
        asm.cmp(.dword, .rdx, Int32(CCKind.logic.rawValue))
        asm.jcc(.e, zero)
        asm.cmp(.dword, .rdx, Int32(CCKind.inc.rawValue))
        asm.jcc(.ae, incdec)
        asm.cmp(.dword, .rdx, Int32(CCKind.add.rawValue))
        asm.jcc(.e, add)
        asm.cmp(.dword, .rdx, Int32(CCKind.sub.rawValue))
        asm.jcc(.e, sub)
        // ADC/SBB: materialise (the call needs the ABI's 16-byte stack alignment).
        asm.sub(.qword, .rsp, 8)
        asm.mov(.qword, .rdi, .r15)
        asm.call(absolute: JITHelpers.flags)
        asm.add(.qword, .rsp, 8)
        asm.bind(eager)
        asm.mov(.qword, .rbx, Mem(.rbp, offRFLAGS))
        asm.and(.dword, .rbx, 1)
        asm.ret()
        asm.bind(zero)
        asm.alu(.xor, .dword, .rbx, .rbx)
        asm.ret()
        asm.bind(incdec)
        asm.mov(.qword, .rbx, Mem(.rbp, offSrc))
        asm.and(.dword, .rbx, 1)
        asm.ret()
        // cl = 64 - operand bits; rax = cc_src2 << cl, rdx = cc_src << cl.
        func shifted() {
            asm.and(.dword, .rax, 3)
            asm.mov(.dword, .rcx, .rax)
            asm.mov(.dword, .rax, 8)
            asm.shl(.dword, .rax, .cl)
            asm.mov(.dword, .rcx, 64)
            asm.alu(.sub, .dword, .rcx, .rax)
            asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
            asm.mov(.qword, .rdx, Mem(.rbp, offSrc))
            asm.shl(.qword, .rax, .cl)
            asm.shl(.qword, .rdx, .cl)
        }
        for (label, op) in [(add, ALUOp.add), (sub, ALUOp.cmp)] {
            asm.bind(label)
            shifted()
            asm.alu(op, .qword, .rax, .rdx)
            asm.setcc(.b, .rbx)
            asm.movzx(.dword, .rbx, .byte, .rbx)
            asm.ret()
        }
        return UInt64(UInt(bitPattern: c.install(asm)!))
    }

    /// Per-generation jump-cache lookup: rax = target RIP (already stored in CPUState); an entry
    /// matches when its tag is `rip ^ salt` (`JITEngine.clearJumpCache`).
    func emitIndirectStub() -> UInt64 {
        let c = engine.cache
        asm.reset(origin: c.nextAddress(alignment: 16))
        let miss = asm.newLabel()
        asm.mov(.qword, .rcx, .rax)
        asm.shr(.qword, .rcx, 12)
        asm.alu(.xor, .qword, .rcx, .rax)
        asm.and(.dword, .rcx, Int32(JITContextLayout.jumpCacheEntries - 1))
        asm.shl(.dword, .rcx, 4)
        asm.mov(.qword, .rdx, Mem(.r15, Int32(JITContextLayout.jumpCacheSalt)))
        asm.alu(.xor, .qword, .rdx, .rax)
        asm.cmp(.qword, .rdx, Mem(base: .r15, index: .rcx, scale: 1, disp: Int32(JITContextLayout.jumpCache)))
        asm.jcc(.ne, miss, short: true)
        asm.jmp(Mem(base: .r15, index: .rcx, scale: 1, disp: Int32(JITContextLayout.jumpCache + 8)))
        asm.bind(miss)
        asm.mov(.dword, .rax, Int64(JITExit.indirect))
        asm.jmp(absolute: c.exitAddress)
        return UInt64(UInt(bitPattern: c.install(asm)!))
    }
}
