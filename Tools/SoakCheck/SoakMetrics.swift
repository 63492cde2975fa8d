import Ensemble
import Foundation
import Simulation

/// What a soak run measured, from the merged logs.
public struct SoakMetrics {
    public var casts = 0
    public var sends = 0
    public var deliveries = 0
    public var viewsInstalled = 0
    public var distinctViews = 0
    public var transfers = 0
    public var transferSeconds: [Double] = []
    /// Per kill: from the kill until every survivor installed a view without the victim.
    public var failoverSeconds: [Double] = []
    public var sendsMovedUp = 0
    /// The longest a member stayed blocked (first block in a view until its next view), in
    /// seconds, with the member and when it began: the worst unavailability of the run.
    public var longestBlocked: (seconds: Double, member: String, at: Double)?

    public init(_ h: History) {
        sendsMovedUp = h.sendsMovedUp
        var ids: Set<ViewID> = []
        for log in h.logs {
            var xferSince: Int64?
            var blockedSince: Int64?
            for (t, e) in log.events {
                switch e {
                case .block: if blockedSince == nil { blockedSince = t }
                case let .sent(kind, _, _, _, _): if kind == .cast { casts += 1 } else { sends += 1 }
                case .received: deliveries += 1
                case let .view(v, _):
                    viewsInstalled += 1
                    ids.insert(v.id)
                    if let s = blockedSince, Double(t - s) / 1e6 > longestBlocked?.seconds ?? 0 {
                        longestBlocked = (Double(t - s) / 1e6, log.member.map { "\($0)" } ?? "?", Double(s) / 1e6)
                    }
                    blockedSince = nil
                case .xferStart: if xferSince == nil { xferSince = t }
                case .xferGot:
                    transfers += 1
                    if let s = xferSince { transferSeconds.append(Double(t - s) / 1e6) }
                    xferSince = nil
                default: break
                }
            }
        }
        distinctViews = ids.count
        failoverSeconds = SoakMetrics.failovers(h)
    }

    /// Kills of one process are logged together; every member that had a victim in its view
    /// and lived on must install a view without any of them.
    private static func failovers(_ h: History) -> [Double] {
        let soak = h.soakLog
        var groups: [(t: Int64, victims: Set<EndpointID>)] = []
        for (t, e) in soak.events {
            guard case let .kill(m, reason) = e, reason == "killed",
                  let ep = h.recorder.endpoints.first(where: { $0.value == m })?.key else { continue }
            if let last = groups.last, t - last.t < 10_000 { groups[groups.count - 1].victims.insert(ep) } else { groups.append((t, [ep])) }
        }
        var out: [Double] = []
        for g in groups {
            var worst: Int64?
            for log in h.logs where log.member != nil {
                guard let me = log.endpoint, !g.victims.contains(me) else { continue }
                let views = log.events.compactMap { e -> (Int64, ViewState)? in
                    if case let .view(v, _) = e.event { return (e.micros, v) } else { return nil }
                }
                guard let before = views.last(where: { $0.0 <= g.t }), !g.victims.isDisjoint(with: before.1.members),
                      let after = views.first(where: { $0.0 > g.t && g.victims.isDisjoint(with: $0.1.members) }) else { continue }
                worst = max(worst ?? 0, after.0 - g.t)
            }
            if let w = worst { out.append(Double(w) / 1e6) }
        }
        return out
    }
}

public func median(_ xs: [Double]) -> Double? {
    guard !xs.isEmpty else { return nil }
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
