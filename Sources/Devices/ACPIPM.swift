import CPU

/// The ACPI power-management I/O block of the PIIX4 (PCI function 01.3 of QEMU's `pc` machine,
/// Intel 82371AB datasheet §7.2 "Power Management I/O Registers", ACPI 6.4 §4.8 fixed hardware),
/// plus the GPE0 block QEMU adds at 0xAFE0 and the APM command/status ports 0xB2/0xB3.
///
/// Three faces, each registered by the machine:
/// - the device itself: the 64-port block at PMBASE (PCI config 0x40 of 01.3, enabled by bit 0 of
///   0x80; `PCIHost.onPMIOChange` reports moves — QEMU and SeaBIOS with fw_cfg tables use 0x600):
///   - 0x00 PM1_STS (16): TMR_STS 0, BM_STS 4, GBL_STS 5, PWRBTN_STS 8, RTC_STS 10, WAK_STS 15;
///     write 1 to clear
///   - 0x02 PM1_EN (16): TMR_EN 0, GBL_EN 5, PWRBTN_EN 8, RTC_EN 10
///   - 0x04 PM1_CNT (16): SCI_EN 0, BM_RLD 1, GBL_RLS 2 (write-only), SLP_TYP 10-12,
///     SLP_EN 13 (write-only: enters the state SLP_TYP names)
///   - 0x08 PM_TMR (32, read-only): free-running 3.579545 MHz counter, 24 bits (bits 24-31 read 0)
///     or 32 bits (`extendedTimer`, the FADT's TMR_VAL_EXT). TMR_STS is set each time the top
///     bit toggles; with TMR_EN it raises the SCI (the "carry" interrupt).
///   - everything else in the 64 bytes (the PIIX4's GPSTS, PCNTRL, GLBCTL, … which only matter
///     to SMM firmware) is unimplemented: reads give all-ones, writes are dropped, both counted.
/// - `gpe0` (4 ports at 0xAFE0, the FADT's GPE0_BLK): GPE0_STS bytes 0-1 (write 1 to clear),
///   GPE0_EN bytes 2-3. The machine raises sources with `raiseGPE(_:)` (none are wired yet).
/// - `apm` (2 ports at 0xB2): APMC (the FADT's SMI_CMD) and APMS (scratch). With no SMM, the
///   ACPI enable/disable handshake is done here directly, as QEMU's `apm_ctrl_changed` does:
///   writing ACPI_ENABLE (0xF1) sets SCI_EN, ACPI_DISABLE (0xF0) clears it.
///
/// Sleep types are the PIIX4's SUS_TYP encodings (datasheet PMCNTRL bits 12:10): 0 = soft off
/// (S5), 1 = suspend to RAM (S3), 2-4 = power-on-suspend variants, 5 = working. QEMU's DSDT uses
/// `\_S5 = {0, 0, 0, 0}` and so does ours. SLP_EN with type 0 calls `onPowerOff`; any other type
/// calls `onSleep(type)` if set and is otherwise ignored (our DSDT declares no S1-S4 package, so
/// an OS never asks for them; the machine calls `wake()` if it ever implements a resume).
///
/// The SCI (`sci`, ISA IRQ 9, level, active high) is high while SCI_EN is set and any enabled
/// PM1 or GPE0 status bit is set. With SCI_EN clear the events would be SMIs, which we do not
/// model: they stay pending in the status registers.
public final class ACPIPM: IODevice {
    // MARK: Datasheet constants

