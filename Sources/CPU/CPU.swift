import CPUState
#if canImport(Glibc)
import Glibc
#endif

/// An architectural exception raised inside an instruction (typed-thrown, no allocation).
public struct Fault: Error, Sendable, Equatable, CustomStringConvertible {
    public var vector: UInt8
    public var code: UInt32
    public var hasCode: Bool

    public init(vector: UInt8) {
        self.vector = vector; self.code = 0
        self.hasCode = Fault.vectorHasCode(vector)
    }
    public init(vector: UInt8, code: UInt32) {
        self.vector = vector; self.code = code
        self.hasCode = Fault.vectorHasCode(vector)
    }
    @inline(__always) static func vectorHasCode(_ v: UInt8) -> Bool {
        v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21
    }
    public static let DE: UInt8 = 0, DB: UInt8 = 1, NMI: UInt8 = 2, BP: UInt8 = 3, OF: UInt8 = 4,
        BR: UInt8 = 5, UD: UInt8 = 6, NM: UInt8 = 7, DF: UInt8 = 8, TS: UInt8 = 10, NP: UInt8 = 11,
        SS: UInt8 = 12, GP: UInt8 = 13, PF: UInt8 = 14, MF: UInt8 = 16, AC: UInt8 = 17, MC: UInt8 = 18,
        XM: UInt8 = 19
    public static func gp(_ code: UInt32 = 0) -> Fault { Fault(vector: GP, code: code) }
    public static func ss(_ code: UInt32 = 0) -> Fault { Fault(vector: SS, code: code) }
    public static func np(_ code: UInt32) -> Fault { Fault(vector: NP, code: code) }
    public static func ts(_ code: UInt32) -> Fault { Fault(vector: TS, code: code) }
    public static let undefined = Fault(vector: UD)
    public static let divide = Fault(vector: DE)
    public var description: String {
        let names = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS", "#NP",
                     "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM"]
        let n = Int(vector) < names.count ? names[Int(vector)] : "vector \(vector)"
        return hasCode ? "\(n)(\(String(code, radix: 16)))" : n
    }
}

/// CPU-local platform pieces outside the core (the local APIC): the CPU asks them about CR8
/// (the task-priority register), MSRs it does not implement itself (nil = #GP) and tells them
/// when IA32_APIC_BASE changes.
public protocol CPUPlatform: AnyObject {
    func readCR8() -> UInt64
    func writeCR8(_ v: UInt64)
    func readMSR(_ index: UInt32) -> UInt64?
    /// Returns false when the MSR does not exist or the value is invalid (#GP).
    func writeMSR(_ index: UInt32, _ v: UInt64) -> Bool
    func apicBaseChanged(_ v: UInt64)
}

/// Why the run loop returned.
public enum StopReason: Equatable, Sendable {
    case budget          // instruction budget used up
    case halted          // HLT with interrupts disabled or nothing pending
    case exitRequest     // the machine asked us to stop (device event, exit port, ...)
    case shutdown        // triple fault
}

/// Lazy-flag operation kinds (CPUState.cc_op = kind << 2 | log2(size)).
public enum CCKind: UInt32 {
    case eager = 0, add, adc, sub, sbb, logic, inc, dec
}

/// The guest CPU: state lives in a C struct; this class holds pointers and the buses.
public final class CPU {
    public let s: UnsafeMutablePointer<CPUState>
    public let gpr: UnsafeMutablePointer<UInt64>
    public let sreg: UnsafeMutablePointer<SegmentCache>
    let tlb: UnsafeMutablePointer<TLB>
    public let mem: PhysicalMemory
    public let ports: PortBus
    public let table: OpcodeTable

