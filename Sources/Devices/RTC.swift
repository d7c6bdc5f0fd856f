#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPU

/// Motorola MC146818 real-time clock with 128 bytes of CMOS RAM, as on the PC.
///
/// Ports (the machine registers base 0x70, count 2): offset 0 (0x70) = index, write only;
/// bits 6..0 select a register, bit 7 set disables NMI (`nmiDisabled`, `nmiMaskChanged`);
/// reads give 0xFF. Offset 1 (0x71) = the selected register.
///
/// Registers: 0x00 seconds, 0x01 seconds alarm, 0x02 minutes, 0x03 minutes alarm, 0x04 hours
/// (bit 7 = PM in 12-hour mode), 0x05 hours alarm, 0x06 day of week (1 = Sunday), 0x07 day of
/// month, 0x08 month, 0x09 year (00-99), 0x32 century (PC convention, same format), 0x0A
/// register A (bit 7 UIP read only, bits 6..4 divider: 010 = normal, 11x = divider reset;
/// bits 3..0 periodic rate), 0x0B register B (SET, PIE, AIE, UIE, SQWE, DM binary, 24/12,
/// DSE), 0x0C register C (IRQF, PF, AF, UF; read to clear; reading lowers IRQ8), 0x0D register
/// D (bit 7 VRT, always 1). Everything else is battery-backed RAM.
///
/// Time is kept as Unix seconds (UTC) at the divider-chain origin plus elapsed virtual time;
/// the time registers are computed on read in the format register B selects (BCD or binary,
/// 12 or 24 hour). While SET is 1 or the divider is stopped, the time registers are frozen in
/// RAM and the guest writes them directly; clearing SET parses them back. Writing a time
/// register while the clock runs sets the time immediately, keeping the sub-second phase.
/// Alarm registers with bits 7..6 = 11 are "don't care". UIP reads 1 during the 244 µs before
/// each update. Leaving divider reset starts the first update half a second later. Invalid
/// values written by the guest are interpreted leniently (never trapping).
///
/// CMOS layout filled by the machine (as QEMU's pc_cmos_init, read by SeaBIOS):
/// - 0x10 floppy drive types, 0x14 equipment byte (`setEquipment`)
/// - 0x15/0x16 base memory in KiB (640), little-endian
/// - 0x17/0x18 and 0x30/0x31 extended memory above 1 MiB in KiB (max 65535)
/// - 0x34/0x35 memory above 16 MiB (below 4 GiB) in 64 KiB units (max 65535)
/// - 0x5B/0x5C/0x5D memory above 4 GiB in 64 KiB units (24 bits)
/// - 0x5F number of CPUs minus one
/// - 0x3D boot devices 1 (bits 3..0) and 2 (bits 7..4), 0x38 bits 7..4 boot device 3,
///   0x38 bit 0 = skip the floppy boot-signature check (codes: 1 floppy, 2 hard disk,
///   3 CD-ROM, 4 network)
/// - 0x2E/0x2F checksum (big-endian) of 0x10...0x2D (`updateChecksum`)
/// - 0x32 century (maintained by the clock)
public final class RTC: IODevice {
    public enum Port { public static let index = 0, data = 1 }
    public enum Reg {
        public static let seconds = 0x00, secondsAlarm = 0x01, minutes = 0x02, minutesAlarm = 0x03
        public static let hours = 0x04, hoursAlarm = 0x05, dayOfWeek = 0x06, dayOfMonth = 0x07
        public static let month = 0x08, year = 0x09, a = 0x0A, b = 0x0B, c = 0x0C, d = 0x0D
        public static let century = 0x32
    }
    public enum CMOS {
        public static let shutdownStatus = 0x0F, floppyTypes = 0x10, diskTypes = 0x12, equipment = 0x14
        public static let baseMemLow = 0x15, baseMemHigh = 0x16, extMemLow = 0x17, extMemHigh = 0x18
        public static let checksumHigh = 0x2E, checksumLow = 0x2F
        public static let extMem2Low = 0x30, extMem2High = 0x31
        public static let mem16MLow = 0x34, mem16MHigh = 0x35
        public static let bootOrder3 = 0x38, bootOrder12 = 0x3D
        public static let mem4GLow = 0x5B, mem4GMid = 0x5C, mem4GHigh = 0x5D
        public static let cpuCount = 0x5F
    }
    public enum A { public static let uip: UInt8 = 0x80, dividerMask: UInt8 = 0x70, rateMask: UInt8 = 0x0F, divider32k: UInt8 = 0x20 }
    public enum B {
        public static let set: UInt8 = 0x80, pie: UInt8 = 0x40, aie: UInt8 = 0x20, uie: UInt8 = 0x10
        public static let sqwe: UInt8 = 0x08, binary: UInt8 = 0x04, hour24: UInt8 = 0x02, dse: UInt8 = 0x01
    }
    public enum C { public static let irqf: UInt8 = 0x80, pf: UInt8 = 0x40, af: UInt8 = 0x20, uf: UInt8 = 0x10 }
    public enum D { public static let vrt: UInt8 = 0x80 }

