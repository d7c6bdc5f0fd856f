import XCTest
import CPU
import Devices

final class UART16550Tests: XCTestCase {
    // Register offsets.
    let RBR: UInt64 = 0, THR: UInt64 = 0, DLL: UInt64 = 0, IER: UInt64 = 1, DLM: UInt64 = 1
    let IIR: UInt64 = 2, FCR: UInt64 = 2, LCR: UInt64 = 3, MCR: UInt64 = 4, LSR: UInt64 = 5
    let MSR: UInt64 = 6, SCR: UInt64 = 7

    var out: [UInt8] = []
    var levels: [Bool] = []
    var line: Bool { levels.last ?? false }

    func make() -> UART16550 {
        let u = UART16550(output: { [unowned self] in self.out.append($0) })
        u.irq = { [unowned self] in self.levels.append($0) }
        return u
    }
    func rd(_ u: UART16550, _ r: UInt64) -> UInt8 { UInt8(u.ioRead(offset: r, size: 1)) }
    func wr(_ u: UART16550, _ r: UInt64, _ v: UInt8) { u.ioWrite(offset: r, size: 1, value: UInt64(v)) }
    /// IIR bits 0-3 (reading IIR may clear THRE).
    func iid(_ u: UART16550) -> UInt8 { rd(u, IIR) & 0x0F }

    // MARK: Reset and plain registers

    func testResetValues() {
        let u = make()
        wr(u, LCR, 0x83); wr(u, DLL, 1); wr(u, LCR, 0x03)
        wr(u, IER, 0x0F); wr(u, FCR, 0xC7); wr(u, MCR, 0x1F); wr(u, SCR, 0x55)
        u.receive(1)
        u.reset()
        XCTAssertEqual(u.state, UART16550.State())
        XCTAssertEqual(rd(u, IER), 0)
        XCTAssertEqual(rd(u, IIR), 0x01)
        XCTAssertEqual(rd(u, LCR), 0)
        XCTAssertEqual(rd(u, MCR), 0)
        XCTAssertEqual(rd(u, LSR), 0x60)
        XCTAssertEqual(rd(u, MSR), 0xB0, "CTS, DSR, DCD asserted outside loopback")
        XCTAssertEqual(rd(u, SCR), 0)
        XCTAssertFalse(line)
        XCTAssertTrue(u.canReceive)
    }

    func testPlainRegistersReadBack() {
        let u = make()
        wr(u, SCR, 0xA5)
        XCTAssertEqual(rd(u, SCR), 0xA5)
        wr(u, LCR, 0x5B)
        XCTAssertEqual(rd(u, LCR), 0x5B)
        wr(u, MCR, 0xFF)
        XCTAssertEqual(rd(u, MCR), 0x1F, "MCR bits 5-7 read 0")
        wr(u, MCR, 0)
        wr(u, IER, 0xFF)
        XCTAssertEqual(rd(u, IER), 0x0F, "IER bits 4-7 read 0")
        wr(u, LSR, 0xFF); wr(u, MSR, 0xFF)          // ignored
        XCTAssertEqual(rd(u, LSR), 0x60)
        XCTAssertEqual(rd(u, MSR) & 0xF0, 0xB0)
        XCTAssertTrue(out.isEmpty)
    }

    func testAccessSizesActOnTheLowByte() {
        let u = make()
        u.ioWrite(offset: SCR, size: 4, value: 0xDEAD_BE42)
        XCTAssertEqual(u.ioRead(offset: SCR, size: 4), 0x42)
        XCTAssertEqual(u.ioRead(offset: SCR, size: 2), 0x42)
        u.ioWrite(offset: THR, size: 2, value: 0x1241)
        XCTAssertEqual(out, [0x41])
        u.receive(0x99)
        XCTAssertEqual(u.ioRead(offset: RBR, size: 8), 0x99)
        XCTAssertEqual(u.ioRead(offset: RBR, size: 1), 0, "empty RBR reads 0")
        XCTAssertEqual(u.ioRead(offset: LSR, size: 4), 0x60)
    }

