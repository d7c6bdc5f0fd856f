import CPU

/// The ACPI power-management I/O block of the PIIX4 (function 01.3 on the i440FX PC), as the
/// ACPI FADT describes it: PM1a event block, PM1a control block, PM timer; plus the GPE0 block
/// and the APM control port (0xB2) that switches ACPI mode on.
///
/// Ports (offsets in the 64-byte block at PMBASE — 0x600 for direct boot, wherever the
/// firmware programs PCI config 0x40 otherwise):
/// - 0x00 PM1_STS (16, write 1 to clear): TMR_STS 0, PWRBTN_STS 8, WAK_STS 15
/// - 0x02 PM1_EN (16): TMR_EN 0, PWRBTN_EN 8
/// - 0x04 PM1_CNT (16): SCI_EN 0, SLP_TYP 10-12, SLP_EN 13 (write-only: enters the sleep type;
///   SLP_TYP 0 is soft-off (S5) on the PIIX4, the value our DSDT's and SeaBIOS's `_S5` give)
/// - 0x08 PM_TMR (32, read-only): 3.579545 MHz free-running counter (32-bit, FADT TMR_VAL_EXT)
/// `gpe0` (4 ports, GPE0_STS/GPE0_EN bytes at 0xAFE0) and `apm` (2 ports at 0xB2: APMC, APMS)
/// are separate faces. Writing 0xF1 to APMC sets SCI_EN (ACPI_ENABLE), 0xF0 clears it.
/// The SCI (ISA IRQ 9, level) is high while an enabled status bit is set.
public final class PIIX4PM: IODevice {
    public enum Reg { public static let pm1Status = 0, pm1Enable = 2, pm1Control = 4, pmTimer = 8 }
    public enum PM1 {
        public static let timerStatus: UInt16 = 1 << 0, powerButtonStatus: UInt16 = 1 << 8, wakeStatus: UInt16 = 1 << 15
        public static let sciEnable: UInt16 = 1 << 0, sleepTypeShift: UInt16 = 10, sleepEnable: UInt16 = 1 << 13
    }
    public static let ioSize = 64
    public static let timerHz: UInt64 = 3_579_545
    public static let acpiEnable: UInt8 = 0xF1, acpiDisable: UInt8 = 0xF0
    /// SLP_TYP value that means soft-off (S5).
    public static let softOffType: UInt16 = 0

    public struct State: Sendable, Equatable {
        public var status: UInt16 = 0
        public var enable: UInt16 = 0
        public var control: UInt16 = 0
        public var gpeStatus: UInt16 = 0
        public var gpeEnable: UInt16 = 0
        public var apmControl: UInt8 = 0
        public var apmStatus: UInt8 = 0
        public init() {}
    }
    public private(set) var state = State()
    let clock: Clock
    /// The guest asked for soft-off (S5).
    public var onPowerOff: (() -> Void)?
    /// The guest asked for another sleep state (S1-S4): its SLP_TYP. Ignored when nil.
    public var onSleep: ((UInt16) -> Void)?
    /// The SCI line (ISA IRQ 9, level-triggered).
    public var sci: ((Bool) -> Void)?
    /// Accesses to offsets that hold no register (counted; reads give all-ones).
    public private(set) var unknownAccesses: UInt64 = 0

    public init(clock: Clock) { self.clock = clock }

    public func reset() {
        state = State()
        updateSCI()
    }

    /// Host side: the power button was pressed (e.g. on a host shutdown request).
    public func pressPowerButton() {
        state.status |= PM1.powerButtonStatus
        updateSCI()
    }

    /// The 24/32-bit PM timer value now.
    public var timer: UInt32 {
        let ns = clock.now
        let ticks = ns.multipliedFullWidth(by: PIIX4PM.timerHz)
        return UInt32(truncatingIfNeeded: UInt64(1_000_000_000).dividingFullWidth(ticks).quotient)
    }

