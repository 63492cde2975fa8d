import Ensemble

/// One seeded whole-group run of the real protocol stack on the simulator, with random
/// traffic and faults, checked by the property checker.
///
/// Phases: start (every member alone, finding the others through a gossip rendezvous, or
/// all in one given view with `staticView`), traffic with faults for `trafficTime`, then the
/// faults stop (partitions heal, links clear, no more crashes) and the group has
/// `settleTime` to repair and converge before the checks run.
public struct GroupScenario {
    public struct Config: Sendable {
        public var seed: UInt64
        public var members: Int
        public var faults: FaultSet
        /// Every member starts in one given view instead of alone.
        public var staticView = false
        public var protocolStack = GroupScenario.seedStack
        public var params = Parameters()
        /// Virtual time with traffic and faults, then time without faults for repairs and
        /// convergence, during which traffic goes on at `settleGap` until `drainTime` before
        /// the end (so reliable delivery is checked in the final view of every seed).
        public var trafficTime: Time = .seconds(6)
        public var settleTime: Time = .seconds(60)
        public var drainTime: Time = .seconds(5)
        /// Mean gap between two messages of one member, with faults and then while settling.
        public var meanGap: Time = .milliseconds(20)
        public var settleGap: Time = .milliseconds(200)
        /// Mean gap between two membership faults.
        public var meanFaultGap: Time = .seconds(1)
        /// Largest application payload (fragmentation is exercised above frag_max_len).
        public var maxSize = 65536
        /// Trace every membership event of this member (process index) into the history.
        public var traceMember: Int?
        /// The group's secret: every datagram authenticated (nil: none).
        public var key: [UInt8]?

        public init(seed: UInt64, members: Int, faults: FaultSet) {
            self.seed = seed
            self.members = members
            self.faults = faults
        }
    }

