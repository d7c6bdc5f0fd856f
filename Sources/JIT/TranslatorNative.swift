// Native code for the hot integer subset (see Translator.swift for the conventions).
//
// Each emitter first decides whether it can handle the instruction (operand forms, flat
// segments, stack width, static branch targets) and returns false before emitting anything if
// not. Memory operands go through the inline soft-TLB lookup (`emitTLB`); a miss, a page-crossing
// access or a failed branch-target check jumps to the instruction's cold stub, which runs it in
// the interpreter. Nothing is written to guest state before the last such check.

import CPU
import CPUState

extension Translator {
    // MARK: operands

    @inline(__always) func osz(_ n: UInt8) -> OpSize {
        n == 1 ? .byte : (n == 2 ? .word : (n == 4 ? .dword : .qword))
    }

    @inline(__always) func mask(_ n: UInt8) -> UInt64 { n == 8 ? ~0 : (1 << (UInt64(n) * 8)) - 1 }

    @inline(__always) func sizeIndex(_ n: UInt8) -> UInt32 { n == 1 ? 0 : (n == 2 ? 1 : (n == 4 ? 2 : 3)) }

    /// The interpreter's `bytes(_:_:)`: operand size in bytes.
    func opBytes(_ sz: OperandSize, _ d: Instr) -> UInt8 {
        switch sz {
        case .b: return 1
        case .w: return 2
        case .d: return 4
        case .q: return 8
        case .v: return d.opSize
        case .z: return d.opSize == 2 ? 2 : 4
        case .y: return d.opSize == 8 ? 8 : 4
        default: return d.opSize
        }
    }

    @inline(__always) func zreg(_ d: Instr) -> UInt8 { UInt8(d.opcode & 7) | ((d.rex & 1) << 3) }

    /// CPUState slot of a guest register (AH..BH for byte accesses without REX).
    func gslot(_ r: UInt8, _ size: UInt8, _ rex: UInt8) -> Mem {
        if size == 1 && rex == 0 && r >= 4 && r < 8 { return Mem(.rbp, Int32(8 * (Int(r) - 4) + 1)) }
        return Mem(.rbp, Int32(8 * Int(r)))
    }

    /// Zero-extending load of a guest register into `h`.
    func loadG(_ h: Reg, _ r: UInt8, _ size: UInt8, _ rex: UInt8) {
        let m = gslot(r, size, rex)
        switch size {
        case 1: asm.movzx(.dword, h, .byte, m)
        case 2: asm.movzx(.dword, h, .word, m)
        case 4: asm.mov(.dword, h, m)
        default: asm.mov(.qword, h, m)
        }
    }

    /// Store of `h` to a guest register with the interpreter's `writeReg` semantics; for 4-byte
    /// values `h` must hold the value zero-extended (every 32-bit host operation leaves it so).
    func storeG(_ r: UInt8, _ size: UInt8, _ rex: UInt8, _ h: Reg) {
        let m = gslot(r, size, rex)
        switch size {
        case 1: asm.mov(.byte, m, h)
        case 2: asm.mov(.word, m, h)
        default: asm.mov(.qword, m, h)
        }
    }

    /// Zero-extending load from the host pointer in rsi.
    func loadM(_ h: Reg, _ size: UInt8) {
        let m = Mem(.rsi, 0)
        switch size {
        case 1: asm.movzx(.dword, h, .byte, m)
        case 2: asm.movzx(.dword, h, .word, m)
        case 4: asm.mov(.dword, h, m)
        default: asm.mov(.qword, h, m)
        }
    }

    func storeM(_ size: UInt8, _ h: Reg) { asm.mov(osz(size), Mem(.rsi, 0), h) }

    func movImm(_ h: Reg, _ v: UInt64) { asm.mov(.qword, h, Int64(bitPattern: v)) }

    func memOperand(_ d: Instr) -> Bool { d.isMem || d.op0.kind == .O || d.op1.kind == .O }

    func readOp(_ o: Operand, _ d: Instr, _ size: UInt8, _ h: Reg) {
        switch o.kind {
        case .E, .M: if d.isMem { loadM(h, size) } else { loadG(h, d.rm, size, d.rex) }
        case .R: loadG(h, d.rm, size, d.rex)
        case .G: loadG(h, d.reg, size, d.rex)
        case .Z: loadG(h, zreg(d), size, d.rex)
        case .fixedReg: loadG(h, o.reg, size, d.rex)
        case .I, .Is: movImm(h, d.imm & mask(size))
        case .one: movImm(h, 1)
        case .O: loadM(h, size)
        default: preconditionFailure("readOp: operand kind \(o.kind)")
        }
    }

    func writeOp(_ o: Operand, _ d: Instr, _ size: UInt8, _ h: Reg) {
        switch o.kind {
        case .E, .M: if d.isMem { storeM(size, h) } else { storeG(d.rm, size, d.rex, h) }
        case .R: storeG(d.rm, size, d.rex, h)
        case .G: storeG(d.reg, size, d.rex, h)
        case .Z: storeG(zreg(d), size, d.rex, h)
        case .fixedReg: storeG(o.reg, size, d.rex, h)
        case .O: storeM(size, h)
        default: preconditionFailure("writeOp: operand kind \(o.kind)")
        }
    }

    func isDest(_ o: Operand) -> Bool {
        switch o.kind { case .E, .G, .Z, .fixedReg: return true; default: return false }
    }
    func isSource(_ o: Operand) -> Bool {
        switch o.kind { case .E, .G, .Z, .fixedReg, .I, .Is, .one: return true; default: return false }
    }

    // MARK: memory

    /// True when segment `seg` allows the inline path for this access (64-bit mode, or a
    /// present expand-up data segment recorded in the block key).
    func segOK(_ seg: Int, write: Bool) -> Bool {
        if code64 { return true }
        guard seg != 1 && seg < 6 else { return false }
        return key.flags & (1 << UInt32((write ? JITKeyBits.writable : JITKeyBits.readable) + seg)) != 0
    }

    func segFlat(_ seg: Int) -> Bool { key.flags & (1 << UInt32(JITKeyBits.flat + seg)) != 0 }

    func memOK(_ d: Instr, write: Bool) -> Bool { segOK(Int(d.seg), write: write) }

    /// rsi = segment offset -> linear address: `linear`'s fast path (limit check, base add,
    /// 32-bit wrap), nothing for flat segments, FS/GS base in 64-bit mode. Uses rdx, rdi.
    func emitLinear(seg: Int, size: UInt8) {
        if code64 {
            if seg >= 4 { asm.add(.qword, .rsi, Mem(.rbp, offSeg + 16 * Int32(seg))) }
            return
        }
        if segFlat(seg) { return }
        let sc = offSeg + 16 * Int32(seg)
        if size > 1 { asm.lea(.qword, .rdx, Mem(.rsi, Int32(size - 1))) } else { asm.mov(.qword, .rdx, .rsi) }
        asm.mov(.dword, .rdi, Mem(.rbp, sc + 8))
        asm.cmp(.qword, .rdx, .rdi)
        asm.jcc(.a, slowLabel())
        asm.add(.dword, .rsi, Mem(.rbp, sc))
    }

