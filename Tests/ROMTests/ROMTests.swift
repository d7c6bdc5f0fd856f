import XCTest
import Foundation
import Machine

/// Test ROMs: every `testroms/*.asm` is assembled with nasm and run in-process on `ROMMachine`.
/// A ROM passes when it exits through port 0xF4 with value 0 (process status 1), prints at least
/// one PASS line and no FAIL line on COM1 (ROMs named `hello*` only need the exit status).
/// Each known ROM has its own test; `testROMsWithoutTheirOwnTest` runs any other ROM, so a new
/// ROM is covered the moment its source is added.
final class ROMTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let romDir = repo.appendingPathComponent("testroms")
    static let instructionLimit: UInt64 = 200_000_000

    /// ROMs with a test method of their own (keep in sync with the methods below).
    static let named: Set<String> = [
        "hello", "real_alu", "real_shift", "real_string", "real_control", "real_modes",
        "pm_segments", "pm_privilege", "exc_errors", "task_switch", "v86_mode", "paging_basic",
        "long_mode", "syscall_sysret", "sysenter_sysexit",
    ]

    func testHello() throws { try runROM("hello") }
    func testRealALU() throws { try runROM("real_alu") }
    func testRealShift() throws { try runROM("real_shift") }
    func testRealString() throws { try runROM("real_string") }
    func testRealControl() throws { try runROM("real_control") }
    func testRealModes() throws { try runROM("real_modes") }
    func testPMSegments() throws { try runROM("pm_segments") }
    func testPMPrivilege() throws { try runROM("pm_privilege") }
    func testExcErrors() throws { try runROM("exc_errors") }
    func testTaskSwitch() throws { try runROM("task_switch") }
    func testV86Mode() throws { try runROM("v86_mode") }
    func testPagingBasic() throws { try runROM("paging_basic") }
    func testLongMode() throws { try runROM("long_mode") }
    func testSyscallSysret() throws { try runROM("syscall_sysret") }
    func testSysenterSysexit() throws { try runROM("sysenter_sysexit") }

    /// Any ROM added to testroms/ without a method of its own above.
    func testROMsWithoutTheirOwnTest() throws {
        for name in Self.romNames() where !Self.named.contains(name) { try runROM(name) }
    }

    func testROMSourcesAreFound() {
        XCTAssertTrue(Self.romNames().contains("hello"), "no testroms/*.asm found under \(Self.romDir.path)")
    }

    // MARK: - helpers

    static func romNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: romDir.path)) ?? []
        return names.filter { $0.hasSuffix(".asm") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func nasmPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let p = dir + "/nasm"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Assembles testroms/<name>.asm in a temporary directory and returns the image.
    static func assemble(_ name: String, nasm: String) throws -> [UInt8] {
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("emu-rom-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent(name + ".bin")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-I", romDir.path + "/", "-o", out.path,
                       romDir.appendingPathComponent(name + ".asm").path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "ROMTests", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "nasm failed on testroms/\(name).asm:\n\(msg)"])
        }
        return [UInt8](try Data(contentsOf: out))
    }

    func runROM(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.fileExists(atPath: Self.romDir.appendingPathComponent(name + ".asm").path) else {
            XCTFail("testroms/\(name).asm is missing", file: file, line: line)
            return
        }
        guard let nasm = Self.nasmPath() else {
            XCTFail("nasm is not installed (apt-get install nasm): cannot assemble testroms/\(name).asm",
                    file: file, line: line)
            return
        }
        let image = try Self.assemble(name, nasm: nasm)
        var output: [UInt8] = []
        let machine = try ROMMachine(rom: image, ramMiB: 32, output: { output.append($0) })
        let start = Date()
        let exit = machine.run(maxInstructions: Self.instructionLimit)
        let seconds = Date().timeIntervalSince(start)
        let text = String(decoding: output, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        let fails = lines.filter { $0.hasPrefix("FAIL") }
        let passes = lines.filter { $0.hasPrefix("PASS") }.count
        let rip = String(machine.cpu.rip, radix: 16)
        var problems: [String] = []
        switch exit {
        case .exitPort(1): break
        case .exitPort(let st): problems.append("exit status \(st) (the guest wrote \(st >> 1) to port 0xF4), want 1")
        case .shutdown: problems.append("the guest triple-faulted (rip \(rip))")
        case .hung: problems.append("the guest halted with interrupts off (rip \(rip))")
        case .instructionLimit: problems.append("no exit within \(Self.instructionLimit) instructions (rip \(rip))")
        }
        if !fails.isEmpty { problems.append("\(fails.count) FAIL line(s):\n  " + fails.joined(separator: "\n  ")) }
        if !name.hasPrefix("hello") && passes == 0 { problems.append("no PASS line: the ROM checked nothing") }
        if problems.isEmpty {
            print(String(format: "ROM %@: %d PASS lines, %.2f s", name, passes, seconds))
        } else {
            XCTFail("testroms/\(name).asm: " + problems.joined(separator: "; ")
                    + "\n--- COM1 output ---\n" + text, file: file, line: line)
        }
    }
}
