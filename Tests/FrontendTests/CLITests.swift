import XCTest
import Foundation

/// Runs the built `emu` executable as a user would and checks bad input handling:
/// one clear line on stderr, a non-zero exit, nothing else.
final class CLITests: XCTestCase {
    /// The `emu` binary next to the test bundle (same build directory).
    func emuPath() throws -> String { try locateEmuBinary() }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        p.executableURL = URL(fileURLWithPath: try emuPath())
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    func tempFile(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "emu-cli-\(UUID().uuidString).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertOneLineError(_ r: Result, mentions: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 2, "exit status", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "expected one line on stderr, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(mentions), "stderr should name \(mentions): \(r.stderr)", file: file, line: line)
    }

    // MARK: --accel

    /// A ROM that prints "ok" on COM1 and exits with status 1.
    func tinyROM() throws -> String {
        var rom = [UInt8](repeating: 0, count: 65536)
        let code: [UInt8] = [0xBA, 0xF8, 0x03, 0xB0, 0x6F, 0xEE, 0xB0, 0x6B, 0xEE,  // mov dx,0x3f8; out 'o','k'
                             0xB0, 0x00, 0xE6, 0xF4, 0xF4]                          // mov al,0; out 0xf4,al; hlt
        for (i, b) in code.enumerated() { rom[i] = b }
        let jmp: [UInt8] = [0xEA, 0x00, 0x00, 0x00, 0xF0]                           // jmp f000:0000
        for (i, b) in jmp.enumerated() { rom[0xFFF0 + i] = b }
        return try tempFile(rom)
    }

    func testAccelKVMWithoutDevice() throws {
        let rom = try tinyROM()
        defer { try? FileManager.default.removeItem(atPath: rom) }
        let env = ["EMU_KVM_DEVICE": "/nonexistent/kvm"]
        let r = try run(["run-rom", rom, "--accel", "kvm"], environment: env)
        assertOneLineError(r, mentions: "--accel kvm")
        XCTAssertTrue(r.stderr.contains("/nonexistent/kvm"), r.stderr)
        XCTAssertEqual(r.stdout, "")
        let b = try run(["boot", "--kernel", "/nonexistent/vmlinuz", "--accel", "kvm"], environment: env)
        assertOneLineError(b, mentions: "--accel kvm")
        // auto falls back to tcg and says so.
        let a = try run(["run-rom", rom, "--accel", "auto"], environment: env)
        XCTAssertEqual(a.status, 1)
        XCTAssertEqual(a.stdout, "ok")
        XCTAssertTrue(a.stderr.contains("accelerator: tcg"), a.stderr)
        for accel in ["tcg", "interp"] {
            let t = try run(["run-rom", rom, "--accel", accel])
            XCTAssertEqual(t.status, 1, accel)
            XCTAssertEqual(t.stdout, "ok", accel)
        }
    }

    func testAccelUnknown() throws {
        let r = try run(["run-rom", "/nonexistent.bin", "--accel", "warp"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("warp"), r.stderr)
    }

    // MARK: emu boot

    func testBootMissingKernel() throws {
        assertOneLineError(try run(["boot", "--kernel", "/nonexistent/vmlinuz"]), mentions: "/nonexistent/vmlinuz")
    }

    func testBootKernelThatIsNotAKernel() throws {
        let p = try tempFile([UInt8](repeating: 0x90, count: 8192))
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try run(["boot", "--kernel", p])
        assertOneLineError(r, mentions: p)
        XCTAssertTrue(r.stderr.contains("bzImage"), r.stderr)
    }

    func testBootTruncatedBzImage() throws {
        // A boot sector with the "HdrS" signature claiming 30 setup sectors, then nothing.
        var img = [UInt8](repeating: 0, count: 1024)
        img[0x1F1] = 30; img[0x1FE] = 0x55; img[0x1FF] = 0xAA
        img[0x202] = 0x48; img[0x203] = 0x64; img[0x204] = 0x72; img[0x205] = 0x53
        img[0x206] = 0x0F; img[0x207] = 0x02; img[0x211] = 1
        let p = try tempFile(img)
        defer { try? FileManager.default.removeItem(atPath: p) }
        assertOneLineError(try run(["boot", "--kernel", p]), mentions: p)
    }

    func testBootRAMOutOfRange() throws {
        let p = try tempFile([UInt8](repeating: 0x90, count: 8192))
        defer { try? FileManager.default.removeItem(atPath: p) }
        assertOneLineError(try run(["boot", "--kernel", p, "--ram", "4"]), mentions: "RAM")
        assertOneLineError(try run(["boot", "--kernel", p, "--ram", "10000000"]), mentions: "RAM")
    }

    func testBootUnknownSerialForm() throws {
        assertOneLineError(try run(["boot", "--kernel", "/x", "--serial", "tcp:1234"]), mentions: "tcp:1234")
    }

    func testBootMissingDiskImage() throws {
        assertOneLineError(try run(["boot", "/nonexistent/disk.img"]), mentions: "/nonexistent/disk.img")
    }

    func testBootTruncatedDiskImage() throws {
        let p = try tempFile([UInt8](repeating: 0, count: 1000))
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try run(["boot", p])
        assertOneLineError(r, mentions: p)
    }

    func testBootNothingToBoot() throws {
        assertOneLineError(try run(["boot"]), mentions: "nothing to boot")
    }

    func testMissingROM() throws {
        let r = try run(["run-rom", "/nonexistent/dir/rom.bin"])
        assertOneLineError(r, mentions: "/nonexistent/dir/rom.bin")
    }

    func testEmptyROM() throws {
        let p = try tempFile([])
        defer { try? FileManager.default.removeItem(atPath: p) }
        assertOneLineError(try run(["run-rom", p]), mentions: p)
    }

    func testOversizedROM() throws {
        let p = try tempFile([UInt8](repeating: 0x90, count: (1 << 20) + 1))
        defer { try? FileManager.default.removeItem(atPath: p) }
        assertOneLineError(try run(["run-rom", p]), mentions: p)
    }

    func testROMIsNotModified() throws {
        // A ROM whose reset vector jumps to a loop writing over itself: the file must stay as it was.
        var rom = [UInt8](repeating: 0xF4, count: 65536)
        // F000:FFF0: mov byte [cs:0xfff0], 0x90 ; out 0xf4, al (al=0) -> status 1
        let code: [UInt8] = [0x2E, 0xC6, 0x06, 0xF0, 0xFF, 0x90, 0x30, 0xC0, 0xE6, 0xF4, 0xF4]
        rom.replaceSubrange(0xFFF0..<(0xFFF0 + code.count), with: code)
        let p = try tempFile(rom)
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try run(["run-rom", p])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: p)), Data(rom))
    }

    func testUnknownFlag() throws {
        let r = try run(["run-rom", "--no-such-flag", "x.bin"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--no-such-flag"), r.stderr)
    }

    func testBadRAMSize() throws {
        let p = try tempFile([UInt8](repeating: 0xF4, count: 65536))
        defer { try? FileManager.default.removeItem(atPath: p) }
        assertOneLineError(try run(["run-rom", "--ram", "0", p]), mentions: "RAM")
    }

    func testHungGuestIsReported() throws {
        // cli; hlt at the reset vector: nothing can wake the CPU.
        var rom = [UInt8](repeating: 0xFF, count: 65536)
        rom[0xFFF0] = 0xFA; rom[0xFFF1] = 0xF4
        let p = try tempFile(rom)
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try run(["run-rom", p])
        XCTAssertEqual(r.status, 6)
        XCTAssertTrue(r.stderr.contains("halted"), r.stderr)
    }

    func testTripleFaultIsReported() throws {
        // lidt with a zero limit, then int3: #GP on delivery -> #DF -> triple fault.
        var rom = [UInt8](repeating: 0xFF, count: 65536)
        // F000:FFF0: lidt [cs:0xfffa] ; int3 ; (descriptor at fffa: limit 0, base 0)
        let code: [UInt8] = [0x2E, 0x0F, 0x01, 0x1E, 0xFA, 0xFF, 0xCC, 0xF4, 0xF4, 0xF4, 0, 0, 0, 0, 0, 0]
        rom.replaceSubrange(0xFFF0..<0x10000, with: code)
        let p = try tempFile(rom)
        defer { try? FileManager.default.removeItem(atPath: p) }
        let r = try run(["run-rom", "--max-instructions", "1000000", p])
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("triple"), r.stderr)
    }
}
