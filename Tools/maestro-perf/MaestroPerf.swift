import ArgumentParser
import ToolSupport

@main
struct MaestroPerf: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-perf",
        abstract: "Benchmarks of the Ensemble/Maestro runtime over real UDP.",
        discussion: """
            Each subcommand runs for a fixed length, prints progress on stderr and its figures \
            on stdout; with --json the last line is one JSON object.
            """,
        subcommands: [UDPFlood.self, Throughput.self, Failover.self, Leave.self, Restart.self, Formation.self, PartitionMerge.self, Memory.self, Scale.self, ScaleNodeCommand.self, RPC.self, Xfer.self, Latency.self, Suite.self, PerfNode.self, KVBench.self])
}
