import Ensemble
import Foundation
import Maestro
import Simulation
import SoakCheck

/// Everything a soak run is configured with, and the timings derived from it.
struct SoakPlan {
    var processes: Int
    var seconds: Double
    var membersPerProcess: Int
    var killEvery: Double?
    var restart: Bool
    var leaveEvery: Double?
    var partitionEvery: Double?
    var loss: Double
    var sizeMax: Int
    var stateBytes: Int
    var seed: UInt64
    var netns: Bool
    var json: Bool
    var rate: Double
    var params: String
    var logDir: String?
    var keepLogs: Bool
    /// The nodes' --log-level (their logs go to LOG-DIR/nodeP.G.stderr).
    var logLevel: String
    /// `--key-file PATH` for the rendezvous and the nodes (authenticated group), or nothing.
    var keyArguments: [String] = []
    /// --properties for the nodes' members (nil: the seed's stack).
    var properties: String?
    /// The longest from a member's leave to its exclusion by every survivor (seconds).
    var leaveBound = SoakPlan.defaultLeaveBound
    /// --total: the stack orders casts totally (Total added to the properties); the servers
    /// apply their own casts at delivery and their state is order-sensitive.
    var total = false
    /// --primary: Primary too (and Total), `primary_expected` = the members; servers cast only
    /// in the confirmed primary.
    var primary = false
    /// --split A,B,...: one partition of the processes into sides of these sizes at `splitAt`
    /// for `splitFor` seconds (the split scenario).
    var split: [Int]?
    var splitAt = SoakPlan.defaultSplitAt
    var splitFor = SoakPlan.defaultSplitFor

    static let defaultSplitAt = 5.0
    static let defaultSplitFor = 6.0

    static let defaultLeaveBound = 1.0

    static let fastParams = "fast;top_sweep=0.5:time"

    var members: Int { processes * membersPerProcess }

    /// The properties the nodes run: --properties, with Total (--total, --primary) and
    /// Primary (--primary) added; nil: the seed's stack.
    var effectiveProperties: String? {
        guard total || primary else { return properties }
        var p = properties ?? "Vsync"
        let have = (try? Properties(parsing: p)) ?? Properties([])
        if !have.contains(.total) { p += ":Total" }
        if primary && !have.contains(.primary) { p += ":Primary" }
        return p
    }

    /// The parameters the nodes run: --params, with `primary_expected` (the members) under
    /// --primary unless --params sets it.
    var effectiveParams: String {
        guard primary, (try? Parameters(parsing: params))?["primary_expected"] == nil else { return params }
        return params + ";primary_expected=\(members):int"
    }

    /// The protocol stack the members run.
    var protocolStack: String {
        guard let p = effectiveProperties else { return MaestroOptions.defaultProtocol }
        return (try? Properties(parsing: p).protocolStack()) ?? MaestroOptions.defaultProtocol
    }

    /// How long after the faults stop every live member must be in one view
    /// (`GroupScenario.convergenceBound`), in seconds.
    var convergenceBound: Double {
        let p = (try? Parameters(parsing: params)) ?? Parameters()
        return Double(GroupScenario.convergenceBound(p).nanoseconds) / 1e9
    }

    /// After convergence: one more second of traffic in the final view, then two seconds
    /// for the last messages to arrive before the nodes are stopped.
    static let finalTraffic = 1.0
    static let drain = 2.0

    /// The quiet end of the run: no faults, the group converges, traffic stops, messages drain.
    var quietPeriod: Double { convergenceBound + SoakPlan.finalTraffic + SoakPlan.drain }

    /// Faults are injected until then (seconds since the start).
    var faultEnd: Double { seconds - quietPeriod }

    /// The shortest --seconds that leaves 5 s of faults.
    var minimumSeconds: Double { quietPeriod + 5 }

    var faultSummary: String {
        var f: [String] = []
        if let k = killEvery { f.append("kill -9 every ~\(fmt(k)) s\(restart ? " with restart" : "")") }
        if let l = leaveEvery { f.append("leave and rejoin every ~\(fmt(l)) s") }
        if let p = partitionEvery { f.append("partition every ~\(fmt(p)) s") }
        if let s = split { f.append("split \(s.map(String.init).joined(separator: "+")) at \(fmt(splitAt)) s for \(fmt(splitFor)) s") }
        if loss > 0 { f.append("loss \(loss)") }
        return f.isEmpty ? "none" : f.joined(separator: ", ")
    }

