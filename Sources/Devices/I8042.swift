import CPU

/// Intel 8042 keyboard controller with a PS/2 keyboard (MF2) and a minimal PS/2 mouse on the
/// auxiliary port, as on a PC/AT (behaviour follows the 8042/PS2 documentation and QEMU's
/// hw/input/pckbd.c + ps2.c, which SeaBIOS and Linux are tested against).
///
/// Ports: the controller answers at offset 0 (data, port 0x60) and offset 4 (status on read,
/// command on write, port 0x64). Port 0x61 lies between them and belongs to the PIT/speaker,
/// so the machine registers the two single-port views instead of one 5-port range:
///
///     try ports.register(kbc.dataPort, base: 0x60, count: 1, name: "i8042 data")
///     try ports.register(kbc.commandPort, base: 0x64, count: 1, name: "i8042 command")
///
/// Lines out: `irq1` (keyboard byte in the output buffer), `irq12` (aux byte), both called with
/// the new level when it changes (the ISA lines are edge-triggered on the PIC: a read of port
/// 0x60 drops the line before the next queued byte raises it again). `a20Changed` is called on
/// every write of the output port's A20 bit (commands 0xD1, 0xDD, 0xDF), `resetRequested` when
/// the guest pulses the CPU reset line (0xFE, any 0xF0-0xFE pulse with bit 0 clear, or an output
/// port write with bit 0 clear).
///
/// Host input: `sendScancodes(_:)` takes scan code set 2 bytes (make `1C`, break `F0 1C`,
/// extended `E0 75`); the keyboard converts them to set 1 when the guest selected set 1, and
/// the controller translates them to set 1 when command-byte bit 6 is set. Set 3 is accepted
/// but keys are sent as set 2 bytes. `mouseMove(dx:dy:buttons:)` queues a 3-byte packet when
/// the guest enabled the mouse in stream mode.
public final class I8042: IODevice {
    // MARK: Datasheet constants

