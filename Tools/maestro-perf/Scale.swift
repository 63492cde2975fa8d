import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// `maestro-perf scale`: many members (in one process, or spread over processes) form one
/// view from scratch; then one member (or one process) crashes and the survivors recover.
/// Reports the formation time, the failover time, resident memory per member and the largest
/// gap between heartbeats any member saw.
struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Formation, crash recovery, memory and heartbeat gaps of a large group.",
        discussion: """
            --members bare endpoints (the seed's stack, or --properties) start alone together and \
            find each other through a rendezvous; `formation_seconds` is the time from their \
            join until every one of them has installed one view of all of them. After \
            --settle-seconds one member crashes: with one process (the default) the member of \
            the last rank (or rank 0, --kill coordinator) stops at once (its socket and timers \
            are closed, as a crash); with --processes P the members are spread over P processes \
            (maestro-perf scale-node, started and released together) and the process holding \
            that member is killed with SIGKILL, taking all its members with it. \
            `failover_seconds` is the time from the crash until every survivor has installed a \
            view of exactly the survivors.

            `memory_per_member_kb`: resident memory (RSS, /proc/self/statm) of a process once \
            its members are in one view and --settle-seconds have passed, less its RSS just \
            before it created them, divided by its members (with several processes, the \
            largest over processes). It includes the sockets' buffers in user space and \
            everything the members allocated on the way (malloc keeps freed memory).

            `max_heartbeat_gap_ms`: every member's application heartbeat runs every \
            --heartbeat-ms (the heartbeat_rate parameter, unless --params sets it); the largest \
            interval between two heartbeats of one member, from the moment its process saw one \
            view of everyone until the end of the run, at any member. A member that is blocked \
            (a view change) has no heartbeat: the interval across a view change is not counted. \
            Anything above the heartbeat period is time the loop was held by other work.

            Progress lines go to stderr; the figures to stdout; with --json the last line is \
            one JSON object (formation_seconds, failover_seconds, memory_per_member_kb, \
            max_heartbeat_gap_ms, ...).
            """)

    @Option(help: "Members in all.")
    var members = 32

    @Option(help: "Processes the members are spread over (1: all in this process).")
    var processes = 1

    @Option(help: "Which member crashes: member (the last rank) or coordinator (rank 0).")
    var kill = "member"

    @Option(help: "Application heartbeat period in milliseconds (heartbeat_rate), unless --params sets one.")
    var heartbeatMs = 100

    @Option(help: "Seconds between formation and the crash (memory is measured at the end of them).")
    var settleSeconds = 2.0

    @Option(help: "Give up if the group has not formed (or recovered) after this many seconds.")
    var timeout = 120.0

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard members >= 2 else { throw ValidationError("--members must be at least 2") }
        guard processes >= 1, processes <= members else { throw ValidationError("--processes must be between 1 and --members") }
        guard processes == 1 || processes >= 2 && members - (members + processes - 1) / processes >= 1 else {
            throw ValidationError("every process needs a member")
        }
        guard ["member", "coordinator"].contains(kill) else { throw ValidationError("--kill must be member or coordinator") }
        guard heartbeatMs > 0 else { throw ValidationError("--heartbeat-ms must be positive") }
        guard settleSeconds >= 0, timeout > 0 else { throw ValidationError("--settle-seconds and --timeout must be positive") }
    }

    func run() throws {
        common.log.bootstrap()
        let progress = Progress(interval: 5)
        let r = processes == 1 ? try runInProcess(progress) : try runProcesses(progress)
        progress.finish()
        let where_ = processes == 1 ? "in one process" : "over \(processes) processes"
        print(String(format: "scale: %d members %@ (params '%@'): one view after %.3f s; %@ crashed: survivors' view after %.3f s; %.0f KB per member; largest heartbeat gap %.0f ms (period %d ms); %d views after formation",
                     members, where_, common.params, r.formation, r.victim, r.failover, r.memoryKB, r.maxGapMs, heartbeatMs, r.falseViews))
        if json {
            print(jsonLine(["benchmark": "scale", "members": members, "processes": processes, "params": common.params,
                            "kill": kill, "formation_seconds": r.formation, "failover_seconds": r.failover,
                            "memory_per_member_kb": r.memoryKB, "max_heartbeat_gap_ms": r.maxGapMs, "heartbeat_ms": heartbeatMs,
                            "false_views": r.falseViews]))
        }
    }

    struct Result {
        var formation = 0.0
        var failover = 0.0
        var memoryKB = 0.0
        var maxGapMs = 0.0
        var victim = ""
        /// Views installed between formation and the crash (none in a stable group).
        var falseViews = 0
    }

    /// The run's parameters: --params, with the heartbeat period unless they set one.
    static func parameters(_ text: String, heartbeatMs: Int) throws -> Parameters {
        var p = try Parameters(parsing: text)
        if p.values["heartbeat_rate"] == nil { p["heartbeat_rate"] = .time(.milliseconds(Int64(heartbeatMs))) }
        return p
    }

    // MARK: One process

    private func runInProcess(_ progress: ToolSupport.Progress) throws -> Result {
        let reactor = Reactor()
        let params = try Scale.parameters(common.params, heartbeatMs: heartbeatMs)
        let gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0), key: try common.key.groupKey())
        let before = Memory.residentBytes()
        let node = try ScaleNode(reactor: reactor, members: members, firstCounter: 0, rendezvous: gossip.address,
                                 group: "perf-scale-\(UInt32.random(in: 0 ... .max))", params: params,
                                 protocolStack: try common.protocolStack(explicit: nil), key: try common.key.groupKey())
        var r = Result()
        let everyone = ScaleNode.digest(node.addresses)
        progress.update("scale: \(members) members joining")
        let start = monotonicNow()
        try node.joinAll()
        var lastReport = start
        let formed = reactor.run(until: {
            if node.allIn(count: members, digest: everyone) != nil { return true }
            let t = monotonicNow()
            if t - lastReport >= 1 {
                lastReport = t
                progress.update(String(format: "scale: %.0f s, largest view %d of %d members, %d distinct views",
                                       t - start, node.largestView, members, node.distinctViews))
            }
            return false
        }, timeout: .seconds(timeout))
        guard formed, let formedAt = node.allIn(count: members, digest: everyone) else {
            FileHandle.standardError.write(Data(node.viewSummary.utf8))
            throw ChildError(String(format: "the %d members did not reach one view in %.0f s (largest view: %d members)", members, timeout, node.largestView))
        }
        r.formation = formedAt - start
        let formedView = node.apps[0].view
        let viewsAtFormation = node.viewsInstalled
        node.measuringGaps = true
        progress.update(String(format: "scale: one view after %.3f s; settling %.1f s", r.formation, settleSeconds))
        reactor.run(for: .seconds(settleSeconds))
        r.memoryKB = Double(Memory.residentBytes() - before) / Double(members) / 1024
        r.falseViews = node.viewsInstalled - viewsAtFormation
        guard let formedView, let victim = node.addresses.firstIndex(of: formedView.addresses[kill == "coordinator" ? 0 : members - 1]) else {
            throw ChildError("cannot find the member to crash")
        }
        r.victim = "member \(node.addresses[victim]) (\(kill))"
        let survivors = node.addresses.indices.filter { $0 != victim }
        let survivorDigest = ScaleNode.digest(survivors.map { node.addresses[$0] })
        if r.falseViews > 0 {
            progress.update("scale: \(r.falseViews) views installed after formation (false suspicions); waiting for one view again")
            guard reactor.run(until: { node.allIn(count: members, digest: everyone) != nil }, timeout: .seconds(timeout)) else {
                throw ChildError("the group did not come back to one view of all after \(r.falseViews) more views")
            }
        }
        progress.update("scale: crashing \(r.victim)")
        let crashedAt = monotonicNow()
        node.crash(victim)
        let recovered = reactor.run(until: { node.allIn(count: members - 1, digest: survivorDigest) != nil }, timeout: .seconds(timeout))
        guard recovered, let recoveredAt = node.allIn(count: members - 1, digest: survivorDigest) else {
            throw ChildError(String(format: "the survivors did not install a view without the crashed member in %.0f s", timeout))
        }
        r.failover = recoveredAt - crashedAt
        // A short while more, so the heartbeats right after the new view are counted too.
        reactor.run(for: .milliseconds(Int64(3 * heartbeatMs)))
        r.maxGapMs = node.maxGap * 1000
        withExtendedLifetime((gossip, node)) {}
        return r
    }

    // MARK: Several processes

    private func runProcesses(_ progress: ToolSupport.Progress) throws -> Result {
        ChildProcess.ignoreBrokenPipes()
        let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments)
        defer { g.stop() }
        // The members, split as evenly as possible.
        let sizes = (0 ..< processes).map { members / processes + ($0 < members % processes ? 1 : 0) }
        var addresses: [[String]] = []
        progress.update("scale: starting \(processes) processes")
        var first = 0
        for size in sizes {
            let child = try ChildProcess("maestro-perf", ["scale-node", "--gossip", g.rendezvous, "--group", g.group,
                                                          "--members", String(size), "--total", String(members),
                                                          "--first-counter", String(first), "--heartbeat-ms", String(heartbeatMs),
                                                          "--settle-seconds", String(settleSeconds), "--params", common.params]
                                         + common.memberArguments, stdin: true)
            g.members.append(child)
            first += size
        }
        for child in g.members {
            guard let l = child.waitForLine(timeout: 30, { $0.hasPrefix("ready ") }) else { throw ChildError("a scale-node process did not start") }
            addresses.append(l.split(separator: " ").dropFirst().first.map { $0.split(separator: ",").map(String.init) } ?? [])
        }
        let all = addresses.flatMap { $0 }
        guard all.count == members else { throw ChildError("the processes reported \(all.count) members, not \(members)") }
        let everyone = ScaleNode.digest(all.compactMap(Address.init))
        // Released together: every socket is open before anyone joins.
        let start = monotonicNow()
        for child in g.members { child.send("go") }
        var views: [String: ViewLine] = [:]  // "process.local" -> latest view
        var viewTimes: [Double] = []
        var memory: [Int: Double] = [:]
        var gaps: [Int: Double] = [:]
        func poll() {
            for (p, child) in g.members.enumerated() {
                for line in child.takeLines() {
                    let f = line.split(separator: " ")
                    switch f.first {
                    case "view"?:
                        if let v = ViewLine(f) {
                            views["\(p).\(v.local)"] = v
                            viewTimes.append(v.at)
                        }
                    case "memory"?:
                        if f.count > 1, let kb = Double(f[1]) { memory[p] = kb }
                    case "gap"?:
                        if f.count > 1, let ms = Double(f[1]) { gaps[p] = max(gaps[p] ?? 0, ms) }
                    default: break
                    }
                }
            }
        }
        func allIn(count: Int, digest: UInt64, processes ps: [Int]) -> Double? {
            var latest = 0.0
            var id: String?
            for p in ps {
                for l in 0 ..< sizes[p] {
                    guard let v = views["\(p).\(l)"], v.count == count, v.digest == digest, id == nil || id == v.id else { return nil }
                    id = v.id
                    latest = max(latest, v.at)
                }
            }
            return latest
        }
        var r = Result()
        let ps = Array(0 ..< processes)
        var formedAt: Double?
        var lastReport = start
        while formedAt == nil {
            poll()
            formedAt = allIn(count: members, digest: everyone, processes: ps)
            let t = monotonicNow()
            if t - start > timeout { throw ChildError(String(format: "the %d members did not reach one view in %.0f s", members, timeout)) }
            if t - lastReport >= 1 {
                lastReport = t
                progress.update(String(format: "scale: %.0f s, largest view %d of %d members", t - start, views.values.map(\.count).max() ?? 0, members))
            }
            if g.members.contains(where: { !$0.isRunning }) { throw ChildError("a scale-node process ended early") }
            usleep(1000)
        }
        r.formation = (formedAt ?? start) - start
        progress.update(String(format: "scale: one view after %.3f s; settling %.1f s", r.formation, settleSeconds))
        let settleEnd = monotonicNow() + settleSeconds + 5
        while memory.count < processes && monotonicNow() < settleEnd {
            poll()
            usleep(5000)
        }
        r.memoryKB = memory.values.max() ?? .nan
        // The victim process: the one holding the member of the last rank (or rank 0).
        let coordinatorOf = views.values.first?.coordinator ?? ""
        let victimProcess: Int
        if kill == "coordinator", let p = addresses.firstIndex(where: { $0.contains(coordinatorOf) }) {
            victimProcess = p
        } else if kill == "coordinator" {
            throw ChildError("cannot find the coordinator's process")
        } else {
            // The last rank is the newest member merged in; any non-coordinator process does.
            victimProcess = addresses.lastIndex(where: { !$0.contains(coordinatorOf) }) ?? processes - 1
        }
        r.victim = "process \(g.members[victimProcess].pid) with \(sizes[victimProcess]) members"
        let survivorsP = ps.filter { $0 != victimProcess }
        let survivorDigest = ScaleNode.digest(survivorsP.flatMap { addresses[$0] }.compactMap(Address.init))
        progress.update("scale: kill -9 \(r.victim)")
        poll()
        r.falseViews = viewTimes.filter { $0 > (formedAt ?? start) }.count
        let killedAt = monotonicNow()
        g.members[victimProcess].kill(SIGKILL)
        var recoveredAt: Double?
        while recoveredAt == nil {
            poll()
            recoveredAt = allIn(count: members - sizes[victimProcess], digest: survivorDigest, processes: survivorsP)
            if monotonicNow() - killedAt > timeout {
                throw ChildError(String(format: "the survivors did not install a view without the killed process in %.0f s", timeout))
            }
            usleep(1000)
        }
        r.failover = (recoveredAt ?? killedAt) - killedAt
        let tail = monotonicNow() + 3 * Double(heartbeatMs) / 1000 + 0.2
        while monotonicNow() < tail {
            poll()
            usleep(5000)
        }
        gaps[victimProcess] = nil
        r.maxGapMs = gaps.values.max() ?? 0
        return r
    }

    /// `view <local index> <monotonic seconds> <count> <digest> <view id> <coordinator address>`
    struct ViewLine {
        var local: Int
        var at: Double
        var count: Int
        var digest: UInt64
        var id: String
        var coordinator: String
        init?(_ f: [Substring]) {
            guard f.count == 7, let l = Int(f[1]), let t = Double(f[2]), let c = Int(f[3]), let d = UInt64(f[4], radix: 16) else { return nil }
            (local, at, count, digest, id, coordinator) = (l, t, c, d, String(f[5]), String(f[6]))
        }
    }
}

