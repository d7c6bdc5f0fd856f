import XCTest
import Foundation
import Machine
import CPU

/// The test ROMs on /dev/kvm (skipped when KVM is not usable).
///
/// On the build machines KVM is kvm-pvm, nested: everything that is not 64-bit paged code runs
/// in the host kernel's instruction emulator. That emulator has no DAA/AAD-exact flags, no
/// protected-mode IRET, no task switches, and delivers some exceptions differently from
/// silicon; paging for a non-PVM guest triple-faults (QEMU's own `-accel kvm` fails the same
/// ROMs in the same places). So: the ROMs listed in `passOnKVM` must print exactly what the
/// interpreter prints; every other ROM must stop (result or one error line) without hanging
/// or crashing emu; and `--kvm-strict` must name the instruction the emulator could not run.
final class KVMROMTests: XCTestCase {
    /// ROMs that pass on this host's KVM (with interpreter assist for the instructions the
    /// host's emulator gives up on).
    static let passOnKVM = ["hello", "real_modes", "real_shift", "real_string", "pm_segments", "sysenter_sysexit"]

    func runInterp(_ image: [UInt8]) throws -> (MachineExit, String) {
        let (m, out) = try KVMTestSupport.machine(image)
        let r = m.run(maxInstructions: 500_000_000)
        return (r, out.text)
    }

    func testROMsPassOnKVM() throws {
        let sys = try KVMTestSupport.requireKVM()
        for name in Self.passOnKVM {
            let img = try KVMTestSupport.assembleROM(name)
            let (ir, itext) = try runInterp(img)
            XCTAssertEqual(ir, .exitPort(1), "\(name) on the interpreter")
            let (m, out) = try KVMTestSupport.machine(img)
            let kvm = try m.makeKVMAccelerator(system: sys)
            let t0 = Date()
            let r = try m.runOnKVM(kvm, timeout: 120)
            XCTAssertEqual(r, .exitPort(1), "\(name) on KVM:\n\(out.text)")
            XCTAssertEqual(out.text, itext, "\(name): KVM output differs from the interpreter's")
            XCTAssertFalse(out.text.contains("FAIL"), name)
            print("KVM ROM \(name): pass in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s, \(kvm.exitCounts.values.reduce(0, +)) exits, \(kvm.assistedInstructions) interpreter-assisted")
        }
    }

