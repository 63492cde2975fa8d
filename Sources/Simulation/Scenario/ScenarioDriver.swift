import Ensemble

/// What every scenario run holds: its world (a seeded simulation), the member processes, the
/// rendezvous address, its own random stream and the count of faults injected.
open class ScenarioRun {
    public let world: SimWorld
    public var processes: [SimProcess] = []
    public var relay = Address(ip: 0, port: 0)
    public var rng: SimRandom
    public var faultsInjected = 0

    public init(seed: UInt64) {
        world = SimWorld(seed: seed, trace: .off)
        rng = world.random.split()
    }

    /// Adds the rendezvous, then `count` member processes booted by `boot` (which may read
    /// `relay` already).
    public func populate(count: Int, boot: @escaping (SimProcess) -> Void) {
        relay = ScenarioDriver.addRendezvous(to: world)
        processes = ScenarioDriver.addMembers(to: world, count: count, boot: boot)
    }

    /// Injects the membership faults of `faults` at random gaps (mean `meanGap`) until `end`
    /// through `hooks`, counting each in `faultsInjected`.
    public func injectMembershipFaults(_ faults: FaultSet, meanGap: Time, until end: Time, _ hooks: ScenarioDriver.MembershipHooks) {
        var h = hooks
        h.injected = { [unowned self] in faultsInjected += 1 }
        ScenarioDriver.injectMembershipFaults(in: world, processes: processes, faults: faults, meanGap: meanGap, until: end,
                                              rng: rng.split(), h)
    }
}

/// What the scenarios (`GroupScenario`, Maestro's) share: repeating an action at random gaps,
/// and injecting membership faults at random.
public enum ScenarioDriver {
    /// The members' UDP port, and the rendezvous's.
    public static let memberPort: UInt16 = 6793
    public static let gossipPort: UInt16 = 6788

    /// Adds the gossip rendezvous, on a process of its own (the first one, so its links are
    /// those no fault is drawn for), and returns its address.
    public static func addRendezvous(to world: SimWorld) -> Address {
        world.addProcess(name: "gossip") { p in
            p.state = GossipRelay(transport: p.makeTransport(port: gossipPort))
        }.address(port: gossipPort)
    }

    /// Adds `count` member processes, `p0`, `p1`, ... (process ids from 1: the rendezvous is
    /// 0), each booted (and rebooted after a restart) by `boot`.
    public static func addMembers(to world: SimWorld, count: Int, boot: @escaping (SimProcess) -> Void) -> [SimProcess] {
        (0 ..< count).map { i in world.addProcess(name: "p\(i)", boot: boot) }
    }

    /// The course of every scenario run once its members are up: random link faults drawn
    /// from `rng`, the membership faults `scheduleFaults` arranges, the traffic period until
    /// `trafficTime`, then every fault cleared and `settleTime` more for repairs.
    public static func play(_ world: SimWorld, processes: [SimProcess], faults: FaultSet, rng: SimRandom,
                            trafficTime: Time, settleTime: Time, scheduleFaults: () -> Void) {
        var r = rng
        for (a, b, f) in LinkFaults.random(for: faults, rng: &r, processes: processes) { world.setFaults(from: a, to: b, f) }
        scheduleFaults()
        world.run(until: trafficTime)
        world.clearFaults()
        world.run(for: settleTime)
    }

    /// Runs `action` at random gaps (uniform over 0 to twice `meanGap(now)`) until `end`, or
    /// until it returns false. The gaps and the action draw from one stream, `rng`.
    public static func repeatAtRandomGaps(in world: SimWorld, rng: SimRandom, meanGap: @escaping (Time) -> Time,
                                          until end: Time, _ action: @escaping (inout SimRandom) -> Bool) {
        unowned let w = world  // queued closures must not keep the world alive
        var local = rng
        func next() {
            let gap = Time(nanoseconds: Int64(local.double() * 2 * Double(meanGap(w.now).nanoseconds)) + 1)
            guard w.now + gap < end else { return }
            w.schedule(after: gap) { if action(&local) { next() } }
        }
        next()
    }