    /// rsi = offset of the memory operand (masked to the address size).
    func emitEA(_ d: Instr) {
        if !d.isMem {
            movImm(.rsi, d.imm)          // moffs
            return
        }
        let a = d.addrSize
        let am: UInt64 = a == 8 ? ~0 : (a == 4 ? 0xFFFF_FFFF : 0xFFFF)
        if d.base == regRIP {
            movImm(.rsi, (nexts[k] &+ UInt64(bitPattern: d.disp)) & am)
            return
        }
        if d.base == regNone && d.index == regNone {
            movImm(.rsi, UInt64(bitPattern: d.disp) & am)
            return
        }
        var b: Reg? = nil, x: Reg? = nil
        if d.base != regNone { asm.mov(.qword, .rsi, Mem(.rbp, Int32(8 * Int(d.base)))); b = .rsi }
        if d.index != regNone { asm.mov(.qword, .rdi, Mem(.rbp, Int32(8 * Int(d.index)))); x = .rdi }
        let m = Mem(base: b, index: x, scale: UInt8(1) << d.scale, disp: Int32(truncatingIfNeeded: d.disp))
        if a == 8 {
            if b == .rsi && x == nil && d.disp == 0 { return }
            asm.lea(.qword, .rsi, m)
        } else {
            asm.lea(.dword, .rsi, m)
            if a == 2 { asm.movzx(.dword, .rsi, .word, .rsi) }
        }
    }

    /// Inline soft-TLB lookup of the linear address in rsi; on a hit rsi becomes the host
    /// pointer. A miss goes to a cold stub that fills the TLB through `jitFill` (keeping rax, rcx,
    /// r8 and rbx) and continues; when that cannot (crossing, fault, MMIO, code page) the
    /// instruction runs in the interpreter. Uses rdx, rdi.
    func emitTLB(write: Bool, size: UInt8) {
        let table = Int32((user * Int(TLB_KINDS) + (write ? Int(TLB_WRITE) : Int(TLB_READ))) * Int(TLB_ENTRIES) * 32)
        if size > 1 { asm.lea(.qword, .rdx, Mem(.rsi, Int32(size - 1))) } else { asm.mov(.qword, .rdx, .rsi) }
        asm.mov(.dword, .rdi, .rsi)
        asm.shr(.dword, .rdi, 7)
        asm.and(.dword, .rdi, Int32((Int(TLB_ENTRIES) - 1) << 5))
        asm.and(.qword, .rdx, -4096)
        asm.cmp(.qword, .rdx, Mem(base: .r14, index: .rdi, scale: 1, disp: table))
        let fill = asm.newLabel(), hit = asm.newLabel()
        asm.jcc(.ne, fill)
        asm.add(.qword, .rsi, Mem(base: .r14, index: .rdi, scale: 1, disp: table + 8))
        asm.bind(hit)
        cold.append(.fill(label: fill, hit: hit, slow: slowLabel(), info: Int32(write ? 1 : 0) | Int32(size) << 8))
    }

    /// Address + TLB for the instruction's memory operand: rsi = host pointer.
    func emitMem(_ d: Instr, size: UInt8, write: Bool) {
        emitEA(d)
        emitLinear(seg: Int(d.seg), size: size)
        emitTLB(write: write, size: size)
    }

    // MARK: stack

    /// Stack address size: 8 in 64-bit mode, else 4 or 2 by SS.B.
    var stackSize: Int { code64 ? 8 : (key.flags & UInt32(MODE_SS32) != 0 ? 4 : 2) }

    func stackOK(write: Bool) -> Bool { segOK(2, write: write) }

    /// rsi = stack pointer as an offset in SS (masked to the stack size).
    func loadSP() { loadStackReg(4) }

    func loadStackReg(_ r: Int32) {
        switch stackSize {
        case 8: asm.mov(.qword, .rsi, Mem(.rbp, 8 * r))
        case 4: asm.mov(.dword, .rsi, Mem(.rbp, 8 * r))
        default: asm.movzx(.dword, .rsi, .word, Mem(.rbp, 8 * r))
        }
    }

    /// r8 = rsi + delta wrapped to the stack size (the new stack-pointer offset).
    func spPlus(_ delta: Int32) {
        switch stackSize {
        case 8: asm.lea(.qword, .r8, Mem(.rsi, delta))
        case 4: asm.lea(.dword, .r8, Mem(.rsi, delta))
        default: asm.lea(.dword, .r8, Mem(.rsi, delta)); asm.movzx(.dword, .r8, .word, .r8)
        }
    }

    /// RSP = r8 with `stackMaskedAdd` semantics (a 16-bit stack keeps RSP's upper bits).
    func storeSP() {
        if stackSize == 2 { asm.mov(.word, Mem(.rbp, 32), .r8) } else { asm.mov(.qword, Mem(.rbp, 32), .r8) }
    }

    /// rsi = SS offset -> host pointer for a stack access (slow stub on miss / limit).
    func emitStackAccess(write: Bool, size: UInt8) {
        emitLinear(seg: 2, size: size)
        emitTLB(write: write, size: size)
    }

    /// Pushes `size` bytes of `v` (not rsi/rdi/rdx/r8).
    func emitPushValue(_ size: UInt8, _ v: Reg) {
        loadSP()
        spPlus(-Int32(size))
        asm.mov(.qword, .rsi, .r8)
        emitStackAccess(write: true, size: size)
        storeM(size, v)
        storeSP()
    }

    // MARK: flags

    /// Sets the host flags so that a host condition (returned) equals guest condition `cc`.
    func emitCondition(_ cc: UInt8) -> Cond {
        let c = Cond(rawValue: cc & 15)!
        let usesCF = (cc >> 1) == 1 || (cc >> 1) == 3
        switch flagState {
        case .lazy(let kind, let size):
            let s = osz(size)
            switch kind {
            case .sub:
                asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
                asm.cmp(s, .rax, Mem(.rbp, offSrc))
                return c
            case .add:
                asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
                asm.add(s, .rax, Mem(.rbp, offSrc))
                return c
            case .logic:
                asm.mov(.qword, .rax, Mem(.rbp, offDst))
                asm.test(s, .rax, .rax)
                return c
            case .inc where !usesCF, .dec where !usesCF:
                asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
                if kind == .inc { asm.inc(s, .rax) } else { asm.dec(s, .rax) }
                return c
            default:
                break
            }
        case .eager:
            asm.mov(.qword, .rax, Mem(.rbp, offRFLAGS))
            asm.and(.dword, .rax, 0x8D5)
            asm.push(.rax)
            asm.popfq()
            return c
        case .unknown:
            break
        }
        asm.mov(.qword, .rdi, .r15)
        asm.mov(.dword, .rsi, Int64(cc & 15))
        asm.call(absolute: JITHelpers.condition)
        asm.test(.dword, .rax, .rax)
        return .ne
    }

