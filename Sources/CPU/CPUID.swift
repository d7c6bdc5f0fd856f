// The CPUID model presented to the guest: a modest, modern Intel-style CPU that advertises only
// what the interpreter actually executes. `CPUIDModel.implemented` is the single place where
// feature bits are turned on; everything else (leaf layout, cache/topology descriptors, the
// hypervisor leaf, the brand string) is derived here.

/// One CPUID feature bit: which leaf/register word it lives in and its bit number.
public struct CPUFeature: Hashable, Sendable {
    /// Feature words (leaf.subleaf:register).
    public enum Word: Int, Sendable, CaseIterable {
        case l1edx = 0, l1ecx, l6eax, l7ebx, l7ecx, l7edx, e1edx, e1ecx, e7edx
    }
    public let word: Word
    public let bit: UInt8
    public init(_ word: Word, _ bit: UInt8) { self.word = word; self.bit = bit }

    // Leaf 1 EDX
    public static let fpu = CPUFeature(.l1edx, 0)
    public static let vme = CPUFeature(.l1edx, 1)
    public static let de = CPUFeature(.l1edx, 2)
    public static let pse = CPUFeature(.l1edx, 3)
    public static let tsc = CPUFeature(.l1edx, 4)
    public static let msr = CPUFeature(.l1edx, 5)
    public static let pae = CPUFeature(.l1edx, 6)
    public static let mce = CPUFeature(.l1edx, 7)
    public static let cx8 = CPUFeature(.l1edx, 8)
    public static let apic = CPUFeature(.l1edx, 9)
    public static let sep = CPUFeature(.l1edx, 11)
    public static let mtrr = CPUFeature(.l1edx, 12)
    public static let pge = CPUFeature(.l1edx, 13)
    public static let mca = CPUFeature(.l1edx, 14)
    public static let cmov = CPUFeature(.l1edx, 15)
    public static let pat = CPUFeature(.l1edx, 16)
    public static let pse36 = CPUFeature(.l1edx, 17)
    public static let clfsh = CPUFeature(.l1edx, 19)
    public static let mmx = CPUFeature(.l1edx, 23)
    public static let fxsr = CPUFeature(.l1edx, 24)
    public static let sse = CPUFeature(.l1edx, 25)
    public static let sse2 = CPUFeature(.l1edx, 26)
    // Leaf 1 ECX
    public static let sse3 = CPUFeature(.l1ecx, 0)
    public static let pclmulqdq = CPUFeature(.l1ecx, 1)
    public static let monitor = CPUFeature(.l1ecx, 3)
    public static let ssse3 = CPUFeature(.l1ecx, 9)
    public static let cx16 = CPUFeature(.l1ecx, 13)
    public static let pcid = CPUFeature(.l1ecx, 17)
    public static let sse41 = CPUFeature(.l1ecx, 19)
    public static let sse42 = CPUFeature(.l1ecx, 20)
    public static let x2apic = CPUFeature(.l1ecx, 21)
    public static let tscDeadline = CPUFeature(.l1ecx, 24)
    public static let movbe = CPUFeature(.l1ecx, 22)
    public static let popcnt = CPUFeature(.l1ecx, 23)
    public static let aes = CPUFeature(.l1ecx, 25)
    public static let xsave = CPUFeature(.l1ecx, 26)
    public static let osxsave = CPUFeature(.l1ecx, 27)   // dynamic: mirrors CR4.OSXSAVE
    public static let avx = CPUFeature(.l1ecx, 28)
    public static let fma = CPUFeature(.l1ecx, 12)
    public static let f16c = CPUFeature(.l1ecx, 29)
    public static let rdrand = CPUFeature(.l1ecx, 30)
    public static let hypervisor = CPUFeature(.l1ecx, 31)
    // Leaf 6 EAX
    public static let arat = CPUFeature(.l6eax, 2)
    // Leaf 7.0 EBX / ECX / EDX
    public static let fsgsbase = CPUFeature(.l7ebx, 0)
    public static let fdpExceptionOnly = CPUFeature(.l7ebx, 6)
    public static let fpuCSDSDeprecated = CPUFeature(.l7ebx, 13)
    public static let bmi1 = CPUFeature(.l7ebx, 3)
    public static let avx2 = CPUFeature(.l7ebx, 5)
    public static let smep = CPUFeature(.l7ebx, 7)
    public static let bmi2 = CPUFeature(.l7ebx, 8)
    public static let erms = CPUFeature(.l7ebx, 9)
    public static let rdseed = CPUFeature(.l7ebx, 18)
    public static let adx = CPUFeature(.l7ebx, 19)
    public static let smap = CPUFeature(.l7ebx, 20)
    public static let clflushopt = CPUFeature(.l7ebx, 23)
    public static let clwb = CPUFeature(.l7ebx, 24)
    public static let sha = CPUFeature(.l7ebx, 29)
    public static let umip = CPUFeature(.l7ecx, 2)
    public static let rdpid = CPUFeature(.l7ecx, 22)
    public static let archCapabilities = CPUFeature(.l7edx, 29)
    // Leaf 0x80000001 EDX / ECX
    public static let syscall = CPUFeature(.e1edx, 11)
    public static let nx = CPUFeature(.e1edx, 20)
    public static let page1G = CPUFeature(.e1edx, 26)
    public static let rdtscp = CPUFeature(.e1edx, 27)
    public static let lm = CPUFeature(.e1edx, 29)
    public static let lahf64 = CPUFeature(.e1ecx, 0)
    public static let abm = CPUFeature(.e1ecx, 5)       // LZCNT
    public static let prefetchw = CPUFeature(.e1ecx, 8)
    // Leaf 0x80000007 EDX
    public static let invariantTSC = CPUFeature(.e7edx, 8)
}

