import CPU
import JIT
import CPUState
import Devices
#if canImport(Glibc)
import Glibc
#endif

/// What the user asked for: RAM, firmware or a kernel, disks, clock, reboot policy.
public struct MachineConfig: Sendable {
    public var ramMiB = 512
    /// Direct boot: a bzImage or multiboot kernel, its initrd/module and command line.
    public var kernel: String?
    public var initrd: String?
    public var append = ""
    /// Firmware image (SeaBIOS); nil = the Debian package's, when booting from disk.
    public var bios: String?
    /// Clock: deterministic (1 ns per guest instruction) or host real time.
    public var deterministic = false
    /// A guest reboot ends the run instead of restarting the machine.
    public var noReboot = false
    /// Raw disk images: primary master, primary slave, secondary master, secondary slave.
    public var disks: [String] = []
    /// How guest writes reach the disk files.
    public var diskMode: RawDisk.Mode = .readWrite
    public init() {}

    public static let minRAMMiB = 16
    public static let maxRAMMiB = 65536
    /// Where the Debian `seabios` package installs the firmware.
    public static let defaultBIOSPaths = ["/usr/share/seabios/bios-256k.bin", "/usr/share/seabios/bios.bin"]
}

/// Why a PC run ended.
public enum PCExit: Equatable, Sendable {
    case powerOff                // the guest switched the machine off (ACPI S5)
    case reset                   // the guest rebooted and `noReboot` was set
    case shutdown                // triple fault with `noReboot`
    case exitPort(Int32)         // the guest wrote the debug-exit port 0xF4
    case hung                    // HLT with interrupts disabled and nothing that could wake it
    case instructionLimit
    case quit                    // the user asked to quit (Ctrl-A X)
    case acceleratorError(String) // the accelerator (KVM) cannot go on: one line saying why
}

/// The PC: i440FX/PIIX3 chipset with legacy devices, as the `pc` machine of QEMU.
///
/// Memory map: RAM at 0-lowRAMEnd (the part above 0xE000_0000 moves to 4 GiB), legacy VGA
/// hole 0xA0000-0xBFFFF, the 0xC0000-0xFFFFF shadow segments under PAM control (BIOS boot),
/// firmware ROM just below 4 GiB. Ports: PIC 0x20/0xA0/0x4D0, PIT 0x40, port B 0x61, i8042
/// 0x60/0x64, RTC 0x70, port 0x92, COM1 0x3F8 (IRQ4), COM2 0x2F8 (IRQ3), PCI 0xCF8,
/// fw_cfg 0x510, debug console 0x402, exit port 0xF4, POST port 0x80, IDE 0x1F0/0x3F6 (IRQ 14)
/// and 0x170/0x376 (IRQ 15), ACPI PM (PMBASE), APM 0xB2, VGA 0x3B0-0x3DF and
/// Bochs VBE 0x1CE (legacy window 0xA0000-0xBFFFF).
public final class PCMachine {
    public let config: MachineConfig
    public let memory: PhysicalMemory
    public let ports: PortBus
    public let cpu: CPU
    public let clock: Clock
    public let pic = PIC8259()
    public let pit: PIT8254
    public let portB: SystemControlPortB
    public let rtc: RTC
    public let kbc = I8042()
    public let port92 = SystemControlPort()
    public let pci = PCIHost()
    public let fwcfg: FwCfg
    public let com1: UART16550
    public let com2: UART16550
    public let exitDevice = DebugExit()
    public let vga = VGA(vramSize: 16 << 20)
    public let lapic: LAPIC
    public let pm: PIIX4PM
    public let ide = [ATAChannel(), ATAChannel()]
    public let ioapic = IOAPIC()

    /// Firmware log (port 0x402/0xE9); nil discards it.
    public var firmwareLog: ((UInt8) -> Void)?
    /// Called between slices of guest execution (about every millisecond of host time):
    /// the frontend feeds console input here and may return `.quit`.
    public var poll: (() -> PCExit?)?
    /// Set by `useKVM`: the machine runs on /dev/kvm instead of the interpreter.
    public internal(set) var kvm: KVMAccelerator?
    /// Set by `useJIT`: the machine runs on the block translator instead of the interpreter.
    public internal(set) var jit: JITEngine?

    /// Runs the CPU on the block translator (`--accel tcg`). Device DMA and loader writes reach
    /// it through PhysicalMemory's write hooks.
    public func useJIT() throws {
        jit = try JITEngine(cpu: cpu)
    }

