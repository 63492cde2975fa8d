import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-perf merge`: two partitions of N members heal; time until one view of 2N.
struct PartitionMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Time for two healed partitions to merge into one view (members in this process).",
        discussion: """
            Builds 2 x --size members on one reactor with an embedded rendezvous, partitioned by \
            fault hooks in their transports and in the rendezvous, waits until each side has \
            formed its own view, heals the partition and reports the time until every member \
            is in one view of all.
            """)

    @Option(help: "Members on each side.")
    var size = 4

    @Option(help: "Rounds; the median is reported.")
    var rounds = 3

    @Option(help: "Seconds the partition lasts after both sides have formed their views.")
    var partitionSeconds = 6.0

    @Option(help: "Up to this many more seconds, at random (set it to top_sweep).")
    var jitter = 5.0

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func run() throws {
        common.log.bootstrap()
        let parameters = try Parameters(parsing: common.params)
        let groupKey = try common.key.groupKey()
        var times: [Double] = []
        let progress = Progress()
        for round in 1 ... max(1, rounds) {
            progress.update("round \(round)/\(rounds)")
            let reactor = Reactor()
            let g = try InProcessGroup(reactor: reactor, members: 2 * size, params: parameters,
                                       protocolStack: try common.protocolStack(explicit: nil),
                                       group: "perf-merge-\(round)", key: groupKey)
            let a = Array(0 ..< size), b = Array(size ..< 2 * size)
            let sideA = Set(a.map { g.transports[$0].localAddress })
            let sideB = Set(b.map { g.transports[$0].localAddress })
            var healed = false
            // The rendezvous is on neither side: it relays only within a side (its filter).
            func side(_ x: Address) -> Int? { sideA.contains(x) ? 0 : sideB.contains(x) ? 1 : nil }
            func crosses(_ x: Address, _ y: Address) -> Bool {
                guard !healed, let s = side(x), let t = side(y) else { return false }
                return s != t
            }
            for (i, t) in g.transports.enumerated() {
                let me = t.localAddress
                t.dropIncoming = { crosses($0, me) }
                t.dropOutgoing = { crosses(me, $0) }
                _ = i
            }
            g.gossip.relay.relayFilter = { !crosses($0, $1) }
            try g.joinAll()
            guard reactor.run(until: { g.together(a) && g.together(b) }, timeout: .seconds(60)) else {
                let views = g.apps.map { $0.view.map { "\($0.ltime):\($0.count)" } ?? "-" }.joined(separator: " ")
                throw ChildError("the two partitions did not each form a view (views: \(views))")
            }
            // Long enough for the announcements made at view installation to be over: after
            // the heal, the sides find each other through the periodic gossip (top_sweep).
            // A random extra wait puts the heal at a random phase of the gossip period.
            reactor.run(for: .seconds(partitionSeconds + Double.random(in: 0 ..< max(0.001, jitter))))
            healed = true
            reactor.updateNow()
            let start = reactor.now
            guard reactor.run(until: { g.together(a + b) }, timeout: .seconds(120)) else {
                throw ChildError("the healed partitions did not merge")
            }
            reactor.updateNow()
            times.append((reactor.now - start).seconds)
        }
        progress.finish()
        let median = times.sorted()[times.count / 2]
        print(String(format: "merge of two partitions of %d: %.3f s after the heal (median of %d: %@)", size, median, times.count,
                     times.map { String(format: "%.3f", $0) }.joined(separator: " ")))
        if json { print(jsonLine(["benchmark": "merge", "size": size, "seconds": median, "params": common.params])) }
    }
}

/// `maestro-perf memory`: resident memory per member with many members in one process.
struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resident memory per member, with many members in one process.")

    @Option(help: "Members in the process.")
    var members = 16

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = s.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    func run() throws {
        common.log.bootstrap()
        let reactor = Reactor()
        let before = Self.residentBytes()
        let g = try InProcessGroup(reactor: reactor, members: members, params: try Parameters(parsing: common.params),
                                   protocolStack: try common.protocolStack(explicit: nil),
                                   group: "perf-memory", key: try common.key.groupKey())
        try g.joinAll()
        guard reactor.run(until: { g.together(Array(0 ..< members)) }, timeout: .seconds(60)) else {
            throw ChildError("the members did not form one view")
        }
        reactor.run(for: .seconds(2))  // let old stacks exit
        let after = Self.residentBytes()
        let per = Double(after - before) / Double(members)
        print(String(format: "%d members in one view: %.1f MB resident in all, %.0f KB per member (%.1f MB before the group)",
                     members, Double(after) / 1e6, per / 1e3, Double(before) / 1e6))
        if json { print(jsonLine(["benchmark": "memory", "members": members, "bytes_per_member": per, "resident_bytes": after])) }
    }
}