    // MARK: Divisor latch

    func testDivisorLatch() {
        let u = make()
        wr(u, IER, 0x05)
        wr(u, LCR, 0x83)                             // DLAB, 8N1
        wr(u, DLL, 0x01); wr(u, DLM, 0x02)
        XCTAssertEqual(u.state.divisor, 0x0201)
        XCTAssertEqual(rd(u, DLL), 0x01)
        XCTAssertEqual(rd(u, DLM), 0x02)
        XCTAssertTrue(out.isEmpty, "a DLL write is not a transmission")
        XCTAssertEqual(u.state.ier, 0x05, "a DLM write leaves IER alone")
        u.receive(0x77)
        XCTAssertEqual(rd(u, DLL), 0x01, "a DLL read does not pop the receiver")
        XCTAssertEqual(rd(u, LSR) & 1, 1)
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x04, "IIR is reachable with DLAB set")
        wr(u, LCR, 0x03)
        XCTAssertEqual(rd(u, IER), 0x05)
        XCTAssertEqual(rd(u, RBR), 0x77)
        wr(u, THR, 0x31)
        XCTAssertEqual(out, [0x31])
        XCTAssertEqual(u.state.divisor, 0x0201, "the latch keeps its value with DLAB clear")
        wr(u, LCR, 0x80)
        XCTAssertEqual(rd(u, DLL), 0x01)
        XCTAssertEqual(rd(u, DLM), 0x02)
    }

    // MARK: IIR priority

    func testIIRLineStatusOnOverrun() {
        let u = make()
        wr(u, IER, 0x04)
        u.receive(1); u.receive(2)                   // 16450 mode: second byte overruns
        XCTAssertEqual(rd(u, IIR), 0x06)
        XCTAssertEqual(rd(u, LSR) & 0x03, 0x03)
        XCTAssertEqual(rd(u, IIR), 0x01, "reading LSR clears the line-status interrupt")
    }

    func testIIRDataAvailable() {
        let u = make()
        wr(u, IER, 0x01)
        XCTAssertEqual(rd(u, IIR), 0x01)
        u.receive(0x42)
        XCTAssertEqual(rd(u, IIR), 0x04)
        XCTAssertEqual(rd(u, IIR), 0x04, "reading IIR does not clear data available")
        XCTAssertEqual(rd(u, RBR), 0x42)
        XCTAssertEqual(rd(u, IIR), 0x01)
    }

    func testIIRCharacterTimeout() {
        let u = make()
        wr(u, FCR, 0xC1)                             // FIFO, trigger 14
        wr(u, IER, 0x01)
        u.receive(0x10)
        XCTAssertEqual(rd(u, IIR), 0xCC, "data below the trigger level: timeout, FIFO bits set")
        XCTAssertEqual(rd(u, RBR), 0x10)
        XCTAssertEqual(rd(u, IIR), 0xC1)
    }

    func testIIRTHREmpty() {
        let u = make()
        wr(u, IER, 0x02)
        XCTAssertEqual(rd(u, IIR), 0x02)
        XCTAssertEqual(rd(u, IIR), 0x01, "reading IIR cleared THRE")
    }

    func testIIRModemStatus() {
        let u = make()
        wr(u, IER, 0x08)
        XCTAssertEqual(rd(u, IIR), 0x01)
        wr(u, MCR, 0x10 | 0x02)                      // loop + RTS: CTS stays, DSR and DCD drop
        XCTAssertEqual(rd(u, IIR), 0x00)
        XCTAssertEqual(rd(u, IIR), 0x00, "reading IIR does not clear modem status")
        XCTAssertEqual(rd(u, MSR), 0x10 | 0x02 | 0x08)
        XCTAssertEqual(rd(u, IIR), 0x01, "reading MSR clears it")
    }

    func testIIRPriorityOrder() {
        let u = make()
        wr(u, FCR, 0x01)                             // FIFO, trigger 1
        wr(u, IER, 0x0F)
        wr(u, MCR, 0x10)                             // loop: modem delta bits set
        for b in 0..<17 { wr(u, THR, UInt8(b)) }     // 16 in the FIFO, the 17th overruns
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x06, "line status first")
        _ = rd(u, LSR)
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x04, "then data available")
        for _ in 0..<16 { _ = rd(u, RBR) }
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x02, "then THRE (cleared by this read)")
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x00, "then modem status")
        _ = rd(u, MSR)
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x01)
    }

    func testTimeoutOutranksTHREAndLosesToLineStatus() {
        let u = make()
        wr(u, FCR, 0x81)                             // trigger 8
        wr(u, IER, 0x07)
        u.receive(1)
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x0C, "timeout before THRE")
        XCTAssertEqual(u.state.thrInterruptPending, true, "THRE not cleared while not reported")
        for b in 2...17 { u.receive(UInt8(b)) }
        XCTAssertEqual(rd(u, IIR) & 0x0F, 0x06)
    }

    // MARK: FIFO

    func testFIFOTriggerLevels() {
        for (fcr, level) in [(UInt8(0x01), 1), (0x41, 4), (0x81, 8), (0xC1, 14)] {
            let u = make()
            wr(u, FCR, fcr)
            wr(u, IER, 0x01)
            for i in 0..<(level - 1) {
                u.receive(UInt8(i))
                XCTAssertEqual(rd(u, IIR), 0xCC, "level \(level), \(i + 1) bytes: timeout")
            }
            u.receive(0xEE)
            XCTAssertEqual(rd(u, IIR), 0xC4, "level \(level) reached")
            u.receive(0xEF)
            XCTAssertEqual(rd(u, IIR), 0xC4)
            _ = rd(u, RBR); _ = rd(u, RBR)
            XCTAssertEqual(rd(u, IIR), level == 1 ? 0xC1 : 0xCC, "below the level again")
        }
    }

    func testFIFOOrderAndOverrun() {
        let u = make()
        wr(u, FCR, 0x01)
        for b in 1...16 { XCTAssertTrue(u.canReceive); u.receive(UInt8(b)) }
        XCTAssertFalse(u.canReceive)
        XCTAssertEqual(rd(u, LSR), 0x61, "full but no overrun yet")
        u.receive(0xAA)                              // lost
        XCTAssertEqual(rd(u, LSR), 0x63)
        XCTAssertEqual(rd(u, LSR), 0x61, "OE cleared by reading LSR")
        var got: [UInt8] = []
        while rd(u, LSR) & 1 != 0 { got.append(rd(u, RBR)) }
        XCTAssertEqual(got, Array(1...16), "the FIFO keeps its bytes, the overrunning one is lost")
        XCTAssertEqual(rd(u, LSR), 0x60)
    }

    func testOverrunWithoutELSIRaisesNoLineStatus() {
        let u = make()
        wr(u, IER, 0x01)
        u.receive(1); u.receive(2)
        XCTAssertEqual(rd(u, IIR), 0x04)
        XCTAssertEqual(rd(u, LSR) & 0x02, 0x02)
    }

    func test16450ModeHoldingRegister() {
        let u = make()
        XCTAssertEqual(rd(u, IIR) & 0xC0, 0, "FIFO bits clear")
        wr(u, IER, 0x01)
        u.receive(1)
        XCTAssertFalse(u.canReceive)
        XCTAssertEqual(rd(u, IIR), 0x04, "no timeout in 16450 mode")
        u.receive(2)
        XCTAssertEqual(rd(u, LSR), 0x63)
        XCTAssertEqual(rd(u, RBR), 2, "the overrunning byte overwrites the holding register")
        XCTAssertEqual(rd(u, LSR), 0x60)
        XCTAssertTrue(u.canReceive)
    }

    func testFIFOClear() {
        let u = make()
        wr(u, FCR, 0x01)
        for b in 1...5 { u.receive(UInt8(b)) }
        wr(u, FCR, 0x05)                             // clear TX only
        XCTAssertEqual(u.state.rx.count, 5)
        wr(u, FCR, 0x03)                             // clear RX
        XCTAssertEqual(rd(u, LSR) & 1, 0)
        XCTAssertEqual(rd(u, IIR) & 0xC0, 0xC0, "FIFOs stay enabled")
        u.receive(7)
        XCTAssertEqual(rd(u, RBR), 7)

        // Changing the FIFO mode clears the receiver.
        u.receive(8)
        wr(u, FCR, 0x00)
        XCTAssertEqual(rd(u, LSR) & 1, 0)
        XCTAssertEqual(rd(u, IIR) & 0xC0, 0)
        u.receive(9)
        wr(u, FCR, 0x02)                             // FCR0 = 0: the clear bit is not taken
        XCTAssertEqual(rd(u, RBR), 9)
        u.receive(10)
        wr(u, FCR, 0xC1)
        XCTAssertEqual(rd(u, LSR) & 1, 0)
        XCTAssertEqual(u.state.fcr, 0xC1)
        wr(u, FCR, 0x80)                             // disabling drops the trigger bits too
        XCTAssertEqual(u.state.fcr, 0)
    }

    func testCanReceive() {
        let u = make()
        XCTAssertTrue(u.canReceive)
        u.receive(1)
        XCTAssertFalse(u.canReceive, "16450: one byte")
        _ = rd(u, RBR)
        wr(u, FCR, 0x01)
        for _ in 0..<15 { u.receive(0) }
        XCTAssertTrue(u.canReceive)
        u.receive(0)
        XCTAssertFalse(u.canReceive)
        _ = rd(u, RBR)
        XCTAssertTrue(u.canReceive)
        wr(u, FCR, 0x03)
        wr(u, MCR, 0x10)
        XCTAssertFalse(u.canReceive, "loopback: the line is disconnected")
        wr(u, MCR, 0x00)
        XCTAssertTrue(u.canReceive)
    }

    // MARK: Loopback and modem status

    func testLoopback() {
        let u = make()
        wr(u, FCR, 0x01)
        wr(u, MCR, 0x10)
        for b: UInt8 in [0x5A, 0xA5, 0x00] { wr(u, THR, b) }
        XCTAssertTrue(out.isEmpty, "nothing leaves in loopback")
        u.receive(0x33)                              // SIN disconnected: dropped
        XCTAssertEqual([rd(u, RBR), rd(u, RBR), rd(u, RBR)], [0x5A, 0xA5, 0x00])
        XCTAssertEqual(rd(u, LSR) & 1, 0)
        wr(u, MCR, 0x00)
        wr(u, THR, 0x41)
        XCTAssertEqual(out, [0x41])
        XCTAssertEqual(rd(u, LSR) & 1, 0)
    }

    func testLoopbackModemLines() {
        let u = make()
        let cases: [(UInt8, UInt8)] = [(0x01, 0x20), (0x02, 0x10), (0x04, 0x40), (0x08, 0x80),
                                       (0x0F, 0xF0), (0x00, 0x00)]
        for (mcr, msr) in cases {
            wr(u, MCR, 0x10 | mcr)
            XCTAssertEqual(rd(u, MSR) & 0xF0, msr, "MCR \(mcr)")
        }
        wr(u, MCR, 0x00)
        XCTAssertEqual(rd(u, MSR) & 0xF0, 0xB0, "leaving loopback restores the idle inputs")
    }

    func testModemStatusDeltas() {
        let u = make()
        wr(u, MCR, 0x10 | 0x0F)                      // all inputs high: RI rises
        XCTAssertEqual(rd(u, MSR), 0xF0 | 0x00, "CTS/DSR/DCD unchanged, RI leading edge: no TERI")
        wr(u, MCR, 0x10 | 0x0B)                      // RI falls
        XCTAssertEqual(rd(u, MSR), 0xB0 | 0x04, "TERI on RI's trailing edge")
        XCTAssertEqual(rd(u, MSR), 0xB0, "deltas cleared by reading")
        wr(u, MCR, 0x10 | 0x00)
        XCTAssertEqual(rd(u, MSR), 0x00 | 0x0B, "DCTS, DDSR, DDCD")
        wr(u, MCR, 0x10 | 0x02)
        wr(u, MCR, 0x10 | 0x00)                      // CTS up and down again: DCTS latched
        XCTAssertEqual(rd(u, MSR), 0x01)
    }

    func testLinuxAutoconfigSequence() {
        let u = make()
        // IER probe.
        wr(u, IER, 0)
        XCTAssertEqual(rd(u, IER) & 0x0F, 0)
        wr(u, IER, 0x0F)
        XCTAssertEqual(rd(u, IER) & 0x0F, 0x0F)
        wr(u, IER, 0)
        // Loopback check: MCR = LOOP | OUT2 | RTS -> MSR inputs CTS | DCD.
        wr(u, MCR, 0x1A)
        XCTAssertEqual(rd(u, MSR) & 0xF0, 0x90)
        wr(u, MCR, 0x00)
        // FIFO type: 16550A reports both FIFO bits, no 64-byte FIFO (bit 5).
        wr(u, FCR, 0x01)
        XCTAssertEqual(rd(u, IIR) >> 6, 3)
        wr(u, LCR, 0x80)
        wr(u, FCR, 0x21)
        XCTAssertEqual(rd(u, IIR) >> 5, 6)
        wr(u, LCR, 0x00)
        wr(u, FCR, 0x21)
        XCTAssertEqual(rd(u, IIR) >> 5, 6)
    }

    // MARK: THRE interrupt

    func testTHREOnIEREnableLinuxProbe() {
        let u = make()
        wr(u, MCR, 0x0B)                             // DTR, RTS, OUT2
        // UART_BUG_THRE test: enable, read IIR, disable, enable again: THRE must reassert.
        wr(u, IER, 0x02)
        let iir1 = rd(u, IIR)
        wr(u, IER, 0)
        wr(u, IER, 0x02)
        let iir2 = rd(u, IIR)
        wr(u, IER, 0)
        XCTAssertEqual(iir1 & 0x0F, 0x02)
        XCTAssertEqual(iir2 & 0x0F, 0x02)
        // UART_BUG_TXEN test: with IER = THRI, LSR.TEMT and IIR reporting an interrupt.
        wr(u, IER, 0x02)
        XCTAssertEqual(rd(u, LSR) & 0x40, 0x40)
        XCTAssertEqual(rd(u, IIR) & 0x01, 0)
        wr(u, IER, 0)
        XCTAssertFalse(line)
    }

    func testTHREInterruptRules() {
        let u = make()
        wr(u, MCR, 0x08)
        wr(u, IER, 0x02)
        XCTAssertTrue(line, "ETBEI 0 -> 1 with THR empty")
        wr(u, IER, 0x02)
        XCTAssertTrue(line, "rewriting ETBEI = 1 keeps it")
        XCTAssertEqual(iid(u), 0x02)
        XCTAssertFalse(line, "reading IIR cleared it")
        wr(u, IER, 0x03)
        XCTAssertFalse(line, "ETBEI stays 1: no new THRE")
        levels.removeAll()
        wr(u, THR, 0x41)
        XCTAssertEqual(out, [0x41])
        XCTAssertEqual(levels.last, true, "THR empty again after the transmission")
        levels.removeAll()
        wr(u, THR, 0x42)
        XCTAssertEqual(levels, [false, true], "writing THR drops the line, the transmission raises it")
        wr(u, IER, 0x01)
        XCTAssertFalse(line, "clearing ETBEI masks THRE")
        XCTAssertEqual(iid(u), 0x01)
        wr(u, IER, 0x00)
        wr(u, THR, 0x43)
        XCTAssertEqual(iid(u), 0x01, "no THRE with ETBEI clear")
    }

    func testIIRReadClearsTHREOnlyWhenReported() {
        let u = make()
        wr(u, IER, 0x03)
        u.receive(1)
        XCTAssertEqual(iid(u), 0x04)
        XCTAssertEqual(iid(u), 0x04)
        _ = rd(u, RBR)
        XCTAssertEqual(iid(u), 0x02, "THRE survived the reads that reported data")
        XCTAssertEqual(iid(u), 0x01)
    }

    // MARK: OUT2 gate

    func testOUT2GatesTheInterruptLine() {
        let u = make()
        wr(u, IER, 0x01)
        u.receive(1)
        XCTAssertEqual(iid(u), 0x04)
        XCTAssertFalse(line, "pending but OUT2 clear")
        wr(u, MCR, 0x08)
        XCTAssertTrue(line)
        wr(u, MCR, 0x03)
        XCTAssertFalse(line)
        wr(u, MCR, 0x0B)
        XCTAssertTrue(line)
        _ = rd(u, RBR)
        XCTAssertFalse(line)
        XCTAssertEqual(u.interruptLine, false)
    }

    func testLoopbackInterruptsVisibleInIIRButNotOnTheLine() {
        let u = make()
        wr(u, IER, 0x01)
        wr(u, MCR, 0x18)                             // loop + OUT2
        wr(u, THR, 0x55)
        XCTAssertEqual(iid(u), 0x04)
        XCTAssertFalse(line, "the OUT2 pin is inactive in loopback")
        wr(u, MCR, 0x08)
        XCTAssertTrue(line)
    }

    // MARK: State

    func testStateSaveRestoreRoundTrip() {
        let u = make()
        wr(u, LCR, 0x80); wr(u, DLL, 0x03); wr(u, DLM, 0x00); wr(u, LCR, 0x1B)
        wr(u, FCR, 0x89)
        wr(u, IER, 0x0D)
        wr(u, SCR, 0x99)
        wr(u, MCR, 0x10 | 0x0D)
        for b: UInt8 in [1, 2, 3] { wr(u, THR, b) }
        wr(u, MCR, 0x0B)
        let saved = u.state

        var restoredLevels: [Bool] = []
        let v = UART16550(output: { _ in })
        v.irq = { restoredLevels.append($0) }
        v.state = saved
        XCTAssertEqual(v.state, saved)
        XCTAssertEqual(restoredLevels.last, true, "restoring updates the line")
        for r in [IER, LCR, MCR, SCR] { XCTAssertEqual(rd(v, r), rd(u, r)) }
        XCTAssertEqual(rd(v, IIR), rd(u, IIR))
        XCTAssertEqual(rd(v, MSR), rd(u, MSR))
        XCTAssertEqual(rd(v, LSR), rd(u, LSR))
        for _ in 0..<3 { XCTAssertEqual(rd(v, RBR), rd(u, RBR)) }
        XCTAssertEqual(v.state, u.state)
        wr(v, LCR, 0x9B); wr(u, LCR, 0x9B)
        XCTAssertEqual(rd(v, DLL), 3)
        XCTAssertEqual(v.state, u.state)
    }

    func testRestoringGarbageStateIsClipped() {
        let u = make()
        var g = UART16550.State()
        g.ier = 0xFF; g.fcr = 0xFE; g.mcr = 0xFF; g.msr = 0x0F
        g.rx = Array(repeating: 7, count: 1000)
        u.state = g
        XCTAssertEqual(u.state.ier, 0x0F)
        XCTAssertEqual(u.state.fcr, 0, "FIFO enable clear: nothing else kept")
        XCTAssertEqual(u.state.mcr, 0x1F)
        XCTAssertEqual(u.state.rx.count, 1)
        XCTAssertEqual(u.state.msr, 0xFF, "inputs follow MCR in loopback, deltas kept")
        g.fcr = 0xFF
        u.state = g
        XCTAssertEqual(u.state.fcr, 0xC9)
        XCTAssertEqual(u.state.rx.count, 16)
        XCTAssertFalse(line, "loopback keeps the line low")
    }

    // MARK: Robustness

    struct SplitMix: RandomNumberGenerator {
        var x: UInt64
        mutating func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func testRandomHammeringNeverCrashes() {
        let u = make()
        var rng = SplitMix(x: 0x16550A)
        var saved = u.state
        for i in 0..<200_000 {
            let off = UInt64.random(in: 0..<16, using: &rng) | (Bool.random(using: &rng) ? 0 : UInt64.random(in: 0...UInt64.max, using: &rng) & ~7)
            let size = [0, 1, 2, 4, 8, -1, 3].randomElement(using: &rng)!
            if Bool.random(using: &rng) {
                let v = u.ioRead(offset: off, size: size)
                XCTAssertLessThanOrEqual(v, 0xFF)
            } else {
                u.ioWrite(offset: off, size: size, value: UInt64.random(in: 0...UInt64.max, using: &rng))
            }
            switch Int.random(in: 0..<16, using: &rng) {
            case 0, 1, 2: u.receive(UInt8.random(in: 0...255, using: &rng))
            case 3: if u.canReceive { u.receive(0x20) }
            case 4: saved = u.state
            case 5: if Int.random(in: 0..<8, using: &rng) == 0 { u.state = saved }
            case 6: if Int.random(in: 0..<100, using: &rng) == 0 { u.reset() }
            case 7:
                if Int.random(in: 0..<50, using: &rng) == 0 {
                    var g = UART16550.State()
                    g.divisor = UInt16.random(in: 0...0xFFFF, using: &rng)
                    g.ier = UInt8.random(in: 0...255, using: &rng); g.fcr = UInt8.random(in: 0...255, using: &rng)
                    g.lcr = UInt8.random(in: 0...255, using: &rng); g.mcr = UInt8.random(in: 0...255, using: &rng)
                    g.msr = UInt8.random(in: 0...255, using: &rng); g.scr = UInt8.random(in: 0...255, using: &rng)
                    g.rx = (0..<Int.random(in: 0...40, using: &rng)).map { UInt8(truncatingIfNeeded: $0) }
                    g.overrun = Bool.random(using: &rng); g.thrInterruptPending = Bool.random(using: &rng)
                    u.state = g
                }
            default: break
            }
            XCTAssertLessThanOrEqual(u.state.rx.count, UART16550.fifoSize)
            XCTAssertEqual(u.state.ier & 0xF0, 0)
            if i % 64 == 0 {
                let iir = rd(u, IIR)
                XCTAssertTrue([0x01, 0x00, 0x02, 0x04, 0x06, 0x0C].contains(iir & 0x0F), "IIR \(iir)")
                XCTAssertEqual(iir & 0x30, 0)
                XCTAssertEqual(rd(u, LSR) & 0x9C, 0, "PE/FE/BI/FIFO error never set")
            }
        }
    }

    func testOutputCallbackMayReenterTheDevice() {
        var u: UART16550!
        u = UART16550(output: { b in u.receive(b); _ = u.ioRead(offset: 2, size: 1) })
        u.irq = { _ in _ = u.state }
        u.ioWrite(offset: 2, size: 1, value: 0x01)
        u.ioWrite(offset: 1, size: 1, value: 0x0F)
        u.ioWrite(offset: 4, size: 1, value: 0x08)
        for b: UInt8 in 1...20 { u.ioWrite(offset: 0, size: 1, value: UInt64(b)) }
        XCTAssertEqual(u.state.rx, Array(1...16))
        XCTAssertTrue(u.state.overrun)
    }
}