    private var kernelImage: [UInt8]?
    private var kernelFormat: KernelFormat?
    private var initrdImage: [UInt8]?
    private var biosImage: [UInt8]?
    private var pendingExit: PCExit?
    private var resetPending = false
    private var a20Keyboard = true
    private var a20Port92 = false
    private var isaLevels = [Bool](repeating: false, count: 16)

    public init(config: MachineConfig, serial: @escaping (UInt8) -> Void) throws {
        self.config = config
        guard config.ramMiB >= MachineConfig.minRAMMiB && config.ramMiB <= MachineConfig.maxRAMMiB else {
            throw UserError("emu: RAM size \(config.ramMiB) MiB is out of range; give --ram between \(MachineConfig.minRAMMiB) and \(MachineConfig.maxRAMMiB)")
        }
        // Inputs first, so a bad file fails before anything is built.
        guard config.disks.count <= 4 else { throw UserError("emu: at most 4 disk images (two IDE channels, master and slave)") }
        var opened: [RawDisk] = []
        for path in config.disks {
            do { opened.append(try RawDisk(path: path, mode: config.diskMode)) } catch let e as DiskError { throw UserError(e.description) }
        }
        if let k = config.kernel {
            let img = try readUserFile(k, what: "kernel", maxSize: 256 << 20)
            kernelFormat = try KernelFormat.detect(img, path: k)
            kernelImage = img
            if let i = config.initrd { initrdImage = try readUserFile(i, what: "initrd", maxSize: 2048 << 20) }
        } else {
            if config.initrd != nil { throw UserError("emu: --initrd needs --kernel") }
            let path: String
            if let b = config.bios { path = b } else {
                guard let found = MachineConfig.defaultBIOSPaths.first(where: { access($0, R_OK) == 0 }) else {
                    throw UserError("emu: no firmware found at \(MachineConfig.defaultBIOSPaths[0]); install Debian's 'seabios' package or give --bios FILE")
                }
                path = found
            }
            let img = try readUserFile(path, what: "firmware", maxSize: 16 << 20)
            guard img.count >= 64 * 1024, img.count % 65536 == 0 else {
                throw UserError("emu: firmware '\(path)' is \(img.count) bytes; give a BIOS image that is a multiple of 64 KiB (e.g. bios-256k.bin)")
            }
            biosImage = img
        }

        memory = PhysicalMemory(ramSize: UInt64(config.ramMiB) << 20)
        ports = PortBus()
        cpu = CPU(memory: memory, ports: ports)
        if config.deterministic { cpu.randomSeed = 0x656D_7520_7264_7261 }   // RDRAND/RDSEED reproducible
        clock = Clock(mode: config.deterministic ? .deterministicDefault : .realTime)
        pit = PIT8254(clock: clock)
        portB = SystemControlPortB(pit: pit)
        rtc = RTC(clock: clock)
        fwcfg = FwCfg(memory: memory)
        com1 = UART16550(output: serial)
        com2 = UART16550(output: { _ in })
        lapic = LAPIC(clock: clock)
        pm = PIIX4PM(clock: clock)
        for (i, d) in opened.enumerated() { ide[i / 2].attach(d, slave: i % 2 == 1) }
        try wire()
        try powerOn()
    }

    // MARK: wiring

