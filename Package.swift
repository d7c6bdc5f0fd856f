// swift-tools-version:6.0
import PackageDescription

let hot: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "emu",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "emu", targets: ["Frontend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Fixed-layout CPU state shared by the interpreter, the JIT and (later) KVM state transfer.
        .target(name: "CPUState", path: "Sources/CPUState"),
        .target(name: "CPU", dependencies: ["CPUState"], path: "Sources/CPU", swiftSettings: hot),
        .target(name: "JIT", dependencies: ["CPU", "CPUState"], path: "Sources/JIT", swiftSettings: hot),
        // linux/kvm.h for the KVM accelerator.
        .target(name: "CKVM", path: "Sources/CKVM"),
        // Differential tester (`emu difftest`): native runner (signal handling, host state) and engine.
        .target(name: "CDiffTest", path: "Sources/CDiffTest"),
        .target(name: "DiffTest", dependencies: ["CPU", "CPUState", "CDiffTest"], path: "Sources/DiffTest"),
        .target(name: "Devices", dependencies: ["CPU"], path: "Sources/Devices", swiftSettings: hot),
        .target(name: "Machine", dependencies: ["CPU", "Devices", "JIT", "CKVM"], path: "Sources/Machine", swiftSettings: hot),
        .executableTarget(
            name: "Frontend",
            dependencies: ["Machine", "JIT", "DiffTest", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Frontend"),
        .testTarget(name: "CPUTests", dependencies: ["CPU", "CPUState", "Machine", "DiffTest"], path: "Tests/CPUTests"),
        .testTarget(name: "ConformanceTests", dependencies: ["CPU", "CPUState", "JIT"], path: "Tests/ConformanceTests"),
        .testTarget(name: "ROMTests", dependencies: ["Machine", "CPU"], path: "Tests/ROMTests"),
        .testTarget(name: "DevicesTests", dependencies: ["Devices", "CPU"], path: "Tests/DevicesTests"),
        .testTarget(name: "FrontendTests", dependencies: [], path: "Tests/FrontendTests"),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "Devices", "CPU"], path: "Tests/MachineTests"),
        .testTarget(name: "JITTests", dependencies: ["JIT", "CPU", "CPUState", "Machine"], path: "Tests/JITTests"),
        .testTarget(name: "KVMTests", dependencies: ["Machine", "CPU", "CPUState", "CKVM", "Devices"], path: "Tests/KVMTests"),
    ]
)
