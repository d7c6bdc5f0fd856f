#if arch(x86_64)
import CPUState

// x87 state images: FSTENV/FLDENV (14/28 bytes), FSAVE/FRSTOR (94/108 bytes) in the 16/32-bit
// real-mode and protected-mode layouts, and FXSAVE/FXRSTOR (512 bytes, 32- and 64-bit forms).

@inline(__always) func x87Put(_ b: inout [UInt8], _ off: Int, _ size: Int, _ v: UInt64) {
    for i in 0..<size { b[off + i] = UInt8(truncatingIfNeeded: v >> UInt64(8 * i)) }
}
@inline(__always) func x87Get(_ b: [UInt8], _ off: Int, _ size: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<size { v |= UInt64(b[off + i]) << UInt64(8 * i) }
    return v
}

extension CPU {
    // MARK: memory blocks (checked entirely before any byte changes)

    @inline(__always) func x87Wrap(_ lin: UInt64) -> UInt64 {
        s.pointee.mode & UInt32(MODE_CS64) != 0 ? lin : lin & 0xFFFF_FFFF
    }

    /// Segment-checks [off, off+n) and returns the linear address of its first byte.
    func x87CheckBlock(_ seg: UInt8, _ off: UInt64, _ n: Int, write: Bool) throws(Fault) -> UInt64 {
        var k = 0
        var lin0: UInt64 = 0
        while k < n {
            let c = Swift.min(128, n - k)
            let l = try linear(seg: seg, off: off &+ UInt64(k), size: UInt8(c), write: write)
            if k == 0 { lin0 = l }
            k += c
        }
        return lin0
    }

    func x87WriteBlock(_ seg: UInt8, _ off: UInt64, _ b: [UInt8], checkSize: Int = 0, align16: Bool = false) throws(Fault) {
        let lin = try x87CheckBlock(seg, off, Swift.max(b.count, checkSize), write: true)
        if align16 && lin & 15 != 0 { throw Fault.gp(0) }
        let u = userAccess
        try x87ProbeEnds(lin, Swift.max(b.count, checkSize), write: true)
        try probeWrite(lin, size: b.count, user: u)
        var k = 0
        while k < b.count {
            let c = b.count - k >= 8 ? 8 : (b.count - k >= 4 ? 4 : (b.count - k >= 2 ? 2 : 1))
            try writeLinear(x87Wrap(lin &+ UInt64(k)), size: c, user: u, x87Get(b, k, c))
            k += c
        }
    }

    /// Environment/state images are checked like the hardware does (as the fault address shows):
    /// the first field, then the last byte, then everything in order. 80-bit operands are not.
    func x87ProbeEnds(_ lin: UInt64, _ n: Int, write: Bool) throws(Fault) {
        if n == 10 { return }
        let u = userAccess
        let first = n == 14 || n == 94 ? 2 : 4
        if write { try probeWrite(lin, size: first, user: u) }
        else { _ = try translate(lin, kind: .read, user: u, fill: false)
               if Int(lin & 0xFFF) + first > 4096 { _ = try translate(x87Wrap((lin | 0xFFF) &+ 1), kind: .read, user: u, fill: false) } }
        let last = x87Wrap(lin &+ UInt64(n - 1))
        if write { try probeWrite(last, size: 1, user: u) } else { _ = try translate(last, kind: .read, user: u, fill: false) }
    }

    func x87ReadBlock(_ seg: UInt8, _ off: UInt64, _ n: Int, checkSize: Int = 0, align16: Bool = false) throws(Fault) -> [UInt8] {
        let lin = try x87CheckBlock(seg, off, Swift.max(n, checkSize), write: false)
        if align16 && lin & 15 != 0 { throw Fault.gp(0) }
        let u = userAccess
        try x87ProbeEnds(lin, Swift.max(n, checkSize), write: false)
        var b = [UInt8](repeating: 0, count: n)
        var k = 0
        while k < n {
            let c = n - k >= 8 ? 8 : (n - k >= 4 ? 4 : (n - k >= 2 ? 2 : 1))
            x87Put(&b, k, c, try readLinear(x87Wrap(lin &+ UInt64(k)), size: c, user: u))
            k += c
        }
        return b
    }