    public static let seedStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
    public static let dataStack = "Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    public struct Result: Sendable {
        public var seed: UInt64
        public var members: Int
        public var violations: [Violation]
        public var messagesSent = 0
        public var deliveries = 0
        public var viewsInstalled = 0
        public var faultsInjected = 0
        public var datagrams: UInt64 = 0
        public var events: UInt64 = 0
        public var windowFull = 0
        /// When every live member last installed a view (the convergence time).
        public var convergedAt: Time = .zero
        /// Each member's last view, as "member: ltime [members]".
        public var finalViews: [String] = []
        /// Views, blocks, crashes and leaves with their times, and the faults injected.
        public var history: [String] = []
        /// The longest a member stayed blocked (from its first block in a view to its next
        /// view), and who: the group's worst unavailability during the run.
        public var longestBlocked: Time = .zero
        public var longestBlockedMember = ""
        /// The longest time from a member's leave to the view without it at every other member.
        public var longestLeaveExclusion: Time = .zero
        public var longestLeaveExclusionMember = ""
        public var passed: Bool { violations.isEmpty }
    }

    public let config: Config
    /// With the Primary layer and no `primary_expected` given, the expected membership is the
    /// run's member count.
    public init(_ config: Config) {
        var c = config
        c.params = GroupScenario.expectingMembers(c.params, stack: c.protocolStack, members: c.members)
        self.config = c
    }

    /// `params` with `primary_expected = members` if `protocolStack` has the Primary layer and
    /// `params` does not set it (every scenario's default).
    public static func expectingMembers(_ params: Parameters, stack protocolStack: String, members: Int) -> Parameters {
        guard hasPrimary(protocolStack), params["primary_expected"] == nil else { return params }
        var p = params
        p["primary_expected"] = .int(members)
        return p
    }

    /// Whether a protocol string names the Primary layer.
    public static func hasPrimary(_ protocolStack: String) -> Bool {
        protocolStack.lowercased().split(separator: ":").contains { $0.filter { $0 != " " } == "primary" }
    }

    /// The run's mutable state, shared with the closures the simulator runs.
    final class Run: ScenarioRun {
        let config: Config
        let recorder = Recorder()
        /// The current member of each process, nil while down or after leaving.
        var members: [SimMember?] = []
        var staticView: ViewState?
        var setupErrors: [Violation] = []
        var lastInstall = Time.zero

        init(config: Config) {
            self.config = config
            super.init(seed: config.seed)
            recorder.clock = { [unowned world] in world.now }
        }

        /// Boots a member process: a transport and a member, joined unless the static view is pending.
        func boot(_ p: SimProcess) {
            let index = p.id - 1  // process 0 is the rendezvous
            let t = p.makeTransport(port: ScenarioDriver.memberPort)
            let id = EndpointID(host: p.ip, port: ScenarioDriver.memberPort, counter: 0, incarnation: p.random.next())
            let m = SimMember(me: .init(process: index, incarnation: p.incarnation), recorder: recorder) { [unowned self] in
                self.lastInstall = self.world.now
            }
            recorder.register(m.me, endpoint: id)
            p.state = m
            members[index] = m
            do {
                let e = try GroupEndpoint(id: id, group: GroupID("sim"), transport: t, protocolStack: config.protocolStack,
                                          params: config.params, application: m, gossip: [relay],
                                          key: try config.key.map { k throws(KeyError) in try GroupKey(secret: k) })
                m.endpoint = e
                let (rec, me) = (recorder, m.me)
                e.membershipObserver = { note in rec.record(.membership(me, note)) }
                if config.traceMember == index {
                    let rec = recorder
                    let me = m.me
                    e.tracer = { vid, layer, up, event in
                        switch event {
                        case .cast, .send: if layer != "Top_appl" && layer != "Bottom" { return }
                        case .sendUnreliable: if layer != "Bottom" { return }
                        case .timer, .castUnreliable, .receive, .stableRequest, .applCounts: return
                        default: break
                        }
                        rec.note("\(me) v\(vid.ltime) \(layer) \(up ? "up" : "dn") \(event)")
                    }
                }
                if !(config.staticView && p.incarnation == 0) { try e.join() }
            } catch {
                setupErrors.append(Violation(property: "setup", detail: "\(error)"))
            }
            scheduleTraffic(m)
        }

        func scheduleTraffic(_ m: SimMember) {
            let faultsEnd = config.trafficTime
            let (meanGap, settleGap) = (config.meanGap, config.settleGap)
            let maxSize = config.maxSize
            ScenarioDriver.repeatAtRandomGaps(in: world, rng: rng.split(), meanGap: { $0 < faultsEnd ? meanGap : settleGap },
                                              until: config.trafficTime + config.settleTime - config.drainTime) { [weak m] local in
                guard let m, m.isActive else { return false }
                let r = local.double()
                let filler: Int
                if r < 0.6 { filler = local.int(in: 0 ..< 100) }
                else if r < 0.85 { filler = local.int(in: 100 ..< 2000) }
                else if r < 0.95 { filler = local.int(in: 2000 ..< 20000) }
                else { filler = local.int(in: 20000 ..< max(20001, maxSize - TestMessage.headerSize)) }
                let n = m.view?.count ?? 1
                if local.chance(0.7) || n < 2 {
                    m.sendTest(to: nil, filler: filler)
                } else {
                    var d = local.int(in: 0 ..< n - 1)
                    if d >= m.rank { d += 1 }
                    m.sendTest(to: d, filler: filler)
                }
                return true
            }
        }

        /// Injects one membership fault at random gaps until the traffic time is over.
        func scheduleFaults() {
            var hooks = ScenarioDriver.MembershipHooks(
                isActive: { [unowned self] i in members[i]?.isActive == true },
                // Down, or left the group: a restart brings the process back as a new member.
                isDown: { [unowned self] i in !processes[i].isUp || members[i] == nil || members[i]?.exited == true },
                crashing: { [unowned self] i in
                    if let m = members[i] { recorder.record(.crashed(m.me)) }
                    members[i] = nil
                },
                restarting: { [unowned self] i in members[i] = nil },
                leave: { [unowned self] i in members[i]?.leave() })
            hooks.note = { [unowned self] text in recorder.note(text) }
            injectMembershipFaults(config.faults, meanGap: config.meanFaultGap, until: config.trafficTime, hooks)
        }

        /// Draws per-link, per-direction fault rates from the seed.

    }

    public func run() -> Result {
        let run = Run(config: config)
        let world = run.world
        run.members = Array(repeating: nil, count: config.members)
        run.populate(count: config.members) { [unowned run] p in run.bootMember(p) }
        if config.staticView {
            let ms = run.members.compactMap { $0 }
            let ids = ms.compactMap { $0.endpoint?.id }
            let view = ViewState(group: GroupID("sim"), protocolStack: config.protocolStack, ltime: 1, members: ids,
                                 addresses: run.processes.map { $0.address(port: ScenarioDriver.memberPort) })
            for m in ms {
                do { try m.endpoint?.join(view: view) } catch {
                    run.setupErrors.append(Violation(property: "setup", detail: "\(error)"))
                }
            }
        }
        ScenarioDriver.play(world, processes: run.processes, faults: config.faults, rng: run.rng.split(),
                            trafficTime: config.trafficTime, settleTime: config.settleTime, scheduleFaults: run.scheduleFaults)
        return evaluate(run)
    }

    /// How long after the last fault every live member must be in one view: suspicion of a
    /// crashed member ((suspect_max_idle + 1) suspect sweeps), a merge attempt that times out
    /// (merge_timeout), two gossip rounds to find and merge the other partitions (2 top_sweep),
    /// the time old stacks may hold back a member that missed a view (leave_linger), and a
    /// second for the flushes and view installations.
    public static func convergenceBound(_ p: Parameters) -> Time {
        let merge = (try? p.time("merge_timeout", default: .seconds(15))) ?? .seconds(15)
        let top = (try? p.time("top_sweep", default: .seconds(5))) ?? .seconds(5)
        return suspicionTime(p) + merge + top * 2 + linger(p) + .seconds(1)
    }

    /// The failure detector's time: a member silent this long is suspected.
    public static func suspicionTime(_ p: Parameters) -> Time { Suspect.suspicionTime(p) }

    /// How long a member listed in an installed view may stay away from it before the others
    /// fail it: one that missed its invitation (a lost merge grant, a lost View) gets it again
    /// within a few round trips; one that cannot (dead, cut off) is suspected once the previous
    /// view's stacks, which keep answering it while it catches up, are gone (`leave_linger`)
    /// and the suspicion time has passed.
    public static func ghostBound(_ p: Parameters) -> Time { linger(p) + suspicionTime(p) + .seconds(2) }

    /// How long an old stack may outlive its view (Leave's `leave_linger`).
    public static func linger(_ p: Parameters) -> Time {
        let repair = max((try? p.time("stable_sweep", default: .seconds(1))) ?? .seconds(1),
                         (try? p.time("pt2pt_sweep", default: .seconds(1))) ?? .seconds(1))
        return (try? p.time("leave_linger", default: repair * 3)) ?? repair * 3
    }

    private func evaluate(_ run: Run) -> Result {
        let live = Set(run.members.compactMap { $0 }.filter(\.isActive).map(\.me))
        var violations = run.setupErrors
        let total = LayerRegistry.totallyOrders(config.protocolStack)
        let own = LayerRegistry.selfDelivers(config.protocolStack)
        violations += PropertyChecker(localDelivery: own, totalOrder: total).check(run.recorder, live: live, expectComplete: true)
        if !config.staticView || !FaultSet.membership.intersection(config.faults).isEmpty {
            violations += ViewChecker(selfDelivery: own).check(run.recorder, live: live)
            if GroupScenario.hasPrimary(config.protocolStack) {
                let n = (try? config.params.int("primary_expected", default: config.members)) ?? config.members
                violations += PrimaryChecker(configured: n).check(run.recorder)
            }
            violations += MembershipChecker(ghostBound: GroupScenario.ghostBound(config.params),
                                            endTime: config.trafficTime + config.settleTime).check(run.recorder, live: live)
            let bound = GroupScenario.convergenceBound(config.params)
            if run.lastInstall > config.trafficTime + bound {
                violations.append(Violation(property: "liveness bound",
                    detail: "the last view was installed \(run.lastInstall - config.trafficTime) after the faults stopped; the bound is \(bound)"))
            }
        }
        var result = Result(seed: config.seed, members: config.members, violations: violations.sorted { ($0.property, $0.detail) < ($1.property, $1.detail) })
        for e in run.recorder.entries {
            switch e {
            case .sent: result.messagesSent += 1
            case .delivered: result.deliveries += 1
            case .installed: result.viewsInstalled += 1
            default: break
            }
        }
        (result.longestBlocked, result.longestBlockedMember) = run.recorder.longestBlocked()
        (result.longestLeaveExclusion, result.longestLeaveExclusionMember) = MembershipChecker.longestLeaveExclusion(run.recorder)
        result.faultsInjected = run.faultsInjected
        result.history = run.recorder.membershipHistory()
        result.datagrams = run.world.counters.sent
        result.events = run.world.eventsExecuted
        result.convergedAt = run.lastInstall
        result.windowFull = run.members.compactMap { $0 }.reduce(0) { $0 + $1.fullResults }
        result.finalViews = run.members.compactMap { $0 }.map { m in
            let status = m.isActive ? "" : m.exited ? " (left)" : m.leaving ? " (leaving)" : " (inactive)"
            guard let v = m.view else { return "\(m.me)\(status): none" }
            return "\(m.me)\(status): \(v.ltime) [\(v.members.map { run.recorder.member(of: $0).map(String.init(describing:)) ?? "?" }.joined(separator: ","))]"
        }
        return result
    }
}

extension GroupScenario.Run {
    func bootMember(_ p: SimProcess) { boot(p) }
}