    /// Boot device codes for `setBootOrder`.
    public enum BootDevice: UInt8, Sendable { case none = 0, floppy = 1, hardDisk = 2, cdrom = 3, network = 4 }

    /// Base time used in deterministic mode when none is given: 2024-01-01 00:00:00 UTC.
    public static let deterministicBaseTime: Int64 = 1_704_067_200
    static let nsPerSecond: Int64 = 1_000_000_000
    /// UIP is set this long before each update (8 cycles of the 32.768 kHz time base).
    public static let uipHoldNs: Int64 = 244_141

    public struct State: Sendable, Equatable {
        public var index: UInt8 = 0
        public var nmiDisabled = false
        public var ram = [UInt8](repeating: 0, count: 128)
        /// Unix time (UTC) at `dividerBaseNs`; time = baseSeconds + ⌊(now − dividerBaseNs) / 1 s⌋.
        public var baseSeconds: Int64 = 0
        /// Divider-chain origin on the virtual clock: updates happen at dividerBaseNs + k seconds.
        public var dividerBaseNs: Int64 = 0
        /// Virtual time at which register C was last read (periodic flag computed lazily).
        public var lastCReadNs: Int64 = 0
        public var irqLevel = false
        public init() {}
    }

    public private(set) var state = State()
    public let clock: Clock
    /// IRQ8 (machine: `{ pic.setIRQ(8, $0) }`).
    public var irq: ((Bool) -> Void)?
    /// The guest changed the NMI-disable bit (bit 7 of the index port).
    public var nmiMaskChanged: ((Bool) -> Void)?

    private var periodicTimer = ClockTimer()
    private var updateTimer = ClockTimer()

    /// - Parameter baseTime: Unix seconds at virtual time 0; default: the host's time in
    ///   real-time mode, `deterministicBaseTime` in deterministic mode.
    public init(clock: Clock, baseTime: Int64? = nil) {
        self.clock = clock
        let base = baseTime ?? (clock.isDeterministic ? RTC.deterministicBaseTime : Int64(time(nil)))
        state.ram[Reg.a] = A.divider32k | 0x06          // 32.768 kHz, 1024 Hz rate
        state.ram[Reg.b] = B.hour24                       // 24-hour BCD
        state.ram[Reg.d] = D.vrt
        let now = nowNs
        state.dividerBaseNs = now
        state.lastCReadNs = now
        state.baseSeconds = base
        rearm()
    }

    /// Restores a saved state and re-arms the timers.
    public func restore(_ s: State) {
        guard s.ram.count == 128 else { return }
        state = s
        rearm()
    }

    /// Sets the current date and time (Unix seconds, UTC), keeping the sub-second phase.
    public func setTime(unixSeconds: Int64) {
        if timeRunning {
            state.baseSeconds = unixSeconds - elapsedSeconds(nowNs)
        } else {
            storeTimeRegisters(unixSeconds)
        }
        rearm()
    }

    /// The current date and time as Unix seconds (UTC).
    public var unixTime: Int64 {
        timeRunning ? state.baseSeconds + elapsedSeconds(nowNs) : parseTimeRegisters()
    }

    public var nmiDisabled: Bool { state.nmiDisabled }

    // MARK: CMOS helpers for the machine

    public func cmosByte(_ offset: Int) -> UInt8 { (0..<128).contains(offset) ? state.ram[offset] : 0xFF }

    /// Raw CMOS write (no side effects; not for the clock registers 0x00-0x0D).
    public func setCMOSByte(_ offset: Int, _ value: UInt8) {
        guard (0..<128).contains(offset), offset > Reg.d, offset != Reg.century else { return }
        state.ram[offset] = value
    }

