import CPUState

/// How an interrupt or exception entered: affects privilege checks and what is pushed.
public enum InterruptSource: Sendable {
    case exception          // fault or trap raised by the CPU
    case software           // INT n (DPL checked against CPL)
    case softwareException  // INT3 / INTO (DPL checked, like INT n)
    case icebp              // INT1 (no DPL check)
    case external           // device interrupt or NMI
}

extension CPU {
    // MARK: run loop

    /// Runs until `budget` instructions retired, HLT, shutdown, or an exit request.
    public func run(budget: Int) -> StopReason {
        var n = budget
        var d = Instr()
        while n > 0 {
            if s.pointee.exit_request != 0 {
                s.pointee.exit_request = 0
                return .exitRequest
            }
            if s.pointee.shutdown != 0 { return .shutdown }
            if (interruptPending || s.pointee.nmi_pending != 0) && s.pointee.intr_shadow == 0 {
                if checkExternalInterrupt() { n -= 1; continue }
            }
            if s.pointee.halted != 0 { return .halted }
            step(&d)
            n -= 1
        }
        return .budget
    }

    /// Delivers a pending NMI or maskable interrupt if the CPU can take it. Returns true if one was delivered.
    func checkExternalInterrupt() -> Bool {
        if s.pointee.nmi_pending != 0 && s.pointee.nmi_blocked == 0 {
            s.pointee.nmi_pending = 0
            s.pointee.nmi_blocked = 1
            s.pointee.halted = 0
            raiseInterrupt(2, source: .external, code: nil)
            return true
        }
        if interruptPending && flags() & FlagBit.IF != 0 {
            guard let v = acknowledgeInterrupt() else { interruptPending = false; return false }
            s.pointee.halted = 0
            raiseInterrupt(v, source: .external, code: nil)
            return true
        }
        return false
    }

    /// Decodes and executes one instruction, delivering any exception it raises.
    @inline(__always)
    public func step(_ d: inout Instr) {
        let start = s.pointee.rip
        let tf = s.pointee.rflags & FlagBit.TF
        let shadow = s.pointee.intr_shadow
        do {
            let w = try fetchWindow()
            // 16 bytes readable in the host page: the decode cache may be used.
            let pageRoom = 4096 - Int(UInt(bitPattern: w.ptr) & 0xFFF)
            let dm = decodeMode
            let modeKey: UInt8 = (dm.code64 ? 2 : 0) | (dm.default32 ? 1 : 0)
            if w.avail > 0 && pageRoom >= 16 {
                if let e = decodeCache.lookup(w.ptr, mode: modeKey, avail: w.avail) {
                    d = e.pointee.instr
                } else {
                    try table.decode(w, mode: dm, into: &d, slow: { (i: Int) throws(Fault) -> UInt8 in try self.fetchSlow(i) })
                    decodeCache.insert(w.ptr, mode: modeKey, d)
                }
            } else {
                try table.decode(w, mode: dm, into: &d, slow: { (i: Int) throws(Fault) -> UInt8 in try self.fetchSlow(i) })
            }
            var next = start &+ UInt64(d.len)
            let m = s.pointee.mode
            if m & UInt32(MODE_CS64) == 0 {
                next &= m & UInt32(MODE_CS32) != 0 ? 0xFFFF_FFFF : 0xFFFF
            }
            try retire(&d, start: start, next: next, tf: tf, shadow: shadow)
        } catch {
            deliverFault(error, at: start)
        }
    }

    /// Runs a decoded instruction and retires it: RIP = `next` while it runs, `icount`, the end
    /// of an interrupt shadow, the single-step trap. Shared by `step` and the JIT's helper calls.
    @inline(__always)
    func retire(_ d: inout Instr, start: UInt64, next: UInt64, tf: UInt64, shadow: UInt32) throws(Fault) {
        s.pointee.rip = next
        if let t = trace { t(start, d) }
        try execute(&d)
        s.pointee.icount &+= 1
        if shadow != 0 { s.pointee.intr_shadow = 0 }
        if tf != 0 {
            // Single-step trap after the instruction.
            s.pointee.dr.6 |= 0x4000
            raiseInterrupt(Fault.DB, source: .exception, code: nil)
        }
    }

    /// A fault of the instruction at `start`: RIP back to it, the exception delivered.
    @inline(__always)
    func deliverFault(_ error: Fault, at start: UInt64) {
        s.pointee.rip = start
        if let t = traceFault { t(start, error) }
        raiseInterrupt(error.vector, source: .exception, code: error.hasCode ? error.code : nil)
    }