    /// r = guest CF (0 or 1) of the current flag state. May call a helper (clobbers scratch).
    func emitCF(into r: Reg) {
        switch flagState {
        case .lazy(.sub, let size):
            asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
            asm.cmp(osz(size), .rax, Mem(.rbp, offSrc))
            asm.setcc(.b, r)
            asm.movzx(.dword, r, .byte, r)
        case .lazy(.add, let size):
            asm.mov(.qword, .rax, Mem(.rbp, offSrc2))
            asm.add(osz(size), .rax, Mem(.rbp, offSrc))
            asm.setcc(.b, r)
            asm.movzx(.dword, r, .byte, r)
        case .lazy(.logic, _):
            asm.alu(.xor, .dword, r, r)
        case .lazy(.inc, _), .lazy(.dec, _):
            asm.mov(.qword, r, Mem(.rbp, offSrc))
            asm.and(.dword, r, 1)
        case .eager:
            asm.mov(.qword, r, Mem(.rbp, offRFLAGS))
            asm.and(.dword, r, 1)
        default:
            // Whatever the previous block or a helper left: the shared stub (rbx = CF).
            asm.call(absolute: engine.carryStub)
            if r != .rbx { asm.mov(.dword, r, .rbx) }
        }
    }

    /// Materialises the lazy flags into RFLAGS (cc_op = 0); rax = RFLAGS.
    func emitMaterialize() {
        asm.mov(.qword, .rdi, .r15)
        asm.call(absolute: JITHelpers.flags)
        flagState = .eager
    }

    func setLazyOp(_ kind: CCKind, _ size: UInt8) {
        asm.mov(.dword, Mem(.rbp, offOp), Int32(kind.rawValue << 2 | sizeIndex(size)))
        flagState = .lazy(kind, size)
    }

    /// RFLAGS status bits = eax (CF PF AF ZF SF OF positions), cc_op = 0.
    func storeEagerStatus() {
        asm.mov(.qword, .rdx, Mem(.rbp, offRFLAGS))
        asm.and(.qword, .rdx, ~Int32(0x8D5))
        asm.or(.qword, .rdx, .rax)
        asm.mov(.qword, Mem(.rbp, offRFLAGS), .rdx)
        asm.mov(.dword, Mem(.rbp, offOp), 0)
        flagState = .eager
    }

    // MARK: branches

    func targetOK(_ t: UInt64) -> Bool {
        if code64 { return UInt64(bitPattern: Int64(bitPattern: t << 16) >> 16) == t }
        return t <= UInt64(key.csLimit)
    }

    /// Run-time check of a branch target in rax (#GP path: the interpreter).
    func emitTargetCheck() {
        if code64 {
            asm.mov(.qword, .rcx, .rax)
            asm.shl(.qword, .rcx, 16)
            asm.sar(.qword, .rcx, 16)
            asm.cmp(.qword, .rcx, .rax)
            asm.jcc(.ne, slowLabel())
        } else if key.csLimit != 0xFFFF_FFFF {
            asm.mov(.dword, .rcx, Int64(key.csLimit))
            asm.cmp(.qword, .rax, .rcx)
            asm.jcc(.a, slowLabel())
        }
    }

    /// Leaves through the jump cache to the RIP in rax.
    func emitIndirectExit() {
        asm.mov(.qword, Mem(.rbp, offRIP), .rax)
        pending += 1
        flushICount()
        asm.jmp(absolute: engine.indirectStub)
        terminatedByLast = true
    }

    // MARK: dispatch

    /// Emits instruction k natively; returns false (having emitted nothing) when it must go
    /// through the interpreter helper.
    func emitNative(_ d: inout Instr) -> Bool {
        if d.vex { return false }
        if d.mn == .UNIMPL { return d.feature != 0 && engine.cpu.acceleratorHasFeature(d.feature) && emitSSE(d) }
        if d.feature != 0 { return false }
        let raw = d.mn.rawValue
        if raw >= Mn.JO.rawValue && raw <= Mn.JNLE.rawValue { return emitJcc(d) }
        if raw >= Mn.SETO.rawValue && raw <= Mn.SETNLE.rawValue { return emitSetcc(d, UInt8(raw - Mn.SETO.rawValue)) }
        if raw >= Mn.CMOVO.rawValue && raw <= Mn.CMOVNLE.rawValue { return emitCmov(d, UInt8(raw - Mn.CMOVO.rawValue)) }
        switch d.mn {
        case .NOP, .PREFETCH, .PREFETCHW: return true      // no access, no fault (the interpreter's NOP)
        case .XADD: return emitXadd(d)
        case .CMPXCHG: return emitCmpxchg(d)
        case .BT, .BTS, .BTR, .BTC: return emitBitTest(d)
        case .BSWAP: return emitBswap(d)
        case .DIV: return emitDiv(d)
        case .ADD, .OR, .ADC, .SBB, .AND, .SUB, .XOR, .CMP, .TEST: return emitALU(d)
        case .INC, .DEC: return emitIncDec(d)
        case .NOT, .NEG: return emitNotNeg(d)
        case .MOV: return emitMov(d)
        case .LEA: return emitLea(d)
        case .MOVZX, .MOVSX, .MOVSXD: return emitExtend(d)
        case .XCHG: return emitXchg(d)
        case .SHL, .SHR, .SAR: return emitShift(d)
        case .ROL, .ROR: return emitRotate(d)
        case .LOOP, .LOOPE, .LOOPNE, .JCXZ: return emitLoop(d)
        case .IMUL: return emitImul(d)
        case .PUSH: return emitPush(d)
        case .POP: return emitPop(d)
        case .LEAVE: return emitLeave(d)
        case .JMP: return emitJmp(d)
        case .CALL: return emitCall(d)
        case .RET: return emitRet(d)
        case .JMPF, .CALLF, .RETF: return emitFarReal(d)
        case .CLD, .STD:
            if d.mn == .CLD { asm.and(.qword, Mem(.rbp, offRFLAGS), ~Int32(0x400)) }
            else { asm.or(.qword, Mem(.rbp, offRFLAGS), 0x400) }
            return true
        case .CLC, .STC, .CMC:
            if flagState != .eager { emitMaterialize() }
            switch d.mn {
            case .CLC: asm.and(.qword, Mem(.rbp, offRFLAGS), ~Int32(1))
            case .STC: asm.or(.qword, Mem(.rbp, offRFLAGS), 1)
            default: asm.xor(.qword, Mem(.rbp, offRFLAGS), 1)
            }
            return true
        case .CBW:
            switch d.opSize {
            case 2: asm.movsx(.dword, .rax, .byte, Mem(.rbp, 0)); asm.mov(.word, Mem(.rbp, 0), .rax)
            case 4: asm.movsx(.dword, .rax, .word, Mem(.rbp, 0)); asm.mov(.qword, Mem(.rbp, 0), .rax)
            default: asm.movsxd(.rax, Mem(.rbp, 0)); asm.mov(.qword, Mem(.rbp, 0), .rax)
            }
            return true
        case .CWD:
            switch d.opSize {
            case 2:
                asm.movsx(.dword, .rax, .word, Mem(.rbp, 0)); asm.sar(.dword, .rax, 15)
                asm.mov(.word, Mem(.rbp, 16), .rax)
            case 4:
                asm.mov(.dword, .rax, Mem(.rbp, 0)); asm.sar(.dword, .rax, 31)
                asm.mov(.qword, Mem(.rbp, 16), .rax)
            default:
                asm.mov(.qword, .rax, Mem(.rbp, 0)); asm.sar(.qword, .rax, 63)
                asm.mov(.qword, Mem(.rbp, 16), .rax)
            }
            return true
        default:
            return false
        }
    }

    // MARK: integer ALU