    /// Memory size fields, as QEMU computes them. `belowFourGiB` is all RAM below 4 GiB
    /// (including the first MiB), `aboveFourGiB` the RAM mapped from 4 GiB up.
    public func setMemorySizes(belowFourGiB: UInt64, aboveFourGiB: UInt64) {
        setWord(CMOS.baseMemLow, 640)
        let ext = min(belowFourGiB / 1024 >= 1024 ? belowFourGiB / 1024 - 1024 : 0, 65535)
        setWord(CMOS.extMemLow, UInt16(ext))
        setWord(CMOS.extMem2Low, UInt16(ext))
        let sixteen: UInt64 = 16 << 20
        let above16 = min(belowFourGiB > sixteen ? (belowFourGiB - sixteen) >> 16 : 0, 65535)
        setWord(CMOS.mem16MLow, UInt16(above16))
        let above4 = min(aboveFourGiB >> 16, 0xFF_FFFF)
        state.ram[CMOS.mem4GLow] = UInt8(above4 & 0xFF)
        state.ram[CMOS.mem4GMid] = UInt8(above4 >> 8 & 0xFF)
        state.ram[CMOS.mem4GHigh] = UInt8(above4 >> 16 & 0xFF)
    }

    /// Boot order (up to three devices) and the floppy signature check flag.
    public func setBootOrder(_ devices: [BootDevice], checkFloppySignature: Bool = true) {
        let d = devices + [BootDevice](repeating: .none, count: 3)
        state.ram[CMOS.bootOrder12] = d[1].rawValue << 4 | d[0].rawValue
        state.ram[CMOS.bootOrder3] = d[2].rawValue << 4 | (checkFloppySignature ? 0 : 1)
    }

    public func setCPUCount(_ n: Int) { state.ram[CMOS.cpuCount] = UInt8(clamping: max(n, 1) - 1) }

    /// Equipment byte: floppy drives (0-2), FPU, PS/2 mouse, VGA display.
    public func setEquipment(floppies: Int = 0, fpu: Bool = true, ps2Mouse: Bool = true) {
        let f = UInt8(clamping: min(max(floppies, 0), 2))
        var v: UInt8 = 0
        if f > 0 { v |= 0x01 | (f - 1) << 6 }
        if fpu { v |= 0x02 }
        if ps2Mouse { v |= 0x04 }
        state.ram[CMOS.equipment] = v
    }

    /// Standard checksum of 0x10...0x2D into 0x2E (high) / 0x2F (low).
    public func updateChecksum() {
        var sum: UInt16 = 0
        for i in 0x10...0x2D { sum &+= UInt16(state.ram[i]) }
        state.ram[CMOS.checksumHigh] = UInt8(sum >> 8)
        state.ram[CMOS.checksumLow] = UInt8(sum & 0xFF)
    }

    private func setWord(_ at: Int, _ v: UInt16) {
        state.ram[at] = UInt8(v & 0xFF)
        state.ram[at + 1] = UInt8(v >> 8)
    }

    // MARK: time base

    var nowNs: Int64 { Int64(clamping: clock.now) }
    var regA: UInt8 { state.ram[Reg.a] }
    var regB: UInt8 { state.ram[Reg.b] }
    var dividerRunning: Bool { (regA & A.dividerMask) >> 4 <= 2 }
    /// The time registers count (divider running and SET clear).
    var timeRunning: Bool { dividerRunning && regB & B.set == 0 }

    func elapsedSeconds(_ ns: Int64) -> Int64 {
        let d = ns &- state.dividerBaseNs
        return d >= 0 ? d / Self.nsPerSecond : -((-d + Self.nsPerSecond - 1) / Self.nsPerSecond)
    }

    /// 32.768 kHz divider cycles since the divider origin (0 before it).
    func cycles(_ ns: Int64) -> UInt64 {
        let d = ns &- state.dividerBaseNs
        guard d > 0 else { return 0 }
        let p = UInt64(d).multipliedFullWidth(by: 32768)
        return UInt64(1_000_000_000).dividingFullWidth((p.high, p.low)).quotient
    }

    func nsOfCycle(_ c: UInt64) -> Int64 {
        let p = c.multipliedFullWidth(by: 1_000_000_000)
        guard p.high < 32768 else { return .max }
        let (q, r) = UInt64(32768).dividingFullWidth((p.high, p.low))
        let ns = Int64(clamping: r == 0 ? q : q &+ 1)
        return state.dividerBaseNs.addingReportingOverflow(ns).overflow ? .max : state.dividerBaseNs + ns
    }

    /// Periodic interrupt period in 32.768 kHz cycles, nil when RS = 0 or the divider is off.
    var periodicCycles: UInt64? {
        let rs = regA & A.rateMask
        guard rs != 0, dividerRunning else { return nil }
        return UInt64(1) << UInt64((rs <= 2 ? rs + 7 : rs) - 1)
    }

