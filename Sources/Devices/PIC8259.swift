import CPU

/// The PC's pair of Intel 8259A programmable interrupt controllers plus the PIIX/ICH edge/level
/// control registers (ELCR).
///
/// The pair is one object; the machine registers each piece at its own base:
/// ```
/// try ports.register(pic.masterPorts, base: 0x20,  count: 2, name: "pic-master")
/// try ports.register(pic.slavePorts,  base: 0xA0,  count: 2, name: "pic-slave")
/// try ports.register(pic.elcrPorts,   base: 0x4D0, count: 2, name: "elcr")
/// pic.output = { [unowned cpu] in cpu.setInterruptRequest($0) }
/// cpu.acknowledgeInterrupt = { [unowned pic] in pic.acknowledge() }
/// ```
/// Devices drive `setIRQ(n, level)` with n in 0...15 (8...15 on the slave). Input 2 of the
/// master is the slave's INT output (the cascade); ISA IRQ2 is wired to IRQ9 on the PC, so
/// `setIRQ(2, _)` is ignored. Lines shared by several devices must be ORed by the machine.
///
/// Semantics follow the 8259A datasheet with QEMU's i8259 model for the PC details: ICW1-ICW4
/// (ICW3 accepted and ignored: the cascade is fixed), OCW1 mask, OCW2 (non-specific/specific
/// EOI, rotate on EOI, rotate in auto-EOI mode, set priority), OCW3 (read IRR/ISR, poll, special
/// mask mode), special fully nested mode, auto-EOI. A chip is level-triggered on an input when
/// its ELCR bit is set (or ICW1.LTIM); edge inputs latch IRR on a rising edge. INTA with no
/// request gives the spurious vector of IR7 without setting ISR (IR7 of the slave when the
/// master's request came through the cascade but the slave's went away).
public final class PIC8259 {
    /// Port offsets within a chip's range (base 0x20 or 0xA0).
    public enum Port { public static let command = 0, data = 1 }
    /// ICW1 bits (written to the command port with bit 4 set).
    public enum ICW1 {
        public static let icw4Needed: UInt8 = 0x01, single: UInt8 = 0x02, interval4: UInt8 = 0x04
        public static let levelTriggered: UInt8 = 0x08, initialize: UInt8 = 0x10
    }
    /// ICW4 bits.
    public enum ICW4 {
        public static let x86Mode: UInt8 = 0x01, autoEOI: UInt8 = 0x02, buffered: UInt8 = 0x0C
        public static let specialFullyNested: UInt8 = 0x10
    }
    /// OCW3 bits (command port, bit 4 clear, bit 3 set).
    public enum OCW3 {
        public static let readISR: UInt8 = 0x01, readRegister: UInt8 = 0x02, poll: UInt8 = 0x04
        public static let marker: UInt8 = 0x08, specialMask: UInt8 = 0x20, setSpecialMask: UInt8 = 0x40
    }
    /// OCW2 commands (bits 7..5 of a command-port write with bits 4 and 3 clear).
    public enum OCW2 {
        public static let rotateAutoEOIClear: UInt8 = 0, nonSpecificEOI: UInt8 = 1, noOp: UInt8 = 2
        public static let specificEOI: UInt8 = 3, rotateAutoEOISet: UInt8 = 4, rotateNonSpecificEOI: UInt8 = 5
        public static let setPriority: UInt8 = 6, rotateSpecificEOI: UInt8 = 7
    }
    /// Bits of the ELCR that can be set (IRQ0, 1, 2, 8 and 13 are always edge-triggered).
    public static let elcrMask: (master: UInt8, slave: UInt8) = (0xF8, 0xDE)
    /// The slave's INT output goes to this master input.
    public static let cascadeIRQ = 2

