import ArgumentParser
import Foundation
import ToolSupport

/// `maestro-perf latency`: one member process casts at a steady rate, every message stamped
/// with its send time; the other processes measure one-way delivery latency.
struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One-way multicast delivery latency percentiles at a given rate (member processes).")

    @Option(help: "Member processes (one sender, the rest receive).")
    var members = 4

    @Option(help: "Message size in bytes (at least 24).")
    var size = 100

    @Option(help: "Casts per second.")
    var rate = 10_000.0

    @Option(help: "Seconds of traffic.")
    var seconds = 3.0

    @Flag(help: "Total order: the members run Vsync:Total (unless --properties or --protocol-stack says otherwise); the latency then includes the wait for the sequencer's order.")
    var total = false

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard members >= 2 else { throw ValidationError("--members must be at least 2") }
        guard size >= 24 else { throw ValidationError("--size must be at least 24 bytes (sequence, checksum, timestamp)") }
        guard rate > 0, seconds > 0 else { throw ValidationError("--rate and --seconds must be positive") }
    }

    func run() throws {
        common.log.bootstrap()
        let progress = Progress()
        progress.update("starting \(members) member processes")
        let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments)
        var nodes: [ChildProcess] = []
        for i in 0 ..< members {
            nodes.append(try ChildProcess("maestro-perf", ["node", "--gossip", g.rendezvous, "--group", g.group, "--members", String(members),
                                                           "--role", i == 0 ? "latency-sender" : "receiver", "--size", String(size),
                                                           "--seconds", String(seconds), "--rate", String(rate), "--params", common.params]
                                                           + common.memberArguments
                                                           + (total && common.properties == nil ? ["--properties", "Vsync:Total"] : [])))
        }
        defer { for n in nodes where n.isRunning { n.kill(SIGKILL) } }
        for n in nodes where n.waitForLine(timeout: 60, { $0 == "joined" }) == nil {
            throw ChildError("the member processes never formed one view of \(members)")
        }
        progress.update("casting \(Int(rate)) msgs/s for \(seconds) s")
        guard let s = nodes[0].waitForLine(timeout: seconds + 30, { $0.hasPrefix("sent ") }) else { throw ChildError("the sender did not finish") }
        let sent = Int(s.split(separator: " ")[1]) ?? 0
        var p50 = 0.0, p90 = 0.0, p99 = 0.0, mx = 0.0
        var lost = 0
        for n in nodes.dropFirst() {
            guard let r = n.waitForLine(timeout: seconds + 30, { $0.hasPrefix("received ") }),
                  let l = n.waitForLine(timeout: 5, { $0.hasPrefix("latency ") }) else { throw ChildError("a receiver did not report") }
            lost += max(0, sent - (Int(r.split(separator: " ")[1]) ?? 0))
            let f = l.split(separator: " ").compactMap { Double($0) }
            guard f.count >= 4 else { continue }
            p50 = max(p50, f[0]); p90 = max(p90, f[1]); p99 = max(p99, f[2]); mx = max(mx, f[3])
        }
        progress.finish()
        let order = total ? " in total order" : ""
        print(String(format: "latency at %.0f msgs/s, %d B, %d receivers", rate, size, members - 1) + order
              + String(format: " (worst receiver): p50 %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us; sent %d, lost %d",
                       p50, p90, p99, mx, sent, lost))
        if json {
            print(jsonLine(["benchmark": "latency", "members": members, "size": size, "rate": rate, "p50_us": p50, "p90_us": p90,
                            "p99_us": p99, "max_us": mx, "sent": sent, "lost": lost, "total": total]))
        }
    }
}