    func x87Read80(_ seg: UInt8, _ off: UInt64) throws(Fault) -> (UInt64, UInt16) {
        let b = try x87ReadBlock(seg, off, 10)
        return (x87Get(b, 0, 8), UInt16(x87Get(b, 8, 2)))
    }

    /// 80-bit stores are two writes, the low quadword first: a fault on the high word leaves the
    /// low quadword written (as on the host CPUs).
    func x87Write80(_ seg: UInt8, _ off: UInt64, _ m: UInt64, _ se: UInt16) throws(Fault) {
        let lin = try x87CheckBlock(seg, off, 10, write: true)
        let u = userAccess
        try writeLinear(lin, size: 8, user: u, m)
        try writeLinear(x87Wrap(lin &+ 8), size: 2, user: u, UInt64(se))
    }

    // MARK: FSTENV / FLDENV / FSAVE / FRSTOR

    /// The 14- or 28-byte environment image for the current mode and operand size.
    func x87EnvImage(_ d: Instr) -> [UInt8] {
        x87Retag()
        let p = s.pointee
        let real = realMode || v86
        let lip = real ? (UInt64(p.fcs) << 4 &+ p.fip) & 0xFFFF_FFFF : p.fip
        let ldp = real ? (UInt64(p.fds) << 4 &+ p.fdp) & 0xFFFF_FFFF : p.fdp
        let fop = UInt64(p.fop & 0x7FF)
        if d.opSize == 2 {
            var b = [UInt8](repeating: 0, count: 14)
            x87Put(&b, 0, 2, UInt64(p.fcw)); x87Put(&b, 2, 2, UInt64(p.fsw)); x87Put(&b, 4, 2, UInt64(p.ftw))
            if real {
                x87Put(&b, 6, 2, lip); x87Put(&b, 8, 2, ((lip >> 16) & 0xF) << 12 | fop)
                x87Put(&b, 10, 2, ldp); x87Put(&b, 12, 2, ((ldp >> 16) & 0xF) << 12)
            } else {
                // FCS/FDS are deprecated (CPUID.7.EBX[13]): stored as zero.
                x87Put(&b, 6, 2, p.fip)
                x87Put(&b, 10, 2, p.fdp)
            }
            return b
        }
        var b = [UInt8](repeating: 0, count: 28)
        x87Put(&b, 0, 4, 0xFFFF_0000 | UInt64(p.fcw))
        x87Put(&b, 4, 4, 0xFFFF_0000 | UInt64(p.fsw))
        x87Put(&b, 8, 4, 0xFFFF_0000 | UInt64(p.ftw))
        if real {
            x87Put(&b, 12, 4, 0xFFFF_0000 | (lip & 0xFFFF)); x87Put(&b, 16, 4, (lip >> 16) << 12 | fop)
            x87Put(&b, 20, 4, 0xFFFF_0000 | (ldp & 0xFFFF)); x87Put(&b, 24, 4, (ldp >> 16) << 12)
        } else {
            x87Put(&b, 12, 4, p.fip); x87Put(&b, 16, 4, fop << 16)
            x87Put(&b, 20, 4, p.fdp); x87Put(&b, 24, 4, 0xFFFF_0000)
        }
        return b
    }

