import ArgumentParser
import CPU
import JIT
import Machine
import DiffTest
#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses of emu itself (the guest's exit port gives odd numbers: (v << 1) | 1).
enum EmuStatus {
    static let userError: Int32 = 2
    static let tripleFault: Int32 = 4
    static let hung: Int32 = 6
    static let limit: Int32 = 8
    static let accelerator: Int32 = 10
}

/// `--accel`: what runs the guest CPU.
enum AccelChoice: String, ExpressibleByArgument, CaseIterable {
    case tcg, interp, kvm, auto
}

struct AccelOptions: ParsableArguments {
    @Option(help: "Accelerator: tcg (the block translator, default), interp (the reference interpreter), kvm (/dev/kvm), auto (kvm when usable, else tcg).")
    var accel: AccelChoice = .tcg

    @Flag(help: "With --accel kvm: stop with an error line when the host kernel's instruction emulator cannot run an instruction, instead of running that instruction on the interpreter.")
    var kvmStrict = false

    /// True when the run should use KVM; prints one line and exits 2 when KVM was asked for
    /// explicitly but is unusable; says which one `auto` picked.
    func wantsKVM() throws -> Bool {
        switch accel {
        case .tcg, .interp: return false
        case .kvm:
            if let why = KVMSystem.unavailableReason() {
                eprint("emu: --accel kvm: \(why); use --accel tcg (or auto) on this host")
                throw ExitCode(EmuStatus.userError)
            }
            return true
        case .auto:
            if let why = KVMSystem.unavailableReason() {
                eprint("emu: accelerator: tcg (kvm not usable: \(why))")
                return false
            }
            eprint("emu: accelerator: kvm")
            return true
        }
    }
}

/// Prints stats of the KVM accelerator (exits, interpreter-assisted instructions).
func printKVMStats(_ k: KVMAccelerator) {
    let exits = k.exitCounts.values.reduce(0, +)
    eprint("emu: kvm: \(exits) exits, \(k.assistedInstructions) instructions run on the interpreter for the host's instruction emulator")
}

struct Emu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emu",
        abstract: "A full-system x86-64 emulator.",
        subcommands: [Boot.self, RunROM.self, Decode.self, DiffTestCommand.self])
}

struct RunROM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-rom",
        abstract: "Run a raw ROM image mapped at the reset vector (F000:FFF0). COM1 prints to stdout; a write of v to port 0xF4 exits with status (v<<1)|1.")

    @Argument(help: "Raw ROM image (at most 1 MiB); its last 16 bytes hold the reset vector.")
    var rom: String

    @Option(help: "Guest RAM in MiB.")
    var ram: Int = 32

    @Option(help: "Stop after this many guest instructions (exit status 8).")
    var maxInstructions: UInt64 = UInt64.max

    @Flag(help: "Print instruction and exception counts to stderr at exit.")
    var stats = false

    @Flag(help: "Trace every instruction (CS:RIP and mnemonic) and exception to stderr.")
    var trace = false

    @OptionGroup var accel: AccelOptions

    func run() throws {
        let useKVM = try accel.wantsKVM()
        let image: [UInt8]
        let machine: ROMMachine
        do {
            image = try ROMMachine.loadROM(path: rom)
            machine = try ROMMachine(rom: image, ramMiB: ram, output: { b in
                var c = b
                _ = write(1, &c, 1)
            })
        } catch let e as UserError {
            eprint(e.description)
            throw ExitCode(EmuStatus.userError)
        }
        if trace {
            let cpu = machine.cpu
            cpu.trace = { rip, d in
                let name = d.infoIndex >= 0 ? cpu.table.names[Int(cpu.table.infos[Int(d.infoIndex)].nameIndex)] : "?"
                eprint("\(String(cpu.sreg[1].selector, radix: 16)):\(String(rip, radix: 16)) \(name) len=\(d.len) eax=\(String(cpu.gpr[0], radix: 16)) esp=\(String(cpu.gpr[4], radix: 16))")
            }
            cpu.traceFault = { rip, f in eprint("exception \(f) at \(String(rip, radix: 16))") }
        }
        let result: MachineExit
        if useKVM {
            let kvm: KVMAccelerator
            do { kvm = try machine.makeKVMAccelerator() } catch {
                eprint("emu: --accel kvm: \(error.description)")
                throw ExitCode(EmuStatus.accelerator)
            }
            kvm.interpreterAssist = !accel.kvmStrict
            do {
                result = try machine.runOnKVM(kvm, timeout: .infinity)
            } catch let e as KVMRunError {
                if stats { printKVMStats(kvm) }
                eprint("emu: \(e.description)")
                throw ExitCode(EmuStatus.accelerator)
            }
            if stats { printKVMStats(kvm) }
        } else {
            if accel.accel == .tcg || accel.accel == .auto {
                do { try machine.useJIT() } catch {
                    eprint("emu: --accel tcg: cannot set up the translator (\(error)); use --accel interp")
                    throw ExitCode(EmuStatus.accelerator)
                }
            }
            result = machine.run(maxInstructions: maxInstructions)
            if stats { printStats(machine.cpu, jit: machine.jit) }
        }
        switch result {
        case .exitPort(let st): throw ExitCode(st)
        case .shutdown: throw guestStopped(.tripleFault, machine.cpu)
        case .hung: throw guestStopped(.hung, machine.cpu)
        case .instructionLimit: throw guestStopped(.limit, machine.cpu)
        }
    }
}