    func updateSCI() {
        let pending = (state.status & state.enable & (PM1.timerStatus | PM1.powerButtonStatus)) != 0
            || (state.gpeStatus & state.gpeEnable) != 0
        sci?(pending && state.control & PM1.sciEnable != 0)
    }

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        let v: UInt64
        switch Int(offset) {
        case Reg.pm1Status: v = UInt64(state.status)
        case Reg.pm1Status + 1: v = UInt64(state.status >> 8)
        case Reg.pm1Enable: v = UInt64(state.enable)
        case Reg.pm1Enable + 1: v = UInt64(state.enable >> 8)
        case Reg.pm1Control: v = UInt64(state.control & ~PM1.sleepEnable)
        case Reg.pm1Control + 1: v = UInt64((state.control & ~PM1.sleepEnable) >> 8)
        case Reg.pmTimer...(Reg.pmTimer + 3): v = UInt64(timer) >> (8 * (offset - UInt64(Reg.pmTimer)))
        default:
            unknownAccesses &+= 1
            return size >= 8 ? ~0 : (1 << (8 * UInt64(size))) - 1
        }
        return size >= 8 ? v : v & ((1 << (8 * UInt64(size))) - 1)
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        // Split wide accesses into the 16-bit registers they cover.
        if size == 4 && (offset == 0 || offset == 4) {
            ioWrite(offset: offset, size: 2, value: value & 0xFFFF)
            ioWrite(offset: offset + 2, size: 2, value: value >> 16)
            return
        }
        let b16 = UInt16(truncatingIfNeeded: value)
        func merge(_ old: UInt16, high: Bool) -> UInt16 {
            if size >= 2 { return b16 }
            return high ? (old & 0x00FF) | (b16 & 0xFF) << 8 : (old & 0xFF00) | (b16 & 0xFF)
        }
        switch Int(offset) {
        case Reg.pm1Status, Reg.pm1Status + 1:
            let mask = size >= 2 ? b16 : (offset & 1 == 1 ? (b16 & 0xFF) << 8 : b16 & 0xFF)
            state.status &= ~mask
        case Reg.pm1Enable, Reg.pm1Enable + 1:
            state.enable = merge(state.enable, high: offset & 1 == 1) & (PM1.timerStatus | PM1.powerButtonStatus | 1 << 5 | 1 << 10)
        case Reg.pm1Control, Reg.pm1Control + 1:
            let v = merge(state.control, high: offset & 1 == 1)
            state.control = v & ~PM1.sleepEnable
            if v & PM1.sleepEnable != 0 {
                let type = (v >> PM1.sleepTypeShift) & 7
                if type == PIIX4PM.softOffType { onPowerOff?() } else { onSleep?(type) }
            }
        default:
            unknownAccesses &+= 1
            return
        }
        updateSCI()
    }

    /// GPE0 block: status bytes 0-1 (write 1 to clear), enable bytes 2-3. No sources yet.
    public private(set) lazy var gpe0: IODevice = GPEPorts(pm: self)
    final class GPEPorts: IODevice {
        unowned let pm: PIIX4PM
        init(pm: PIIX4PM) { self.pm = pm }
        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<min(max(size, 1), 4) {
                let o = Int(offset) + i
                let b: UInt16 = o < 2 ? pm.state.gpeStatus >> (8 * UInt16(o)) : (o < 4 ? pm.state.gpeEnable >> (8 * UInt16(o - 2)) : 0xFF)
                v |= UInt64(b & 0xFF) << (8 * UInt64(i))
            }
            return v
        }
        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            for i in 0..<min(max(size, 1), 4) {
                let o = Int(offset) + i
                let b = UInt16((value >> (8 * UInt64(i))) & 0xFF)
                if o < 2 { pm.state.gpeStatus &= ~(b << (8 * UInt16(o))) }
                else if o < 4 {
                    let sh = 8 * UInt16(o - 2)
                    pm.state.gpeEnable = (pm.state.gpeEnable & ~(0xFF << sh)) | b << sh
                }
            }
            pm.updateSCI()
        }
    }

    /// APM control/status ports (0xB2/0xB3): ACPI enable/disable commands.
    public private(set) lazy var apm: IODevice = APMPorts(pm: self)
    final class APMPorts: IODevice {
        unowned let pm: PIIX4PM
        init(pm: PIIX4PM) { self.pm = pm }
        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            UInt64(offset == 0 ? pm.state.apmControl : pm.state.apmStatus)
        }
        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            let v = UInt8(truncatingIfNeeded: value)
            if offset == 1 { pm.state.apmStatus = v; return }
            pm.state.apmControl = v
            if v == PIIX4PM.acpiEnable { pm.state.control |= PM1.sciEnable }
            if v == PIIX4PM.acpiDisable { pm.state.control &= ~PM1.sciEnable }
            pm.updateSCI()
        }
    }
}
