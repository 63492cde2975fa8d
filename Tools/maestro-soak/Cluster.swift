import Foundation
import Maestro
import MaestroSimulation
import SoakCheck
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// The soak's node processes and the rendezvous: starting, killing and restarting them,
/// reading what they print, and telling them about faults (commands on their stdin).
final class Cluster {
    let plan: SoakPlan
    let logDir: String
    let epochMicros: Int64
    let soakLog: EventLog
    let netns: NetnsTopology?
    let group: String
    /// Seconds since the soak started.
    let clock: () -> Double

    private(set) var gossip: ChildProcess?
    private(set) var rendezvous = ""
    private(set) var nodes: [NodeHandle]
    private(set) var members: [MemberSlot]
    /// Each process's side while partitioned (nil: connected).
    private(set) var sides: [Int]?
    private(set) var viewsSeen = 0
    /// Problems the nodes reported (`error` lines, exits without leave).
    private(set) var nodeErrors: [String] = []
    /// Processes that ended without being killed or stopped.
    private(set) var unexpectedExits: [String] = []

    init(plan: SoakPlan, logDir: String, epochMicros: Int64, soakLog: EventLog, netns: NetnsTopology?, clock: @escaping () -> Double) {
        self.plan = plan
        self.logDir = logDir
        self.epochMicros = epochMicros
        self.soakLog = soakLog
        self.netns = netns
        self.clock = clock
        group = "soak-\(getpid())-\(plan.seed % 100_000)"
        nodes = (0 ..< plan.processes).map { NodeHandle(index: $0) }
        let k = plan.membersPerProcess
        members = (0 ..< plan.processes * k).map { MemberSlot(index: $0, process: $0 / k, slot: $0 % k) }
    }

    func membersOf(_ p: Int) -> [MemberSlot] {
        Array(members[p * plan.membersPerProcess ..< (p + 1) * plan.membersPerProcess])
    }

    // MARK: Starting

    func startGossip() throws {
        let args = ["--port", "0"] + (netns != nil ? ["--bind", NetnsTopology.hubIP] : []) + plan.keyArguments
        let g = try launch("maestro-gossip", args, namespace: netns?.hub, stdin: false, stderr: "\(logDir)/gossip.stderr")
        guard let line = g.waitForLine(timeout: 10, { $0.hasPrefix("gossip rendezvous on ") }),
              let addr = line.split(separator: " ").last else {
            g.kill(SIGKILL)
            throw SoakError("maestro-gossip did not start within 10 s (see \(logDir)/gossip.stderr)")
        }
        gossip = g
        rendezvous = String(addr)
    }

    /// Starts (or restarts) node process `p` with its members' current incarnations.
    func spawn(_ p: Int) throws {
        let node = nodes[p]
        let ms = membersOf(p)
        var args = ["node", "--first-member", "\(p * plan.membersPerProcess)",
                    "--incarnations", ms.map { "\($0.incarnation)" }.joined(separator: ","),
                    "--gossip", rendezvous, "--group", group, "--params", plan.effectiveParams, "--log-dir", logDir,
                    "--epoch-micros", "\(epochMicros)", "--seed", "\(plan.seed &+ UInt64(p) &* 1_000_003 &+ UInt64(node.generation))",
                    "--rate", "\(plan.rate)", "--size-max", "\(plan.sizeMax)", "--state-bytes", "\(plan.stateBytes)",
                    "--log-level", plan.logLevel] + plan.keyArguments + (plan.effectiveProperties.map { ["--properties", $0] } ?? [])
        if let netns { args += ["--bind", netns.nodeIP(p)] }
        node.child = try launch("maestro-soak", args, namespace: netns?.node(p), stdin: true,
                                stderr: "\(logDir)/node\(p).\(node.generation).stderr")
        node.status = .running
        node.saidStopped = false
        node.stats = NodeStats()
        for m in ms {
            m.status = .starting
            m.endpoint = nil
            m.address = nil
            m.view = nil
            m.primaryView = nil
        }
    }

