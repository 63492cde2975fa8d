import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-perf throughput`: K of M members multicast flat out (with flow control) over real
/// UDP; every receiver checks order and content and reports what it got.
struct Throughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Multicast throughput of the stack over UDP on 127.0.0.1.",
        discussion: """
            Starts a rendezvous and --members member processes (the seed's stack); once they \
            share one view, --senders of them cast --size-byte messages as fast as the \
            flow-control window allows for --seconds; every receiver checks the order and a \
            checksum of every message. Reports per receiver messages/s and MB/s (the slowest \
            receiver is the headline) and any message lost, out of order or corrupt. With \
            --in-process, the members run in this process on one reactor in one static view \
            instead (the data stack only), and datagrams/s and framing bytes are reported too.
            """)

    @Option(help: "Members in the group.")
    var members = 4

    @Option(help: "How many of them multicast.")
    var senders = 1

    @Option(help: "Message payload size in bytes (at least 16).")
    var size = 100

    @Option(help: "Seconds of traffic.")
    var seconds = 3.0

    @Flag(inversion: .prefixedNo, help: "Batch the messages of one loop turn into one datagram per destination.")
    var batching = true

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @Flag(help: "Run the members in this process, in one static view (no membership layers).")
    var inProcess = false

    @Flag(help: "Total order: the members run the seed's stack with Seqbb (properties Vsync:Total; --in-process: the data stack with Seqbb). Every member, senders included, then delivers every cast, and the run fails unless every member delivered the same sequence (a running hash of it, compared at the end).")
    var total = false

    @Option(help: "With --in-process: a fixed amount of work instead of --seconds: the senders cast N messages in all and the run ends when every member has them (for counting instructions per message under callgrind).")
    var messages: Int?

    /// The data stack with total order (`--in-process --total`).
    static let totalStack = "Top:Top_appl:Seqbb:Pt2pt:Frag:Stable:Mnak:Bottom"

    @OptionGroup var common: GroupOptions

    static let defaultStack = "Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    @Option(help: "With --in-process: the protocol stack (default: what --properties choose, else the data stack \(Throughput.defaultStack); e.g. with Seqbb for total order, where senders also receive their own casts).")
    var protocolStack: String?

    func validate() throws {
        guard members >= 2 else { throw ValidationError("--members must be at least 2") }
        guard (1...members).contains(senders) else { throw ValidationError("--senders must be between 1 and --members") }
        guard size >= 24 else { throw ValidationError("--size must be at least 24 bytes (sequence number, checksum, timestamp)") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        if let messages {
            guard inProcess else { throw ValidationError("--messages needs --in-process") }
            guard messages >= senders else { throw ValidationError("--messages must be at least --senders") }
        }
    }

    func run() throws {
        common.log.bootstrap()
        if !inProcess {
            try runProcesses()
            return
        }
        let reactor = Reactor()
        var parameters = try Parameters(parsing: common.params)
        parameters["batching"] = .bool(batching)
        let stack = try common.protocolStack(explicit: protocolStack, fallback: total ? Self.totalStack : Self.defaultStack)
        let apps = (0 ..< members).map { _ in NumberedCasts(size: size, burst: 512) }
        let nodes = try apps.enumerated().map { i, app in
            try UDPMember(reactor: reactor, group: "maestro-perf-throughput", rendezvous: [], protocolStack: stack,
                          params: parameters, application: app, key: try common.key.groupKey(), counter: UInt16(i))
        }
        let endpoints = nodes.map(\.endpoint)
        let view = ViewState(group: GroupID("maestro-perf-throughput"), protocolStack: stack, ltime: 1,
                             members: endpoints.map(\.id), addresses: nodes.map(\.localAddress))
        for (i, e) in endpoints.enumerated() {
            apps[i].endpoint = e
            try e.join(view: view)
        }
        // SIGINT/SIGTERM end the run early with a summary (every member is in this process).
        let signals = reactor.stopOnTerminationSignals()
        defer { withExtendedLifetime(signals) {} }  // (`_ = signals` would not keep them)

        // Senders refill whenever the loop comes round; `writable` resumes them after `.full`.
        for i in 0 ..< senders { apps[i].sending = true }
        let pump = reactor.every(.microseconds(200)) { for i in 0 ..< senders { apps[i].pump() } }
        let progress = Progress()
        let ticker = reactor.every(.seconds(1)) {
            let slowest = (senders ..< members).map { apps[$0].received }.min() ?? apps[0].received
            progress.update("sent \(apps.prefix(senders).map(\.sent).reduce(0, +)), slowest receiver \(slowest)")
        }
        reactor.updateNow()
        let start = reactor.now
        let startCounters = endpoints.map(\.counters)
        if let messages {
            // Fixed work: each sender casts its share; the run ends when every member has all.
            let share = (messages + senders - 1) / senders
            for i in 0 ..< senders { apps[i].limit = share }
            let target = (0 ..< members).map { $0 < senders ? share : 0 }
            reactor.run(until: { apps.prefix(senders).allSatisfy { $0.sent >= share } && apps.allSatisfy { $0.caughtUp(target) } },
                        timeout: .seconds(3600))
        } else {
            reactor.run(for: .seconds(seconds))
        }
        reactor.updateNow()
        let elapsed = (reactor.now - start).seconds
        for a in apps { a.sending = false }
        let receivedAtEnd = apps.map(\.received)
        let sentAtEnd = apps.map(\.sent)
        // Let in-flight messages arrive, so that "lost" means lost, not late.
        reactor.run(until: { apps.allSatisfy { $0.caughtUp(sentAtEnd) } }, timeout: .seconds(5))
        pump.cancel()
        ticker.cancel()
        progress.finish()

        let receivers = senders < members ? Array(senders ..< members) : Array(0 ..< members)
        let rates = receivers.map { Double(receivedAtEnd[$0]) / elapsed }
        let slowest = rates.min() ?? 0
        let lost = apps.reduce(0) { $0 + $1.missing(sentAtEnd) }
        let outOfOrder = apps.reduce(0) { $0 + $1.outOfOrder + $1.gaps }
        let corrupt = apps.reduce(0) { $0 + $1.corrupt }
        let senderCounters = (0 ..< senders).map { endpoints[$0].counters }
        let datagrams = senderCounters.enumerated().reduce(UInt64(0)) { $0 + $1.element.datagramsSent - startCounters[$1.offset].datagramsSent }
        let msgsOut = senderCounters.enumerated().reduce(UInt64(0)) { $0 + $1.element.messagesSent - startCounters[$1.offset].messagesSent }
        let bytesOut = senderCounters.enumerated().reduce(UInt64(0)) { $0 + $1.element.bytesSent - startCounters[$1.offset].bytesSent }
        let framing = msgsOut > 0 ? Double(bytesOut) / Double(msgsOut) - Double(size) : 0
        let mb = slowest * Double(size) / 1e6
        print(String(format: "%d members, %d sender(s), %d B, batching %@, %.1f s", members, senders, size, batching ? "on" : "off", elapsed))
        print(String(format: "per receiver: slowest %.0f msgs/s (%.1f MB/s), fastest %.0f msgs/s", slowest, mb, rates.max() ?? 0))
        print(String(format: "senders: %.0f datagrams/s, %.1f messages per datagram, %.1f bytes of framing per message",
                     Double(datagrams) / elapsed, msgsOut > 0 ? Double(msgsOut) / Double(max(datagrams, 1)) : 0, framing))
        print("lost \(lost), out of order \(outOfOrder), corrupt \(corrupt), window-full waits \(apps.reduce(0) { $0 + $1.fullWaits })")
        let delivered = apps.reduce(0) { $0 + $1.received }
        if messages != nil { print("delivered \(delivered) messages in all (divide the instructions of a callgrind run by it)") }
        let identical = Set(apps.map(\.orderHash)).count == 1 && Set(apps.map(\.received)).count == 1
        if total { print(identical ? "order: every member delivered the same sequence of \(apps[0].received) casts" : "order: the members' delivery sequences DIFFER") }
        if json {
            print(jsonLine([
                "benchmark": "throughput", "members": members, "senders": senders, "size": size, "seconds": elapsed,
                "batching": batching, "msgs_per_sec": slowest, "mb_per_sec": mb,
                "datagrams_per_sec": Double(datagrams) / elapsed, "framing_bytes_per_msg": framing,
                "lost": lost, "out_of_order": outOfOrder, "corrupt": corrupt, "total": total, "order_identical": !total || identical, "delivered": delivered,
            ]))
        }
        if total && !identical { throw ExitCode(1) }
    }
}

extension Throughput {
    /// The real-process benchmark: member processes, K senders, every receiver checking.
    func runProcesses() throws {
        let progress = Progress()
        progress.update("starting \(members) member processes")
        let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments)
        var nodes: [ChildProcess] = []
        for i in 0 ..< members {
            let role = i < senders ? "sender" : "receiver"
            nodes.append(try ChildProcess("maestro-perf", ["node", "--gossip", g.rendezvous, "--group", g.group, "--members", String(members),
                                                           "--role", role, "--size", String(size), "--seconds", String(seconds),
                                                           "--params", common.params + (batching ? "" : (common.params.isEmpty ? "" : ";") + "batching=false:bool")]
                                                           + common.memberArguments
                                                           + (total && common.properties == nil ? ["--properties", "Vsync:Total"] : [])))
        }
        defer { for n in nodes where n.isRunning { n.kill(SIGKILL) } }
        for n in nodes where n.waitForLine(timeout: 60, { $0 == "joined" }) == nil {
            throw ChildError("the member processes never formed one view of \(members)")
        }
        progress.update("\(senders) sender(s) casting \(size)-byte messages for \(seconds) s")
        var sentBy = Array(repeating: 0, count: members)
        var duration = 0.0
        for (i, n) in nodes.prefix(senders).enumerated() {
            guard let l = n.waitForLine(timeout: seconds + 30, { $0.hasPrefix("sent ") }) else { throw ChildError("a sender did not finish") }
            let f = l.split(separator: " ")
            sentBy[i] = Int(f[1]) ?? 0
            duration = max(duration, Double(f[2]) ?? 0)
        }
        let sent = sentBy.reduce(0, +)
        var rates: [Double] = []
        var lost = 0, outOfOrder = 0, corrupt = 0
        var orders: [String] = []
        for (i, n) in nodes.enumerated() {
            // Senders also receive the other senders' casts, and their own with total order.
            let expected = total ? sent : sent - sentBy[i]
            guard expected > 0 else { continue }
            guard let l = n.waitForLine(timeout: seconds + 30, { $0.hasPrefix("received ") }) else { throw ChildError("a receiver did not report") }
            if let o = n.waitForLine(timeout: 10, { $0.hasPrefix("order ") }) { orders.append(String(o.dropFirst(6))) }
            let f = l.split(separator: " ")
            let count = Int(f[1]) ?? 0
            let first = Double(f[2]) ?? 0, last = Double(f[3]) ?? 0
            outOfOrder += Int(f[4]) ?? 0
            corrupt += Int(f[5]) ?? 0
            lost += max(0, expected - count)
            rates.append(last > first ? Double(count) / (last - first) : 0)
        }
        progress.finish()
        let slowest = rates.min() ?? 0
        let mb = slowest * Double(size) / 1e6
        print(String(format: "%d member processes, %d sender(s), %d B, batching %@, %.1f s of sending", members, senders, size,
                     batching ? "on" : "off", duration))
        print(String(format: "per receiver: slowest %.0f msgs/s (%.1f MB/s), fastest %.0f msgs/s; sent %d", slowest, mb, rates.max() ?? 0, sent))
        print("lost \(lost), out of order \(outOfOrder), corrupt \(corrupt)")
        let identical = orders.count == members && Set(orders).count == 1
        if total { print(identical ? "order: every member delivered the same sequence of \(sent) casts" : "order: the members' delivery sequences DIFFER (\(Set(orders).count) distinct of \(orders.count))") }
        if json {
            print(jsonLine(["benchmark": "throughput", "members": members, "senders": senders, "size": size, "seconds": duration,
                            "batching": batching, "msgs_per_sec": slowest, "mb_per_sec": mb, "sent": sent,
                            "lost": lost, "out_of_order": outOfOrder, "corrupt": corrupt, "total": total, "order_identical": !total || identical]))
        }
        if total && !identical { throw ExitCode(1) }
    }
}
