import Ensemble
import Foundation
import Simulation
import SoakCheck
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM are blocked in the soak and polled (`sigpending`) by its loop, which
/// then stops its processes, deletes its namespaces and exits with status 130.
enum Interruption {
    static func block() {
        var set = signals
        sigprocmask(SIG_BLOCK, &set, nil)
    }

    static var pending: Bool {
        var p = sigset_t()
        sigpending(&p)
        return sigismember(&p, SIGINT) == 1 || sigismember(&p, SIGTERM) == 1
    }

    private static var signals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }
}

/// The soak was interrupted (SIGINT or SIGTERM).
struct SoakInterrupted: Error, CustomStringConvertible {
    let logDir: String
    var description: String { "interrupted; the logs are in \(logDir)" }
}

/// What the running part of a soak leaves for the checks and the summary.
struct RunOutcome {
    var facts: RunFacts
    var injected: [FaultSchedule.Kind: Int]
    var skipped: [FaultSchedule.Kind: Int]
    var stats: NodeStats
    var viewsReported: Int
    var duration: Double
    var logDir: String
}

/// Runs one soak: starts the rendezvous and the nodes, injects the seeded faults until
/// `faultEnd`, then heals everything, waits for the group to converge, lets traffic run in
/// the final view, stops it, lets the last messages arrive and stops the nodes.
final class SoakRun {
    enum Phase: String { case faults, quiet, final, drain, done }

    let plan: SoakPlan
    let logDir: String
    /// The run's clock starts once every node is up (namespaces and processes take a while).
    private var started = Date()
    private var schedule: FaultSchedule
    private var injected: [FaultSchedule.Kind: Int] = [:]
    private var skipped: [FaultSchedule.Kind: Int] = [:]
    private var phase = Phase.faults
    private var quietAt: Double?
    private var convergedAt: Double?
    private let progress = Progress()
    private var lastProgress = -100.0
    private let interactive = isatty(STDERR_FILENO) != 0

    init(plan: SoakPlan, logDir: String) {
        self.plan = plan
        self.logDir = logDir
        schedule = FaultSchedule(plan)
    }

    var elapsed: Double { Date().timeIntervalSince(started) }

