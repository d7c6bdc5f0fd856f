// Register-resident self-loops.
//
// A block whose last instruction is a conditional branch back to its own first instruction, and
// whose other instructions only compute on general-purpose registers (no memory, no helper, no
// instruction that can fault), is emitted as a host loop:
//
//   * every guest register the body uses lives in its own host register for the whole loop
//     (loaded once at entry, dirty ones stored at the exits);
//   * each guest instruction is the same host instruction on those registers, so the guest
//     status flags are the host flags: the branch tests them directly and the exits store them
//     (pushfq) as eager flags (cc_op = 0). Guest flags are loaded into the host flags at entry
//     only when the body can observe or pass through a flag it did not write;
//   * the budget becomes an iteration count in rcx (budget / block length, computed at entry);
//     `jrcxz` + `lea` test and count it without touching the flags, and the exits charge the
//     iterations run to the budget and `icount` in one step.
//
// Only instructions whose host result and flags equal the interpreter's are accepted (ALU, INC,
// DEC, NEG, NOT, MOV, LEA, MOVZX/MOVSX, CLC/STC/CMC, NOP: their flags are fully defined, and for
// AND/OR/XOR/TEST the undefined AF is 0 on the host as in the interpreter). Legacy high-byte
// registers (AH..BH) are left to the normal translation. Everything else is unchanged: a block
// that does not qualify is translated the usual way.

import CPU
import CPUState

extension Translator {
    /// Host registers that hold guest registers inside a loop (rcx is the iteration counter;
    /// rbp, r14, r15 are pinned; rsp is the host stack).
    static let loopPool: [Reg] = [.rax, .rdx, .rbx, .rsi, .rdi, .r8, .r9, .r10, .r11, .r12, .r13]

    /// The plan for a register-resident loop: guest register -> host register, and which guest
    /// registers the body writes.
    struct LoopPlan {
        var host: [Reg?] = Array(repeating: nil, count: 16)
        var used: [UInt8] = []
        var dirty: UInt16 = 0
        var loadFlags = false
        var cond = Cond.o
    }

    /// Guest register of a register operand (nil for anything else or AH..BH).
    func loopReg(_ o: Operand, _ d: Instr, _ size: UInt8) -> UInt8? {
        let r: UInt8
        switch o.kind {
        case .E: if d.isMem { return nil }; r = d.rm
        case .R: r = d.rm
        case .G: r = d.reg
        case .Z: r = zreg(d)
        case .fixedReg: r = o.reg
        default: return nil
        }
        if size == 1 && d.rex == 0 && r >= 4 && r < 8 { return nil }
        return r & 15
    }

    /// Status flags (CF PF AF ZF SF OF as bits 0..5) a Jcc condition reads.
    func conditionReads(_ cc: UInt8) -> UInt8 {
        switch cc >> 1 {
        case 0: return 1 << 5                    // O
        case 1: return 1 << 0                    // B
        case 2: return 1 << 3                    // Z
        case 3: return 1 << 0 | 1 << 3           // BE
        case 4: return 1 << 4                    // S
        case 5: return 1 << 1                    // P
        case 6: return 1 << 4 | 1 << 5           // L
        default: return 1 << 3 | 1 << 4 | 1 << 5 // LE
        }
    }

