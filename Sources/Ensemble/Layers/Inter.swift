/// Inter: view changes that join partitions (Ensemble's `inter.ml`).
///
/// A coordinator merging into another partition sends a merge request (through Merge) and,
/// when granted, installs the granter's view in its own partition. A coordinator receiving
/// requests accepts only endpoints it has never seen in this view, and only before it has
/// blocked; it grants each accepted request with the new view, or denies the request. Beyond
/// Ensemble: a request listing an address that one of my members has is denied (one of the
/// two is a dead incarnation of a restarted process).
public final class Inter: Layer {
    enum State { case normal, merging, failedMerge, installedView }

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
            // Two endpoints at one address: one of them is a dead incarnation. Which one is
            // not known here; notices settle it within a ping, and the merge is tried again.
            let clash = mvs.addresses.contains { setup.view.addresses.contains($0) }
            let fresh = !clash && mvs.members.allSatisfy { !seen.contains($0) }
            let fits = setup.count + mergers.reduce(0) { $0 + $1.count } + mvs.count <= maxMembers
            if !fits { port.drops.overLimit &+= 1 }
            if setup.rank == 0 && !blocked && state == .normal && fresh && fits {
                seen.formUnion(mvs.members)
                mergers.append(mvs)
                port.up(event)
            } else {
                port.down(.mergeDenied(contact(of: mvs), mvs))
            }
        case let .mergeGranted(_, nv):
            guard setup.rank == 0, state == .merging, nv.previousIDs.contains(setup.view.id), nv.ltime > setup.view.ltime,
                  nv.rank(of: setup.endpoint) != nil else { return }
            state = .installedView
            port.down(.view(nv))
        case let .mergeDenied(_, mvs):
            if setup.rank == 0 && state == .merging && mvs.id == setup.view.id {
                state = .failedMerge
                port.up(.mergeFailed)
            }
        case .mergeFailed:
            if state == .merging {
                state = .failedMerge
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
}
