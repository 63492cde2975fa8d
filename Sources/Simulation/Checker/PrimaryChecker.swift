import Ensemble

/// Checks the primary-partition guarantees on a recorded run of a stack with the Primary
/// layer, from the installs alone (not from what the views say about themselves, except
/// where noted).
///
/// The primary views installed by at least one member, in ltime order, must form one line:
///
/// - **one at a time**: no two primary views have the same ltime, and each primary view after
///   the first was installed by at least one member that had installed the primary view
///   before it (so it continues that one; two primaries whose installers are disjoint ran
///   side by side: a split brain);
/// - **descent**: each primary view names the one before it as its last primary (the view's
///   `lastPrimary`), so no primary view was formed from an older one behind its successor's
///   back;
/// - **quorum**: the first primary view's flushed members (those that come from the view its
///   coordinator decided it in) are all `N` expected members; each later one's flushed
///   members hold a majority of the previous primary's members that had not asked to leave,
///   and more than half of the expected membership `E`, tracked here independently: N at
///   first, less the members of a primary that asked to leave and are absent from the next
///   primary, raised to the size of each primary view;
/// - **minority knows it**: a member of any other view sees `primary == false`, since every
///   view marked primary is checked above (a view installed with the flag and outside the
///   line is reported).
///
/// Leaves count as soon as a member asks to leave, which the layer only learns later, so the
/// checker accepts everything the layer's rule accepts (and a little more); the line is
/// stronger than the layer's own argument (installers, not listed members), so a primary
/// view left installed by a minority after its coordinator crashed mid-installation is
/// reported.
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
        var leaveAsked: [Member: Time] = [:]
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
            default:
                break
            }
        }
        func name(_ v: ViewState) -> String {
            "\(v.ltime)/\(rec.member(of: v.coordinator).map(String.init(describing:)) ?? "?") [\(v.members.map { rec.member(of: $0).map(String.init(describing:)) ?? "?" }.joined(separator: ","))]"
        }
        let primaries = views.values.filter { $0.primary && GroupScenario.hasPrimary($0.protocolStack) }
            .sorted { ($0.ltime, $0.id) < ($1.ltime, $1.id) }

        var expected = configured
        var previous: ViewState?
        for v in primaries {
            let at = firstInstall[v.id] ?? .zero
            // The members that come from the view the coordinator decided it in.
            let from = v.previousIDs.first.flatMap { views[$0] }
            let flushed = from.map { f in v.members.filter { f.members.contains($0) } } ?? v.members
            guard let p = previous else {
                if flushed.count < configured {
                    fail("primary quorum", "the first primary view \(name(v)) has \(flushed.count) flushed members of the \(configured) expected")
                }
                expected = max(configured, v.count)
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
            if v.lastPrimary?.id != p.id {
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