    /// Register offsets in the PM block.
    public enum Reg {
        public static let pm1Status = 0x00, pm1Enable = 0x02, pm1Control = 0x04, pmTimer = 0x08
    }
    /// Lengths the FADT advertises (PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN, GPE0_BLK_LEN).
    public enum Length {
        public static let pm1Event = 4, pm1Control = 2, pmTimer = 4, gpe0 = 4
    }
    /// PM1_STS bits (ACPI table 4.16).
    public enum PM1Status {
        public static let timer: UInt16 = 1 << 0, busMaster: UInt16 = 1 << 4, global: UInt16 = 1 << 5
        public static let powerButton: UInt16 = 1 << 8, rtc: UInt16 = 1 << 10, wake: UInt16 = 1 << 15
    }
    /// PM1_EN bits (ACPI table 4.17); the same positions as their status bits.
    public enum PM1Enable {
        public static let timer: UInt16 = 1 << 0, global: UInt16 = 1 << 5
        public static let powerButton: UInt16 = 1 << 8, rtc: UInt16 = 1 << 10
        public static let writable: UInt16 = timer | global | powerButton | rtc
    }
    /// PM1_CNT bits (ACPI table 4.18).
    public enum PM1Control {
        public static let sciEnable: UInt16 = 1 << 0, busMasterReload: UInt16 = 1 << 1
        public static let globalRelease: UInt16 = 1 << 2
        public static let sleepTypeShift: UInt16 = 10, sleepTypeMask: UInt16 = 7 << 10
        public static let sleepEnable: UInt16 = 1 << 13
        /// Bits that read back what was written.
        public static let stored: UInt16 = sciEnable | busMasterReload | sleepTypeMask
    }
    /// PIIX4 SUS_TYP values.
    public enum SleepType {
        public static let softOff: UInt8 = 0, suspendToRAM: UInt8 = 1, working: UInt8 = 5
    }
    /// APM ports (offsets in the `apm` face) and the FADT's ACPI_ENABLE / ACPI_DISABLE values.
    public enum APM {
        public static let control = 0, status = 1, size = 2
        public static let acpiEnable: UInt8 = 0xF1, acpiDisable: UInt8 = 0xF0
    }
    /// Size of the PM I/O block (PIIX4 PMBA decodes 64 bytes).
    public static let ioSize = 64
    /// PM timer rate: 14.31818 MHz / 4.
    public static let timerHz: UInt64 = 3_579_545
    static let nsPerSecond: UInt64 = 1_000_000_000

    // MARK: State

    public struct State: Sendable, Equatable {
        public var pm1Status: UInt16 = 0
        public var pm1Enable: UInt16 = 0
        /// SCI_EN, BM_RLD and SLP_TYP as last written (SLP_EN and GBL_RLS are never stored).
        public var pm1Control: UInt16 = 0
        public var gpe0Status: UInt16 = 0
        public var gpe0Enable: UInt16 = 0
        public var apmControl: UInt8 = 0
        public var apmStatus: UInt8 = 0
        /// Top-bit toggles of the PM timer already reflected in TMR_STS.
        public var timerToggles: UInt64 = 0
        public init() {}
    }
    public private(set) var state = State()

    let clock: Clock
    /// PM_TMR is 32 bits wide (FADT flag TMR_VAL_EXT); otherwise 24.
    public let extendedTimer: Bool
    /// The guest entered soft-off (SLP_TYP 0 with SLP_EN).
    public var onPowerOff: (() -> Void)?
    /// The guest entered another sleep type (its SUS_TYP value). Ignored when nil.
    public var onSleep: ((UInt8) -> Void)?
    /// The SCI line (ISA IRQ 9, level, active high); called when the level changes.
    public var sci: ((Bool) -> Void)?
    /// Accesses that hit no register or used an unsupported size (reads gave all-ones).
    public private(set) var unknownAccesses: UInt64 = 0

    private var sciLevel = false
    private var timerEvent: Clock.Handle?

    /// The GPE0 block (4 ports, the FADT's GPE0_BLK).
    public private(set) lazy var gpe0: IODevice = GPE0Ports(pm: self)
    /// The APM control/status ports (2 ports at 0xB2, the FADT's SMI_CMD).
    public private(set) lazy var apm: IODevice = APMPorts(pm: self)

    public init(clock: Clock, extendedTimer: Bool = true) {
        self.clock = clock
        self.extendedTimer = extendedTimer
        state.timerToggles = toggles(at: clock.now)
    }

    /// Power-on state: everything clear (ACPI mode off until the OS writes ACPI_ENABLE). The
    /// timer keeps running (it follows the machine clock).
    public func reset() {
        state = State()
        state.timerToggles = toggles(at: clock.now)
        update()
    }

    /// Restores a saved state and re-arms the timer interrupt.
    public func restore(_ s: State) {
        state = s
        update(resendSCI: true)
    }

    // MARK: Host events

    /// The power button was pressed (e.g. the host asked for a clean shutdown).
    public func pressPowerButton() {
        state.pm1Status |= PM1Status.powerButton
        update()
    }

    /// Sets GPE0 status bit `bit` (0-15); out-of-range bits are ignored.
    public func raiseGPE(_ bit: Int) {
        guard (0..<16).contains(bit) else { return }
        state.gpe0Status |= 1 << UInt16(bit)
        update()
    }

