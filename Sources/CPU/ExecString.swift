import CPUState

// String instructions (with REP/REPE/REPNE) and port I/O.

/// REP iterations done per step before yielding (so interrupts and budgets stay responsive).
let repChunk = 4096

extension CPU {
    func execString(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        switch d.mn {
        case .IN, .OUT:
            let size: UInt8 = d.op0.kind == .fixedReg && d.op0.size == .b || d.op1.kind == .fixedReg && d.op1.size == .b ? 1 : (d.opSize == 2 ? 2 : 4)
            let port: UInt16 = (d.op0.kind == .I || d.op1.kind == .I) ? UInt16(d.imm & 0xFF) : UInt16(truncatingIfNeeded: gpr[2])
            try checkIOPermission(port, size: size)
            if d.mn == .IN {
                let v = ports.read(port, size: Int(size))
                writeReg(0, size: size, rex: 0, UInt64(v))
            } else {
                ports.write(port, size: Int(size), value: UInt32(truncatingIfNeeded: gpr[0] & sizeMask(size)))
            }
            return
        default: break
        }
        let size: UInt8 = (d.op0.size == .b || d.op1.size == .b) ? 1 : (d.mn == .INS || d.mn == .OUTS ? (d.opSize == 2 ? 2 : 4) : d.opSize)
        let am = sizeMask(d.addrSize)
        let step: UInt64 = s.pointee.rflags & FlagBit.DF != 0 ? 0 &- UInt64(size) : UInt64(size)
        let srcSeg = d.seg
        if d.mn == .INS || d.mn == .OUTS { try checkIOPermission(UInt16(truncatingIfNeeded: gpr[2]), size: size) }

        @inline(__always) func advance(_ r: Int) {
            gpr[r] = am == ~0 ? gpr[r] &+ step : (am == 0xFFFF_FFFF ? (gpr[r] &+ step) & am : (gpr[r] & ~am) | ((gpr[r] &+ step) & am))
        }

        @inline(__always) func once() throws(Fault) -> Bool {
            // Returns the comparison's ZF for CMPS/SCAS, true otherwise.
            switch d.mn {
            case .MOVS:
                let v = try read(seg: srcSeg, off: gpr[6] & am, size: size)
                try write(seg: 0, off: gpr[7] & am, size: size, v)
                advance(6); advance(7)
            case .STOS:
                try write(seg: 0, off: gpr[7] & am, size: size, gpr[0] & sizeMask(size))
                advance(7)
            case .LODS:
                let v = try read(seg: srcSeg, off: gpr[6] & am, size: size)
                writeReg(0, size: size, rex: 0, v)
                advance(6)
            case .CMPS:
                // ES:rDI is read first (a fault on both operands reports rDI's address).
                let b = try read(seg: 0, off: gpr[7] & am, size: size)
                let a = try read(seg: srcSeg, off: gpr[6] & am, size: size)
                advance(6); advance(7)
                let r = (a &- b) & sizeMask(size)
                setLazy(.sub, size: size, dst: r, src: b, src2: a)
                return r == 0
            case .SCAS:
                let a = gpr[0] & sizeMask(size)
                let b = try read(seg: 0, off: gpr[7] & am, size: size)
                advance(7)
                let r = (a &- b) & sizeMask(size)
                setLazy(.sub, size: size, dst: r, src: b, src2: a)
                return r == 0
            case .INS:
                // Probe the destination first so a fault does not lose the port read.
                let lin = try linear(seg: 0, off: gpr[7] & am, size: size, write: true)
                try probeWrite(lin, size: Int(size), user: userAccess)
                let v = ports.read(UInt16(truncatingIfNeeded: gpr[2]), size: Int(size))
                try writeLinear(lin, size: Int(size), user: userAccess, UInt64(v))
                advance(7)
            default: // OUTS
                let v = try read(seg: srcSeg, off: gpr[6] & am, size: size)
                ports.write(UInt16(truncatingIfNeeded: gpr[2]), size: Int(size), value: UInt32(truncatingIfNeeded: v))
                advance(6)
            }
            return true
        }

        if d.rep == 0 {
            _ = try once()
            return
        }
        let cmp = d.mn == .CMPS || d.mn == .SCAS
        // With a 32-bit address size in 64-bit mode ECX (and EDI for MOVS/STOS, ESI for MOVS) are
        // written, bits 63:32 cleared, even with a zero count or when the first iteration faults,
        // as the host CPUs do.
        if am == 0xFFFF_FFFF && code64 {
            gpr[1] &= am
            if d.mn == .MOVS || d.mn == .STOS { gpr[7] &= am }
            if d.mn == .MOVS { gpr[6] &= am }
        }
        var n = 0
        // A fault in a later iteration of REP CMPS/SCAS leaves RFLAGS as before the instruction.
        let f0 = s.pointee.rflags, op0 = s.pointee.cc_op
        let dst0 = s.pointee.cc_dst, src0 = s.pointee.cc_src, src20 = s.pointee.cc_src2
        while gpr[1] & am != 0 {
            let z: Bool
            if cmp {
                do { z = try once() } catch {
                    s.pointee.rflags = f0; s.pointee.cc_op = op0
                    s.pointee.cc_dst = dst0; s.pointee.cc_src = src0; s.pointee.cc_src2 = src20
                    throw error
                }
            } else {
                z = try once()
            }
            let c = (gpr[1] &- 1) & am
            gpr[1] = am == ~0 ? c : (am == 0xFFFF_FFFF ? c : (gpr[1] & ~am) | c)
            if cmp && ((d.rep == 0xF3 && !z) || (d.rep == 0xF2 && z)) { return }
            n += 1
            if n >= repChunk && gpr[1] & am != 0 {
                // Yield: re-execute this instruction later with the updated registers.
                s.pointee.rip = s.pointee.rip &- UInt64(d.len)
                if !code64 { s.pointee.rip &= (mode & UInt32(MODE_CS32) != 0) ? 0xFFFF_FFFF : 0xFFFF }
                return
            }
            if s.pointee.exit_request != 0 && gpr[1] & am != 0 {
                s.pointee.rip = s.pointee.rip &- UInt64(d.len)
                if !code64 { s.pointee.rip &= (mode & UInt32(MODE_CS32) != 0) ? 0xFFFF_FFFF : 0xFFFF }
                return
            }
        }
    }

    /// Protected-mode I/O permission: CPL <= IOPL, or the TSS I/O bitmap allows every byte port.
    func checkIOPermission(_ port: UInt16, size: UInt8) throws(Fault) {
        if realMode { return }
        if !v86 && UInt64(cpl) <= iopl { return }
        let tr = sreg[7]
        let type = tr.attr & 0xF
        if type != 0x9 && type != 0xB { throw Fault.gp(0) }
        if tr.limit < 103 { throw Fault.gp(0) }
        let bitmapOff = try readSystem(tr.base &+ 102, size: 2)
        let byteOff = bitmapOff + UInt64(port >> 3)
        if byteOff + 1 > UInt64(tr.limit) { throw Fault.gp(0) }
        let bits = try readSystem(tr.base &+ byteOff, size: 2)
        let mask = ((UInt64(1) << UInt64(size)) - 1) << UInt64(port & 7)
        if bits & mask != 0 { throw Fault.gp(0) }
    }
}