    private func wire() throws {
        let cpu = self.cpu, clock = self.clock
        clock.instructionCounter = { cpu.s.pointee.icount }
        cpu.tscSource = { clock.now }        // 1 GHz TSC in both clock modes

        try ports.register(pic.masterPorts, base: 0x20, count: 2, name: "pic-master")
        try ports.register(pic.slavePorts, base: 0xA0, count: 2, name: "pic-slave")
        try ports.register(pic.elcrPorts, base: 0x4D0, count: 2, name: "elcr")
        try ports.register(pit, base: 0x40, count: 4, name: "pit")
        try ports.register(portB, base: 0x61, count: 1, name: "port-b")
        try ports.register(kbc.dataPort, base: 0x60, count: 1, name: "i8042-data")
        try ports.register(kbc.commandPort, base: 0x64, count: 1, name: "i8042-command")
        try ports.register(rtc, base: 0x70, count: 2, name: "rtc")
        try ports.register(port92, base: 0x92, count: 1, name: "port92")
        try ports.register(pci, base: 0xCF8, count: 8, name: "pci")
        try ports.register(fwcfg, base: 0x510, count: 12, name: "fw_cfg")
        try ports.register(com1, base: 0x3F8, count: 8, name: "com1")
        try ports.register(com2, base: 0x2F8, count: 8, name: "com2")
        try ports.register(exitDevice, base: 0xF4, count: 1, name: "debug-exit")
        try ports.register(PortSink(), base: 0x80, count: 1, name: "post")
        try ports.register(ide[0].commandBlock, base: 0x1F0, count: 8, name: "ide0")
        try ports.register(ide[0].controlBlock, base: 0x3F6, count: 1, name: "ide0-control")
        try ports.register(ide[1].commandBlock, base: 0x170, count: 8, name: "ide1")
        try ports.register(ide[1].controlBlock, base: 0x376, count: 1, name: "ide1-control")
        ide[0].memory = memory; ide[1].memory = memory
        // Bus-master DMA registers follow BAR4 of the IDE function (8 ports per channel).
        let ideFn = PCIHost.Chipset.ide
        pci.setWriteHook(device: ideFn.device, function: ideFn.function) { [unowned self] _, _, _ in self.mapBusMaster() }
        ide[0].irq = { [unowned self] l in self.setISAIRQ(14, l) }
        ide[1].irq = { [unowned self] l in self.setISAIRQ(15, l) }
        try ports.register(vga.ports, base: 0x3B0, count: 48, name: "vga")
        try ports.register(vga.vbePorts, base: 0x1CE, count: 2, name: "vga-vbe")
        try memory.mapMMIO(at: 0xA_0000, size: 0x2_0000, name: "vga-window", device: vga.memoryWindow)
        let log = DebugConsole(sink: { [unowned self] b in self.firmwareLog?(b) })
        try ports.register(log, base: 0x402, count: 1, name: "debugcon")
        try ports.register(DebugConsole(sink: { [unowned self] b in self.firmwareLog?(b) }), base: 0xE9, count: 1, name: "debugcon-e9")

        // Interrupts: 8259 → LAPIC LINT0 (virtual wire, ExtINT) → CPU INTR; the IOAPIC sends
        // messages to the LAPIC; level-triggered EOIs are broadcast back to the IOAPIC.
        try memory.mapMMIO(at: 0xFEE0_0000, size: 0x1000, name: "lapic", device: lapic)
        try memory.mapMMIO(at: 0xFEC0_0000, size: 0x1000, name: "ioapic", device: ioapic)
        let lapic = self.lapic, ioapic = self.ioapic, pic = self.pic
        pic.output = { [unowned lapic] level in lapic.setPICOutput(level) }
        lapic.output = { [unowned cpu] level in cpu.setInterruptRequest(level) }
        lapic.picAcknowledge = { [unowned pic] in pic.acknowledge() ?? 0 }
        lapic.nmi = { [unowned cpu] in cpu.requestNMI() }
        lapic.onLevelEOI = { [unowned ioapic] v in ioapic.eoi(vector: v) }
        lapic.tscNow = { [unowned cpu] in cpu.guestTSC }
        ioapic.deliver = { [unowned lapic] dest, logical, mode, vector, level in
            if lapic.matchesDestination(dest, logical: logical) {
                lapic.deliver(vector: vector, deliveryMode: mode, level: true, triggerLevel: level)
            }
        }
        cpu.acknowledgeInterrupt = { [unowned lapic] in lapic.acknowledge() }
        cpu.platform = self
        cpu.cpuid.set(.apic, true)
        cpu.cpuid.set(.tscDeadline, true)
        cpu.cpuid.set(.arat, true)
        pit.irq0 = { [unowned self] l in self.setISAIRQ(0, l) }
        rtc.irq = { [unowned self] l in self.setISAIRQ(8, l) }
        kbc.irq1 = { [unowned self] l in self.setISAIRQ(1, l) }
        kbc.irq12 = { [unowned self] l in self.setISAIRQ(12, l) }
        com1.irq = { [unowned self] l in self.setISAIRQ(4, l) }
        com2.irq = { [unowned self] l in self.setISAIRQ(3, l) }
        kbc.a20Changed = { [unowned self] on in self.a20Keyboard = on; self.updateA20() }
        port92.a20Changed = { [unowned self] on in self.a20Port92 = on; self.updateA20() }
        let requestReset: () -> Void = { [unowned self] in
            self.resetPending = true
            self.cpu.s.pointee.exit_request = 1
        }
        kbc.resetRequested = requestReset
        port92.resetRequested = requestReset
        pci.resetRequested = requestReset
        pci.onPAMChange = { [unowned self] segs in self.applyPAM(segs) }
        // ACPI PM block: wherever PCI config of the PIIX4 PM function puts it.
        try ports.register(pm.apm, base: 0xB2, count: 2, name: "apm")
        try ports.register(pm.gpe0, base: 0xAFE0, count: 4, name: "acpi-gpe0")
        pci.onPMIOChange = { [unowned self] base in
            self.ports.unregister(self.pm)
            if let base { try? self.ports.register(self.pm, base: base, count: PIIX4PM.ioSize, name: "acpi-pm") }
        }
        pm.sci = { [unowned self] l in self.setISAIRQ(9, l) }
        pm.onPowerOff = { [unowned self] in
            self.pendingExit = .powerOff
            self.cpu.s.pointee.exit_request = 1
        }
        exitDevice.onExit = { [unowned self] status in
            self.pendingExit = .exitPort(status)
            self.cpu.s.pointee.exit_request = 1
        }
    }

