import Ensemble

/// Checks the guarantees of reference §7.2 about membership decisions and recovery that the
/// view checker does not: coordinator determinism (4), failure monotonicity (15), merge
/// correctness in full (16: every member comes from a view the new one names, in the order
/// the constituent views give), the rest of leave (17: a leaver's casts are all delivered
/// before the view without it, once its Leave reached the group), and two recovery properties of this implementation: no ghost
/// (a member listed in an installed view that never installs it is failed by the others
/// within `ghostBound` of the view's first installation) and no live member blocked at the
/// end of the run. Guarantees 4 and 15 need the membership notes of the members' endpoints
/// (`Recorder.Entry.membership`); without them those two are not checked.
public struct MembershipChecker {
    public typealias Member = Recorder.Member

    /// How long a listed member may stay away from a view before the others fail it.
    public var ghostBound: Time
    /// When the run ended: ghosts younger than the bound at the end are not judged.
    public var endTime: Time

    public init(ghostBound: Time, endTime: Time) {
        self.ghostBound = ghostBound
        self.endTime = endTime
    }

    struct Install {
        var view: ViewState
        var at: Time
    }

    public func check(_ rec: Recorder, live: Set<Member>) -> [Violation] {
        var violations: [Violation] = []
        func fail(_ p: String, _ d: String) { violations.append(Violation(property: p, detail: d)) }
        func name(_ e: EndpointID) -> String { rec.member(of: e).map { "\($0)" } ?? "\(e)" }

        var viewsByID: [ViewID: ViewState] = [:]
        var installs: [Member: [Install]] = [:]
        var installers: [ViewID: [Member: Time]] = [:]
        var gone: [Member: Time] = [:]            // crashed or exited
        var lastBlock: [Member: (ViewID, Time)] = [:]
        var accepted: [Member: [ViewID: [(RankSet, Time)]]] = [:]
        var issued: [(Member, MembershipNote)] = []
        var leaveAckers: [[AnyHashable]: Set<Member>] = [:]  // [view, leaver rank]: who delivered its Leave
        var castsSent: [[AnyHashable]: Int] = [:]            // [view, origin]
        var castsDelivered: [[AnyHashable]: Int] = [:]       // [receiver, view, origin]

        for (entry, t) in zip(rec.entries, rec.times) {
            switch entry {
            case let .installed(m, v):
                viewsByID[v.id] = viewsByID[v.id] ?? v
                installs[m, default: []].append(Install(view: v, at: t))
                if installers[v.id]?[m] == nil { installers[v.id, default: [:]][m] = t }
                lastBlock[m] = nil
            case let .blocked(m, id):
                if lastBlock[m] == nil { lastBlock[m] = (id, t) }
            case let .crashed(m), let .left(m):
                if gone[m] == nil { gone[m] = t }
            case let .membership(m, note):
                switch note {
                case let .acceptedFail(view, failed): accepted[m, default: [:]][view, default: []].append((failed, t))
                case .issuedFail, .issuedView: issued.append((m, note))
                case let .acknowledgedLeave(view, rank): leaveAckers[[view, rank], default: []].insert(m)
                }
            case let .sent(s) where s.kind == .cast:
                castsSent[[s.view, s.origin], default: 0] += 1
            case let .delivered(d) where d.kind == .cast:
                if let msg = d.message {
                    castsDelivered[[d.receiver, d.view, Member(process: msg.origin, incarnation: msg.incarnation)], default: 0] += 1
                }
            default:
                break
            }
        }

        // 4. Only the view's coordinator, or a member every lower rank of which it has
        // failed, issues Fail and View.
        for (m, note) in issued {
            switch note {
            case let .issuedFail(vid, r, failed):
                guard let v = viewsByID[vid] else { continue }
                if r >= v.count || rec.member(of: v.members[r]) != m {
                    fail("coordinator determinism", "\(m) issued a Fail in view \(vid.ltime) as rank \(r), which is not its rank")
                } else if r > 0 && !RankSet(0 ..< r).isSubset(of: failed) {
                    fail("coordinator determinism", "\(m), rank \(r) of view \(vid.ltime), issued Fail \(failed) without failing every lower rank")
                }
            case let .issuedView(vid, r, next):
                guard let v = viewsByID[vid] else { continue }
                if r >= v.count || rec.member(of: v.members[r]) != m {
                    fail("coordinator determinism", "\(m) issued view \(next.ltime) in view \(vid.ltime) as rank \(r), which is not its rank")
                } else if let lower = v.members.prefix(r).first(where: { next.members.contains($0) }) {
                    fail("coordinator determinism", "\(m), rank \(r) of view \(vid.ltime), issued view \(next.ltime) that keeps lower-ranked \(name(lower))")
                }
            case .acceptedFail, .acknowledgedLeave:
                break
            }
        }

        /// The view `m` installed right after `v`.
        func nextView(of m: Member, after v: ViewID) -> ViewID? {
            guard let list = installs[m], let k = list.firstIndex(where: { $0.view.id == v }), k + 1 < list.count else { return nil }
            return list[k + 1].view.id
        }

        for (m, list) in installs {
            for (k, cur) in list.enumerated() {
                let next = k + 1 < list.count ? list[k + 1].view : nil
                let moved = k + 1 < list.count ? list[k + 1].at : Time.never
                // 15. Within a view (until the member moves on; an old stack lingers only to
                // serve retransmissions) the failures a member knows only grow, and none of
                // them is in its next view.
                if let fails = accepted[m]?[cur.view.id]?.filter({ $0.1 <= moved }) {
                    for (a, b) in zip(fails, fails.dropFirst()) where !a.0.isSubset(of: b.0) {
                        fail("failure monotonicity", "\(m) accepted Fail \(b.0) after \(a.0) in view \(cur.view.ltime)")
                    }
                    if let next, let last = fails.last?.0 {
                        for r in last where r < cur.view.count && next.members.contains(cur.view.members[r]) {
                            fail("failure monotonicity", "\(m) took \(name(cur.view.members[r])) as failed in view \(cur.view.ltime), yet installed view \(next.ltime) with it")
                        }
                    }
                }
                // 16. The next view names this one among the views it was formed from.
                if let next, !next.previousIDs.contains(cur.view.id) {
                    fail("merge correctness", "\(m) went from view \(cur.view.ltime) to view \(next.ltime), which was not formed from it")
                }
                // 17. A leaver whose Leave a member delivered had every one of its casts
                // delivered, by every member moving on with that one, before the view that
                // excludes it.
                if let next {
                    for (r, e) in cur.view.members.enumerated() where !next.members.contains(e) {
                        guard let ackers = leaveAckers[[cur.view.id, r]],
                              ackers.contains(where: { a in nextView(of: a, after: cur.view.id) == next.id }),
                              let leaver = rec.member(of: e), leaver != m else { continue }
                        let sent = castsSent[[cur.view.id, leaver]] ?? 0
                        let got = castsDelivered[[m, cur.view.id, leaver]] ?? 0
                        if got < sent {
                            fail("leave", "\(m) delivered \(got) of the \(sent) casts \(leaver) made in view \(cur.view.ltime) before leaving, yet installed view \(next.ltime) without it")
                        }
                    }
                }
            }
        }

        // 16. Members in the order of the constituent views: each one's survivors, in turn.
        for v in viewsByID.values {
            let parts = v.previousIDs.compactMap { viewsByID[$0] }
            guard parts.count == v.previousIDs.count, !parts.isEmpty else { continue }
            let expected = parts.flatMap { p in p.members.filter { v.members.contains($0) } }
            if expected != v.members {
                fail("merge correctness", "view \(v.ltime) lists \(v.members.map(name)), not its constituent views' members in order (\(expected.map(name)))")
            }
        }

        // No ghosts: a listed member that never installs the view is failed in time.
        for (vid, who) in installers {
            guard let v = viewsByID[vid], let t0 = who.values.min() else { continue }
            let deadline = t0 + ghostBound
            if deadline > endTime { continue }
            for (rank, e) in v.members.enumerated() {
                guard let g = rec.member(of: e), who[g] == nil else { continue }
                // Resolved once an installer takes it as failed, or moves to a view without it.
                var resolved = false
                var someoneStayed = false
                for (q, _) in who {
                    if let fails = accepted[q]?[vid], fails.contains(where: { $0.0.contains(rank) && $0.1 <= deadline }) {
                        resolved = true
                        break
                    }
                    let later = installs[q]?.first { $0.at >= (who[q] ?? t0) && $0.view.id != vid && $0.view.ltime > v.ltime }
                    if let later, later.at <= deadline, !later.view.members.contains(e) {
                        resolved = true
                        break
                    }
                    if (gone[q] ?? .never) > deadline { someoneStayed = true }
                }
                if !resolved && someoneStayed {
                    fail("ghost", "view \(v.ltime) (first installed at \(t0)) lists \(g), which never installed it, and no member failed it within \(ghostBound)")
                }
            }
        }

        // No live member ends blocked.
        for m in live.sorted() {
            if let (vid, t) = lastBlock[m] {
                fail("blocked at end", "\(m) blocked in view \(vid.ltime) at \(t) and never installed a next view")
            }
        }
        return violations
    }