    /// One 8259A's registers.
    public struct Chip: Sendable, Equatable {
        public var irr: UInt8 = 0          // interrupt request register
        public var isr: UInt8 = 0          // in-service register
        public var imr: UInt8 = 0          // interrupt mask register
        public var lastLevels: UInt8 = 0   // input levels seen (edge detection)
        public var priorityAdd: UInt8 = 0  // lowest-priority rotation: IR(priorityAdd) is highest
        public var vectorBase: UInt8 = 0   // ICW2 & 0xF8
        public var readISR = false         // OCW3 RR/RIS: command-port reads give ISR
        public var poll = false            // OCW3 P: next read of either port is a poll
        public var specialMask = false     // OCW3 SMM
        public var initStep: UInt8 = 0     // 0 = operational, 1..3 = expecting ICW2..ICW4
        public var needICW4 = false
        public var single = false
        public var levelMode = false       // ICW1.LTIM: every input level-triggered
        public var autoEOI = false
        public var rotateOnAutoEOI = false
        public var specialFullyNested = false
        public var elcr: UInt8 = 0         // edge (0) / level (1) per input
        public init() {}

        var levelMask: UInt8 { levelMode ? 0xFF : elcr }
    }

    public struct State: Sendable, Equatable {
        public var master = Chip()
        public var slave = Chip()
        /// Level of the INT output last sent to the CPU.
        public var outputLevel = false
        public init() {}
    }

    public private(set) var state = State()
    /// The INT line to the CPU (machine: `cpu.setInterruptRequest`). Called with the current
    /// level after every input change, register write and INTA (not only on changes), so a CPU
    /// reset on its own (INIT, triple fault) picks the request up again at the next event;
    /// after such a reset the machine may also call `resyncOutput()`.
    public var output: ((Bool) -> Void)?

    /// Port views for the bus.
    public private(set) lazy var masterPorts = ChipPorts(pic: self, chip: 0)
    public private(set) lazy var slavePorts = ChipPorts(pic: self, chip: 1)
    public private(set) lazy var elcrPorts = ELCRPorts(pic: self)

    public init() {}

    /// Restores a saved state and re-drives the output line.
    public func restore(_ s: State) {
        state = s
        update()
    }

    /// Sends the current INT level to `output` again.
    public func resyncOutput() { update() }

    /// Machine reset: both chips return to their power-on state; ELCR is kept (QEMU behaviour).
    public func reset() {
        let (e0, e1) = (state.master.elcr, state.slave.elcr)
        state.master = Chip(); state.master.elcr = e0
        state.slave = Chip(); state.slave.elcr = e1
        update()
    }

    /// Is the INT output to the CPU asserted.
    public var interruptRequested: Bool { state.outputLevel }

    // MARK: inputs

    /// Drives interrupt input `irq` (0...15) to `level`.
    public func setIRQ(_ irq: Int, _ level: Bool) {
        switch irq {
        case 0..<8 where irq != PIC8259.cascadeIRQ: Self.setInput(&state.master, irq, level)
        case 8..<16: Self.setInput(&state.slave, irq - 8, level)
        default: return
        }
        update()
    }

    /// Edge helper: raise then lower (a pulse on an edge-triggered input).
    public func pulseIRQ(_ irq: Int) {
        setIRQ(irq, true)
        setIRQ(irq, false)
    }

    static func setInput(_ c: inout Chip, _ n: Int, _ level: Bool) {
        let m = UInt8(1) << UInt8(n)
        if c.levelMask & m != 0 {
            if level { c.irr |= m; c.lastLevels |= m } else { c.irr &= ~m; c.lastLevels &= ~m }
        } else {
            if level {
                if c.lastLevels & m == 0 { c.irr |= m }
                c.lastLevels |= m
            } else {
                c.lastLevels &= ~m
            }
        }
    }

    // MARK: priority resolution

    /// Priority (0 = highest) of the highest-priority bit of `mask`, 8 if none.
    static func priority(_ c: Chip, _ mask: UInt8) -> Int {
        if mask == 0 { return 8 }
        var p = 0
        while mask & (1 << ((UInt8(p) &+ c.priorityAdd) & 7)) == 0 { p += 1 }
        return p
    }

    /// The input this chip would present at INTA, or nil.
    static func pending(_ c: Chip, isMaster: Bool) -> Int? {
        let p = priority(c, c.irr & ~c.imr)
        if p == 8 { return nil }
        var inService = c.isr
        if c.specialMask { inService &= ~c.imr }
        if c.specialFullyNested && isMaster { inService &= ~(1 << UInt8(cascadeIRQ)) }
        let cur = priority(c, inService)
        return p < cur ? (p + Int(c.priorityAdd)) & 7 : nil
    }