    /// An ISA interrupt line changed (PIC input; the IOAPIC joins here).
    public func setISAIRQ(_ n: Int, _ level: Bool) {
        guard n >= 0 && n < 16 else { return }
        isaLevels[n] = level
        pic.setIRQ(n == 2 ? 9 : n, level)
        ioapic.setIRQ(n == 0 ? 2 : n, level)      // ISA IRQ0 is IOAPIC pin 2 (MADT override)
    }

    private func mapBusMaster() {
        ports.unregister(ide[0].busMaster)
        ports.unregister(ide[1].busMaster)
        let f = PCIHost.Chipset.ide
        guard let base = pci.config(device: f.device, function: f.function)?.barAddress(4),
              base > 0, base + 16 <= 0x1_0000 else { return }
        try? ports.register(ide[0].busMaster, base: UInt16(base), count: 8, name: "ide0-busmaster")
        try? ports.register(ide[1].busMaster, base: UInt16(base + 8), count: 8, name: "ide1-busmaster")
    }

    private func updateA20() {
        let on = a20Keyboard || a20Port92
        memory.a20Mask = on ? ~0 : ~UInt64(1 << 20)
        cpu.flushTLB()
    }

    private func applyPAM(_ segs: [PAMSegment]) {
        guard let bios = memory.romPointer(named: "bios"), let image = biosImage else { return }
        // The last 128 KiB of the image (all of a smaller one) appear just below 1 MiB; a 64 KiB
        // image covers 0xF0000 only and the E segment reads as nothing (all ones).
        let aliasSize = min(image.count, 0x2_0000)
        let aliasBase = 0x10_0000 - UInt64(aliasSize)
        let lowAlias = bios + (image.count - aliasSize)
        for seg in segs {
            let src: UnsafeMutablePointer<UInt8>? = seg.base >= aliasBase && seg.base + seg.size <= 0x10_0000
                ? lowAlias + Int(seg.base - aliasBase) : nil
            memory.setShadow(base: seg.base, size: seg.size, readRAM: seg.readRAM, writeRAM: seg.writeRAM, romSource: src)
        }
        cpu.flushTLB()
    }

    // MARK: memory map

    /// The e820 map the loaders and firmware tables report.
    public var e820: [E820Entry] {
        var m: [E820Entry] = [
            E820Entry(base: 0, length: 0x9_FC00, kind: .ram),
            E820Entry(base: 0x9_FC00, length: 0x400, kind: .reserved),
            E820Entry(base: 0xE_0000, length: 0x2_0000, kind: .reserved),
            E820Entry(base: 0x10_0000, length: memory.lowRAMEnd - 0x10_0000, kind: .ram),
        ]
        if memory.ramSize > memory.lowRAMEnd {
            m.append(E820Entry(base: 0x1_0000_0000, length: memory.ramSize - memory.lowRAMEnd, kind: .ram))
        }
        m.append(E820Entry(base: 0xFEC0_0000, length: 0x1000, kind: .reserved))
        m.append(E820Entry(base: 0xFEE0_0000, length: 0x1000, kind: .reserved))
        m.append(E820Entry(base: 0xFFFC_0000, length: 0x4_0000, kind: .reserved))
        return m
    }

    // MARK: power