    /// Set by the machine when an interrupt controller has a request; cleared by `acknowledge`.
    public var interruptPending = false
    /// Returns the vector of the highest-priority pending interrupt and acknowledges it (INTA).
    public var acknowledgeInterrupt: () -> UInt8? = { nil }
    /// Invoked after the TLB is flushed or code may have been changed (JIT hook).
    public var onTLBFlush: (() -> Void)?
    /// Large (2M/4M/1G) pages were entered into the 4K TLB since the last flush.
    var largePagesCached = false
    /// Per-mnemonic counts of #UD for instructions we decode but do not execute.
    public private(set) var unimplemented: [String: Int] = [:]
    /// True while the MMU performs an implicit supervisor access (descriptor tables, TSS).
    var implicitSupervisor = false
    /// Backing for a zero-length fetch window.
    let fetchScratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    /// Decoded-instruction cache (validated against the bytes, so always coherent).
    let decodeCache = DecodeCache()
    /// Debug hooks: called before each instruction executes / when an exception is raised.
    public var trace: ((UInt64, Instr) -> Void)?
    public var traceFault: ((UInt64, Fault) -> Void)?
    /// CPUID model presented to the guest.
    public var cpuid = CPUIDModel() { didSet { featureMask = cpuid.tableFeatureMask } }
    /// Opcode-table feature indices the CPUID model advertises (bit i = `featureNames[i]`).
    var featureMask: UInt64 = 1
    /// Guest-visible time-stamp counter source (deterministic by default: instruction count).
    public var tscSource: () -> UInt64
    /// RDRAND/RDSEED: nil takes values from the host RNG; a seed makes them a reproducible
    /// sequence (splitmix64), as deterministic machines need.
    public var randomSeed: UInt64? = nil
    /// The machine's CPU-local devices (local APIC): CR8, APIC-base and device MSRs.
    public var platform: CPUPlatform?

    public init(memory: PhysicalMemory, ports: PortBus, table: OpcodeTable = .shared) {
        s = .allocate(capacity: 1)
        memset(s, 0, MemoryLayout<CPUState>.size)
        gpr = cpu_gpr(s)
        sreg = cpu_seg(s)
        tlb = .allocate(capacity: 1)
        s.pointee.tlb = tlb
        self.mem = memory
        self.ports = ports
        self.table = table
        let st = s
        tscSource = { st.pointee.icount }
        featureMask = cpuid.tableFeatureMask
        reset()
    }

    deinit {
        s.deallocate()
        tlb.deallocate()
    }

    // MARK: reset

