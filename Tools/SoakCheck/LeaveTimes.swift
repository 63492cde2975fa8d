import Ensemble
import Simulation

/// One voluntary leave, timed from the merged logs: from the leaver's `leave` line to the
/// first view without it at every survivor (a member whose view held the leaver then).
public struct LeaveTiming: Sendable {
    public var leaver: Recorder.Member
    /// Seconds into the run.
    public var at: Double
    /// The slowest survivor's time; nil if no survivor had the leaver in its view.
    public var seconds: Double?
    /// Survivors, alive to the end, that never installed a view without the leaver.
    public var stragglers: [Recorder.Member]
}

public enum LeaveTimes {
    public static func measure(_ h: History) -> [LeaveTiming] {
        var killedAt: [Recorder.Member: Int64] = [:]
        for (t, e) in h.soakLog.events { if case let .kill(m, _) = e, killedAt[m] == nil { killedAt[m] = t } }
        let members = h.logs.compactMap { log -> (Recorder.Member, EndpointID, ParsedLog)? in
            guard let m = log.member, let e = log.endpoint else { return nil }
            return (m, e, log)
        }
        var out: [LeaveTiming] = []
        for (leaver, endpoint, log) in members {
            for (t, e) in log.events {
                guard case .leave = e else { continue }
                var worst: Int64?
                var stragglers: [Recorder.Member] = []
                for (s, _, other) in members where s != leaver {
                    let views = other.events.compactMap { ev -> (Int64, ViewState)? in
                        if case let .view(v, _) = ev.event { return (ev.micros, v) } else { return nil }
                    }
                    guard let before = views.last(where: { $0.0 <= t }), before.1.members.contains(endpoint) else { continue }
                    // Out of the group by then (or later, before excluding the leaver): killed, or left itself.
                    let ownLeave = other.events.first { if case .leave = $0.event { true } else { false } }?.micros
                    let gone = [killedAt[s], ownLeave].compactMap { $0 }.min()
                    if let g = gone, g <= t { continue }
                    if let after = views.first(where: { $0.0 > t && !$0.1.members.contains(endpoint) }), gone.map({ after.0 <= $0 }) ?? true {
                        worst = max(worst ?? 0, after.0 - t)
                    } else if gone == nil {
                        stragglers.append(s)
                    }
                }
                out.append(LeaveTiming(leaver: leaver, at: Double(t) / 1e6, seconds: worst.map { Double($0) / 1e6 }, stragglers: stragglers))
            }
        }
        return out.sorted { $0.at < $1.at }
    }

    /// The check: every leave excluded by every survivor within `bound` seconds; its name
    /// carries the worst time.
    public static func check(_ leaves: [LeaveTiming], bound: Double) -> CheckResult {
        let times = leaves.compactMap(\.seconds)
        let name = times.isEmpty ? "leave bound (no leave was timed)"
            : "leave bound (worst \(String(format: "%.3f", times.max() ?? 0)) s over \(times.count), bound \(fmt(bound)) s)"
        var details: [String] = []
        for l in leaves {
            if let s = l.seconds, s > bound {
                details.append(String(format: "%@ left at %.1f s; the last survivor excluded it %.3f s later (bound %@ s)", "\(l.leaver)", l.at, s, fmt(bound)))
            }
            for s in l.stragglers {
                details.append(String(format: "%@ left at %.1f s; %@ never installed a view without it", "\(l.leaver)", l.at, "\(s)"))
            }
        }
        return CheckResult(name: name, details: details)
    }
}
