import CPU

/// Differential tester: random instruction sequences from the opcode table run on the host CPU
/// and in the interpreter from the same state; every GPR, RFLAGS (minus flags the table marks
/// undefined), the x87/SSE/AVX state, the scratch memory and any exception must agree.
public final class DiffTester {
    public struct Options {
        public var count = 10_000            // instructions to test (set-up moves not counted)
        public var seed: UInt64 = 1
        public var only: String?
        public var onlyCase: Int?            // replay one case
        public var maxReports = 10
        public var maxLength = 4
        public var verbose = false
        /// Report at most two mismatches per (minimised) instruction sequence.
        public var dedupe = true
        public init() {}
    }

    public struct Mismatch {
        public var caseIndex: Int
        public var names: [String]
        public var report: String
    }

    public struct Summary {
        public var cases = 0
        public var instructions = 0
        public var faultsAgreed = 0
        public var mismatches: [Mismatch] = []
        public var mismatchCount = 0
        public var mismatchesByName: [String: Int] = [:]
        public var tested: [String: Int] = [:]
        public var seconds = 0.0
        public var poolSize = 0
        public var disagreements: [String] = []
    }

    public let native: NativeRunner
    public let emu: EmuHarness
    public let gen: DTGenerator
    public let options: Options
    public var log: (String) -> Void = { print($0) }
    let hostFDPExceptionOnly: Bool

    public init?(options: Options) {
        guard let n = NativeRunner() else { return nil }
        native = n
        self.options = options
        hostFDPExceptionOnly = n.hostWords[CPUFeature.Word.l7ebx.rawValue] & (1 << 6) != 0
        let model = CPUIDModel()
        emu = EmuHarness(regionBase: n.base, selectors: n.selectors, xcr0: model.xcr0Supported)
        emu.cpu.cpuid = model
        let hostWords = n.hostWords
        gen = DTGenerator(scratch: n.scratchAddr, only: options.only) { i in
            let name = featureNames[i]
            guard let f = CPUIDModel.feature(forTableName: name) else { return nil }
            if !model.has(f) { return "not advertised by the emulated CPUID" }
            if hostWords[f.word.rawValue] & (1 << UInt32(f.bit)) == 0 { return "not supported by the host CPU" }
            return nil
        }
    }

    // MARK: cases

    struct Case {
        var instrs: [DTInstr]
        var state: DTState
    }

    func caseRNG(_ index: Int) -> DTRandom {
        var r = DTRandom(seed: options.seed ^ 0x5DEE_CE66_D1CE_5EED)
        for _ in 0..<2 { _ = r.next() }
        return DTRandom(seed: r.next() &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03)
    }

