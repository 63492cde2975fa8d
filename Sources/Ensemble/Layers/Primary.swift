/// Primary: marks the primary partition in every view (Ensemble's `primary.ml`, with the
/// presence tracking of `present.ml`).
///
/// The rule. Every view carries, beside its `primary` flag, the expected membership `E`
/// (Corosync's `expected_votes`; it starts at the `primary_expected` parameter, N) and the
/// last primary view it descends from, `L` (its id, and those of its members that did not
/// leave cleanly). The coordinator that decides the next view `nv` from its view `cv` (a
/// normal view change, or a merge it grants) marks it primary iff, with `Q` the members of
/// `nv` that come from `cv` (they have just completed `cv`'s flush, so they are alive and in
/// no other view; members of merging partitions are not counted, as their coordinator may
/// still abandon the merge):
///
/// - same members: `nv` has exactly the members of `cv`, and all of them flushed (`Q = nv =
///   cv`); so every change of membership (a failure, a leave, a merge) first installs a view
///   that is not primary, whose coordinator at once asks for another of the same members (see
///   below), which may be. Without this rule two coordinators that both flushed a member
///   of the same view (the member acknowledged one flush, then, cut off, the other) could
///   each count it and decide two overlapping primary views side by side (found by
///   `maestro-sim --maestro --properties Vsync:Total:Primary`, seed 92075);
/// - static majority: `2|Q| > E`, and
/// - dynamic linear voting: if a last primary `L` is known, `2|Q ∩ L| > |L|`; if none is
///   (the group has never had a primary, as far as anyone in `nv` knows), `|Q| ≥ N`: the
///   first primary needs every expected member in one partition at once (Corosync's
///   `wait_for_all`), so processes that restart with no memory cannot start a second lineage.
///
/// `L` for `nv` is the newest (by view id) of: `cv` itself if primary (less its clean
/// leavers), the `L` that `cv` carries, and the same for each merging partition's view; `E`
/// is the one carried by the view that supplied that `L` (N if none). When `nv` is primary,
/// its `E` becomes `max(E, |nv|)` (expected votes rise to the membership, as in Corosync),
/// and `nv` itself is the `L` of its successors. A coordinator whose view is not primary but
/// would be if it decided a view of the same members (after a merge, or when its predecessor's
/// coordinator had failed) prompts a view change at once.
///
/// Clean leaves (Corosync's `allow_downscale`). A member whose Leave the deciding coordinator
/// delivered (Leave reports it with `.left`) and that `nv` no longer has lowers `E` by one
/// and leaves `L`, but only when `cv` is primary: the coordinator of the primary view is the
/// only one that applies leaves, and the lowered `E` and `L` travel in `nv`. A minority that
/// learned of a leave changes nothing; a member failed for any other reason is never
/// subtracted.
///
/// Why at most one primary. Successive primaries each contain a majority of their
/// predecessor (that did not leave), counted among members that were alive in the deciding
/// partition and were all in its view, which a member is in one at a time, so two partitions
/// that split from one primary cannot both continue it; a
/// partition without history cannot start a new lineage while any expected member is
/// elsewhere; and a primary partition never merges into another (Heal ranks it first), so the
/// merged view's coordinator is always one of its members. Not covered: a coordinator that
/// crashes, or a member that is cut off, in the middle of the one-round installation of a
/// primary view can leave that view installed by a minority of its members, which then
/// believes itself primary until it notices the others are gone (as in Ensemble and any
/// one-round membership protocol; the checker reports it if it happens).
///
/// Confirmation. A view decided primary is only *tentatively* primary: a coordinator cut off
/// in the middle of installing it could leave it installed by a minority while the others,
/// who acknowledged the flush but never got the view, go on from its predecessor. So the
/// application is told the view is primary (`GroupApplication.primaryConfirmed`) only once
/// every member has installed it: each member reports to the coordinator (`present`), which
/// then casts `confirm`. And a coordinator deciding from a primary view it does not know to
/// be confirmed passes on, beside that view's members, the member sets that view's own
/// decision needed (`PrimaryRecord.earlier`): the next primary needs a majority of each, which
/// the side that missed the view cannot also have. At most one *confirmed* primary view
/// exists at any moment; more than `PrimaryRecord.maxEarlier` unconfirmed primaries in a row
/// stop the lineage (no successor is primary) rather than forget a set.
///
/// Deviations from Ensemble: the quorum is a majority of an expected membership that
/// evolves (clean leaves lower it, joins raise it) combined with dynamic linear voting,
/// where Ensemble's is a fixed count of servers (`primary_quorum`) checked on the present
/// members; the decision is taken in the coordinator's `.view` and carried in the view, not
/// recomputed by every member (Ensemble's `succ_ltime` check on the way up, and its
/// `same_coord` condition, are replaced by counting only flushed members, `Q`); presence is
/// what the flush already proves, so there is no Present layer; clients count as members;
/// `primary_expected = 0` refuses to build (Ensemble exits with code 2 on
/// `primary_quorum = 0`).
public final class Primary: Layer {
    enum Header: UInt8, LayerHeader, ByteHeader {
        /// To the coordinator of a primary view: I installed it.
        case present = 1
        /// From the coordinator: every member installed it; it is confirmed.
        case confirm = 2

