import CPU
#if canImport(Glibc)
import Glibc
#endif

/// A raw disk image file: reads and writes by 512-byte sector with pread/pwrite. In snapshot
/// mode guest writes go to an in-memory overlay and the file is never modified; read-only mode
/// makes guest writes fail (the device reports an error to the guest).
public final class RawDisk {
    public enum Mode: Sendable { case readWrite, readOnly, snapshot }
    public static let sectorSize = 512
    public let path: String
    public let mode: Mode
    public let sectorCount: UInt64
    private let fd: Int32
    private var overlay: [UInt64: [UInt8]] = [:]

    /// Opens `path`; throws one line naming the file and what to do.
    public init(path: String, mode: Mode) throws {
        self.path = path
        self.mode = mode
        let flags = mode == .readWrite ? O_RDWR : O_RDONLY
        let f = open(path, flags | O_CLOEXEC)
        if f < 0 {
            let why = String(cString: strerror(errno))
            if mode == .readWrite && errno == EACCES {
                throw DiskError("emu: cannot open disk image '\(path)' for writing: \(why); use --snapshot or --read-only")
            }
            throw DiskError("emu: cannot open disk image '\(path)': \(why); check the path")
        }
        var st = stat()
        guard fstat(f, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(f)
            throw DiskError("emu: disk image '\(path)' is not a regular file; give a raw disk image")
        }
        guard st.st_size > 0, st.st_size % Int(RawDisk.sectorSize) == 0 else {
            close(f)
            throw DiskError("emu: disk image '\(path)' is \(st.st_size) bytes, not a whole number of 512-byte sectors (truncated?); give a raw disk image")
        }
        fd = f
        sectorCount = UInt64(st.st_size) / UInt64(RawDisk.sectorSize)
    }

    deinit { close(fd) }

    /// Reads `count` sectors into `buf`; false if out of range or on an I/O error.
    public func read(sector: UInt64, count: Int, into buf: UnsafeMutableRawPointer) -> Bool {
        guard count >= 0, sector <= sectorCount, UInt64(count) <= sectorCount - sector else { return false }
        for i in 0..<count {
            let dst = buf + i * RawDisk.sectorSize
            if let o = overlay[sector + UInt64(i)] {
                o.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress!, byteCount: RawDisk.sectorSize) }
                continue
            }
            let n = pread(fd, dst, RawDisk.sectorSize, off_t((sector + UInt64(i)) * UInt64(RawDisk.sectorSize)))
            if n != RawDisk.sectorSize { return false }
        }
        return true
    }

    /// Writes `count` sectors from `buf`; false if out of range, read-only, or on an I/O error.
    public func write(sector: UInt64, count: Int, from buf: UnsafeRawPointer) -> Bool {
        guard mode != .readOnly, count >= 0, sector <= sectorCount, UInt64(count) <= sectorCount - sector else { return false }
        for i in 0..<count {
            let src = buf + i * RawDisk.sectorSize
            if mode == .snapshot {
                overlay[sector + UInt64(i)] = Array(UnsafeRawBufferPointer(start: src, count: RawDisk.sectorSize))
                continue
            }
            let n = pwrite(fd, src, RawDisk.sectorSize, off_t((sector + UInt64(i)) * UInt64(RawDisk.sectorSize)))
            if n != RawDisk.sectorSize { return false }
        }
        return true
    }

    public func flush() -> Bool { mode != .readWrite || fsync(fd) == 0 }
}

public struct DiskError: Error, CustomStringConvertible {
    public let description: String
    public init(_ s: String) { description = s }
}