/// The CPUID model presented to the guest.
public struct CPUIDModel: Sendable {
    /// THE place where feature bits are turned on. Add a feature here only once the interpreter
    /// executes it (and the matching CR4/XCR0/MSR checks derive from this list automatically).
    ///
    /// Deliberately OFF until implemented:
    ///   - AVX-512, VAES, VPCLMULQDQ (256-bit): not executed yet.
    ///   - .apic, .tscDeadline, .arat: turned on by a machine that has a local APIC (PCMachine);
    ///     .x2apic: not modelled.
    ///   - .vme, .mce, .mca, .pcid, .umip, .monitor: not modelled.
    public static let implemented: [CPUFeature] = [
        .de, .pse, .tsc, .msr, .pae, .cx8, .sep, .mtrr, .pge, .cmov, .pat, .pse36, .clfsh,
        .cx16, .movbe, .popcnt, .rdrand, .hypervisor,
        .fsgsbase, .smep, .erms, .rdseed, .smap, .rdpid, .archCapabilities,
        .fpuCSDSDeprecated,   // FSTENV/FSAVE/FXSAVE store FCS and FDS as zero
        .fdpExceptionOnly,    // FDP (and FOP) only recorded for unmasked x87 exceptions
        .clflushopt, .clwb,   // no caches: checked like CLFLUSH, nothing to write back
        .bmi1, .bmi2, .adx,   // ExecBMI.swift (TZCNT in ExecArith.swift)
        // AVX, AVX2, FMA3, F16C (VectorAVX.swift, VectorAVXFP.swift); XSAVE component 2.
        .avx, .avx2, .fma, .f16c,
        .sha,                 // SHA1/SHA256 (VectorMisc.swift)
        .syscall, .nx, .page1G, .rdtscp, .lm, .lahf64, .abm, .prefetchw,
        .invariantTSC,
        // x87 (FPU.swift), FXSAVE/FXRSTOR, MMX and SSE..SSE4.2 with PCLMULQDQ and AES-NI (Vector*.swift).
        .fpu, .fxsr, .mmx, .sse, .sse2, .sse3, .ssse3, .sse41, .sse42, .pclmulqdq, .aes,
        // XSAVE/XRSTOR/XSAVEOPT/XGETBV/XSETBV for the x87 and SSE components (FPUEnv.swift).
        .xsave,
    ]

    /// XCR0 bits the machine can save/restore: x87 (always 1), SSE, AVX (YMM upper halves).
    public var xcr0Supported: UInt64 = 0x7

    // The model presented: an Alder Lake Core i3-12100 (4 P-cores, no E-cores, so not hybrid;
    // AVX2 without AVX-512), reduced to one core and one thread. Its ISA (with BMI1/2, FMA, F16C,
    // MOVBE, LZCNT, XSAVE) reaches x86-64-v3. Features the interpreter lacks stay unadvertised.
    public var vendor = "GenuineIntel"
    public var brand = "12th Gen Intel(R) Core(TM) i3-12100"
    public var hypervisorSignature = "emuemuemuemu"
    /// Family 6, model 0x97 (extended model 9, model 7), stepping 5 (also EDX after RESET).
    public var signature: UInt32 = CPUIDModel.resetSignature
    public static let resetSignature: UInt32 = 0x0009_0675
    public var maxBasicLeaf: UInt32 = 0x0D
    public var maxExtendedLeaf: UInt32 = 0x8000_0008
    public var physicalAddressBits: UInt32 = UInt32(physAddrBits)
    public var linearAddressBits: UInt32 = 48
    public var apicID: UInt32 = 0

    /// Feature words indexed by `CPUFeature.Word.rawValue`.
    public var words: [UInt32]