/// `maestro-perf scale-node`: one process of `scale --processes`: --members bare endpoints
/// that join when the parent writes `go` on stdin. Lines: `ready <address>,<address>,...`,
/// then `view <local index> <monotonic seconds> <count> <digest> <view id> <coordinator>` at
/// every view of every member, `memory <KB per member>` once all of them have been in a view
/// of --total for --settle-seconds, and `gap <ms>` whenever the largest heartbeat gap grows.
/// Killed by its parent.
struct ScaleNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-node",
        abstract: "(internal) One member process of the scale benchmark.",
        shouldDisplay: false)

    @Option var gossip: String
    @Option var group: String
    @Option var members: Int
    @Option var total: Int
    @Option var firstCounter = 0
    @Option var heartbeatMs = 100
    @Option var settleSeconds = 2.0
    @OptionGroup var common: GroupOptions

    func run() throws {
        common.log.bootstrap()
        guard let rendezvous = Address(gossip) else { throw ValidationError("--gossip must be HOST:PORT") }
        let reactor = Reactor()
        let before = Memory.residentBytes()
        let node = try ScaleNode(reactor: reactor, members: members, firstCounter: firstCounter, rendezvous: rendezvous, group: group,
                                 params: try Scale.parameters(common.params, heartbeatMs: heartbeatMs),
                                 protocolStack: try common.protocolStack(explicit: nil), key: try common.key.groupKey())
        perfLine("ready " + node.addresses.map(\.description).joined(separator: ","))
        guard readLine() == "go" else { return }
        var formedAt: Double?
        var memoryReported = false
        var reportedGap = 0.0
        node.onView = { i, v, at in
            perfLine(String(format: "view %d %.6f %d %016llx %@ %@", i, at, v.count, ScaleNode.digest(v.addresses),
                            "\(v.ltime)/\(v.coordinator)", v.addresses.first?.description ?? "-"))
            if formedAt == nil && node.allIn(count: total, digest: nil) != nil {
                formedAt = monotonicNow()
                node.measuringGaps = true
            }
        }
        try node.joinAll()
        let check = reactor.every(.milliseconds(50), label: "scale-node reports") {
            if let f = formedAt, !memoryReported, monotonicNow() - f >= settleSeconds {
                memoryReported = true
                perfLine(String(format: "memory %.1f", Double(Memory.residentBytes() - before) / Double(members) / 1024))
            }
            let gap = node.maxGap * 1000
            if gap >= reportedGap + 1 {
                reportedGap = gap
                perfLine(String(format: "gap %.1f", gap))
            }
        }
        withExtendedLifetime((check, node)) { reactor.run() }
    }
}