    /// Recomputes the cascade and the INT output.
    func update() {
        let slaveOut = Self.pending(state.slave, isMaster: false) != nil
        Self.setInput(&state.master, PIC8259.cascadeIRQ, slaveOut)
        let out = Self.pending(state.master, isMaster: true) != nil
        state.outputLevel = out
        output?(out)        // every time: re-syncs a CPU that was reset on its own
    }

    static func intack(_ c: inout Chip, _ irq: Int) {
        let m = UInt8(1) << UInt8(irq)
        if c.autoEOI {
            if c.rotateOnAutoEOI { c.priorityAdd = UInt8((irq + 1) & 7) }
        } else {
            c.isr |= m
        }
        if c.levelMask & m == 0 { c.irr &= ~m }   // level inputs stay requested while high
    }

    /// The INTA cycle: returns the vector the CPU should take and updates ISR/IRR.
    /// Always returns a vector (the spurious IR7 vector when no request is pending).
    public func acknowledge() -> UInt8? {
        let vector: UInt8
        if let irq = Self.pending(state.master, isMaster: true) {
            if irq == PIC8259.cascadeIRQ {
                if let irq2 = Self.pending(state.slave, isMaster: false) {
                    Self.intack(&state.slave, irq2)
                    vector = state.slave.vectorBase | UInt8(irq2)
                } else {
                    vector = state.slave.vectorBase | 7    // spurious IRQ15
                }
            } else {
                vector = state.master.vectorBase | UInt8(irq)
            }
            Self.intack(&state.master, irq)
        } else {
            vector = state.master.vectorBase | 7           // spurious IRQ7
        }
        update()
        return vector
    }

    // MARK: register access

    func chip(_ i: Int) -> Chip { i == 0 ? state.master : state.slave }

    func withChip<R>(_ i: Int, _ body: (inout Chip) -> R) -> R {
        i == 0 ? body(&state.master) : body(&state.slave)
    }

    func readByte(chip i: Int, offset: Int) -> UInt8 {
        let c = chip(i)
        if c.poll {
            // Poll: acknowledge the highest request on this chip; bit 7 = request present.
            let r: UInt8 = withChip(i) { c in
                c.poll = false
                guard let irq = Self.pending(c, isMaster: i == 0) else { return 0 }
                Self.intack(&c, irq)
                return 0x80 | UInt8(irq)
            }
            if i == 0 && r == 0x80 | UInt8(PIC8259.cascadeIRQ) {
                // Polling the master through the cascade also acknowledges the slave's request.
                _ = withChip(1) { s -> Void in
                    if let irq2 = Self.pending(s, isMaster: false) { Self.intack(&s, irq2) }
                }
            }
            update()
            return r
        }
        if offset == Port.command { return c.readISR ? c.isr : c.irr }
        return c.imr
    }

    func writeByte(chip i: Int, offset: Int, value v: UInt8) {
        withChip(i) { c in
            if offset == Port.command {
                if v & ICW1.initialize != 0 {
                    // ICW1: reset the chip (ELCR kept) and start the initialization sequence.
                    let (elcr, levelIRR) = (c.elcr, c.irr & c.levelMask)
                    c = Chip()
                    c.elcr = elcr
                    c.irr = levelIRR & elcr             // level requests survive (QEMU)
                    c.initStep = 1
                    c.needICW4 = v & ICW1.icw4Needed != 0
                    c.single = v & ICW1.single != 0
                    c.levelMode = v & ICW1.levelTriggered != 0
                } else if v & OCW3.marker != 0 {
                    if v & OCW3.poll != 0 { c.poll = true }
                    if v & OCW3.readRegister != 0 { c.readISR = v & OCW3.readISR != 0 }
                    if v & OCW3.setSpecialMask != 0 { c.specialMask = v & OCW3.specialMask != 0 }
                } else {
                    Self.ocw2(&c, v)
                }
            } else {
                switch c.initStep {
                case 1:
                    c.vectorBase = v & 0xF8
                    c.initStep = c.single ? (c.needICW4 ? 3 : 0) : 2
                case 2:
                    c.initStep = c.needICW4 ? 3 : 0        // ICW3: cascade wiring is fixed
                case 3:
                    c.specialFullyNested = v & ICW4.specialFullyNested != 0
                    c.autoEOI = v & ICW4.autoEOI != 0
                    c.initStep = 0
                default:
                    c.imr = v                               // OCW1
                }
            }
        }
        update()
    }