    /// For each member that asked to leave: how long until every other member of its view
    /// that went on installed a view without it. The longest such time, and who.
    public static func longestLeaveExclusion(_ rec: Recorder) -> (Time, String) {
        var worst: (Time, String) = (.zero, "")
        var current: [Member: ViewState] = [:]
        var pending: [(leaver: Member, endpoint: EndpointID, at: Time, waiting: Set<Member>, done: Time)] = []
        for (entry, t) in zip(rec.entries, rec.times) {
            switch entry {
            case let .installed(m, v):
                current[m] = v
                for i in pending.indices where pending[i].waiting.contains(m) && !v.members.contains(pending[i].endpoint) {
                    pending[i].waiting.remove(m)
                    pending[i].done = t
                }
            case let .crashed(m):
                for i in pending.indices { pending[i].waiting.remove(m) }
            case let .leaveRequested(m):
                guard let v = current[m], let e = v.members.first(where: { rec.member(of: $0) == m }) else { continue }
                let others = Set(v.members.compactMap { rec.member(of: $0) }).subtracting([m])
                pending.append((m, e, t, others, t))
            default:
                break
            }
        }
        for p in pending where p.waiting.isEmpty && p.done - p.at > worst.0 {
            worst = (p.done - p.at, "\(p.leaver) at \(p.at)")
        }
        return worst
    }
}