    func randomState(_ rng: inout DTRandom) -> DTState {
        var s = DTState()
        for i in 0..<16 { s.gpr[i] = rng.edge64() }
        s.rflags = 0x202 | (rng.next() & 0x8D5) | (rng.chance(30) ? 0x400 : 0) | (rng.chance(10) ? 0x4000 : 0) | (rng.chance(10) ? 0x20_0000 : 0)
        // x87
        var fcw: UInt16 = 0x037F
        if rng.chance(40) { fcw = 0x0040 | UInt16(rng.below(4)) << 10 | UInt16([0, 2, 3][rng.below(3)]) << 8 | 0x3F }
        if rng.chance(8) { fcw &= ~UInt16(rng.below(64)) }
        var fsw = UInt16(rng.below(8)) << 11 | UInt16(truncatingIfNeeded: rng.next()) & 0x4700
        var exc = UInt16(rng.below(64)) & (rng.chance(60) ? 0 : 0x3F)
        if !rng.chance(10) { exc &= fcw & 0x3F }
        fsw |= exc
        if exc & 1 != 0 && rng.chance(50) { fsw |= 0x40 }           // stack fault with IE
        if exc & ~fcw & 0x3F != 0 { fsw |= 0x8080 }
        s.setFx(0, 2, UInt64(fcw)); s.setFx(2, 2, UInt64(fsw))
        s.fx[4] = rng.chance(30) ? 0xFF : (rng.chance(20) ? 0 : UInt8(truncatingIfNeeded: rng.next()))
        s.setFx(6, 2, rng.next() & 0x7FF)
        s.setFx(8, 8, rng.chance(50) ? 0 : rng.next() & 0x7FFF_FFFF_FFFF)
        s.setFx(16, 8, rng.chance(50) ? 0 : rng.next() & 0x7FFF_FFFF_FFFF)
        var mx: UInt32 = 0x1F80
        if rng.chance(50) {
            mx = UInt32(rng.below(4)) << 13 | (rng.chance(20) ? 0x8000 : 0) | (rng.chance(20) ? 0x40 : 0) | 0x1F80
            if rng.chance(15) { mx &= ~(UInt32(rng.below(64)) << 7) }
            mx |= UInt32(rng.below(64)) & (rng.chance(50) ? 0x3F : 0)
            // A pending unmasked flag would make every SSE arithmetic instruction fault: rare.
            if !rng.chance(10) { mx &= ~(~(mx >> 7) & 0x3F) }
        }
        s.setFx(24, 4, UInt64(mx))
        s.setFx(28, 4, 0xFFFF)
        for i in 0..<8 {
            let (m, e) = rng.f80()
            s.setFx(32 + 16 * i, 8, m); s.setFx(40 + 16 * i, 2, UInt64(e))
        }
        s.fx.withUnsafeMutableBytes { p in for i in 0..<16 { rng.lane128(into: p.baseAddress! + 160 + 16 * i) } }
        if rng.chance(60) {
            s.ymmHi.withUnsafeMutableBytes { p in for i in 0..<16 { rng.lane128(into: p.baseAddress! + 16 * i) } }
        }
        s.scratch.withUnsafeMutableBytes { p in
            for i in 0..<(DTState.scratchSize / 16) { rng.lane128(into: p.baseAddress! + 16 * i) }
        }
        return s
    }

    /// Undefined flags / x87 condition codes and ignored results of a sequence; nil when an
    /// instruction reads something an earlier one left undefined.
    func analyze(_ instrs: [DTInstr], completed: Int? = nil) -> (flags: UInt64, fsw: UInt16, gpr: UInt16)? {
        var undef: UInt16 = 0, cc: UInt16 = 0, ign: UInt16 = 0
        var ignFlags: UInt64 = 0
        for (k, i) in instrs.enumerated() {
            if let completed, k >= completed { break }
            if i.flagsRead & undef != 0 { return nil }
            if i.ccRead && cc != 0 { return nil }
            if i.mustBeFirst && k != 0 { return nil }
            if i.mustBeLast && k != instrs.count - 1 { return nil }
            undef = (undef & ~i.flagsWritten) | i.flagsUndef
            switch i.ccClass {
            case 1: cc = 0
            case 2: cc = (cc & ~(0x4700 & ~i.ccUndef)) | i.ccUndef
            default: break
            }
            ign |= i.ignoreGPR
            ignFlags |= i.ignoreFlags
        }
        return (UInt64(undef) | ignFlags, cc, ign)
    }

    func makeCase(_ index: Int) -> Case? {
        var rng = caseRNG(index)
        guard !gen.pool.isEmpty else { return nil }
        let n = 1 + (rng.chance(40) ? 0 : rng.below(options.maxLength))
        var instrs: [DTInstr] = []
        var attempts = 0
        while instrs.count < n && attempts < 60 {
            attempts += 1
            guard let i = gen.generate(rng.below(gen.pool.count), &rng) else { continue }
            if analyze(instrs + [i]) == nil { continue }
            instrs.append(i)
            if i.mustBeLast { break }
        }
        if instrs.isEmpty { return nil }
        var st = randomState(&rng)
        for i in instrs {
            for p in i.patches {
                var v: UInt64 = 0
                for k in 0..<p.size { v |= UInt64(st.scratch[p.off + k]) << UInt64(8 * k) }
                v = (v & p.and) | p.or
                for k in 0..<p.size { st.scratch[p.off + k] = UInt8(truncatingIfNeeded: v >> UInt64(8 * k)) }
            }
        }
        return Case(instrs: instrs, state: st)
    }