    /// Status register (read of port 0x64).
    public enum Status {
        public static let outputFull: UInt8 = 0x01   // OBF: a byte waits at port 0x60
        public static let inputFull: UInt8 = 0x02    // IBF: never set, writes complete at once
        public static let system: UInt8 = 0x04       // SYS: set by self-test / command byte bit 2
        public static let command: UInt8 = 0x08      // A2: last write was to port 0x64
        public static let unlocked: UInt8 = 0x10     // keyboard not inhibited by the keylock
        public static let auxOutputFull: UInt8 = 0x20  // the byte in the output buffer is from aux
        public static let timeout: UInt8 = 0x40
        public static let parity: UInt8 = 0x80
    }
    /// Controller command byte (RAM byte 0; commands 0x20/0x60).
    public enum Mode {
        public static let keyboardInterrupt: UInt8 = 0x01
        public static let auxInterrupt: UInt8 = 0x02
        public static let system: UInt8 = 0x04
        public static let ignoreKeylock: UInt8 = 0x08
        public static let keyboardDisabled: UInt8 = 0x10
        public static let auxDisabled: UInt8 = 0x20
        public static let translate: UInt8 = 0x40
    }
    /// Output port (commands 0xD0/0xD1).
    public enum OutPort {
        public static let reset: UInt8 = 0x01        // 0 = CPU held in reset
        public static let a20: UInt8 = 0x02
        public static let auxOutputFull: UInt8 = 0x20
        public static let keyboardOutputFull: UInt8 = 0x10
        static let initial: UInt8 = 0xCF             // reset and A20 high, clock/data lines high
    }
    /// Controller commands (writes to port 0x64).
    enum Cmd {
        static let readRAMFirst: UInt8 = 0x20, readRAMLast: UInt8 = 0x3F
        static let writeRAMFirst: UInt8 = 0x60, writeRAMLast: UInt8 = 0x7F
        static let passwordInstalled: UInt8 = 0xA4
        static let auxDisable: UInt8 = 0xA7, auxEnable: UInt8 = 0xA8, auxTest: UInt8 = 0xA9
        static let selfTest: UInt8 = 0xAA, keyboardTest: UInt8 = 0xAB
        static let keyboardDisable: UInt8 = 0xAD, keyboardEnable: UInt8 = 0xAE
        static let readInputPort: UInt8 = 0xC0
        static let readOutputPort: UInt8 = 0xD0, writeOutputPort: UInt8 = 0xD1
        static let writeKeyboardOutput: UInt8 = 0xD2, writeAuxOutput: UInt8 = 0xD3, writeAux: UInt8 = 0xD4
        static let a20Off: UInt8 = 0xDD, a20On: UInt8 = 0xDF
        static let readTestInputs: UInt8 = 0xE0
        static let pulseFirst: UInt8 = 0xF0          // 0xF0-0xFF: pulse output bits 0-3 low (0 in cmd)
    }
    /// Replies from PS/2 devices.
    enum Reply {
        static let ack: UInt8 = 0xFA, resend: UInt8 = 0xFE, selfTestPassed: UInt8 = 0xAA
        static let echo: UInt8 = 0xEE, keyboardID: UInt8 = 0xAB
        static let selfTestOK: UInt8 = 0x55, interfaceOK: UInt8 = 0x00
    }
    /// PS/2 keyboard commands.
    enum KbdCmd {
        static let setLEDs: UInt8 = 0xED, echo: UInt8 = 0xEE, scanCodeSet: UInt8 = 0xF0
        static let identify: UInt8 = 0xF2, typematic: UInt8 = 0xF3, enable: UInt8 = 0xF4
        static let disable: UInt8 = 0xF5, setDefaults: UInt8 = 0xF6, resend: UInt8 = 0xFE
        static let reset: UInt8 = 0xFF
    }
    /// PS/2 mouse commands.
    enum AuxCmd {
        static let scale11: UInt8 = 0xE6, scale21: UInt8 = 0xE7, setResolution: UInt8 = 0xE8
        static let statusRequest: UInt8 = 0xE9, streamMode: UInt8 = 0xEA, readData: UInt8 = 0xEB
        static let resetWrap: UInt8 = 0xEC, wrapMode: UInt8 = 0xEE, remoteMode: UInt8 = 0xF0
        static let getID: UInt8 = 0xF2, sampleRate: UInt8 = 0xF3, enable: UInt8 = 0xF4
        static let disable: UInt8 = 0xF5, setDefaults: UInt8 = 0xF6, resend: UInt8 = 0xFE
        static let reset: UInt8 = 0xFF
    }
    /// Bytes a PS/2 device holds before host input is dropped (responses always fit: each guest
    /// byte adds at most 4, and the queue is bounded at `queueLimit`).
    static let hostQueueSize = 16
    static let queueLimit = 64

    // MARK: State

    public struct Keyboard: Sendable, Equatable {
        public var queue: [UInt8] = []
        public var scanEnabled = true
        public var scanCodeSet: UInt8 = 2
        public var leds: UInt8 = 0
        public var typematic: UInt8 = 0x2B
        /// Keyboard command waiting for its parameter byte (0xED, 0xF0, 0xF3, 0xFB-0xFD).
        public var pendingCommand: UInt8? = nil
        public var lastSent: UInt8 = Reply.ack
        /// Set-2 → set-1 conversion saw a break prefix (F0) in host input.
        public var set1BreakPending = false
    }
    public struct Mouse: Sendable, Equatable {
        public var queue: [UInt8] = []
        /// PS/2 status byte: bit 6 remote mode, bit 5 reporting enabled, bit 4 scaling 2:1.
        public var status: UInt8 = 0
        public var resolution: UInt8 = 2
        public var sampleRate: UInt8 = 100
        public var wrap = false
        public var buttons: UInt8 = 0
        public var pendingCommand: UInt8? = nil
        public var lastSent: UInt8 = Reply.ack
    }
    public struct State: Sendable, Equatable {
        /// Controller RAM; byte 0 is the command byte.
        public var ram = [UInt8](repeating: 0, count: 32)
        public var outputPort: UInt8 = OutPort.initial
        public var systemFlag = false
        public var lastWriteWasCommand = true
        /// Controller command waiting for its data byte at port 0x60.
        public var pendingCommand: UInt8? = nil
        public var outputBuffer: UInt8 = 0
        public var outputFull = false
        public var outputFromAux = false
        /// Bytes the controller itself produced (command replies, 0xD2/0xD3), with their source.
        public var controllerQueue: [UInt8] = []
        public var controllerQueueAux: [Bool] = []
        /// The controller's set-2 → set-1 translation saw a break prefix (F0).
        public var translateBreakPending = false
        public var keyboard = Keyboard()
        public var mouse = Mouse()
        public var irq1Level = false
        public var irq12Level = false

