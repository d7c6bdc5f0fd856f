import XCTest
import CPU
@testable import Devices

final class LAPICTests: XCTestCase {
    typealias R = LAPIC.Reg

    var outputs: [Bool] = []
    var nmis = 0
    var levelEOIs: [UInt8] = []
    var picAcks = 0

    /// A deterministic clock (time moves only through `advance`) and an APIC wired to counters.
    func make(id: UInt8 = 0, bsp: Bool = true) -> (LAPIC, Clock) {
        let clock = Clock()
        let a = LAPIC(clock: clock, id: id, isBSP: bsp)
        outputs = []; nmis = 0; levelEOIs = []; picAcks = 0
        a.output = { [unowned self] in self.outputs.append($0) }
        a.nmi = { [unowned self] in self.nmis += 1 }
        a.onLevelEOI = { [unowned self] in self.levelEOIs.append($0) }
        a.picAcknowledge = { [unowned self] in self.picAcks += 1; return 0x08 }
        return (a, clock)
    }

    func w(_ a: LAPIC, _ off: Int, _ v: UInt32) { a.ioWrite(offset: UInt64(off), size: 4, value: UInt64(v)) }
    func r(_ a: LAPIC, _ off: Int) -> UInt32 { UInt32(truncatingIfNeeded: a.ioRead(offset: UInt64(off), size: 4)) }
    func enable(_ a: LAPIC, spurious: UInt32 = 0xFF) { w(a, R.svr, 0x100 | spurious) }
    func fixed(_ a: LAPIC, _ v: UInt8, level: Bool = false) {
        a.deliver(vector: v, deliveryMode: LAPIC.DeliveryMode.fixed, level: true, triggerLevel: level)
    }
    func eoi(_ a: LAPIC) { w(a, R.eoi, 0) }

    // MARK: registers

    func testResetValues() {
        let (a, _) = make(id: 3)
        XCTAssertEqual(r(a, R.id), 0x0300_0000)
        XCTAssertEqual(r(a, R.version), 0x0005_0014)
        for off in [R.tpr, R.apr, R.ppr, R.ldr, R.esr, R.icrLow, R.icrHigh,
                    R.timerInitialCount, R.timerCurrentCount, R.timerDivide] {
            XCTAssertEqual(r(a, off), 0, "offset \(String(off, radix: 16))")
        }
        XCTAssertEqual(r(a, R.dfr), 0xFFFF_FFFF)
        XCTAssertEqual(r(a, R.svr), 0xFF)
        for i in 0..<8 {
            XCTAssertEqual(r(a, R.isr + 0x10 * i), 0)
            XCTAssertEqual(r(a, R.tmr + 0x10 * i), 0)
            XCTAssertEqual(r(a, R.irr + 0x10 * i), 0)
        }
        for off in [R.lvtCMCI, R.lvtTimer, R.lvtThermal, R.lvtPerf, R.lvtLINT1, R.lvtError] {
            XCTAssertEqual(r(a, off), 0x1_0000, "offset \(String(off, radix: 16))")
        }
        XCTAssertEqual(r(a, R.lvtLINT0), 0x700)             // BSP: virtual wire, as QEMU
        XCTAssertEqual(a.apicBase, 0xFEE0_0900)
        XCTAssertTrue(a.isGloballyEnabled)
        XCTAssertFalse(a.isSoftwareEnabled)

        let (ap, _) = make(id: 1, bsp: false)
        XCTAssertEqual(r(ap, R.lvtLINT0), 0x1_0000)
        XCTAssertEqual(ap.apicBase, 0xFEE0_0800)
    }