    public init() {
        words = Array(repeating: 0, count: CPUFeature.Word.allCases.count)
        for f in CPUIDModel.implemented { set(f, true) }
    }

    @inline(__always) public func has(_ f: CPUFeature) -> Bool {
        words[f.word.rawValue] & (1 << UInt32(f.bit)) != 0
    }

    public mutating func set(_ f: CPUFeature, _ on: Bool) {
        if on { words[f.word.rawValue] |= 1 << UInt32(f.bit) } else { words[f.word.rawValue] &= ~(1 << UInt32(f.bit)) }
    }

    /// The CPUID feature behind each opcode-table `feat:` name (`featureNames`), nil for base ISA.
    public static func feature(forTableName name: String) -> CPUFeature? {
        switch name {
        case "mmx": return .mmx
        case "sse": return .sse
        case "sse2": return .sse2
        case "sse3": return .sse3
        case "ssse3": return .ssse3
        case "sse4.1": return .sse41
        case "sse4.2": return .sse42
        case "popcnt": return .popcnt
        case "lzcnt": return .abm
        case "bmi1": return .bmi1
        case "movbe": return .movbe
        case "adx": return .adx
        case "aes": return .aes
        case "pclmulqdq": return .pclmulqdq
        case "sha": return .sha
        case "xsave": return .xsave
        case "fxsr": return .fxsr
        case "fsgsbase": return .fsgsbase
        case "rdrand": return .rdrand
        case "rdseed": return .rdseed
        case "rdpid": return .rdpid
        case "bmi2": return .bmi2
        case "avx": return .avx
        case "avx2": return .avx2
        case "fma": return .fma
        case "f16c": return .f16c
        case "clflushopt": return .clflushopt
        case "clwb": return .clwb
        default: return nil
        }
    }

    /// Bit i set when opcode-table feature index i (`OpInfo.feature`) is advertised (bit 0, base
    /// ISA, always). An executor can reject unadvertised instructions with
    /// `tableFeatureMask & (1 << info.feature) == 0 -> #UD`.
    public var tableFeatureMask: UInt64 {
        var m: UInt64 = 1
        for (i, name) in featureNames.enumerated() where i > 0 && i < 64 {
            if let f = CPUIDModel.feature(forTableName: name), has(f) { m |= 1 << UInt64(i) }
        }
        return m
    }

    /// CR4 bits the guest may set, derived from the advertised features.
    public var cr4Supported: UInt64 {
        var m: UInt64 = 1 << 2 | 1 << 8          // TSD, PCE (architectural since P6)
        if has(.vme) { m |= 1 << 0 | 1 << 1 }
        if has(.de) { m |= 1 << 3 }
        if has(.pse) { m |= 1 << 4 }
        if has(.pae) { m |= 1 << 5 }
        if has(.mce) { m |= 1 << 6 }
        if has(.pge) { m |= 1 << 7 }
        if has(.fxsr) { m |= 1 << 9 }
        if has(.sse) { m |= 1 << 10 }
        if has(.umip) { m |= 1 << 11 }
        if has(.fsgsbase) { m |= 1 << 16 }
        if has(.pcid) { m |= 1 << 17 }
        if has(.xsave) { m |= 1 << 18 }
        if has(.smep) { m |= 1 << 20 }
        if has(.smap) { m |= 1 << 21 }
        return m
    }

    /// EFER bits the guest may set (LMA is maintained by the CPU).
    public var eferSupported: UInt64 {
        var m: UInt64 = 0
        if has(.syscall) { m |= 1 }
        if has(.lm) { m |= 0x100 | 0x400 }
        if has(.nx) { m |= 0x800 }
        return m
    }