struct Boot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot a PC: a disk image through SeaBIOS, or a Linux bzImage / multiboot kernel directly.",
        discussion: """
        The guest's COM1 is the terminal (Ctrl-A X quits, Ctrl-A H helps). Guest power-off ends emu with status 0; \
        a guest reboot restarts the machine unless --no-reboot is given.
        """)

    @Argument(help: "Raw disk image (IDE primary master) to boot through the firmware.")
    var disk: String?

    @Option(help: "More raw disk images: primary slave, secondary master, secondary slave.")
    var drive: [String] = []

    @Flag(help: "Guest writes to the disk images stay in memory; the files are never modified.")
    var snapshot = false

    @Flag(help: "Open the disk images read-only; guest writes fail with an I/O error.")
    var readOnly = false

    @Option(help: "Linux bzImage or multiboot kernel to boot directly, without firmware.")
    var kernel: String?

    @Option(help: "Initial ramdisk (Linux) or module (multiboot) for --kernel.")
    var initrd: String?

    @Option(help: "Kernel command line for --kernel.")
    var append: String = "console=ttyS0"

    @Option(help: "Guest RAM in MiB.")
    var ram: Int = 512

    @Option(help: "Firmware image (default: Debian's SeaBIOS in /usr/share/seabios).")
    var bios: String?

    @Option(help: "Where COM1 goes: stdio, file:PATH, or none.")
    var serial: String = "stdio"

    @Option(help: "Write the firmware's debug log (ports 0x402/0xE9) to this file.")
    var firmwareLog: String?

    @OptionGroup var accel: AccelOptions

    @Flag(help: "Exit when the guest reboots instead of restarting it.")
    var noReboot = false

    @Flag(help: "Deterministic clock: 1 ns of guest time per instruction (reproducible runs).")
    var deterministic = false

    @Option(help: "Stop after this many guest instructions (exit status 8).")
    var maxInstructions: UInt64 = UInt64.max

    @Flag(help: "Print instruction and exception counts to stderr at exit.")
    var stats = false

    @Option(help: ArgumentHelp("Trace instructions and exceptions to stderr after this many instructions (debugging).", visibility: .hidden))
    var traceAfter: UInt64?

    func run() throws {
        let useKVM = try accel.wantsKVM()
        var cfg = MachineConfig()
        cfg.ramMiB = ram
        cfg.kernel = kernel
        cfg.initrd = initrd
        cfg.append = append
        cfg.bios = bios
        cfg.noReboot = noReboot
        cfg.deterministic = deterministic
        cfg.disks = (disk.map { [$0] } ?? []) + drive
        cfg.diskMode = snapshot ? .snapshot : (readOnly ? .readOnly : .readWrite)
        var outFD: Int32 = 1
        var readInput = true
        switch serial {
        case "stdio": break
        case "none": outFD = -1; readInput = false
        case let s where s.hasPrefix("file:") && s.count > 5:
            let path = String(s.dropFirst(5))
            outFD = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if outFD < 0 {
                eprint("emu: cannot open serial output file '\(path)': \(String(cString: strerror(errno))); check the path")
                throw ExitCode(EmuStatus.userError)
            }
            readInput = false
        default:
            eprint("emu: unknown --serial '\(serial)'; use stdio, file:PATH or none")
            throw ExitCode(EmuStatus.userError)
        }
        if disk == nil && kernel == nil {
            eprint("emu: nothing to boot; give a disk image (emu boot disk.img) or --kernel FILE")
            throw ExitCode(EmuStatus.userError)
        }
        var logFD: Int32 = -1
        if let l = firmwareLog {
            logFD = open(l, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if logFD < 0 {
                eprint("emu: cannot open firmware log '\(l)': \(String(cString: strerror(errno))); check the path")
                throw ExitCode(EmuStatus.userError)
            }
        }
        let fd = outFD
        let machine: PCMachine
        do {
            machine = try PCMachine(config: cfg, serial: { b in
                guard fd >= 0 else { return }
                var c = b
                _ = write(fd, &c, 1)
            })
        } catch let e as UserError {
            eprint(e.description)
            throw ExitCode(EmuStatus.userError)
        }
        if logFD >= 0 {
            let lfd = logFD
            machine.firmwareLog = { b in var c = b; _ = write(lfd, &c, 1) }
        }
        if let after = traceAfter {
            let cpu = machine.cpu
            cpu.trace = { rip, d in
                guard cpu.s.pointee.icount >= after else { return }
                let name = d.infoIndex >= 0 ? cpu.table.names[Int(cpu.table.infos[Int(d.infoIndex)].nameIndex)] : "?"
                eprint("\(cpu.s.pointee.icount) \(String(cpu.sreg[1].selector, radix: 16)):\(String(rip, radix: 16)) \(name) rax=\(String(cpu.gpr[0], radix: 16)) rcx=\(String(cpu.gpr[1], radix: 16)) rdx=\(String(cpu.gpr[2], radix: 16)) rsp=\(String(cpu.gpr[4], radix: 16))")
            }
            cpu.traceFault = { rip, f in
                if cpu.s.pointee.icount >= after { eprint("exception \(f) at \(String(rip, radix: 16))") }
            }
        }
        if useKVM {
            if deterministic {
                eprint("emu: --deterministic needs retired-instruction counts, which KVM does not give; drop one of --deterministic and --accel kvm")
                throw ExitCode(EmuStatus.userError)
            }
            do { try machine.useKVM(strict: accel.kvmStrict) } catch {
                eprint("emu: --accel kvm: \(error.description)")
                throw ExitCode(EmuStatus.accelerator)
            }
        } else if accel.accel == .tcg || accel.accel == .auto {
            do { try machine.useJIT() } catch {
                eprint("emu: --accel tcg: cannot set up the translator (\(error)); use --accel interp")
                throw ExitCode(EmuStatus.accelerator)
            }
        }
        let console = HostConsole(readInput: readInput)
        let com1 = machine.com1
        machine.poll = {
            console.pump(canTake: { com1.canReceive }, deliver: { com1.receive($0) })
            return console.quitRequested ? .quit : nil
        }
        let result = machine.run(maxInstructions: maxInstructions)
        HostConsole.restore()
        if stats {
            if let k = machine.kvm { printKVMStats(k) } else { printStats(machine.cpu, jit: machine.jit) }
        }
        switch result {
        case .powerOff, .reset, .quit: return
        case .acceleratorError(let why):
            eprint("emu: \(why)")
            throw ExitCode(EmuStatus.accelerator)
        case .exitPort(let st): throw ExitCode(st)
        case .shutdown: throw guestStopped(.tripleFault, machine.cpu)
        case .hung: throw guestStopped(.hung, machine.cpu)
        case .instructionLimit: throw guestStopped(.limit, machine.cpu)
        }
    }
}

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode hex instruction bytes (debugging aid).")
    @Option(help: "16, 32 or 64.") var bits: Int = 64
    @Argument(help: "Hex bytes, e.g. 48 01 d8") var bytes: [String]
    func run() throws {
        var b: [UInt8] = []
        for t in bytes {
            guard let v = UInt8(t, radix: 16) else {
                eprint("emu: '\(t)' is not a hex byte; give bytes like 48 01 d8")
                throw ExitCode(EmuStatus.userError)
            }
            b.append(v)
        }
        let mode: DecodeMode = bits == 64 ? .long64 : (bits == 32 ? .prot32 : .real16)
        do {
            let d = try OpcodeTable.shared.decode(bytes: b, mode: mode)
            let name = d.infoIndex >= 0 ? OpcodeTable.shared.names[Int(OpcodeTable.shared.infos[Int(d.infoIndex)].nameIndex)] : "?"
            print("\(name) len=\(d.len) opsize=\(d.opSize) addrsize=\(d.addrSize) mem=\(d.isMem) imm=\(hex(d.imm))")
        } catch {
            print("fault \(error)")
        }
    }
}