/// Members of one process for the scale benchmark, and what they saw.
final class ScaleNode {
    let members: [UDPMember]
    let apps: [ScaleApp]
    let addresses: [Address]
    var onView: ((Int, ViewState, Double) -> Void)?
    /// Heartbeat gaps are recorded from when this is set.
    var measuringGaps = false
    private var crashed = Set<Int>()

    init(reactor: Reactor, members n: Int, firstCounter: Int, rendezvous: Address, group: String, params: Parameters,
         protocolStack: String, key: GroupKey?) throws {
        var ms: [UDPMember] = []
        var apps: [ScaleApp] = []
        for i in 0 ..< n {
            let app = ScaleApp(index: i)
            ms.append(try UDPMember(reactor: reactor, group: group, rendezvous: [rendezvous], protocolStack: protocolStack,
                                    params: params, application: app, key: key, counter: UInt16(truncatingIfNeeded: firstCounter + i),
                                    maxDatagram: 16384, batch: 8))
            apps.append(app)
        }
        members = ms
        self.apps = apps
        addresses = ms.map(\.localAddress)
        for a in apps { a.node = self }
    }

    func joinAll() throws { for m in members { try m.endpoint.join() } }

    /// An order-independent digest of a set of addresses.
    static func digest<S: Sequence>(_ addresses: S) -> UInt64 where S.Element == Address {
        var d: UInt64 = 0
        for a in addresses {
            var x = UInt64(a.ip) << 16 | UInt64(a.port)
            x = (x ^ (x >> 33)) &* 0xFF51_AFD7_ED55_8CCD
            x = (x ^ (x >> 33)) &* 0xC4CE_B9FE_1A85_EC53
            d &+= x ^ (x >> 33)
        }
        return d
    }