    func run() throws -> RunOutcome {
        ChildProcess.ignoreBrokenPipes()
        // A crashing child prints its backtrace to its .stderr file (by default only to a terminal).
        setenv("SWIFT_BACKTRACE", "enable=yes,interactive=no", 0)
        Interruption.block()
        let epoch = EventLog.nowMicros()
        let soakLog = try EventLog(path: "\(logDir)/soak.log", epochMicros: epoch)
        let netns = plan.netns ? try NetnsTopology(processes: plan.processes) : nil
        let cluster = Cluster(plan: plan, logDir: logDir, epochMicros: epoch, soakLog: soakLog, netns: netns) { [unowned self] in self.elapsed }
        defer { cluster.shutdown() }
        try netns?.setUp()
        try cluster.startGossip()
        for p in 0 ..< plan.processes { try cluster.spawn(p) }
        guard cluster.waitReady(timeout: 20) else {
            throw SoakError("the node processes did not all start within 20 s (see the .stderr files in \(logDir))")
        }
        started = Date()
        if plan.loss > 0 { cluster.setLoss(plan.loss) }

        var until = 0.0
        var live: Set<Recorder.Member> = []
        while phase != .done {
            if Interruption.pending { throw SoakInterrupted(logDir: logDir) }
            cluster.poll()
            let now = elapsed
            switch phase {
            case .faults:
                if now >= plan.faultEnd {
                    try enterQuiet(cluster, now)
                } else {
                    for e in schedule.due(now) { try apply(e, cluster, now) }
                }
            case .quiet:
                for m in cluster.members where m.status == .left { cluster.rejoin(m.index) }
                let start = quietAt ?? now
                if cluster.converged() {
                    convergedAt = now
                    phase = .final
                    // Traffic in the final view for at least a second, and until the run's end.
                    until = max(now + SoakPlan.finalTraffic, plan.seconds - SoakPlan.drain)
                } else if now > start + plan.convergenceBound * 1.5 + 2 {
                    phase = .final  // never converged: the checks say so
                    until = now
                }
            case .final:
                if now >= until {
                    live = Set(cluster.liveMembers.map { Recorder.Member(process: $0.index, incarnation: $0.incarnation) })
                    cluster.setTraffic(on: false)
                    phase = .drain
                    until = now + SoakPlan.drain
                }
            case .drain:
                if now >= until { phase = .done }
            case .done:
                break
            }
            showProgress(cluster, now)
            usleep(20_000)
        }
        progress.finish()
        let stopProblems = cluster.stopAll(timeout: 10)
        var facts = RunFacts(live: live, unexpectedExits: cluster.unexpectedExits, stopProblems: stopProblems,
                             nodeErrors: cluster.nodeErrors, quietAt: quietAt ?? plan.faultEnd, convergedAt: convergedAt,
                             convergenceBound: plan.convergenceBound, leaveBound: plan.leaveBound)
        let stack = plan.protocolStack
        facts.totalOrder = LayerRegistry.totallyOrders(stack)
        facts.selfDelivery = LayerRegistry.selfDelivers(stack)
        if GroupScenario.hasPrimary(stack) {
            let p = try? Parameters(parsing: plan.effectiveParams)
            facts.primaryExpected = (try? p?.int("primary_expected", default: plan.members)) ?? plan.members
        }
        facts.membersPerProcess = plan.membersPerProcess
        facts.splitScenario = plan.split != nil && facts.primaryExpected != nil
        return RunOutcome(facts: facts, injected: injected, skipped: skipped,
                          stats: cluster.nodes.reduce(NodeStats()) { $0 + $1.totalStats }, viewsReported: cluster.viewsSeen,
                          duration: elapsed, logDir: logDir)
    }

    // MARK: Faults

    private func count(_ k: FaultSchedule.Kind) { injected[k, default: 0] += 1 }
    private func skip(_ k: FaultSchedule.Kind) { skipped[k, default: 0] += 1 }

    /// A follow-up `fraction` (drawn in [lo, hi)) of `every` from now, if before the faults end.
    private func followUp(_ kind: FaultSchedule.Kind, after every: Double?, _ lo: Double, _ hi: Double, now: Double, target: Int) {
        guard let every else { return }
        let at = now + every * (lo + (hi - lo) * schedule.draw(kind))
        if at < plan.faultEnd { schedule.add(.init(at: at, kind: kind, target: target)) }
    }