    func emitALU(_ d: Instr) -> Bool {
        guard isDest(d.op0), isSource(d.op1) else { return false }
        let size = opBytes(d.op0.size, d)
        let writes = d.mn != .CMP && d.mn != .TEST
        if d.isMem && !memOK(d, write: writes) { return false }
        let s = osz(size)
        let carry = d.mn == .ADC || d.mn == .SBB
        if carry { emitCF(into: .rbx) }
        if d.isMem { emitMem(d, size: size, write: writes) }
        readOp(d.op0, d, size, .rax)
        readOp(d.op1, d, size, .rcx)
        asm.mov(.qword, Mem(.rbp, offSrc2), .rax)
        asm.mov(.qword, Mem(.rbp, offSrc), .rcx)
        let kind: CCKind
        switch d.mn {
        case .ADD: asm.alu(.add, s, .rax, .rcx); kind = .add
        case .OR: asm.alu(.or, s, .rax, .rcx); kind = .logic
        case .ADC: asm.bt(.dword, .rbx, 0); asm.alu(.adc, s, .rax, .rcx); kind = .adc
        case .SBB: asm.bt(.dword, .rbx, 0); asm.alu(.sbb, s, .rax, .rcx); kind = .sbb
        case .AND, .TEST: asm.alu(.and, s, .rax, .rcx); kind = .logic
        case .SUB, .CMP: asm.alu(.sub, s, .rax, .rcx); kind = .sub
        default: asm.alu(.xor, s, .rax, .rcx); kind = .logic
        }
        if writes { writeOp(d.op0, d, size, .rax) }
        asm.mov(.qword, Mem(.rbp, offDst), .rax)
        if carry {
            // The interpreter records ADD/SUB when the carry-in is 0, ADC/SBB when it is 1.
            let base = Int32(d.mn == .ADC ? CCKind.add.rawValue : CCKind.sub.rawValue)
            asm.lea(.dword, .rdx, Mem(.rbx, base))
            asm.shl(.dword, .rdx, 2)
            asm.or(.dword, .rdx, Int32(sizeIndex(size)))
            asm.mov(.dword, Mem(.rbp, offOp), .rdx)
            flagState = .unknown
        } else {
            setLazyOp(kind, size)
        }
        return true
    }