struct DiffTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "difftest",
        abstract: "Run random instruction sequences on the host CPU and in the interpreter and compare the results.")
    @Option(help: "Instructions to test (set-up moves not counted).") var count: Int = 100_000
    @Option(help: "Random seed (the same seed gives the same sequences).") var seed: UInt64 = 1
    @Option(help: "Only this opcode-table mnemonic (e.g. ADD, PSHUFB, FADD).") var only: String?
    @Option(help: "Replay one case of the seed (as printed in a mismatch report).") var `case`: Int?
    @Option(help: "Longest sequence (instructions).") var maxLength: Int = 4
    @Option(help: "Mismatch reports to print.") var reports: Int = 10
    @Flag(help: "List the instructions that are never generated, and why.") var listExclusions = false
    @Flag(help: "Report every mismatch (not just two per instruction sequence).") var allReports = false
    func run() throws {
        var o = DiffTester.Options()
        o.count = count; o.seed = seed; o.only = only; o.onlyCase = `case`; o.maxLength = max(1, maxLength)
        o.maxReports = reports; o.dedupe = !allReports
        guard let t = DiffTester(options: o) else {
            eprint("emu difftest: cannot set up the native runner (needs x86-64 Linux with XSAVE and a free region below 2 GiB)")
            throw ExitCode(EmuStatus.userError)
        }
        if listExclusions { print(DiffTester.exclusionText(t.gen), terminator: ""); return }
        if t.gen.pool.isEmpty {
            eprint("emu difftest: nothing to test\(only.map { " for '\($0)'" } ?? "")")
            throw ExitCode(EmuStatus.userError)
        }
        let s = t.run()
        print(t.summaryText(s), terminator: "")
        if s.mismatchCount > 0 { throw ExitCode(1) }
    }
}