    /// Delivers an interrupt or exception, escalating to #DF and triple fault as the SDM says.
    public func raiseInterrupt(_ vector: UInt8, source: InterruptSource, code: UInt32?) {
        s.pointee.exceptions &+= 1
        var v = vector
        var c = code
        var src = source
        var attempts = 0
        while true {
            do {
                try deliverInterrupt(v, source: src, code: c)
                return
            } catch {
                attempts += 1
                if v == Fault.DF || attempts > 3 {
                    tripleFault()
                    return
                }
                let contributory: (UInt8) -> Bool = { $0 == 0 || ($0 >= 10 && $0 <= 13) }
                let first = v, second = error.vector
                if (contributory(first) && contributory(second)) ||
                    (first == Fault.PF && (second == Fault.PF || contributory(second))) {
                    v = Fault.DF; c = 0
                } else {
                    v = second; c = error.hasCode ? error.code : nil
                }
                src = .exception
            }
        }
    }

    public func tripleFault() {
        s.pointee.shutdown = 1
        s.pointee.exit_request = 1
    }

    /// Pushes the frame and loads the handler for `vector` in the current mode.
    func deliverInterrupt(_ vector: UInt8, source: InterruptSource, code: UInt32?) throws(Fault) {
        if realMode {
            try deliverReal(vector)
        } else {
            try deliverProtected(vector, source: source, code: code)
        }
    }

    /// Real-mode delivery through the IVT.
    func deliverReal(_ vector: UInt8) throws(Fault) {
        let off = UInt64(vector) * 4
        if off + 3 > UInt64(s.pointee.idtr.limit) { throw Fault.gp(UInt32(vector) * 8 + 2) }
        let ip = try readSystem(s.pointee.idtr.base &+ off, size: 2)
        let cs = try readSystem(s.pointee.idtr.base &+ off + 2, size: 2)
        let f = flags()
        try push(f & 0xFFFF, size: 2)
        try push(UInt64(sreg[1].selector), size: 2)
        try push(s.pointee.rip & 0xFFFF, size: 2)
        s.pointee.rflags = f & ~(FlagBit.IF | FlagBit.TF | FlagBit.AC | FlagBit.RF)
        loadSegmentReal(1, UInt16(cs))
        s.pointee.rip = ip
    }

    // MARK: operands