    /// Power-on / RESET state (Intel SDM Vol. 3, 9.1.1).
    public func reset() {
        let keepTLB = s.pointee.tlb
        memset(s, 0, MemoryLayout<CPUState>.size)
        s.pointee.tlb = keepTLB
        s.pointee.rflags = 2
        s.pointee.rip = 0xFFF0
        gpr[2] = UInt64(CPUIDModel.resetSignature) // EDX: family/model/stepping signature
        for i in 0..<6 {
            sreg[i] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | ATTR_S | 0x3))
        }
        sreg[1] = SegmentCache(base: 0xFFFF_0000, limit: 0xFFFF, selector: 0xF000,
                               attr: UInt16(ATTR_P | ATTR_S | 0xB))
        sreg[6] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | 0x2))
        sreg[7] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | 0xB))
        s.pointee.gdtr.limit = 0xFFFF
        s.pointee.idtr.limit = 0xFFFF
        s.pointee.cr0 = 0x6000_0010
        s.pointee.dr.6 = 0xFFFF_0FF0
        s.pointee.dr.7 = 0x400
        s.pointee.fcw = 0x37F
        s.pointee.ftw = 0xFFFF
        s.pointee.mxcsr = 0x1F80
        s.pointee.xcr0 = 1
        s.pointee.apic_base = 0xFEE0_0900
        s.pointee.pat = 0x0007_0406_0007_0406
        s.pointee.mtrr_cap = 0x508
        interruptPending = false
        updateMode()
        flushTLB()
    }

    // MARK: mode

    @inline(__always) public var mode: UInt32 { s.pointee.mode }
    @inline(__always) public var inLongMode: Bool { s.pointee.mode & UInt32(MODE_LMA) != 0 }
    @inline(__always) public var code64: Bool { s.pointee.mode & UInt32(MODE_CS64) != 0 }
    @inline(__always) public var protectedMode: Bool { s.pointee.mode & UInt32(MODE_PE) != 0 }
    @inline(__always) public var v86: Bool { s.pointee.mode & UInt32(MODE_VM86) != 0 }
    @inline(__always) public var realMode: Bool { s.pointee.mode & UInt32(MODE_PE) == 0 }
    @inline(__always) public var cpl: Int { Int(s.pointee.cpl) }

    /// Recomputes MODE_* bits from CR0, EFER, CS and RFLAGS.
    public func updateMode() {
        var m: UInt32 = 0
        let cr0 = s.pointee.cr0
        if cr0 & 1 != 0 { m |= UInt32(MODE_PE) }
        if cr0 & 0x8000_0000 != 0 { m |= UInt32(MODE_PG) }
        if s.pointee.efer & 0x400 != 0 { m |= UInt32(MODE_LMA) }
        let csAttr = UInt32(sreg[1].attr)
        if m & UInt32(MODE_LMA) != 0 && csAttr & UInt32(ATTR_L) != 0 {
            m |= UInt32(MODE_CS64)
        } else if csAttr & UInt32(ATTR_DB) != 0 && m & UInt32(MODE_PE) != 0 {
            m |= UInt32(MODE_CS32)
        }
        if UInt32(sreg[2].attr) & UInt32(ATTR_DB) != 0 && m & UInt32(MODE_PE) != 0 { m |= UInt32(MODE_SS32) }
        if m & UInt32(MODE_PE) != 0 && s.pointee.rflags & FlagBit.VM != 0 && m & UInt32(MODE_LMA) == 0 {
            m |= UInt32(MODE_VM86)
            m &= ~UInt32(MODE_CS32 | MODE_SS32)
        }
        s.pointee.mode = m
    }

    @inline(__always) var decodeMode: DecodeMode {
        let m = s.pointee.mode
        return DecodeMode(code64: m & UInt32(MODE_CS64) != 0, default32: m & UInt32(MODE_CS32) != 0)
    }

    // MARK: registers

    @inline(__always) public var rip: UInt64 {
        get { s.pointee.rip }
        set { s.pointee.rip = newValue }
    }

    @inline(__always)
    public func readReg(_ r: UInt8, size: UInt8, rex: UInt8) -> UInt64 {
        switch size {
        case 1:
            if rex == 0 && r >= 4 && r < 8 { return (gpr[Int(r) - 4] >> 8) & 0xFF }
            return gpr[Int(r)] & 0xFF
        case 2: return gpr[Int(r)] & 0xFFFF
        case 4: return gpr[Int(r)] & 0xFFFF_FFFF
        default: return gpr[Int(r)]
        }
    }

    @inline(__always)
    public func writeReg(_ r: UInt8, size: UInt8, rex: UInt8, _ v: UInt64) {
        switch size {
        case 1:
            if rex == 0 && r >= 4 && r < 8 {
                let i = Int(r) - 4
                gpr[i] = (gpr[i] & ~0xFF00) | ((v & 0xFF) << 8)
            } else {
                gpr[Int(r)] = (gpr[Int(r)] & ~0xFF) | (v & 0xFF)
            }
        case 2: gpr[Int(r)] = (gpr[Int(r)] & ~0xFFFF) | (v & 0xFFFF)
        case 4: gpr[Int(r)] = v & 0xFFFF_FFFF
        default: gpr[Int(r)] = v
        }
    }

    // MARK: lazy flags

    @inline(__always) static func sizeIndex(_ size: UInt8) -> UInt32 {
        size == 1 ? 0 : (size == 2 ? 1 : (size == 4 ? 2 : 3))
    }

    @inline(__always)
    func setLazy(_ k: CCKind, size: UInt8, dst: UInt64, src: UInt64, src2: UInt64) {
        s.pointee.cc_op = k.rawValue << 2 | CPU.sizeIndex(size)
        s.pointee.cc_dst = dst
        s.pointee.cc_src = src
        s.pointee.cc_src2 = src2
    }

    /// Materialises lazy status flags into RFLAGS and returns RFLAGS.
    @inline(__always)
    public func flags() -> UInt64 {
        if s.pointee.cc_op != 0 { materializeFlags() }
        return s.pointee.rflags
    }

    @inline(__always) public func flag(_ bit: UInt64) -> Bool { flags() & bit != 0 }

    /// Sets status flags eagerly (bits in `mask` replaced by `value`).
    @inline(__always)
    public func setFlags(_ value: UInt64, mask: UInt64) {
        let f = flags()
        s.pointee.rflags = (f & ~mask) | (value & mask)
    }

    @usableFromInline
    func materializeFlags() {
        let op = s.pointee.cc_op
        let kind = CCKind(rawValue: op >> 2) ?? .eager
        let bits = UInt64(8) << UInt64(op & 3)
        let mask: UInt64 = bits == 64 ? ~0 : (1 << bits) - 1
        let top = bits - 1
        let r = s.pointee.cc_dst & mask
        let b = s.pointee.cc_src & mask
        let a = s.pointee.cc_src2 & mask
        var cf: UInt64 = 0, of: UInt64 = 0, af: UInt64 = 0
        switch kind {
        case .eager: return
        case .add:
            cf = r < a ? 1 : 0
            of = (((a ^ r) & (b ^ r)) >> top) & 1
            af = (a ^ b ^ r) & 0x10
        case .adc:
            let cin = (r &- a &- b) & mask
            cf = (r < a || (cin != 0 && r == a)) ? 1 : 0
            of = (((a ^ r) & (b ^ r)) >> top) & 1
            af = (a ^ b ^ r) & 0x10
        case .sub:
            cf = a < b ? 1 : 0
            of = (((a ^ b) & (a ^ r)) >> top) & 1
            af = (a ^ b ^ r) & 0x10
        case .sbb:
            let bin = (a &- b &- r) & mask
            cf = (a < b || (bin != 0 && a == b)) ? 1 : 0
            of = (((a ^ b) & (a ^ r)) >> top) & 1
            af = (a ^ b ^ r) & 0x10
        case .logic:
            break
        case .inc:
            cf = b & 1
            of = r == (1 << top) ? 1 : 0
            af = (r ^ (r &- 1)) & 0x10
        case .dec:
            cf = b & 1
            of = r == ((1 << top) - 1) ? 1 : 0
            af = (r ^ (r &+ 1)) & 0x10
        }
        var f = s.pointee.rflags & ~FlagBit.status
        f |= cf
        f |= parityTable(r) << 2
        f |= af
        f |= r == 0 ? FlagBit.ZF : 0
        f |= ((r >> top) & 1) << 7
        f |= of << 11
        s.pointee.rflags = f
        s.pointee.cc_op = 0
    }

    /// Writes ZF/SF/PF from a result (and CF/OF/AF explicitly), eagerly.
    @inline(__always)
    func setResultFlags(_ r: UInt64, size: UInt8, cf: Bool, of: Bool, af: Bool = false) {
        let bits = UInt64(size) * 8
        let mask: UInt64 = bits == 64 ? ~0 : (1 << bits) - 1
        let v = r & mask
        var f = flags() & ~FlagBit.status
        if cf { f |= FlagBit.CF }
        if of { f |= FlagBit.OF }
        if af { f |= FlagBit.AF }
        f |= parityTable(v) << 2
        if v == 0 { f |= FlagBit.ZF }
        if (v >> (bits - 1)) & 1 != 0 { f |= FlagBit.SF }
        s.pointee.rflags = f
    }

    /// Loads RFLAGS with all architectural bits (callers mask what may change).
    @inline(__always)
    public func writeRFLAGS(_ v: UInt64) {
        s.pointee.cc_op = 0
        let old = s.pointee.rflags
        s.pointee.rflags = (v & 0x3F_7FD5) | 2
        if (old ^ s.pointee.rflags) & FlagBit.VM != 0 { updateMode() }
    }

    /// Condition codes 0..15 (the low nibble of Jcc/SETcc/CMOVcc).
    @inline(__always)
    public func condition(_ cc: UInt8) -> Bool {
        let op = s.pointee.cc_op
        if op != 0 {
            // Fast paths straight from the lazy state (no flag materialisation).
            let mask: UInt64 = (op & 3) == 3 ? ~0 : (UInt64(1) << (UInt64(8) << UInt64(op & 3))) - 1
            let kind = op >> 2
            switch cc >> 1 {
            case 2: // Z / NZ: every lazy kind defines ZF from the result.
                return ((s.pointee.cc_dst & mask) == 0) != (cc & 1 != 0)
            case 1 where kind == CCKind.sub.rawValue: // B / NB after SUB/CMP: unsigned a < b.
                return ((s.pointee.cc_src2 & mask) < (s.pointee.cc_src & mask)) != (cc & 1 != 0)
            case 4: // S / NS
                let top = (UInt64(8) << UInt64(op & 3)) - 1
                return ((s.pointee.cc_dst >> top) & 1 != 0) != (cc & 1 != 0)
            default: break
            }
        }
        let f = flags()
        let r: Bool
        switch cc >> 1 {
        case 0: r = f & FlagBit.OF != 0
        case 1: r = f & FlagBit.CF != 0
        case 2: r = f & FlagBit.ZF != 0
        case 3: r = f & (FlagBit.CF | FlagBit.ZF) != 0
        case 4: r = f & FlagBit.SF != 0
        case 5: r = f & FlagBit.PF != 0
        case 6: r = (f & FlagBit.SF != 0) != (f & FlagBit.OF != 0)
        default: r = (f & FlagBit.ZF != 0) || ((f & FlagBit.SF != 0) != (f & FlagBit.OF != 0))
        }
        return cc & 1 != 0 ? !r : r
    }

    // MARK: the machine's entry points for interrupts

    /// Signals that an interrupt controller has a maskable request. The CPU calls
    /// `acknowledgeInterrupt` (INTA) when RFLAGS.IF allows and no interrupt shadow is active.
    public func setInterruptRequest(_ pending: Bool) {
        interruptPending = pending
    }

    /// Latches a non-maskable interrupt; delivered at the next instruction boundary unless an
    /// NMI handler is still running (blocked until IRET).
    public func requestNMI() {
        s.pointee.nmi_pending = 1
    }

    /// Records an unimplemented instruction (raised as #UD) by name.
    func countUnimplemented(_ d: Instr) {
        s.pointee.ud_count &+= 1
        let name = d.infoIndex >= 0 ? table.names[Int(table.infos[Int(d.infoIndex)].nameIndex)] : "?"
        unimplemented[name, default: 0] += 1
    }
}

@inline(__always) func parityTable(_ v: UInt64) -> UInt64 {
    // PF: set when the low byte has an even number of 1 bits.
    UInt64(~(v & 0xFF).nonzeroBitCount & 1)
}

@inline(__always) func sizeMask(_ size: UInt8) -> UInt64 {
    size == 8 ? ~0 : (1 << (UInt64(size) * 8)) - 1
}

@inline(__always) func signBit(_ size: UInt8) -> UInt64 { 1 << (UInt64(size) * 8 - 1) }

/// Sign-extends the low `size` bytes of v to 64 bits.
@inline(__always) func sext(_ v: UInt64, _ size: UInt8) -> UInt64 {
    switch size {
    case 1: return UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: v)))
    case 2: return UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: v)))
    case 4: return UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))
    default: return v
    }
}
