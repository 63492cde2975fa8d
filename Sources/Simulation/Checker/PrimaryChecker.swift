import Ensemble

/// Checks the primary-partition guarantees on a recorded run of a stack with the Primary
/// layer, from the installs and confirmations (not from what the views say about themselves,
/// except where noted).
///
/// The primary views confirmed to at least one member (`GroupApplication.primaryConfirmed`:
/// every member installed it), in ltime order, must form one line:
///
/// - **one at a time**: no two have the same ltime; each after the first was installed by at
///   least one member that had installed the one before it (so it continues that one; two
///   primaries whose installers are disjoint ran side by side: a split brain), unless every
///   installer of the one before had crashed or exited first (then a new lineage starts, as the
///   first did); and a view is confirmed only if every member installed it;
/// - **descent**: each one's last primary is the one before it or a later (unconfirmed)
///   attempt, so no primary view was formed from an older one behind its successor's back;
/// - **quorum**: the first one's flushed members (those that come from the view its
///   coordinator decided it in) are all `N` expected members; each later one's flushed
///   members hold a majority of the previous one's members that had not asked to leave, and
///   more than half of the expected membership `E`, tracked here independently: N at first,
///   less the members of a primary that asked to leave and are absent from the next primary,
///   raised to the size of each primary view;
/// - **minority knows it**: no view that was not decided primary is confirmed.
///
/// Leaves count as soon as a member asks to leave, which the layer only learns later, so the
/// checker accepts everything the layer's rule accepts (and a little more). A view decided
/// primary that some member never installed (its coordinator was cut off mid-installation) is
/// never confirmed, and is not in the line.
public struct PrimaryChecker {
    /// The configured expected membership (`primary_expected`).
    public var configured: Int

    public init(configured: Int) { self.configured = configured }

    public typealias Member = Recorder.Member

    public func check(_ rec: Recorder) -> [Violation] {
        var violations: [Violation] = []
        func fail(_ p: String, _ d: String) { violations.append(Violation(property: p, detail: d)) }

        var views: [ViewID: ViewState] = [:]
        var firstInstall: [ViewID: Time] = [:]
        var installers: [ViewID: Set<Member>] = [:]
        var confirmers: [ViewID: Set<Member>] = [:]
        var leaveAsked: [Member: Time] = [:]
        var gone: [Member: Time] = [:]
        for (entry, t) in zip(rec.entries, rec.times) {
            switch entry {
            case let .installed(m, v):
                if views[v.id] == nil {
                    views[v.id] = v
                    firstInstall[v.id] = t
                }
                installers[v.id, default: []].insert(m)
            case let .leaveRequested(m):
                if leaveAsked[m] == nil { leaveAsked[m] = t }
            case let .primaryConfirmed(m, id):
                confirmers[id, default: []].insert(m)
            case let .crashed(m), let .left(m):
                if gone[m] == nil { gone[m] = t }
            default:
                break
            }
        }
        func name(_ v: ViewState) -> String {
            "\(v.ltime)/\(rec.member(of: v.coordinator).map(String.init(describing:)) ?? "?") [\(v.members.map { rec.member(of: $0).map(String.init(describing:)) ?? "?" }.joined(separator: ","))]"
        }
        // Views decided primary but never confirmed (a member never installed them) do not
        // count: their members were never told they were primary.
        for v in views.values where !v.primary && confirmers[v.id] != nil {
            fail("minority knows it", "view \(name(v)) was confirmed primary but not decided so")
        }
        for (id, ms) in confirmers {
            // (A member that asked to leave installs its last views without telling its
            // application.)
            let missing = (views[id]?.members ?? []).compactMap { rec.member(of: $0) }
                .filter { !(installers[id] ?? []).contains($0) && leaveAsked[$0] == nil }
            if let v = views[id], !missing.isEmpty {
                fail("one primary at a time", "primary view \(name(v)) was confirmed by \(ms.sorted().map(String.init(describing:)).joined(separator: ",")) though \(missing.map(String.init(describing:)).joined(separator: ",")) never installed it")
            }
        }
        let primaries = views.values.filter { $0.primary && confirmers[$0.id] != nil && GroupScenario.hasPrimary($0.protocolStack) }
            .sorted { ($0.ltime, $0.id) < ($1.ltime, $1.id) }

        var expected = configured
        var previous: ViewState?
        for v in primaries {
            let at = firstInstall[v.id] ?? .zero
            // The members that come from the view the coordinator decided it in.
            let from = v.previousIDs.first.flatMap { views[$0] }
            let flushed = from.map { f in v.members.filter { f.members.contains($0) } } ?? v.members
            // Every installer of the previous primary gone (crashed or exited) before this one:
            // a new lineage may start (restarted processes have no memory), as the first did.
            let lineageDead = v.lastPrimary == nil && previous.map { p in
                (installers[p.id] ?? []).allSatisfy { m in gone[m].map { $0 <= at } ?? false }
            } ?? false
            guard let p = previous, !lineageDead else {
                // The first confirmed one may continue decided primaries that were never
                // confirmed: it needs a majority of N less the members that asked to leave
                // before it and are not in it (their leaves may have been applied by those
                // unconfirmed primaries' coordinators), not all N.
                let leftBefore = v.lastPrimary == nil ? 0 : leaveAsked.filter { m, asked in
                    asked <= at && !v.members.contains { rec.member(of: $0) == m }
                }.count
                let e = max(1, configured - leftBefore)
                if v.lastPrimary == nil ? flushed.count < configured : 2 * flushed.count <= e {
                    fail("primary quorum", "the first primary view \(name(v)) has \(flushed.count) flushed members of the \(e) expected")
                }
                expected = max(e, v.count)
                previous = v
                continue
            }
            if p.ltime == v.ltime {
                fail("one primary at a time", "two primary views with ltime \(v.ltime): \(name(p)) and \(name(v))")
            }
            let common = (installers[p.id] ?? []).intersection(installers[v.id] ?? [])
            if common.isEmpty {
                fail("one primary at a time", "primary view \(name(v)) has no installer in common with the primary before it, \(name(p))")
            }
            if v.lastPrimary.map({ $0.id < p.id }) ?? true {
                let said = v.lastPrimary.map { "\($0.id.ltime)/\(rec.member(of: $0.id.coordinator).map(String.init(describing:)) ?? "?")" } ?? "none"
                fail("one primary at a time", "primary view \(name(v)) descends from \(said), not from the primary before it, \(name(p))")
            }
            // Members of p that asked to leave before v and are not in it.
            let leavers = p.members.filter { e in
                guard v.rank(of: e) == nil, let m = rec.member(of: e), let asked = leaveAsked[m] else { return false }
                return asked <= at
            }
            let remaining = p.members.filter { !leavers.contains($0) }
            let held = remaining.filter { flushed.contains($0) }.count
            if 2 * held <= remaining.count {
                fail("primary quorum", "primary view \(name(v)) holds \(held) of the \(remaining.count) remaining members of the primary before it, \(name(p))")
            }
            let e = max(1, expected - leavers.count)
            if 2 * flushed.count <= e {
                fail("primary quorum", "primary view \(name(v)) has \(flushed.count) flushed members, not more than half of the expected \(e)")
            }
            expected = max(e, v.count)
            previous = v
        }
        return violations
    }
}
