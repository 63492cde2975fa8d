/// Inter: view changes that join partitions (Ensemble's `inter.ml`).
///
/// A coordinator merging into another partition sends a merge request (through Merge) and,
/// when granted, hands the granter's view up to Top, which blocks, flushes and installs it. A
/// coordinator receiving requests accepts only endpoints it has never seen in this view, and
/// only before it has blocked; it grants each accepted request with the new view, or denies
/// the request.
///
/// Beyond Ensemble: a request listing an address that one of my members has is denied (one of
/// the two is a dead incarnation of a restarted process, see IncarnationNotices); and the new
/// view's coordinator answers a repeated request from a partition it has already merged (its
/// grant was lost, the requester asks again) with the grant again, instead of a denial that
/// left the requester's members listed in a view they never installed (ghosts). A requester
/// that can no longer use a grant (it abandoned the merge after a failure) declines it, and
/// the granter fails the members that will not come at once.
public final class Inter: Layer {
    enum State { case normal, merging, granted, installedView }

    private let port: LayerPort
    private let setup: LayerSetup
    private var state = State.normal
    private var blocked = false
    private var seen: Set<EndpointID>
    private var mergers: [ViewState] = []
    /// Resource limit: the most members a view may have.
    private let maxMembers: Int

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        seen = Set(setup.view.members)
        maxMembers = min(WireLimits.maxMembers, try setup.params.int("max_members", default: 256))
    }

    private func contact(of v: ViewState) -> MergeContact {
        MergeContact(endpoint: v.coordinator, address: v.addresses.first ?? Address(ip: 0, port: 0), viewID: v.id)
    }

    public func down(_ event: consuming Event) {
        switch event {
        case let .mergeRequest(target, _):
            guard setup.rank == 0, state == .normal, !seen.contains(target.endpoint) else {
                port.up(.mergeFailed)
                return
            }
            state = .merging
            port.down(.mergeRequest(target, setup.view))
        case .mergeFailed:
            // Top abandoned the merge: a late grant is ignored, Merge stops asking.
            if state == .merging || state == .granted { state = .normal }
            port.down(event)
        case let .mergeGranted(_, nv):
            // Top flushed my partition: install the granted view in it.
            guard state == .granted else { return }
            state = .installedView
            port.down(.view(nv))
        case let .view(nv):
            guard state != .installedView else { return }
            state = .installedView
            for m in mergers { port.down(.mergeGranted(contact(of: m), nv)) }
            port.down(event)
        default:
            port.down(event)
        }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .mergeRequest(_, mvs):
            guard setup.rank == 0 else {
                port.down(.mergeDenied(contact(of: mvs), mvs))
                return
            }
            if regrant(mvs) { return }
            if mergers.contains(where: { $0.id == mvs.id }) { return }  // a copy of one accepted: the grant comes with the view
            // Two endpoints at one address: one of them is a dead incarnation. Which one is
            // not known here; notices settle it within a ping, and the merge is tried again.
            let clash = mvs.addresses.contains { setup.view.addresses.contains($0) }
            let fresh = !clash && mvs.members.allSatisfy { !seen.contains($0) }
            let fits = setup.count + mergers.reduce(0) { $0 + $1.count } + mvs.count <= maxMembers
            if !fits { port.drops.overLimit &+= 1 }
            if !blocked && state == .normal && fresh && fits {
                seen.formUnion(mvs.members)
                mergers.append(mvs)
                port.up(event)
            } else {
                port.down(.mergeDenied(contact(of: mvs), mvs))
            }
        case let .mergeGranted(c, nv):
            guard setup.rank == 0, nv.rank(of: setup.endpoint) != nil, nv.id != setup.view.id else { return }
            let forThisView = nv.previousIDs.contains(setup.view.id) && nv.ltime > setup.view.ltime
            if forThisView && state == .merging {
                state = .granted
                port.up(.mergeGranted(c, nv))
            } else if forThisView && state == .granted {
                return  // a copy
            } else if nv.previousIDs.contains(where: { $0 == setup.view.id || setup.view.previousIDs.contains($0) }) {
                // Granted to this partition or its predecessor, but no longer wanted (the merge
                // was abandoned): tell the granter, so it fails us now, not after suspicion.
                port.down(.mergeDenied(contact(of: nv), setup.view))
            }
        case let .mergeDenied(c, mvs):
            if setup.rank == 0 && state == .merging && mvs.id == setup.view.id {
                state = .normal  // the group never blocked: it may try again (Ensemble: once per view)
                port.up(.mergeFailed)
            } else if setup.rank == 0 && c.viewID == setup.view.id && mvs.id != setup.view.id {
                // A partition I granted a place in this view declines it: its members will not come.
                let absent = RankSet(mvs.members.compactMap { setup.view.rank(of: $0) }.filter { $0 != setup.rank })
                if !absent.isEmpty { port.down(.suspect(absent, reason: "declined the merged view")) }
            }
        case .mergeFailed:
            if state == .merging {
                state = .normal
                port.up(event)
            }
        case .blockOk:
            blocked = true
            port.up(event)
        case .view:
            state = .installedView
            port.up(event)
        default:
            port.up(event)
        }
    }

    /// A request from a partition this view was formed from: its grant was lost (the granter's
    /// old stack sent it once), so grant it again with this view.
    private func regrant(_ mvs: ViewState) -> Bool {
        let v = setup.view
        guard v.previousIDs.dropFirst().contains(mvs.id), mvs.members.allSatisfy({ v.rank(of: $0) != nil }) else { return false }
        port.down(.mergeGranted(contact(of: mvs), v))
        return true
    }
}
