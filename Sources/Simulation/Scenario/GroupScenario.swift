import Ensemble

/// One seeded whole-group run of the real protocol stack on the simulator, with random
/// traffic and faults, checked by the property checker.
public struct GroupScenario {
    public struct Config: Sendable {
        public var seed: UInt64
        public var members: Int
        public var faults: FaultSet
        /// Every member starts in one given view (no membership protocol needed).
        public var staticView: Bool = true
        public var protocolStack = "Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
        public var params = Parameters()
        /// Virtual time with traffic (and faults), then quiet time for repairs.
        public var trafficTime: Time = .seconds(3)
        public var settleTime: Time = .seconds(20)
        /// Mean gap between two messages of one member.
        public var meanGap: Time = .milliseconds(20)
        /// Largest application payload (fragmentation is exercised above frag_max_len).
        public var maxSize = 65536

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
        public var messagesSent = 0
        public var deliveries = 0
        public var datagrams: UInt64 = 0
        public var events: UInt64 = 0
        public var windowFull = 0
        /// Each member's last view, as "member: ltime [members]".
        public var finalViews: [String] = []
        public var passed: Bool { violations.isEmpty }
    }

    public let config: Config
    public init(_ config: Config) { self.config = config }

    public func run() -> Result {
        let world = SimWorld(seed: config.seed, trace: .off)
        let recorder = Recorder()
        var members: [SimMember] = []
        var transports: [SimTransport] = []
        var ids: [EndpointID] = []
        let port: UInt16 = 6793

        var processes: [SimProcess] = []
        // The gossip rendezvous runs on a process of its own, outside the faults.
        let relayProcess = world.addProcess(name: "gossip") { p in
            p.state = GossipRelay(transport: p.makeTransport(port: 6788))
        }
        let relay = relayProcess.address(port: 6788)
        for i in 0 ..< config.members {
            let p = world.addProcess(name: "p\(i)") { _ in }
            processes.append(p)
            let t = p.makeTransport(port: port)
            let id = EndpointID(host: p.ip, port: port, counter: 0, incarnation: p.random.next())
            let m = SimMember(me: .init(process: i, incarnation: p.incarnation), recorder: recorder)
            recorder.register(m.me, endpoint: id)
            p.state = m
            members.append(m)
            transports.append(t)
            ids.append(id)
        }
        applyFaults(world, processes)
        let group = GroupID("sim")
        let view = ViewState(group: group, protocolStack: config.protocolStack, ltime: 1, members: ids,
                             addresses: transports.map(\.localAddress))
        var violations: [Violation] = []
        for (i, m) in members.enumerated() {
            do {
                let e = try GroupEndpoint(id: ids[i], group: group, transport: transports[i],
                                          protocolStack: config.protocolStack, params: config.params, application: m,
                                          gossip: [relay])
                m.endpoint = e
                try e.join(view: config.staticView ? view : nil)
            } catch {
                violations.append(Violation(property: "setup", detail: "\(error)"))
                return Result(seed: config.seed, members: config.members, violations: violations)
            }
        }

        // Traffic: each member sends at random gaps until the traffic time is over.
        var rng = world.random.split()
        for m in members {
            scheduleTraffic(world, m, &rng)
        }
        world.run(until: config.trafficTime)
        clearFaults(world, processes)
        world.run(for: config.settleTime)

        let live = Set(members.map(\.me))
        violations += PropertyChecker().check(recorder, live: live, expectComplete: true)
        var result = Result(seed: config.seed, members: config.members, violations: violations)
        for e in recorder.entries {
            switch e {
            case .sent: result.messagesSent += 1
            case .delivered: result.deliveries += 1
            default: break
            }
        }
        result.datagrams = world.counters.sent
        result.events = world.eventsExecuted
        result.windowFull = members.reduce(0) { $0 + $1.fullResults }
        result.finalViews = members.map { m in
            guard let v = m.view else { return "\(m.me): none" }
            return "\(m.me): \(v.ltime) [\(v.members.map { recorder.member(of: $0).map(String.init(describing:)) ?? "?" }.joined(separator: ","))]"
        }
        return result
    }

    private func scheduleTraffic(_ world: SimWorld, _ m: SimMember, _ rng: inout SimRandom) {
        let trafficEnd = config.trafficTime
        let maxSize = config.maxSize
        let members = config.members
        let meanGap = config.meanGap
        var local = rng.split()
        func next() {
            let gap = Time(nanoseconds: Int64(local.double() * 2 * Double(meanGap.nanoseconds)) + 1)
            guard world.now + gap < trafficEnd else { return }
            world.schedule(after: gap) {
                let r = local.double()
                let filler: Int
                if r < 0.6 { filler = local.int(in: 0 ..< 100) }
                else if r < 0.85 { filler = local.int(in: 100 ..< 2000) }
                else if r < 0.95 { filler = local.int(in: 2000 ..< 20000) }
                else { filler = local.int(in: 20000 ..< max(20001, maxSize - TestMessage.headerSize)) }
                if local.chance(0.7) || members < 2 {
                    m.sendTest(to: nil, filler: filler)
                } else {
                    var d = local.int(in: 0 ..< members - 1)
                    if d >= m.rank { d += 1 }
                    m.sendTest(to: d, filler: filler)
                }
                next()
            }
        }
        next()
    }

    /// Draws per-link, per-direction fault rates from the seed.
    private func applyFaults(_ world: SimWorld, _ processes: [SimProcess]) {
        var rng = world.random.split()
        for a in processes {
            for b in processes where a !== b {
                var f = LinkFaults.none
                if config.faults.contains(.loss) { f.drop = rng.double() * 0.2 }
                if config.faults.contains(.dup) { f.duplicate = rng.double() * 0.1 }
                if config.faults.contains(.reorder) { f.reorder = rng.double() * 0.2 }
                if config.faults.contains(.delay) {
                    f.delay = .microseconds(100) ... .microseconds(Int64(200 + rng.double() * 20_000))
                }
                world.setFaults(from: a, to: b, f)
            }
        }
    }

    private func clearFaults(_ world: SimWorld, _ processes: [SimProcess]) {
        world.defaultFaults = .none
        for a in processes {
            for b in processes where a !== b { world.setFaults(from: a, to: b, nil) }
        }
    }
}