    /// Loads an environment image (tags of non-empty registers are recomputed from contents).
    func x87LoadEnvImage(_ b: [UInt8], _ d: Instr) {
        let real = realMode || v86
        let w = d.opSize == 2 ? 2 : 4
        s.pointee.fcw = (UInt16(x87Get(b, 0, 2)) & ~0xE0C0) | 0x40
        s.pointee.fsw = UInt16(x87Get(b, w, 2))
        s.pointee.ftw = UInt16(x87Get(b, 2 * w, 2))
        if w == 2 {
            if real {
                s.pointee.fip = x87Get(b, 6, 2) | (x87Get(b, 8, 2) >> 12) << 16
                s.pointee.fop = UInt16(x87Get(b, 8, 2) & 0x7FF)
                s.pointee.fdp = x87Get(b, 10, 2) | (x87Get(b, 12, 2) >> 12) << 16
                s.pointee.fcs = 0; s.pointee.fds = 0
            } else {
                // The 16-bit protected-mode image has no FOP: it loads as zero.
                s.pointee.fip = x87Get(b, 6, 2); s.pointee.fcs = UInt16(x87Get(b, 8, 2))
                s.pointee.fdp = x87Get(b, 10, 2); s.pointee.fds = UInt16(x87Get(b, 12, 2))
                s.pointee.fop = 0
            }
        } else {
            if real {
                s.pointee.fip = x87Get(b, 12, 2) | ((x87Get(b, 16, 4) >> 12) & 0xFFFF) << 16
                s.pointee.fop = UInt16(x87Get(b, 16, 4) & 0x7FF)
                s.pointee.fdp = x87Get(b, 20, 2) | ((x87Get(b, 24, 4) >> 12) & 0xFFFF) << 16
                s.pointee.fcs = 0; s.pointee.fds = 0
            } else {
                s.pointee.fip = x87Get(b, 12, 4)
                s.pointee.fcs = UInt16(x87Get(b, 16, 2))
                s.pointee.fop = UInt16(x87Get(b, 18, 2) & 0x7FF)
                s.pointee.fdp = x87Get(b, 20, 4)
                s.pointee.fds = UInt16(x87Get(b, 24, 2))
            }
        }
        x87Retag()
        x87UpdateES()
    }

    func fstenv(_ d: Instr, _ ea: UInt64) throws(Fault) {
        try x87WriteBlock(d.seg, ea, x87EnvImage(d))
        s.pointee.fcw |= 0x3F
        x87UpdateES()
    }

    func fldenv(_ d: Instr, _ ea: UInt64) throws(Fault) {
        let b = try x87ReadBlock(d.seg, ea, d.opSize == 2 ? 14 : 28)
        x87LoadEnvImage(b, d)
    }

    func fsave(_ d: Instr, _ ea: UInt64) throws(Fault) {
        var b = x87EnvImage(d)
        for i in 0..<8 {
            let v = st(i)
            var r = [UInt8](repeating: 0, count: 10)
            x87Put(&r, 0, 8, v.m); x87Put(&r, 8, 2, UInt64(v.se))
            b += r
        }
        try x87WriteBlock(d.seg, ea, b)
        x87Init()
    }

    func frstor(_ d: Instr, _ ea: UInt64) throws(Fault) {
        let n = d.opSize == 2 ? 14 : 28
        let b = try x87ReadBlock(d.seg, ea, n + 80)
        // Registers first (in ST order relative to the new TOP), then the environment retags them.
        let top = Int(x87Get(b, d.opSize == 2 ? 2 : 4, 2) >> 11) & 7
        for i in 0..<8 {
            let o = n + 10 * i
            x87SetRaw(phys: (top + i) & 7, F80(m: x87Get(b, o, 8), se: UInt16(x87Get(b, o + 8, 2))))
        }
        x87LoadEnvImage(b, d)
    }

    // MARK: FXSAVE / FXRSTOR

    /// The FXSAVE image (512 bytes; XMM0-7, or XMM0-15 in 64-bit mode; 64-bit FIP/FDP with REX.W).
    func fxImage(_ d: Instr) -> [UInt8] {
        let nx = code64 ? 16 : 8
        var b = [UInt8](repeating: 0, count: 512)
        let p = s.pointee
        x87Put(&b, 0, 2, UInt64(p.fcw))
        x87Put(&b, 2, 2, UInt64(p.fsw))
        var tag: UInt64 = 0
        for r in 0..<8 where x87Tag(phys: r) != 3 { tag |= 1 << UInt64(r) }
        x87Put(&b, 4, 1, tag)
        x87Put(&b, 6, 2, UInt64(p.fop & 0x7FF))
        if d.rexW {
            x87Put(&b, 8, 8, p.fip)
            x87Put(&b, 16, 8, p.fdp)
        } else {
            // FCS/FDS are deprecated (CPUID.7.EBX[13]): stored as zero.
            x87Put(&b, 8, 4, p.fip)
            x87Put(&b, 16, 4, p.fdp)
        }
        x87Put(&b, 24, 4, UInt64(p.mxcsr))
        x87Put(&b, 28, 4, 0xFFFF)
        for i in 0..<8 {
            let v = st(i)
            x87Put(&b, 32 + 16 * i, 8, v.m); x87Put(&b, 40 + 16 * i, 2, UInt64(v.se))
        }
        let x = UnsafeMutableRawPointer(cpu_ymm(s)!)
        for i in 0..<nx {
            x87Put(&b, 160 + 16 * i, 8, x.loadUnaligned(fromByteOffset: 32 * i, as: UInt64.self))
            x87Put(&b, 168 + 16 * i, 8, x.loadUnaligned(fromByteOffset: 32 * i + 8, as: UInt64.self))
        }
        return b
    }