    func testRegisterWriteMasksAndAccessRules() {
        let (a, _) = make()
        enable(a)
        w(a, R.id, 0xFFFF_FFFF)
        XCTAssertEqual(r(a, R.id), 0xFF00_0000)
        XCTAssertEqual(a.id, 0xFF)
        w(a, R.id, 0)
        w(a, R.ldr, 0xFFFF_FFFF)
        XCTAssertEqual(r(a, R.ldr), 0xFF00_0000)
        w(a, R.dfr, 0)
        XCTAssertEqual(r(a, R.dfr), 0x0FFF_FFFF)
        w(a, R.svr, 0xFFFF_FFFF)
        XCTAssertEqual(r(a, R.svr), 0x3FF)
        w(a, R.version, 0); w(a, R.ppr, 0x1234); w(a, R.apr, 0x1234); w(a, R.timerCurrentCount, 5)
        XCTAssertEqual(r(a, R.version), 0x0005_0014)
        XCTAssertEqual(r(a, R.ppr), 0)
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
        w(a, R.lvtTimer, 0xFFFF_FFFF);   XCTAssertEqual(r(a, R.lvtTimer), 0x0007_00FF)
        w(a, R.lvtThermal, 0xFFFF_FFFF); XCTAssertEqual(r(a, R.lvtThermal), 0x0001_07FF)
        w(a, R.lvtPerf, 0xFFFF_FFFF);    XCTAssertEqual(r(a, R.lvtPerf), 0x0001_07FF)
        w(a, R.lvtCMCI, 0xFFFF_FFFF);    XCTAssertEqual(r(a, R.lvtCMCI), 0x0001_07FF)
        w(a, R.lvtLINT0, 0xFFFF_FFFF);   XCTAssertEqual(r(a, R.lvtLINT0), 0x0001_A7FF)  // no remote IRR
        w(a, R.lvtLINT1, 0xFFFF_FFFF);   XCTAssertEqual(r(a, R.lvtLINT1), 0x0001_A7FF)
        w(a, R.lvtError, 0xFFFF_FFFF);   XCTAssertEqual(r(a, R.lvtError), 0x0001_00FF)
        w(a, R.timerDivide, 0xFFFF_FFFF); XCTAssertEqual(r(a, R.timerDivide), 0xB)
        w(a, R.icrHigh, 0xFFFF_FFFF);    XCTAssertEqual(r(a, R.icrHigh), 0xFF00_0000)
        // Reserved offsets, the write-only EOI, and bad sizes / alignments read 0.
        XCTAssertEqual(r(a, 0x000), 0)
        XCTAssertEqual(r(a, 0x3F0), 0)
        XCTAssertEqual(r(a, R.eoi), 0)
        XCTAssertEqual(r(a, 0xFF0), 0)
        XCTAssertEqual(a.ioRead(offset: UInt64(R.svr), size: 1), 0)
        XCTAssertEqual(a.ioRead(offset: UInt64(R.svr), size: 8), 0)
        XCTAssertEqual(a.ioRead(offset: UInt64(R.dfr + 4), size: 4), 0)
        a.ioWrite(offset: UInt64(R.tpr), size: 1, value: 0x50)
        a.ioWrite(offset: UInt64(R.tpr + 4), size: 4, value: 0x50)
        XCTAssertEqual(r(a, R.tpr), 0)
        XCTAssertGreaterThan(a.badAccesses, 0)
    }