    /// Lays the sequence out at the code address (RIP-relative displacements resolved).
    func assemble(_ instrs: [DTInstr]) -> (code: [UInt8], starts: [Int]) {
        var code: [UInt8] = []
        var starts: [Int] = []
        for i in instrs {
            code += i.setup
            starts.append(code.count)
            var b = i.bytes
            if i.ripFix >= 0 {
                let end = native.codeAddr + UInt64(code.count + b.count)
                let disp = i.ripTarget &- end
                for k in 0..<4 { b[i.ripFix + k] = UInt8(truncatingIfNeeded: disp >> UInt64(8 * k)) }
            }
            code += b
        }
        return (code, starts)
    }

    // MARK: comparison

    struct Outcome {
        var native: DTResult
        var emu: DTResult
        var diffs: [String]
    }

    func execute(_ c: Case) -> Outcome? {
        guard analyze(c.instrs) != nil else { return nil }
        let (code, starts) = assemble(c.instrs)
        let n = native.run(code: code, state: c.state)
        let e = emu.run(code: code, codeAddr: native.codeAddr, state: c.state, maxSteps: 16 * c.instrs.count + 64)
        // Flags left undefined count only for instructions that completed before a fault.
        var completed = c.instrs.count
        if let f = n.fault ?? e.fault, f.rip >= native.codeAddr {
            let off = Int(f.rip - native.codeAddr)
            completed = 0
            for (k, st) in starts.enumerated() where st + c.instrs[k].bytes.count <= off { completed = k + 1 }
        }
        let masks = analyze(c.instrs, completed: completed)!
        let approx = c.instrs.prefix(completed).map { $0.approxReg }.filter { $0 >= 0 }
        let approxX87 = c.instrs.prefix(completed + 1).contains { $0.approxX87 }
        return Outcome(native: n, emu: e, diffs: compare(n, e, masks, approx: approx, approxX87: approxX87))
    }

    static let gprNames = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                           "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

    /// Single-precision lanes equal, or both finite and within the RCP/RSQRT error bound.
    static func approxEqual(_ a: (UInt64, UInt64), _ b: (UInt64, UInt64)) -> Bool {
        for k in 0..<4 {
            let x = UInt32(truncatingIfNeeded: (k < 2 ? a.0 : a.1) >> UInt64(32 * (k & 1)))
            let y = UInt32(truncatingIfNeeded: (k < 2 ? b.0 : b.1) >> UInt64(32 * (k & 1)))
            if x == y { continue }
            let fx = Float(bitPattern: x), fy = Float(bitPattern: y)
            if !fx.isFinite || !fy.isFinite || fx.sign != fy.sign { return false }
            if Swift.abs(fx - fy) > Swift.max(Swift.abs(fx), Swift.abs(fy)) * 0x1p-10 { return false }
        }
        return true
    }

    /// Within 4 units in the last place, counted across exponent boundaries (1 - 2^-64 and 1.0
    /// are neighbours: a directed rounding mode can move a result near 1 onto either side). Same
    /// sign only; NaNs, infinities and unnormals must be identical.
    public static func closeF80(_ a: (UInt64, UInt16), _ b: (UInt64, UInt16)) -> Bool {
        if a == b { return true }
        if a.1 & 0x8000 != b.1 & 0x8000 { return false }
        // Position among the non-negative finite values: denormals (exponent 0) count up to
        // 2^63 - 1, then each exponent holds 2^63 steps of its explicit-integer-bit mantissas.
        func position(_ v: (UInt64, UInt16)) -> UInt128? {
            let e = UInt128(v.1 & 0x7FFF)
            if e == 0 { return UInt128(v.0) }
            if e == 0x7FFF || v.0 >> 63 == 0 { return nil }
            return e << 63 | UInt128(v.0 & ~(1 << 63))
        }
        guard let x = position(a), let y = position(b) else { return false }
        return (x > y ? x - y : y - x) <= 4
    }

