// BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR; TZCNT lives with BSF), BMI2 (BZHI, MULX, PDEP, PEXT,
// RORX, SARX, SHLX, SHRX) and ADX (ADCX, ADOX). The BMI forms are VEX-encoded general-purpose
// instructions: VEX.W selects 64-bit operands in 64-bit mode, VEX.vvvv names a GPR (operand B),
// they do not depend on XCR0/CR4.OSXSAVE, and VEX is #UD in real and virtual-8086 mode.

extension CPU {
    func execBMI(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        if d.vex && (realMode || v86) { throw Fault.undefined }
        let size: UInt8 = d.opSize == 8 ? 8 : 4
        let bits = UInt64(size) * 8
        let m = sizeMask(size)
        @inline(__always) func rm() throws(Fault) -> UInt64 {
            d.isMem ? try read(seg: d.seg, off: ea, size: size) : readReg(d.rm, size: size, rex: d.rex)
        }
        @inline(__always) func vreg() -> UInt64 { readReg(d.vexV, size: size, rex: 0x40) }
        @inline(__always) func flagsSZ(_ r: UInt64, cf: Bool) {
            // SF and ZF from the result, CF as given, OF cleared; AF and PF are undefined
            // (computed like a logical operation).
            setResultFlags(r, size: size, cf: cf, of: false)
        }
        switch d.mn {
        case .ANDN:
            let r = ~vreg() & (try rm()) & m
            writeReg(d.reg, size: size, rex: d.rex, r)
            flagsSZ(r, cf: false)
        case .BLSI, .BLSMSK, .BLSR:
            let src = try rm()
            let r: UInt64
            switch d.mn {
            case .BLSI: r = (0 &- src) & src & m
            case .BLSMSK: r = ((src &- 1) ^ src) & m
            default: r = (src &- 1) & src & m
            }
            writeReg(d.vexV, size: size, rex: 0x40, r)
            flagsSZ(r, cf: d.mn == .BLSI ? src != 0 : src == 0)
        case .BEXTR:
            let src = try rm()
            let ctl = vreg()
            let start = ctl & 0xFF, len = (ctl >> 8) & 0xFF
            var r = start >= bits ? 0 : src >> start
            if len < 64 { r &= (UInt64(1) << len) &- 1 }
            r &= m
            writeReg(d.reg, size: size, rex: d.rex, r)
            // ZF from the result; CF and OF cleared; SF, AF, PF undefined.
            setResultFlags(r, size: size, cf: false, of: false)
        case .BZHI:
            let src = try rm()
            let n = vreg() & 0xFF
            let r = n >= bits ? src : src & ((UInt64(1) << n) &- 1)
            writeReg(d.reg, size: size, rex: d.rex, r)
            flagsSZ(r, cf: n > bits - 1)
        case .PDEP, .PEXT:
            let src = vreg(), mask = try rm()
            var r: UInt64 = 0
            var k: UInt64 = 0
            var mm = mask
            while mm != 0 {
                let b = UInt64(mm.trailingZeroBitCount)
                if d.mn == .PDEP {
                    if (src >> k) & 1 != 0 { r |= 1 << b }
                } else if (src >> b) & 1 != 0 {
                    r |= 1 << k
                }
                k += 1
                mm &= mm &- 1
            }
            writeReg(d.reg, size: size, rex: d.rex, r & m)
        case .MULX:
            let a = readReg(2, size: size, rex: 0), b = try rm()
            let lo: UInt64, hi: UInt64
            if size == 8 {
                let p = a.multipliedFullWidth(by: b)
                lo = p.low; hi = p.high
            } else {
                let p = a &* b
                lo = p & 0xFFFF_FFFF; hi = p >> 32
            }
            // Low half to vvvv first: with the same register for both, the high half wins.
            writeReg(d.vexV, size: size, rex: 0x40, lo)
            writeReg(d.reg, size: size, rex: d.rex, hi)
        case .RORX:
            let v = try rm()
            let c = d.imm & (bits - 1)
            let r = c == 0 ? v : ((v >> c) | (v << (bits - c))) & m
            writeReg(d.reg, size: size, rex: d.rex, r)
        case .SARX, .SHLX, .SHRX:
            let v = try rm()
            let c = vreg() & (bits - 1)
            let r: UInt64
            switch d.mn {
            case .SHLX: r = (v << c) & m
            case .SHRX: r = v >> c
            default: r = UInt64(bitPattern: Int64(bitPattern: sext(v, size)) >> Int64(c)) & m
            }
            writeReg(d.reg, size: size, rex: d.rex, r)
        case .ADCX, .ADOX:
            let bit: UInt64 = d.mn == .ADCX ? FlagBit.CF : FlagBit.OF
            let f = flags()
            let a = readReg(d.reg, size: size, rex: d.rex), b = try rm()
            let cin: UInt64 = f & bit != 0 ? 1 : 0
            let r = (a &+ b &+ cin) & m
            let cout = r < a || (cin != 0 && r == a)
            writeReg(d.reg, size: size, rex: d.rex, r)
            s.pointee.rflags = (f & ~bit) | (cout ? bit : 0)
        default:
            throw Fault.undefined
        }
    }
}
