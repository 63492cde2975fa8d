/// Merge: reliable transport for the merge protocol between coordinators of different
/// partitions (Ensemble's `merge.ml`, with v2.00's semantics and a real `merge_sweep`).
///
/// Requests, grants and denials travel as directed gossip, are re-sent every `merge_sweep`
/// until `merge_timeout`, and are delivered at most once per (sender, ltime, sequence). A
/// request that is never answered becomes `.mergeFailed`.
public final class Merge: Layer {
    struct Pending {
        var gossip: MergeGossip
        var address: Address
        var deadline: Time
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private let sweep: Time
    private let timeout: Time
    private var now: Time
    private var sequence: UInt64 = 0
    private var pending: [Pending] = []
    /// Last (ltime, sequence) delivered per sending coordinator.
    private var delivered: [EndpointID: (UInt64, UInt64)] = [:]
    private var viewInstalled = false
    private var nextSweep = Time.zero

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        sweep = try setup.params.time("merge_sweep", default: .seconds(1))
        timeout = try setup.params.time("merge_timeout", default: .seconds(15))
        guard sweep > .zero else { throw ParameterError("merge_sweep must be positive") }
        now = setup.now
    }

    public func down(_ event: consuming Event) {
        let kind: MergeGossip.Kind
        let contact: MergeContact
        let view: ViewState
        switch event {
        case let .mergeRequest(c, v): (kind, contact, view) = (.request, c, v)
        case let .mergeGranted(c, v): (kind, contact, view) = (.granted, c, v)
        case let .mergeDenied(c, v): (kind, contact, view) = (.denied, c, v)
        default:
            port.down(event)
            return
        }
        sequence += 1
        let g = MergeGossip(contact: contact, sequence: sequence, kind: kind, view: view)
        port.down(.gossipDirect(Gossip(merge: g), to: contact.address))
        pending.append(Pending(gossip: g, address: contact.address, deadline: now + timeout))
        if nextSweep <= now { nextSweep = now + sweep }
        port.down(.timer(nextSweep))
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .initialize(t):
            now = t
            port.up(event)
        case let .timer(t):
            now = t
            if !pending.isEmpty && t >= nextSweep {
                nextSweep = t + sweep
                var keep: [Pending] = []
                for p in pending {
                    if p.deadline > t {
                        port.down(.gossipDirect(Gossip(merge: p.gossip), to: p.address))
                        keep.append(p)
                    } else if p.gossip.kind == .request && !viewInstalled {
                        port.up(.mergeFailed)
                    }
                }
                pending = keep
                if !pending.isEmpty { port.down(.timer(nextSweep)) }
            }
            port.up(event)
        case let .gossip(g):
            if let m = g.merge, m.contact.endpoint == setup.endpoint, m.view.protocolStack == setup.view.protocolStack,
               m.view.group == setup.view.group {
                let key = m.view.coordinator
                let isNew = delivered[key].map { (m.view.ltime, m.sequence) > $0 } ?? true
                if isNew {
                    delivered[key] = (m.view.ltime, m.sequence)
                    switch m.kind {
                    case .request: port.up(.mergeRequest(m.contact, m.view))
                    case .granted: port.up(.mergeGranted(m.contact, m.view))
                    case .denied: port.up(.mergeDenied(m.contact, m.view))
                    }
                }
            }
            port.up(event)
        case .view:
            viewInstalled = true
            port.up(event)
        case .exit:
            pending = []
            port.up(event)
        default:
            port.up(event)
        }
    }
}