    func testSoftwareDisableMasksLVTs() {
        let (a, _) = make()
        w(a, R.lvtTimer, 0x20)                        // SVR disabled: the mask stays set
        XCTAssertEqual(r(a, R.lvtTimer), 0x1_0020)
        enable(a)
        w(a, R.lvtTimer, 0x20)
        w(a, R.lvtError, 0xFE)
        XCTAssertEqual(r(a, R.lvtTimer), 0x20)
        w(a, R.svr, 0xFF)                             // software disable masks every LVT
        XCTAssertEqual(r(a, R.lvtTimer), 0x1_0020)
        XCTAssertEqual(r(a, R.lvtError), 0x1_00FE)
        XCTAssertEqual(r(a, R.lvtLINT0), 0x1_0700)
        // IRR holds while disabled but nothing is delivered; enabling delivers it.
        fixed(a, 0x40)
        XCTAssertFalse(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0xFF)
        enable(a)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x40)
    }

    // MARK: priorities

    func testTPRAndPPRMasking() {
        let (a, _) = make()
        enable(a)
        fixed(a, 0x51)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(outputs.last, true)
        w(a, R.tpr, 0x50)                              // same class: masked
        XCTAssertFalse(a.interruptRequested)
        XCTAssertEqual(outputs.last, false)
        XCTAssertEqual(r(a, R.ppr), 0x50)
        XCTAssertEqual(a.cr8, 5)
        XCTAssertEqual(a.acknowledge(), 0xFF)          // raised TPR between INTR and INTA: spurious
        XCTAssertEqual(r(a, R.irr + 0x20), 1 << 17)    // 0x51 still requested
        a.cr8 = 4
        XCTAssertEqual(r(a, R.tpr), 0x40)
        XCTAssertTrue(a.interruptRequested)
        a.tpr = 0x2F
        XCTAssertEqual(a.acknowledge(), 0x51)
        // In service 0x51: PPR = ISRV class when above TPR.
        XCTAssertEqual(r(a, R.ppr), 0x50)
        a.tpr = 0x6A
        XCTAssertEqual(r(a, R.ppr), 0x6A)
        // APR: TPR when TPR class >= IRRV class and > ISRV class, else the highest class.
        XCTAssertEqual(r(a, R.apr), 0x6A)
        fixed(a, 0x91)
        XCTAssertEqual(r(a, R.apr), 0x90)
    }

    func testAcknowledgeMovesIRRToISR() {
        let (a, _) = make()
        enable(a)
        fixed(a, 0x40)
        fixed(a, 0x60)
        XCTAssertEqual(r(a, R.irr + 0x20), 1)          // 0x40: register 2, bit 0
        XCTAssertEqual(r(a, R.irr + 0x30), 1)          // 0x60: register 3, bit 0
        XCTAssertEqual(a.acknowledge(), 0x60)
        XCTAssertEqual(r(a, R.irr + 0x30), 0)
        XCTAssertEqual(r(a, R.isr + 0x30), 1)
        XCTAssertFalse(a.interruptRequested)           // 0x40 is below the in-service class
        eoi(a)
        XCTAssertEqual(r(a, R.isr + 0x30), 0)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x40)
        eoi(a)
        XCTAssertTrue(a.state.isr.isEmpty)
        XCTAssertTrue(a.state.irr.isEmpty)
        XCTAssertEqual(outputs.last, false)
        XCTAssertTrue(levelEOIs.isEmpty)               // edge-triggered: no EOI broadcast
    }

    func testNestedEOIOrdering() {
        let (a, _) = make()
        enable(a)
        fixed(a, 0x30)
        XCTAssertEqual(a.acknowledge(), 0x30)
        fixed(a, 0x35)                                 // same class as the one in service
        XCTAssertFalse(a.interruptRequested)
        fixed(a, 0x80)                                 // higher class nests
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x80)
        XCTAssertTrue(a.state.isr.contains(0x30) && a.state.isr.contains(0x80))
        XCTAssertEqual(r(a, R.ppr), 0x80)
        eoi(a)                                         // EOI retires the highest in service
        XCTAssertFalse(a.state.isr.contains(0x80))
        XCTAssertTrue(a.state.isr.contains(0x30))
        XCTAssertFalse(a.interruptRequested)           // 0x35 still blocked by 0x30
        eoi(a)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x35)
        eoi(a)
        eoi(a)                                         // EOI with nothing in service: harmless
        XCTAssertTrue(a.state.isr.isEmpty)
    }

    func testSpuriousVector() {
        let (a, _) = make()
        enable(a, spurious: 0xEF)
        XCTAssertEqual(a.spuriousVector, 0xEF)
        XCTAssertEqual(a.acknowledge(), 0xEF)
        XCTAssertTrue(a.state.isr.isEmpty)
        XCTAssertEqual(picAcks, 0)
    }

    func testIllegalVectorsAndESRWriteThenRead() {
        let (a, _) = make()
        enable(a)
        w(a, R.lvtError, 0xFE)
        fixed(a, 0x05)                                 // received illegal vector
        XCTAssertFalse(a.state.irr.contains(0x05))
        XCTAssertEqual(r(a, R.esr), 0)                 // not visible until ESR is written
        w(a, R.esr, 0)
        XCTAssertEqual(r(a, R.esr), LAPIC.ESR.receiveIllegalVector)
        XCTAssertTrue(a.state.irr.contains(0xFE))      // error LVT signalled
        w(a, R.esr, 0)
        XCTAssertEqual(r(a, R.esr), 0)
        // Sending an illegal fixed vector.
        w(a, R.icrLow, 0x0004_0003)
        w(a, R.esr, 0)
        XCTAssertEqual(r(a, R.esr), LAPIC.ESR.sendIllegalVector)
        // An error LVT with an illegal vector does not recurse.
        w(a, R.lvtError, 0x01)
        fixed(a, 0x02)
        w(a, R.esr, 0)
        XCTAssertEqual(r(a, R.esr), LAPIC.ESR.receiveIllegalVector)
    }

    // MARK: LINT0 / LINT1 / PIC virtual wire

    func testExtINTVirtualWirePassesPICVector() {
        let (a, _) = make()
        a.setPICOutput(true)                           // LINT0 = ExtINT at reset (BSP)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x08)
        XCTAssertEqual(picAcks, 1)
        XCTAssertTrue(a.state.isr.isEmpty && a.state.irr.isEmpty)
        a.setPICOutput(false)
        XCTAssertFalse(a.interruptRequested)
        XCTAssertEqual(outputs.last, false)

        // APIC vectors first, then the PIC.
        enable(a)
        w(a, R.lvtLINT0, 0x700)
        fixed(a, 0x50)
        a.setPICOutput(true)
        XCTAssertEqual(a.acknowledge(), 0x50)
        XCTAssertEqual(a.acknowledge(), 0x08)          // 0x50 in service, PIC still requested
        XCTAssertEqual(picAcks, 2)

        // Masked LINT0: the PIC does not reach the CPU.
        eoi(a)
        w(a, R.lvtLINT0, 0x1_0700)
        XCTAssertFalse(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0xFF)

        // ExtINT message from the IOAPIC: one INTA through the PIC.
        a.deliver(vector: 0, deliveryMode: LAPIC.DeliveryMode.extINT, level: true, triggerLevel: false)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x08)
        XCTAssertEqual(picAcks, 3)
        XCTAssertFalse(a.state.extINTPending)
    }

    func testGlobalDisableMakesLINT0TheINTRPin() {
        let (a, _) = make()
        enable(a)
        w(a, R.tpr, 0x30)
        w(a, R.lvtLINT0, 0x1_0700)
        a.setAPICBase(0xFEE0_0100)                     // enable bit clear
        XCTAssertFalse(a.isGloballyEnabled)
        XCTAssertEqual(a.apicBase, 0xFEE0_0100)
        XCTAssertEqual(r(a, R.version), 0)             // window reads 0 while disabled
        w(a, R.tpr, 0x70)                              // and ignores writes
        fixed(a, 0x60)                                 // messages are dropped
        XCTAssertFalse(a.interruptRequested)
        a.setPICOutput(true)
        XCTAssertTrue(a.interruptRequested)
        XCTAssertEqual(a.acknowledge(), 0x08)
        a.setPICOutput(false)
        XCTAssertFalse(a.interruptRequested)
        a.setLINT(1, true)                             // LINT1 is the NMI pin
        XCTAssertEqual(nmis, 1)
        // Re-enabling gives the power-up state.
        a.apicBase = 0xFEE0_0900
        XCTAssertTrue(a.isGloballyEnabled)
        XCTAssertEqual(r(a, R.tpr), 0)
        XCTAssertEqual(r(a, R.svr), 0xFF)
        XCTAssertEqual(r(a, R.lvtLINT0), 0x700)
        XCTAssertTrue(a.state.irr.isEmpty)
        // Relocation is recorded (x2APIC bit dropped).
        a.setAPICBase(0xFED0_0000 | 0x900 | 0x400)
        XCTAssertEqual(a.apicBase, 0xFED0_0900)
    }

    func testNMIViaLINT1() {
        let (a, _) = make()
        enable(a)
        w(a, R.lvtLINT1, 0x400)                        // NMI, edge
        a.setLINT(1, true)
        XCTAssertEqual(nmis, 1)
        a.setLINT(1, true)                             // still high: no new edge
        XCTAssertEqual(nmis, 1)
        a.setLINT(1, false)
        a.setLINT(1, true)
        XCTAssertEqual(nmis, 2)
        XCTAssertTrue(a.state.irr.isEmpty)
        a.setLINT(1, false)
        w(a, R.lvtLINT1, 0x1_0400)                     // masked
        a.setLINT(1, true)
        XCTAssertEqual(nmis, 2)
        // NMI messages (IOAPIC / IPI) too.
        a.deliver(vector: 0, deliveryMode: LAPIC.DeliveryMode.nmi, level: true, triggerLevel: false)
        XCTAssertEqual(nmis, 3)
        // INIT/SIPI/SMI are counted and dropped; out-of-range LINT pins ignored.
        a.deliver(vector: 0, deliveryMode: LAPIC.DeliveryMode.initialize, level: true, triggerLevel: false)
        a.deliver(vector: 0x10, deliveryMode: LAPIC.DeliveryMode.startup, level: true, triggerLevel: false)
        XCTAssertEqual(a.ignoredINIT, 1)
        XCTAssertEqual(a.ignoredSIPI, 1)
        a.setLINT(2, true)
        a.setLINT(-1, true)
    }

    func testLINT0FixedEdgeAndLevelWithRemoteIRR() {
        let (a, _) = make()
        enable(a)
        w(a, R.lvtLINT0, 0x41)                         // fixed, edge
        a.setLINT(0, true)
        a.setLINT(0, true)
        XCTAssertEqual(a.acknowledge(), 0x41)
        eoi(a)
        XCTAssertFalse(a.interruptRequested)           // one edge, one interrupt
        a.setLINT(0, false)

        w(a, R.lvtLINT0, 0x8042)                       // fixed, level
        a.setLINT(0, true)
        XCTAssertTrue(a.state.tmr.contains(0x42))
        XCTAssertEqual(r(a, R.lvtLINT0) & LAPIC.LVTBits.remoteIRR, LAPIC.LVTBits.remoteIRR)
        XCTAssertEqual(a.acknowledge(), 0x42)
        a.setLINT(0, true)                             // remote IRR set: nothing new
        XCTAssertFalse(a.state.irr.contains(0x42))
        eoi(a)                                         // still asserted: delivered again
        XCTAssertEqual(levelEOIs, [0x42])
        XCTAssertTrue(a.state.irr.contains(0x42))
        XCTAssertEqual(r(a, R.lvtLINT0) & LAPIC.LVTBits.remoteIRR, LAPIC.LVTBits.remoteIRR)
        a.setLINT(0, false)
        XCTAssertEqual(a.acknowledge(), 0x42)
        eoi(a)
        XCTAssertEqual(levelEOIs, [0x42, 0x42])
        XCTAssertFalse(a.interruptRequested)
        XCTAssertEqual(r(a, R.lvtLINT0) & LAPIC.LVTBits.remoteIRR, 0)
        // Masked while asserted, then unmasked: delivered.
        w(a, R.lvtLINT0, 0x1_8043)
        a.setLINT(0, true)
        XCTAssertTrue(a.state.irr.isEmpty)
        w(a, R.lvtLINT0, 0x8043)
        XCTAssertTrue(a.state.irr.contains(0x43))
    }

    func testLevelTriggeredEOICallback() {
        let (a, _) = make()
        enable(a)
        fixed(a, 0x61, level: true)
        XCTAssertEqual(r(a, R.tmr + 0x30), 2)          // 0x61: register 3, bit 1
        XCTAssertEqual(a.acknowledge(), 0x61)
        eoi(a)
        XCTAssertEqual(levelEOIs, [0x61])
        fixed(a, 0x61)                                 // edge acceptance clears TMR
        XCTAssertEqual(r(a, R.tmr + 0x30), 0)
        XCTAssertEqual(a.acknowledge(), 0x61)
        eoi(a)
        XCTAssertEqual(levelEOIs, [0x61])
        // De-assert messages are ignored.
        a.deliver(vector: 0x70, deliveryMode: LAPIC.DeliveryMode.fixed, level: false, triggerLevel: true)
        XCTAssertTrue(a.state.irr.isEmpty)
    }

    // MARK: IPIs

    func testSelfIPI() {
        let (a, _) = make()
        enable(a)
        w(a, R.icrLow, 0x0004_0050)                    // shorthand self, fixed 0x50
        XCTAssertTrue(a.state.irr.contains(0x50))
        XCTAssertEqual(r(a, R.icrLow), 0x0004_0050)    // delivery status idle
        w(a, R.icrHigh, 0)                             // physical destination 0 = own id
        w(a, R.icrLow, 0x0000_0051)
        XCTAssertTrue(a.state.irr.contains(0x51))
        w(a, R.icrLow, 0x0008_0052)                    // all including self
        XCTAssertTrue(a.state.irr.contains(0x52))
        w(a, R.icrLow, 0x000C_0053)                    // all excluding self
        XCTAssertFalse(a.state.irr.contains(0x53))
        w(a, R.icrHigh, 0x0500_0000)                   // another CPU
        w(a, R.icrLow, 0x0000_0054)
        XCTAssertFalse(a.state.irr.contains(0x54))
        XCTAssertGreaterThanOrEqual(a.ignoredIPIs, 3)
        // Logical flat model.
        w(a, R.ldr, 0x0100_0000)
        w(a, R.icrHigh, 0x0300_0000)
        w(a, R.icrLow, 0x0000_0855)
        XCTAssertTrue(a.state.irr.contains(0x55))
        w(a, R.icrHigh, 0x0200_0000)
        w(a, R.icrLow, 0x0000_0856)
        XCTAssertFalse(a.state.irr.contains(0x56))
        // Cluster model: cluster 1, member bit 0.
        w(a, R.dfr, 0x0FFF_FFFF)
        w(a, R.ldr, 0x1100_0000)
        XCTAssertTrue(a.matchesDestination(0x13, logical: true))
        XCTAssertFalse(a.matchesDestination(0x23, logical: true))
        XCTAssertFalse(a.matchesDestination(0x12, logical: true))
        XCTAssertTrue(a.matchesDestination(0xFF, logical: true))
        XCTAssertTrue(a.matchesDestination(0x00, logical: false))
        XCTAssertFalse(a.matchesDestination(0x01, logical: false))
        // Self NMI; INIT to self is dropped.
        w(a, R.icrLow, 0x0004_0400)
        XCTAssertEqual(nmis, 1)
        w(a, R.icrLow, 0x0004_4500)
        XCTAssertEqual(a.ignoredINIT, 1)
    }

    // MARK: timer

    func testTimerOneShot() {
        let (a, clock) = make()
        enable(a)
        w(a, R.timerDivide, 0xB)                       // divide by 1: 1 tick per ns
        w(a, R.lvtTimer, 0x20)
        w(a, R.timerInitialCount, 1000)
        XCTAssertEqual(r(a, R.timerCurrentCount), 1000)
        clock.advance(by: 400)
        XCTAssertEqual(r(a, R.timerCurrentCount), 600)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        XCTAssertEqual(clock.nextDeadline, 1000)
        clock.advance(by: 600)
        clock.runDue()
        XCTAssertTrue(a.state.irr.contains(0x20))
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
        XCTAssertEqual(a.acknowledge(), 0x20)
        eoi(a)
        clock.advance(by: 10_000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)             // one-shot fires once
        XCTAssertNil(clock.nextDeadline)
        // Writing 0 stops a running timer.
        w(a, R.timerInitialCount, 500)
        clock.advance(by: 100)
        w(a, R.timerInitialCount, 0)
        clock.advance(by: 1000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
        // Masked: counts down but sets nothing.
        w(a, R.lvtTimer, 0x1_0020)
        w(a, R.timerInitialCount, 50)
        clock.advance(by: 50)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
    }

    func testTimerPeriodic() {
        let (a, clock) = make()
        enable(a)
        w(a, R.timerDivide, 0)                         // divide by 2
        w(a, R.lvtTimer, 0x2_0030)                     // periodic, vector 0x30
        w(a, R.timerInitialCount, 100)                 // period 200 ns
        clock.advance(by: 150)
        XCTAssertEqual(r(a, R.timerCurrentCount), 25)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        clock.advance(by: 50)
        XCTAssertEqual(clock.runDue(), 1)
        XCTAssertTrue(a.state.irr.contains(0x30))
        XCTAssertEqual(r(a, R.timerCurrentCount), 100)  // reloaded
        XCTAssertEqual(a.acknowledge(), 0x30)
        eoi(a)
        XCTAssertEqual(clock.nextDeadline, 400)
        clock.advance(by: 200)
        clock.runDue()
        XCTAssertTrue(a.state.irr.contains(0x30))
        XCTAssertEqual(a.acknowledge(), 0x30)
        eoi(a)
        // A late run loop: missed periods coalesce into one interrupt, the phase is kept.
        clock.advance(by: 1_050)                        // now 1450
        XCTAssertEqual(clock.runDue(), 1)
        XCTAssertTrue(a.state.irr.contains(0x30))
        XCTAssertEqual(clock.nextDeadline, 1600)
        XCTAssertEqual(r(a, R.timerCurrentCount), 75)
        // Mode change disarms (SDM 10.5.4.1).
        w(a, R.lvtTimer, 0x30)
        XCTAssertEqual(r(a, R.timerInitialCount), 0)
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
        XCTAssertNil(clock.nextDeadline)
    }

    func testTimerDivideConfiguration() {
        let table: [(UInt32, UInt32)] = [(0x0, 2), (0x1, 4), (0x2, 8), (0x3, 16),
                                         (0x8, 32), (0x9, 64), (0xA, 128), (0xB, 1)]
        for (dcr, div) in table {
            let (a, clock) = make()
            enable(a)
            w(a, R.lvtTimer, 0x20)
            w(a, R.timerDivide, dcr)
            w(a, R.timerInitialCount, 1_000_000)
            clock.advance(by: 12_800)
            XCTAssertEqual(r(a, R.timerCurrentCount), 1_000_000 - 12_800 / div, "dcr \(dcr)")
            XCTAssertEqual(clock.nextDeadline, UInt64(1_000_000) * UInt64(div), "dcr \(dcr)")
        }
        // A divide change keeps the count and continues at the new rate.
        let (a, clock) = make()
        enable(a)
        w(a, R.lvtTimer, 0x20)
        w(a, R.timerDivide, 0xB)
        w(a, R.timerInitialCount, 1000)
        clock.advance(by: 300)
        w(a, R.timerDivide, 0x1)                       // divide by 4
        XCTAssertEqual(r(a, R.timerCurrentCount), 700)
        clock.advance(by: 400)
        XCTAssertEqual(r(a, R.timerCurrentCount), 600)
        XCTAssertEqual(clock.nextDeadline, 300 + 700 * 4)
        clock.advance(to: 3099)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        clock.advance(to: 3100)
        clock.runDue()
        XCTAssertTrue(a.state.irr.contains(0x20))
    }

    func testTSCDeadline() {
        let (a, clock) = make()
        a.tscFrequencyHz = 2_000_000_000
        a.tscNow = { [unowned clock] in clock.now * 2 + 100 }
        enable(a)
        a.writeTSCDeadline(5000)                       // not in TSC-deadline mode: ignored
        XCTAssertEqual(a.readTSCDeadline(), 0)
        w(a, R.lvtTimer, 0x4_0030)
        XCTAssertEqual(a.timerMode, LAPIC.TimerMode.tscDeadline)
        w(a, R.timerInitialCount, 100)                 // ignored in this mode
        XCTAssertEqual(r(a, R.timerInitialCount), 0)
        XCTAssertEqual(r(a, R.timerCurrentCount), 0)
        clock.advance(by: 1000)                        // TSC 2100
        a.writeTSCDeadline(4101)                       // 2001 TSC ticks = 1000.5 ns: fires at +1001
        XCTAssertEqual(a.readTSCDeadline(), 4101)
        XCTAssertEqual(clock.nextDeadline, 2001)
        clock.advance(by: 1000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        clock.advance(by: 1)
        clock.runDue()
        XCTAssertTrue(a.state.irr.contains(0x30))
        XCTAssertEqual(a.readTSCDeadline(), 0)         // firing clears the MSR
        XCTAssertEqual(a.acknowledge(), 0x30)
        eoi(a)
        // Writing 0 disarms.
        a.writeTSCDeadline(a.tscNow() + 500)
        a.writeTSCDeadline(0)
        clock.advance(by: 10_000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        // A passed deadline fires at once.
        a.writeTSCDeadline(1)
        XCTAssertTrue(a.state.irr.contains(0x30))
        XCTAssertEqual(a.readTSCDeadline(), 0)
        // Leaving TSC-deadline mode disarms.
        XCTAssertEqual(a.acknowledge(), 0x30)
        eoi(a)
        a.writeTSCDeadline(a.tscNow() + 500)
        w(a, R.lvtTimer, 0x30)
        XCTAssertEqual(a.readTSCDeadline(), 0)
        w(a, R.lvtTimer, 0x4_0030)
        XCTAssertEqual(a.readTSCDeadline(), 0)
        clock.advance(by: 10_000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
        // A huge deadline never overflows.
        a.writeTSCDeadline(.max)
        XCTAssertGreaterThan(clock.nextDeadline ?? .max, 1 << 62)
        clock.advance(by: 1_000_000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
    }

    // MARK: state

    func testStateRestoreRearmsTimer() {
        let (a, clock) = make()
        enable(a)
        w(a, R.timerDivide, 0xB)
        w(a, R.lvtTimer, 0x2_0040)
        w(a, R.timerInitialCount, 300)
        w(a, R.tpr, 0x10)
        clock.advance(by: 100)
        let saved = a.state
        let clockState = clock.state

        let clock2 = Clock()
        clock2.restore(clockState)
        let b = LAPIC(clock: clock2)
        b.restore(saved)
        XCTAssertEqual(b.state, saved)
        XCTAssertEqual(r(b, R.timerCurrentCount), 200)
        XCTAssertEqual(clock2.nextDeadline, 300)
        clock2.advance(by: 200)
        clock2.runDue()
        XCTAssertTrue(b.state.irr.contains(0x40))
        XCTAssertEqual(clock2.nextDeadline, 600)

        a.reset()
        XCTAssertEqual(a.state.tpr, 0)
        XCTAssertEqual(r(a, R.svr), 0xFF)
        XCTAssertEqual(r(a, R.lvtTimer), 0x1_0000)
        clock.advance(by: 1000)
        clock.runDue()
        XCTAssertTrue(a.state.irr.isEmpty)
    }

    func testRandomMMIONeverCrashes() {
        var rng = LAPICTestRNG(seed: 0x1234_5678)
        let (a, clock) = make()
        a.tscNow = { [unowned clock] in clock.now }
        let sizes = [1, 2, 4, 8, 3, 0, -1, 16]
        for i in 0..<200_000 {
            let off = rng.next() % 0x1100
            let aligned = rng.next() % 4 != 0 ? off & ~0xF : off
            let size = rng.next() % 5 != 0 ? 4 : sizes[Int(rng.next() % UInt64(sizes.count))]
            if rng.next() & 1 == 0 {
                a.ioWrite(offset: aligned, size: size, value: rng.next())
            } else {
                _ = a.ioRead(offset: aligned, size: size)
            }
            switch rng.next() % 16 {
            case 0: _ = a.acknowledge()
            case 1: clock.advance(by: rng.next() % 5000); clock.runDue()
            case 2: a.setLINT(Int(rng.next() % 3), rng.next() & 1 == 0)
            case 3: a.deliver(vector: UInt8(truncatingIfNeeded: rng.next()), deliveryMode: UInt8(truncatingIfNeeded: rng.next()),
                              level: rng.next() & 1 == 0, triggerLevel: rng.next() & 1 == 0)
            case 4: a.writeTSCDeadline(rng.next() % 3 == 0 ? rng.next() : clock.now &+ rng.next() % 1000)
            case 5: if i % 1000 == 0 { a.setAPICBase(rng.next()) }
            case 6: a.tpr = UInt8(truncatingIfNeeded: rng.next())
            default: break
            }
        }
        XCTAssertGreaterThan(a.badAccesses, 0)
    }
}

/// SplitMix64: deterministic pseudo-random numbers.
struct LAPICTestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
