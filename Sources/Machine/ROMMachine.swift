import CPU
import CPUState
import Devices
import JIT
#if canImport(Glibc)
import Glibc
#endif

/// Why a machine run ended.
public enum MachineExit: Equatable, Sendable {
    case exitPort(Int32)        // guest wrote the debug-exit port: process status (v << 1) | 1
    case shutdown               // triple fault
    case hung                   // HLT with interrupts disabled and nothing that could wake it
    case instructionLimit       // the configured instruction budget ran out
}

/// Errors in what the user gave us, each with one line naming the file and what to do.
public struct UserError: Error, CustomStringConvertible {
    public let description: String
    public init(_ s: String) { description = s }
}

/// The minimal machine for test ROMs: RAM, a ROM at the reset vector (aliased below 1 MiB and
/// at the top of 4 GiB), COM1 on 0x3F8, the debug console on 0xE9/0x402 and the exit port 0xF4.
public final class ROMMachine {
    public static let maxROMSize = 1 << 20
    public let memory: PhysicalMemory
    public let ports: PortBus
    public let cpu: CPU
    public let com1: UART16550
    public let exitDevice: DebugExit
    /// Set by `useJIT`: the CPU runs on the block translator.
    public internal(set) var jit: JITEngine?
    public private(set) var exitStatus: Int32?

    /// Reads and validates a ROM image file.
    public static func loadROM(path: String) throws -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw UserError("emu: cannot open ROM '\(path)': \(String(cString: strerror(errno))); check the path")
        }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { data.append(contentsOf: buf[0..<n]) }
            if data.count > maxROMSize {
                throw UserError("emu: ROM '\(path)' is larger than \(maxROMSize / 1024) KiB; give a raw image of at most 1 MiB")
            }
            if n < buf.count { break }
        }
        if ferror(f) != 0 { throw UserError("emu: cannot read ROM '\(path)'; check the file") }
        if data.isEmpty { throw UserError("emu: ROM '\(path)' is empty; give a raw image ending with the reset vector") }
        return data
    }

    public init(rom: [UInt8], ramMiB: Int = 32, output: @escaping (UInt8) -> Void) throws {
        guard !rom.isEmpty, rom.count <= ROMMachine.maxROMSize else { throw UserError("emu: ROM size \(rom.count) is out of range") }
        guard ramMiB >= 2 && ramMiB <= 3072 else { throw UserError("emu: RAM size \(ramMiB) MiB is out of range (2 to 3072)") }
        memory = PhysicalMemory(ramSize: UInt64(ramMiB) << 20)
        ports = PortBus()
        cpu = CPU(memory: memory, ports: ports)
        cpu.randomSeed = 0x656D_7520_7264_7261   // RDRAND/RDSEED reproducible in test ROMs
        com1 = UART16550(output: output)
        exitDevice = DebugExit()
        // Pad small images at the front so they end at the reset vector.
        var image = rom
        if image.count < 65536 { image = [UInt8](repeating: 0xFF, count: 65536 - image.count) + image }
        try memory.mapROM(at: 0x1_0000_0000 - UInt64(image.count), data: image, name: "rom-high")
        let low = Array(image.suffix(min(image.count, 128 * 1024)))
        try memory.mapROM(at: 0x10_0000 - UInt64(low.count), data: low, name: "rom-low")
        try ports.register(com1, base: 0x3F8, count: 8, name: "com1")
        try ports.register(exitDevice, base: 0xF4, count: 1, name: "debug-exit")
        let dbg = DebugConsole(sink: output)
        try ports.register(dbg, base: 0xE9, count: 1, name: "debugcon-e9")
        try ports.register(DebugConsole(sink: output), base: 0x402, count: 1, name: "debugcon-402")
        let c = cpu
        exitDevice.onExit = { [unowned self] status in
            self.exitStatus = status
            c.s.pointee.exit_request = 1
        }
    }

    /// Runs the CPU on the block translator (`--accel tcg`) instead of the interpreter. The
    /// engines share CPUState, so this can happen at any point of a run.
    public func useJIT() throws {
        jit = try JITEngine(cpu: cpu)
    }

    /// Runs until the guest exits, shuts down, hangs, or `maxInstructions` retire.
    public func run(maxInstructions: UInt64 = .max) -> MachineExit {
        var left = maxInstructions
        while true {
            if let st = exitStatus { return .exitPort(st) }
            let chunk = Int(min(left, 1 << 20))
            if chunk == 0 { return .instructionLimit }
            let before = cpu.s.pointee.icount
            let r = jit?.run(budget: chunk) ?? cpu.run(budget: chunk)
            let done = cpu.s.pointee.icount &- before
            left = left > done ? left - done : 0
            switch r {
            case .exitRequest, .budget:
                if let st = exitStatus { return .exitPort(st) }
                if cpu.s.pointee.shutdown != 0 { return .shutdown }
                if r == .budget && left == 0 { return .instructionLimit }
            case .shutdown:
                return .shutdown
            case .halted:
                if let st = exitStatus { return .exitPort(st) }
                // No interrupt sources exist on this machine: HLT never wakes.
                return .hung
            }
        }
    }
}
