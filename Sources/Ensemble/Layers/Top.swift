/// Top: the membership automaton at the coordinator (Ensemble's `top.ml`).
///
/// The elected coordinator turns suspicions into failures, blocks the group, and when the
/// flush is complete installs the next view: the current one without the failed members plus
/// any partitions merging in, or, if Heal found a larger partition, asks to merge into it.
/// Every member answers `.block` with `.blockOk`. Every `top_sweep` the coordinator starts a
/// gossip round (Heal and Switch fill it in). Stray events end here.
public final class Top: Layer {
    enum State { case normal, merging, nextView }

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
    private var nextSweep = Time.zero

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        sweep = try setup.params.time("top_sweep", default: .seconds(5))
        gossip = try setup.params.bool("top_gossip", default: true)
        guard sweep > .zero else { throw ParameterError("top_sweep must be positive") }
    }

    private func block() {
        guard (setup.rank == 0 || elected), !blockSent, state == .normal else { return }
        blockSent = true
        port.down(.block)
    }

    private func failSuspects() {
        // Once this stack's view is decided, its member has moved on: an old stack never
        // takes membership decisions (it only serves retransmissions until it exits).
        guard elected, state != .nextView, !suspects.isSubset(of: failed) else { return }
        block()
        failed.formUnion(suspects)
        suspects = failed
        port.down(.fail(failed))
    }

    private func installView() {
        guard elected, state != .nextView else { return }
        guard let nv = ViewState.merge([setup.view.removing(failed)] + mergers) else { return }
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
        case let .blockOk(contact):
            guard blockSent, state == .normal else { return }
            if let contact, contact.viewID != nil, failed.isEmpty, mergers.isEmpty {
                state = .merging
                port.down(.mergeRequest(contact, setup.view))
            } else {
                installView()
            }
        case let .mergeRequest(_, mvs):
            guard state != .nextView else { return }
            let taken = Set(mergers.flatMap(\.members))
            guard mvs.members.allSatisfy({ !taken.contains($0) }) else { return }
            mergers.append(mvs)
            block()
        case .mergeFailed, .mergeDenied:
            if state == .merging {
                state = .normal
                installView()
            }
        case .view:
            state = .nextView
            port.up(event)
        case .leave:
            leaving = true
            block()
            port.down(.exit)
        case .exit:
            port.up(event)
        case let .timer(now):
            if now >= nextSweep {
                nextSweep = now + sweep
                port.down(.timer(nextSweep))
                if setup.rank == 0 && gossip && state == .normal { port.down(.gossip(Gossip())) }
            }
        default:
            break  // stray events end here
        }
    }

    public func down(_ event: consuming Event) {
        port.down(event)
    }
}