    func compare(_ n: DTResult, _ e: DTResult, _ masks: (flags: UInt64, fsw: UInt16, gpr: UInt16), approx: [Int] = [], approxX87: Bool = false) -> [String] {
        var d: [String] = []
        if let s = e.stuckAt { d.append("emulator stopped at rip=\(hex(s)) (neither finished nor faulted)") }
        if n.fault?.vector != e.fault?.vector {
            d.append("exception: native \(describe(n.fault)), emu \(describe(e.fault))")
            return d
        }
        if let nf = n.fault, let ef = e.fault {
            if nf.rip != ef.rip { d.append("fault rip: native \(hex(nf.rip)) emu \(hex(ef.rip))") }
            if [10, 11, 12, 13, 14, 17].contains(nf.vector) && nf.code != ef.code {
                d.append("error code: native \(hex(nf.code)) emu \(hex(ef.code))")
            }
            if nf.vector == 14 && nf.addr != ef.addr { d.append("cr2: native \(hex(nf.addr)) emu \(hex(ef.addr))") }
        }
        let a = n.state, b = e.state
        for i in 0..<16 where masks.gpr & (1 << UInt16(i)) == 0 && a.gpr[i] != b.gpr[i] {
            d.append("\(DiffTester.gprNames[i]): native \(hex(a.gpr[i], 16)) emu \(hex(b.gpr[i], 16))")
        }
        let fmask: UInt64 = 0x3E_7FD5 & ~masks.flags
        if (a.rflags ^ b.rflags) & fmask != 0 {
            d.append("rflags: native \(hex(a.rflags)) emu \(hex(b.rflags)) (differ in \(hex((a.rflags ^ b.rflags) & fmask)), undefined \(hex(masks.flags & 0x8D5)))")
        }
        if a.fcw != b.fcw { d.append("fcw: native \(hex(UInt64(a.fcw))) emu \(hex(UInt64(b.fcw)))") }
        let swMask: UInt16 = ~masks.fsw & (approxX87 ? ~0x200 : 0xFFFF)
        if (a.fsw ^ b.fsw) & swMask != 0 { d.append("fsw: native \(hex(UInt64(a.fsw))) emu \(hex(UInt64(b.fsw)))\(masks.fsw != 0 ? " (undefined \(hex(UInt64(masks.fsw))))" : "")") }
        if a.ftw != b.ftw { d.append("ftw: native \(hex(UInt64(a.ftw))) emu \(hex(UInt64(b.ftw)))") }
        if a.mxcsr != b.mxcsr { d.append("mxcsr: native \(hex(UInt64(a.mxcsr))) emu \(hex(UInt64(b.mxcsr)))") }
        // The interpreter records FOP and FDP only for unmasked exceptions (CPUID.7.EBX[6]); a host
        // that keeps them up to date for every instruction is not compared on them.
        if a.fip != b.fip { d.append("fip: native \(hex(a.fip)) emu \(hex(b.fip))") }
        if hostFDPExceptionOnly && a.fop != b.fop { d.append("fop: native \(hex(UInt64(a.fop))) emu \(hex(UInt64(b.fop)))") }
        if hostFDPExceptionOnly && a.fdp != b.fdp { d.append("fdp: native \(hex(a.fdp)) emu \(hex(b.fdp))") }
        for i in 0..<8 where a.st(i) != b.st(i) && !(approxX87 && DiffTester.closeF80(a.st(i), b.st(i))) {
            let x = a.st(i), y = b.st(i)
            d.append("st\(i): native \(hex(UInt64(x.1), 4)):\(hex(x.0, 16)) emu \(hex(UInt64(y.1), 4)):\(hex(y.0, 16))")
        }
        for i in 0..<16 {
            let x = a.xmm(i), y = b.xmm(i), xh = a.ymmHigh(i), yh = b.ymmHigh(i)
            if approx.contains(i) && DiffTester.approxEqual(xh, yh) && DiffTester.approxEqual(x, y) { continue }
            if x != y || xh != yh {
                d.append("ymm\(i): native \(hex(xh.1, 16))_\(hex(xh.0, 16))_\(hex(x.1, 16))_\(hex(x.0, 16))\n" +
                         "                emu \(hex(yh.1, 16))_\(hex(yh.0, 16))_\(hex(y.1, 16))_\(hex(y.0, 16))")
            }
        }
        if a.scratch != b.scratch {
            var k = 0
            var shown = 0
            while k < DTState.scratchSize && shown < 3 {
                if a.scratch[k] != b.scratch[k] {
                    let lo = k & ~15
                    d.append("memory \(hex(native.scratchAddr + UInt64(lo))): native \(bytesHex(a.scratch[lo..<(lo + 16)]))\n" +
                             "                              emu \(bytesHex(b.scratch[lo..<(lo + 16)]))")
                    shown += 1
                    k = lo + 16
                } else { k += 1 }
            }
        }
        return d
    }

