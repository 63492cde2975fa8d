import ArgumentParser
import Foundation
import ToolSupport

/// `maestro-perf leave`: SIGTERM to one member process (it leaves cleanly); time until every
/// survivor has installed the view without it.
struct Leave: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time from SIGTERM of a member process (a clean leave) to the survivors' view without it.",
        discussion: """
            Starts a rendezvous and --members member processes (`maestro-soak member --maestro`: Maestro \
            GroupMembers under Runtime.start(), whose SIGTERM handling is the runtime's; --bare for \
            bare endpoints), waits for one \
            view of all of them, sends SIGTERM to one (it leaves the group, then exits) and reports \
            the time until every survivor has installed a view without it (`seconds`, the slowest \
            survivor), and how long the leaver took to exit. Default Ensemble parameters unless \
            --params. With --json the last line is one JSON object (`seconds`, `members`, `rounds`...).
            """)

    @OptionGroup var churn: MemberChurnOptions

    func run() throws {
        let (members, target, rounds, json) = (churn.members, churn.target, churn.rounds, churn.json)
        churn.common.log.bootstrap()
        let progress = Progress()
        var results: [(slowest: Double, fastest: Double, exit: Double, status: Int32)] = []
        for round in 1 ... rounds {
            let (g, leaver, leaverAddress) = try churn.formGroup(progress: progress, round: round)
            let survivors = Set(g.addresses).subtracting([leaverAddress])
            let others = g.members.indices.filter { $0 != leaver }
            progress.update("round \(round)/\(rounds): SIGTERM to \(leaverAddress)")
            let signalled = Date()
            g.members[leaver].kill(SIGTERM)
            var ended: Date?
            let seen = g.waitForEach(others, timeout: 120, poll: {
                if ended == nil && !g.members[leaver].isRunning { ended = Date() }
            }) { _, l in ProcessGroup.view(l).map(Set.init) == survivors }
            guard seen.count == others.count else {
                throw ChildError("\(others.count - seen.count) survivor(s) never installed a view without the member that left (120 s)")
            }
            if ended == nil { ended = g.waitForEnd(leaver, timeout: 30) }
            let status = ended == nil ? -1 : g.members[leaver].process.terminationStatus
            let times = seen.values.map { $0.timeIntervalSince(signalled) }
            results.append((times.max() ?? 0, times.min() ?? 0, ended.map { $0.timeIntervalSince(signalled) } ?? .nan, status))
            g.stop()
        }
        progress.finish()
        let median = results.sorted { $0.slowest < $1.slowest }[results.count / 2]
        let exitNote = median.exit.isNaN ? "the leaver had not exited after 30 s" : String(format: "the leaver exited after %.3f s (status %d)", median.exit, median.status)
        print(String(format: "leave (%d members, SIGTERM to the %@): slowest survivor %.3f s, fastest %.3f s; %@",
                     members, target, median.slowest, median.fastest, exitNote))
        if rounds > 1 { print("rounds: " + results.map { String(format: "%.3f", $0.slowest) }.joined(separator: " ")) }
        if json {
            print(jsonLine(churn.jsonFields("leave") + [("seconds", median.slowest), ("fastest_seconds", median.fastest),
                                                        ("leaver_exit_seconds", median.exit), ("leaver_exit_status", Int(median.status)),
                                                        ("rounds", rounds)]))
        }
    }
}
