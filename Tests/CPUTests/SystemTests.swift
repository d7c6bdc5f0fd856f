import XCTest
import CPU
import CPUState

/// System instructions: control/debug registers, MSRs, CPUID, descriptor-table registers, fast
/// system calls, TSC and friends. Each test sets up the CPU state directly and executes a few
/// instructions at 0x1000; faults are observed through `traceFault` (before delivery).
final class SystemTests: XCTestCase {
    var mem: PhysicalMemory!
    var cpu: CPU!
    var faults: [Fault] = []

    override func setUp() {
        mem = PhysicalMemory(ramSize: 16 << 20)
        cpu = CPU(memory: mem, ports: PortBus())
        cpu.traceFault = { [unowned self] _, f in self.faults.append(f) }
        faults = []
        enterReal()
    }

    // MARK: helpers

    func enterReal() {
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF, selector: 0, attr: UInt16(ATTR_P | ATTR_S | 0xB))
        cpu.updateMode()
        cpu.gpr[4] = 0x8000
    }

    /// Flat 32-bit protected mode at privilege `cpl`, no paging.
    func enterProt32(cpl: UInt32 = 0) {
        cpu.s.pointee.cr0 |= 1
        let dpl = UInt16(cpl) << UInt16(ATTR_DPL_SHIFT)
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: UInt16(0x08 | cpl),
                                   attr: UInt16(ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0xB) | dpl)
        for i in [0, 2, 3, 4, 5] {
            cpu.sreg[i] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: UInt16(0x10 | cpl),
                                       attr: UInt16(ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0x3) | dpl)
        }
        cpu.s.pointee.cpl = cpl
        cpu.updateMode()
    }

    /// 64-bit mode with the first 4 GiB identity-mapped by 1 GiB pages (user-accessible).
    func enterLong64(cpl: UInt32 = 0) {
        mem.write(0x20000, size: 8, value: 0x21000 | 7)               // PML4[0] -> PDPT
        for i in 0..<4 { mem.write(0x21000 + UInt64(i) * 8, size: 8, value: UInt64(i) << 30 | 0x87) }
        cpu.s.pointee.cr3 = 0x20000
        cpu.s.pointee.cr4 |= 0x20
        cpu.s.pointee.efer |= 0x500
        cpu.s.pointee.cr0 |= 0x8000_0001
        let dpl = UInt16(cpl) << UInt16(ATTR_DPL_SHIFT)
        cpu.sreg[1] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: UInt16(0x08 | cpl),
                                   attr: UInt16(ATTR_P | ATTR_S | ATTR_L | ATTR_G | 0xB) | dpl)
        cpu.sreg[2] = SegmentCache(base: 0, limit: 0xFFFF_FFFF, selector: UInt16(0x10 | cpl),
                                   attr: UInt16(ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0x3) | dpl)
        cpu.s.pointee.cpl = cpl
        cpu.updateMode()
        cpu.flushTLB()
    }

    /// Places `bytes` at 0x1000 and executes `count` instructions from there; returns the first
    /// fault. Whatever exception delivery did is undone (the state is restored to just before
    /// the faulting instruction, keeping DR6/DR7/CR2 which the fault itself may set).
    @discardableResult
    func run(_ bytes: [UInt8], count: Int = 1) -> Fault? {
        for (i, b) in bytes.enumerated() { mem.write(0x1000 + UInt64(i), size: 1, value: UInt64(b)) }
        cpu.rip = 0x1000
        faults = []
        var d = Instr()
        for _ in 0..<count {
            step(&d)
            if !faults.isEmpty { return faults[0] }
        }
        return nil
    }

    func step(_ d: inout Instr) {
        let before = cpu.s.pointee
        cpu.step(&d)
        if !faults.isEmpty {
            let dr6 = cpu.s.pointee.dr.6, dr7 = cpu.s.pointee.dr.7, cr2 = cpu.s.pointee.cr2
            cpu.s.pointee = before
            cpu.s.pointee.dr.6 = dr6; cpu.s.pointee.dr.7 = dr7; cpu.s.pointee.cr2 = cr2
            cpu.flushTLB()
        }
    }

    func assertFault(_ f: Fault?, _ vector: UInt8, code: UInt32? = 0, file: StaticString = #filePath, line: UInt = #line) {
        guard let f else { XCTFail("expected fault \(vector), got none", file: file, line: line); return }
        XCTAssertEqual(f.vector, vector, "fault \(f)", file: file, line: line)
        if let code, f.hasCode { XCTAssertEqual(f.code, code, file: file, line: line) }
    }

    func string(_ regs: [UInt64]) -> String {
        var bytes: [UInt8] = []
        for r in regs { for k in 0..<4 { bytes.append(UInt8((r >> (8 * UInt64(k))) & 0xFF)) } }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    // MARK: CPUID

    func testCPUIDVendorFeaturesAndBrand() {
        cpu.gpr[0] = 0
        XCTAssertNil(run([0x0F, 0xA2]))
        XCTAssertEqual(cpu.gpr[0], 0xD)
        XCTAssertEqual(string([cpu.gpr[3], cpu.gpr[2], cpu.gpr[1]]), "GenuineIntel")

        cpu.gpr[0] = 1
        run([0x0F, 0xA2])
        let edx = cpu.gpr[2], ecx = cpu.gpr[1]
        XCTAssertEqual(cpu.gpr[0], 0x90675)
        XCTAssertEqual(edx & 1, 1, "x87 FPU")
        XCTAssertEqual(edx & (1 << 25 | 1 << 26 | 1 << 24 | 1 << 23), 1 << 25 | 1 << 26 | 1 << 24 | 1 << 23, "SSE/SSE2/FXSR/MMX")
        XCTAssertEqual(edx & (1 << 9), 0, "no APIC on a CPU without a machine LAPIC")
        for bit in [3, 4, 5, 6, 8, 11, 12, 13, 15, 16, 17, 19] { XCTAssertNotEqual(edx & (1 << UInt64(bit)), 0, "EDX bit \(bit)") }
        for bit in [13, 22, 23, 30, 31] { XCTAssertNotEqual(ecx & (1 << UInt64(bit)), 0, "ECX bit \(bit)") }
        XCTAssertEqual(ecx & (1 << 26 | 1 << 27), 1 << 26, "XSAVE, OSXSAVE off while CR4.OSXSAVE = 0")
        for bit in [0, 1, 9, 19, 20, 25] { XCTAssertNotEqual(ecx & (1 << UInt64(bit)), 0, "SSE3/PCLMULQDQ/SSSE3/SSE4.1/SSE4.2/AES bit \(bit)") }
        XCTAssertEqual(ecx & (1 << 12 | 1 << 28 | 1 << 29), 1 << 12 | 1 << 28 | 1 << 29, "FMA AVX F16C")

        cpu.gpr[0] = 7; cpu.gpr[1] = 0
        run([0x0F, 0xA2])
        XCTAssertEqual(cpu.gpr[3] & (1 << 0 | 1 << 7 | 1 << 20), 1 << 0 | 1 << 7 | 1 << 20, "FSGSBASE SMEP SMAP")
        XCTAssertEqual(cpu.gpr[3] & (1 << 3 | 1 << 8 | 1 << 19), 1 << 3 | 1 << 8 | 1 << 19, "BMI1 BMI2 ADX")
        XCTAssertNotEqual(cpu.gpr[3] & (1 << 5), 0, "AVX2")

        cpu.gpr[0] = 0x4000_0000
        run([0x0F, 0xA2])
        XCTAssertEqual(string([cpu.gpr[3], cpu.gpr[1], cpu.gpr[2]]), "emuemuemuemu")

        cpu.gpr[0] = 0x8000_0001
        run([0x0F, 0xA2])
        for bit in [11, 20, 26, 27, 29] { XCTAssertNotEqual(cpu.gpr[2] & (1 << UInt64(bit)), 0, "80000001 EDX bit \(bit)") }
        for bit in [0, 5] { XCTAssertNotEqual(cpu.gpr[1] & (1 << UInt64(bit)), 0, "80000001 ECX bit \(bit)") }

        var brand: [UInt64] = []
        for leaf in UInt64(0x8000_0002)...0x8000_0004 {
            cpu.gpr[0] = leaf
            run([0x0F, 0xA2])
            brand += [cpu.gpr[0], cpu.gpr[3], cpu.gpr[1], cpu.gpr[2]]
        }
        XCTAssertEqual(string(brand), "12th Gen Intel(R) Core(TM) i3-12100")

        cpu.gpr[0] = 0x8000_0008
        run([0x0F, 0xA2])
        XCTAssertEqual(cpu.gpr[0] & 0xFFFF, 48 << 8 | 40)

        cpu.gpr[0] = 0x8000_0007
        run([0x0F, 0xA2])
        XCTAssertNotEqual(cpu.gpr[2] & (1 << 8), 0, "invariant TSC")
    }

    func testCPUIDModelReachesX8664V3() {
        let m = cpu.cpuid
        let l1 = m.query(leaf: 1, subleaf: 0, cr4: 1 << 18), l7 = m.query(leaf: 7, subleaf: 0)
        let e1 = m.query(leaf: 0x8000_0001, subleaf: 0)
        func has(_ r: UInt32, _ bits: [Int], _ what: String) {
            for b in bits { XCTAssertNotEqual(r & (1 << UInt32(b)), 0, "\(what) bit \(b)") }
        }
        // v2: CMPXCHG16B, POPCNT, SSE3, SSSE3, SSE4.1, SSE4.2, LAHF/SAHF.
        has(l1.ecx, [0, 9, 13, 19, 20, 23], "CPUID.1:ECX"); has(e1.ecx, [0], "CPUID.80000001:ECX")
        // v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, XSAVE/OSXSAVE.
        has(l1.ecx, [12, 22, 26, 27, 28, 29], "CPUID.1:ECX"); has(l7.ebx, [3, 5, 8], "CPUID.7:EBX")
        has(e1.ecx, [5], "CPUID.80000001:ECX (LZCNT)")
        // v4 (AVX-512) is not advertised.
        XCTAssertEqual(l7.ebx & (1 << 16), 0)
        // Family 6 model 0x97 stepping 5; caches from leaf 4 agree with leaf 0x80000006.
        XCTAssertEqual(l1.eax, 0x90675)
        let l2 = m.query(leaf: 4, subleaf: 2)
        let ways = (l2.ebx >> 22) + 1, line = (l2.ebx & 0xFFF) + 1, sets = l2.ecx + 1
        XCTAssertEqual(ways * line * sets, 1280 * 1024)
        XCTAssertEqual(m.query(leaf: 0x8000_0006, subleaf: 0).ecx >> 16, 1280)
        XCTAssertEqual(m.query(leaf: 4, subleaf: 4).eax & 0x1F, 0, "no fifth cache")
    }

    func testCPUIDBeyondMaximumReturnsHighestBasicLeaf() {
        cpu.gpr[0] = 0xD; cpu.gpr[1] = 1
        run([0x0F, 0xA2])
        let expect = (cpu.gpr[0], cpu.gpr[1], cpu.gpr[2], cpu.gpr[3])
        for leaf: UInt64 in [0xE, 0x1F, 0x8000_0009, 0x9000_0000] {
            cpu.gpr[0] = leaf; cpu.gpr[1] = 1
            run([0x0F, 0xA2])
            XCTAssertTrue((cpu.gpr[0], cpu.gpr[1], cpu.gpr[2], cpu.gpr[3]) == expect, "leaf \(String(leaf, radix: 16))")
        }
        // The upper halves of RAX..RDX are cleared.
        cpu.gpr[0] = 0xFFFF_FFFF_0000_0000; cpu.gpr[3] = ~0
        run([0x0F, 0xA2])
        XCTAssertEqual(cpu.gpr[3] >> 32, 0)
    }

    func testTableFeatureMaskFollowsCPUID() {
        let m = cpu.cpuid.tableFeatureMask
        func bit(_ n: String) -> Bool { m & (1 << UInt64(featureNames.firstIndex(of: n)!)) != 0 }
        XCTAssertTrue(bit("popcnt")); XCTAssertTrue(bit("lzcnt")); XCTAssertTrue(bit("movbe"))
        XCTAssertTrue(bit("fsgsbase")); XCTAssertTrue(bit("rdrand")); XCTAssertTrue(bit("rdpid"))
        XCTAssertTrue(bit("sse")); XCTAssertTrue(bit("sse2")); XCTAssertTrue(bit("fxsr")); XCTAssertTrue(bit("sse4.2"))
        XCTAssertTrue(bit("sha")); XCTAssertTrue(bit("avx")); XCTAssertTrue(bit("avx2")); XCTAssertTrue(bit("fma")); XCTAssertTrue(bit("f16c"))
        XCTAssertTrue(bit("bmi1")); XCTAssertTrue(bit("bmi2")); XCTAssertTrue(bit("xsave"))
        XCTAssertEqual(m & 1, 1)
    }

    // MARK: control registers

    func testCR0ValidityChecks() {
        // PG without PE.
        cpu.gpr[0] = 0x8000_0000
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
        // NW without CD.
        cpu.gpr[0] = 0x2000_0000
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
        // PE: enters protected mode; ET always reads as 1.
        cpu.gpr[0] = 0x1
        XCTAssertNil(run([0x0F, 0x22, 0xC0]))
        XCTAssertTrue(cpu.protectedMode)
        cpu.gpr[3] = 0
        XCTAssertNil(run([0x0F, 0x20, 0xC3]))               // mov ebx, cr0
        XCTAssertEqual(cpu.gpr[3], 0x11)
    }

    func testCR4ReservedAndUnadvertisedBits() {
        // VME(0,1), MCE(6), UMIP(11), LA57(12), VMXE(13), SMXE(14), PCIDE(17), 22, 23.
        for bit in [0, 1, 6, 11, 12, 13, 14, 17, 22, 23] {
            cpu.gpr[0] = 1 << UInt64(bit)
            assertFault(run([0x0F, 0x22, 0xE0]), Fault.GP)
        }
        // OSFXSR(9) and OSXMMEXCPT(10) are allowed now that FXSR and SSE are advertised.
        cpu.gpr[0] = 0x30 | 0x80 | 0x8 | 0x4 | 0x100 | 0x200 | 0x400 | 0x1_0000 | 0x10_0000 | 0x20_0000
        XCTAssertNil(run([0x0F, 0x22, 0xE0]))
        XCTAssertEqual(cpu.s.pointee.cr4, cpu.gpr[0])
    }

    func testEnteringAndLeavingLongMode() {
        mem.write(0x20000, size: 8, value: 0x21000 | 3)
        mem.write(0x21000, size: 8, value: 0x83)             // first GiB identity
        enterProt32()
        cpu.s.pointee.cr3 = 0x20000
        cpu.s.pointee.efer = 0x100                          // LME
        // Without CR4.PAE: #GP.
        cpu.gpr[0] = 0x8000_0011
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
        XCTAssertFalse(cpu.inLongMode)
        cpu.s.pointee.cr4 = 0x20
        // CS.L set: #GP.
        cpu.sreg[1].attr |= UInt16(ATTR_L)
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
        cpu.sreg[1].attr &= ~UInt16(ATTR_L)
        XCTAssertNil(run([0x0F, 0x22, 0xC0]))
        XCTAssertTrue(cpu.inLongMode)
        XCTAssertEqual(cpu.s.pointee.efer & 0x400, 0x400, "LMA")
        XCTAssertFalse(cpu.code64, "compatibility mode until CS is reloaded")
        // Clearing PAE in long mode: #GP. Writing LME while paging: #GP.
        cpu.gpr[0] = 0
        assertFault(run([0x0F, 0x22, 0xE0]), Fault.GP)
        cpu.gpr[1] = 0xC000_0080; cpu.gpr[0] = 0; cpu.gpr[2] = 0
        assertFault(run([0x0F, 0x30]), Fault.GP)
        // Leaving from compatibility mode clears LMA.
        cpu.gpr[0] = 0x11
        XCTAssertNil(run([0x0F, 0x22, 0xC0]))
        XCTAssertFalse(cpu.inLongMode)
        // In 64-bit mode clearing PG is #GP.
        enterLong64()
        cpu.gpr[0] = 0x11
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
        // Bits 63:32 of CR0 are reserved.
        cpu.gpr[0] = 1 << 32 | 0x8000_0011
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)
    }

    func testCR3AndCR8() {
        enterLong64()
        cpu.gpr[0] = 1 << 45
        assertFault(run([0x0F, 0x22, 0xD8]), Fault.GP, code: 0)
        cpu.gpr[0] = 0x20000
        XCTAssertNil(run([0x0F, 0x22, 0xD8]))
        cpu.gpr[0] = 0x10                                  // mov cr8, rax: reserved bits
        assertFault(run([0x44, 0x0F, 0x22, 0xC0]), Fault.GP)
        cpu.gpr[0] = 0x9
        XCTAssertNil(run([0x44, 0x0F, 0x22, 0xC0]))
        cpu.gpr[3] = 0
        XCTAssertNil(run([0x44, 0x0F, 0x20, 0xC3]))        // mov rbx, cr8
        XCTAssertEqual(cpu.gpr[3], 9)
        // CR1/CR5 do not exist.
        assertFault(run([0x0F, 0x20, 0xC8]), Fault.UD)
    }

    func testPAEPDPTEReservedBitsFaultOnCR3Load() {
        enterProt32()
        cpu.s.pointee.cr4 = 0x20
        mem.write(0x30000, size: 8, value: 0x31000 | 1)
        mem.write(0x31000, size: 8, value: 0x83)
        cpu.s.pointee.cr3 = 0x30000
        cpu.gpr[0] = 0x8000_0011
        XCTAssertNil(run([0x0F, 0x22, 0xC0]))
        mem.write(0x40000, size: 8, value: 0x31000 | 1 | 2)   // RW is reserved in a PDPTE
        cpu.gpr[0] = 0x40000
        assertFault(run([0x0F, 0x22, 0xD8]), Fault.GP)
        XCTAssertEqual(cpu.s.pointee.cr3, 0x30000)
    }

    func testPrivilegedAtCPL3() {
        enterProt32(cpl: 3)
        assertFault(run([0x0F, 0x22, 0xC0]), Fault.GP)      // mov cr0, eax
        assertFault(run([0x0F, 0x20, 0xC0]), Fault.GP)      // mov eax, cr0
        assertFault(run([0x0F, 0x32]), Fault.GP)            // rdmsr
        assertFault(run([0x0F, 0x06]), Fault.GP)            // clts
        // SMSW and SGDT are not privileged (no UMIP).
        XCTAssertNil(run([0x0F, 0x01, 0xE0]))
        cpu.gpr[0] = 0x5000
        XCTAssertNil(run([0x0F, 0x01, 0x00]))
    }

    // MARK: debug registers

    func testDebugRegistersAliasAndDE() {
        enterProt32()
        cpu.gpr[0] = 0xFFFF_FFFF
        XCTAssertNil(run([0x0F, 0x23, 0xE0]))               // mov dr4, eax -> DR6
        XCTAssertEqual(cpu.s.pointee.dr.6, 0xFFFF_EFFF)
        cpu.gpr[0] = 0x1
        XCTAssertNil(run([0x0F, 0x23, 0xE8]))               // mov dr5, eax -> DR7
        XCTAssertEqual(cpu.s.pointee.dr.7, 0x401)
        cpu.gpr[0] = 0x1234
        XCTAssertNil(run([0x0F, 0x23, 0xC8]))               // mov dr1, eax
        XCTAssertNil(run([0x0F, 0x21, 0xCB]))               // mov ebx, dr1
        XCTAssertEqual(cpu.gpr[3], 0x1234)
        cpu.s.pointee.cr4 = 0x8                             // DE
        assertFault(run([0x0F, 0x21, 0xE0]), Fault.UD)
        // General detect.
        cpu.s.pointee.cr4 = 0
        cpu.s.pointee.dr.7 = 0x2400
        assertFault(run([0x0F, 0x21, 0xC0]), Fault.DB)
        XCTAssertEqual(cpu.s.pointee.dr.7 & 0x2000, 0)
        XCTAssertNotEqual(cpu.s.pointee.dr.6 & 0x2000, 0)
        // 64-bit: upper DR7 bits reserved.
        enterLong64()
        cpu.gpr[0] = 1 << 40
        assertFault(run([0x0F, 0x23, 0xF8]), Fault.GP)
    }

    // MARK: descriptor-table registers, MSW

    func testLGDTandSGDT16And64() {
        // 16-bit operand size: 24-bit base on load; SGDT stores 32 bits.
        mem.write(0x3000, size: 2, value: 0x1234)
        mem.write(0x3002, size: 4, value: 0xAABB_CCDD)
        cpu.gpr[3] = 0x3000
        XCTAssertNil(run([0x0F, 0x01, 0x17]))                // lgdt [bx]
        XCTAssertEqual(cpu.s.pointee.gdtr.limit, 0x1234)
        XCTAssertEqual(cpu.s.pointee.gdtr.base, 0xBB_CCDD)
        XCTAssertNil(run([0x66, 0x0F, 0x01, 0x1F]))          // lidt [bx] (32-bit)
        XCTAssertEqual(cpu.s.pointee.idtr.base, 0xAABB_CCDD)
        cpu.gpr[3] = 0x3100
        XCTAssertNil(run([0x0F, 0x01, 0x07]))                // sgdt [bx]
        XCTAssertEqual(mem.read(0x3100, size: 2), 0x1234)
        XCTAssertEqual(mem.read(0x3102, size: 4), 0xBB_CCDD)

        enterLong64()
        mem.write(0x3200, size: 2, value: 0xFFF)
        mem.write(0x3202, size: 8, value: 0xFFFF_8000_1234_5000)
        cpu.gpr[0] = 0x3200
        XCTAssertNil(run([0x0F, 0x01, 0x18]))                // lidt [rax]
        XCTAssertEqual(cpu.s.pointee.idtr.base, 0xFFFF_8000_1234_5000)
        cpu.gpr[0] = 0x3300
        XCTAssertNil(run([0x0F, 0x01, 0x08]))                // sidt [rax]
        XCTAssertEqual(mem.read(0x3300, size: 2), 0xFFF)
        XCTAssertEqual(mem.read(0x3302, size: 8), 0xFFFF_8000_1234_5000)
    }

    func testSMSWLMSWCLTS() {
        cpu.s.pointee.cr0 = 0x6000_0018                      // CD NW ET TS
        cpu.gpr[0] = ~0
        XCTAssertNil(run([0x66, 0x0F, 0x01, 0xE0]))          // smsw eax
        XCTAssertEqual(cpu.gpr[0], 0x6000_0018)
        cpu.gpr[0] = 0xFFFF_0000
        XCTAssertNil(run([0x0F, 0x01, 0xE0]))                // smsw ax
        XCTAssertEqual(cpu.gpr[0], 0xFFFF_0018)
        cpu.gpr[3] = 0x3000
        XCTAssertNil(run([0x0F, 0x01, 0x27]))                // smsw [bx]
        XCTAssertEqual(mem.read(0x3000, size: 2), 0x0018)
        XCTAssertNil(run([0x0F, 0x06]))                      // clts
        XCTAssertEqual(cpu.s.pointee.cr0 & 8, 0)
        cpu.gpr[0] = 0xFFFF                                  // lmsw ax: only low 4 bits
        XCTAssertNil(run([0x0F, 0x01, 0xF0]))
        XCTAssertEqual(cpu.s.pointee.cr0, 0x6000_001F)
        XCTAssertTrue(cpu.protectedMode)
        // LMSW cannot clear PE.
        enterProt32()
        cpu.gpr[0] = 0
        XCTAssertNil(run([0x0F, 0x01, 0xF0]))
        XCTAssertEqual(cpu.s.pointee.cr0 & 0xF, 1)
    }

    func testINVLPGDropsTranslation() throws {
        mem.write(0x20000, size: 4, value: 0x21000 | 3)
        mem.write(0x21000 + 1 * 4, size: 4, value: 0x1000 | 3)      // the code page
        mem.write(0x21000 + 5 * 4, size: 4, value: 0x5000 | 3)
        enterProt32()
        cpu.s.pointee.cr3 = 0x20000
        cpu.gpr[0] = 0x8000_0011
        XCTAssertNil(run([0x0F, 0x22, 0xC0]))
        XCTAssertEqual(try cpu.readLinear(0x5000, size: 1, user: false), mem.read(0x5000, size: 1))
        mem.write(0x21000 + 5 * 4, size: 4, value: 0x6000 | 3)
        mem.write(0x6000, size: 1, value: 0x66)
        mem.write(0x5000, size: 1, value: 0x55)
        XCTAssertEqual(try cpu.readLinear(0x5000, size: 1, user: false), 0x55, "stale TLB entry")
        cpu.gpr[0] = 0x4000
        cpu.sreg[3].base = 0x1000                            // INVLPG uses seg base + ea
        XCTAssertNil(run([0x0F, 0x01, 0x38]))                // invlpg [eax]
        XCTAssertEqual(try cpu.readLinear(0x5000, size: 1, user: false), 0x66)
    }

    // MARK: MSRs

    func wrmsr(_ index: UInt32, _ v: UInt64) -> Fault? {
        cpu.gpr[1] = UInt64(index); cpu.gpr[0] = v & 0xFFFF_FFFF; cpu.gpr[2] = v >> 32
        return run([0x0F, 0x30])
    }

    func rdmsr(_ index: UInt32) -> UInt64? {
        cpu.gpr[1] = UInt64(index)
        if run([0x0F, 0x32]) != nil { return nil }
        return cpu.gpr[2] << 32 | cpu.gpr[0]
    }

    func testMSRs() {
        enterProt32()
        XCTAssertNil(rdmsr(0x1234), "unknown MSR")
        assertFault(faults.first, Fault.GP)
        assertFault(wrmsr(0x1234, 0), Fault.GP)
        // EFER: reserved bits, SCE/NXE writable, LMA preserved.
        assertFault(wrmsr(MSRIndex.EFER, 1 << 12), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.EFER, 0x801 | 0x400))
        XCTAssertEqual(rdmsr(MSRIndex.EFER), 0x801)
        // Canonical checks.
        assertFault(wrmsr(MSRIndex.FS_BASE, 0x0000_8000_0000_0000), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.GS_BASE, 0xFFFF_8000_0000_1000))
        XCTAssertEqual(cpu.sreg[5].base, 0xFFFF_8000_0000_1000)
        assertFault(wrmsr(MSRIndex.LSTAR, 0x1_0000_0000_0000), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.KERNEL_GS_BASE, 0x1234))
        XCTAssertEqual(cpu.s.pointee.kernel_gs_base, 0x1234)
        // PAT: types 2 and 3 are reserved.
        assertFault(wrmsr(MSRIndex.PAT, 0x0007_0406_0007_0402), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.PAT, 0x0007_0106_0007_0406))
        XCTAssertEqual(rdmsr(MSRIndex.PAT), 0x0007_0106_0007_0406)
        // MTRRs.
        XCTAssertEqual(rdmsr(MSRIndex.MTRRCAP), 0x508)
        assertFault(wrmsr(MSRIndex.MTRRCAP, 0), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.MTRR_DEF_TYPE, 0xC06))
        assertFault(wrmsr(MSRIndex.MTRR_DEF_TYPE, 0x1006), Fault.GP)
        XCTAssertNil(wrmsr(0x200, 0x8000_0006))
        assertFault(wrmsr(0x201, 0x123), Fault.GP)
        XCTAssertNil(wrmsr(0x20F, 0xFF_8000_0800))
        assertFault(wrmsr(0x210, 0), Fault.GP)
        XCTAssertNil(wrmsr(0x268, 0x0606_0606_0606_0606))
        XCTAssertEqual(rdmsr(0x268), 0x0606_0606_0606_0606)
        assertFault(wrmsr(0x250, 0x02), Fault.GP)
        // TSC: a write sets the offset.
        XCTAssertNil(wrmsr(MSRIndex.TSC, 1_000_000))
        let t = rdmsr(MSRIndex.TSC)!
        XCTAssertTrue(t >= 1_000_000 && t < 1_000_010, "\(t)")
        // TSC_AUX: upper half reserved.
        assertFault(wrmsr(MSRIndex.TSC_AUX, 1 << 32), Fault.GP)
        XCTAssertNil(wrmsr(MSRIndex.TSC_AUX, 7))
        cpu.gpr[1] = 0
        XCTAssertNil(run([0x0F, 0x01, 0xF9]))                // rdtscp
        XCTAssertEqual(cpu.gpr[1], 7)
        XCTAssertNil(wrmsr(MSRIndex.SYSENTER_CS, 0x10))
        XCTAssertEqual(rdmsr(MSRIndex.SYSENTER_CS), 0x10)
    }

    // MARK: TSC, RDRAND, FSGSBASE, XGETBV

    func testRDTSCAndTSD() {
        enterProt32(cpl: 3)
        XCTAssertNil(run([0x0F, 0x31]))
        cpu.s.pointee.cr4 = 0x4
        assertFault(run([0x0F, 0x31]), Fault.GP)
        assertFault(run([0x0F, 0x01, 0xF9]), Fault.GP)
        enterProt32(cpl: 0)
        cpu.s.pointee.tsc_offset = 0x1_0000_0000
        XCTAssertNil(run([0x0F, 0x31]))
        XCTAssertEqual(cpu.gpr[2], 1)
        assertFault(run([0x0F, 0x33]), Fault.GP)             // rdpmc: no counters
    }

    func testRDRANDSetsCF() {
        enterLong64()
        cpu.s.pointee.rflags = 0x8D5 | 2
        XCTAssertNil(run([0x48, 0x0F, 0xC7, 0xF0]))          // rdrand rax
        XCTAssertEqual(cpu.flags() & FlagBit.status, FlagBit.CF)
        XCTAssertNil(run([0x66, 0x0F, 0xC7, 0xF8]))          // rdseed ax
        XCTAssertEqual(cpu.flags() & FlagBit.status, FlagBit.CF)
        // With a seed (deterministic machines) the values are a reproducible sequence.
        cpu.randomSeed = 42
        XCTAssertNil(run([0x48, 0x0F, 0xC7, 0xF0]))
        let first = cpu.gpr[0]
        XCTAssertNil(run([0x48, 0x0F, 0xC7, 0xF0]))
        XCTAssertNotEqual(cpu.gpr[0], first)
        cpu.randomSeed = 42
        XCTAssertNil(run([0x48, 0x0F, 0xC7, 0xF0]))
        XCTAssertEqual(cpu.gpr[0], first)
        XCTAssertNil(run([0x0F, 0xC7, 0xF8]))               // rdseed eax: 32 bits, zero-extended
        XCTAssertEqual(cpu.gpr[0] >> 32, 0)
    }

    func testFSGSBASEAndSWAPGS() {
        enterLong64()
        cpu.gpr[0] = 0x1234_5678
        assertFault(run([0xF3, 0x48, 0x0F, 0xAE, 0xD0]), Fault.UD)   // wrfsbase rax without CR4.FSGSBASE
        cpu.s.pointee.cr4 |= 0x1_0000
        XCTAssertNil(run([0xF3, 0x48, 0x0F, 0xAE, 0xD0]))
        XCTAssertEqual(cpu.sreg[4].base, 0x1234_5678)
        cpu.gpr[0] = 0x0000_8000_0000_0000
        assertFault(run([0xF3, 0x48, 0x0F, 0xAE, 0xD8]), Fault.GP)   // wrgsbase rax: non-canonical
        cpu.sreg[5].base = 0xFFFF_FFFF_1234_0000
        XCTAssertNil(run([0xF3, 0x0F, 0xAE, 0xCB]))                  // rdgsbase ebx
        XCTAssertEqual(cpu.gpr[3], 0x1234_0000)
        cpu.s.pointee.kernel_gs_base = 0xAAAA
        XCTAssertNil(run([0x0F, 0x01, 0xF8]))                        // swapgs
        XCTAssertEqual(cpu.sreg[5].base, 0xAAAA)
        XCTAssertEqual(cpu.s.pointee.kernel_gs_base, 0xFFFF_FFFF_1234_0000)
        // XGETBV without CR4.OSXSAVE: #UD.
        assertFault(run([0x0F, 0x01, 0xD0]), Fault.UD)
        // SWAPGS outside 64-bit mode: #UD.
        enterProt32()
        assertFault(run([0x0F, 0x01, 0xF8]), Fault.UD)
    }

    func testXSAVEAndXRSTOR() {
        enterLong64()
        // CPUID: XSAVE advertised, leaf 0xD: XCR0 bits x87|SSE|AVX, 576-byte area for XCR0 = 1,
        // 832 bytes with the YMM upper halves (component 2: 256 bytes at 576), XSAVEOPT.
        let l1 = cpu.cpuid.query(leaf: 1, subleaf: 0)
        XCTAssertNotEqual(l1.ecx & (1 << 26), 0)
        let d0 = cpu.cpuid.query(leaf: 0xD, subleaf: 0)
        XCTAssertEqual(d0.eax, 7); XCTAssertEqual(d0.ebx, 576); XCTAssertEqual(d0.ecx, 832)
        XCTAssertEqual(cpu.cpuid.query(leaf: 0xD, subleaf: 0, xcr0: 7).ebx, 832)
        let d2 = cpu.cpuid.query(leaf: 0xD, subleaf: 2)
        XCTAssertEqual(d2.eax, 256); XCTAssertEqual(d2.ebx, 576)
        XCTAssertEqual(cpu.cpuid.query(leaf: 0xD, subleaf: 1).eax & 1, 1)
        // XSAVE before CR4.OSXSAVE: #UD; then enable it and XCR0 = 3.
        cpu.gpr[1] = 0x5000
        assertFault(run([0x0F, 0xAE, 0x21]), Fault.UD)                // xsave [rcx]
        cpu.gpr[0] = cpu.s.pointee.cr4 | 1 << 18 | 1 << 9
        XCTAssertNil(run([0x0F, 0x22, 0xE0]))                        // mov cr4, rax
        XCTAssertNotEqual(cpu.cpuid.query(leaf: 1, subleaf: 0, cr4: cpu.s.pointee.cr4).ecx & (1 << 27), 0)
        cpu.gpr[0] = 3; cpu.gpr[2] = 0; cpu.gpr[1] = 0
        XCTAssertNil(run([0x0F, 0x01, 0xD1]))                        // xsetbv
        cpu.gpr[0] = 4
        assertFault(run([0x0F, 0x01, 0xD1]), Fault.GP)               // AVX without SSE/unsupported
        cpu.gpr[0] = 0; cpu.gpr[1] = 0
        XCTAssertNil(run([0x0F, 0x01, 0xD0]))                        // xgetbv
        XCTAssertEqual(cpu.gpr[0], 3)
        // Save x87+SSE state: XMM3 and FCW show up in the image, XSTATE_BV = 3.
        let x = UnsafeMutableRawPointer(cpu_ymm(cpu.s)!)
        x.storeBytes(of: UInt64(0x1122_3344_5566_7788), toByteOffset: 32 * 3, as: UInt64.self)
        cpu.s.pointee.fcw = 0x27F
        cpu.gpr[0] = 0xFFFF_FFFF; cpu.gpr[2] = 0xFFFF_FFFF; cpu.gpr[1] = 0x5000
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x21]))                  // xsave64 [rcx]
        XCTAssertEqual(mem.read(0x5000, size: 2), 0x27F)
        XCTAssertEqual(mem.read(0x5000 + 160 + 48, size: 8), 0x1122_3344_5566_7788)
        XCTAssertEqual(mem.read(0x5000 + 512, size: 8), 3)
        // Misaligned area: #GP.
        cpu.gpr[1] = 0x5010
        assertFault(run([0x0F, 0xAE, 0x21]), Fault.GP)
        // XRSTOR of the image brings XMM3 back; with XSTATE_BV.SSE = 0 it initialises XMM.
        x.storeBytes(of: UInt64(0), toByteOffset: 32 * 3, as: UInt64.self)
        cpu.s.pointee.fcw = 0x37F
        cpu.gpr[1] = 0x5000
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x29]))                  // xrstor64 [rcx]
        XCTAssertEqual(x.load(fromByteOffset: 32 * 3, as: UInt64.self), 0x1122_3344_5566_7788)
        XCTAssertEqual(cpu.s.pointee.fcw, 0x27F)
        mem.write(0x5000 + 512, size: 8, value: 1)
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x29]))
        XCTAssertEqual(x.load(fromByteOffset: 32 * 3, as: UInt64.self), 0)
        // Compacted form or XSTATE_BV beyond XCR0: #GP.
        mem.write(0x5000 + 520, size: 8, value: 1 << 63)
        assertFault(run([0x48, 0x0F, 0xAE, 0x29]), Fault.GP)
        mem.write(0x5000 + 520, size: 8, value: 0)
        mem.write(0x5000 + 512, size: 8, value: 4)
        assertFault(run([0x48, 0x0F, 0xAE, 0x29]), Fault.GP)
    }

    func testXSAVEComponent2AndAVXEnable() {
        enterLong64()
        let x = UnsafeMutableRawPointer(cpu_ymm(cpu.s)!)
        let vbroadcast: [UInt8] = [0xC4, 0xE2, 0x7D, 0x18, 0x01]    // vbroadcastss ymm0, [rcx]
        mem.write(0x6000, size: 4, value: 0x3F80_0000)
        cpu.gpr[1] = 0x6000
        // CR4.OSXSAVE off: VEX is #UD.
        assertFault(run(vbroadcast), Fault.UD)
        cpu.gpr[0] = cpu.s.pointee.cr4 | 1 << 18 | 1 << 9
        XCTAssertNil(run([0x0F, 0x22, 0xE0]))                        // mov cr4, rax
        // XCR0 without the YMM state: #UD.
        cpu.gpr[1] = 0x6000
        assertFault(run(vbroadcast), Fault.UD)
        cpu.gpr[0] = 7; cpu.gpr[2] = 0; cpu.gpr[1] = 0
        XCTAssertNil(run([0x0F, 0x01, 0xD1]))                        // xsetbv: x87|SSE|AVX
        XCTAssertEqual(cpu.cpuid.query(leaf: 0xD, subleaf: 0, cr4: cpu.s.pointee.cr4, xcr0: cpu.s.pointee.xcr0).ebx, 832)
        cpu.gpr[1] = 0x6000
        XCTAssertNil(run(vbroadcast))
        for k in 0..<8 { XCTAssertEqual(x.load(fromByteOffset: 4 * k, as: UInt32.self), 0x3F80_0000) }
        // A legacy SSE write keeps bits 255:128; a VEX.128 write clears them.
        XCTAssertNil(run([0x0F, 0x57, 0xC0]))                        // xorps xmm0, xmm0
        XCTAssertEqual(x.load(fromByteOffset: 16, as: UInt32.self), 0x3F80_0000)
        XCTAssertNil(run([0xC5, 0xF8, 0x57, 0xC0]))                  // vxorps xmm0, xmm0, xmm0
        XCTAssertEqual(x.load(fromByteOffset: 16, as: UInt64.self), 0)
        // CR0.TS: #NM.
        cpu.s.pointee.cr0 |= 8
        assertFault(run(vbroadcast), Fault.NM)
        cpu.s.pointee.cr0 &= ~8
        // VEX after a 66/F3/F2/REX/LOCK prefix: #UD.
        for p: UInt8 in [0x66, 0xF3, 0xF2, 0x40, 0xF0] { assertFault(run([p] + vbroadcast), Fault.UD) }
        // XSAVE with RFBM = 7 writes YMM upper halves at 576 and XSTATE_BV = 7; XRSTOR brings them
        // back, and with XSTATE_BV.AVX = 0 initialises them.
        x.storeBytes(of: UInt64(0xAABB_CCDD_EEFF_0011), toByteOffset: 32 * 5 + 16, as: UInt64.self)
        cpu.gpr[0] = 7; cpu.gpr[2] = 0; cpu.gpr[1] = 0x7000
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x21]))                  // xsave64 [rcx]
        XCTAssertEqual(mem.read(0x7000 + 576 + 16 * 5, size: 8), 0xAABB_CCDD_EEFF_0011)
        XCTAssertEqual(mem.read(0x7000 + 512, size: 8), 7)
        x.storeBytes(of: UInt64(0), toByteOffset: 32 * 5 + 16, as: UInt64.self)
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x29]))                  // xrstor64 [rcx]
        XCTAssertEqual(x.load(fromByteOffset: 32 * 5 + 16, as: UInt64.self), 0xAABB_CCDD_EEFF_0011)
        mem.write(0x7000 + 512, size: 8, value: 3)
        XCTAssertNil(run([0x48, 0x0F, 0xAE, 0x29]))
        XCTAssertEqual(x.load(fromByteOffset: 32 * 5 + 16, as: UInt64.self), 0)
        // VZEROALL / VZEROUPPER.
        x.storeBytes(of: UInt64(5), toByteOffset: 32 * 7 + 16, as: UInt64.self)
        x.storeBytes(of: UInt64(6), toByteOffset: 32 * 7, as: UInt64.self)
        XCTAssertNil(run([0xC5, 0xF8, 0x77]))                        // vzeroupper
        XCTAssertEqual(x.load(fromByteOffset: 32 * 7 + 16, as: UInt64.self), 0)
        XCTAssertEqual(x.load(fromByteOffset: 32 * 7, as: UInt64.self), 6)
        XCTAssertNil(run([0xC5, 0xFC, 0x77]))                        // vzeroall
        XCTAssertEqual(x.load(fromByteOffset: 32 * 7, as: UInt64.self), 0)
        // A CPU model with AVX but not AVX2: VEX.256 integer forms and register broadcasts #UD.
        cpu.cpuid.set(.avx2, false)
        assertFault(run([0xC5, 0xF5, 0xFE, 0xC2]), Fault.UD)          // vpaddd ymm0, ymm1, ymm2
        XCTAssertNil(run([0xC5, 0xF1, 0xFE, 0xC2]))                  // vpaddd xmm0, xmm1, xmm2
        XCTAssertNil(run([0xC5, 0xF4, 0x58, 0xC2]))                  // vaddps ymm0, ymm1, ymm2
        assertFault(run([0xC4, 0xE2, 0x79, 0x18, 0xC1]), Fault.UD)    // vbroadcastss xmm0, xmm1
        assertFault(run([0xC4, 0xE2, 0x7D, 0x58, 0xC1]), Fault.UD)    // vpbroadcastd (AVX2 only)
        cpu.cpuid.set(.avx2, true)
        XCTAssertNil(run([0xC5, 0xF5, 0xFE, 0xC2]))
    }

    func testCLACSTAC() {
        enterProt32()
        XCTAssertNil(run([0x0F, 0x01, 0xCB]))                // stac
        XCTAssertNotEqual(cpu.flags() & FlagBit.AC, 0)
        XCTAssertNil(run([0x0F, 0x01, 0xCA]))                // clac
        XCTAssertEqual(cpu.flags() & FlagBit.AC, 0)
        // MONITOR is not advertised.
        assertFault(run([0x0F, 0x01, 0xC8]), Fault.UD)
    }

    // MARK: SYSCALL / SYSRET

    func testSyscallSysret64() {
        enterLong64()
        // No SCE: #UD.
        assertFault(run([0x0F, 0x05]), Fault.UD)
        cpu.s.pointee.efer |= 1
        cpu.s.pointee.star = 0x0023_0010_0000_0000            // SYSCALL CS 0x10; SYSRET base 0x20
        cpu.s.pointee.lstar = 0x2000
        cpu.s.pointee.sfmask = 0x200 | 0x100                  // clear IF, TF
        cpu.s.pointee.rflags = 0x202 | FlagBit.CF
        cpu.s.pointee.cc_op = 0
        mem.write(0x2000, size: 4, value: 0x90_07_0F_48)      // rex.w sysret ; nop
        XCTAssertNil(run([0x0F, 0x05]))
        XCTAssertEqual(cpu.rip, 0x2000)
        XCTAssertEqual(cpu.gpr[1], 0x1002)
        XCTAssertEqual(cpu.gpr[11], 0x203)
        XCTAssertEqual(cpu.sreg[1].selector, 0x10)
        XCTAssertEqual(cpu.sreg[2].selector, 0x18)
        XCTAssertEqual(cpu.flags() & 0x200, 0)
        XCTAssertTrue(cpu.code64)
        XCTAssertEqual(cpu.cpl, 0)
        // Now SYSRET to 64-bit user code.
        cpu.gpr[11] = 0x246 | FlagBit.RF | FlagBit.VM
        var d = Instr()
        step(&d)
        XCTAssertTrue(faults.isEmpty)
        XCTAssertEqual(cpu.rip, 0x1002)
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.sreg[1].selector, 0x33)
        XCTAssertEqual(cpu.sreg[2].selector, 0x2B)
        XCTAssertTrue(cpu.code64)
        XCTAssertEqual(cpu.flags(), 0x246)
        // SYSRET at CPL 3: #GP.
        assertFault(run([0x48, 0x0F, 0x07]), Fault.GP)
    }

    func testSysretToCompatibilityModeAndNonCanonical() {
        enterLong64()
        cpu.s.pointee.efer |= 1
        cpu.s.pointee.star = 0x0023_0010_0000_0000
        cpu.gpr[1] = 0x0000_8000_0000_0000
        cpu.gpr[11] = 0x2
        assertFault(run([0x48, 0x0F, 0x07]), Fault.GP)
        XCTAssertEqual(cpu.cpl, 0)
        cpu.gpr[1] = 0xFFFF_FFFF_0000_3000
        XCTAssertNil(run([0x0F, 0x07]))                       // sysret (32-bit)
        XCTAssertEqual(cpu.rip, 0x3000)
        XCTAssertEqual(cpu.sreg[1].selector, 0x23)
        XCTAssertFalse(cpu.code64)
        XCTAssertTrue(cpu.inLongMode)
        XCTAssertEqual(cpu.mode & UInt32(MODE_CS32), UInt32(MODE_CS32))
        // SYSCALL from compatibility mode: #UD on Intel.
        assertFault(run([0x0F, 0x05]), Fault.UD)
    }

    // MARK: SYSENTER / SYSEXIT

    func testSysenterSysexit32() {
        enterProt32(cpl: 3)
        assertFault(run([0x0F, 0x34]), Fault.GP)             // SYSENTER_CS = 0
        cpu.s.pointee.sysenter_cs = 0x10
        cpu.s.pointee.sysenter_esp = 0x9000
        cpu.s.pointee.sysenter_eip = 0x2000
        cpu.s.pointee.rflags = 0x202
        mem.write(0x2000, size: 2, value: 0x35_0F)           // sysexit
        XCTAssertNil(run([0x0F, 0x34]))
        XCTAssertEqual(cpu.rip, 0x2000)
        XCTAssertEqual(cpu.gpr[4], 0x9000)
        XCTAssertEqual(cpu.cpl, 0)
        XCTAssertEqual(cpu.sreg[1].selector, 0x10)
        XCTAssertEqual(cpu.sreg[2].selector, 0x18)
        XCTAssertEqual(cpu.flags() & 0x200, 0, "IF cleared")
        cpu.gpr[1] = 0x7000; cpu.gpr[2] = 0x1234
        var d = Instr()
        step(&d)
        XCTAssertTrue(faults.isEmpty)
        XCTAssertEqual(cpu.rip, 0x1234)
        XCTAssertEqual(cpu.gpr[4], 0x7000)
        XCTAssertEqual(cpu.cpl, 3)
        XCTAssertEqual(cpu.sreg[1].selector, 0x23)
        XCTAssertEqual(cpu.sreg[2].selector, 0x2B)
        XCTAssertEqual(cpu.mode & UInt32(MODE_CS32 | MODE_SS32), UInt32(MODE_CS32 | MODE_SS32))
        // SYSEXIT at CPL 3: #GP.
        assertFault(run([0x0F, 0x35]), Fault.GP)
        // SYSENTER in real mode: #GP.
        cpu.s.pointee.cr0 &= ~1
        cpu.s.pointee.cpl = 0
        enterReal()
        assertFault(run([0x0F, 0x34]), Fault.GP)
    }

    func testSysenterSysexit64() {
        enterLong64(cpl: 3)
        cpu.s.pointee.sysenter_cs = 0x10
        cpu.s.pointee.sysenter_esp = 0xFFFF_8000_0000_9000
        cpu.s.pointee.sysenter_eip = 0x2000
        mem.write(0x2000, size: 4, value: 0x35_0F_48)        // rex.w sysexit
        XCTAssertNil(run([0x0F, 0x34]))
        XCTAssertTrue(cpu.code64)
        XCTAssertEqual(cpu.gpr[4], 0xFFFF_8000_0000_9000)
        cpu.gpr[1] = 0x7000; cpu.gpr[2] = 0x1_0000_1234
        var d = Instr()
        step(&d)
        XCTAssertTrue(faults.isEmpty)
        XCTAssertEqual(cpu.rip, 0x1_0000_1234)
        XCTAssertEqual(cpu.sreg[1].selector, 0x33)
        XCTAssertEqual(cpu.sreg[2].selector, 0x3B)
        XCTAssertTrue(cpu.code64)
        XCTAssertEqual(cpu.cpl, 3)
    }
}