        static var carriers: MessageKinds { [.cast, .send] }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            try decode(byte: tag, field: "Primary header")
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    private let configured: Int
    /// This view is primary and every member installed it (as far as I know).
    public private(set) var confirmed = false
    /// Coordinator of a primary view: the ranks that reported installing it.
    private var present = RankSet()
    /// Ranks whose Leave was delivered here.
    private var leavers = RankSet()
    /// Views of partitions asking to merge into this one (their coordinators' requests).
    private var mergers: [ViewID: ViewState] = [:]

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        self.services = services
        configured = try setup.params.int("primary_expected", default: 0)
        guard configured > 0 else {
            throw ParameterError("the Primary layer needs primary_expected (the expected number of members, more than 0)")
        }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .initialize:
            port.up(event)
            // Quorum now, but not marked primary: a view of the same members would be.
            let v = setup.view
            if setup.rank == 0, !v.primary,
               Primary.decide(next: v, from: v, mergers: [], leavers: [], configured: configured).primary {
                port.up(.prompt)
            }
            if v.primary {
                if setup.rank == 0 {
                    reportedPresent(0)
                } else {
                    port.originate(Header.present, .send, peer: 0)
                }
            }
        case .send(var p, let o, let flags):
            guard case .present? = port.receive(Header.self, &p, .send, from: o, flags: flags, members: setup.count) else { return }
            if setup.rank == 0 && setup.view.primary { reportedPresent(o) }
        case .cast(var p, let o, let flags):
            guard case .confirm? = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: setup.count) else { return }
            if o == 0 && setup.view.primary { confirm() }
        case let .left(r):
            leavers.insert(r)
        case let .mergeRequest(_, mvs):
            mergers[mvs.id] = mvs
            port.up(event)
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case let .view(nv):
            let v = setup.view
            let merging = nv.previousIDs.dropFirst().compactMap { mergers[$0] }
            let left = leavers.compactMap { $0 < v.count ? v.members[$0] : nil }.filter { nv.rank(of: $0) == nil }
            port.down(.view(Primary.decide(next: nv, from: v, mergers: merging, leavers: left, configured: configured,
                                           confirmed: confirmed)))
        default:
            port.passDown(event, Header.self)
        }
    }

    /// Coordinator: member `rank` installed this primary view; once all have, it is confirmed.
    private func reportedPresent(_ rank: Rank) {
        present.insert(rank)
        guard !confirmed, present.count == setup.count else { return }
        if setup.count > 1 { port.originate(Header.confirm, .cast, peer: setup.rank) }
        confirm()
    }

    private func confirm() {
        guard !confirmed else { return }
        confirmed = true
        services.application?.primaryConfirmed()
    }

    /// What a view knows of the lineage: the last primary (itself if primary, without
    /// `leavers`; with the sets its own decision needed unless it is `confirmed`) and the
    /// expected membership that goes with it.
    static func lineage(of v: ViewState, leavers: [EndpointID], configured: Int, confirmed: Bool) -> (last: PrimaryRecord?, expected: Int) {
        let e = v.expected > 0 ? v.expected : configured
        guard v.primary else { return (v.lastPrimary, e) }
        let gone = Set(leavers)
        let ms = v.members.filter { !gone.contains($0) }
        let before = v.lastPrimary
        let record = confirmed ? PrimaryRecord(id: v.id, members: ms)
            : PrimaryRecord(id: v.id, members: ms, earlier: before?.quorums ?? [], overflow: before?.overflow ?? false)
        return (record, max(1, e - (v.members.count - ms.count)))
    }

    /// The rule (see above): `nv` as decided by the coordinator of `cv`, with the merging
    /// partitions' views `mergers` and the members of `cv` that left cleanly (`leavers`, only
    /// applied if `cv` is primary), with its primary flag, expected membership and last
    /// primary filled in.
    public static func decide(next nv: ViewState, from cv: ViewState, mergers: [ViewState], leavers: [EndpointID],
                              configured: Int, confirmed: Bool = false) -> ViewState {
        var best = lineage(of: cv, leavers: leavers, configured: configured, confirmed: confirmed)
        for m in mergers {
            let l = lineage(of: m, leavers: [], configured: configured, confirmed: false)
            if let newer = l.last, best.last.map({ newer.id > $0.id }) ?? true { best = l }
        }
        let from = Set(cv.members)
        let q = nv.members.filter { from.contains($0) }
        var out = nv
        out.lastPrimary = best.last
        let sameMembers = q.count == nv.count && nv.count == cv.count
        out.primary = sameMembers && isPrimary(flushed: q, expected: best.expected, last: best.last, configured: configured)
        out.expected = out.primary ? max(best.expected, nv.count) : best.expected
        return out
    }

    /// The quorum test on the flushed members `q` of a new view.
    public static func isPrimary(flushed q: [EndpointID], expected: Int, last: PrimaryRecord?, configured: Int) -> Bool {
        guard 2 * q.count > expected else { return false }
        guard let last else { return q.count >= configured }
        guard !last.overflow else { return false }
        let qs = Set(q)
        return last.quorums.allSatisfy { set in 2 * set.filter(qs.contains).count > set.count }
    }
}
