import XCTest
import Foundation

/// Boots real guests with the `emu` binary as a user would: the multiboot test kernel from
/// testroms/kernels, Debian's memtest86+, and Debian's cloud kernel with the busybox initramfs
/// (direct boot and through SeaBIOS from disk-test.img). The guest images come from
/// scripts/guest-images.sh (cache folder: $EMU_GUEST_DIR or ~/.cache/emu/guest). When they are
/// missing the Linux/memtest tests skip, unless EMU_REQUIRE_GUEST=1 (CI), where they fail.
/// The binary is $EMU_BIN, else the release build (.build/release/emu) if present, else the
/// one beside the tests.
final class BootTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func emuPath() throws -> String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["EMU_BIN"], FileManager.default.isExecutableFile(atPath: p) { return p }
        let release = Self.packageRoot.appendingPathComponent(".build/release/emu").path
        if FileManager.default.isExecutableFile(atPath: release) { return release }
        return try locateEmuBinary()
    }

    static var guestDir: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["EMU_GUEST_DIR"] { return d }
        let cache = env["EMU_CACHE"] ?? (NSHomeDirectory() + "/.cache/emu")
        return cache + "/guest"
    }

    func guestFile(_ name: String) throws -> String {
        let p = Self.guestDir + "/" + name
        if FileManager.default.fileExists(atPath: p) { return p }
        if ProcessInfo.processInfo.environment["EMU_REQUIRE_GUEST"] == "1" {
            XCTFail("guest image \(p) is missing; run scripts/guest-images.sh")
            throw CancellationError()
        }
        throw XCTSkip("guest image \(p) is missing; run scripts/guest-images.sh to build it")
    }

    struct Result { var status: Int32; var serial: String; var stderr: String; var seconds: Double }

    /// Runs emu with COM1 in a file (stdin closed) and a wall-clock timeout.
    func boot(_ args: [String], timeout: Double) throws -> Result {
        let out = NSTemporaryDirectory() + "emu-boot-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try emuPath())
        p.arguments = ["boot", "--serial", "file:" + out] + args
        let err = Pipe()
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning { p.terminate(); p.waitUntilExit() }
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let serial = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return Result(status: p.terminationStatus, serial: serial, stderr: String(decoding: e, as: UTF8.self),
                      seconds: Date().timeIntervalSince(t0))
    }

    func assemble(_ name: String) throws -> String {
        let src = Self.packageRoot.appendingPathComponent("testroms/kernels/\(name).asm").path
        let bin = NSTemporaryDirectory() + "emu-\(name)-\(UUID().uuidString).bin"
        let (status, out) = try run("nasm", ["-f", "bin", "-I", Self.packageRoot.appendingPathComponent("testroms").path + "/", "-o", bin, src])
        XCTAssertEqual(status, 0, "nasm failed on \(src)\n\(out)")
        return bin
    }

    func testMultibootKernel() throws {
        let bin = try assemble("multiboot_info")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let mod = NSTemporaryDirectory() + "emu-mod-\(UUID().uuidString).txt"
        try "MODULE-OK".write(toFile: mod, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: mod) }
        let r = try boot(["--kernel", bin, "--append", "hello world", "--ram", "64", "--initrd", mod, "--deterministic"], timeout: 60)
        XCTAssertEqual(r.status, 1, "exit status (0 failures → 1); stderr: \(r.stderr)\n\(r.serial)")
        XCTAssertTrue(r.serial.contains("DONE multiboot"), r.serial)
        XCTAssertFalse(r.serial.contains("FAIL"), r.serial)
        XCTAssertTrue(r.serial.contains("module starts with: MODU"), r.serial)
    }

    /// Guest resets (i8042 pulse, 0xCF9, triple fault): with --no-reboot emu ends (0, or 4 with a
    /// message for a triple fault); without it the machine restarts and boots again.
    func testGuestRebootRestartsOrEnds() throws {
        let bin = try assemble("reboot")
        defer { try? FileManager.default.removeItem(atPath: bin) }
        for method in ["kbc", "cf9"] {
            let r = try boot(["--kernel", bin, "--append", method, "--no-reboot", "--deterministic"], timeout: 60)
            XCTAssertEqual(r.status, 0, "\(method): \(r.stderr)")
            XCTAssertEqual(r.serial.components(separatedBy: "BOOT \(method)").count - 1, 1, r.serial)
        }
        let t = try boot(["--kernel", bin, "--append", "triple", "--no-reboot", "--deterministic"], timeout: 60)
        XCTAssertEqual(t.status, 4)
        XCTAssertTrue(t.stderr.contains("triple-faulted"), t.stderr)
        let again = try boot(["--kernel", bin, "--append", "cf9", "--ram", "16", "--deterministic", "--max-instructions", "100000"], timeout: 60)
        XCTAssertEqual(again.status, 8, again.stderr)
        XCTAssertGreaterThanOrEqual(again.serial.components(separatedBy: "BOOT cf9").count - 1, 3, "the machine did not restart:\n\(again.serial)")
    }

    /// Debian's 6.1 cloud kernel + busybox initramfs, direct boot: the init prints the marker
    /// and powers off; emu must exit 0.
    func testLinuxDirectBootPowersOff() throws {
        let kernel = try guestFile("vmlinuz"), initrd = try guestFile("initramfs.cpio.gz")
        let r = try boot(["--kernel", kernel, "--initrd", initrd, "--ram", "256", "--deterministic",
                          "--append", "console=ttyS0 panic=-1 emu.test=poweroff"], timeout: 900)
        print("Linux direct boot: \(String(format: "%.1f", r.seconds)) s, exit \(r.status)")
        XCTAssertTrue(r.serial.contains("EMU-GUEST-READY"), "no marker; serial tail:\n\(r.serial.suffix(3000))\n\(r.stderr)")
        XCTAssertTrue(r.serial.contains("EMU-GUEST-POWEROFF"), String(r.serial.suffix(2000)))
        XCTAssertEqual(r.status, 0, "emu exit status; stderr: \(r.stderr)\n\(r.serial.suffix(2000))")
    }

    /// The same guest without the test switch: its init starts a shell on the console; commands
    /// typed on emu's stdin run in the guest, and `poweroff` ends emu with status 0.
    func testLinuxShellRunsTypedCommands() throws {
        let kernel = try guestFile("vmlinuz"), initrd = try guestFile("initramfs.cpio.gz")
        let out = NSTemporaryDirectory() + "emu-shell-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try emuPath())
        // --serial stdio (the default): stdin is the guest's keyboard, stdout goes to a file.
        p.arguments = ["boot", "--kernel", kernel, "--initrd", initrd, "--ram", "256",
                       "--deterministic", "--append", "console=ttyS0 panic=-1"]
        FileManager.default.createFile(atPath: out, contents: nil)
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        defer { try? outHandle.close() }
        let input = Pipe(), err = Pipe()
        p.standardOutput = outHandle
        p.standardInput = input
        p.standardError = err
        try p.run()
        func serial() -> String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
        func wait(for text: String, after start: String.Index? = nil, timeout: Double) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline && p.isRunning {
                let s = serial()
                if let start, start < s.endIndex, s[start...].contains(text) { return true }
                if start == nil && s.contains(text) { return true }
                usleep(200_000)
            }
            return false
        }
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(wait(for: "emu# ", timeout: 900), "no shell prompt:\n\(serial().suffix(2000))")
        // The shell's first prompt asks the terminal for the cursor position (ESC [6n) and may
        // swallow what arrives meanwhile: press Enter until a second prompt shows.
        for _ in 0..<20 where serial().components(separatedBy: "emu# ").count < 3 {
            input.fileHandleForWriting.write("\n".data(using: .utf8)!)
            usleep(3_000_000)
        }
        input.fileHandleForWriting.write("echo HELLO-FROM-$((6*7))\n".data(using: .utf8)!)
        XCTAssertTrue(wait(for: "HELLO-FROM-42", timeout: 120), "command did not run:\n\(serial().suffix(1000))")
        input.fileHandleForWriting.write("poweroff\n".data(using: .utf8)!)
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(200_000) }
        XCTAssertFalse(p.isRunning, "emu did not exit after poweroff:\n\(serial().suffix(1000))")
        if !p.isRunning { XCTAssertEqual(p.terminationStatus, 0, "exit status after poweroff") }
    }

    /// The same kernel and initramfs from disk-test.img through SeaBIOS, the MBR and syslinux
    /// (IDE PIO); --snapshot keeps the image byte-identical.
    func testLinuxFromDiskThroughSeaBIOS() throws {
        let disk = try guestFile("disk-test.img")
        let before = try Data(contentsOf: URL(fileURLWithPath: disk))
        let r = try boot([disk, "--snapshot", "--ram", "256", "--deterministic"], timeout: 900)
        print("SeaBIOS disk boot: \(String(format: "%.1f", r.seconds)) s, exit \(r.status)")
        XCTAssertTrue(r.serial.contains("SeaBIOS"), String(r.serial.prefix(2000)))
        XCTAssertTrue(r.serial.contains("SYSLINUX"), String(r.serial.prefix(2000)))
        XCTAssertTrue(r.serial.contains("EMU-GUEST-READY"), "no marker:\n\(r.serial.suffix(3000))\n\(r.stderr)")
        XCTAssertTrue(r.serial.contains("EMU-GUEST-POWEROFF"))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: disk)), before, "the disk image was modified")
    }

    /// Debian's memtest86+ (64-bit image) as --kernel: it must see the configured RAM and run
    /// its first tests without errors.
    func testMemtest86Plus() throws {
        let mt = try guestFile("memtest86+x64.bin")
        let r = try boot(["--kernel", mt, "--ram", "64", "--append", "console=ttyS0",
                          "--max-instructions", "1500000000"], timeout: 600)
        XCTAssertEqual(r.status, 8, "expected to stop at the instruction limit while testing; stderr: \(r.stderr)")
        XCTAssertNotNil(r.serial.range(of: "of 6[34](\\.[0-9])?MB\\]", options: .regularExpression), "RAM size not detected:\n\(r.serial.suffix(2000))")
        XCTAssertTrue(r.serial.contains("[Address test, walking ones"), "first test did not start")
        XCTAssertTrue(r.serial.contains("Errors: 0"), "no error counter")
        XCTAssertNil(r.serial.range(of: "Errors: [1-9]", options: .regularExpression), "memtest reported errors")
    }
}