    /// Builds the power-on state: CMOS, fw_cfg, firmware or the direct-boot kernel.
    private var builtOnce = false
    private func powerOn() throws {
        defer { builtOnce = true }
        let low = memory.lowRAMEnd, high = memory.ramSize - memory.lowRAMEnd
        rtc.setMemorySizes(belowFourGiB: low, aboveFourGiB: high)
        rtc.setCPUCount(1)
        rtc.setEquipment(floppies: 0, fpu: true, ps2Mouse: true)
        rtc.setBootOrder([.hardDisk, .cdrom, .network])
        rtc.updateChecksum()
        fwcfg.setRAMSize(memory.ramSize)
        fwcfg.setCPUCount(1)
        fwcfg.setBootMenu(false)
        if !builtOnce { try addFirmwareFiles() }
        if let bios = biosImage {
            if !builtOnce { try memory.mapROM(at: 0x1_0000_0000 - UInt64(bios.count), data: bios, name: "bios") }
            applyPAM(pci.pamSegments)
            cpu.reset()
            a20Keyboard = true; a20Port92 = false
            updateA20()
            return
        }
        try loadKernel()
    }

    private func addFirmwareFiles() throws {
        try fwcfg.addFile("etc/sercon-port", FwCfg.le(0x3F8, 2))
        try fwcfg.addFile("etc/e820", e820.flatMap { e -> [UInt8] in
            FwCfg.le(e.base, 8) + FwCfg.le(e.length, 8) + FwCfg.le(UInt64(e.kind.rawValue), 4)
        })
    }

    /// Direct boot: ACPI tables, then the kernel and its boot information, CPU at its entry.
    private func loadKernel() throws {
        guard let image = kernelImage, let format = kernelFormat, let path = config.kernel else { return }
        a20Keyboard = true
        updateA20()
        // No firmware: we are the BIOS. PM block at 0x600 (as SeaBIOS/QEMU), ACPI tables at 0xE0000.
        var acpi = DirectBootACPI.Config()
        acpi.pciHoleStart = UInt32(min(max(memory.lowRAMEnd, 0x1000_0000), 0xE000_0000))
        let pmFn = PCIHost.Chipset.acpi
        pci.writeConfig(device: pmFn.device, function: pmFn.function, offset: PCIHost.Chipset.pmBase, size: 4, value: UInt32(acpi.pmBase) | 1)
        pci.writeConfig(device: pmFn.device, function: pmFn.function, offset: PCIHost.Chipset.pmRegMisc, size: 1, value: 1)
        let tables = DirectBootACPI.build(acpi)
        tables.bytes.withUnsafeBytes { _ = memory.writeBytes(acpi.base, $0) }
        switch format {
        case .bzImage:
            _ = try LinuxLoader.load(image: image, initrd: initrdImage, cmdline: config.append, kernelPath: path,
                                     e820: e820, rsdp: tables.rsdp, mem: memory, cpu: cpu)
        case .multiboot(let off):
            try Multiboot.load(image: image, headerOffset: off, initrd: initrdImage, cmdline: config.append,
                               kernelPath: path, e820: e820, mem: memory, cpu: cpu)
        }
    }

    /// Machine reset: devices to power-on state, RAM cleared, firmware or kernel reloaded.
    public func reset() throws {
        memory.clearRAM()
        pic.reset(); pit.reset(); kbc.reset(); port92.reset(); pci.reset(); fwcfg.reset(); vga.reset()
        lapic.reset(); ioapic.reset(); pm.reset(); ide[0].reset(); ide[1].reset(); com1.reset(); com2.reset()
        isaLevels = [Bool](repeating: false, count: 16)
        let retired = cpu.s.pointee.icount       // the instruction count (and clock) run on
        cpu.reset()
        cpu.s.pointee.icount = retired
        try powerOn()
    }

    // MARK: run loop

    /// Instructions per slice between timer checks in real-time mode: small enough (well
    /// under a millisecond at interpreter speed) that periodic timer ticks are not coalesced.
    public var sliceInstructions = 20_000

    /// Runs the guest until it powers off, exits, hangs, the user quits, or the budget ends.
    public func run(maxInstructions: UInt64 = .max) -> PCExit {
        if let kvm { return runOnKVM(kvm) }
        let start = cpu.s.pointee.icount
        while true {
            switch beginSlice() {
            case .stop(let e): return e
            case .again: continue
            case .run: break
            }
            let used = cpu.s.pointee.icount &- start
            if used >= maxInstructions { return .instructionLimit }
            var budget = UInt64(sliceInstructions)
            if let dl = clock.nextDeadline, let n = clock.instructionsUntil(dl) { budget = min(budget, n) }
            budget = min(budget, maxInstructions - used)
            let r = jit?.run(budget: Int(budget)) ?? cpu.run(budget: Int(budget))
            // A halted CPU with no timer deadline on the deterministic clock cannot be woken.
            if let e = endSlice(r, hungWithoutDeadline: clock.isDeterministic && poll == nil) { return e }
        }
    }

