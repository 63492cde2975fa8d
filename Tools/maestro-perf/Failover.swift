import ArgumentParser
import Foundation
import ToolSupport

/// `maestro-perf failover`: kill -9 one member process; time until every survivor has
/// installed a view without it.
struct Failover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time from kill -9 of a member process to the survivors' new view.",
        discussion: """
            Starts a rendezvous and --members member processes (maestro-soak member), waits for \
            one view, lets them cast under --load for --load-seconds while counting views that \
            should not happen (false suspicions), then kills one with SIGKILL and reports the \
            time until each survivor installs the view without it (the slowest is the headline).
            """)

    @Option(help: "Member processes.")
    var members = 4

    @Option(help: "Casts per second per member while waiting and after the kill.")
    var load = 0.0

    @Option(help: "Seconds of load before the kill (false suspicions show up as extra views).")
    var loadSeconds = 1.0

    @Option(help: "Which member to kill: member (the last rank) or coordinator (rank 0).")
    var kill = "member"

    @Option(help: "Rounds; the median is reported.")
    var rounds = 1

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard members >= 2 else { throw ValidationError("--members must be at least 2") }
        guard ["member", "coordinator"].contains(kill) else { throw ValidationError("--kill must be member or coordinator") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be positive") }
    }

    func run() throws {
        common.log.bootstrap()
        let progress = Progress()
        var results: [(slowest: Double, fastest: Double, falseViews: Int)] = []
        for round in 1 ... rounds {
            progress.update("round \(round)/\(rounds): starting \(members) member processes")
            let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments)
            try g.startAndForm(members, params: common.params, extra: load > 0 ? ["--cast-rate", String(load)] : [])
            let all = Set(g.addresses)
            // Under load, any further view before the kill is a false suspicion.
            progress.update("round \(round)/\(rounds): \(loadSeconds) s of load")
            var falseViews = 0
            let until = Date().addingTimeInterval(loadSeconds)
            for m in g.members {
                while let _ = m.waitForLine(timeout: max(0, until.timeIntervalSinceNow), { $0.hasPrefix("view ") }) { falseViews += 1 }
            }
            // The rank order is in the last view line; rank 0 is the coordinator.
            let order = g.lastView(0) ?? g.addresses
            let victimAddress = kill == "coordinator" ? order[0] : order[order.count - 1]
            guard let victim = g.addresses.firstIndex(of: victimAddress) else { throw ChildError("cannot find the member to kill") }
            let survivors = all.subtracting([victimAddress])
            progress.update("round \(round)/\(rounds): kill -9 \(victimAddress)")
            let killedAt = Date()
            g.members[victim].kill(SIGKILL)
            var times: [Double] = []
            for i in 0 ..< members where i != victim {
                guard let t = g.waitForView(i, survivors, timeout: 120) else {
                    throw ChildError("survivor \(g.addresses[i]) never installed a view without the killed member")
                }
                times.append(t.timeIntervalSince(killedAt))
            }
            results.append((times.max() ?? 0, times.min() ?? 0, falseViews))
            g.stop()
        }
        progress.finish()
        let sorted = results.sorted { $0.slowest < $1.slowest }
        let median = sorted[sorted.count / 2]
        let falseTotal = results.reduce(0) { $0 + $1.falseViews }
        print(String(format: "failover (%d members, kill %@, load %.0f casts/s/member): slowest survivor %.3f s, fastest %.3f s, false views %d",
                     members, kill, load, median.slowest, median.fastest, falseTotal))
        if rounds > 1 { print("rounds: " + results.map { String(format: "%.3f", $0.slowest) }.joined(separator: " ")) }
        if json {
            print(jsonLine(["benchmark": "failover", "members": members, "params": common.params, "load": load,
                            "seconds": median.slowest, "fastest_seconds": median.fastest, "false_views": falseTotal, "rounds": rounds]))
        }
    }
}

/// `maestro-perf formation`: fresh member processes started together; time until all are in one view.
struct Formation: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time for fresh member processes to find each other and reach one view.")

    @Option(help: "Member processes.")
    var members = 3

    @Option(help: "Rounds; the median is reported.")
    var rounds = 3

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func run() throws {
        common.log.bootstrap()
        let progress = Progress()
        var totals: [Double] = []
        var afterReady: [Double] = []
        for round in 1 ... max(1, rounds) {
            progress.update("round \(round)/\(rounds)")
            let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments)
            let start = Date()
            var procs: [ChildProcess] = []
            for _ in 0 ..< members {
                procs.append(try ChildProcess("maestro-soak", ["member", "--gossip", g.rendezvous, "--group", g.group, "--params", common.params] + common.memberArguments))
            }
            var lastReady = start
            for p in procs {
                guard let (l, t) = p.waitForLineWithTime(timeout: 10, { $0.hasPrefix("ready ") }) else { throw ChildError("a member did not start") }
                g.members.append(p)
                g.addresses.append(String(l.split(separator: " ")[1]))
                g.endpoints.append(String(l.split(separator: " ").dropFirst(2).first ?? ""))
                lastReady = max(lastReady, t)
            }
            let all = Set(g.addresses)
            var done = start
            for i in 0 ..< members {
                guard let t = g.waitForView(i, all, timeout: 60) else { throw ChildError("the members never formed one view") }
                done = max(done, t)
            }
            totals.append(done.timeIntervalSince(start))
            afterReady.append(done.timeIntervalSince(lastReady))
            g.stop()
        }
        progress.finish()
        let total = totals.sorted()[totals.count / 2]
        let after = afterReady.sorted()[afterReady.count / 2]
        print(String(format: "formation of %d processes: %.3f s from spawn (%.3f s after the last one was ready), median of %d",
                     members, total, after, totals.count))
        if json {
            print(jsonLine(["benchmark": "formation", "members": members, "seconds": total, "seconds_after_ready": after]))
        }
    }
}