    /// When the last of the live members installed the view they all share, if they share one
    /// of `count` members with the addresses of `digest` (nil: any addresses).
    func allIn(count: Int, digest: UInt64?) -> Double? {
        var latest = 0.0
        var id: ViewID?
        for a in apps where !crashed.contains(a.index) {
            guard let v = a.view, v.count == count, digest == nil || a.digest == digest, id == nil || id == v.id else { return nil }
            id = v.id
            latest = max(latest, a.installedAt)
        }
        return latest
    }

    /// The views the members are in (the most shared first): `<count>x <ltime>/<coordinator> of <n> members`.
    var viewSummary: String {
        var shared: [ViewID: (Int, Int)] = [:]
        for a in apps where !crashed.contains(a.index) {
            if let v = a.view { shared[v.id, default: (0, v.count)].0 += 1 }
        }
        return shared.sorted { $0.value.0 > $1.value.0 }.prefix(12)
            .map { "  \($0.value.0) members in view \($0.key.ltime)/\($0.key.coordinator) of \($0.value.1)\n" }.joined()
    }

    var largestView: Int { apps.map { $0.view?.count ?? 0 }.max() ?? 0 }
    var distinctViews: Int { Set(apps.compactMap { $0.view?.id }).count }
    var maxGap: Double { apps.filter { !crashed.contains($0.index) }.map(\.maxGap).max() ?? 0 }