    enum SliceStart { case run, again, stop(PCExit) }

    /// The start of a run-loop slice (either accelerator): a pending exit ends the run; a pending
    /// reset restarts the machine, or ends the run with `.reset` under `noReboot`.
    func beginSlice() -> SliceStart {
        if let e = pendingExit { pendingExit = nil; return .stop(e) }
        if resetPending {
            resetPending = false
            if config.noReboot { return .stop(.reset) }
            do { try reset() } catch { return .stop(.reset) }
            return .again
        }
        return .run
    }

    /// The end of a run-loop slice (either accelerator): due device events, the console, then
    /// what the CPU stopped for. Shutdown resets (or ends under `noReboot`); HLT waits for the
    /// next timer deadline, or briefly in real time, and is a hang when nothing can wake it.
    /// nil: go on with the next slice.
    func endSlice(_ r: StopReason, hungWithoutDeadline: Bool) -> PCExit? {
        clock.runDue()
        if let p = poll?() { return p }
        switch r {
        case .budget, .exitRequest:
            return nil
        case .shutdown:
            if config.noReboot { return .shutdown }
            resetPending = true
        case .halted:
            let canWake = cpu.flag(FlagBit.IF) || cpu.s.pointee.nmi_pending != 0
            if !canWake { return .hung }
            if let dl = clock.nextDeadline {
                clock.idle(until: dl)
                clock.runDue()
            } else if hungWithoutDeadline {
                return .hung
            } else {
                var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
                _ = nanosleep(&ts, nil)
            }
        }
        return nil
    }
}

// MARK: KVM

extension PCMachine {
    /// Moves the machine onto /dev/kvm: the same RAM mapping, port bus, MMIO regions and
    /// devices (userspace irqchip: our PIC/IOAPIC/LAPIC stay the interrupt controllers). The
    /// CPU state carries over, so this can happen before boot or in the middle of a run.
    /// `strict`: stop on an instruction KVM's own emulator cannot run instead of running it on
    /// the interpreter.
    public func useKVM(strict: Bool = false) throws(KVMError) {
        let k = try KVMAccelerator(memory: memory, ports: ports, cpu: cpu)
        k.interpreterAssist = !strict
        kvm = k
    }

    /// The run loop on KVM: the vCPU runs until the next timer deadline (a POSIX timer kicks it
    /// out of KVM_RUN), then due device events fire and the console is polled, as on TCG. Time
    /// is host real time (the deterministic clock needs retired-instruction counts KVM does
    /// not give).
    func runOnKVM(_ kvm: KVMAccelerator) -> PCExit {
        while true {
            switch beginSlice() {
            case .stop(let e): return e
            case .again: continue
            case .run: break
            }
            var sliceNs: UInt64 = 10_000_000
            if let dl = clock.nextDeadline {
                let now = clock.now
                sliceNs = dl > now ? min(sliceNs, dl - now) : 0
            }
            let r: StopReason
            do {
                try kvm.syncMemorySlots()
                r = sliceNs == 0 ? .budget : try kvm.run(timeout: Double(sliceNs) / 1e9)
            } catch let e as KVMRunError {
                return .acceleratorError(e.description)
            } catch {
                return .acceleratorError("kvm: \(error)")
            }
            if let e = endSlice(r, hungWithoutDeadline: false) { return e }
        }
    }
}

extension PCMachine: CPUPlatform {
    public static let tscDeadlineMSR: UInt32 = 0x6E0
    public func readCR8() -> UInt64 { lapic.cr8 }
    public func writeCR8(_ v: UInt64) { lapic.cr8 = v }
    public func readMSR(_ index: UInt32) -> UInt64? {
        index == PCMachine.tscDeadlineMSR ? lapic.readTSCDeadline() : nil
    }
    public func writeMSR(_ index: UInt32, _ v: UInt64) -> Bool {
        guard index == PCMachine.tscDeadlineMSR else { return false }
        lapic.writeTSCDeadline(v)
        return true
    }
    public func apicBaseChanged(_ v: UInt64) { lapic.setAPICBase(v) }
}

/// Accepts and ignores writes, reads all-ones (POST code port 0x80, used by Linux as I/O delay).
final class PortSink: IODevice {
    func ioRead(offset: UInt64, size: Int) -> UInt64 { size >= 8 ? ~0 : (1 << (8 * UInt64(size))) - 1 }
    func ioWrite(offset: UInt64, size: Int, value: UInt64) {}
}