    /// The ROMs this host's KVM cannot run correctly must still end: a result or one error line.
    func testOtherROMsStopCleanly() throws {
        let sys = try KVMTestSupport.requireKVM()
        let others = KVMTestSupport.romNames().filter { !Self.passOnKVM.contains($0) }
        XCTAssertFalse(others.isEmpty)
        for name in others {
            let img = try KVMTestSupport.assembleROM(name)
            let (m, out) = try KVMTestSupport.machine(img)
            let kvm = try m.makeKVMAccelerator(system: sys)
            let t0 = Date()
            var outcome: String
            do {
                let r = try m.runOnKVM(kvm, timeout: 15)
                outcome = "\(r)"
            } catch let e as KVMRunError {
                XCTAssertFalse(e.description.contains("\n"), "one line: \(e.description)")
                outcome = e.description
            }
            let took = Date().timeIntervalSince(t0)
            XCTAssertLessThan(took, 60, "\(name) did not stop")
            let fails = out.text.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("FAIL") }.count
            print("KVM ROM \(name) (host limitation): \(outcome) after \(String(format: "%.1f", took)) s, \(fails) FAIL lines")
        }
    }

    /// Strict mode: the host emulator's failure on DAA (real mode) is one line with the bytes.
    func testStrictModeNamesTheInstruction() throws {
        let sys = try KVMTestSupport.requireKVM()
        let img = try KVMTestSupport.assembleROM("real_alu")
        let (m, _) = try KVMTestSupport.machine(img)
        let kvm = try m.makeKVMAccelerator(system: sys)
        kvm.interpreterAssist = false
        do {
            let r = try m.runOnKVM(kvm, timeout: 60)
            throw XCTSkip("this host's KVM ran real_alu without an emulation failure (\(r)); nothing to check")
        } catch let e as KVMRunError {
            XCTAssertEqual(e.kind, .emulationFailure)
            XCTAssertFalse(e.description.contains("\n"))
            XCTAssertTrue(e.description.contains("emulation failure"), e.description)
            XCTAssertTrue(e.description.contains("in real mode"), e.description)
            XCTAssertTrue(e.description.contains("instruction bytes 27"), "DAA is 27: \(e.description)")
            // The guest stopped at the DAA itself.
            XCTAssertEqual(m.memory.read(m.cpu.sreg[1].base &+ m.cpu.rip, size: 1), 0x27)
        }
    }

    /// Starts a ROM on the interpreter, moves it to KVM halfway, finishes there: same output
    /// as an all-interpreter run. Then the other way round.
    func testMigrationBetweenInterpreterAndKVM() throws {
        let sys = try KVMTestSupport.requireKVM()
        let img = try KVMTestSupport.assembleROM("real_shift")
        let (ir, itext) = try runInterp(img)
        XCTAssertEqual(ir, .exitPort(1))
        let (probe, _) = try KVMTestSupport.machine(img)
        _ = probe.run(maxInstructions: 500_000_000)
        let total = probe.cpu.s.pointee.icount

        // Interpreter → KVM.
        let (m, out) = try KVMTestSupport.machine(img)
        XCTAssertEqual(m.run(maxInstructions: total / 2), .instructionLimit)
        let half = out.text
        XCTAssertFalse(half.isEmpty)
        XCTAssertNotEqual(half, itext)
        let kvm = try m.makeKVMAccelerator(system: sys)
        XCTAssertEqual(try m.runOnKVM(kvm, timeout: 120), .exitPort(1))
        XCTAssertEqual(out.text, itext, "interpreter → KVM")

        // KVM → interpreter: a few hundred exits on KVM, the rest on the interpreter.
        let (m2, out2) = try KVMTestSupport.machine(img)
        let kvm2 = try m2.makeKVMAccelerator(system: sys)
        XCTAssertEqual(try m2.runOnKVM(kvm2, timeout: 120, maxExits: 3000), .instructionLimit)
        XCTAssertFalse(out2.text.isEmpty)
        XCTAssertNotEqual(out2.text, itext)
        XCTAssertEqual(m2.run(maxInstructions: 500_000_000), .exitPort(1))
        XCTAssertEqual(out2.text, itext, "KVM → interpreter")
    }

    /// Nonsense from the guest under KVM: an MSR that does not exist, a CPUID leaf far out of
    /// range and MMIO writes to nothing give guest-visible results, never a hung or crashed emu.
    func testNonsenseMSRCPUIDAndMMIO() throws {
        let sys = try KVMTestSupport.requireKVM()
        let src = """
        bits 16
        org 0
        start:
            cli
            xor ax, ax
            mov ds, ax
            mov ss, ax
            mov sp, 0x7000
            mov word [13*4], gp_handler      ; #GP through the IVT
            mov word [13*4+2], 0xF000
            mov eax, 0x80000000              ; CPUID far beyond the max leaf: no fault
            add eax, 0x7FFF0000
            cpuid
            mov ax, 0xA000                   ; a write to an unassigned MMIO address
            mov es, ax
            mov byte [es:0], 0x55
            mov ecx, 0xDEADBEEF              ; WRMSR to an MSR that does not exist: #GP
            xor eax, eax
            xor edx, edx
            wrmsr
            mov al, 2                        ; no #GP: exit status 5
            out 0xF4, al
            hlt
        gp_handler:
            mov al, 0x47                     ; 'G' on COM1, then exit status 1
            mov dx, 0x3F8
            out dx, al
            mov al, 0
            out 0xF4, al
            hlt
            times 0xFFF0 - ($ - $$) db 0
            jmp 0xF000:start
            times 0x10000 - ($ - $$) db 0
        """
        let img = try KVMTestSupport.assemble(text: src, name: "nonsense")
        let (m, out) = try KVMTestSupport.machine(img)
        let kvm = try m.makeKVMAccelerator(system: sys)
        let r = try m.runOnKVM(kvm, timeout: 60)
        XCTAssertEqual(r, .exitPort(1), "the guest saw #GP for the nonsense MSR; output: \(out.text)")
        XCTAssertEqual(out.text, "G")
    }
}