    func fxsave(_ d: Instr, _ ea: UInt64) throws(Fault) {
        let b = fxImage(d)
        try x87WriteBlock(d.seg, ea, Array(b[0..<(code64 ? 416 : 288)]), checkSize: 512, align16: true)
    }

    /// Loads the x87 part (FCW..FDS, registers, abridged tag) of an FXSAVE image.
    func fxLoadX87(_ b: [UInt8], _ d: Instr) {
        s.pointee.fcw = (UInt16(x87Get(b, 0, 2)) & ~0xE0C0) | 0x40
        // ES and B are recomputed from the exception flags the control word leaves unmasked.
        s.pointee.fsw = UInt16(x87Get(b, 2, 2))
        x87UpdateES()
        s.pointee.fop = UInt16(x87Get(b, 6, 2) & 0x7FF)
        if d.rexW {
            // FIP is held sign-extended from bit 56 (as the host CPUs do); FDP in full.
            s.pointee.fip = UInt64(bitPattern: Int64(bitPattern: x87Get(b, 8, 8) << 7) >> 7)
            s.pointee.fdp = x87Get(b, 16, 8)
            s.pointee.fcs = 0; s.pointee.fds = 0
        } else {
            s.pointee.fip = x87Get(b, 8, 4); s.pointee.fcs = UInt16(x87Get(b, 12, 2))
            s.pointee.fdp = x87Get(b, 16, 4); s.pointee.fds = UInt16(x87Get(b, 20, 2))
        }
        let top = x87Top
        let tag = b[4]
        var ftw: UInt16 = 0
        for i in 0..<8 {
            let p = (top + i) & 7
            let v = F80(m: x87Get(b, 32 + 16 * i, 8), se: UInt16(x87Get(b, 40 + 16 * i, 2)))
            x87SetRaw(phys: p, v)
        }
        for p in 0..<8 {
            ftw |= (tag >> UInt8(p)) & 1 != 0 ? x87Raw(phys: p).tag << UInt16(2 * p) : 3 << UInt16(2 * p)
        }
        s.pointee.ftw = ftw
    }

    /// Loads XMM0-7 (XMM0-15 in 64-bit mode) from an FXSAVE image.
    func fxLoadXMM(_ b: [UInt8]) {
        let nx = code64 ? 16 : 8
        let x = UnsafeMutableRawPointer(cpu_ymm(s)!)
        for i in 0..<nx {
            x.storeBytes(of: x87Get(b, 160 + 16 * i, 8), toByteOffset: 32 * i, as: UInt64.self)
            x.storeBytes(of: x87Get(b, 168 + 16 * i, 8), toByteOffset: 32 * i + 8, as: UInt64.self)
        }
    }

    func fxrstor(_ d: Instr, _ ea: UInt64) throws(Fault) {
        let nx = code64 ? 16 : 8
        let b = try x87ReadBlock(d.seg, ea, 160 + 16 * nx, checkSize: 512, align16: true)
        let mx = UInt32(x87Get(b, 24, 4))
        if mx & ~0xFFFF != 0 { throw Fault.gp(0) }
        s.pointee.mxcsr = mx
        fxLoadX87(b, d)
        fxLoadXMM(b)
    }

    // MARK: XSAVE / XRSTOR (standard form; components 0 = x87, 1 = SSE, 2 = AVX)

    /// Legacy region + header; component 2 (YMM_Hi128, 256 bytes) follows at 576.
    static let xsaveAreaSize = 576

    /// Bytes of the area XSAVE/XRSTOR access for the requested-feature bitmap.
    @inline(__always) func xsaveSize(_ rfbm: UInt64) -> Int { rfbm & 4 != 0 ? 832 : 576 }