    /// Byte count of an operand of the given size code.
    @inline(__always)
    func bytes(_ sz: OperandSize, _ d: Instr) -> UInt8 {
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

    /// Effective address (offset within the segment) of the ModRM memory operand.
    @inline(__always)
    public func effectiveAddress(_ d: Instr) -> UInt64 {
        var a = UInt64(bitPattern: d.disp)
        if d.base != regNone { a &+= d.base == regRIP ? s.pointee.rip : gpr[Int(d.base)] }
        if d.index != regNone { a &+= gpr[Int(d.index)] << UInt64(d.scale) }
        switch d.addrSize {
        case 2: return a & 0xFFFF
        case 4: return a & 0xFFFF_FFFF
        default: return a
        }
    }

    @inline(__always)
    func readOp(_ o: Operand, _ d: Instr, _ size: UInt8, _ ea: UInt64) throws(Fault) -> UInt64 {
        switch o.kind {
        case .E, .M:
            if d.isMem { return try read(seg: d.seg, off: ea, size: size) }
            return readReg(d.rm, size: size, rex: d.rex)
        case .G: return readReg(d.reg, size: size, rex: d.rex)
        case .I, .Is: return d.imm & sizeMask(size)
        case .Z: return readReg(UInt8(d.opcode & 7) | ((d.rex & 1) << 3), size: size, rex: d.rex)
        case .fixedReg: return readReg(o.reg, size: size, rex: d.rex)
        case .one: return 1
        case .O: return try read(seg: d.seg, off: d.imm, size: size)
        case .R: return readReg(d.rm, size: size, rex: d.rex)
        default: throw Fault.undefined
        }
    }

    /// Reads the destination operand of a read-modify-write instruction (memory: write access).
    @inline(__always)
    func readOpRMW(_ o: Operand, _ d: Instr, _ size: UInt8, _ ea: UInt64) throws(Fault) -> UInt64 {
        if d.isMem && (o.kind == .E || o.kind == .M) { return try readRMW(seg: d.seg, off: ea, size: size) }
        return try readOp(o, d, size, ea)
    }

    @inline(__always)
    func writeOp(_ o: Operand, _ d: Instr, _ size: UInt8, _ ea: UInt64, _ v: UInt64) throws(Fault) {
        switch o.kind {
        case .E, .M:
            if d.isMem { try write(seg: d.seg, off: ea, size: size, v) }
            else { writeReg(d.rm, size: size, rex: d.rex, v) }
        case .G: writeReg(d.reg, size: size, rex: d.rex, v)
        case .Z: writeReg(UInt8(d.opcode & 7) | ((d.rex & 1) << 3), size: size, rex: d.rex, v)
        case .fixedReg: writeReg(o.reg, size: size, rex: d.rex, v)
        case .O: try write(seg: d.seg, off: d.imm, size: size, v)
        case .R: writeReg(d.rm, size: size, rex: d.rex, v)
        default: throw Fault.undefined
        }
    }

    // MARK: stack

    /// Stack-pointer width in bytes for implicit stack accesses.
    @inline(__always) var stackAddrSize: UInt8 {
        let m = s.pointee.mode
        if m & UInt32(MODE_CS64) != 0 { return 8 }
        return m & UInt32(MODE_SS32) != 0 ? 4 : 2
    }

    @inline(__always)
    func stackMaskedAdd(_ sp: UInt64, _ delta: UInt64) -> UInt64 {
        switch stackAddrSize {
        case 2: return (sp & ~0xFFFF) | ((sp &+ delta) & 0xFFFF)
        case 4: return (sp &+ delta) & 0xFFFF_FFFF
        default: return sp &+ delta
        }
    }

    @inline(__always)
    func stackOffset(_ sp: UInt64) -> UInt64 {
        switch stackAddrSize {
        case 2: return sp & 0xFFFF
        case 4: return sp & 0xFFFF_FFFF
        default: return sp
        }
    }

    @inline(__always)
    public func push(_ v: UInt64, size: UInt8) throws(Fault) {
        let sp = stackMaskedAdd(gpr[4], 0 &- UInt64(size))
        try write(seg: 2, off: stackOffset(sp), size: size, v)
        gpr[4] = sp
    }

    @inline(__always)
    public func pop(size: UInt8) throws(Fault) -> UInt64 {
        let v = try read(seg: 2, off: stackOffset(gpr[4]), size: size)
        gpr[4] = stackMaskedAdd(gpr[4], UInt64(size))
        return v
    }

    /// Reads the stack at SP + `depth` without moving SP.
    @inline(__always)
    func peekStack(_ depth: UInt64, size: UInt8) throws(Fault) -> UInt64 {
        try read(seg: 2, off: stackOffset(stackMaskedAdd(gpr[4], depth)), size: size)
    }

    // MARK: segments (real mode / v86)

    @inline(__always)
    func loadSegmentReal(_ seg: UInt8, _ sel: UInt16) {
        let sc = sreg + Int(seg)
        sc.pointee.selector = sel
        sc.pointee.base = UInt64(sel) << 4
        if v86 {
            sc.pointee.limit = 0xFFFF
            sc.pointee.attr = UInt16(ATTR_P | ATTR_S | (3 << ATTR_DPL_SHIFT)) | (seg == 1 ? 0xB : 0x3)
        } else if seg == 1 {
            // Real-mode CS: keeps limit, becomes a 16-bit code segment.
            sc.pointee.attr = (sc.pointee.attr & ~UInt16(ATTR_DB | ATTR_L)) | UInt16(ATTR_P | ATTR_S)
            updateMode()
        }
    }

    /// Loads a segment register by selector in the current mode (MOV/POP Sreg, LxS).
    public func loadSegment(_ seg: UInt8, _ sel: UInt16) throws(Fault) {
        if realMode || v86 {
            loadSegmentReal(seg, sel)
        } else {
            try loadSegmentProtected(seg, sel)
        }
        if seg == 2 { updateMode() }
    }

    // MARK: dispatch

    @inline(__always)
    func execute(_ d: inout Instr) throws(Fault) {
        if d.attrs.contains(.privileged) && s.pointee.cpl != 0 && protectedMode {
            // A control/debug register that does not exist is #UD before the privilege check.
            if d.opcode >= 0x120 && d.opcode <= 0x123 {
                let n = d.reg
                if d.opcode & 1 == 0 ? !(n == 0 || n == 2 || n == 3 || n == 4 || n == 8)
                                     : (n > 7 || ((n == 4 || n == 5) && s.pointee.cr4 & CR4Bit.DE != 0)) {
                    throw Fault.undefined
                }
            }
            // LLDT/LTR are not recognised in virtual-8086 mode (#UD, raised by their handler).
            if !(v86 && (d.mn == .LLDT || d.mn == .LTR)) { throw Fault.gp(0) }
        }
        // Instructions of extensions the CPUID model does not advertise are #UD.
        if d.feature != 0 && featureMask & (1 << UInt64(d.feature)) == 0 {
            // Without BMI1/LZCNT the F3 prefix is ignored: TZCNT runs as BSF, LZCNT as BSR.
            if d.mn == .TZCNT { d.mn = .BSF } else if d.mn == .LZCNT { d.mn = .BSR } else {
                countUnimplemented(d)
                throw Fault.undefined
            }
        }
        let ea = d.isMem ? effectiveAddress(d) : 0
        switch d.mn {
        case .ADD, .OR, .ADC, .SBB, .AND, .SUB, .XOR, .CMP, .TEST,
             .INC, .DEC, .NOT, .NEG, .MUL, .IMUL, .DIV, .IDIV,
             .DAA, .DAS, .AAA, .AAS, .AAM, .AAD, .SALC, .CBW, .CWD,
             .ROL, .ROR, .RCL, .RCR, .SHL, .SHR, .SAR, .SHLD, .SHRD,
             .BT, .BTS, .BTR, .BTC, .BSF, .BSR, .TZCNT, .LZCNT, .POPCNT, .BSWAP:
            try execArith(&d, ea)
        case .MOV, .MOVZX, .MOVSX, .MOVSXD, .LEA, .XCHG, .XADD, .CMPXCHG, .CMPXCHG8B, .NOP,
             .PREFETCH, .PREFETCHW, .MOVBE, .XLAT, .LAHF, .SAHF,
             .SETO, .SETNO, .SETB, .SETNB, .SETZ, .SETNZ, .SETBE, .SETNBE,
             .SETS, .SETNS, .SETP, .SETNP, .SETL, .SETNL, .SETLE, .SETNLE,
             .CMOVO, .CMOVNO, .CMOVB, .CMOVNB, .CMOVZ, .CMOVNZ, .CMOVBE, .CMOVNBE,
             .CMOVS, .CMOVNS, .CMOVP, .CMOVNP, .CMOVL, .CMOVNL, .CMOVLE, .CMOVNLE,
             .CLC, .STC, .CMC, .CLD, .STD:
            try execData(&d, ea)
        case .PUSH, .POP, .PUSHA, .POPA, .PUSHF, .POPF, .ENTER, .LEAVE,
             .JO, .JNO, .JB, .JNB, .JZ, .JNZ, .JBE, .JNBE, .JS, .JNS, .JP, .JNP, .JL, .JNL, .JLE, .JNLE,
             .JMP, .JMPF, .CALL, .CALLF, .RET, .RETF, .LOOP, .LOOPE, .LOOPNE, .JCXZ,
             .INT, .INT3, .INTO, .INT1, .IRET, .BOUND, .LES, .LDS, .LSS, .LFS, .LGS:
            try execControl(&d, ea)
        case .MOVS, .CMPS, .STOS, .LODS, .SCAS, .INS, .OUTS, .IN, .OUT:
            try execString(&d, ea)
        case .FWAIT:
            try execFWAIT()
        case .ANDN, .BEXTR, .BLSI, .BLSMSK, .BLSR, .BZHI, .MULX, .PDEP, .PEXT, .RORX, .SARX, .SHLX, .SHRX,
             .ADCX, .ADOX:
            try execBMI(&d, ea)
        case .UNIMPL, .FPU, .FXSAVE, .FXRSTOR, .LDMXCSR, .STMXCSR, .XSAVE, .XRSTOR, .XSAVEOPT, .UD0, .UD1, .UD2, .RSM, .GETSEC:
            if d.mn == .UNIMPL || d.mn == .FPU || d.mn == .RSM || d.mn == .GETSEC ||
                (d.mn != .UD0 && d.mn != .UD1 && d.mn != .UD2) {
                try execExtension(&d, ea)
                return
            }
            throw Fault.undefined
        default:
            try execSystem(&d, ea)
        }
    }

    /// Instructions from later extensions (x87, SSE, AVX) land here; until implemented, #UD.
    func execExtension(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .FPU, .FXSAVE, .FXRSTOR:
            try execFPU(&d, ea)                    // FPU.swift
        case .XSAVE, .XSAVEOPT:
            try xsave(d, ea)                       // FPUEnv.swift
        case .XRSTOR:
            try xrstor(d, ea)
        default:
            if try execVector(&d, ea) { return }   // Vector.swift: MMX/SSE..SSE4.2; false if not handled
            countUnimplemented(d)
            throw Fault.undefined
        }
    }
}
