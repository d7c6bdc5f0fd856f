import XCTest
import Foundation
import Machine
import CPU

/// Shared helpers: assembling test ROMs with nasm, opening /dev/kvm or skipping.
enum KVMTestSupport {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let romDir = repo.appendingPathComponent("testroms")

    /// Skips the test (with the reason) when /dev/kvm is missing or cannot be opened.
    static func requireKVM() throws -> KVMSystem {
        do {
            return try KVMSystem()
        } catch {
            throw XCTSkip("KVM is not usable here (\(error.description)); skipping the /dev/kvm test")
        }
    }

    static func nasmPath() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let p = dir + "/nasm"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func romNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: romDir.path)) ?? []
        return names.filter { $0.hasSuffix(".asm") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Assembles testroms/<name>.asm.
    static func assembleROM(_ name: String) throws -> [UInt8] {
        try assemble(source: romDir.appendingPathComponent(name + ".asm"), name: name)
    }

    /// Assembles assembly text (with testroms/ on the include path).
    static func assemble(text: String, name: String) throws -> [UInt8] {
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("emu-kvm-src-\(name)-\(UUID().uuidString).asm")
        try text.write(to: tmp, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tmp) }
        return try assemble(source: tmp, name: name)
    }

    static func assemble(source: URL, name: String) throws -> [UInt8] {
        guard let nasm = nasmPath() else {
            throw XCTSkip("nasm is not installed (apt-get install nasm): cannot assemble \(name)")
        }
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("emu-kvm-rom-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent(name + ".bin")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: nasm)
        p.arguments = ["-f", "bin", "-I", romDir.path + "/", "-o", out.path, source.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = err
        try p.run()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "KVMTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "nasm failed on \(name):\n\(msg)"])
        }
        return [UInt8](try Data(contentsOf: out))
    }

    /// A ROM machine collecting COM1 output.
    final class Output { var bytes: [UInt8] = []; var text: String { String(decoding: bytes, as: UTF8.self) } }

    static func machine(_ image: [UInt8]) throws -> (ROMMachine, Output) {
        let out = Output()
        let m = try ROMMachine(rom: image, ramMiB: 32, output: { out.bytes.append($0) })
        return (m, out)
    }
}