/// One ATA (IDE) channel of the PIIX3 with up to two hard disks: PIO, and bus-master DMA
/// (READ/WRITE DMA (+EXT) through a PRD table in guest memory). ATAPI is not modelled.
///
/// Faces: `commandBlock` (8 ports: 0x1F0-0x1F7 or 0x170-0x177) and `controlBlock` (1 port:
/// 0x3F6 or 0x376). Registers (ATA-8): 0 data (16/32-bit), 1 error/features, 2 sector count,
/// 3 LBA low, 4 LBA mid, 5 LBA high, 6 device (bit 4 selects the slave, bit 6 LBA), 7
/// status/command; control: alternate status / device control (nIEN bit 1, SRST bit 2, HOB
/// bit 7). The 48-bit registers keep their previous byte (HOB) for LBA48 commands.
/// Bus master (`busMaster`, 8 ports at BAR4 + 8 × channel): 0 command (bit 0 start, bit 3
/// direction: 1 = device to memory), 2 status (bit 0 active, bit 1 error, bit 2 interrupt,
/// write 1 to clear bits 1-2; bits 5-6 "DMA capable" read/write), 4-7 PRD table address.
/// A PRD entry is {u32 address, u16 byte count (0 = 64 KiB), u16 flags (bit 15 = last)}; the
/// table may not cross a 64 KiB boundary, so a walk stops after 8192 entries. Entries pointing
/// outside RAM, or a table that ends before the transfer does, set the error bit and abort the
/// command with ABRT: the guest sees an error, the host copies nothing outside RAM.
/// Commands: IDENTIFY DEVICE, READ/WRITE SECTORS (+EXT), READ/WRITE MULTIPLE (+EXT), SET
/// MULTIPLE MODE, READ VERIFY (+EXT), FLUSH CACHE (+EXT), SET FEATURES, INITIALIZE DEVICE
/// PARAMETERS, RECALIBRATE, SEEK, EXECUTE DEVICE DIAGNOSTIC, CHECK POWER MODE, IDLE/STANDBY
/// (immediate), DEVICE RESET; anything else aborts (ERR, ABRT). Out-of-range sectors give
/// IDNF, failing disk I/O gives UNC (reads) or ABRT (writes). Transfers complete at once; the
/// interrupt (`irq`, level) is raised per DRQ block and at completion unless nIEN, and cleared
/// by reading the status register. An absent device reads status 0 (Linux and SeaBIOS probe).
public final class ATAChannel {
    public enum Status {
        public static let err: UInt8 = 0x01, drq: UInt8 = 0x08, dsc: UInt8 = 0x10, drdy: UInt8 = 0x40, bsy: UInt8 = 0x80
    }
    public enum Error { public static let abrt: UInt8 = 0x04, idnf: UInt8 = 0x10, unc: UInt8 = 0x40 }
    public enum Command {
        public static let readSectors: UInt8 = 0x20, readSectorsExt: UInt8 = 0x24, readMultipleExt: UInt8 = 0x29
        public static let writeSectors: UInt8 = 0x30, writeSectorsExt: UInt8 = 0x34, writeMultipleExt: UInt8 = 0x39
        public static let verify: UInt8 = 0x40, verifyExt: UInt8 = 0x42, recalibrate: UInt8 = 0x10, seek: UInt8 = 0x70
        public static let diagnostic: UInt8 = 0x90, initParams: UInt8 = 0x91, readMultiple: UInt8 = 0xC4
        public static let writeMultiple: UInt8 = 0xC5, setMultiple: UInt8 = 0xC6, flush: UInt8 = 0xE7, flushExt: UInt8 = 0xEA
        public static let identify: UInt8 = 0xEC, setFeatures: UInt8 = 0xEF, checkPower: UInt8 = 0xE5
        public static let deviceReset: UInt8 = 0x08, packetIdentify: UInt8 = 0xA1
        public static let readDMA: UInt8 = 0xC8, writeDMA: UInt8 = 0xCA, readDMAExt: UInt8 = 0x25, writeDMAExt: UInt8 = 0x35
        public static let idleImmediate: UInt8 = 0xE1, standbyImmediate: UInt8 = 0xE0, idle: UInt8 = 0xE3, standby: UInt8 = 0xE2
    }
    public static let maxMultiple = 16