    /// The machine resumed from a sleep state: WAK_STS.
    public func wake() {
        state.pm1Status |= PM1Status.wake
        update()
    }

    // MARK: PM timer

    var timerBits: UInt64 { extendedTimer ? 32 : 24 }

    /// Timer ticks since the clock's zero: ns × 3579545 / 10⁹ (128-bit intermediate).
    static func ticks(at ns: UInt64) -> UInt64 {
        let p = ns.multipliedFullWidth(by: timerHz)
        return nsPerSecond.dividingFullWidth(p).quotient
    }

    /// PM_TMR now (24 or 32 bits).
    public var timerValue: UInt32 {
        let t = ACPIPM.ticks(at: clock.now)
        return UInt32(truncatingIfNeeded: extendedTimer ? t : t & 0xFF_FFFF)
    }

    /// How often the timer's top bit has toggled by time `ns`.
    func toggles(at ns: UInt64) -> UInt64 { ACPIPM.ticks(at: ns) >> (timerBits - 1) }

    /// The first instant at which the toggle count reaches `n` (nil if beyond the clock's range).
    func time(ofToggle n: UInt64) -> UInt64? {
        guard n <= UInt64.max >> (timerBits - 1) else { return nil }
        let ticks = n << (timerBits - 1)
        // ceil(ticks × 10⁹ / Hz)
        let p = ticks.multipliedFullWidth(by: ACPIPM.nsPerSecond)
        guard p.high < ACPIPM.timerHz else { return nil }
        let (q, r) = ACPIPM.timerHz.dividingFullWidth(p)
        return r == 0 ? q : (q == .max ? nil : q + 1)
    }

    /// Folds timer top-bit toggles into TMR_STS.
    func syncTimer() {
        let n = toggles(at: clock.now)
        if n > state.timerToggles {
            state.timerToggles = n
            state.pm1Status |= PM1Status.timer
        }
    }

    // MARK: SCI

    /// Recomputes TMR_STS, the SCI level (sent when it changes, or always with `resendSCI`) and
    /// the timer event.
    func update(resendSCI: Bool = false) {
        syncTimer()
        let pm1 = state.pm1Status & state.pm1Enable & PM1Enable.writable
        let gpe = state.gpe0Status & state.gpe0Enable
        let level = state.pm1Control & PM1Control.sciEnable != 0 && (pm1 != 0 || gpe != 0)
        if level != sciLevel || resendSCI {
            sciLevel = level
            sci?(level)
        }
        armTimer()
    }

    /// An event at the next top-bit toggle while TMR_EN is set and TMR_STS clear.
    func armTimer() {
        let wanted = state.pm1Enable & PM1Enable.timer != 0 && state.pm1Status & PM1Status.timer == 0
            ? time(ofToggle: state.timerToggles + 1) : nil
        if let h = timerEvent {
            if let at = wanted, clock.deadline(of: h) == at { return }
            clock.cancel(h)
            timerEvent = nil
        }
        guard let at = wanted else { return }
        timerEvent = clock.schedule(at: at) { [weak self] _ in
            guard let self else { return }
            self.timerEvent = nil
            self.update()
        }
    }

    // MARK: Port I/O

    static func ones(_ size: Int) -> UInt64 { size >= 8 || size <= 0 ? ~0 : (1 << (8 * UInt64(size))) - 1 }

