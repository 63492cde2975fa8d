import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-perf node`: one member process of the throughput and latency benchmarks. It joins
/// through the rendezvous, waits for a view of --members, and then sends (flat out with flow
/// control, or at --rate with a timestamp in every message) or receives and checks. Lines on
/// stdout: `ready <addr>`, `joined`, then `sent <n> <seconds>` (senders), and from every node
/// `received <n> <first> <last> <out-of-order> <corrupt>`, `order <hash> <n>` (a running hash
/// of the sequence of casts it delivered: `NumberedCasts.orderHash`) and, in latency mode,
/// `latency <p50> <p90> <p99> <max> <n>` (microseconds). SIGTERM or SIGINT: the member leaves
/// the group, prints `exit` and the process ends (status 0) once it has left, or after 2 s.
struct PerfNode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "(internal) One member process of the throughput and latency benchmarks.",
        shouldDisplay: false)

    @Option var gossip: String
    @Option var group: String
    @Option var members: Int
    @Option var role: String = "receiver"
    @Option var size = 100
    @Option var seconds = 3.0
    @Option var rate = 0.0
    @Option var protocolStack: String?
    @OptionGroup var bind: BindOptions
    @OptionGroup var common: GroupOptions

    func run() throws {
        common.log.bootstrap()
        guard let rendezvous = Address(gossip) else { throw ValidationError("--gossip must be HOST:PORT") }
        let reactor = Reactor()
        let app = NumberedCasts(size: size, reactor: reactor)
        app.timesArrivals = true
        var joined = false
        app.onView = { view, _ in if view.count >= members { joined = true } }
        let member = try UDPMember(reactor: reactor, group: group, bind: bind.address, rendezvous: [rendezvous],
                                   protocolStack: try common.protocolStack(explicit: protocolStack), params: try Parameters(parsing: common.params), application: app,
                                   key: try common.key.groupKey())
        let endpoint = member.endpoint
        let transport = member.transport
        app.endpoint = endpoint
        // SIGTERM/SIGINT in any phase: leave the group, then end the process.
        let leaver = LeaveOnTermination(reactor: reactor, leave: { endpoint.leave() }) {
            perfLine("exit")
            Foundation.exit(0)
        }
        app.onExit = { leaver.exited() }
        defer { withExtendedLifetime(leaver) {} }
        perfLine("ready \(transport.localAddress)")
        try endpoint.join()
        guard reactor.run(until: { joined }, timeout: .seconds(60)) else {
            perfLine("error the group never reached \(members) members")
            throw ExitCode(1)
        }
        perfLine("joined")
        // Let every member see the full view before traffic starts.
        reactor.run(for: .milliseconds(300))
        let sender = role == "sender" || role == "latency-sender"
        if sender {
            app.sending = role == "sender"  // flat out; the latency sender paces its own casts
            let start = monotonicNow()
            var pacer: LoopTimer?
            if role == "latency-sender" {
                // Spread the rate over 1 ms ticks (or slower ticks for low rates).
                let tick = max(0.001, 1 / max(rate, 1))
                let perTick = max(1, Int((rate * tick).rounded()))
                pacer = reactor.every(.seconds(tick), label: "paced casts") {
                    for _ in 0 ..< perTick where !app.castOne(stamped: true) { break }
                }
            } else {
                app.pump()
            }
            reactor.run(for: .seconds(seconds))
            pacer?.cancel()
            app.sending = false
            perfLine(String(format: "sent %d %.6f", app.sent, monotonicNow() - start))
        }
        // Receive (and, a sender, serve retransmissions) until traffic has been quiet for a
        // while after the sending period; then report. A sender receives the other senders'
        // casts, and its own with a totally ordered stack.
        do {
            let deadline = monotonicNow() + (sender ? 10 : seconds + 10)
            var lastCount = -1
            var quietSince = monotonicNow()
            while monotonicNow() < deadline {
                reactor.run(for: .milliseconds(200))
                if app.received != lastCount {
                    lastCount = app.received
                    quietSince = monotonicNow()
                } else if (app.received > 0 || sender) && monotonicNow() - quietSince > (sender ? 2.0 : 1.0) {
                    break
                }
            }
            perfLine(String(format: "received %d %.6f %.6f %d %d", app.received, app.firstArrival, app.lastArrival,
                            app.outOfOrder + app.gaps, app.corrupt))
            perfLine(String(format: "order %016llx %d", app.orderHash, app.received))
            if !app.latencies.isEmpty {
                let s = app.latencies.sorted()
                func pct(_ p: Double) -> Double { s[min(s.count - 1, Int(Double(s.count) * p))] }
                perfLine(String(format: "latency %.1f %.1f %.1f %.1f %d", pct(0.5), pct(0.9), pct(0.99), s.last ?? 0, s.count))
            }
        }
        let c = endpoint.counters
        let sock = transport.udpSocket
        perfLine("stats datagrams-sent \(c.datagramsSent) datagrams-received \(c.datagramsReceived) unknown-view \(c.unknownView) socket-queued \(sock?.sendsQueued ?? 0) send-failures \(sock?.sendFailures ?? 0) truncated \(sock?.truncatedDrops ?? 0)")
        withExtendedLifetime(member) {}
    }
}

func perfLine(_ s: String) {
    print(s)
    fflush(nil)
}