    /// Task-file registers of one device (the pair on a channel shares them on real hardware;
    /// writes go to both, as here: one register file per channel).
    public struct State: Sendable, Equatable {
        public var feature: UInt8 = 0, featureHOB: UInt8 = 0
        public var count: UInt8 = 1, countHOB: UInt8 = 0
        public var lbaLow: UInt8 = 1, lbaLowHOB: UInt8 = 0
        public var lbaMid: UInt8 = 0, lbaMidHOB: UInt8 = 0
        public var lbaHigh: UInt8 = 0, lbaHighHOB: UInt8 = 0
        public var device: UInt8 = 0xA0
        public var control: UInt8 = 0
        public var status: [UInt8] = [Status.drdy | Status.dsc, Status.drdy | Status.dsc]
        public var error: [UInt8] = [1, 1]
        public var multiple: [Int] = [ATAChannel.maxMultiple, ATAChannel.maxMultiple]
        public var irqPending = false
        /// Data phase: buffer, position, sectors left after this block, write or read, LBA.
        public var buffer: [UInt8] = []
        public var position = 0
        public var sectorsLeft = 0
        public var writing = false
        public var nextLBA: UInt64 = 0
        public var blockSectors = 1
        /// A DMA command waits for the bus master to start.
        public var dmaPending = false
        public var bmCommand: UInt8 = 0
        public var bmStatus: UInt8 = 0
        public var bmPRD: UInt32 = 0
        public init() {}
    }
    public private(set) var state = State()
    public private(set) var disks: [RawDisk?] = [nil, nil]
    public var irq: ((Bool) -> Void)?
    public let model: String

    /// Guest memory for bus-master DMA (nil: DMA commands abort).
    public var memory: PhysicalMemory?

    public init(model: String = "EMU HARDDISK", memory: PhysicalMemory? = nil) {
        self.model = model
        self.memory = memory
    }

    public func attach(_ disk: RawDisk?, slave: Bool) { disks[slave ? 1 : 0] = disk }

    var selected: Int { Int(state.device >> 4) & 1 }
    var present: Bool { disks[selected] != nil }

    public func reset() {
        state = State()
        setIRQ(false)
    }

    private func setIRQ(_ on: Bool) {
        state.irqPending = on
        irq?(on && state.control & 0x02 == 0)
    }

    // MARK: faces

