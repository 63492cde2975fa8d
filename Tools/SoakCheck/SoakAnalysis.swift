import Foundation
import Simulation

/// A finished run's logs read, merged and checked: `soak.log` and the member logs
/// (`mP.I.log`) through `LogReader`, `History`, `LeaveTimes`, `SoakChecks` and `SoakMetrics`.
/// A member log may end mid-line only if `soak.log` says its member was killed; a member
/// log with events but no start line is a problem and stays out of the history.
public struct SoakAnalysis {
    public let history: History
    public let checks: [CheckResult]
    public let leaves: [LeaveTiming]
    /// With the Primary layer: each partition in soak.log, timed (see `PrimarySplits`).
    public let splits: [SplitTiming]
    public let metrics: SoakMetrics
    /// What the logs' reading found wrong (the "logs well-formed" check's details).
    public let problems: [String]

    /// The logs in a run's log directory.
    public init(logDir: String, facts: RunFacts) {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: logDir)) ?? [])
            .filter { $0.hasPrefix("m") && $0.hasSuffix(".log") }
        self.init(soakLog: { $0.read("\(logDir)/soak.log", killed: false) }, memberFiles: files, facts: facts) {
            $0.read("\(logDir)/\($1)", killed: $2)
        }
    }

    /// Logs given as text: `memberLogs` maps file names (`mP.I.log`) to their contents.
    public init(soakLog: String, memberLogs: [String: String], facts: RunFacts) {
        self.init(soakLog: { $0.parse(soakLog, file: "soak.log", killed: false) }, memberFiles: Array(memberLogs.keys), facts: facts) {
            $0.parse(memberLogs[$1] ?? "", file: $1, killed: $2)
        }
    }

    private init(soakLog readSoakLog: (inout LogReader) -> ParsedLog, memberFiles: [String], facts: RunFacts,
                 readMember: (inout LogReader, String, Bool) -> ParsedLog) {
        var reader = LogReader()
        let soakLog = readSoakLog(&reader)
        var killed: Set<String> = []
        for (_, e) in soakLog.events { if case let .kill(m, _) = e { killed.insert("m\(m.process).\(m.incarnation).log") } }
        let logs = memberFiles.sorted().map { readMember(&reader, $0, killed.contains($0)) }
        var problems = reader.problems
        for l in logs where l.member == nil && !l.events.isEmpty { problems.append("\(l.file): no start line") }
        history = History(memberLogs: logs.filter { $0.member != nil }, soakLog: soakLog)
        leaves = LeaveTimes.measure(history)
        // (Clean leaves lower the expected membership: without a split scenario, partitions
        // are only checked in runs without leaves.)
        splits = facts.primaryExpected != nil && (facts.splitScenario || leaves.isEmpty) ? PrimarySplits.measure(history, facts: facts) : []
        checks = SoakChecks.run(history, parseProblems: problems, facts: facts, leaves: leaves, splits: splits)
        metrics = SoakMetrics(history)
        self.problems = problems
    }
}
