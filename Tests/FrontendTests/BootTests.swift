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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["nasm", "-f", "bin", "-I", Self.packageRoot.appendingPathComponent("testroms").path + "/", "-o", bin, src]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "nasm failed on \(src)")
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

    /// testroms/guest/x86_64_v3_check.c built with `gcc -O2 -march=x86-64-v3 -static` (AVX2, FMA,
    /// BMI2, F16C, MOVBE, gathers) runs in the Linux guest from a second initramfs archive
    /// appended to the busybox one (its /init replaces the first's); the checksums it prints
    /// must equal the host's. Skips without gcc or a host that lacks x86-64-v3.
    func testX8664V3ProgramMatchesHostInLinux() throws {
        let kernel = try guestFile("vmlinuz"), initrd = try guestFile("initramfs.cpio.gz")
        let tmp = NSTemporaryDirectory() + "emu-v3-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let src = Self.packageRoot.appendingPathComponent("testroms/guest/x86_64_v3_check.c").path
        let bin = tmp + "/v3check"
        func run(_ tool: String, _ args: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [tool] + args
            let o = Pipe()
            p.standardOutput = o
            p.standardError = o
            try p.run()
            let d = o.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: d, as: UTF8.self))
        }
        guard (try? run("gcc", ["-O2", "-march=x86-64-v3", "-static", "-o", bin, src]))?.0 == 0 else {
            throw XCTSkip("gcc cannot build static x86-64-v3 programs here")
        }
        let host = try run(bin, [])
        guard host.0 == 0, host.1.contains("X86-64-V3-CHECK-DONE") else { throw XCTSkip("the host cannot run x86-64-v3 code") }
        // A newc archive: /init (runs the program, powers off) and /v3check.
        func newc(_ name: String, mode: UInt32, _ data: [UInt8], ino: UInt32) -> [UInt8] {
            var h = "070701"
            for v in [ino, mode, 0, 0, 1, 0, UInt32(data.count), 0, 0, 0, 0, UInt32(name.utf8.count + 1), 0] {
                h += String(format: "%08X", v)
            }
            var out = Array(h.utf8) + Array(name.utf8) + [0]
            while out.count % 4 != 0 { out.append(0) }
            out += data
            while out.count % 4 != 0 { out.append(0) }
            return out
        }
        let initScript = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            exec </dev/console >/dev/console 2>&1
            echo EMU-V3-START
            /v3check
            echo EMU-V3-EXIT $?
            poweroff -f

            """
        let prog = try [UInt8](Data(contentsOf: URL(fileURLWithPath: bin)))
        var archive = newc("init", mode: 0o100755, Array(initScript.utf8), ino: 910001)
        archive += newc("v3check", mode: 0o100755, prog, ino: 910002)
        archive += newc("TRAILER!!!", mode: 0, [], ino: 0)
        try Data(archive).write(to: URL(fileURLWithPath: tmp + "/extra.cpio"))
        // The kernel looks for the next archive at a 4-byte aligned offset after the gzip one.
        var combined = try Data(contentsOf: URL(fileURLWithPath: initrd))
        while combined.count % 4 != 0 { combined.append(0) }
        combined += try Data(contentsOf: URL(fileURLWithPath: tmp + "/extra.cpio"))
        let rd = tmp + "/initrd"
        try combined.write(to: URL(fileURLWithPath: rd))
        let r = try boot(["--kernel", kernel, "--initrd", rd, "--ram", "256", "--deterministic",
                          "--append", "console=ttyS0 panic=-1"], timeout: 1200)
        print("x86-64-v3 check in Linux: \(String(format: "%.1f", r.seconds)) s, exit \(r.status)")
        func lines(_ t: String) -> [String] {
            // (The serial output ends lines with CR LF, a single Character.)
            t.components(separatedBy: .newlines)
                .filter { ["loops ", "fma ", "avx2int ", "avxfp ", "bits ", "X86-64-V3-CHECK-DONE"].contains(where: $0.hasPrefix) }
        }
        XCTAssertEqual(lines(r.serial), lines(host.1), "guest output:\n\(r.serial.suffix(3000))\n\(r.stderr)")
        XCTAssertTrue(r.serial.contains("EMU-V3-EXIT 0"), String(r.serial.suffix(2000)))
        XCTAssertEqual(r.status, 0)
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
