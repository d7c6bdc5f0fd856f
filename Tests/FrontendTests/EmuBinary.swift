import XCTest
import Foundation

/// The `emu` executable next to the test bundle (same build directory).
func locateEmuBinary() throws -> String {
    // The test runner executable lives in the build directory beside `emu`.
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
    for _ in 0..<3 {
        let p = dir.appendingPathComponent("emu").path
        if FileManager.default.isExecutableFile(atPath: p) { return p }
        dir = dir.deletingLastPathComponent()
    }
    XCTFail("emu executable not found near \(me); build the package first (swift build --build-tests)")
    throw CancellationError()
}