    func emitIncDec(_ d: Instr) -> Bool {
        guard d.op0.kind == .E || d.op0.kind == .Z else { return false }
        let size = opBytes(d.op0.size, d)
        if d.isMem && !memOK(d, write: true) { return false }
        emitCF(into: .rbx)
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rax)
        asm.mov(.qword, Mem(.rbp, offSrc2), .rax)
        if d.mn == .INC { asm.inc(osz(size), .rax) } else { asm.dec(osz(size), .rax) }
        writeOp(d.op0, d, size, .rax)
        asm.mov(.qword, Mem(.rbp, offDst), .rax)
        asm.mov(.qword, Mem(.rbp, offSrc), .rbx)
        setLazyOp(d.mn == .INC ? .inc : .dec, size)
        return true
    }

    func emitNotNeg(_ d: Instr) -> Bool {
        guard d.op0.kind == .E else { return false }
        let size = opBytes(d.op0.size, d)
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rax)
        if d.mn == .NOT {
            asm.not(osz(size), .rax)
            writeOp(d.op0, d, size, .rax)
            return true
        }
        asm.mov(.qword, Mem(.rbp, offSrc), .rax)
        asm.neg(osz(size), .rax)
        writeOp(d.op0, d, size, .rax)
        asm.mov(.qword, Mem(.rbp, offDst), .rax)
        asm.mov(.qword, Mem(.rbp, offSrc2), 0)
        setLazyOp(.sub, size)
        return true
    }

    func emitShift(_ d: Instr) -> Bool {
        if d.op0.kind == .E && d.op1.kind == .fixedReg && d.op1.reg == 1 { return emitShiftCL(d) }
        guard d.op0.kind == .E, d.op1.kind == .I || d.op1.kind == .one else { return false }
        let size = opBytes(d.op0.size, d)
        let bits = UInt64(size) * 8
        let rawCount: UInt64 = d.op1.kind == .one ? 1 : d.imm & 0xFF
        let count = rawCount & (size == 8 ? 0x3F : 0x1F)
        guard count != 0, count < bits else { return false }
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rcx)
        let op: ShiftOp = d.mn == .SHL ? .shl : (d.mn == .SHR ? .shr : .sar)
        asm.shift(op, osz(size), .rcx, UInt8(count))
        asm.lahf()
        asm.setcc(.o, .rdx)
        writeOp(d.op0, d, size, .rcx)
        asm.shr(.dword, .rax, 8)
        asm.and(.dword, .rax, 0xC5)
        if count == 1 {
            asm.movzx(.dword, .rdx, .byte, .rdx)
            asm.shl(.dword, .rdx, 11)
            asm.or(.dword, .rax, .rdx)
        } else if op == .shl {
            // OF = MSB(result) ^ CF (the interpreter's rule for every count).
            asm.mov(.qword, .rdx, .rcx)
            asm.shr(.qword, .rdx, UInt8(bits - 1))
            asm.alu(.xor, .dword, .rdx, .rax)
            asm.and(.dword, .rdx, 1)
            asm.shl(.dword, .rdx, 11)
            asm.or(.dword, .rax, .rdx)
        }
        storeEagerStatus()
        return true
    }

    /// SHL/SHR/SAR by CL: the interpreter's `execShift` (count 0: flags kept, only a 32-bit register rewritten;
    /// byte/word counts >= the width go to the interpreter). Leaves the flag state unknown
    /// (eager after a shift, the previous state after a zero count).
    func emitShiftCL(_ d: Instr) -> Bool {
        let size = opBytes(d.op0.size, d)
        let bits = UInt8(size) * 8
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        let skip = asm.newLabel()
        asm.movzx(.dword, .rcx, .byte, Mem(.rbp, 8))
        asm.and(.dword, .rcx, size == 8 ? 0x3F : 0x1F)
        if size == 4 && !d.isMem {
            // Count 0: flags and value kept, but a 32-bit register is still written (bits 63:32
            // cleared), as the interpreter and the host do.
            let shift = asm.newLabel()
            asm.jcc(.ne, shift)
            readOp(d.op0, d, size, .r8)
            writeOp(d.op0, d, size, .r8)
            asm.jmp(skip)
            asm.bind(shift)
        } else {
            asm.jcc(.e, skip)
        }
        if size < 4 {
            asm.cmp(.dword, .rcx, Int32(bits))
            asm.jcc(.ae, slowLabel())
        }
        readOp(d.op0, d, size, .r8)
        let op: ShiftOp = d.mn == .SHL ? .shl : (d.mn == .SHR ? .shr : .sar)
        asm.shift(op, osz(size), .r8, CountRegister.cl)
        asm.lahf()
        asm.setcc(.o, .rdx)
        writeOp(d.op0, d, size, .r8)
        asm.shr(.dword, .rax, 8)
        asm.and(.dword, .rax, 0xC5)
        switch op {
        case .shl:
            // OF = MSB(result) ^ CF
            asm.mov(.qword, .rdx, .r8)
            asm.shr(.qword, .rdx, bits - 1)
            asm.alu(.xor, .dword, .rdx, .rax)
            asm.and(.dword, .rdx, 1)
            asm.shl(.dword, .rdx, 11)
            asm.or(.dword, .rax, .rdx)
        case .shr:
            // OF = the original sign for a count of 1 (the host's OF then), else 0
            asm.movzx(.dword, .rdx, .byte, .rdx)
            asm.alu(.xor, .dword, .rdi, .rdi)
            asm.cmp(.dword, .rcx, 1)
            asm.cmov(.ne, .dword, .rdx, .rdi)
            asm.shl(.dword, .rdx, 11)
            asm.or(.dword, .rax, .rdx)
        default:
            break
        }
        storeEagerStatus()
        asm.bind(skip)
        flagState = .unknown
        return true
    }

    /// XADD: the interpreter's lazy ADD (src2 = destination, src = register).
    func emitXadd(_ d: Instr) -> Bool {
        guard d.op0.kind == .E, d.op1.kind == .G else { return false }
        let size = opBytes(d.op0.size, d)
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rax)
        loadG(.rcx, d.reg, size, d.rex)
        asm.mov(.qword, Mem(.rbp, offSrc2), .rax)
        asm.mov(.qword, Mem(.rbp, offSrc), .rcx)
        asm.mov(.qword, .r8, .rax)
        asm.alu(.add, osz(size), .r8, .rcx)
        if d.isMem {
            writeOp(d.op0, d, size, .r8)
            storeG(d.reg, size, d.rex, .rax)
        } else {
            // The destination is written last: XADD r, r (same register) leaves the sum.
            storeG(d.reg, size, d.rex, .rax)
            writeOp(d.op0, d, size, .r8)
        }
        asm.mov(.qword, Mem(.rbp, offDst), .r8)
        setLazyOp(.add, size)
        return true
    }

    /// CMPXCHG: equal -> destination = register; else destination rewritten with its own value
    /// and the accumulator loaded; the interpreter's lazy SUB (accumulator - destination).
    func emitCmpxchg(_ d: Instr) -> Bool {
        guard d.op0.kind == .E, d.op1.kind == .G else { return false }
        let size = opBytes(d.op0.size, d)
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rax)
        loadG(.rcx, 0, size, 0)
        loadG(.rdx, d.reg, size, d.rex)
        asm.mov(.qword, Mem(.rbp, offSrc2), .rcx)
        asm.mov(.qword, Mem(.rbp, offSrc), .rax)
        asm.mov(.qword, .r8, .rcx)
        asm.alu(.sub, osz(size), .r8, .rax)
        asm.mov(.qword, Mem(.rbp, offDst), .r8)
        // ZF from the sub: equal.
        asm.mov(.qword, .r8, .rax)
        asm.cmov(.e, .qword, .r8, .rdx)
        writeOp(d.op0, d, size, .r8)
        let done = asm.newLabel()
        asm.jcc(.e, done)
        storeG(0, size, 0, .rax)
        asm.bind(done)
        setLazyOp(.sub, size)
        return true
    }

    /// BT/BTS/BTR/BTC on a register, or on memory with an immediate bit number: CF = the bit,
    /// the other status flags materialised (the interpreter's `execBitTest`).
    func emitBitTest(_ d: Instr) -> Bool {
        guard d.op0.kind == .E else { return false }
        let regIndex = d.op1.kind == .G
        guard regIndex || d.op1.kind == .I else { return false }
        if d.isMem && regIndex { return false }
        let size = opBytes(d.op0.size, d)
        guard size >= 2 else { return false }
        let writes = d.mn != .BT
        if d.isMem && !memOK(d, write: writes) { return false }
        if flagState != .eager { emitMaterialize() }
        if d.isMem { emitMem(d, size: size, write: writes) }
        readOp(d.op0, d, size, .rax)
        let op: BitOp = d.mn == .BT ? .bt : (d.mn == .BTS ? .bts : (d.mn == .BTR ? .btr : .btc))
        let s = osz(size)
        if regIndex {
            loadG(.rcx, d.reg, size, d.rex)
            asm.and(.dword, .rcx, Int32(size) * 8 - 1)
            asm.bitOp(op, s, .rax, .rcx)
        } else {
            asm.bitOp(op, s, .rax, UInt8(d.imm & (UInt64(size) * 8 - 1)))
        }
        asm.setcc(.b, .rdx)
        if writes { writeOp(d.op0, d, size, .rax) }
        asm.movzx(.dword, .rdx, .byte, .rdx)
        asm.mov(.qword, .rcx, Mem(.rbp, offRFLAGS))
        asm.and(.qword, .rcx, -2)
        asm.or(.qword, .rcx, .rdx)
        asm.mov(.qword, Mem(.rbp, offRFLAGS), .rcx)
        flagState = .eager
        return true
    }

    /// Unsigned DIV (16/32/64-bit): a zero divisor or a quotient overflow (#DE) runs in the
    /// interpreter; flags are left as they are (the interpreter does not touch them).
    func emitDiv(_ d: Instr) -> Bool {
        guard d.op0.kind == .E else { return false }
        let size = opBytes(d.op0.size, d)
        guard size >= 2 else { return false }
        if d.isMem && !memOK(d, write: false) { return false }
        if d.isMem { emitMem(d, size: size, write: false) }
        readOp(d.op0, d, size, .rcx)
        asm.test(.qword, .rcx, .rcx)
        asm.jcc(.e, slowLabel())
        loadG(.rdx, 2, size, 0)
        loadG(.rax, 0, size, 0)
        asm.cmp(.qword, .rdx, .rcx)
        asm.jcc(.ae, slowLabel())
        asm.div(osz(size), .rcx)
        storeG(0, size, 0, .rax)
        storeG(2, size, 0, .rdx)
        return true
    }

    func emitBswap(_ d: Instr) -> Bool {
        let r = zreg(d)
        switch d.opSize {
        case 8:
            asm.mov(.qword, .rax, gslot(r, 8, d.rex))
            asm.bswap(.qword, .rax)
            asm.mov(.qword, gslot(r, 8, d.rex), .rax)
        case 4:
            asm.mov(.dword, .rax, gslot(r, 4, d.rex))
            asm.bswap(.dword, .rax)
            asm.mov(.qword, gslot(r, 4, d.rex), .rax)
        default:
            asm.mov(.word, gslot(r, 2, d.rex), 0)
        }
        return true
    }

    /// ROL/ROR by a constant: only CF and OF change (the other status flags are materialised).
    func emitRotate(_ d: Instr) -> Bool {
        guard d.op0.kind == .E, d.op1.kind == .I || d.op1.kind == .one else { return false }
        let size = opBytes(d.op0.size, d)
        let bits = UInt64(size) * 8
        let rawCount: UInt64 = d.op1.kind == .one ? 1 : d.imm & 0xFF
        let count = rawCount & (size == 8 ? 0x3F : 0x1F)
        guard count != 0 else { return false }
        if d.isMem && !memOK(d, write: true) { return false }
        if flagState != .eager { emitMaterialize() }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rcx)
        let c = count % bits
        if c != 0 { asm.shift(d.mn == .ROL ? .rol : .ror, osz(size), .rcx, UInt8(c)) }
        writeOp(d.op0, d, size, .rcx)
        let top = UInt8(bits - 1)
        if d.mn == .ROL {
            // CF = bit 0, OF = MSB ^ CF
            asm.mov(.dword, .rax, .rcx)
            asm.and(.dword, .rax, 1)
            asm.mov(.qword, .rdx, .rcx)
            asm.shr(.qword, .rdx, top)
            asm.and(.dword, .rdx, 1)
            asm.alu(.xor, .dword, .rdx, .rax)
        } else {
            // CF = MSB, OF = MSB ^ bit (top - 1)
            asm.mov(.qword, .rax, .rcx)
            asm.shr(.qword, .rax, top)
            asm.and(.dword, .rax, 1)
            asm.mov(.qword, .rdx, .rcx)
            asm.shr(.qword, .rdx, top - 1)
            asm.and(.dword, .rdx, 1)
            asm.alu(.xor, .dword, .rdx, .rax)
        }
        asm.shl(.dword, .rdx, 11)
        asm.or(.dword, .rax, .rdx)
        asm.mov(.qword, .rdx, Mem(.rbp, offRFLAGS))
        asm.and(.qword, .rdx, ~Int32(0x801))
        asm.or(.qword, .rdx, .rax)
        asm.mov(.qword, Mem(.rbp, offRFLAGS), .rdx)
        return true
    }

    func emitImul(_ d: Instr) -> Bool {
        // Only the two- and three-operand forms (the one-operand form writes rDX:rAX).
        guard d.op1.kind == .E, d.op0.kind == .G else { return false }
        let size = opBytes(d.op0.size, d)
        guard size >= 2 else { return false }
        if d.isMem && !memOK(d, write: false) { return false }
        if d.isMem { emitMem(d, size: size, write: false) }
        let s = osz(size)
        if d.op2.kind != .none {
            readOp(d.op1, d, size, .rcx)
            let imm = d.imm & mask(size)
            let v = size == 2 ? Int32(Int16(truncatingIfNeeded: imm)) : Int32(truncatingIfNeeded: imm)
            asm.imul(s, .rcx, .rcx, v)
        } else {
            readOp(d.op1, d, size, .rdx)
            loadG(.rcx, d.reg, size, d.rex)
            asm.imul(s, .rcx, .rdx)
        }
        asm.setcc(.o, .rdx)
        if size == 2 { asm.movzx(.dword, .rcx, .word, .rcx) }
        asm.test(s, .rcx, .rcx)
        asm.lahf()
        storeG(d.reg, size, d.rex, .rcx)
        asm.shr(.dword, .rax, 8)
        asm.and(.dword, .rax, 0xC4)
        asm.movzx(.dword, .rdx, .byte, .rdx)
        asm.imul(.dword, .rdx, .rdx, 0x801)
        asm.or(.dword, .rax, .rdx)
        storeEagerStatus()
        return true
    }

    // MARK: data movement

    func emitMov(_ d: Instr) -> Bool {
        func ok(_ k: OperandKind) -> Bool {
            switch k { case .E, .G, .Z, .fixedReg, .O, .I: return true; default: return false }
        }
        guard ok(d.op0.kind), ok(d.op1.kind), d.op0.kind != .I else { return false }
        let size = opBytes(d.op0.size, d)
        let mem = memOperand(d)
        let writes = (d.op0.kind == .E && d.isMem) || d.op0.kind == .O
        if mem && !memOK(d, write: writes) { return false }
        if mem { emitMem(d, size: size, write: writes) }
        readOp(d.op1, d, size, .rax)
        writeOp(d.op0, d, size, .rax)
        return true
    }

    func emitLea(_ d: Instr) -> Bool {
        guard d.isMem, d.op0.kind == .G else { return false }
        emitEA(d)
        switch d.opSize {
        case 2: asm.mov(.word, gslot(d.reg, 2, d.rex), .rsi)
        case 4: asm.mov(.dword, .rsi, .rsi); asm.mov(.qword, gslot(d.reg, 4, d.rex), .rsi)
        default: asm.mov(.qword, gslot(d.reg, 8, d.rex), .rsi)
        }
        return true
    }

    func emitExtend(_ d: Instr) -> Bool {
        guard d.op0.kind == .G, d.op1.kind == .E else { return false }
        let srcSize: UInt8 = d.mn == .MOVSXD ? 4 : opBytes(d.op1.size, d)
        let size = d.opSize
        if d.isMem && !memOK(d, write: false) { return false }
        if d.isMem { emitMem(d, size: srcSize, write: false) }
        let src = d.isMem ? Mem(.rsi, 0) : gslot(d.rm, srcSize, d.rex)
        switch (d.mn, srcSize) {
        case (.MOVZX, 1): asm.movzx(.dword, .rax, .byte, src)
        case (.MOVZX, _): asm.movzx(.dword, .rax, .word, src)
        case (.MOVSX, 1): asm.movsx(size == 8 ? .qword : .dword, .rax, .byte, src)
        case (.MOVSX, _): asm.movsx(size == 8 ? .qword : .dword, .rax, .word, src)
        default:
            if size == 8 { asm.movsxd(.rax, src) } else { asm.mov(.dword, .rax, src) }
        }
        storeG(d.reg, size, d.rex, .rax)
        return true
    }

    func emitXchg(_ d: Instr) -> Bool {
        guard isDest(d.op0), isDest(d.op1) else { return false }
        let size = opBytes(d.op0.size, d)
        if d.isMem && !memOK(d, write: true) { return false }
        if d.isMem { emitMem(d, size: size, write: true) }
        readOp(d.op0, d, size, .rax)
        readOp(d.op1, d, size, .rcx)
        writeOp(d.op0, d, size, .rcx)
        writeOp(d.op1, d, size, .rax)
        return true
    }

    func emitSetcc(_ d: Instr, _ cc: UInt8) -> Bool {
        guard d.op0.kind == .E else { return false }
        if d.isMem && !memOK(d, write: true) { return false }
        let c = emitCondition(cc)
        asm.setcc(c, .rcx)
        if d.isMem { emitMem(d, size: 1, write: true) }
        writeOp(d.op0, d, 1, .rcx)
        return true
    }

    func emitCmov(_ d: Instr, _ cc: UInt8) -> Bool {
        guard d.op0.kind == .G, d.op1.kind == .E else { return false }
        let size = d.opSize
        if d.isMem && !memOK(d, write: false) { return false }
        let c = emitCondition(cc)
        asm.setcc(c, .rbx)
        if d.isMem { emitMem(d, size: size, write: false) }
        readOp(d.op1, d, size, .rcx)
        loadG(.rax, d.reg, size, d.rex)
        asm.test(.byte, .rbx, .rbx)
        asm.cmov(.ne, osz(size), .rax, .rcx)
        storeG(d.reg, size, d.rex, .rax)
        return true
    }

    // MARK: stack

    func emitPush(_ d: Instr) -> Bool {
        let size = d.opSize
        guard stackOK(write: true) else { return false }
        switch d.op0.kind {
        case .Z: loadG(.rcx, zreg(d), size, d.rex)
        case .I, .Is: movImm(.rcx, d.imm & mask(size))
        case .E where !d.isMem: loadG(.rcx, d.rm, size, d.rex)
        default: return false
        }
        emitPushValue(size, .rcx)
        return true
    }

    func emitPop(_ d: Instr) -> Bool {
        guard d.op0.kind == .Z, stackOK(write: false) else { return false }
        let size = d.opSize
        loadSP()
        spPlus(Int32(size))
        emitStackAccess(write: false, size: size)
        loadM(.rax, size)
        storeSP()
        storeG(zreg(d), size, d.rex, .rax)
        return true
    }

    func emitLeave(_ d: Instr) -> Bool {
        guard stackOK(write: false) else { return false }
        let size = d.opSize
        loadStackReg(5)
        spPlus(Int32(size))
        emitStackAccess(write: false, size: size)
        loadM(.rax, size)
        storeSP()
        storeG(5, size, 0, .rax)
        return true
    }

    // MARK: control transfer

    func emitJcc(_ d: Instr) -> Bool {
        let target = (nexts[k] &+ d.imm) & mask(d.opSize)
        guard targetOK(target) else { return false }
        pending += 1
        flushICount()
        let c = emitCondition(UInt8(d.opcode & 0xF))
        let f1 = asm.jccPatchable(c)
        addChainStub(field: f1, target: target)
        let f2 = asm.jmpPatchable()
        addChainStub(field: f2, target: nexts[k])
        terminatedByLast = true
        return true
    }

    /// LOOP/LOOPE/LOOPNE/JCXZ: the counter is rCX in the address size.
    func emitLoop(_ d: Instr) -> Bool {
        let target = (nexts[k] &+ d.imm) & mask(d.opSize)
        guard targetOK(target) else { return false }
        let a = d.addrSize
        pending += 1
        flushICount()
        let cond: Cond
        if d.mn == .JCXZ {
            asm.cmp(osz(a), Mem(.rbp, 8), 0)
            cond = .e
        } else {
            if a == 4 {
                asm.mov(.dword, .rax, Mem(.rbp, 8))
                asm.sub(.dword, .rax, 1)
                asm.mov(.qword, Mem(.rbp, 8), .rax)
            } else {
                asm.sub(osz(a), Mem(.rbp, 8), 1)
            }
            if d.mn == .LOOP {
                cond = .ne
            } else {
                asm.setcc(.ne, .rbx)
                let c = emitCondition(d.mn == .LOOPE ? 4 : 5)     // Z / NZ
                asm.setcc(c, .rax)
                asm.and(.byte, .rax, .rbx)
                cond = .ne
            }
        }
        let f1 = asm.jccPatchable(cond)
        addChainStub(field: f1, target: target)
        let f2 = asm.jmpPatchable()
        addChainStub(field: f2, target: nexts[k])
        terminatedByLast = true
        return true
    }

    func emitJmp(_ d: Instr) -> Bool {
        if d.op0.kind == .J {
            let target = (nexts[k] &+ d.imm) & mask(d.opSize)
            guard targetOK(target) else { return false }
            pending += 1
            flushICount()
            emitChainExit(target: target)
            terminatedByLast = true
            return true
        }
        guard d.op0.kind == .E else { return false }
        let size = d.opSize
        if d.isMem && !memOK(d, write: false) { return false }
        if d.isMem { emitMem(d, size: size, write: false) }
        readOp(d.op0, d, size, .rax)
        emitTargetCheck()
        emitIndirectExit()
        return true
    }

    func emitCall(_ d: Instr) -> Bool {
        let size = d.opSize
        guard stackOK(write: true) else { return false }
        let ret = nexts[k] & mask(size)
        if d.op0.kind == .J {
            let target = (nexts[k] &+ d.imm) & mask(size)
            guard targetOK(target) else { return false }
            movImm(.rcx, ret)
            emitPushValue(size, .rcx)
            pending += 1
            flushICount()
            emitChainExit(target: target)
            terminatedByLast = true
            return true
        }
        guard d.op0.kind == .E else { return false }
        if d.isMem && !memOK(d, write: false) { return false }
        if d.isMem { emitMem(d, size: size, write: false) }
        readOp(d.op0, d, size, .rax)
        emitTargetCheck()
        movImm(.rcx, ret)
        emitPushValue(size, .rcx)
        emitIndirectExit()
        return true
    }

    func emitRet(_ d: Instr) -> Bool {
        guard stackOK(write: false) else { return false }
        let size = d.opSize
        let extra = d.op0.kind == .I ? Int32(d.imm & 0xFFFF) : 0
        loadSP()
        spPlus(Int32(size) + extra)
        emitStackAccess(write: false, size: size)
        loadM(.rax, size)
        emitTargetCheck()
        storeSP()
        emitIndirectExit()
        return true
    }

    // MARK: far transfers within the current real-mode code segment

    /// Real mode (not v86) with a 16-bit code segment whose base is a selector's (sel << 4):
    /// the selector, or nil.
    var realModeCS: UInt16? {
        guard key.flags & UInt32(MODE_PE) == 0, key.flags & UInt32(MODE_CS32) == 0,
              key.csBase & 0xF == 0, key.csBase < 0x10_0000 else { return nil }
        return UInt16(key.csBase >> 4)
    }

    /// Slow path unless CS holds selector `sel` with the attributes a real-mode CS load leaves
    /// (present code/data, no D/B, no L): reloading CS with `sel` then changes nothing.
    func emitSameRealCSCheck(_ sel: UInt16) {
        let cs = offSeg + 16
        asm.cmp(.word, Mem(.rbp, cs + 12), Int32(sel))
        asm.jcc(.ne, slowLabel())
        asm.movzx(.dword, .rax, .word, Mem(.rbp, cs + 14))
        asm.and(.dword, .rax, Int32(ATTR_L | ATTR_DB | ATTR_P | ATTR_S))
        asm.cmp(.dword, .rax, Int32(ATTR_P | ATTR_S))
        asm.jcc(.ne, slowLabel())
    }

    /// JMPF/CALLF ptr16:16/32 and RETF in real mode when the new CS is the current one (code in
    /// one segment calling its own far entry points, as BIOS code does): the interpreter's
    /// `farCall`/`farReturn` reduced to the stack accesses and a near transfer. Anything else
    /// (another segment, v86, protected mode) is left to the interpreter.
    func emitFarReal(_ d: Instr) -> Bool {
        guard let cur = realModeCS else { return false }
        let size = d.opSize
        switch d.mn {
        case .JMPF, .CALLF:
            guard d.op0.kind == .A, UInt16(truncatingIfNeeded: d.imm2) == cur else { return false }
            let target = d.imm & mask(size)
            guard targetOK(target) else { return false }
            if d.mn == .CALLF {
                guard stackOK(write: true) else { return false }
                emitSameRealCSCheck(cur)
                // Both slots in one access, IP below CS (no write before the last check).
                loadSP()
                spPlus(-2 * Int32(size))
                asm.mov(.qword, .rsi, .r8)
                emitStackAccess(write: true, size: 2 * size)
                movImm(.rcx, nexts[k] & mask(size))
                storeM(size, .rcx)
                asm.mov(osz(size), Mem(.rsi, Int32(size)), Int32(cur))
                storeSP()
            } else {
                emitSameRealCSCheck(cur)
            }
            pending += 1
            flushICount()
            emitChainExit(target: target)
            terminatedByLast = true
            return true
        case .RETF:
            guard stackOK(write: false) else { return false }
            let extra = d.op0.kind == .I ? Int32(d.imm & 0xFFFF) : 0
            emitSameRealCSCheck(cur)
            loadSP()
            spPlus(2 * Int32(size) + extra)
            emitStackAccess(write: false, size: 2 * size)
            asm.cmp(.word, Mem(.rsi, Int32(size)), Int32(cur))
            asm.jcc(.ne, slowLabel())
            loadM(.rax, size)
            emitTargetCheck()
            storeSP()
            emitIndirectExit()
            return true
        default:
            return false
        }
    }

    // MARK: SSE integer subset

    enum SSEKind { case none, binary(UInt32), shiftImm(UInt8, UInt8), pshufd, movdqa, movdqu, movd }

    /// The vector instructions translated natively, by table name (legacy-SSE, XMM forms only).
    func sseKind(_ d: Instr) -> SSEKind {
        let ii = Int(d.infoIndex)
        if let k = sseKinds[ii] { return k }
        let t = engine.cpu.table
        guard ii >= 0 && ii < t.infos.count else { return .none }
        let name = t.names[Int(t.infos[ii].nameIndex)]
        let k: SSEKind
        switch name {
        case "PXOR": k = .binary(0x0FEF)
        case "POR": k = .binary(0x0FEB)
        case "PAND": k = .binary(0x0FDB)
        case "PANDN": k = .binary(0x0FDF)
        case "PADDD": k = .binary(0x0FFE)
        case "PADDQ": k = .binary(0x0FD4)
        case "PSUBD": k = .binary(0x0FFA)
        case "PUNPCKLDQ": k = .binary(0x0F62)
        case "PUNPCKHDQ": k = .binary(0x0F6A)
        case "PUNPCKLQDQ": k = .binary(0x0F6C)
        case "PUNPCKHQDQ": k = .binary(0x0F6D)
        case "PSHUFB": k = .binary(0x0F3800)
        case "PSLLD": k = .shiftImm(0x72, 6)
        case "PSRLD": k = .shiftImm(0x72, 2)
        case "PSLLQ": k = .shiftImm(0x73, 6)
        case "PSRLQ": k = .shiftImm(0x73, 2)
        case "PSHUFD": k = .pshufd
        case "MOVDQA": k = .movdqa
        case "MOVDQU": k = .movdqu
        case "MOVD": k = .movd
        default: k = .none
        }
        sseKinds[ii] = k
        return k
    }

    /// Host address of guest XMM register i in CPUState.
    func xmmSlot(_ i: UInt8) -> Mem { Mem(.rbp, offYMM + 32 * Int32(i & 15)) }

    /// The interpreter's `sseCheck` (CR0.EM, CR4.OSFXSR, CR0.TS): a fault runs the instruction
    /// in the interpreter.
    func emitSSECheck() {
        asm.test(.dword, Mem(.rbp, offCR0), 0xC)
        asm.jcc(.ne, slowLabel())
        asm.test(.dword, Mem(.rbp, offCR4), 0x200)
        asm.jcc(.e, slowLabel())
    }

    /// xmm1 = the 16-byte W operand (register, or memory with the legacy alignment check).
    func emitLoadW(_ d: Instr, aligned: Bool) {
        if d.isMem {
            emitMem(d, size: 16, write: false)
            if aligned {
                asm.test(.dword, .rsi, 15)
                asm.jcc(.ne, slowLabel())
            }
            asm.movdqu(.xmm1, Mem(.rsi, 0))
        } else {
            asm.movdqu(.xmm1, xmmSlot(d.rm))
        }
    }

    func emitSSE(_ d: Instr) -> Bool {
        if d.rep != 0 || d.lock { return false }
        let kind = sseKind(d)
        switch kind {
        case .none:
            return false
        case .binary(let opc):
            guard d.op0.kind == .V, d.op1.kind == .W else { return false }
            if d.isMem && !memOK(d, write: false) { return false }
            emitSSECheck()
            emitLoadW(d, aligned: true)
            asm.movdqu(.xmm0, xmmSlot(d.reg))
            asm.enc(w: false, p66: false, mandatory: 0x66, opcode: opc, opLen: opc > 0xFFFF ? 3 : 2,
                    reg: 0, regByte: false, rm: .r(Reg(rawValue: 1)!), rmByte: false)
            asm.movdqu(xmmSlot(d.reg), .xmm0)
            return true
        case .shiftImm(let opc, let digit):
            guard d.op0.kind == .U, d.op1.kind == .I, !d.isMem else { return false }
            emitSSECheck()
            asm.movdqu(.xmm0, xmmSlot(d.rm))
            asm.enc(w: false, p66: false, mandatory: 0x66, opcode: 0x0F00 | UInt32(opc), opLen: 2,
                    reg: digit, regByte: false, rm: .r(Reg(rawValue: 0)!), rmByte: false)
            asm.emit8(UInt8(truncatingIfNeeded: d.imm))
            asm.movdqu(xmmSlot(d.rm), .xmm0)
            return true
        case .pshufd:
            guard d.op0.kind == .V, d.op1.kind == .W else { return false }
            if d.isMem && !memOK(d, write: false) { return false }
            emitSSECheck()
            emitLoadW(d, aligned: true)
            asm.enc(w: false, p66: false, mandatory: 0x66, opcode: 0x0F70, opLen: 2,
                    reg: 0, regByte: false, rm: .r(Reg(rawValue: 1)!), rmByte: false)
            asm.emit8(UInt8(truncatingIfNeeded: d.imm))
            asm.movdqu(xmmSlot(d.reg), .xmm0)
            return true
        case .movdqa, .movdqu:
            let aligned: Bool
            if case .movdqa = kind { aligned = true } else { aligned = false }
            if d.op0.kind == .V && d.op1.kind == .W {
                if d.isMem && !memOK(d, write: false) { return false }
                emitSSECheck()
                emitLoadW(d, aligned: aligned)
                asm.movdqu(xmmSlot(d.reg), .xmm1)
                return true
            }
            guard d.op0.kind == .W, d.op1.kind == .V else { return false }
            if d.isMem && !memOK(d, write: true) { return false }
            emitSSECheck()
            if d.isMem {
                emitMem(d, size: 16, write: true)
                if aligned {
                    asm.test(.dword, .rsi, 15)
                    asm.jcc(.ne, slowLabel())
                }
                asm.movdqu(.xmm1, xmmSlot(d.reg))
                asm.movdqu(Mem(.rsi, 0), .xmm1)
            } else {
                asm.movdqu(.xmm1, xmmSlot(d.reg))
                asm.movdqu(xmmSlot(d.rm), .xmm1)
            }
            return true
        case .movd:
            let sz: UInt8 = d.rexW ? 8 : 4
            if d.op0.kind == .V && d.op1.kind == .E {
                if d.isMem && !memOK(d, write: false) { return false }
                emitSSECheck()
                if d.isMem { emitMem(d, size: sz, write: false) }
                readOp(d.op1, d, sz, .rax)
                // XMM = value zero-extended to 128 bits (bytes 16..31 kept).
                asm.mov(.qword, xmmSlot(d.reg), .rax)
                asm.mov(.qword, Mem(.rbp, offYMM + 32 * Int32(d.reg & 15) + 8), 0)
                return true
            }
            guard d.op0.kind == .E, d.op1.kind == .V else { return false }
            if d.isMem && !memOK(d, write: true) { return false }
            emitSSECheck()
            if d.isMem { emitMem(d, size: sz, write: true) }
            if sz == 8 { asm.mov(.qword, .rax, xmmSlot(d.reg)) } else { asm.mov(.dword, .rax, xmmSlot(d.reg)) }
            writeOp(d.op0, d, sz, .rax)
            return true
        }
    }
}

