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
        let bulk = (d.mn == .STOS || d.mn == .MOVS) && step == UInt64(size)
        var n = 0
        // A fault in a later iteration of REP CMPS/SCAS leaves RFLAGS as before the instruction.
        let f0 = s.pointee.rflags, op0 = s.pointee.cc_op
        let dst0 = s.pointee.cc_dst, src0 = s.pointee.cc_src, src20 = s.pointee.cc_src2
        while gpr[1] & am != 0 {
            if bulk && s.pointee.exit_request == 0, let k = bulkRun(d.mn == .MOVS, size: size, srcSeg: srcSeg, am: am, limit: repChunk - n), k > 0 {
                // k whole elements in one page each side (TLB hits on plain RAM): the same
                // stores the element loop would make, registers advanced by k.
                let adv = UInt64(k) &* UInt64(size)
                @inline(__always) func advBy(_ r: Int) {
                    gpr[r] = am == ~0 ? gpr[r] &+ adv : (am == 0xFFFF_FFFF ? (gpr[r] &+ adv) & am : (gpr[r] & ~am) | ((gpr[r] &+ adv) & am))
                }
                advBy(7)
                if d.mn == .MOVS { advBy(6) }
                let c = (gpr[1] &- UInt64(k)) & am
                gpr[1] = am == ~0 ? c : (am == 0xFFFF_FFFF ? c : (gpr[1] & ~am) | c)
                n += k
            } else {
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
            }
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

    /// REP STOS / REP MOVS forward fast path: performs up to `limit` elements (and at most the
    /// count in rCX) that lie wholly in one page of the destination (and of the source), when
    /// both hit the soft TLB (plain RAM: never MMIO or translated code) and pass the segment
    /// checks, in ascending order exactly as the element loop would. Returns the number done,
    /// 0 when the element loop must take the next element (it faults or fills the TLB itself).
    @inline(__always)
    func bulkRun(_ movs: Bool, size: UInt8, srcSeg: UInt8, am: UInt64, limit: Int) -> Int? {
        let cnt = gpr[1] & am
        let dOff = gpr[7] & am
        let sz = UInt64(size)
        guard let dLin = try? linear(seg: 0, off: dOff, size: size, write: true) else { return 0 }
        var k = UInt64(4096 - Int(dLin & 0xFFF)) / sz
        k = Swift.min(k, cnt, UInt64(Swift.max(limit, 0)), (am &- dOff) / sz &+ 1)
        var sLin: UInt64 = 0
        var sOff: UInt64 = 0
        if movs {
            sOff = gpr[6] & am
            guard let l = try? linear(seg: srcSeg, off: sOff, size: size, write: false) else { return 0 }
            sLin = l
            k = Swift.min(k, UInt64(4096 - Int(sLin & 0xFFF)) / sz, (am &- sOff) / sz &+ 1)
        }
        guard k >= 2 else { return 0 }
        let lastD = dOff &+ (k &- 1) &* sz
        guard let dl = try? linear(seg: 0, off: lastD, size: size, write: true), dl == dLin &+ (k &- 1) &* sz else { return 0 }
        let user = userAccess
        let de = tlbSet(user, .write) + Int((dLin >> 12) & UInt64(TLB_ENTRIES - 1))
        guard de.pointee.tag == dLin & ~0xFFF else { return 0 }
        let dp = UnsafeMutableRawPointer(bitPattern: UInt(de.pointee.addend &+ dLin))!
        if movs {
            let lastS = sOff &+ (k &- 1) &* sz
            guard let sl = try? linear(seg: srcSeg, off: lastS, size: size, write: false), sl == sLin &+ (k &- 1) &* sz else { return 0 }
            let se = tlbSet(user, .read) + Int((sLin >> 12) & UInt64(TLB_ENTRIES - 1))
            guard se.pointee.tag == sLin & ~0xFFF else { return 0 }
            let sp = UnsafeRawPointer(bitPattern: UInt(se.pointee.addend &+ sLin))!
            // Element by element, ascending (overlapping copies repeat a pattern as on hardware).
            switch size {
            case 1: for i in 0..<Int(k) { dp.storeBytes(of: sp.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
            case 2: for i in 0..<Int(k) { dp.storeBytes(of: sp.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), toByteOffset: 2 * i, as: UInt16.self) }
            case 4: for i in 0..<Int(k) { dp.storeBytes(of: sp.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self), toByteOffset: 4 * i, as: UInt32.self) }
            default: for i in 0..<Int(k) { dp.storeBytes(of: sp.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self), toByteOffset: 8 * i, as: UInt64.self) }
            }
        } else {
            let v = gpr[0]
            switch size {
            case 1: dp.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: v), count: Int(k))
            case 2: for i in 0..<Int(k) { dp.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: 2 * i, as: UInt16.self) }
            case 4: for i in 0..<Int(k) { dp.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: 4 * i, as: UInt32.self) }
            default: for i in 0..<Int(k) { dp.storeBytes(of: v, toByteOffset: 8 * i, as: UInt64.self) }
            }
        }
        return Int(k)
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