    /// The command line that replays this run's fault schedule.
    var replayCommand: String {
        var a = ["maestro-soak", "--processes", "\(processes)", "--seconds", fmt(seconds)]
        if membersPerProcess != 1 { a += ["--members-per-process", "\(membersPerProcess)"] }
        if let k = killEvery { a += ["--kill-every", fmt(k)] }
        if restart { a.append("--restart") }
        if let l = leaveEvery { a += ["--leave-every", fmt(l)] }
        if let p = partitionEvery { a += ["--partition-every", fmt(p)] }
        if loss > 0 { a += ["--loss", "\(loss)"] }
        a += ["--size-max", "\(sizeMax)"]
        if stateBytes > 0 { a += ["--state-bytes", "\(stateBytes)"] }
        if rate != 20 { a += ["--rate", fmt(rate)] }
        if params != SoakPlan.fastParams { a += ["--params", "'\(params)'"] }
        if leaveBound != SoakPlan.defaultLeaveBound { a += ["--leave-bound", fmt(leaveBound)] }
        if netns { a.append("--netns") }
        if let properties { a += ["--properties", "'\(properties)'"] }
        if primary { a.append("--primary") } else if total { a.append("--total") }
        if let s = split {
            a += ["--split", s.map(String.init).joined(separator: ",")]
            if splitAt != SoakPlan.defaultSplitAt { a += ["--split-at", fmt(splitAt)] }
            if splitFor != SoakPlan.defaultSplitFor { a += ["--split-for", fmt(splitFor)] }
        }
        a += keyArguments
        a += ["--seed", "\(seed)"]
        return a.joined(separator: " ")
    }
}

/// The seeded fault schedule. Each kind of fault has its own random stream, so turning one
/// kind on or off leaves the others' times unchanged. Times are fixed in advance; which
/// process or member a fault hits is drawn from the same stream when it happens (it depends
/// on who is alive then, which real networks do not make deterministic).
struct FaultSchedule {
    enum Kind: String, CaseIterable { case kill, restart, leave, rejoin, partition, heal }

    struct Event {
        var at: Double
        var kind: Kind
        /// Restart: the process; rejoin: the member.
        var target: Int?
    }

    private(set) var events: [Event] = []
    var random: [Kind: SimRandom] = [:]

    init(_ plan: SoakPlan) {
        for (i, k) in Kind.allCases.enumerated() { random[k] = SimRandom(seed: plan.seed, stream: UInt64(i + 1)) }
        periodic(.kill, every: plan.killEvery, until: plan.faultEnd)
        periodic(.leave, every: plan.leaveEvery, until: plan.faultEnd)
        periodic(.partition, every: plan.partitionEvery, until: plan.faultEnd)
        if plan.split != nil { add(Event(at: plan.splitAt, kind: .partition)) }
    }

    /// Ticks at gaps drawn uniformly in [0.5, 1.5] × `every`, starting after one gap.
    private mutating func periodic(_ kind: Kind, every: Double?, until end: Double) {
        guard let every, every > 0 else { return }
        var t = 0.0
        while true {
            t += every * (0.5 + draw(kind))
            if t >= end { break }
            events.append(Event(at: t, kind: kind))
        }
        events.sort { $0.at < $1.at }
    }

    /// A uniform draw in [0, 1) from `kind`'s stream.
    mutating func draw(_ kind: Kind) -> Double {
        var r = random[kind] ?? SimRandom(seed: 0)
        let d = r.double()
        random[kind] = r
        return d
    }

    mutating func pick<T>(_ kind: Kind, _ from: [T]) -> T? {
        guard !from.isEmpty else { return nil }
        return from[min(from.count - 1, Int(draw(kind) * Double(from.count)))]
    }

    /// Adds a follow-up (restart after a kill, rejoin after a leave, heal after a partition).
    mutating func add(_ e: Event) {
        let i = events.firstIndex { $0.at > e.at } ?? events.count
        events.insert(e, at: i)
    }

    /// Removes and returns the events due at `now`.
    mutating func due(_ now: Double) -> [Event] {
        let n = events.prefix { $0.at <= now }.count
        let out = Array(events.prefix(n))
        events.removeFirst(n)
        return out
    }

    mutating func removeAll() { events.removeAll() }
}