    /// Runs `code` from `state` on the host and in the interpreter and compares everything but the
    /// given undefined RFLAGS / FSW bits (for regression tests of single encodings).
    public func check(code: [UInt8], state: DTState, undefinedFlags: UInt64 = 0, undefinedFSW: UInt16 = 0)
        -> (native: DTResult, emu: DTResult, diffs: [String]) {
        native.prepare()
        let n = native.run(code: code, state: state)
        let e = emu.run(code: code, codeAddr: native.codeAddr, state: state)
        return (n, e, compare(n, e, (undefinedFlags, undefinedFSW, 0)))
    }

    /// A shared tester for regression tests (nil when the host cannot run native code).
    nonisolated(unsafe) public static let shared: DiffTester? = DiffTester(options: Options())

    // MARK: minimisation and reporting

    /// Drops instructions while the sequence still mismatches.
    func minimize(_ c: Case) -> (Case, Outcome) {
        var cur = c
        var out = execute(c)!
        var k = cur.instrs.count - 1
        while k >= 0 && cur.instrs.count > 1 {
            var t = cur
            t.instrs.remove(at: k)
            if let o = execute(t), !o.diffs.isEmpty { cur = t; out = o }
            k -= 1
            if k >= cur.instrs.count { k = cur.instrs.count - 1 }
        }
        return (cur, out)
    }

    func report(_ index: Int, _ c: Case, _ o: Outcome) -> String {
        var r = "difftest MISMATCH: seed \(options.seed) case \(index) (replay: emu difftest --seed \(options.seed) --case \(index))\n"
        let (code, starts) = assemble(c.instrs)
        r += "  code @\(hex(native.codeAddr)): \(bytesHex(code))\n"
        for (k, i) in c.instrs.enumerated() {
            let s = starts[k]
            r += "    +\(s): \(pad(i.name, 12)) \(bytesHex(code[s..<(s + i.bytes.count)]))"
            if !i.setup.isEmpty { r += "   (after set-up \(bytesHex(i.setup)))" }
            r += "\n"
        }
        let s = c.state
        r += "  initial state:\n"
        for row in 0..<4 {
            r += "    " + (0..<4).map { k -> String in
                let i = row * 4 + k
                return pad(DiffTester.gprNames[i], 3) + "=\(hex(s.gpr[i], 16))"
            }.joined(separator: " ") + "\n"
        }
        r += "    rflags=\(hex(s.rflags)) mxcsr=\(hex(UInt64(s.mxcsr))) fcw=\(hex(UInt64(s.fcw))) fsw=\(hex(UInt64(s.fsw))) ftw=\(hex(UInt64(s.ftw)))\n"
        let x87 = c.instrs.contains { $0.usesX87 }, vec = c.instrs.contains { $0.usesVector }
        if x87 {
            for i in 0..<8 { let v = s.st(i); r += "    st\(i)=\(hex(UInt64(v.1), 4)):\(hex(v.0, 16))" + (i % 2 == 1 ? "\n" : "") }
        }
        if vec {
            for i in 0..<16 {
                let x = s.xmm(i), h = s.ymmHigh(i)
                r += "    ymm\(i)=\(hex(h.1, 16))_\(hex(h.0, 16))_\(hex(x.1, 16))_\(hex(x.0, 16))\n"
            }
        }
        for t in Set(c.instrs.flatMap { $0.targets }).sorted() {
            if t >= native.scratchAddr && t + 32 <= native.scratchAddr + UInt64(DTState.scratchSize) {
                let o = Int(t - native.scratchAddr)
                r += "    memory \(hex(t)): \(bytesHex(s.scratch[o..<(o + 32)]))\n"
            } else {
                r += "    memory \(hex(t)): (at the edge of the scratch pages)\n"
            }
        }
        func final(_ label: String, _ res: DTResult) -> String {
            var t = "  \(label) final: exception \(describe(res.fault))\n"
            for row in 0..<4 {
                t += "    " + (0..<4).map { k -> String in
                    let i = row * 4 + k
                    return pad(DiffTester.gprNames[i], 3) + "=\(hex(res.state.gpr[i], 16))"
                }.joined(separator: " ") + "\n"
            }
            t += "    rflags=\(hex(res.state.rflags)) mxcsr=\(hex(UInt64(res.state.mxcsr))) fcw=\(hex(UInt64(res.state.fcw))) fsw=\(hex(UInt64(res.state.fsw))) ftw=\(hex(UInt64(res.state.ftw)))\n"
            return t
        }
        r += final("native", o.native)
        r += final("emu   ", o.emu)
        r += "  differences:\n"
        for d in o.diffs { r += "    \(d)\n" }
        return r
    }