    /// Decides whether `instrs` (one block starting at `key.rip`) is a register-resident loop.
    func loopPlan(_ instrs: [Instr]) -> LoopPlan? {
        guard engine.registerLoops, let last = instrs.last, last.mn.rawValue >= Mn.JO.rawValue,
              last.mn.rawValue <= Mn.JNLE.rawValue, !last.lock else { return nil }
        let count = instrs.count
        let target = (nexts[count - 1] &+ last.imm) & mask(last.opSize)
        guard target == key.rip, targetOK(target) else { return nil }
        var plan = LoopPlan()
        var written: UInt8 = 0, liveIn: UInt8 = 0
        func use(_ r: UInt8, write: Bool) -> Bool {
            if plan.host[Int(r)] == nil {
                guard plan.used.count < Translator.loopPool.count else { return false }
                plan.host[Int(r)] = Translator.loopPool[plan.used.count]
                plan.used.append(r)
            }
            if write { plan.dirty |= 1 << UInt16(r) }
            return true
        }
        func flags(read: UInt8, write: UInt8) {
            liveIn |= read & ~written
            written |= write
        }
        for i in 0..<(count - 1) {
            let d = instrs[i]
            if d.lock || d.vex || d.feature != 0 || d.rep != 0 && d.mn != .NOP { return nil }
            let size = opBytes(d.op0.size, d)
            switch d.mn {
            case .ADD, .OR, .ADC, .SBB, .AND, .SUB, .XOR, .CMP, .TEST:
                guard let a = loopReg(d.op0, d, size) else { return nil }
                let writes = d.mn != .CMP && d.mn != .TEST
                if d.op1.kind == .I || d.op1.kind == .Is {
                    if !use(a, write: writes) { return nil }
                } else {
                    guard let b = loopReg(d.op1, d, size), use(a, write: writes), use(b, write: false) else { return nil }
                }
                flags(read: d.mn == .ADC || d.mn == .SBB ? 1 : 0, write: 0x3F)
            case .INC, .DEC:
                guard d.op0.kind == .E || d.op0.kind == .Z, let a = loopReg(d.op0, d, size), use(a, write: true) else { return nil }
                flags(read: 0, write: 0x3E)
            case .NEG, .NOT:
                guard d.op0.kind == .E, let a = loopReg(d.op0, d, size), use(a, write: true) else { return nil }
                if d.mn == .NEG { flags(read: 0, write: 0x3F) }
            case .MOV:
                guard let a = loopReg(d.op0, d, size) else { return nil }
                if d.op1.kind == .I || d.op1.kind == .Is {
                    if !use(a, write: true) { return nil }
                } else {
                    guard let b = loopReg(d.op1, d, size), use(b, write: false), use(a, write: true) else { return nil }
                }
            case .MOVZX, .MOVSX:
                let from = opBytes(d.op1.size, d)
                guard from < size, let a = loopReg(d.op0, d, size), let b = loopReg(d.op1, d, from),
                      use(b, write: false), use(a, write: true) else { return nil }
            case .LEA:
                guard d.op0.kind == .G, d.isMem, d.base != regRIP else { return nil }
                let ok = size == 2 || (size == 4 && d.addrSize >= 4) || (size == 8 && d.addrSize == 8)
                guard ok, let a = loopReg(d.op0, d, size) else { return nil }
                if d.base != regNone && !use(d.base & 15, write: false) { return nil }
                if d.index != regNone && !use(d.index & 15, write: false) { return nil }
                if !use(a, write: true) { return nil }
            case .CLC, .STC:
                flags(read: 0, write: 1)
            case .CMC:
                flags(read: 1, write: 1)
            case .NOP:
                if d.isMem { return nil }   // hint NOPs with a memory form: keep the plain path
            default:
                return nil
            }
        }
        let cc = UInt8(last.opcode & 0xF)
        flags(read: conditionReads(cc), write: 0)
        // The exits store all six flags: any the body never writes pass through from entry.
        plan.loadFlags = liveIn != 0 || written != 0x3F
        plan.cond = Cond(rawValue: cc)!
        return plan
    }

    /// Emits the loop body (instruction by instruction) on the planned host registers.
    func emitLoopInstruction(_ d: Instr, _ p: LoopPlan) {
        let size = opBytes(d.op0.size, d)
        let s = osz(size)
        func h(_ o: Operand, _ sz: UInt8) -> Reg { p.host[Int(loopReg(o, d, sz)!)]! }
        switch d.mn {
        case .ADD, .OR, .ADC, .SBB, .AND, .SUB, .XOR, .CMP:
            let op: ALUOp
            switch d.mn {
            case .ADD: op = .add
            case .OR: op = .or
            case .ADC: op = .adc
            case .SBB: op = .sbb
            case .AND: op = .and
            case .SUB: op = .sub
            case .XOR: op = .xor
            default: op = .cmp
            }
            if d.op1.kind == .I || d.op1.kind == .Is {
                asm.alu(op, s, h(d.op0, size), Int32(truncatingIfNeeded: Int64(bitPattern: d.imm)))
            } else {
                asm.alu(op, s, h(d.op0, size), h(d.op1, size))
            }
        case .TEST:
            if d.op1.kind == .I || d.op1.kind == .Is {
                asm.test(s, h(d.op0, size), Int32(truncatingIfNeeded: Int64(bitPattern: d.imm)))
            } else {
                asm.test(s, h(d.op0, size), h(d.op1, size))
            }
        case .INC: asm.inc(s, h(d.op0, size))
        case .DEC: asm.dec(s, h(d.op0, size))
        case .NEG: asm.neg(s, h(d.op0, size))
        case .NOT: asm.not(s, h(d.op0, size))
        case .MOV:
            if d.op1.kind == .I || d.op1.kind == .Is {
                asm.mov(s, h(d.op0, size), Int64(bitPattern: d.imm & mask(size)))
            } else {
                asm.mov(s, h(d.op0, size), h(d.op1, size))
            }
        case .MOVZX, .MOVSX:
            let from = opBytes(d.op1.size, d)
            if d.mn == .MOVZX { asm.movzx(s, h(d.op0, size), osz(from), h(d.op1, from)) }
            else { asm.movsx(s, h(d.op0, size), osz(from), h(d.op1, from)) }
        case .LEA:
            let b: Reg? = d.base == regNone ? nil : p.host[Int(d.base & 15)]
            let x: Reg? = d.index == regNone ? nil : p.host[Int(d.index & 15)]
            asm.lea(s, h(d.op0, size), Mem(base: b, index: x, scale: UInt8(1) << d.scale,
                                           disp: Int32(truncatingIfNeeded: d.disp)))
        case .CLC: asm.clc()
        case .STC: asm.stc()
        case .CMC: asm.cmc()
        default: break   // NOP
        }
    }