    private func launch(_ tool: String, _ args: [String], namespace: String?, stdin: Bool, stderr: String) throws -> ChildProcess {
        guard let netns, let namespace else {
            return try ChildProcess(tool, args, stdin: stdin, stderrPath: stderr)
        }
        guard let exe = ChildProcess.executable(tool) else {
            throw SoakError("\(tool) was not found next to maestro-soak; build the package first (swift build)")
        }
        return try ChildProcess(executable: netns.ip, name: tool, netns.exec(in: namespace, exe.path, args),
                                stdin: stdin, stderrPath: stderr)
    }

    /// Waits until every member of the running processes has printed `ready`.
    func waitReady(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            poll()
            if nodes.contains(where: { $0.status != .running }) { return false }
            if members.allSatisfy({ $0.status != .starting }) { return true }
            usleep(10_000)
        }
        return false
    }

    // MARK: Reading

    /// Reads every node's new lines and notices processes that ended on their own.
    func poll() {
        for node in nodes {
            guard let child = node.child else { continue }
            for line in child.takeLines() { handle(line, from: node) }
            if node.status == .running && !child.isRunning {
                for line in child.takeLines() { handle(line, from: node) }
                node.status = .crashed
                let how = Cluster.describeExit(child)
                node.exitDescription = how
                unexpectedExits.append(String(format: "node %d (generation %d) ended on its own at %.1f s: %@ (stderr: %@/node%d.%d.stderr)",
                                              node.index, node.generation, clock(), how, logDir, node.index, node.generation))
                markDead(node.index, reason: "crashed")
            }
        }
        if let g = gossip, !g.isRunning, !unexpectedExits.contains(where: { $0.hasPrefix("maestro-gossip") }) {
            unexpectedExits.append(String(format: "maestro-gossip ended on its own at %.1f s: %@ (stderr: %@/gossip.stderr)",
                                          clock(), Cluster.describeExit(g), logDir))
        }
    }

    static func describeExit(_ c: ChildProcess) -> String {
        c.process.terminationReason == .uncaughtSignal
            ? "killed by signal \(c.process.terminationStatus)" : "exit status \(c.process.terminationStatus)"
    }

    private func handle(_ line: String, from node: NodeHandle) {
        let parts = line.split(separator: " ")
        guard let verb = parts.first else { return }
        func member(_ i: Int) -> MemberSlot? {
            guard let s = parts.count > i ? Int(parts[i]) : nil, members.indices.contains(s), members[s].process == node.index else { return nil }
            return members[s]
        }
        switch verb {
        case "ready":  // ready SLOT MEMBER INC ADDRESS ENDPOINT
            guard parts.count == 6, let m = member(2), UInt64(parts[3]) == m.incarnation, m.status == .starting else { return }
            m.status = .active
            m.address = String(parts[4])
            m.endpoint = String(parts[5])
            if sides != nil { sendPartitionLists() }
        case "view":
            guard let m = member(1), m.status != .dead, let v = ReportedView(parts) else { return }
            m.view = v
            viewsSeen += 1
        case "primary":  // primary MEMBER VIEWID 1|0
            guard parts.count == 4, let m = member(1), m.status != .dead else { return }
            m.primaryView = parts[3] == "1" ? String(parts[2]) : nil
        case "exit":
            guard let m = member(1) else { return }
            if m.status != .leaving {
                nodeErrors.append("member \(m.index) (incarnation \(m.incarnation)) exited the group without being asked to leave")
            }
            m.status = .left
        case "stats":
            // stats CASTS SENDS DELIVERED HOOK-DROPS QUEUED, then the members' drops by reason
            let v = parts.dropFirst().compactMap { UInt64($0) }
            guard v.count == 13, let d = DropCounts(counts: Array(v[5...])) else { return }
            let n = v.prefix(5).map { Int(truncatingIfNeeded: $0) }
            node.stats = NodeStats(casts: n[0], sends: n[1], delivered: n[2], drops: n[3], queued: n[4], memberDrops: d)
        case "stopped":
            node.saidStopped = true
        case "error":
            nodeErrors.append("node \(node.index): \(parts.dropFirst().joined(separator: " "))")
        default:
            break  // final lines (the logs have them) and anything else
        }
    }

    private func markDead(_ p: Int, reason: String) {
        for m in membersOf(p) where m.status != .left {
            soakLog.write(.kill, "\(m.index)", "\(m.incarnation)", reason)
            m.status = .dead
            m.view = nil
        }
    }

    // MARK: Faults

    func send(_ p: Int, _ command: String) {
        guard nodes[p].status == .running else { return }
        nodes[p].child?.send(command)
    }

    /// kill -9 of process `p`.
    func kill(_ p: Int) {
        let node = nodes[p]
        guard node.status == .running, let child = node.child else { return }
        for line in child.takeLines() { handle(line, from: node) }
        child.kill(SIGKILL)
        node.status = .killed
        markDead(p, reason: "killed")
    }

    /// A new process for `p`: new endpoints, new incarnations.
    func restart(_ p: Int) throws {
        let node = nodes[p]
        guard node.status == .killed || node.status == .crashed else { return }
        node.pastStats = node.pastStats + node.stats
        node.generation += 1
        for m in membersOf(p) { m.incarnation += 1 }
        try spawn(p)
        soakLog.write(.note, "restart", "\(p)")
        sendFaultState(to: p)
    }

    func leave(_ m: Int) {
        let slot = members[m]
        guard slot.status == .active else { return }
        slot.status = .leaving
        slot.leftAt = clock()
        send(slot.process, "leave \(slot.slot)")
    }

    /// Member `m` joins again (once it has left) as a new incarnation.
    @discardableResult
    func rejoin(_ m: Int) -> Bool {
        let slot = members[m]
        guard slot.status == .left, nodes[slot.process].status == .running else { return false }
        slot.incarnation += 1
        slot.status = .starting
        slot.endpoint = nil
        slot.address = nil
        slot.view = nil
        slot.primaryView = nil
        send(slot.process, "rejoin \(slot.slot) \(slot.incarnation)")
        return true
    }

    private(set) var loss = 0.0

    func setLoss(_ f: Double) {
        loss = f
        for p in nodes.indices { send(p, "loss \(f)") }
    }

    func setTraffic(on: Bool) {
        for p in nodes.indices { send(p, "traffic \(on ? "on" : "off")") }
    }

    /// Splits the processes into the given sides (one side number per process). The note is
    /// logged first: the nodes' fault hooks cut the traffic as soon as they read the command,
    /// while taking the veth links down takes a while (the split's timings count from the note).
    func partition(_ newSides: [Int]) throws {
        soakLog.write(.note, "partition", newSides.map(String.init).joined(separator: ","))
        sides = newSides
        sendPartitionLists()
        if let netns {
            for i in nodes.indices {
                for j in i + 1 ..< nodes.count where newSides[i] != newSides[j] { try netns.setMesh(i, j, up: false) }
            }
        }
    }

    /// Heals the partition (the note first, as for `partition`).
    func heal() throws {
        guard let old = sides else { return }
        soakLog.write(.note, "heal")
        sides = nil
        for p in nodes.indices { send(p, "heal") }
        if let netns {
            for i in nodes.indices {
                for j in i + 1 ..< nodes.count where old[i] != old[j] { try netns.setMesh(i, j, up: true) }
            }
        }
    }

    /// Tells every node the member addresses on the other side of the partition.
    func sendPartitionLists() {
        guard let sides else { return }
        for p in nodes.indices where nodes[p].status == .running {
            let others = members.filter { sides[$0.process] != sides[p] }.compactMap(\.address)
            send(p, "partition \(others.joined(separator: ","))")
        }
    }

    /// A restarted node learns the current loss and partition.
    private func sendFaultState(to p: Int) {
        if loss > 0 { send(p, "loss \(loss)") }
        if sides != nil { sendPartitionLists() }
    }

    // MARK: The group as the members reported it

    /// Members that should be in the group at the end: alive, joined, not leaving.
    var liveMembers: [MemberSlot] { members.filter { $0.inGroup && nodes[$0.process].status == .running } }

    /// Every live member reported the same view, of exactly the live members, all servers.
    func converged() -> Bool {
        let live = liveMembers
        guard !live.isEmpty, live.allSatisfy({ $0.status == .active }) else { return false }
        let endpoints = Set(live.compactMap(\.endpoint))
        guard endpoints.count == live.count, let first = live[0].view else { return false }
        return live.allSatisfy { m in
            guard let v = m.view else { return false }
            return v.id == first.id && v.settled && Set(v.members) == endpoints
        }
    }

    /// Converged, and every live member was told its view is primary.
    func convergedPrimary() -> Bool {
        converged() && liveMembers.allSatisfy { m in m.view.map { $0.id == m.primaryView } ?? false }
    }

    /// Whether removing `removed` members (killed or leaving), with `sides` in force, leaves
    /// every view that has a transfer going on (or about to start) a server on the same
    /// side to get the state from. Without one, Maestro promotes the joiners without any
    /// state, which no replicated state survives; the soak does not inject such faults.
    func safe(removing removed: Set<Int>, sides: [Int]?) -> Bool {
        let byEndpoint = Dictionary(members.compactMap { m in m.endpoint.map { ($0, m) } }, uniquingKeysWith: { a, _ in a })
        let remaining = members.filter { $0.status == .active && !removed.contains($0.index) && nodes[$0.process].status == .running }
        guard !remaining.isEmpty else { return false }
        for m in members where m.inGroup && !removed.contains(m.index) {
            guard let v = m.view, !v.settled else { continue }
            // A transfer going on or about to start: some server of the view must stay reachable.
            let side = sides?[m.process]
            let helpers = v.servers.compactMap { byEndpoint[$0] }.filter { s in
                s.status == .active && !removed.contains(s.index) && nodes[s.process].status == .running
                    && (side == nil || sides?[s.process] == side)
            }
            if helpers.isEmpty { return false }
        }
        return true
    }

    // MARK: Stopping

    /// Asks every running node to stop, waits for them, kills stragglers. Returns problems.
    func stopAll(timeout: Double) -> [String] {
        var problems: [String] = []
        for n in nodes where n.status == .running { n.child?.send("stop") }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && nodes.contains(where: { $0.status == .running && $0.child?.isRunning == true }) {
            for n in nodes { if let c = n.child { for l in c.takeLines() { handle(l, from: n) } } }
            usleep(20_000)
        }
        for n in nodes where n.status == .running {
            guard let c = n.child else { continue }
            for l in c.takeLines() { handle(l, from: n) }
            if c.isRunning {
                c.kill(SIGKILL)
                problems.append("node \(n.index) did not stop within \(fmt(timeout)) s of `stop` (killed)")
                n.status = .crashed
            } else if c.process.terminationReason != .exit || c.process.terminationStatus != 0 || !n.saidStopped {
                let how = c.process.terminationReason == .uncaughtSignal ? "signal \(c.process.terminationStatus)" : "status \(c.process.terminationStatus)"
                problems.append("node \(n.index) ended with \(how) after `stop`\(n.saidStopped ? "" : " without reporting its final state") (stderr: \(logDir)/node\(n.index).\(n.generation).stderr)")
                n.status = .crashed
            } else {
                n.status = .stopped
            }
        }
        return problems
    }

    /// Kills whatever still runs (the end, or an interrupted run).
    func shutdown() {
        for n in nodes { if let c = n.child, c.isRunning { c.kill(SIGKILL) } }
        if let g = gossip, g.isRunning { g.kill(SIGKILL) }
        usleep(50_000)
        netns?.tearDown()
    }
}