    public private(set) lazy var commandBlock: IODevice = Face(self, control: false)
    public private(set) lazy var controlBlock: IODevice = Face(self, control: true)
    public private(set) lazy var busMaster: IODevice = BusMasterFace(self)
    final class BusMasterFace: IODevice {
        unowned let ch: ATAChannel
        init(_ ch: ATAChannel) { self.ch = ch }
        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<min(max(size, 1), 4) {
                let o = Int(offset) + i
                let b: UInt8
                switch o {
                case 0: b = ch.state.bmCommand
                case 2: b = ch.state.bmStatus
                case 4...7: b = UInt8(truncatingIfNeeded: ch.state.bmPRD >> (8 * UInt32(o - 4)))
                default: b = 0
                }
                v |= UInt64(b) << (8 * UInt64(i))
            }
            return v
        }
        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            for i in 0..<min(max(size, 1), 4) {
                let o = Int(offset) + i
                let b = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
                switch o {
                case 0: ch.writeBusMasterCommand(b & 0x09)
                case 2: ch.state.bmStatus = (ch.state.bmStatus & ~(b & 0x06) & ~0x60) | (b & 0x60)
                case 4...7:
                    let sh = 8 * UInt32(o - 4)
                    ch.state.bmPRD = (ch.state.bmPRD & ~(0xFF << sh)) | UInt32(b) << sh
                    ch.state.bmPRD &= ~3
                default: break
                }
            }
        }
    }

    func writeBusMasterCommand(_ v: UInt8) {
        let starting = v & 1 != 0 && state.bmCommand & 1 == 0
        state.bmCommand = v
        if v & 1 == 0 { state.bmStatus &= ~1; return }
        guard starting else { return }
        state.bmStatus |= 1
        if state.dmaPending { runDMA() }
    }

    /// Moves the pending DMA command's sectors through the PRD table.
    private func runDMA() {
        let d = selected
        guard let disk = disks[d], let mem = memory else { return }
        state.dmaPending = false
        let total = state.sectorsLeft * RawDisk.sectorSize
        let toMemory = !state.writing
        if toMemory != (state.bmCommand & 0x08 != 0) {
            dmaFail(); return
        }
        var data = [UInt8](repeating: 0, count: total)
        if toMemory {
            let ok = data.withUnsafeMutableBytes { disk.read(sector: state.nextLBA, count: state.sectorsLeft, into: $0.baseAddress!) }
            guard ok else { state.bmStatus = (state.bmStatus & ~1) | 0x04; finish(error: Error.unc); return }
        }
        var done = 0
        var prd = UInt64(state.bmPRD)
        var last = false
        for _ in 0..<8192 where done < total && !last {
            guard let e = mem.readBytes(prd, count: 8) else { break }
            let addr = UInt64(e[0]) | UInt64(e[1]) << 8 | UInt64(e[2]) << 16 | UInt64(e[3]) << 24
            var len = Int(e[4]) | Int(e[5]) << 8
            if len == 0 { len = 65536 }
            last = e[7] & 0x80 != 0
            let n = min(len & ~1, total - done)
            if n > 0 {
                if toMemory {
                    let ok = data[done..<(done + n)].withUnsafeBytes { mem.writeBytes(addr, $0) }
                    guard ok else { dmaFail(); return }
                } else {
                    guard let src = mem.readBytes(addr, count: n) else { dmaFail(); return }
                    data.replaceSubrange(done..<(done + n), with: src)
                }
            }
            done += n
            prd += 8
            if prd & 0xFFFF == 0 { break }               // the table may not cross 64 KiB
        }
        guard done == total else { dmaFail(); return }
        if !toMemory {
            let ok = data.withUnsafeBytes { disk.write(sector: state.nextLBA, count: state.sectorsLeft, from: $0.baseAddress!) }
            guard ok else { state.bmStatus = (state.bmStatus & ~1) | 0x04; finish(error: Error.abrt); return }
        }
        state.bmStatus = (state.bmStatus & ~1) | 0x04
        state.writing = false
        finish()
    }

    private func dmaFail() {
        state.bmStatus = (state.bmStatus & ~1) | 0x06
        state.writing = false
        finish(error: Error.abrt)
    }
    final class Face: IODevice {
        unowned let ch: ATAChannel
        let control: Bool
        init(_ ch: ATAChannel, control: Bool) { self.ch = ch; self.control = control }
        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            control ? UInt64(ch.alternateStatus) : ch.readRegister(Int(offset), size: size)
        }
        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            if control { ch.writeControl(UInt8(truncatingIfNeeded: value)) } else { ch.writeRegister(Int(offset), size: size, value) }
        }
    }

    var alternateStatus: UInt8 { present ? state.status[selected] : 0 }

    func readRegister(_ r: Int, size: Int) -> UInt64 {
        let hob = state.control & 0x80 != 0
        switch r {
        case 0: return readData(size: size)
        case 1: return UInt64(present ? state.error[selected] : 0)
        case 2: return UInt64(hob ? state.countHOB : state.count)
        case 3: return UInt64(hob ? state.lbaLowHOB : state.lbaLow)
        case 4: return UInt64(hob ? state.lbaMidHOB : state.lbaMid)
        case 5: return UInt64(hob ? state.lbaHighHOB : state.lbaHigh)
        case 6: return UInt64(state.device)
        case 7:
            guard present else { return 0 }
            setIRQ(false)
            return UInt64(state.status[selected])
        default: return 0xFF
        }
    }

    func writeRegister(_ r: Int, size: Int, _ v: UInt64) {
        let b = UInt8(truncatingIfNeeded: v)
        if r != 0 { state.control &= ~0x80 }          // a task-file write clears HOB
        switch r {
        case 0: writeData(size: size, v)
        case 1: state.featureHOB = state.feature; state.feature = b
        case 2: state.countHOB = state.count; state.count = b
        case 3: state.lbaLowHOB = state.lbaLow; state.lbaLow = b
        case 4: state.lbaMidHOB = state.lbaMid; state.lbaMid = b
        case 5: state.lbaHighHOB = state.lbaHigh; state.lbaHigh = b
        case 6: state.device = b | 0xA0
        case 7: execute(b)
        default: break
        }
    }

    func writeControl(_ v: UInt8) {
        let wasReset = state.control & 0x04 != 0
        state.control = v
        if v & 0x04 != 0 && !wasReset {
            // SRST asserted: both devices reset, BSY until released (we are instant).
            for d in 0..<2 { state.status[d] = Status.bsy }
        } else if v & 0x04 == 0 && wasReset {
            for d in 0..<2 {
                state.status[d] = Status.drdy | Status.dsc
                state.error[d] = 1
            }
            state.device = 0xA0
            signature()
            state.buffer = []; state.sectorsLeft = 0
        }
        irq?(state.irqPending && v & 0x02 == 0)
    }

    /// ATA device signature in the task file (after reset and diagnostics).
    private func signature() {
        state.count = 1; state.lbaLow = 1; state.lbaMid = 0; state.lbaHigh = 0
    }

    // MARK: commands

    private func finish(error: UInt8 = 0) {
        let d = selected
        state.error[d] = error
        state.status[d] = Status.drdy | Status.dsc | (error != 0 ? Status.err : 0)
        state.buffer = []; state.position = 0; state.sectorsLeft = 0
        setIRQ(true)
    }

    private var lba28: UInt64 {
        if state.device & 0x40 != 0 {
            return UInt64(state.device & 0x0F) << 24 | UInt64(state.lbaHigh) << 16 | UInt64(state.lbaMid) << 8 | UInt64(state.lbaLow)
        }
        // CHS with the default geometry of IDENTIFY (16 heads, 63 sectors per track).
        let cyl = UInt64(state.lbaHigh) << 8 | UInt64(state.lbaMid)
        let head = UInt64(state.device & 0x0F), sec = UInt64(state.lbaLow)
        return sec == 0 ? .max : (cyl * 16 + head) * 63 + sec - 1
    }

    private var lba48: UInt64 {
        UInt64(state.lbaHighHOB) << 40 | UInt64(state.lbaMidHOB) << 32 | UInt64(state.lbaLowHOB) << 24
            | UInt64(state.lbaHigh) << 16 | UInt64(state.lbaMid) << 8 | UInt64(state.lbaLow)
    }

    func execute(_ cmd: UInt8) {
        let d = selected
        guard let disk = disks[d] else { return }     // no device: the command is ignored
        state.buffer = []; state.position = 0
        switch cmd {
        case Command.identify:
            state.buffer = identifyData(disk, d)
            state.sectorsLeft = 0
            state.writing = false
            state.status[d] = Status.drdy | Status.dsc | Status.drq
            state.error[d] = 0
            setIRQ(true)
        case Command.readSectors, Command.readSectorsExt, Command.readMultiple, Command.readMultipleExt,
             Command.writeSectors, Command.writeSectorsExt, Command.writeMultiple, Command.writeMultipleExt:
            let ext = [Command.readSectorsExt, Command.readMultipleExt, Command.writeSectorsExt, Command.writeMultipleExt].contains(cmd)
            let multiple = [Command.readMultiple, Command.readMultipleExt, Command.writeMultiple, Command.writeMultipleExt].contains(cmd)
            let write = cmd >= 0x30 && cmd <= 0x39 || cmd == Command.writeMultiple
            let count = ext ? (Int(state.countHOB) << 8 | Int(state.count)) : Int(state.count)
            let n = count == 0 ? (ext ? 65536 : 256) : count
            let lba = ext ? lba48 : lba28
            guard lba != .max, lba < disk.sectorCount, UInt64(n) <= disk.sectorCount - lba else { finish(error: Error.idnf); return }
            state.nextLBA = lba
            state.sectorsLeft = n
            state.writing = write
            state.blockSectors = multiple ? state.multiple[d] : 1
            if write {
                startWriteBlock()
            } else {
                readBlock(disk)
            }
        case Command.readDMA, Command.readDMAExt, Command.writeDMA, Command.writeDMAExt:
            let ext = cmd == Command.readDMAExt || cmd == Command.writeDMAExt
            let count = ext ? (Int(state.countHOB) << 8 | Int(state.count)) : Int(state.count)
            let n = count == 0 ? (ext ? 65536 : 256) : count
            let lba = ext ? lba48 : lba28
            guard memory != nil else { finish(error: Error.abrt); return }
            guard lba != .max, lba < disk.sectorCount, UInt64(n) <= disk.sectorCount - lba else { finish(error: Error.idnf); return }
            state.nextLBA = lba
            state.sectorsLeft = n
            state.writing = cmd == Command.writeDMA || cmd == Command.writeDMAExt
            state.dmaPending = true
            state.status[d] = Status.drdy | Status.dsc | Status.drq | Status.bsy
            if state.bmCommand & 1 != 0 { runDMA() }
        case Command.verify, Command.verifyExt, Command.recalibrate, Command.seek, Command.flush, Command.flushExt,
             Command.idleImmediate, Command.standbyImmediate, Command.idle, Command.standby:
            if cmd == Command.flush || cmd == Command.flushExt { finish(error: disk.flush() ? 0 : Error.abrt) } else { finish() }
        case Command.checkPower:
            state.count = 0xFF
            finish()
        case Command.setMultiple:
            let n = Int(state.count)
            if n == 0 || n > ATAChannel.maxMultiple || n & (n - 1) != 0 { finish(error: Error.abrt) } else {
                state.multiple[d] = n
                finish()
            }
        case Command.setFeatures:
            // Transfer mode (0x03), write cache on/off (0x02/0x82), look-ahead (0xAA/0x55): accepted.
            if [0x02, 0x03, 0x82, 0xAA, 0x55, 0x66, 0xCC].contains(state.feature) { finish() } else { finish(error: Error.abrt) }
        case Command.initParams:
            finish()
        case Command.diagnostic, Command.deviceReset:
            signature()
            state.error[0] = 1; state.error[1] = 1
            state.status[d] = Status.drdy | Status.dsc
            setIRQ(true)
        default:
            finish(error: Error.abrt)                   // includes ATAPI (IDENTIFY PACKET, PACKET)
        }
    }

    private func readBlock(_ disk: RawDisk) {
        let d = selected
        let n = min(state.blockSectors, state.sectorsLeft)
        var buf = [UInt8](repeating: 0, count: n * RawDisk.sectorSize)
        let ok = buf.withUnsafeMutableBytes { disk.read(sector: state.nextLBA, count: n, into: $0.baseAddress!) }
        guard ok else { finish(error: Error.unc); return }
        state.buffer = buf
        state.position = 0
        state.nextLBA += UInt64(n)
        state.sectorsLeft -= n
        state.status[d] = Status.drdy | Status.dsc | Status.drq
        state.error[d] = 0
        setIRQ(true)
    }

    private func startWriteBlock() {
        let d = selected
        let n = min(state.blockSectors, state.sectorsLeft)
        state.buffer = [UInt8](repeating: 0, count: n * RawDisk.sectorSize)
        state.position = 0
        state.status[d] = Status.drdy | Status.dsc | Status.drq
        state.error[d] = 0
    }

    // MARK: data port

    func readData(size: Int) -> UInt64 {
        guard present, !state.writing, state.position < state.buffer.count else { return size >= 4 ? 0xFFFF_FFFF : 0xFFFF }
        let n = min(max(size, 1), 4, state.buffer.count - state.position)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(state.buffer[state.position + i]) << (8 * UInt64(i)) }
        state.position += n
        if state.position >= state.buffer.count {
            if state.sectorsLeft > 0, let disk = disks[selected] { readBlock(disk) } else {
                state.status[selected] = Status.drdy | Status.dsc
                state.buffer = []; state.position = 0
            }
        }
        return v
    }

    func writeData(size: Int, _ v: UInt64) {
        guard present, state.writing, state.position < state.buffer.count, let disk = disks[selected] else { return }
        let n = min(max(size, 1), 4, state.buffer.count - state.position)
        for i in 0..<n { state.buffer[state.position + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        state.position += n
        guard state.position >= state.buffer.count else { return }
        let sectors = state.buffer.count / RawDisk.sectorSize
        let ok = state.buffer.withUnsafeBytes { disk.write(sector: state.nextLBA, count: sectors, from: $0.baseAddress!) }
        guard ok else { finish(error: Error.abrt); return }
        state.nextLBA += UInt64(sectors)
        state.sectorsLeft -= sectors
        if state.sectorsLeft > 0 {
            startWriteBlock()
            setIRQ(true)
        } else {
            state.writing = false
            finish()
        }
    }

    // MARK: IDENTIFY

    private func identifyData(_ disk: RawDisk, _ d: Int) -> [UInt8] {
        var w = [UInt16](repeating: 0, count: 256)
        let total = disk.sectorCount
        let cyl = UInt16(min(total / (16 * 63), 16383))
        func str(_ s: String, _ at: Int, _ words: Int) {
            var b = Array(s.utf8.prefix(words * 2))
            while b.count < words * 2 { b.append(0x20) }
            for i in 0..<words { w[at + i] = UInt16(b[2 * i]) << 8 | UInt16(b[2 * i + 1]) }   // byte-swapped ATA strings
        }
        w[0] = 0x0040                                 // fixed, non-removable ATA device
        w[1] = cyl; w[3] = 16; w[6] = 63
        str("EMU0000\(d + 1)", 10, 10)                // serial
        str("1.0", 23, 4)                             // firmware revision
        str(model, 27, 20)
        w[47] = 0x8000 | UInt16(ATAChannel.maxMultiple)
        w[49] = 1 << 9 | 1 << 8                       // LBA, DMA
        w[50] = 0x4000
        w[53] = 1 << 1 | 1 << 2                       // words 64-70 and 88 valid
        w[54] = cyl; w[55] = 16; w[56] = 63
        let chs = UInt32(min(UInt64(cyl) * 16 * 63, UInt64(UInt32.max)))
        w[57] = UInt16(chs & 0xFFFF); w[58] = UInt16(chs >> 16)
        w[59] = 0x100 | UInt16(state.multiple[d])
        let lba28 = UInt32(min(total, 0x0FFF_FFFF))
        w[60] = UInt16(lba28 & 0xFFFF); w[61] = UInt16(lba28 >> 16)
        w[63] = 0x07                                  // multiword DMA 0-2 supported
        w[64] = 0x03                                  // PIO modes 3 and 4
        w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120
        w[80] = 0x7E                                  // ATA/ATAPI-1..6
        w[82] = 1 << 14; w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10   // FLUSH CACHE (EXT), LBA48
        w[84] = 1 << 14
        w[85] = 1 << 14; w[86] = 1 << 13 | 1 << 12 | 1 << 10; w[87] = 1 << 14
        w[88] = 0x3F | 1 << 13                        // UDMA 0-5 supported, mode 5 selected
        for i in 0..<4 { w[100 + i] = UInt16((total >> (16 * UInt64(i))) & 0xFFFF) }
        var b = [UInt8](repeating: 0, count: 512)
        for i in 0..<256 { b[2 * i] = UInt8(w[i] & 0xFF); b[2 * i + 1] = UInt8(w[i] >> 8) }
        // Integrity word: signature 0xA5 and a checksum making the 512 bytes sum to 0.
        b[510] = 0xA5
        b[511] = 0 &- b[0..<511].reduce(0, &+)
        return b
    }
}
