import Ensemble
import Foundation
import Simulation

/// One check of the soak: a name, whether it passed, and what went wrong.
public struct CheckResult: Sendable {
    public var name: String
    public var details: [String]
    public var passed: Bool { details.isEmpty }
}

/// What the orchestrator saw, for the checks that are not in the logs.
public struct RunFacts: Sendable {
    public var live: Set<Recorder.Member>
    public var unexpectedExits: [String]
    public var stopProblems: [String]
    public var nodeErrors: [String]
    public var quietAt: Double
    public var convergedAt: Double?
    public var convergenceBound: Double
    /// --leave-bound: the longest from a leave to its exclusion by every survivor.
    public var leaveBound: Double
    /// The members' stack orders the casts of each view totally (Seqbb): one order, and every
    /// member delivers its own casts.
    public var totalOrder = false
    /// The members deliver their own casts (Local, or total order).
    public var selfDelivery = false
    /// The stack has the Primary layer, with this expected membership (`primary_expected`).
    public var primaryExpected: Int?
    /// Members per process (a member's index in the history is process × K + slot; the
    /// partitions in soak.log give each process's side).
    public var membersPerProcess = 1
    /// The run is a split (--split): beyond the minority never being primary, the majority
    /// side must become primary during each partition, every live member must be in a primary
    /// view again after the heal, and the minority side must take its state from the majority.
    public var splitScenario = false

    public init(live: Set<Recorder.Member>, unexpectedExits: [String], stopProblems: [String], nodeErrors: [String],
                quietAt: Double, convergedAt: Double?, convergenceBound: Double, leaveBound: Double) {
        self.live = live
        self.unexpectedExits = unexpectedExits
        self.stopProblems = stopProblems
        self.nodeErrors = nodeErrors
        self.quietAt = quietAt
        self.convergedAt = convergedAt
        self.convergenceBound = convergenceBound
        self.leaveBound = leaveBound
    }
}

/// The soak's checks: the simulation checkers' guarantees on the merged history, plus the
/// replicated-state, transfer, crash and liveness-bound checks of a real run.
public enum SoakChecks {
    /// The properties the simulation checkers report, each one check (even when it holds).
    public static let propertyNames = [
        "integrity", "no duplicates", "no self-delivery", "FIFO casts", "FIFO sends", "sending-view delivery",
        "reliable delivery", "view self-inclusion", "monotonic views", "view agreement", "block discipline",
        "virtual synchrony", "send synchrony", "merge correctness", "leave", "liveness",
    ]

    /// Those of a run with total order (`total order`) and the Primary layer
    /// (`PrimaryChecker`'s three) too.
    public static func propertyNames(_ facts: RunFacts) -> [String] {
        var names = propertyNames
        if facts.totalOrder { names.insert("total order", at: names.firstIndex(of: "FIFO sends").map { $0 + 1 } ?? names.count) }
        if facts.primaryExpected != nil { names += ["minority knows it", "one primary at a time", "primary quorum"] }
        return names
    }

    public static func run(_ history: History, parseProblems: [String], facts: RunFacts, leaves: [LeaveTiming],
                           splits: [SplitTiming] = []) -> [CheckResult] {
        var results: [CheckResult] = []
        results.append(CheckResult(name: "logs well-formed", details: parseProblems))

        var violations = PropertyChecker(localDelivery: facts.selfDelivery, totalOrder: facts.totalOrder)
            .check(history.recorder, live: facts.live, expectComplete: true)
            + ViewChecker(selfDelivery: facts.selfDelivery).check(history.recorder, live: facts.live)
        if let n = facts.primaryExpected { violations += PrimaryChecker(configured: n).check(history.recorder) }
        var byProperty: [String: [String]] = [:]
        for v in violations { byProperty[v.property, default: []].append(v.detail) }
        if facts.live.isEmpty { byProperty["liveness", default: []].append("no member was alive and in the group at the end") }
        let names = propertyNames(facts)
        for name in names { results.append(CheckResult(name: name, details: byProperty[name] ?? [])) }
        for (name, details) in byProperty.sorted(by: { $0.key < $1.key }) where !names.contains(name) {
            results.append(CheckResult(name: name, details: details))
        }

        results.append(replicatedState(history, live: facts.live))
        results.append(stateTransfers(history))
        if facts.primaryExpected != nil {
            results.append(castsInPrimary(history))
            if facts.splitScenario || !splits.isEmpty { results.append(PrimarySplits.check(splits, facts: facts)) }
        }
        results.append(CheckResult(name: "no unexpected crash", details: facts.unexpectedExits + facts.stopProblems))
        var anomalies = facts.nodeErrors
        for log in history.logs {
            for (_, e) in log.events { if case let .anomaly(text) = e { anomalies.append("\(log.member.map(String.init(describing:)) ?? log.file): \(text)") } }
        }
        results.append(CheckResult(name: "no member anomalies", details: anomalies))
        var bound: [String] = []
        if let c = facts.convergedAt {
            if c - facts.quietAt > facts.convergenceBound {
                bound.append(String(format: "the group converged %.1f s after the faults stopped; the bound is %.1f s", c - facts.quietAt, facts.convergenceBound))
            }
        } else {
            bound.append(String(format: "the live members were not in one view of all of them, all servers, %.1f s after the faults stopped", facts.convergenceBound))
        }
        results.append(CheckResult(name: "liveness bound", details: bound))
        results.append(LeaveTimes.check(leaves, bound: facts.leaveBound))
        return results
    }