    /// Views installed by the members so far.
    var viewsInstalled: Int { apps.reduce(0) { $0 + $1.views } }

    /// Stops member `i` as a crash would: its socket and timers are closed at once.
    func crash(_ i: Int) {
        crashed.insert(i)
        members[i].transport.close()
    }

    fileprivate func installed(_ i: Int, _ v: ViewState, at t: Double) { onView?(i, v, t) }
}

/// One member's application: its view, when it was installed, and heartbeat gaps.
final class ScaleApp: GroupApplication {
    let index: Int
    unowned(unsafe) var node: ScaleNode?
    private(set) var view: ViewState?
    private(set) var digest: UInt64 = 0
    private(set) var installedAt = 0.0
    private var lastBeat: Double?
    private(set) var maxGap = 0.0
    private(set) var views = 0

    init(index: Int) { self.index = index }

    func install(view: ViewState, rank: Rank) {
        self.view = view
        views += 1
        digest = ScaleNode.digest(view.addresses)
        installedAt = monotonicNow()
        lastBeat = nil
        node?.installed(index, view, at: installedAt)
    }

    func block() { lastBeat = nil }

    func heartbeat(now: Time) {
        let t = monotonicNow()
        if let l = lastBeat, node?.measuringGaps == true { maxGap = max(maxGap, t - l) }
        lastBeat = t
    }

    func receiveCast(from origin: Rank, _ payload: Packet) {}
    func receiveSend(from origin: Rank, _ payload: Packet) {}
}