    // MARK: date arithmetic (proleptic Gregorian, UTC)

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Days since 1970-01-01 of a civil date (any month/day overflow rolls over).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(days z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719468
        let era = floorDiv(z, 146097)
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    // Register encoding in the format register B selects.
    func enc(_ v: Int64) -> UInt8 {
        let v = ((v % 100) + 100) % 100
        return regB & B.binary != 0 ? UInt8(v) : UInt8(v / 10) << 4 | UInt8(v % 10)
    }

    func dec(_ b: UInt8) -> Int64 {
        regB & B.binary != 0 ? Int64(b) : Int64(b >> 4) * 10 + Int64(b & 0xF)
    }

    func encHour(_ h: Int64) -> UInt8 {
        if regB & B.hour24 != 0 { return enc(h) }
        let h12 = h % 12 == 0 ? 12 : h % 12
        return enc(h12) | (h >= 12 ? 0x80 : 0)
    }

    func decHour(_ b: UInt8) -> Int64 {
        if regB & B.hour24 != 0 { return dec(b) }
        return dec(b & 0x7F) % 12 + (b & 0x80 != 0 ? 12 : 0)
    }

    /// Time registers (index → byte) for Unix time `t`.
    func timeRegisters(_ t: Int64) -> [Int: UInt8] {
        let days = Self.floorDiv(t, 86400)
        let secs = t - days * 86400
        let (y, m, d) = Self.civil(days: days)
        let wd = ((days + 4) % 7 + 7) % 7 + 1     // 1970-01-01 was a Thursday; Sunday = 1
        let cy = max(y, 0)
        return [Reg.seconds: enc(secs % 60), Reg.minutes: enc(secs / 60 % 60), Reg.hours: encHour(secs / 3600),
                Reg.dayOfWeek: enc(wd), Reg.dayOfMonth: enc(d), Reg.month: enc(m),
                Reg.year: enc(cy % 100), Reg.century: enc(cy / 100 % 100)]
    }

    static let timeIndices: Set<Int> = [Reg.seconds, Reg.minutes, Reg.hours, Reg.dayOfWeek,
                                         Reg.dayOfMonth, Reg.month, Reg.year, Reg.century]

    /// Unix time from time registers (lenient: out-of-range fields roll over).
    func parse(_ r: [Int: UInt8]) -> Int64 {
        let year = dec(r[Reg.century] ?? 0) * 100 + dec(r[Reg.year] ?? 0)
        let month = min(max(dec(r[Reg.month] ?? 1), 1), 12)
        let day = dec(r[Reg.dayOfMonth] ?? 1)
        let days = Self.days(year: year, month: month, day: day)
        return days * 86400 + decHour(r[Reg.hours] ?? 0) * 3600 + dec(r[Reg.minutes] ?? 0) * 60 + dec(r[Reg.seconds] ?? 0)
    }

    func parseTimeRegisters() -> Int64 {
        var r: [Int: UInt8] = [:]
        for i in Self.timeIndices { r[i] = state.ram[i] }
        return parse(r)
    }

    func storeTimeRegisters(_ t: Int64) {
        for (i, v) in timeRegisters(t) { state.ram[i] = v }
    }

    var currentTime: Int64 { state.baseSeconds + elapsedSeconds(nowNs) }

    // MARK: interrupts

    private func updateIRQ() {
        let c = state.ram[Reg.c]
        if c & regB & (C.pf | C.af | C.uf) != 0 && c & C.irqf == 0 {
            state.ram[Reg.c] = c | C.irqf
        }
        let level = state.ram[Reg.c] & C.irqf != 0
        if level != state.irqLevel {
            state.irqLevel = level
            irq?(level)
        }
    }

    /// Sets PF if a periodic edge happened since register C was last read.
    private func settlePeriodicFlag() {
        guard let p = periodicCycles else { return }
        let a = cycles(state.lastCReadNs), b = cycles(nowNs)
        if b / p > a / p { state.ram[Reg.c] |= C.pf }
    }

    private func rearm() {
        // Periodic interrupt: only when it can raise IRQ8 (PF alone is computed on read).
        if let p = periodicCycles, regB & B.pie != 0 {
            let next = (cycles(nowNs) / p &+ 1) &* p
            let at = nsOfCycle(next)
            periodicTimer.arm(clock, at: UInt64(max(at, 0))) { [weak self] _ in self?.periodicFired() }
        } else {
            periodicTimer.cancel(clock)
        }
        // Update cycle: once per second while the time counts.
        if timeRunning {
            let n = elapsedSeconds(nowNs) + 1
            let (off, o) = n.multipliedReportingOverflow(by: Self.nsPerSecond)
            let at = o ? Int64.max : state.dividerBaseNs.addingReportingOverflow(off).overflow ? Int64.max : state.dividerBaseNs + off
            updateTimer.arm(clock, at: UInt64(max(at, 0))) { [weak self] _ in self?.updateFired() }
        } else {
            updateTimer.cancel(clock)
        }
    }

    private func periodicFired() {
        state.ram[Reg.c] |= C.pf
        updateIRQ()
        rearm()
    }

    private func updateFired() {
        if timeRunning {
            state.ram[Reg.c] |= C.uf
            let r = timeRegisters(currentTime)
            func match(_ alarm: Int, _ reg: Int) -> Bool {
                let a = state.ram[alarm]
                return a & 0xC0 == 0xC0 || a == r[reg]
            }
            if match(Reg.secondsAlarm, Reg.seconds) && match(Reg.minutesAlarm, Reg.minutes)
                && match(Reg.hoursAlarm, Reg.hours) {
                state.ram[Reg.c] |= C.af
            }
            updateIRQ()
        }
        rearm()
    }

    // MARK: register access

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        byteWiseRead(offset: offset, size: size, ports: 2) { port in
            port == Port.index ? 0xFF : readRegister(Int(state.index))
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        byteWiseWrite(offset: offset, size: size, value: value, ports: 2) { port, v in
            if port == Port.index {
                state.index = v & 0x7F
                let nmi = v & 0x80 != 0
                if nmi != state.nmiDisabled {
                    state.nmiDisabled = nmi
                    nmiMaskChanged?(nmi)
                }
            } else {
                writeRegister(Int(state.index), v)
            }
        }
    }

    func readRegister(_ i: Int) -> UInt8 {
        switch i {
        case Reg.a:
            var v = regA & ~A.uip
            if timeRunning {
                let phase = (nowNs &- state.dividerBaseNs) % Self.nsPerSecond
                let p = phase < 0 ? phase + Self.nsPerSecond : phase
                if p >= Self.nsPerSecond - Self.uipHoldNs { v |= A.uip }
            }
            return v
        case Reg.c:
            settlePeriodicFlag()
            let v = state.ram[Reg.c]
            state.ram[Reg.c] = 0
            state.lastCReadNs = nowNs
            updateIRQ()
            return v
        case Reg.d:
            return D.vrt
        case _ where Self.timeIndices.contains(i) && timeRunning:
            return timeRegisters(currentTime)[i] ?? 0
        default:
            return state.ram[i & 0x7F]
        }
    }

    func writeRegister(_ i: Int, _ v: UInt8) {
        switch i {
        case Reg.a:
            settlePeriodicFlag()
            state.lastCReadNs = nowNs   // PF history under the old rate is settled
            let wasRunning = timeRunning, wasDivider = dividerRunning
            if wasRunning { storeTimeRegisters(currentTime) }
            state.ram[Reg.a] = v & ~A.uip
            if !wasDivider && dividerRunning {
                // Leaving divider reset: the first update comes half a second later.
                state.dividerBaseNs = nowNs &- Self.nsPerSecond / 2
            }
            if timeRunning { state.baseSeconds = parseTimeRegisters() - elapsedSeconds(nowNs) }
            rearm()
        case Reg.b:
            var nv = v
            if nv & B.set != 0 { nv &= ~B.uie }      // datasheet: SET clears UIE
            let wasRunning = timeRunning
            if wasRunning { let t = currentTime; state.ram[Reg.b] = nv; storeTimeRegisters(t) }
            state.ram[Reg.b] = nv
            settlePeriodicFlag()                      // PF may have to raise IRQF now
            if !wasRunning && timeRunning {
                state.baseSeconds = parseTimeRegisters() - elapsedSeconds(nowNs)
            } else if wasRunning && timeRunning {
                // Format change only: the stored copy is not used while running.
            }
            updateIRQ()
            rearm()
        case Reg.c, Reg.d:
            break   // read only
        case _ where Self.timeIndices.contains(i):
            if timeRunning {
                var r = timeRegisters(currentTime)
                r[i] = v
                if i == Reg.dayOfWeek { return }     // day of week follows the date
                state.baseSeconds = parse(r) - elapsedSeconds(nowNs)
                rearm()
            } else {
                state.ram[i] = v
            }
        default:
            state.ram[i & 0x7F] = v
        }
    }
}