    static func validAccess(_ offset: UInt64, _ size: Int, _ limit: Int) -> Bool {
        (size == 1 || size == 2 || size == 4) && offset < UInt64(limit) && offset + UInt64(size) <= UInt64(limit)
    }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        guard ACPIPM.validAccess(offset, size, ACPIPM.ioSize) else {
            unknownAccesses &+= 1
            return ACPIPM.ones(size)
        }
        syncTimer()
        let tmr = UInt64(timerValue)
        var v: UInt64 = 0, known = true
        for i in 0..<size {
            let o = Int(offset) + i
            let b: UInt64
            switch o {
            case Reg.pm1Status, Reg.pm1Status + 1: b = UInt64(state.pm1Status) >> (8 * UInt64(o - Reg.pm1Status))
            case Reg.pm1Enable, Reg.pm1Enable + 1: b = UInt64(state.pm1Enable) >> (8 * UInt64(o - Reg.pm1Enable))
            case Reg.pm1Control, Reg.pm1Control + 1:
                b = UInt64(state.pm1Control & PM1Control.stored) >> (8 * UInt64(o - Reg.pm1Control))
            case Reg.pmTimer..<(Reg.pmTimer + Length.pmTimer): b = tmr >> (8 * UInt64(o - Reg.pmTimer))
            default:
                b = 0xFF
                known = false
            }
            v |= (b & 0xFF) << (8 * UInt64(i))
        }
        if !known { unknownAccesses &+= 1 }
        return v
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        guard ACPIPM.validAccess(offset, size, ACPIPM.ioSize) else {
            unknownAccesses &+= 1
            return
        }
        syncTimer()
        var known = true
        var sleepType: UInt8?
        for i in 0..<size {
            let o = Int(offset) + i
            let b = UInt16(truncatingIfNeeded: value >> (8 * UInt64(i))) & 0xFF
            switch o {
            case Reg.pm1Status, Reg.pm1Status + 1:
                state.pm1Status &= ~(b << (8 * UInt16(o - Reg.pm1Status)))
            case Reg.pm1Enable, Reg.pm1Enable + 1:
                let sh = 8 * UInt16(o - Reg.pm1Enable)
                state.pm1Enable = (state.pm1Enable & ~(0xFF << sh)) | (b << sh & PM1Enable.writable)
            case Reg.pm1Control, Reg.pm1Control + 1:
                let sh = 8 * UInt16(o - Reg.pm1Control)
                let v = b << sh
                state.pm1Control = (state.pm1Control & ~(0xFF << sh)) | (v & PM1Control.stored)
                if v & PM1Control.sleepEnable != 0 {
                    sleepType = UInt8((v & PM1Control.sleepTypeMask) >> PM1Control.sleepTypeShift)
                }
            case Reg.pmTimer..<(Reg.pmTimer + Length.pmTimer):
                break                                   // read-only
            default:
                known = false
            }
        }
        if !known { unknownAccesses &+= 1 }
        update()
        if let t = sleepType {
            if t == SleepType.softOff { onPowerOff?() } else { onSleep?(t) }
        }
    }

    // MARK: GPE0 block

    final class GPE0Ports: IODevice {
        unowned let pm: ACPIPM
        init(pm: ACPIPM) { self.pm = pm }
        static let half = Length.gpe0 / 2

        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            guard ACPIPM.validAccess(offset, size, Length.gpe0) else {
                pm.unknownAccesses &+= 1
                return ACPIPM.ones(size)
            }
            var v: UInt64 = 0
            for i in 0..<size {
                let o = Int(offset) + i
                let reg = o < GPE0Ports.half ? pm.state.gpe0Status : pm.state.gpe0Enable
                v |= UInt64((reg >> (8 * UInt16(o % GPE0Ports.half))) & 0xFF) << (8 * UInt64(i))
            }
            return v
        }

        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            guard ACPIPM.validAccess(offset, size, Length.gpe0) else {
                pm.unknownAccesses &+= 1
                return
            }
            for i in 0..<size {
                let o = Int(offset) + i
                let b = UInt16(truncatingIfNeeded: value >> (8 * UInt64(i))) & 0xFF
                let sh = 8 * UInt16(o % GPE0Ports.half)
                if o < GPE0Ports.half {
                    pm.state.gpe0Status &= ~(b << sh)
                } else {
                    pm.state.gpe0Enable = (pm.state.gpe0Enable & ~(0xFF << sh)) | b << sh
                }
            }
            pm.update()
        }
    }

    // MARK: APM ports

    final class APMPorts: IODevice {
        unowned let pm: ACPIPM
        init(pm: ACPIPM) { self.pm = pm }

        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            guard size == 1, offset < UInt64(APM.size) else {
                pm.unknownAccesses &+= 1
                return ACPIPM.ones(size)
            }
            return UInt64(Int(offset) == APM.control ? pm.state.apmControl : pm.state.apmStatus)
        }

        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            guard size == 1, offset < UInt64(APM.size) else {
                pm.unknownAccesses &+= 1
                return
            }
            let v = UInt8(truncatingIfNeeded: value)
            if Int(offset) == APM.status {
                pm.state.apmStatus = v
                return
            }
            pm.state.apmControl = v
            switch v {
            case APM.acpiEnable: pm.state.pm1Control |= PM1Control.sciEnable
            case APM.acpiDisable: pm.state.pm1Control &= ~PM1Control.sciEnable
            default: break                              // would be an SMI: no SMM here
            }
            pm.update()
        }
    }
}