    /// Leaves the loop: guest flags and dirty registers to CPUState, the iterations run charged
    /// to the budget (of which the prologue took one iteration already) and to icount.
    func emitLoopExit(_ p: LoopPlan) {
        asm.pushfq()
        for r in p.used where p.dirty & (1 << UInt16(r)) != 0 {
            asm.mov(.qword, Mem(.rbp, 8 * Int32(r)), p.host[Int(r)]!)
        }
        asm.pop(.rax)
        asm.and(.dword, .rax, 0x8D5)
        asm.mov(.qword, .rdx, Mem(.rbp, offRFLAGS))
        asm.and(.qword, .rdx, ~Int32(0x8D5))
        asm.or(.qword, .rdx, .rax)
        asm.mov(.qword, Mem(.rbp, offRFLAGS), .rdx)
        asm.mov(.dword, Mem(.rbp, offOp), 0)
        asm.mov(.qword, .rax, JITABI.spillSlot(0))
        asm.sub(.qword, .rax, .rcx)                          // iterations run (>= 1)
        asm.imul(.qword, .rax, .rax, Int32(n))
        asm.add(.qword, Mem(.rbp, offICount), .rax)
        asm.sub(.qword, .rax, Int32(n))
        asm.sub(.qword, Mem(.r15, Int32(JITContextLayout.budget)), .rax)
        flagState = .eager
    }

    /// The whole block as a register-resident loop (after the standard budget prologue, which
    /// has taken n instructions from the budget).
    func emitLoopBlock(_ p: LoopPlan, _ instrs: [Instr]) {
        let budget = Mem(.r15, Int32(JITContextLayout.budget))
        // Iterations allowed: the budget before the prologue, divided by the block length.
        asm.mov(.qword, .rax, budget)
        asm.add(.qword, .rax, Int32(n))
        asm.alu(.xor, .dword, .rdx, .rdx)
        asm.mov(.dword, .rcx, Int64(n))
        asm.div(.qword, .rcx)
        asm.mov(.qword, JITABI.spillSlot(0), .rax)
        if p.loadFlags {
            let eager = asm.newLabel()
            asm.cmp(.dword, Mem(.rbp, offOp), 0)
            asm.jcc(.e, eager, short: true)
            asm.mov(.qword, .rdi, .r15)
            asm.call(absolute: JITHelpers.flags)
            asm.bind(eager)
            asm.mov(.qword, .rax, Mem(.rbp, offRFLAGS))
            asm.and(.dword, .rax, 0x8D5)
            asm.push(.rax)
            asm.popfq()
        }
        asm.mov(.qword, .rcx, JITABI.spillSlot(0))
        for r in p.used { asm.mov(.qword, p.host[Int(r)]!, Mem(.rbp, 8 * Int32(r))) }
        // jrcxz has only a rel8 form: it reaches the exhausted exit through a 5-byte jump placed
        // just before the loop head.
        let top = asm.newLabel(), exhausted = asm.newLabel()
        asm.jmp(top, short: true)
        let tramp = asm.count
        asm.jmp(exhausted)
        precondition(asm.count - tramp == 5)
        asm.bind(top)
        asm.emit8(0xE3)                                      // jrcxz tramp
        asm.emit8(UInt8(bitPattern: Int8(tramp - (asm.count + 1))))
        asm.lea(.qword, .rcx, Mem(.rcx, -1))
        for i in 0..<(n - 1) { emitLoopInstruction(instrs[i], p) }
        asm.jcc(p.cond, top)
        // Not taken: the loop is done, continue at the next instruction.
        emitLoopExit(p)
        emitChainExit(target: nexts[n - 1])
        // Out of budget at the loop head: the state is that of the block's start.
        asm.bind(exhausted)
        emitLoopExit(p)
        storeRIP(key.rip)
        asm.alu(.xor, .dword, .rax, .rax)
        asm.jmp(absolute: engine.cache.exitAddress)
    }
}