    /// The servers of every final view hold the same state; every live member reported one.
    static func replicatedState(_ history: History, live: Set<Recorder.Member>) -> CheckResult {
        var details: [String] = []
        var byView: [String: [(Recorder.Member, String)]] = [:]
        var reported: Set<Recorder.Member> = []
        for log in history.logs {
            guard let m = log.member else { continue }
            for (_, e) in log.events {
                guard case let .final(count, sum, digest, view) = e else { continue }
                reported.insert(m)
                byView[view.map(LogCodec.viewID) ?? "none", default: []].append((m, "\(count) casts, sum \(sum), digest \(digest)"))
            }
        }
        for m in live.sorted() where !reported.contains(m) { details.append("\(m) is live but reported no final state") }
        for (view, states) in byView.sorted(by: { $0.key < $1.key }) where Set(states.map(\.1)).count > 1 {
            let list = states.sorted { $0.0 < $1.0 }.map { "\($0.0): \($0.1)" }.joined(separator: "; ")
            details.append("the servers of final view \(view) differ: \(list)")
        }
        return CheckResult(name: "replicated state", details: details)
    }

    /// With the Primary layer: every cast (an update) was sent in a view its sender had been
    /// told is primary (`primary VIEWID 1`; the flag stays until the next view).
    static func castsInPrimary(_ history: History) -> CheckResult {
        var details: [String] = []
        for log in history.logs {
            guard let m = log.member else { continue }
            var confirmed: Set<ViewID> = []
            for (t, e) in log.events {
                switch e {
                case let .primary(id, true): confirmed.insert(id)
                case let .sent(.cast, id, seq, _, _) where !confirmed.contains(id):
                    details.append(String(format: "%@ cast #%llu at %.3f s in view %@, which it was not told is primary",
                                          "\(m)", seq, Double(t) / 1e6, LogCodec.viewID(id)))
                default: break
                }
            }
        }
        return CheckResult(name: "updates only in the primary", details: details)
    }

    /// Every state a joiner installed is the state its provider sent (same digest), intact.
    static func stateTransfers(_ history: History) -> CheckResult {
        var details: [String] = []
        var provided: [String: String] = [:]  // "provider joiner xfer" -> digest
        for log in history.logs {
            guard let me = log.endpoint else { continue }
            for (_, e) in log.events {
                if case let .xferProvide(joiner, x, digest, _) = e { provided["\(me) \(joiner) \(x)"] = digest }
            }
        }
        for log in history.logs {
            guard let me = log.endpoint else { continue }
            let who = log.member.map(String.init(describing:)) ?? log.file
            for (_, e) in log.events {
                guard case let .xferGot(provider, x, claimed, computed, _) = e else { continue }
                let from = history.recorder.member(of: provider).map(String.init(describing:)) ?? provider.description
                if claimed != computed {
                    details.append("\(who) installed a state from \(from) (transfer \(x)) whose digest is \(computed), not the \(claimed) sent")
                }
                if let sent = provided["\(provider) \(me) \(x)"] {
                    if sent != claimed { details.append("\(who) got digest \(claimed) from \(from) (transfer \(x)), which logged \(sent)") }
                } else {
                    details.append("\(who) got a state from \(from) (transfer \(x)) that \(from) never logged sending")
                }
            }
        }
        return CheckResult(name: "state transfer", details: details)
    }
}
