import ArgumentParser
import Foundation
import ToolSupport

/// `maestro-perf suite`: the standard benchmark set (`make bench`), each run as a child
/// process with --json; writes the JSON objects to one file and prints a short table.
struct Suite: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the standard benchmark set and write the results as JSON.",
        discussion: """
            1 sender to 3 members at 100 B and 1 KB, latency at 10k msgs/s, rpc (across CPUs, and both processes on CPU 0), failover with the \
            fast profile and with the defaults, leave (SIGTERM) and restart (kill -9, same port) with the defaults \
            (--quick: the fast ones), and a 256 MB state transfer. Each runs as `maestro-perf \
            <subcommand> --json`; the JSON objects go to --out as one array, and a table to stdout.
            """)

    @Option(help: "Where to write the JSON results.")
    var out = "bench/results.json"

    @Option(help: "Seconds of traffic for throughput and latency.")
    var seconds = 3.0

    @Flag(help: "A shorter set (for CI: proves every benchmark runs).")
    var quick = false

    @OptionGroup var key: KeyOptions

    @OptionGroup var log: LogOptions

    static let fast = "fast"

    func run() throws {
        log.bootstrap()
        let secs = String(quick ? 1.0 : seconds)
        let runs: [(String, [String])] = [
            ("throughput 100 B", ["throughput", "--members", "4", "--senders", "1", "--size", "100", "--seconds", secs]),
            ("throughput 1 KB", ["throughput", "--members", "4", "--senders", "1", "--size", "1000", "--seconds", secs]),
            ("latency 10k/s", ["latency", "--members", "4", "--rate", "10000", "--seconds", secs]),
            ("rpc", ["rpc", "--rounds", quick ? "100" : "500"]),
            ("rpc one CPU", ["rpc", "--rounds", quick ? "100" : "500", "--pin-cpu", "0"]),
            ("failover", ["failover", "--members", "4", "--params", Suite.fast, "--rounds", quick ? "1" : "3"]),
            ("failover default", ["failover", "--members", "4", "--rounds", quick ? "1" : "3"]),
            // The project's defaults: how long a clean leave and a restart take out of the box.
            ("leave", ["leave", "--members", "4", "--rounds", quick ? "1" : "3"] + (quick ? ["--params", Suite.fast] : [])),
            ("restart", ["restart", "--members", "4", "--rounds", quick ? "1" : "3"] + (quick ? ["--params", Suite.fast] : [])),
            ("xfer 256 MB", ["xfer", "--state-bytes", String(quick ? 16 << 20 : 256 << 20)]),
        ]
        var results: [String] = []
        var table: [(String, String)] = []
        let progress = Progress()
        for (name, args) in runs {
            progress.update("running \(name)")
            let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-perf-suite-\(getpid())-\(results.count).err").path
            let child = try ChildProcess("maestro-perf", args + ["--json"] + key.childArguments, stderrPath: errPath)
            var json: String?
            var last = ""
            while let l = child.waitForLine(timeout: 900, { _ in true }) {
                if l.hasPrefix("{") { json = l } else { last = l }
            }
            child.process.waitUntilExit()
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: errPath)
            guard let j = json, child.process.terminationStatus == 0 else {
                // Say why: the child's last error line (progress lines use \r), else its last output.
                let why = errors.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
                    .last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init) ?? last
                table.append((name, "FAILED (exit \(child.process.terminationStatus)): \(why)"))
                continue
            }
            results.append(j)
            table.append((name, Suite.headline(j)))
        }
        progress.finish()
        let url = URL(fileURLWithPath: out)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ("[\n" + results.joined(separator: ",\n") + "\n]\n").write(to: url, atomically: true, encoding: .utf8)
        let width = table.map(\.0.count).max() ?? 10
        for (name, value) in table { print(name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + value) }
        print("results: \(out)")
        if table.contains(where: { $0.1.hasPrefix("FAILED") }) { throw ExitCode(1) }
    }

    /// The figure that matters for each benchmark.
    static func headline(_ json: String) -> String {
        guard let data = json.data(using: .utf8),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return json }
        func n(_ k: String) -> Double { (o[k] as? NSNumber)?.doubleValue ?? 0 }
        switch o["benchmark"] as? String {
        case "throughput": return String(format: "%.0f msgs/s per receiver (%.1f MB/s), lost %.0f, out of order %.0f", n("msgs_per_sec"), n("mb_per_sec"), n("lost"), n("out_of_order"))
        case "latency": return String(format: "p50 %.0f us, p99 %.0f us, max %.0f us", n("p50_us"), n("p99_us"), n("max_us"))
        case "rpc": return String(format: "round trip median %.1f us, %.0f round trips/s (C two-process floor %.1f us)", n("round_trip_us_median"), n("round_trips_per_sec"), n("baseline_round_trip_us_median"))
        case "failover": return String(format: "%.3f s to the survivors' view", n("seconds"))
        case "leave": return String(format: "%.3f s from SIGTERM to the survivors' view (leaver exited after %.3f s)", n("seconds"), n("leaver_exit_seconds"))
        case "restart": return String(format: "%.3f s from the restart to one view with every process", n("seconds"))
        case "xfer": return String(format: "%.0f MB/s, largest heartbeat gap %.0f ms", n("mb_per_sec"), n("max_heartbeat_gap_ms"))
        default: return json
        }
    }
}