    static func ocw2(_ c: inout Chip, _ v: UInt8) {
        let cmd = v >> 5
        let level = Int(v & 7)
        switch cmd {
        case OCW2.rotateAutoEOIClear, OCW2.rotateAutoEOISet:
            c.rotateOnAutoEOI = cmd == OCW2.rotateAutoEOISet
        case OCW2.nonSpecificEOI, OCW2.rotateNonSpecificEOI:
            let p = priority(c, c.isr)
            if p != 8 {
                let irq = (p + Int(c.priorityAdd)) & 7
                c.isr &= ~(1 << UInt8(irq))
                if cmd == OCW2.rotateNonSpecificEOI { c.priorityAdd = UInt8((irq + 1) & 7) }
            }
        case OCW2.specificEOI:
            c.isr &= ~(1 << UInt8(level))
        case OCW2.setPriority:
            c.priorityAdd = UInt8((level + 1) & 7)
        case OCW2.rotateSpecificEOI:
            c.isr &= ~(1 << UInt8(level))
            c.priorityAdd = UInt8((level + 1) & 7)
        default:
            break   // no operation
        }
    }

    func readELCR(_ i: Int) -> UInt8 { chip(i).elcr }

    func writeELCR(_ i: Int, _ v: UInt8) {
        withChip(i) { c in c.elcr = v & (i == 0 ? PIC8259.elcrMask.master : PIC8259.elcrMask.slave) }
        update()
    }

    /// The 2-port view of one chip (command at offset 0, data at offset 1). Wider accesses are
    /// split into byte accesses to consecutive ports, as the ISA bus does.
    public final class ChipPorts: IODevice {
        unowned let pic: PIC8259
        let chip: Int
        init(pic: PIC8259, chip: Int) { self.pic = pic; self.chip = chip }

        public func ioRead(offset: UInt64, size: Int) -> UInt64 {
            byteWiseRead(offset: offset, size: size, ports: 2) { pic.readByte(chip: chip, offset: $0) }
        }
        public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            byteWiseWrite(offset: offset, size: size, value: value, ports: 2) {
                pic.writeByte(chip: chip, offset: $0, value: $1)
            }
        }
    }

    /// ELCR1 (offset 0, master, port 0x4D0) and ELCR2 (offset 1, slave, port 0x4D1).
    public final class ELCRPorts: IODevice {
        unowned let pic: PIC8259
        init(pic: PIC8259) { self.pic = pic }

        public func ioRead(offset: UInt64, size: Int) -> UInt64 {
            byteWiseRead(offset: offset, size: size, ports: 2) { pic.readELCR($0) }
        }
        public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            byteWiseWrite(offset: offset, size: size, value: value, ports: 2) { pic.writeELCR($0, $1) }
        }
    }
}

/// Byte-wide device helpers: an access of `size` bytes at `offset` touches ports offset,
/// offset+1, ... ; bytes beyond the device's `ports` read as 0xFF and are dropped on write.
@inline(__always)
func byteWiseRead(offset: UInt64, size: Int, ports: Int, _ read: (Int) -> UInt8) -> UInt64 {
    let n = min(max(size, 1), 8)
    var v: UInt64 = 0
    for i in 0..<n {
        let o = offset &+ UInt64(i)
        let b: UInt8 = o < UInt64(ports) ? read(Int(o)) : 0xFF
        v |= UInt64(b) << (8 * UInt64(i))
    }
    return v
}

@inline(__always)
func byteWiseWrite(offset: UInt64, size: Int, value: UInt64, ports: Int, _ write: (Int, UInt8) -> Void) {
    let n = min(max(size, 1), 8)
    for i in 0..<n {
        let o = offset &+ UInt64(i)
        if o < UInt64(ports) { write(Int(o), UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}
