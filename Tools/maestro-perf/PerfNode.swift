import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-perf node`: one member process of the throughput and latency benchmarks. It joins
/// through the rendezvous, waits for a view of --members, and then sends (flat out with flow
/// control, or at --rate with a timestamp in every message) or receives and checks. Lines on
/// stdout: `ready <addr>`, `joined`, then `sent <n> <seconds>` (senders) and
/// `received <n> <first> <last> <out-of-order> <corrupt>` and, in latency mode,
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
    @Option var params = ""
    @Option var protocolStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
    @OptionGroup var bind: BindOptions
    @OptionGroup var key: KeyOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.bootstrap()
        guard let rendezvous = Address(gossip) else { throw ValidationError("--gossip must be HOST:PORT") }
        let reactor = Reactor()
        let local = try LocalAddress.forMember(bind: bind.address, rendezvous: [rendezvous])
        let transport = try UDPTransport(reactor: reactor, bind: local.bind, advertise: local.advertise, maxDatagram: 65536, batch: 32,
                                         label: "benchmark member of group \(group)")
        let app = NodeApp(size: size, members: members, reactor: reactor)
        let endpoint = try GroupEndpoint(id: .fresh(at: transport.localAddress, counter: 0), group: GroupID(group),
                                         transport: transport, protocolStack: protocolStack,
                                         params: try Parameters(parsing: params), application: app, gossip: [rendezvous],
                                         key: try key.groupKey())
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
        guard reactor.run(until: { app.joined }, timeout: .seconds(60)) else {
            perfLine("error the group never reached \(members) members")
            throw ExitCode(1)
        }
        perfLine("joined")
        // Let every member see the full view before traffic starts.
        reactor.run(for: .milliseconds(300))
        let sender = role == "sender" || role == "latency-sender"
        if sender {
            app.sending = true
            let start = monotonicNow()
            var pacer: LoopTimer?
            if role == "latency-sender" {
                // Spread the rate over 1 ms ticks (or slower ticks for low rates).
                let tick = max(0.001, 1 / max(rate, 1))
                let perTick = max(1, Int((rate * tick).rounded()))
                pacer = reactor.every(.seconds(tick), label: "paced casts") { app.castTimed(count: perTick) }
            } else {
                app.pumpFlat()
            }
            reactor.run(for: .seconds(seconds))
            pacer?.cancel()
            app.sending = false
            perfLine(String(format: "sent %d %.6f", app.sent, monotonicNow() - start))
            // Stay for retransmissions until every receiver has everything (or give up).
            reactor.run(for: .seconds(2))
        } else {
            // Receive until traffic has been quiet for a while after the sending period.
            let deadline = monotonicNow() + seconds + 10
            var lastCount = -1
            var quietSince = monotonicNow()
            while monotonicNow() < deadline {
                reactor.run(for: .milliseconds(200))
                if app.received != lastCount {
                    lastCount = app.received
                    quietSince = monotonicNow()
                } else if app.received > 0 && monotonicNow() - quietSince > 1.0 {
                    break
                }
            }
            perfLine(String(format: "received %d %.6f %.6f %d %d", app.received, app.firstArrival, app.lastArrival, app.outOfOrder, app.corrupt))
            if !app.latencies.isEmpty {
                let s = app.latencies.sorted()
                func pct(_ p: Double) -> Double { s[min(s.count - 1, Int(Double(s.count) * p))] }
                perfLine(String(format: "latency %.1f %.1f %.1f %.1f %d", pct(0.5), pct(0.9), pct(0.99), s.last ?? 0, s.count))
            }
        }
        let c = endpoint.counters
        let sock = transport.udpSocket
        perfLine("stats datagrams-sent \(c.datagramsSent) datagrams-received \(c.datagramsReceived) unknown-view \(c.unknownView) socket-queued \(sock?.sendsQueued ?? 0) send-failures \(sock?.sendFailures ?? 0) truncated \(sock?.truncatedDrops ?? 0)")
        withExtendedLifetime(endpoint) {}
    }
}

func perfLine(_ s: String) {
    print(s)
    fflush(nil)
}

func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// The application of a benchmark node.
final class NodeApp: GroupApplication {
    var endpoint: GroupEndpoint?
    let size: Int
    let members: Int
    var joined = false
    var sending = false
    var sent = 0
    var received = 0
    var outOfOrder = 0
    var corrupt = 0
    var firstArrival = 0.0
    var lastArrival = 0.0
    var latencies: [Double] = []
    var onExit: (() -> Void)?
    private var blocked = false
    private var payload: [UInt8]
    private var next: [UInt64] = []
    private var rank = 0
    private var continuation: LoopTimer?

    init(size: Int, members: Int, reactor: Reactor) {
        self.size = size
        self.members = members
        payload = [UInt8](repeating: 0, count: max(size, 24))
        continuation = LoopTimer(reactor, label: "flat-out casts") { [unowned(unsafe) self] in self.pumpFlat() }
    }

    func install(view: ViewState, rank: Rank) {
        self.rank = rank
        next = Array(repeating: 0, count: view.count)
        if view.count >= members { joined = true }
    }

    /// Message layout: seq (8) | check (8) | send time in ns (8) | filler.
    private func fill(_ seq: UInt64, stamp: UInt64) {
        let check = seq &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(rank)
        payload.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: seq.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: check.bigEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: stamp.bigEndian, toByteOffset: 16, as: UInt64.self)
        }
    }

    /// Casts until the window is full; `writable` resumes.
    func pumpFlat() {
        guard sending, !blocked, let endpoint else { return }
        while sending {
            fill(UInt64(sent), stamp: 0)
            let r = payload.withUnsafeBytes { endpoint.cast(Packet(payload: UnsafeRawBufferPointer(rebasing: $0[0 ..< size]))) }
            guard r == .sent else {
                blocked = r == .full
                return
            }
            sent += 1
            if sent % 256 == 0 { break }  // let the loop turn: the batch goes out, acks come in
        }
        continuation?.schedule(after: .zero)
    }

    func castTimed(count: Int) {
        guard let endpoint else { return }
        for _ in 0 ..< count {
            fill(UInt64(sent), stamp: UInt64(monotonicNow() * 1e9))
            let r = payload.withUnsafeBytes { endpoint.cast(Packet(payload: UnsafeRawBufferPointer(rebasing: $0[0 ..< size]))) }
            if r == .sent { sent += 1 } else { return }
        }
    }

    func receiveCast(from origin: Rank, _ p: Packet) {
        let now = monotonicNow()
        p.withBytes { b in
            guard b.count == size, b.count >= 24, origin < next.count else {
                corrupt += 1
                return
            }
            let seq = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
            let check = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let stamp = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            if check != seq &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(origin) { corrupt += 1 }
            if seq != next[origin] { outOfOrder += 1 }
            next[origin] = seq + 1
            if stamp != 0 { latencies.append((now - Double(stamp) / 1e9) * 1e6) }
        }
        if received == 0 { firstArrival = now }
        lastArrival = now
        received += 1
    }

    func receiveSend(from origin: Rank, _ payload: Packet) {}

    func exit() { onExit?() }

    func writable(peer: Rank?) {
        if peer == nil {
            blocked = false
            pumpFlat()
        }
    }
}
