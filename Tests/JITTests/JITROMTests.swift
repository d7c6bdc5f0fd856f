import XCTest
import Foundation
import CPU
import JIT
import Machine

/// Every test ROM under `JITEngine`: the same exit, COM1 output and instruction count as the
/// interpreter; and the lockstep differential run (state compared after every block).
final class JITROMTests: XCTestCase {
    func testEveryROMUnderJIT() throws {
        let names = JITTestSupport.romNames()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let image = try JITTestSupport.assemble(name)
            let a = try JITTestSupport.run(image: image, jit: false)
            let b = try JITTestSupport.run(image: image, jit: true)
            XCTAssertEqual(b.exit, .exitPort(1), "\(name): JIT exit \(b.exit)\n\(b.output)")
            XCTAssertEqual(a.exit, b.exit, "\(name): exit differs")
            XCTAssertEqual(a.output, b.output, "\(name): COM1 output differs")
            XCTAssertEqual(a.icount, b.icount, "\(name): instruction count differs")
            XCTAssertFalse(b.output.contains("FAIL"), "\(name): FAIL under the JIT:\n\(b.output)")
            print(String(format: "JIT ROM %@: %llu instructions, interpreter %.3f s, JIT %.3f s; ",
                         name, b.icount, a.seconds, b.seconds) + b.stats)
        }
    }

    func testDifferentialEveryROM() throws {
        for name in JITTestSupport.romNames() {
            let image = try JITTestSupport.assemble(name)
            let start = Date()
            let (report, units) = try DiffRunner.run(image: image)
            if let report { XCTFail("testroms/\(name).asm: \(report)") }
            print(String(format: "difftest %@: %d blocks in lockstep, %.2f s", name, units, Date().timeIntervalSince(start)))
        }
    }
}
