import CPUState

// MMX and SSE..SSE4.2 instructions (legacy encodings). VEX forms come later.
//
// Dispatch: every opcode-table entry whose name is a vector mnemonic gets a 16-bit code, built
// once from the names (indexed by the decoded entry index, so no string work at run time): the `VOp` in the low 12 bits plus flags (MMX register operand, XMM operand, store form).
// The hot path is one array load and a switch.
//
// Register files: XMM i is the low 16 bytes of `ymm[i]`; MMX i is the low 8 bytes of the x87
// physical register R_i (an MMX write also sets its exponent field to all ones, as hardware does).
// Executing any MMX instruction sets TOP=0 and tags all registers valid; EMMS empties them.

/// 128-bit vector value (lanes are reinterpreted with the accessors below).
typealias V128 = SIMD16<UInt8>

extension SIMD16 where Scalar == UInt8 {
    @inline(__always) init(lo: UInt64, hi: UInt64 = 0) { self = unsafeBitCast(SIMD2<UInt64>(lo, hi), to: V128.self) }
    @inline(__always) var q: SIMD2<UInt64> {
        get { unsafeBitCast(self, to: SIMD2<UInt64>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var sq: SIMD2<Int64> {
        get { unsafeBitCast(self, to: SIMD2<Int64>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var d: SIMD4<UInt32> {
        get { unsafeBitCast(self, to: SIMD4<UInt32>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var sd: SIMD4<Int32> {
        get { unsafeBitCast(self, to: SIMD4<Int32>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var w: SIMD8<UInt16> {
        get { unsafeBitCast(self, to: SIMD8<UInt16>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var sw: SIMD8<Int16> {
        get { unsafeBitCast(self, to: SIMD8<Int16>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var sb: SIMD16<Int8> {
        get { unsafeBitCast(self, to: SIMD16<Int8>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var ps: SIMD4<Float> {
        get { unsafeBitCast(self, to: SIMD4<Float>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var pd: SIMD2<Double> {
        get { unsafeBitCast(self, to: SIMD2<Double>.self) } set { self = unsafeBitCast(newValue, to: V128.self) } }
    @inline(__always) var lo: UInt64 { get { q[0] } set { q[0] = newValue } }
    @inline(__always) var hi: UInt64 { get { q[1] } set { q[1] = newValue } }
}

/// Vector operations. Names match the opcode table; a few register forms get their own case.
enum VOp: UInt16, CaseIterable {
    case none = 0
    // moves
    case MOVUPS, MOVUPD, MOVAPS, MOVAPD, MOVDQA, MOVDQU, LDDQU, MOVNTDQA, MOVNTPS, MOVNTPD, MOVNTDQ
    case MOVSS, MOVSD, MOVLPS, MOVHPS, MOVLPD, MOVHPD, MOVSLDUP, MOVSHDUP, MOVDDUP
    case MOVD, MOVQ, MOVNTQ, MOVNTI, MOVQ2DQ, MOVDQ2Q, MASKMOVQ, MASKMOVDQU
    case MOVMSKPS, MOVMSKPD, PMOVMSKB, EMMS
    // integer
    case PADDB, PADDW, PADDD, PADDQ, PADDSB, PADDSW, PADDUSB, PADDUSW
    case PSUBB, PSUBW, PSUBD, PSUBQ, PSUBSB, PSUBSW, PSUBUSB, PSUBUSW
    case PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD, PMULDQ, PMULLD, PMULHRSW, PMADDUBSW
    case PAND, PANDN, POR, PXOR, ANDPS, ANDPD, ANDNPS, ANDNPD, ORPS, ORPD, XORPS, XORPD
    case PCMPEQB, PCMPEQW, PCMPEQD, PCMPEQQ, PCMPGTB, PCMPGTW, PCMPGTD, PCMPGTQ
    case PACKSSWB, PACKSSDW, PACKUSWB, PACKUSDW
    case PUNPCKLBW, PUNPCKLWD, PUNPCKLDQ, PUNPCKLQDQ, PUNPCKHBW, PUNPCKHWD, PUNPCKHDQ, PUNPCKHQDQ
    case PSRLW, PSRLD, PSRLQ, PSRAW, PSRAD, PSLLW, PSLLD, PSLLQ, PSRLDQ, PSLLDQ
    case PSHUFW, PSHUFD, PSHUFHW, PSHUFLW, PINSRW, PEXTRW
    case PAVGB, PAVGW, PMINUB, PMAXUB, PMINSW, PMAXSW, PSADBW
    case PMINSB, PMINSD, PMINUW, PMINUD, PMAXSB, PMAXSD, PMAXUW, PMAXUD
    case PSHUFB, PHADDW, PHADDD, PHADDSW, PHSUBW, PHSUBD, PHSUBSW, PSIGNB, PSIGNW, PSIGND
    case PABSB, PABSW, PABSD, PALIGNR
    case PBLENDVB, BLENDVPS, BLENDVPD, BLENDPS, BLENDPD, PBLENDW, PTEST
    case PMOVSXBW, PMOVSXBD, PMOVSXBQ, PMOVSXWD, PMOVSXWQ, PMOVSXDQ
    case PMOVZXBW, PMOVZXBD, PMOVZXBQ, PMOVZXWD, PMOVZXWQ, PMOVZXDQ
    case PHMINPOSUW, MPSADBW, PEXTRB, PEXTRD, EXTRACTPS, PINSRB, PINSRD, INSERTPS
    case SHUFPS, SHUFPD, UNPCKLPS, UNPCKLPD, UNPCKHPS, UNPCKHPD
    // floating point
    case ADDPS, ADDPD, ADDSS, ADDSD, SUBPS, SUBPD, SUBSS, SUBSD, MULPS, MULPD, MULSS, MULSD
    case DIVPS, DIVPD, DIVSS, DIVSD, SQRTPS, SQRTPD, SQRTSS, SQRTSD
    case MINPS, MINPD, MINSS, MINSD, MAXPS, MAXPD, MAXSS, MAXSD
    case RCPPS, RCPSS, RSQRTPS, RSQRTSS
    case CMPPS, CMPPD, CMPSS, CMPSD, COMISS, COMISD, UCOMISS, UCOMISD
    case ADDSUBPS, ADDSUBPD, HADDPS, HADDPD, HSUBPS, HSUBPD
    case ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD, DPPS, DPPD
    case CVTPI2PS, CVTPI2PD, CVTSI2SS, CVTSI2SD, CVTTPS2PI, CVTTPD2PI, CVTTSS2SI, CVTTSD2SI
    case CVTPS2PI, CVTPD2PI, CVTSS2SI, CVTSD2SI, CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS
    case CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ, CVTTPD2DQ, CVTDQ2PD, CVTPD2DQ
    // SSE4.2 and friends
    case CRC32, PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM, PCLMULQDQ
    case AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC, AESKEYGENASSIST
    case SHA1RNDS4, SHA1NEXTE, SHA1MSG1, SHA1MSG2, SHA256RNDS2, SHA256MSG1, SHA256MSG2
    // internal stages (never table names): DPPS/DPPD products, then their sums
    case dppsMul, dppsAdd, dppdMul, dppdAdd
    // AVX / AVX2 / F16C (VEX only)
    case VZEROUPPER, VBROADCASTSS, VBROADCASTSD, VBROADCASTF128, VBROADCASTI128
    case VPBROADCASTB, VPBROADCASTW, VPBROADCASTD, VPBROADCASTQ
    case VINSERTF128, VINSERTI128, VEXTRACTF128, VEXTRACTI128, VPERM2F128, VPERM2I128
    case VPERMILPS, VPERMILPD, VPERMD, VPERMPS, VPERMQ, VPERMPD, VPBLENDD, VTESTPS, VTESTPD
    case VMASKMOVPS, VMASKMOVPD, VPMASKMOVD, VPSLLVD, VPSRLVD, VPSRAVD, VCVTPH2PS, VCVTPS2PH
    case VPGATHERDD, VPGATHERQD, VGATHERDPS, VGATHERQPS     // VEX.W: DQ, QQ, DPD, QPD
    case VLDMXCSR, VSTMXCSR
    // FMA3, in the order fmaShape expects: per form (132, 213, 231) six packed kinds, four scalar
    case VFMADD132PS, VFMSUB132PS, VFNMADD132PS, VFNMSUB132PS, VFMADDSUB132PS, VFMSUBADD132PS
    case VFMADD132SS, VFMSUB132SS, VFNMADD132SS, VFNMSUB132SS
    case VFMADD213PS, VFMSUB213PS, VFNMADD213PS, VFNMSUB213PS, VFMADDSUB213PS, VFMSUBADD213PS
    case VFMADD213SS, VFMSUB213SS, VFNMADD213SS, VFNMSUB213SS
    case VFMADD231PS, VFMSUB231PS, VFNMADD231PS, VFNMSUB231PS, VFMADDSUB231PS, VFMSUBADD231PS
    case VFMADD231SS, VFMSUB231SS, VFNMADD231SS, VFNMSUB231SS
}

/// Entry flags above the 12-bit VOp.
let vfMMX: UInt16 = 0x8000     // an MMX register operand (P, N, or Q)
let vfSSE: UInt16 = 0x4000     // an XMM register operand (V, W, U)
let vfStore: UInt16 = 0x2000   // first operand is the r/m (store direction)
let vfOpMask: UInt16 = 0x0FFF

/// Per table entry (indexed by the decoded `infoIndex`; each entry has its own name index): VOp and flags.
func buildVectorMap(_ t: OpcodeTable) -> [UInt16] {
    var byName: [String: VOp] = [:]
    for v in VOp.allCases where v != .none { byName["\(v)"] = v }
    var map = [UInt16](repeating: 0, count: t.infos.count)
    for (i, info) in t.infos.enumerated() {
        guard info.mn == .UNIMPL else { continue }
        let name = t.names[Int(info.nameIndex)]
        // VEX forms: an AVX-only name, or "V" + the SSE twin's name.
        var found = byName[name]
        if info.attrs.contains(.vex) && name.hasPrefix("V") {
            found = byName[name] ?? byName[String(name.dropFirst())]
        }
        guard let v = found else { continue }
        var e = v.rawValue
        let kinds = [info.op0.kind, info.op1.kind, info.op2.kind]
        if kinds.contains(where: { $0 == .P || $0 == .Q || $0 == .N }) { e |= vfMMX }
        if kinds.contains(where: { $0 == .V || $0 == .W || $0 == .U }) { e |= vfSSE }
        if [.W, .Q, .M, .E].contains(info.op0.kind) { e |= vfStore }
        map[i] = e
    }
    return map
}

let sharedVectorMap: [UInt16] = buildVectorMap(OpcodeTable.shared)

extension CPU {
    // MARK: register files

    @inline(__always) func xmmPtr(_ i: UInt8) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(cpu_ymm(s)!) + Int(i & 15) * 32
    }
    @inline(__always) func getX(_ i: UInt8) -> V128 { UnsafeRawPointer(xmmPtr(i)).loadUnaligned(as: V128.self) }
    @inline(__always) func setX(_ i: UInt8, _ v: V128) { xmmPtr(i).storeBytes(of: v, as: V128.self) }
    @inline(__always) func mmPtr(_ i: UInt8) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(cpu_st(s)!) + Int(i & 7) * 16
    }
    @inline(__always) func getM(_ i: UInt8) -> UInt64 { UnsafeRawPointer(mmPtr(i)).loadUnaligned(as: UInt64.self) }
    @inline(__always) func setM(_ i: UInt8, _ v: UInt64) {
        let p = mmPtr(i)
        p.storeBytes(of: v, as: UInt64.self)
        p.storeBytes(of: UInt16(0xFFFF), toByteOffset: 8, as: UInt16.self)
    }

    /// MMX state transition: TOP = 0, all tags valid.
    @inline(__always) func mmxEnter() {
        s.pointee.ftw = 0
        s.pointee.fsw &= ~0x3800
    }

    // MARK: checks

    @inline(__always) func sseCheck() throws(Fault) {
        let cr0 = s.pointee.cr0
        if cr0 & 4 != 0 || s.pointee.cr4 & 0x200 == 0 { throw Fault.undefined }
        if cr0 & 8 != 0 { throw Fault(vector: Fault.NM) }
    }

    @inline(__always) func mmxCheck() throws(Fault) {
        let cr0 = s.pointee.cr0
        if cr0 & 4 != 0 { throw Fault.undefined }
        if cr0 & 8 != 0 { throw Fault(vector: Fault.NM) }
        if s.pointee.fsw & 0x80 != 0 { throw Fault(vector: Fault.MF) }
    }

    // MARK: memory operands

    @inline(__always) func vread(_ d: Instr, _ ea: UInt64, _ size: UInt8) throws(Fault) -> UInt64 {
        try read(seg: d.seg, off: ea, size: size)
    }

    @inline(__always) func vwrite(_ d: Instr, _ ea: UInt64, _ size: UInt8, _ v: UInt64) throws(Fault) {
        try write(seg: d.seg, off: ea, size: size, v)
    }

    /// 16-byte load; `aligned` requests the legacy-SSE 16-byte alignment check (#GP(0)).
    /// The legacy-SSE alignment check comes before the segment/canonical checks (#GP, not #SS).
    @inline(__always) func misaligned16(_ seg: UInt8, _ ea: UInt64) -> Bool {
        let base = seg >= 4 || s.pointee.mode & UInt32(MODE_CS64) == 0 ? sreg[Int(seg)].base : 0
        return (base &+ ea) & 15 != 0
    }

    @inline(__always) func read16(_ seg: UInt8, _ ea: UInt64, aligned: Bool) throws(Fault) -> V128 {
        if aligned && misaligned16(seg, ea) { throw Fault.gp(0) }
        let lin = try linear(seg: seg, off: ea, size: 16, write: false)
        let u = userAccess
        let lo = try readLinear(lin, size: 8, user: u)
        let hi = try readLinear(wrapLinear(lin &+ 8), size: 8, user: u)
        return V128(lo: lo, hi: hi)
    }

    @inline(__always) func write16(_ seg: UInt8, _ ea: UInt64, _ v: V128, aligned: Bool) throws(Fault) {
        if aligned && misaligned16(seg, ea) { throw Fault.gp(0) }
        let lin = try linear(seg: seg, off: ea, size: 16, write: true)
        let u = userAccess
        if lin & 0xFFF > 0xFF0 { try probeWrite(lin, size: 16, user: u) }
        try writeLinear(lin, size: 8, user: u, v.lo)
        try writeLinear(wrapLinear(lin &+ 8), size: 8, user: u, v.hi)
    }

    @inline(__always) func wrapLinear(_ lin: UInt64) -> UInt64 {
        s.pointee.mode & UInt32(MODE_CS64) != 0 ? lin : lin & 0xFFFF_FFFF
    }

    /// Full-width source operand: MMX (Q/N, 8 bytes in the low half) or XMM (W/U, 16 bytes).
    @inline(__always) func srcFull(_ d: Instr, _ ea: UInt64, mmx: Bool, aligned: Bool = true) throws(Fault) -> V128 {
        if mmx { return V128(lo: d.isMem ? try vread(d, ea, 8) : getM(d.rm)) }
        return d.isMem ? try read16(d.seg, ea, aligned: aligned) : getX(d.rm)
    }

    /// Source operand of which only the low `size` bytes are used (register: whole register).
    @inline(__always) func srcLow(_ d: Instr, _ ea: UInt64, _ size: UInt8) throws(Fault) -> V128 {
        if !d.isMem { return getX(d.rm) }
        if size == 16 { return try read16(d.seg, ea, aligned: false) }
        return V128(lo: try vread(d, ea, size))
    }

    @inline(__always) func dstGet(_ d: Instr, mmx: Bool) -> V128 {
        mmx ? V128(lo: getM(d.reg)) : getX(d.reg)
    }
    @inline(__always) func dstSet(_ d: Instr, mmx: Bool, _ v: V128) {
        if mmx { setM(d.reg, v.lo) } else { setX(d.reg, v) }
    }

    // MARK: dispatch

    /// Executes `d` if it is a vector instruction we implement; returns false otherwise.
    func execVector(_ d: inout Instr, _ ea: UInt64) throws(Fault) -> Bool {
        if d.vex {
            guard d.mn == .UNIMPL, d.infoIndex >= 0, d.attrs.contains(.vex) else { return false }
            let e = table === OpcodeTable.shared ? sharedVectorMap[Int(d.infoIndex)] : buildVectorMap(table)[Int(d.infoIndex)]
            guard let op = VOp(rawValue: e & vfOpMask), op != .none else { return false }
            try execAVX(op, &d, ea)
            return true
        }
        switch d.mn {
        case .UNIMPL: break
        case .LDMXCSR:
            try sseCheck()
            let v = UInt32(try vread(d, ea, 4))
            if v & ~mxcsrMask != 0 { throw Fault.gp(0) }
            s.pointee.mxcsr = v
            return true
        case .STMXCSR:
            try sseCheck()
            try vwrite(d, ea, 4, UInt64(s.pointee.mxcsr))
            return true
        default: return false
        }
        guard d.infoIndex >= 0 else { return false }
        let ii = Int(d.infoIndex)
        let e: UInt16
        if table === OpcodeTable.shared { e = sharedVectorMap[ii] } else { e = buildVectorMap(table)[ii] }
        guard let op = VOp(rawValue: e & vfOpMask), op != .none else { return false }
        let mmx = e & vfMMX != 0
        if e & vfSSE != 0 {
            try sseCheck()
            if mmx {
                // Mixed MMX/XMM forms touch the x87 state only through an MMX register operand.
                if mmxOperandIsRegister(op, d) {
                    if s.pointee.fsw & 0x80 != 0 { throw Fault(vector: Fault.MF) }
                } else {
                    try execSSE(op, &d, ea, e)
                    return true
                }
            }
        } else if mmx || op == .EMMS {
            try mmxCheck()
        }
        // The x87-to-MMX transition (TOP = 0, all tags valid), ordered as the hardware does it
        // against faults: a memory source is read first (a fault leaves the x87 state alone), a
        // store sets TOP before writing and the tags after; #XM comes after the transition.
        if mmx && d.isMem {
            if e & vfStore != 0 {
                s.pointee.fsw &= ~0x3800
                try execSSE(op, &d, ea, e)
                s.pointee.ftw = 0
                return true
            }
            do { try execSSE(op, &d, ea, e) } catch {
                if error.vector == Fault.XM { mmxEnter() }
                throw error
            }
            mmxEnter()
            return true
        }
        if mmx { mmxEnter() }
        try execSSE(op, &d, ea, e)
        return true
    }

    /// For instructions with both an XMM and an MMX operand: is the MMX operand a register?
    @inline(__always) func mmxOperandIsRegister(_ op: VOp, _ d: Instr) -> Bool {
        switch op {
        case .CVTPI2PS, .CVTPI2PD: return !d.isMem
        default: return true
        }
    }
}

let mxcsrMask: UInt32 = 0xFFFF
