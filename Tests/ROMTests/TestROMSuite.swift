import XCTest
import Foundation
import Machine

/// Assembles every `testroms/*.asm` with nasm and runs it on the interpreter. A ROM passes when it
/// exits through port 0xF4 with value 0 (status 1) and prints no FAIL line on COM1.
final class TestROMSuite: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let instructionLimit: UInt64 = 300_000_000

    static func nasm() -> String? {
        for p in ["/usr/bin/nasm", "/usr/local/bin/nasm"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return nil
    }

    static func assemble(_ source: URL, into dir: URL) throws -> [UInt8] {
        guard let nasm = nasm() else {
            throw NSError(domain: "emu", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "nasm is not installed: run scripts/deps.sh (apt-get install nasm)"])
        }
        let out = dir.appendingPathComponent(source.deletingPathExtension().lastPathComponent + ".bin")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-I", repo.appendingPathComponent("testroms").path + "/",
                       "-o", out.path, source.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw NSError(domain: "emu", code: 2, userInfo: [NSLocalizedDescriptionKey: "nasm failed for \(source.lastPathComponent): \(msg)"])
        }
        return [UInt8](try Data(contentsOf: out))
    }

    static func romSources() -> [URL] {
        let dir = repo.appendingPathComponent("testroms")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".asm") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Runs one ROM; returns (exit, serial output).
    static func run(_ image: [UInt8]) throws -> (MachineExit, String) {
        var output: [UInt8] = []
        let m = try ROMMachine(rom: image, ramMiB: 32, output: { output.append($0) })
        let r = m.run(maxInstructions: instructionLimit)
        return (r, String(decoding: output, as: UTF8.self))
    }

    func testEveryROMPasses() throws {
        let sources = Self.romSources()
        XCTAssertGreaterThanOrEqual(sources.count, 8, "expected the project's test ROMs in testroms/")
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("emu-roms-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        var summary: [String] = []
        for src in sources {
            let name = src.lastPathComponent
            let image = try Self.assemble(src, into: tmp)
            let start = Date()
            let (exit, out) = try Self.run(image)
            let secs = Date().timeIntervalSince(start)
            let fails = out.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("FAIL") }
            let passes = out.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("PASS") }.count
            // A ROM that reports no checks proves nothing (the hello ROM only has to exit cleanly).
            let ok = exit == .exitPort(1) && fails.isEmpty && (name.hasPrefix("hello") || passes > 0)
            summary.append(String(format: "%@ %@: %d PASS lines, exit %@, %.2fs", ok ? "ok  " : "FAIL", name, passes, "\(exit)", secs))
            if !ok {
                XCTFail("\(name): exit \(exit), \(fails.count) FAIL lines\n--- output ---\n\(out)")
            }
        }
        print(summary.joined(separator: "\n"))
    }
}
