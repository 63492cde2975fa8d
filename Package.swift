// swift-tools-version:6.0
import Foundation
import PackageDescription

// Layout fixed by the design card: Sources (libraries), Tools (executables), Tests.
// `Ensemble` is the sans-IO engine and must never depend on CLibev or Reactor.
let package = Package(
    name: "EnsembleSwift",
    platforms: [.macOS(.v13)],
    products: [
        // What a daemon imports: the toolkit, the libev runtime as its default shell, and
        // the engine's value types.
        .library(name: "Maestro", targets: ["Maestro"]),
        // The toolkit alone (imports the engine only): for programs with their own shell.
        .library(name: "MaestroCore", targets: ["MaestroCore"]),
        .library(name: "Ensemble", targets: ["Ensemble"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        .executable(name: "maestro-perf", targets: ["maestro-perf"]),
        .executable(name: "lapa", targets: ["lapa"]),
        .executable(name: "maestro-sim", targets: ["maestro-sim"]),
        .executable(name: "maestro-gossip", targets: ["maestro-gossip"]),
        .executable(name: "maestro-soak", targets: ["maestro-soak"]),
        .executable(name: "maestro-kv", targets: ["maestro-kv"]),
        .executable(name: "kv-example", targets: ["kv-example"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // libev through a module map; Debian's libev-dev has no pkg-config file.
        .systemLibrary(name: "CLibev", path: "Sources/CLibev"),
        // recvmmsg/sendmmsg need _GNU_SOURCE, which Swift's Glibc module does not expose.
        .target(name: "CNetShim", path: "Sources/CNetShim"),
        .target(
            name: "Ensemble",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Ensemble"),
        .target(
            name: "Reactor",
            dependencies: ["CLibev", "CNetShim", "Ensemble", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Reactor"),
        // Maestro's toolkit: GroupMember, ClientServer, CSX. Sans-IO: every clock, socket and
        // deferred call comes through a MaestroShell.
        .target(
            name: "MaestroCore",
            dependencies: ["Ensemble", .product(name: "Logging", package: "swift-log")],
            path: "Sources/MaestroCore"),
        // Load-time hook that makes the libev runtime Maestro's default shell.
        .target(name: "CMaestroStartup", path: "Sources/CMaestroStartup"),
        .target(
            name: "Maestro",
            dependencies: ["MaestroCore", "Reactor", "Ensemble", "CMaestroStartup"],
            path: "Sources/Maestro"),
        .target(
            name: "Simulation",
            dependencies: ["Ensemble", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Simulation"),
        // Maestro's members on the simulator: its shell, a CSX scenario and its checker.
        .target(
            name: "MaestroSimulation",
            dependencies: ["MaestroCore", "Simulation", "Ensemble"],
            path: "Sources/MaestroSimulation"),
        .target(
            name: "ToolSupport",
            dependencies: [
                "Ensemble", "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/ToolSupport"),
        // The plain C flood that `maestro-perf udp` compares the reactor with.
        .target(
            name: "CFloodBaseline",
            path: "Tools/CFloodBaseline",
            linkerSettings: [.linkedLibrary("ev")]),
        .executableTarget(
            name: "maestro-perf",
            dependencies: [
                "Reactor", "Ensemble", "Maestro", "ToolSupport", "CFloodBaseline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/maestro-perf"),
        .executableTarget(
            name: "lapa",
            dependencies: [
                "Maestro", "Reactor", "Ensemble", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/lapa"),
        .executableTarget(
            name: "maestro-sim",
            dependencies: [
                "Simulation", "MaestroSimulation", "Ensemble", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/maestro-sim"),
        .executableTarget(
            name: "maestro-gossip",
            dependencies: [
                "Reactor", "Ensemble", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/maestro-gossip"),
        // The getting-started daemon of the documentation (Sources/Maestro/Maestro.docc), built
        // and run by the tests so that the article's code cannot rot: `import Maestro` only.
        .executableTarget(name: "kv-example", dependencies: ["Maestro"], path: "Tools/kv-example"),
        // The soak's logs and checks, free of processes: the log format, its reader, the merged
        // history and the checks run on it.
        .target(name: "SoakCheck", dependencies: ["Ensemble", "Simulation"], path: "Tools/SoakCheck"),
        .executableTarget(
            name: "maestro-soak",
            dependencies: [
                "Reactor", "Ensemble", "Maestro", "Simulation", "MaestroSimulation", "ToolSupport", "SoakCheck",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/maestro-soak"),
        // The replicated key-value daemon's parts free of the group: RESP, the store and its
        // deterministic writes, snapshots, client connections on the reactor, the commands.
        .target(
            name: "KVCore",
            dependencies: [
                "Reactor", "Ensemble",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ],
            path: "Tools/KVCore"),
        // maestro-kv: a Redis-protocol key-value store replicated by a CSX group.
        .executableTarget(
            name: "maestro-kv",
            dependencies: [
                "KVCore", "Maestro", "Reactor", "Ensemble", "ToolSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/maestro-kv"),
        // Feeds arbitrary bytes to every decoder: the libFuzzer target and the corpus tests.
        .target(name: "FuzzHarness", dependencies: ["Ensemble", "MaestroCore"], path: "Tools/FuzzHarness"),
        .testTarget(name: "EnsembleTests", dependencies: ["Ensemble"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "Ensemble", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "MaestroTests", dependencies: ["Maestro", "Ensemble", "Reactor", "FuzzHarness"]),
        // Compiles against the public API only (no @testable): what a daemon can reach.
        .testTarget(name: "PublicAPITests", dependencies: ["Maestro", "Ensemble"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "Ensemble"]),
        .testTarget(name: "MaestroSimulationTests", dependencies: ["MaestroSimulation", "MaestroCore", "Simulation", "Ensemble"]),
        .testTarget(name: "SoakCheckTests", dependencies: ["SoakCheck", "Simulation", "Ensemble", "MaestroSimulation", "MaestroCore"]),
        .testTarget(name: "KVTests", dependencies: ["KVCore", "Reactor", "Ensemble"]),
        // Runs the tools as real processes; depends on them so that they are built first.
        .testTarget(name: "IntegrationTests", dependencies: ["maestro-soak", "maestro-gossip", "maestro-perf", "lapa", "maestro-kv", "kv-example", "ToolSupport"]),
    ]
)

// The libFuzzer target exists only for `make fuzz` (ENSEMBLE_FUZZ=1, built with
// -sanitize=fuzzer, which supplies main): an ordinary build would have no main to link.
if ProcessInfo.processInfo.environment["ENSEMBLE_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "fuzz-ensemble", dependencies: ["FuzzHarness"], path: "Tools/fuzz-ensemble"))
    package.products.append(.executable(name: "fuzz-ensemble", targets: ["fuzz-ensemble"]))
}
