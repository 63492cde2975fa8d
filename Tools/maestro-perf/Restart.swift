import ArgumentParser
import Foundation
import ToolSupport

/// `maestro-perf restart`: kill -9 one member process and start it again at once on the same
/// port; time until every process is in one view that includes the new one.
struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time from the restart of a killed member process (same port) to one view with every process.",
        discussion: """
            Starts a rendezvous and --members member processes (`maestro-soak member --maestro`; --bare \
            for bare endpoints), waits for one \
            view of all of them, kills one with SIGKILL and, as soon as it is gone, starts a new \
            process on the same UDP port (a new incarnation at the old address). Reports the time \
            from that restart until every process, the new one included, has installed one view of \
            the survivors and the new incarnation (`seconds`; the old incarnation must be out of \
            it). Default Ensemble parameters unless --params. With --json the last line is one JSON \
            object (`seconds`, `members`, `rounds`...).
            """)

    @OptionGroup var churn: MemberChurnOptions

    func run() throws {
        let (members, params, target, rounds, json) = (churn.members, churn.common.params, churn.target, churn.rounds, churn.json)
        churn.common.log.bootstrap()
        let progress = Progress()
        var results: [(slowest: Double, fastest: Double)] = []
        for round in 1 ... rounds {
            let (g, victim, victimAddress) = try churn.formGroup(progress: progress, round: round)
            progress.update("round \(round)/\(rounds): kill -9 and restart \(victimAddress)")
            g.members[victim].kill(SIGKILL)
            guard g.waitForEnd(victim, timeout: 10) != nil else { throw ChildError("the killed process did not end") }
            let restarted = Date()
            try g.start(params: params, extra: ["--port", g.port(victim)], at: victim)
            guard g.addresses[victim] == victimAddress else {
                throw ChildError("the restarted process is at \(g.addresses[victim]), not \(victimAddress)")
            }
            let expected = Set(g.endpoints)
            let seen = g.waitForEach(Array(g.members.indices), timeout: 180) { _, l in
                ProcessGroup.viewEndpoints(l).map(Set.init) == expected
            }
            guard seen.count == members else {
                throw ChildError("\(members - seen.count) process(es) never installed one view with the restarted one (180 s)")
            }
            let times = seen.values.map { $0.timeIntervalSince(restarted) }
            results.append((times.max() ?? 0, times.min() ?? 0))
            g.stop()
        }
        progress.finish()
        let median = results.sorted { $0.slowest < $1.slowest }[results.count / 2]
        print(String(format: "restart (%d members, kill -9 and restart of the %@ on its port): one view with every process after %.3f s (first process %.3f s)",
                     members, target, median.slowest, median.fastest))
        if rounds > 1 { print("rounds: " + results.map { String(format: "%.3f", $0.slowest) }.joined(separator: " ")) }
        if json {
            print(jsonLine(churn.jsonFields("restart") + [("seconds", median.slowest), ("fastest_seconds", median.fastest),
                                                          ("rounds", rounds)]))
        }
    }
}
