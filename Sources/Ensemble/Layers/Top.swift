/// Top: the membership automaton at the coordinator (Ensemble's `top.ml`).
///
/// The elected coordinator turns suspicions into failures, blocks the group, and when the
/// flush is complete installs the next view: the current one without the failed members plus
/// any partitions merging in. Every member answers `.block` with `.blockOk`. Every
/// `top_sweep` the coordinator starts a gossip round (Heal and Switch fill it in). Stray
/// events end here.
///
/// Merging into a larger partition (Heal's `.mergeTarget`) differs from Ensemble, which
/// blocked the group first and then asked, so that a contact that had died kept the group
/// blocked for the whole `merge_timeout`: here the request goes out while the group keeps
/// working, and the group blocks only once the contact has granted it a place in its new
/// view; after the flush that view is installed as granted. A failure before that abandons
/// the merge (the grant is ignored; the partition merges again later), so a member this
/// partition has failed never enters the granted view. A leaving member takes no decision.
public final class Top: Layer {
    enum State { case normal, merging, granted(ViewState), nextView }

    private let port: LayerPort
    private let setup: LayerSetup
    private let sweep: Time
    private let gossip: Bool
    private var state = State.normal
    private var elected = false
    private var failed = RankSet()
    private var suspects = RankSet()
    private var mergers: [ViewState] = []
    private var blockSent = false
    private var prompted = false
    private var leaving = false
    private var blockDeferred = false
    private var nextSweep = Time.zero

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        sweep = try setup.params.time("top_sweep", default: .seconds(5))
        gossip = try setup.params.bool("top_gossip", default: true)
        guard sweep > .zero else { throw ParameterError("top_sweep must be positive") }
    }

    private var decided: Bool { if case .nextView = state { true } else { false } }
    private var mayDecide: Bool { elected && !decided && !leaving }

    private func block() {
        guard (setup.rank == 0 || elected), !blockSent, !decided, !leaving else { return }
        if case .merging = state {
            // The merge's answer comes first: a grant blocks anyway (and its view serves the
            // request too); after a failure or denial, the block goes out then.
            blockDeferred = true
            return
        }
        blockSent = true
        port.down(.block)
    }

    /// A merge in progress gives way to a failure: the request or the grant is dropped (a
    /// grant is declined, so that the granter fails my members at once).
    private func abandonMerge() {
        switch state {
        case .merging:
            state = .normal
            port.down(.mergeFailed)
        case let .granted(nv):
            state = .normal
            port.down(.mergeDenied(MergeContact(endpoint: nv.coordinator, address: nv.addresses[0], viewID: nv.id), setup.view))
            port.down(.mergeFailed)
        default:
            break
        }
    }

    private func failSuspects() {
        // Once this stack's view is decided, its member has moved on: an old stack never
        // takes membership decisions (it only serves retransmissions until it exits).
        guard mayDecide, !suspects.isSubset(of: failed) else { return }
        abandonMerge()
        block()
        failed.formUnion(suspects)
        suspects = failed
        port.down(.fail(failed))
    }

    private func installView() {
        guard mayDecide else { return }
        if case let .granted(nv) = state {
            // Installed as granted: the granter decided it for both partitions.
            state = .nextView
            port.down(.mergeGranted(MergeContact(endpoint: nv.coordinator, address: nv.addresses[0], viewID: nv.id), nv))
            return
        }
        guard var nv = ViewState.merge([setup.view.removing(failed)] + mergers) else { return }
        // The id of the view it follows, even when that view's coordinator failed (Ensemble
        // recorded the survivors' first member instead: reference §8.14).
        nv.previousIDs[0] = setup.view.id
        state = .nextView
        mergers = []
        port.down(.view(nv))
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .initialize(now):
            nextSweep = now
            port.down(.timer(now))
        case .elect:
            elected = true
            if prompted { block() }
            failSuspects()
        case let .suspect(s, _):
            var s = s
            s.remove(setup.rank)
            suspects.formUnion(s)
            failSuspects()
        case let .fail(f):
            failed.formUnion(f)
            suspects.formUnion(failed)
        case .prompt:
            block()
            prompted = true
        case .block:
            port.down(.blockOk(contact: nil))
        case .blockOk:
            guard blockSent else { return }
            switch state {
            case .normal, .granted: installView()
            case .merging, .nextView: break  // the merge answer decides, or nothing is left to decide
            }
        case let .mergeTarget(contact):
            // Heal heard a larger partition: ask it now, without blocking.
            guard setup.rank == 0, mayDecide, case .normal = state, !blockSent, failed.isEmpty, mergers.isEmpty else { return }
            state = .merging
            port.down(.mergeRequest(contact, setup.view))
        case let .mergeGranted(_, nv):
            guard case .merging = state, failed.isEmpty else { return }
            state = .granted(nv)
            block()
        case let .mergeRequest(_, mvs):
            guard !decided else { return }
            let taken = Set(mergers.flatMap(\.members))
            guard mvs.members.allSatisfy({ !taken.contains($0) }) else { return }
            mergers.append(mvs)
            block()
        case .mergeFailed, .mergeDenied:
            if case .merging = state {
                state = .normal
                if blockDeferred { block() }
            }
        case .view:
            state = .nextView
            port.up(event)
        case .leave:
            leaving = true
        case .exit:
            port.up(event)
        case let .timer(now):
            if now >= nextSweep {
                nextSweep = now + sweep
                port.down(.timer(nextSweep))
                if setup.rank == 0 && gossip && !decided && !leaving { port.down(.gossip(Gossip())) }
            }
        default:
            break  // stray events end here
        }
    }

    public func down(_ event: consuming Event) {
        port.down(event)
    }
}