/// Instruction/exception counts, unimplemented instructions and the translator's counters, to
/// stderr (--stats).
func printStats(_ cpu: CPU, jit: JITEngine?) {
    let s = cpu.s.pointee
    eprint("emu: \(s.icount) instructions, \(s.exceptions) exceptions, \(s.ud_count) unimplemented")
    if let jit { eprint("emu: JIT: " + jit.statistics) }
    for (name, n) in cpu.unimplemented.sorted(by: { $0.value > $1.value }) {
        eprint("emu:   unimplemented \(name): \(n)")
    }
}

enum GuestStop { case tripleFault, hung, limit }

/// Says why the guest stopped (one line) and gives emu's exit status for it.
func guestStopped(_ why: GuestStop, _ cpu: CPU) -> ExitCode {
    switch why {
    case .tripleFault:
        eprint("emu: guest triple-faulted (shutdown) at \(hex(cpu.rip))")
        return ExitCode(EmuStatus.tripleFault)
    case .hung:
        eprint("emu: guest halted with interrupts disabled at \(hex(cpu.rip)); nothing can wake it")
        return ExitCode(EmuStatus.hung)
    case .limit:
        eprint("emu: instruction limit reached at \(hex(cpu.rip))")
        return ExitCode(EmuStatus.limit)
    }
}

/// One line to stderr.
func eprint(_ line: String) {
    var t = line
    if !t.hasSuffix("\n") { t += "\n" }
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

Emu.main()
