import Ensemble
import MaestroCore
import Simulation

/// One seeded run of Maestro members (CSX servers with a replicated state, and some
/// clients) on the simulator, under random traffic and faults, judged by `MaestroChecker`.
///
/// Phases as in `GroupScenario`: every member starts alone and finds the others through a
/// gossip rendezvous; traffic and faults for `trafficTime`; then the faults stop and the
/// group settles, traffic going on until `drainTime` before the end. Each member's transfer
/// type (atomic, protected, free) is drawn from the seed, as are the size of the replicated
/// state (up to `maxStateBytes`) and the chunk size that streams it.
public struct MaestroScenario {
    public struct Config: Sendable {
        public var seed: UInt64
        public var members: Int
        public var faults: FaultSet
        public var protocolStack = GroupScenario.seedStack
        public var params = Parameters()
        public var trafficTime: Time = .seconds(6)
        public var settleTime: Time = .seconds(30)
        public var drainTime: Time = .seconds(5)
        /// Mean gap between two messages of one member, with faults and then while settling.
        public var meanGap: Time = .milliseconds(40)
        public var settleGap: Time = .milliseconds(300)
        public var meanFaultGap: Time = .seconds(1)
        /// Largest replicated state (a seed draws 0, small, or up to this).
        public var maxStateBytes = 2 << 20
        /// Fraction of members that are clients (drawn per member).
        public var clientFraction = 0.25
        /// Keep the history's lines (`Result.history`) of a seed that passes too; a failing
        /// seed always keeps them. (Formatting them took a tenth of a passing run.)
        public var keepHistory = false

        public init(seed: UInt64, members: Int, faults: FaultSet) {
            self.seed = seed
            self.members = members
            self.faults = faults
        }
    }

    public struct Result: Sendable {
        public var seed: UInt64
        public var members: Int
        public var violations: [Violation]
        public var stateBytes = 0
        public var transfers = 0
        public var transfersCanceled = 0
        public var transfersSkipped = 0
        public var heldSends = 0
        public var deliveries = 0
        public var views = 0
        public var faultsInjected = 0
        public var finalViews: [String] = []
        /// Every recorded event, one line each ("time member event").
        public var history: [String] = []
        public var passed: Bool { violations.isEmpty }
    }

    public let config: Config
    /// With the Primary layer and no `primary_expected` given, the expected membership is the
    /// run's member count (as in `GroupScenario`).
    public init(_ config: Config) {
        var c = config
        c.params = GroupScenario.expectingMembers(c.params, stack: c.protocolStack, members: c.members)
        self.config = c
    }

    final class Run: ScenarioRun {
        let config: Config
        let history = MaestroHistory()
        var servers: [SimServer?] = []
        /// Drawn from the run's stream at the start.
        private(set) var stateBytes = 0
        private(set) var chunkBytes = 1024
        var skippedBefore = 0

        init(config: Config) {
            self.config = config
            super.init(seed: config.seed)
            let r = rng.double()
            let most = max(8, config.maxStateBytes)
            stateBytes = r < 0.3 ? rng.int(in: 0 ..< 1024) : r < 0.8 ? rng.int(in: 1024 ..< min(most, 128 << 10) + 1) : rng.int(in: 0 ..< most + 1)
            chunkBytes = [1024, 4096, 16 << 10, 64 << 10][rng.int(in: 0 ..< 4)]
            history.clock = { [unowned world] in world.now }
        }

        func boot(_ p: SimProcess) {
            let index = p.id - 1
            let shell = SimShell(process: p, relay: relay)
            var ops = CSXOptions()
            ops.groupName = "maestro-sim"
            ops.protocolStack = config.protocolStack
            ops.params = config.params.description
            ops.port = ScenarioDriver.memberPort
            ops.heartbeatRate = .seconds(1)
            ops.stateChunkBytes = chunkBytes
            var local = p.random.split()
            ops.membershipType = local.chance(config.clientFraction) ? .client : .server
            ops.xferType = [XferType.atomic, .protected, .free][local.int(in: 0 ..< 3)]
            let me = MaestroHistory.Member(process: index, incarnation: p.incarnation)
            let s = SimServer(me: me, history: history, options: ops, shell: shell, blobBytes: stateBytes)
            p.state = s
            servers[index] = s
            do {
                try s.join()
                if let id = s.myEndpID { history.register(me, endpoint: id) }
            } catch {
                history.violation("setup", "\(me): join failed: \(error)")
            }
            scheduleTraffic(s, &local)
        }