    static func packString(_ s: String, count: Int) -> [UInt32] {
        var bytes = Array(s.utf8.prefix(count * 4))
        bytes += Array(repeating: 0, count: count * 4 - bytes.count)
        var out: [UInt32] = []
        for i in 0..<count {
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[4 * i + k]) << UInt32(8 * k) }
            out.append(v)
        }
        return out
    }

    /// Executes CPUID for `leaf`/`subleaf`. `cr4` supplies the dynamic OSXSAVE bit.
    public func query(leaf: UInt32, subleaf: UInt32, cr4: UInt64 = 0, xcr0: UInt64 = 1) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32) {
        func w(_ x: CPUFeature.Word) -> UInt32 { words[x.rawValue] }
        let inBasic = leaf <= maxBasicLeaf
        let inHypervisor = leaf >= 0x4000_0000 && leaf <= 0x4FFF_FFFF
        let inExtended = leaf >= 0x8000_0000 && leaf <= maxExtendedLeaf
        if !inBasic && !inHypervisor && !inExtended {
            // Intel: leaves beyond the maximum return the highest basic leaf's data.
            return query(leaf: maxBasicLeaf, subleaf: subleaf, cr4: cr4, xcr0: xcr0)
        }
        switch leaf {
        case 0:
            let v = CPUIDModel.packString(vendor, count: 3)
            return (maxBasicLeaf, v[0], v[2], v[1])
        case 1:
            var ecx = w(.l1ecx) & ~(1 << 27)
            if has(.xsave) && cr4 & (1 << 18) != 0 { ecx |= 1 << 27 }
            // EBX: CLFLUSH line size 8 qwords, 1 logical processor, initial APIC ID.
            let ebx: UInt32 = 8 << 8 | 1 << 16 | apicID << 24
            return (signature, ebx, ecx, w(.l1edx))
        case 2:
            // Descriptor 0xFF: "use leaf 4 for cache parameters"; AL = 1 iteration.
            return (0x0000_FF01, 0, 0, 0)
        case 4:
            // Deterministic cache parameters (i3-12100): L1d 48K/12, L1i 32K/8, L2 1.25M/10,
            // L3 12M/12, 64-byte lines.
            func cache(type: UInt32, level: UInt32, ways: UInt32, sizeKiB: UInt32, inclusive: Bool) -> (UInt32, UInt32, UInt32, UInt32) {
                let sets = sizeKiB * 1024 / 64 / ways
                let eax = type | level << 5 | 1 << 8
                let ebx = (64 - 1) | 0 << 12 | (ways - 1) << 22
                return (eax, ebx, sets - 1, inclusive ? 2 : 0)
            }
            switch subleaf {
            case 0: return cache(type: 1, level: 1, ways: 12, sizeKiB: 48, inclusive: false)
            case 1: return cache(type: 2, level: 1, ways: 8, sizeKiB: 32, inclusive: false)
            case 2: return cache(type: 3, level: 2, ways: 10, sizeKiB: 1280, inclusive: false)
            case 3: return cache(type: 3, level: 3, ways: 12, sizeKiB: 12288, inclusive: false)
            default: return (0, 0, 0, 0)
            }
        case 6:
            return (w(.l6eax), 0, 0, 0)
        case 7:
            if subleaf != 0 { return (0, 0, 0, 0) }
            return (0, w(.l7ebx), w(.l7ecx), w(.l7edx))
        case 0xB:
            // Extended topology: one thread, one core.
            switch subleaf {
            case 0: return (0, 1, 1 << 8 | 0, apicID)
            case 1: return (0, 1, 2 << 8 | 1, apicID)
            default: return (0, 0, subleaf & 0xFF, apicID)
            }
        case 0xD:
            // XSAVE state enumeration (only reachable once XSAVE is advertised and maxBasicLeaf >= 0xD).
            guard has(.xsave) else { return (0, 0, 0, 0) }
            switch subleaf {
            case 0:
                // EBX: area size for the components enabled in XCR0; ECX: for all supported ones.
                let cur: UInt32 = xcr0 & 4 != 0 ? 832 : 576
                let all: UInt32 = xcr0Supported & 4 != 0 ? 832 : 576
                return (UInt32(truncatingIfNeeded: xcr0Supported), cur, all, UInt32(truncatingIfNeeded: xcr0Supported >> 32))
            case 1: return (1, 0, 0, 0)      // XSAVEOPT; no XSAVEC/XGETBV1/XSAVES
            case 2:
                // YMM_Hi128: 256 bytes at offset 576 of the standard format.
                return xcr0Supported & 4 != 0 ? (256, 576, 0, 0) : (0, 0, 0, 0)
            default: return (0, 0, 0, 0)
            }
        case 0x4000_0000:
            let v = CPUIDModel.packString(hypervisorSignature, count: 3)
            return (0x4000_0000, v[0], v[1], v[2])
        case 0x4000_0001...0x4FFF_FFFF:
            return (0, 0, 0, 0)
        case 0x8000_0000:
            return (maxExtendedLeaf, 0, 0, 0)
        case 0x8000_0001:
            return (0, 0, w(.e1ecx), w(.e1edx))
        case 0x8000_0002...0x8000_0004:
            let b = CPUIDModel.packString(brand, count: 12)
            let i = Int(leaf - 0x8000_0002) * 4
            return (b[i], b[i + 1], b[i + 2], b[i + 3])
        case 0x8000_0005:
            return (0, 0, 0, 0)
        case 0x8000_0006:
            // L2: 1280 KiB, associativity 7 ("see leaf 4 subleaf 2": 10 ways), 64-byte lines.
            return (0, 0, 1280 << 16 | 0x7 << 12 | 64, 0)
        case 0x8000_0007:
            return (0, 0, 0, w(.e7edx))
        case 0x8000_0008:
            return (physicalAddressBits | linearAddressBits << 8, 0, 0, 0)
        default:
            return (0, 0, 0, 0)
        }
    }
}