        public var commandByte: UInt8 {
            get { ram[0] }
            set { ram[0] = newValue }
        }
        public init() { ram[0] = Mode.keyboardInterrupt | Mode.auxInterrupt }
    }
    public var state = State()

    // MARK: Connections

    public var irq1: ((Bool) -> Void)?
    public var irq12: ((Bool) -> Void)?
    public var a20Changed: ((Bool) -> Void)?
    public var resetRequested: (() -> Void)?

    public init() {}

    /// Port 0x60 alone (offset 0 of the view = data register).
    public var dataPort: IODevice { PortView(controller: self, offset: 0) }
    /// Port 0x64 alone (offset 0 of the view = status/command register).
    public var commandPort: IODevice { PortView(controller: self, offset: 4) }

    final class PortView: IODevice {
        let controller: I8042
        let offset: UInt64
        init(controller: I8042, offset: UInt64) { self.controller = controller; self.offset = offset }
        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            offset == 0 ? controller.ioRead(offset: self.offset, size: size) : I8042.allOnes(size)
        }
        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            if offset == 0 { controller.ioWrite(offset: self.offset, size: size, value: value) }
        }
    }

    static func allOnes(_ size: Int) -> UInt64 { size >= 8 || size <= 0 ? ~0 : (1 << (8 * UInt64(size))) - 1 }

    /// Machine reset: the controller and both devices return to power-on state. Lines drop.
    public func reset() {
        state = State()
        irq1?(false)
        irq12?(false)
    }

    // MARK: Port access

    public func ioRead(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case 0: return UInt64(readData())
        case 4: return UInt64(statusRegister)
        default: return I8042.allOnes(size)
        }
    }

    public func ioWrite(offset: UInt64, size: Int, value: UInt64) {
        let v = UInt8(truncatingIfNeeded: value)
        switch offset {
        case 0: writeData(v)
        case 4: writeCommand(v)
        default: break
        }
    }

    public var statusRegister: UInt8 {
        var s = Status.unlocked
        if state.outputFull { s |= Status.outputFull }
        if state.outputFull && state.outputFromAux { s |= Status.auxOutputFull }
        if state.systemFlag { s |= Status.system }
        if state.lastWriteWasCommand { s |= Status.command }
        return s
    }

    /// The output port as the guest reads it (OBF bits follow the output buffer).
    public var outputPortValue: UInt8 {
        var v = state.outputPort & ~(OutPort.keyboardOutputFull | OutPort.auxOutputFull)
        if state.outputFull { v |= state.outputFromAux ? OutPort.auxOutputFull : OutPort.keyboardOutputFull }
        return v
    }

    func readData() -> UInt8 {
        // With nothing new the last byte reads again (as real controllers and QEMU do).
        let v = state.outputBuffer
        guard state.outputFull else { return v }
        state.outputFull = false
        updateIRQ()          // drop the line, so the next byte makes a fresh edge
        refill()
        return v
    }

    func writeData(_ v: UInt8) {
        state.lastWriteWasCommand = false
        if let cmd = state.pendingCommand {
            state.pendingCommand = nil
            switch cmd {
            case Cmd.writeRAMFirst:
                state.commandByte = v
                state.systemFlag = v & Mode.system != 0
            case Cmd.writeRAMFirst + 1...Cmd.writeRAMLast:
                state.ram[Int(cmd & 0x1F)] = v
            case Cmd.writeOutputPort:
                writeOutputPort(v)
            case Cmd.writeKeyboardOutput:
                queueController(v, aux: false)
            case Cmd.writeAuxOutput:
                queueController(v, aux: true)
            case Cmd.writeAux:
                mouseWrite(v)
                // Sending data to the mouse re-enables the aux interface.
                state.commandByte &= ~Mode.auxDisabled
            default:
                break
            }
            refill()
            return
        }
        keyboardWrite(v)
        // Sending data to the keyboard re-enables the keyboard interface.
        state.commandByte &= ~Mode.keyboardDisabled
        refill()
    }

    func writeCommand(_ v: UInt8) {
        state.lastWriteWasCommand = true
        state.pendingCommand = nil
        switch v {
        case Cmd.readRAMFirst...Cmd.readRAMLast:
            queueController(state.ram[Int(v & 0x1F)], aux: false)
        case Cmd.writeRAMFirst...Cmd.writeRAMLast,
             Cmd.writeOutputPort, Cmd.writeKeyboardOutput, Cmd.writeAuxOutput, Cmd.writeAux:
            state.pendingCommand = v
        case Cmd.passwordInstalled:
            queueController(0xF1, aux: false)   // no password installed
        case Cmd.auxDisable:
            state.commandByte |= Mode.auxDisabled
        case Cmd.auxEnable:
            state.commandByte &= ~Mode.auxDisabled
        case Cmd.auxTest, Cmd.keyboardTest:
            queueController(Reply.interfaceOK, aux: false)
        case Cmd.selfTest:
            state.systemFlag = true
            queueController(Reply.selfTestOK, aux: false)
        case Cmd.keyboardDisable:
            state.commandByte |= Mode.keyboardDisabled
        case Cmd.keyboardEnable:
            state.commandByte &= ~Mode.keyboardDisabled
        case Cmd.readInputPort:
            queueController(0x80, aux: false)   // bit 7: keyboard not inhibited
        case Cmd.readOutputPort:
            queueController(outputPortValue, aux: false)
        case Cmd.a20Off:
            state.outputPort &= ~OutPort.a20
            a20Changed?(false)
        case Cmd.a20On:
            state.outputPort |= OutPort.a20
            a20Changed?(true)
        case Cmd.readTestInputs:
            queueController(0x00, aux: false)
        case Cmd.pulseFirst...0xFF:
            if v & OutPort.reset == 0 { resetRequested?() }
        default:
            break   // unknown commands are ignored
        }
        refill()
    }

    func writeOutputPort(_ v: UInt8) {
        state.outputPort = v
        a20Changed?(v & OutPort.a20 != 0)
        if v & OutPort.reset == 0 { resetRequested?() }
    }

    // MARK: Output buffer and interrupts

    func queueController(_ v: UInt8, aux: Bool) {
        guard state.controllerQueue.count < I8042.queueLimit else { return }
        state.controllerQueue.append(v)
        state.controllerQueueAux.append(aux)
    }

    /// Moves the next byte into the empty output buffer: controller bytes first, then the
    /// keyboard, then the mouse; a disabled interface holds its device's bytes back.
    func refill() {
        if !state.outputFull {
            if !state.controllerQueue.isEmpty {
                state.outputBuffer = state.controllerQueue.removeFirst()
                state.outputFromAux = state.controllerQueueAux.removeFirst()
                state.outputFull = true
            } else if state.commandByte & Mode.keyboardDisabled == 0 && !state.keyboard.queue.isEmpty {
                state.outputBuffer = state.keyboard.queue.removeFirst()
                state.outputFromAux = false
                state.outputFull = true
            } else if state.commandByte & Mode.auxDisabled == 0 && !state.mouse.queue.isEmpty {
                state.outputBuffer = state.mouse.queue.removeFirst()
                state.outputFromAux = true
                state.outputFull = true
            }
        }
        updateIRQ()
    }

    func updateIRQ() {
        let mode = state.commandByte
        let kbd = state.outputFull && !state.outputFromAux
            && mode & Mode.keyboardInterrupt != 0 && mode & Mode.keyboardDisabled == 0
        let aux = state.outputFull && state.outputFromAux && mode & Mode.auxInterrupt != 0
        if kbd != state.irq1Level { state.irq1Level = kbd; irq1?(kbd) }
        if aux != state.irq12Level { state.irq12Level = aux; irq12?(aux) }
    }

    // MARK: Keyboard

    /// Set 2 → set 1 translation table of the 8042 (the same table the keyboard uses for set 1).
    static let set2ToSet1: [UInt8] = [
        0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
        0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
        0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
        0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
        0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
        0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
        0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
        0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
        0x80, 0x81, 0x82, 0x41, 0x54, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
        0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
        0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
        0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
        0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
        0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
        0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
        0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
    ]

    /// One step of set-2 → set-1 translation: F0 is swallowed and sets bit 7 of the next code.
    static func translate(_ b: UInt8, breakPending: inout Bool) -> UInt8? {
        if b == 0xF0 { breakPending = true; return nil }
        let t = set2ToSet1[Int(b)]
        if breakPending { breakPending = false; return t | 0x80 }
        return t
    }

    var translating: Bool { state.commandByte & Mode.translate != 0 }

    /// Host key input in scan code set 2. Returns false when the keyboard is not scanning or
    /// its queue is full (the whole sequence is then dropped, as a real keyboard overruns).
    @discardableResult
    public func sendScancodes(_ set2: [UInt8]) -> Bool {
        guard state.keyboard.scanEnabled, !set2.isEmpty else { return false }
        var keyboardBytes: [UInt8] = []
        if state.keyboard.scanCodeSet == 1 {
            for b in set2 {
                if let t = I8042.translate(b, breakPending: &state.keyboard.set1BreakPending) { keyboardBytes.append(t) }
            }
        } else {
            keyboardBytes = set2
        }
        var out: [UInt8] = []
        if translating {
            var pending = state.translateBreakPending
            for b in keyboardBytes {
                if let t = I8042.translate(b, breakPending: &pending) { out.append(t) }
            }
            guard state.keyboard.queue.count + out.count <= I8042.hostQueueSize else { return false }
            state.translateBreakPending = pending
        } else {
            out = keyboardBytes
            guard state.keyboard.queue.count + out.count <= I8042.hostQueueSize else { return false }
        }
        state.keyboard.queue.append(contentsOf: out)
        refill()
        return true
    }

    func keyboardReply(_ bytes: UInt8...) {
        for b in bytes where state.keyboard.queue.count < I8042.queueLimit {
            state.keyboard.queue.append(b)
            state.keyboard.lastSent = b
        }
    }

    func keyboardDefaults() {
        state.keyboard.scanCodeSet = 2
        state.keyboard.leds = 0
        state.keyboard.typematic = 0x2B
        state.keyboard.queue.removeAll()
        state.keyboard.set1BreakPending = false
        state.translateBreakPending = false
    }

    /// A byte from the host to the keyboard (port 0x60 write with no controller command pending).
    func keyboardWrite(_ v: UInt8) {
        if let cmd = state.keyboard.pendingCommand {
            state.keyboard.pendingCommand = nil
            switch cmd {
            case KbdCmd.setLEDs:
                state.keyboard.leds = v & 0x07
                keyboardReply(Reply.ack)
            case KbdCmd.scanCodeSet:
                switch v {
                case 0:
                    let set = state.keyboard.scanCodeSet
                    keyboardReply(Reply.ack, translating ? I8042.set2ToSet1[Int(set)] : set)
                case 1...3:
                    state.keyboard.scanCodeSet = v
                    keyboardReply(Reply.ack)
                default:
                    keyboardReply(Reply.resend)
                }
            case KbdCmd.typematic:
                state.keyboard.typematic = v & 0x7F
                keyboardReply(Reply.ack)
            default:   // 0xFB-0xFD: per-key types in set 3, one key code each
                keyboardReply(Reply.ack)
            }
            return
        }
        switch v {
        case KbdCmd.setLEDs, KbdCmd.scanCodeSet, KbdCmd.typematic, 0xFB, 0xFC, 0xFD:
            state.keyboard.pendingCommand = v
            keyboardReply(Reply.ack)
        case KbdCmd.echo:
            keyboardReply(Reply.echo)
        case KbdCmd.identify:
            keyboardReply(Reply.ack, Reply.keyboardID, translating ? 0x41 : 0x83)
        case KbdCmd.enable:
            state.keyboard.scanEnabled = true
            keyboardReply(Reply.ack)
        case KbdCmd.disable:
            keyboardDefaults()
            state.keyboard.scanEnabled = false
            keyboardReply(Reply.ack)
        case KbdCmd.setDefaults:
            keyboardDefaults()
            state.keyboard.scanEnabled = true
            keyboardReply(Reply.ack)
        case 0xF7, 0xF8, 0xF9, 0xFA:   // set 3: all keys typematic / make-break / make / all
            keyboardReply(Reply.ack)
        case KbdCmd.resend:
            keyboardReply(state.keyboard.lastSent)
        case KbdCmd.reset:
            keyboardDefaults()
            state.keyboard.scanEnabled = true
            keyboardReply(Reply.ack, Reply.selfTestPassed)
        default:
            keyboardReply(Reply.resend)
        }
    }

    // MARK: Mouse

    func mouseReply(_ bytes: UInt8...) {
        for b in bytes where state.mouse.queue.count < I8042.queueLimit {
            state.mouse.queue.append(b)
            state.mouse.lastSent = b
        }
    }

    func mouseDefaults() {
        state.mouse.status = 0
        state.mouse.resolution = 2
        state.mouse.sampleRate = 100
    }

    /// Host mouse motion: dx to the right, dy upward (PS/2 convention), buttons bit 0 left,
    /// bit 1 right, bit 2 middle. Dropped unless the guest enabled stream-mode reporting.
    @discardableResult
    public func mouseMove(dx: Int, dy: Int, buttons: UInt8) -> Bool {
        state.mouse.buttons = buttons & 0x07
        guard state.mouse.status & 0x60 == 0x20, !state.mouse.wrap,
              state.mouse.queue.count + 3 <= I8042.hostQueueSize else { return false }
        state.mouse.queue.append(contentsOf: mousePacket(dx: dx, dy: dy))
        refill()
        return true
    }

    func mousePacket(dx: Int, dy: Int) -> [UInt8] {
        let x = max(-255, min(255, dx)), y = max(-255, min(255, dy))
        var b0: UInt8 = 0x08 | state.mouse.buttons
        if x < 0 { b0 |= 0x10 }
        if y < 0 { b0 |= 0x20 }
        return [b0, UInt8(truncatingIfNeeded: x), UInt8(truncatingIfNeeded: y)]
    }

    /// A byte for the mouse (controller command 0xD4 then a data byte).
    func mouseWrite(_ v: UInt8) {
        if state.mouse.wrap && v != AuxCmd.resetWrap && v != AuxCmd.reset {
            mouseReply(v)
            return
        }
        if let cmd = state.mouse.pendingCommand {
            state.mouse.pendingCommand = nil
            if cmd == AuxCmd.setResolution { state.mouse.resolution = v & 3 } else { state.mouse.sampleRate = v }
            mouseReply(Reply.ack)
            return
        }
        switch v {
        case AuxCmd.scale11: state.mouse.status &= ~0x10; mouseReply(Reply.ack)
        case AuxCmd.scale21: state.mouse.status |= 0x10; mouseReply(Reply.ack)
        case AuxCmd.setResolution, AuxCmd.sampleRate:
            state.mouse.pendingCommand = v
            mouseReply(Reply.ack)
        case AuxCmd.statusRequest:
            // Status byte: mode bits plus buttons as left=bit 2, middle=bit 1, right=bit 0.
            let b = state.mouse.buttons
            let buttons: UInt8 = (b & 1) << 2 | (b & 4) >> 1 | (b & 2) >> 1
            mouseReply(Reply.ack, state.mouse.status | buttons, state.mouse.resolution, state.mouse.sampleRate)
        case AuxCmd.streamMode: state.mouse.status &= ~0x40; mouseReply(Reply.ack)
        case AuxCmd.readData:
            mouseReply(Reply.ack)
            for b in mousePacket(dx: 0, dy: 0) { mouseReply(b) }
        case AuxCmd.resetWrap: state.mouse.wrap = false; mouseReply(Reply.ack)
        case AuxCmd.wrapMode: state.mouse.wrap = true; mouseReply(Reply.ack)
        case AuxCmd.remoteMode: state.mouse.status |= 0x40; mouseReply(Reply.ack)
        case AuxCmd.getID: mouseReply(Reply.ack, 0x00)
        case AuxCmd.enable: state.mouse.status |= 0x20; mouseReply(Reply.ack)
        case AuxCmd.disable: state.mouse.status &= ~0x20; mouseReply(Reply.ack)
        case AuxCmd.setDefaults: mouseDefaults(); mouseReply(Reply.ack)
        case AuxCmd.resend: mouseReply(state.mouse.lastSent)
        case AuxCmd.reset:
            mouseDefaults()
            state.mouse.wrap = false
            state.mouse.queue.removeAll()
            mouseReply(Reply.ack, Reply.selfTestPassed, 0x00)
        default:
            mouseReply(Reply.resend)
        }
    }
}