    private func apply(_ e: FaultSchedule.Event, _ c: Cluster, _ now: Double) throws {
        switch e.kind {
        case .kill:
            var candidates = c.nodes.filter { n in n.status == .running && c.membersOf(n.index).contains { $0.status == .active } }.map(\.index)
            guard candidates.count >= 2 else { return skip(.kill) }
            while let p = schedule.pick(.kill, candidates) {
                if c.safe(removing: Set(c.membersOf(p).map(\.index)), sides: c.sides) {
                    c.kill(p)
                    count(.kill)
                    if plan.restart { followUp(.restart, after: plan.killEvery, 0.3, 1.0, now: now, target: p) }
                    return
                }
                candidates.removeAll { $0 == p }
            }
            skip(.kill)
        case .restart:
            guard let p = e.target else { return }
            try c.restart(p)
            count(.restart)
        case .leave:
            var candidates = c.members.filter { $0.status == .active && c.nodes[$0.process].status == .running }.map(\.index)
            guard candidates.count >= 2 else { return skip(.leave) }
            while let m = schedule.pick(.leave, candidates) {
                if c.safe(removing: [m], sides: c.sides) {
                    c.leave(m)
                    count(.leave)
                    followUp(.rejoin, after: plan.leaveEvery, 0.3, 1.0, now: now, target: m)
                    return
                }
                candidates.removeAll { $0 == m }
            }
            skip(.leave)
        case .rejoin:
            guard let m = e.target else { return }
            if c.rejoin(m) {
                count(.rejoin)
            } else if c.members[m].status == .leaving, now + 0.2 < plan.faultEnd {
                schedule.add(.init(at: now + 0.2, kind: .rejoin, target: m))  // not out yet: try again soon
            }
        case .partition where plan.split != nil:
            // The split scenario: sides of the given sizes, processes drawn by the seed.
            guard c.sides == nil, let sizes = plan.split else { return skip(.partition) }
            var order = Array(c.nodes.indices)
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, min(i, Int(schedule.draw(.partition) * Double(i + 1))))
            }
            var sides = Array(repeating: 0, count: c.nodes.count)
            var next = 0
            for (side, size) in sizes.enumerated() {
                for p in order[next ..< next + size] { sides[p] = side }
                next += size
            }
            // The split starts from a settled group (with --primary: in a confirmed primary view
            // of every member, so that the majority side can continue it).
            guard plan.primary ? c.convergedPrimary() : c.safe(removing: [], sides: sides) else {
                // A transfer is going on, or the group is not there yet: try again shortly.
                if now + 0.2 + plan.splitFor < plan.faultEnd { schedule.add(.init(at: now + 0.2, kind: .partition)) } else { skip(.partition) }
                return
            }
            try c.partition(sides)
            count(.partition)
            schedule.add(.init(at: now + plan.splitFor, kind: .heal, target: 0))
        case .partition:
            guard c.sides == nil else { return skip(.partition) }
            let running = c.nodes.filter { $0.status == .running }.map(\.index)
            guard running.count >= 2 else { return skip(.partition) }
            for _ in 0 ..< 20 {
                let sides = c.nodes.indices.map { _ in schedule.draw(.partition) < 0.5 ? 0 : 1 }
                guard Set(running.map { sides[$0] }).count == 2, c.safe(removing: [], sides: sides) else { continue }
                try c.partition(sides)
                count(.partition)
                followUp(.heal, after: plan.partitionEvery, 0.3, 0.8, now: now, target: 0)
                return
            }
            skip(.partition)
        case .heal:
            guard c.sides != nil else { return }
            try c.heal()
            count(.heal)
        }
    }

    /// The faults stop: heal, no loss, killed processes restarted (with --restart), members
    /// that left rejoin.
    private func enterQuiet(_ c: Cluster, _ now: Double) throws {
        phase = .quiet
        quietAt = now
        schedule.removeAll()
        c.soakLog.write(.note, "quiet")
        if c.sides != nil {
            try c.heal()
            count(.heal)
        }
        if plan.loss > 0 { c.setLoss(0) }
        if plan.restart {
            for n in c.nodes where n.status == .killed {
                try c.restart(n.index)
                count(.restart)
            }
        }
        for m in c.members where m.status == .left { if c.rejoin(m.index) { count(.rejoin) } }
    }

    // MARK: Progress

    private func showProgress(_ c: Cluster, _ now: Double) {
        guard now - lastProgress >= (interactive ? 0.25 : 5) else { return }
        lastProgress = now
        let s = c.nodes.reduce(NodeStats()) { $0 + $1.totalStats }
        let faults = injected.values.reduce(0, +)
        let detail = FaultSchedule.Kind.allCases.compactMap { k in injected[k].map { "\(k.rawValue) \($0)" } }.joined(separator: ", ")
        let live = c.liveMembers.count
        progress.update(String(format: "%5.1f/%@ s  %@  views %d  messages %d  delivered %d  faults %d%@  live %d/%d",
                               now, fmt(plan.seconds), phase.rawValue, c.viewsSeen, s.casts + s.sends, s.delivered,
                               faults, detail.isEmpty ? "" : " (\(detail))", live, plan.members))
    }
}