    /// What the fault injector asks of and tells a scenario, by member index (the index of
    /// its process in `processes`).
    public struct MembershipHooks {
        /// Joined, neither leaving nor gone: may crash or leave.
        public var isActive: (Int) -> Bool
        /// Down, or left the group: may restart (as a new member).
        public var isDown: (Int) -> Bool
        /// The member's process is about to crash (record it; forget the member).
        public var crashing: (Int) -> Void
        /// The member's process is about to restart.
        public var restarting: (Int) -> Void
        /// The member should leave the group.
        public var leave: (Int) -> Void
        /// A line for the run's history.
        public var note: (String) -> Void = { _ in }
        /// One fault was injected.
        public var injected: () -> Void = {}

        public init(isActive: @escaping (Int) -> Bool, isDown: @escaping (Int) -> Bool, crashing: @escaping (Int) -> Void,
                    restarting: @escaping (Int) -> Void, leave: @escaping (Int) -> Void) {
            self.isActive = isActive
            self.isDown = isDown
            self.crashing = crashing
            self.restarting = restarting
            self.leave = leave
        }
    }

    /// Injects one of the membership faults in `faults` at random gaps (mean `meanGap`) until
    /// `end`: crash, restart, quick restart (kill and start again on the same address within
    /// a second), leave, partition (of every process of the world into two random halves),
    /// heal.
    public static func injectMembershipFaults(in world: SimWorld, processes: [SimProcess], faults: FaultSet, meanGap: Time,
                                              until end: Time, rng: SimRandom, _ hooks: MembershipHooks) {
        let kinds = FaultSet.kinds.filter { FaultSet.membership.intersection(faults).contains($0) }
        guard !kinds.isEmpty else { return }
        repeatAtRandomGaps(in: world, rng: rng, meanGap: { _ in meanGap }, until: end) { [unowned world] rng in
            if inject(world, processes, kinds[rng.int(in: 0 ..< kinds.count)], &rng, hooks) { hooks.injected() }
            return true
        }
    }

    private static func inject(_ world: SimWorld, _ processes: [SimProcess], _ kind: FaultSet, _ rng: inout SimRandom,
                               _ hooks: MembershipHooks) -> Bool {
        let active = processes.indices.filter(hooks.isActive)
        let down = processes.indices.filter(hooks.isDown)
        switch kind {
        case .crash where active.count > 1:
            let i = active[rng.int(in: 0 ..< active.count)]
            hooks.crashing(i)
            world.crash(processes[i])
        case .restart where !down.isEmpty:
            let i = down[rng.int(in: 0 ..< down.count)]
            hooks.restarting(i)
            world.restart(processes[i])
        case .quickRestart where active.count > 1:
            let i = active[rng.int(in: 0 ..< active.count)]
            hooks.crashing(i)
            world.crash(processes[i])
            let delay = Time(nanoseconds: Int64(rng.double() * 1e9))
            hooks.note("quick restart of p\(i) in \(delay)")
            let p = processes[i]
            world.schedule(after: delay) {
                guard !p.isUp else { return }
                hooks.restarting(i)
                p.world.restart(p)
            }
        case .leave where active.count > 1:
            hooks.leave(active[rng.int(in: 0 ..< active.count)])
        case .partition where processes.count > 1:
            var a: [SimProcess] = []
            var b: [SimProcess] = []
            for p in world.processes { if rng.chance(0.5) { a.append(p) } else { b.append(p) } }
            world.partition([a, b].filter { !$0.isEmpty })
            hooks.note("partition \(a.map(\.name)) | \(b.map(\.name))")
        case .heal:
            world.heal()
            hooks.note("heal")
        default:
            return false
        }
        return true
    }
}