    // MARK: the run

    public func run() -> Summary {
        var sum = Summary()
        sum.poolSize = gen.pool.count
        native.prepare()
        let start = ContinuousClock.now
        var index = options.onlyCase ?? 0
        while sum.instructions < options.count {
            defer { index += 1 }
            if let oc = options.onlyCase, index != oc { break }
            guard let c = makeCase(index) else {
                if gen.pool.isEmpty { break }
                continue
            }
            guard let o = execute(c) else { continue }
            sum.cases += 1
            sum.instructions += c.instrs.count
            for i in c.instrs { sum.tested[i.name, default: 0] += 1 }
            if o.native.fault != nil && o.diffs.isEmpty { sum.faultsAgreed += 1 }
            if o.diffs.isEmpty { continue }
            let (mc, mo) = minimize(c)
            sum.mismatchCount += 1
            let key = mc.instrs.map { $0.name }.joined(separator: "+")
            sum.mismatchesByName[key, default: 0] += 1
            if sum.mismatches.count < options.maxReports && (sum.mismatchesByName[key]! <= 2 || !options.dedupe || options.onlyCase != nil) {
                let rep = report(index, mc, mo)
                sum.mismatches.append(Mismatch(caseIndex: index, names: mc.instrs.map { $0.name }, report: rep))
                log(rep)
            }
            if options.onlyCase != nil { break }
        }
        sum.seconds = Double((ContinuousClock.now - start).components.seconds) + Double((ContinuousClock.now - start).components.attoseconds) * 1e-18
        sum.disagreements = gen.disagreements
        return sum
    }

    public static func exclusionText(_ gen: DTGenerator?) -> String {
        var t = "Never generated:\n"
        for e in diffTestExclusions { t += "  \(e.names.joined(separator: " ")): \(e.reason)\n" }
        if let gen, !gen.skippedFeatures.isEmpty {
            t += "Skipped for their CPUID feature:\n"
            var byWhy: [String: [String]] = [:]
            for (n, w) in gen.skippedFeatures { byWhy[w, default: []].append(n) }
            for (w, ns) in byWhy.sorted(by: { $0.key < $1.key }) { t += "  \(w): \(ns.sorted().joined(separator: " "))\n" }
        }
        return t
    }

    public func summaryText(_ s: Summary) -> String {
        var t = "difftest: seed \(options.seed), \(s.instructions) instructions in \(s.cases) sequences (\(s.faultsAgreed) with matching exceptions), \(s.mismatchCount) mismatching sequences, \(Double(Int(s.seconds * 10)) / 10) s, \(s.poolSize) table forms\n"
        if !s.mismatchesByName.isEmpty {
            t += "mismatches by (minimised) sequence:\n"
            for (k, v) in s.mismatchesByName.sorted(by: { $0.value > $1.value }).prefix(40) { t += "  \(v)  \(k)\n" }
        }
        if !s.disagreements.isEmpty {
            t += "encoder/decoder length disagreements:\n"
            for x in s.disagreements { t += "  \(x)\n" }
        }
        return t
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