    /// XSAVE / XSAVEOPT: saves the components in XCR0 & EDX:EAX and sets their XSTATE_BV bits.
    /// (XSAVEOPT may skip unmodified components; saving them is always allowed.)
    func xsave(_ d: Instr, _ ea: UInt64) throws(Fault) {
        guard s.pointee.cr4 & CR4Bit.OSXSAVE != 0 else { throw Fault.undefined }
        let rfbm = s.pointee.xcr0 & ((gpr[2] & 0xFFFF_FFFF) << 32 | (gpr[0] & 0xFFFF_FFFF))
        var area = try xsaveAreaRead(d, ea, xsaveSize(rfbm))
        let img = fxImage(d)
        if rfbm & 1 != 0 {
            for i in 0..<24 where i < 24 { area[i] = img[i] }
            for i in 32..<160 { area[i] = img[i] }
        }
        if rfbm & 2 != 0 {
            for i in 24..<32 { area[i] = img[i] }
            for i in 160..<(code64 ? 416 : 288) { area[i] = img[i] }
        }
        if rfbm & 4 != 0 {
            let x = UnsafeMutableRawPointer(cpu_ymm(s)!)
            for i in 0..<(code64 ? 16 : 8) {
                for k in 0..<16 { area[576 + 16 * i + k] = x.load(fromByteOffset: 32 * i + 16 + k, as: UInt8.self) }
            }
        }
        let bv = x87Get(area, 512, 8)
        x87Put(&area, 512, 8, (bv & ~rfbm) | (rfbm & 7))
        try x87WriteBlock(d.seg, ea, area, checkSize: xsaveSize(rfbm))
    }

    /// XRSTOR: loads the components in XCR0 & EDX:EAX whose XSTATE_BV bit is set, initialises
    /// the others; #GP for the compacted form, reserved header bits, or bits outside XCR0.
    func xrstor(_ d: Instr, _ ea: UInt64) throws(Fault) {
        guard s.pointee.cr4 & CR4Bit.OSXSAVE != 0 else { throw Fault.undefined }
        let rfbm = s.pointee.xcr0 & ((gpr[2] & 0xFFFF_FFFF) << 32 | (gpr[0] & 0xFFFF_FFFF))
        let area = try xsaveAreaRead(d, ea, xsaveSize(rfbm))
        let bv = x87Get(area, 512, 8), comp = x87Get(area, 520, 8)
        if comp != 0 || bv & ~s.pointee.xcr0 != 0 { throw Fault.gp(0) }
        for i in 528..<576 where area[i] != 0 { throw Fault.gp(0) }
        if rfbm & 2 != 0 {
            let mx = UInt32(x87Get(area, 24, 4))
            if mx & ~0xFFFF != 0 { throw Fault.gp(0) }
            s.pointee.mxcsr = mx
        }
        if rfbm & 1 != 0 {
            if bv & 1 != 0 {
                fxLoadX87(area, d)
            } else {
                x87Init()
                for p in 0..<8 { x87SetRaw(phys: p, F80(m: 0, se: 0)) }
                s.pointee.ftw = 0xFFFF
            }
        }
        if rfbm & 4 != 0 {
            let x = UnsafeMutableRawPointer(cpu_ymm(s)!)
            for i in 0..<(code64 ? 16 : 8) {
                for k in 0..<16 { x.storeBytes(of: bv & 4 != 0 ? area[576 + 16 * i + k] : 0, toByteOffset: 32 * i + 16 + k, as: UInt8.self) }
            }
        }
        if rfbm & 2 != 0 {
            if bv & 2 != 0 { fxLoadXMM(area) } else {
                let x = UnsafeMutableRawPointer(cpu_ymm(s)!)
                for i in 0..<(code64 ? 16 : 8) {
                    x.storeBytes(of: 0, toByteOffset: 32 * i, as: UInt64.self)
                    x.storeBytes(of: 0, toByteOffset: 32 * i + 8, as: UInt64.self)
                }
            }
        }
    }

    private func xsaveAreaRead(_ d: Instr, _ ea: UInt64, _ size: Int) throws(Fault) -> [UInt8] {
        let lin = try linear(seg: d.seg, off: ea, size: 1, write: false)
        if lin & 63 != 0 { throw Fault.gp(0) }
        return try x87ReadBlock(d.seg, ea, size)
    }
}
#endif
