import XCTest
import Foundation

/// A static x86-64-v3 program (testroms/guest/v3check.c: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE
/// by intrinsics, auto-vectorised loops, glibc's AVX2/FMA libm and string variants) built with
/// `gcc -O2 -march=x86-64-v3 -static`, run on the host and inside the Linux guest: the outputs
/// must be identical. The program and a small init go into a second cpio archive appended to
/// the guest's initramfs (the kernel unpacks concatenated archives) and the kernel runs that
/// init (`rdinit=/v3init`), which also runs a few busybox applets.
///
/// The guest only runs the program when its /proc/cpuinfo lists avx2, fma, bmi2, f16c and movbe
/// (what emu's CPUID advertises); otherwise the test skips and says so.
extension BootTests {
    static let v3Init = """
    #!/bin/sh
    export PATH=/usr/sbin:/usr/bin:/sbin:/bin
    mount -t proc proc /proc
    echo "BUSYBOX $(echo abc | sed s/b/X/) $(seq 3 | tr '\\n' ,) $(printf '%s' hello | md5sum | cut -c1-8)"
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    ok=1
    for f in avx avx2 fma bmi1 bmi2 f16c movbe abm; do
        case " ${flags#*:} " in *" $f "*) ;; *) ok=0; echo "V3-MISSING $f" ;; esac
    done
    if [ $ok = 1 ]; then
        echo V3-BEGIN
        /v3check
        echo "V3-END $?"
    else
        echo V3-UNSUPPORTED
    fi
    poweroff -f
    """

    /// One newc (SVR4, no CRC) cpio entry; `data` nil = the trailer.
    static func newcEntry(_ name: String, mode: UInt32, data: [UInt8], ino: UInt32) -> [UInt8] {
        func hex8(_ v: UInt32) -> String { let s = String(v, radix: 16, uppercase: true); return String(repeating: "0", count: 8 - s.count) + s }
        let fields: [UInt32] = [ino, mode, 0, 0, 1, 0, UInt32(data.count), 0, 0, 0, 0, UInt32(name.utf8.count + 1), 0]
        var out = Array(("070701" + fields.map(hex8).joined()).utf8) + Array(name.utf8) + [0]
        while out.count % 4 != 0 { out.append(0) }
        out += data
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// Runs a host tool found on PATH; returns its status and its stdout+stderr.
    func run(_ tool: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testStaticX8664V3ProgramInLinuxGuest() throws {
        let kernel = try guestFile("vmlinuz"), initrd = try guestFile("initramfs.cpio.gz")
        let dir = NSTemporaryDirectory() + "emu-v3-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = Self.packageRoot.appendingPathComponent("testroms/guest/v3check.c").path
        let bin = dir + "/v3check"
        let (cc, ccOut) = try run("gcc", ["-O2", "-march=x86-64-v3", "-static", "-o", bin, src, "-lm"])
        guard cc == 0 else {
            if ProcessInfo.processInfo.environment["EMU_REQUIRE_GUEST"] == "1" { XCTFail("gcc failed:\n\(ccOut)"); return }
            throw XCTSkip("cannot build the x86-64-v3 program with gcc -static (install gcc and libc6-dev): \(ccOut.prefix(300))")
        }
        // The binary really holds the extensions' instructions.
        let (_, dis) = try run("objdump", ["-d", "--no-show-raw-insn", bin])
        for insn in ["vfmadd", "vfmaddsub", "vpgatherdd", "vpermd", "vpsllvd", "pdep", "pext", "mulx", "shlx", "bzhi", "andn", "vcvtps2ph", "movbe", "lzcnt", "tzcnt"] {
            XCTAssertTrue(dis.contains(insn), "objdump finds no \(insn) in v3check")
        }
        let (hostStatus, host) = try run(bin, [])
        XCTAssertEqual(hostStatus, 0)
        let hostLines = host.split(whereSeparator: \.isNewline).map(String.init)
        XCTAssertEqual(hostLines.last, "done", host)

        var archive = [UInt8](try Data(contentsOf: URL(fileURLWithPath: initrd)))
        while archive.count % 4 != 0 { archive.append(0) }
        archive += Self.newcEntry("v3check", mode: 0o100755, data: [UInt8](try Data(contentsOf: URL(fileURLWithPath: bin))), ino: 900_001)
        archive += Self.newcEntry("v3init", mode: 0o100755, data: Array(Self.v3Init.utf8) + [10], ino: 900_002)
        archive += Self.newcEntry("TRAILER!!!", mode: 0, data: [], ino: 0)
        let combined = dir + "/initrd.img"
        try Data(archive).write(to: URL(fileURLWithPath: combined))

        let r = try boot(["--kernel", kernel, "--initrd", combined, "--ram", "256", "--deterministic",
                          "--append", "console=ttyS0 panic=-1 quiet loglevel=1 rdinit=/v3init"], timeout: 900)
        let lines = r.serial.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        print("x86-64-v3 guest run: \(String(format: "%.1f", r.seconds)) s, exit \(r.status)")
        XCTAssertTrue(lines.contains("BUSYBOX aXc 1,2,3, 5d41402a"), "busybox applets:\n\(r.serial.suffix(2000))")
        if lines.contains("V3-UNSUPPORTED") {
            throw XCTSkip("the guest CPU does not advertise x86-64-v3 yet: \(lines.filter { $0.hasPrefix("V3-MISSING") }.joined(separator: ", "))")
        }
        guard let b = lines.firstIndex(of: "V3-BEGIN"), let e = lines.firstIndex(where: { $0.hasPrefix("V3-END") }), b < e else {
            XCTFail("no V3-BEGIN/V3-END in the guest output:\n\(r.serial.suffix(3000))\n\(r.stderr)")
            return
        }
        XCTAssertEqual(lines[e], "V3-END 0", "exit status in the guest")
        let guest = Array(lines[(b + 1)..<e])
        XCTAssertEqual(guest, hostLines, "guest output differs from the host's")
        for (g, h) in zip(guest, hostLines) where g != h { print("guest: \(g)\nhost:  \(h)") }
        XCTAssertEqual(r.status, 0, "emu exit status; stderr: \(r.stderr)")
    }
}