        func scheduleTraffic(_ s: SimServer, _ r: inout SimRandom) {
            let faultsEnd = config.trafficTime
            let (meanGap, settleGap) = (config.meanGap, config.settleGap)
            ScenarioDriver.repeatAtRandomGaps(in: world, rng: r.split(), meanGap: { $0 < faultsEnd ? meanGap : settleGap },
                                              until: config.trafficTime + config.settleTime - config.drainTime) { [weak s] _ in
                guard let s, s.isActive else { return false }
                s.sendOne()
                return true
            }
        }

        func scheduleFaults() {
            let hooks = ScenarioDriver.MembershipHooks(
                isActive: { [unowned self] i in servers[i]?.isActive == true },
                isDown: { [unowned self] i in !processes[i].isUp || servers[i] == nil || servers[i]?.exited == true },
                crashing: { [unowned self] i in servers[i] = nil },
                restarting: { [unowned self] i in servers[i] = nil },
                leave: { [unowned self] i in servers[i]?.simLeave() })
            injectMembershipFaults(config.faults, meanGap: config.meanFaultGap, until: config.trafficTime, hooks)
        }
    }

    public func run() -> Result {
        let run = Run(config: config)
        let world = run.world
        run.servers = Array(repeating: nil, count: config.members)
        run.populate(count: config.members) { [unowned run] p in run.boot(p) }
        ScenarioDriver.play(world, processes: run.processes, faults: config.faults, rng: run.rng.split(),
                            trafficTime: config.trafficTime, settleTime: config.settleTime, scheduleFaults: run.scheduleFaults)
        return evaluate(run)
    }

    private func evaluate(_ run: Run) -> Result {
        let live = run.servers.compactMap { $0 }.filter(\.isActive)
        let finals = live.map { s in
            MaestroChecker.Final(member: s.me, view: s.clsvViewData?.viewID, isServer: s.isServer, state: s.clsvState,
                                 digest: s.isServer && s.hasState && !s.awaitingState ? s.replica.digest : nil,
                                 primaryLineage: s.clsvViewData?.primaryLineage, primary: s.isPrimary,
                                 queued: s.heldMessages + s.pendingSends)
        }
        var result = Result(seed: config.seed, members: config.members,
                            violations: MaestroChecker(protocolStack: config.protocolStack).check(run.history, finals: finals))
        result.stateBytes = run.stateBytes
        let h = run.history
        result.transfers = h.count { if case .installed = $0 { return true }; return false }
        result.transfersCanceled = h.count { if case .xferCanceled = $0 { return true }; return false }
        result.heldSends = h.count { if case .held = $0 { return true }; return false }
        result.deliveries = h.count { switch $0 { case .cast, .send: return true; default: return false } }
        result.views = h.count { if case .view = $0 { return true }; return false }
        result.transfersSkipped = run.servers.compactMap { $0 }.reduce(0) { $0 + $1.transfersSkipped }
        result.faultsInjected = run.faultsInjected
        if config.keepHistory || !result.violations.isEmpty { result.history = historyLines(h) }
        result.finalViews = live.map { s in
            "\(s.me) \(s.isServer ? "server" : "client") \(s.clsvState): \(s.clsvViewData.map { "\($0.viewID.ltime) of \($0.nmembers)" } ?? "none")"
        }
        return result
    }

    /// Every recorded event, one line each.
    private func historyLines(_ h: MaestroHistory) -> [String] {
        h.entries.map { e in
            func who(_ id: EndpID) -> String { h.endpoints[id].map(String.init(describing:)) ?? "\(id)" }
            let what: String
            switch e.event {
            case let .view(id, members, role, primary):
                what = "view \(id.ltime)\(primary ? " primary" : "") [\(members.map(who).joined(separator: ","))] as \(role)"
            case .block: what = "block"
            case .leave: what = "leave"
            case .exit: what = "exit"
            case let .cast(o, s, q): what = "cast #\(s) of \(who(o)) safety \(q)"
            case let .send(o, s, q): what = "send #\(s) of \(who(o)) safety \(q)"
            case .held: what = "held a send"
            case let .made(s): what = "casts #\(s)"
            case let .xferStart(x): what = "transfer \(x) starts"
            case let .xferCanceled(x): what = "transfer \(x) canceled"
            case let .xferTerminated(x): what = "transfer \(x) terminated"
            case let .provided(to, x, d): what = "provides \(x) to \(who(to)): \(hex(d))"
            case let .installed(x, d): what = "installs \(x): \(hex(d))"
            }
            return "\(e.time) \(e.member) \(what)"
        }
    }
}
