import Foundation
import Simulation
import SoakCheck
import ToolSupport

/// Reads the logs of a finished run, runs the checks and prints the summary. The last line
/// is always `N passed, N failed`.
struct SoakReport {
    let plan: SoakPlan
    let outcome: RunOutcome
    let checks: [CheckResult]
    let metrics: SoakMetrics
    let leaves: [LeaveTiming]
    let splits: [SplitTiming]

    var failed: Int { checks.filter { !$0.passed }.count }
    var passed: Int { checks.count - failed }

    init(plan: SoakPlan, outcome: RunOutcome) {
        self.plan = plan
        self.outcome = outcome
        let analysis = SoakAnalysis(logDir: outcome.logDir, facts: outcome.facts)
        leaves = analysis.leaves
        splits = analysis.splits
        checks = analysis.checks
        metrics = analysis.metrics
    }

    func print(json: Bool) {
        let m = metrics
        let o = outcome
        let f = o.facts
        out("")
        out("summary")
        let conv = f.convergedAt.map { String(format: "converged %.1f s after the faults stopped", $0 - f.quietAt) } ?? "never converged"
        out(String(format: "  ran %.1f s; faults until %.1f s; %@ (bound %.1f s)", o.duration, f.quietAt, conv, f.convergenceBound))
        out(String(format: "  messages: %d casts and %d sends sent, %d delivered (%.0f/s)", m.casts, m.sends, m.deliveries,
                   Double(m.deliveries) / max(o.duration, 0.001)))
        out("  views: \(m.viewsInstalled) installed, \(m.distinctViews) distinct")
        let kinds = FaultSchedule.Kind.allCases
        let inj = kinds.compactMap { k in o.injected[k].map { "\(k.rawValue) \($0)" } }.joined(separator: ", ")
        out("  faults injected: \(inj.isEmpty ? "none" : inj)")
        let sk = kinds.compactMap { k in o.skipped[k].map { "\(k.rawValue) \($0)" } }.joined(separator: ", ")
        if !sk.isEmpty { out("  faults skipped (none was safe for the replicated state, or too few members): \(sk)") }
        if plan.loss > 0 || plan.partitionEvery != nil { out("  datagrams dropped by the fault hooks: \(o.stats.drops)") }
        let md = o.stats.memberDrops.fields
        out("  dropped by the members: " + md.map { "\($0.name) \($0.count)" }.joined(separator: ", "))
        if o.stats.queued > 0 { out("  messages queued by Maestro (full window): \(o.stats.queued)") }
        out("  state transfers: \(m.transfers)" + (m.transferSeconds.isEmpty ? "" : " (from request to installed state: \(stats(m.transferSeconds)))"))
        if !m.failoverSeconds.isEmpty { out("  failover after kill -9, until every survivor installed a view without the victim: \(stats(m.failoverSeconds))") }
        let leaveSeconds = leaves.compactMap(\.seconds)
        if !leaveSeconds.isEmpty { out("  leave, until every survivor installed a view without the leaver: \(stats(leaveSeconds)) (bound \(fmt(plan.leaveBound)) s)") }
        for sp in splits where f.splitScenario {
            func t(_ d: Double?) -> String { d.map { String(format: "%.2f s", $0) } ?? "never" }
            out(String(format: "  split %@ at %.1f s, healed at %@ (log clock, from before the nodes started): majority primary after %@; primary again %@ after the heal; %d state transfers after the heal (%d from the majority)",
                       sp.sizes.map(String.init).joined(separator: "+"), sp.at, sp.healedAt.map { String(format: "%.1f s", $0) } ?? "never",
                       t(sp.majorityPrimaryAfter), t(sp.primaryAfterHeal), sp.transfersAfterHeal, sp.transfersFromMajority))
        }
        if let b = m.longestBlocked {
            out(String(format: "  longest blocked (block to next view): %.2f s, %@ from %.1f s", b.seconds, b.member, b.at))
        }
        if m.sendsMovedUp > 0 { out("  sends logged after a delivery of them (clock reads microseconds apart; reordered): \(m.sendsMovedUp)") }
        if failed == 0 && plan.logDir == nil && !plan.keepLogs {
            out("  logs: removed (the run passed; --keep-logs keeps them)")
        } else {
            out("  logs: \(o.logDir)")
        }
        out("")
        out("checks")
        for c in checks {
            out("  \(c.passed ? "PASS" : "FAIL") \(c.name)")
            for d in c.details.prefix(8) { out("       \(d)") }
            if c.details.count > 8 { out("       ... and \(c.details.count - 8) more") }
        }
        if failed > 0 { out("replay the same fault schedule: \(plan.replayCommand)") }
        if json {
            let fields: KeyValuePairs<String, Any> = [
                "passed": passed, "failed": failed, "seed": plan.seed, "processes": plan.processes,
                "members_per_process": plan.membersPerProcess, "seconds": o.duration, "faults_until": f.quietAt,
                "converged_after": f.convergedAt.map { $0 - f.quietAt } ?? Double.nan, "convergence_bound": f.convergenceBound,
                "casts": m.casts, "sends": m.sends, "deliveries": m.deliveries, "views_installed": m.viewsInstalled,
                "distinct_views": m.distinctViews, "kills": o.injected[.kill] ?? 0, "restarts": o.injected[.restart] ?? 0,
                "leaves": o.injected[.leave] ?? 0, "rejoins": o.injected[.rejoin] ?? 0, "partitions": o.injected[.partition] ?? 0,
                "heals": o.injected[.heal] ?? 0, "datagrams_dropped": o.stats.drops, "state_transfers": m.transfers,
                "transfer_s_max": m.transferSeconds.max() ?? Double.nan, "failover_s_median": median(m.failoverSeconds) ?? Double.nan,
                "failover_s_max": m.failoverSeconds.max() ?? Double.nan, "longest_blocked_s": m.longestBlocked?.seconds ?? 0,
                "leave_s_max": leaveSeconds.max() ?? Double.nan, "leave_bound": plan.leaveBound, "leaves_timed": leaveSeconds.count,
                "total_order": f.totalOrder, "primary_expected": f.primaryExpected ?? 0,
                "split_majority_primary_s": splits.first?.majorityPrimaryAfter ?? Double.nan,
                "split_primary_after_heal_s": splits.first?.primaryAfterHeal ?? Double.nan,
                "split_transfers_after_heal": splits.first?.transfersAfterHeal ?? 0,
                "failed_checks": checks.filter { !$0.passed }.map(\.name).joined(separator: ","), "logs": o.logDir,
            ]
            out(jsonLine(fields.map { ($0.key, $0.value) } + md.map { ("member_drops_" + $0.name, $0.count as Any) }))
        }
        out("\(passed) passed, \(failed) failed")
    }

    private func stats(_ xs: [Double]) -> String {
        guard let md = median(xs), let mx = xs.max() else { return "" }
        return String(format: "median %.2f s, max %.2f s over %d", md, mx, xs.count)
    }

    private func out(_ s: String) {
        Swift.print(s)
        fflush(nil)
    }
}
