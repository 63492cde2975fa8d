/// Merge: reliable transport for the merge protocol between coordinators of different
/// partitions (Ensemble's `merge.ml`).
///
/// Requests, grants and denials travel as directed gossip. Beyond Ensemble, whose messages
/// were all re-sent every `merge_sweep` (1 s) until `merge_timeout` (15 s) and delivered once
/// per (sender, ltime, sequence):
/// - a request is re-sent after `merge_rto` (50 ms), then at doubling intervals capped at
///   `merge_sweep`, until it is answered (a grant or a denial from the contact asked), Inter
///   abandons it (`.mergeFailed` going down) or `merge_timeout` passes;
/// - the receiver acknowledges every copy of a request at once and hands every copy up (Inter
///   answers a repeated request again, idempotently), so grants and denials need no
///   retransmission of their own: a lost answer is answered again on the next copy;
/// - a requester whose contact stays silent for `merge_max_unacked` sends (about 1.5 s with the
///   defaults) gives up early instead of waiting for the timeout; one that hears from its
///   contact waits for the answer up to `merge_timeout`;
/// - an answer ends the request only if it comes from its contact (every message names its
///   sender) about the view it asked for, so a late answer to an earlier request cannot end a
///   later one; Inter judges the rest (it declines a grant it can no longer use, see Top).
public final class Merge: Layer {
    struct Pending {
        var gossip: MergeGossip
        var address: Address
        var deadline: Time
        var nextSend: Time
        var interval: Time
        var sends = 1
        var acked = false
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private let sweep: Time
    private let timeout: Time
    private let rto: Time
    private let maxUnacked: Int
    private var now: Time
    private var sequence: UInt64 = 0
    /// The request in progress, if any.
    private var request: Pending?
    private var roster: Roster

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        sweep = try setup.params.time("merge_sweep", default: .seconds(1))
        timeout = try setup.params.time("merge_timeout", default: .seconds(15))
        rto = min(sweep, try setup.params.time("merge_rto", default: .milliseconds(50)))
        maxUnacked = max(1, try setup.params.int("merge_max_unacked", default: 5))
        guard sweep > .zero, rto > .zero else { throw ParameterError("merge_sweep and merge_rto must be positive") }
        now = setup.now
        roster = Roster(setup)
    }

    private func send(_ kind: MergeGossip.Kind, to contact: MergeContact, _ view: ViewState) -> MergeGossip {
        sequence += 1
        let g = MergeGossip(contact: contact, sender: setup.endpoint, sequence: sequence, kind: kind, view: view)
        port.down(.gossipDirect(Gossip(merge: g), to: contact.address))
        return g
    }

    public func down(_ event: consuming Event) {
        switch event {
        case let .mergeRequest(c, v):
            let g = send(.request, to: c, v)
            request = Pending(gossip: g, address: c.address, deadline: now + timeout, nextSend: now + rto, interval: rto)
            port.down(.timer(now + rto))
        case let .mergeGranted(c, v):
            _ = send(.granted, to: c, v)
        case let .mergeDenied(c, v):
            _ = send(.denied, to: c, v)
        case .mergeFailed:
            request = nil
        default:
            port.down(event)
        }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .initialize(t):
            now = t
            port.up(event)
        case let .timer(t):
            now = t
            if request != nil { resend(t) }
            port.up(event)
        case let .gossip(g):
            if let m = g.merge, m.contact.endpoint == setup.endpoint, m.view.protocolStack == setup.view.protocolStack,
               m.view.group == setup.view.group {
                received(m)
            }
            port.up(event)
        case .exit:
            request = nil
            port.up(event)
        default:
            roster.note(event)  // superseded: a next view is installed
            port.up(event)
        }
    }

    private func resend(_ t: Time) {
        guard var p = request else { return }
        if p.deadline <= t || (!p.acked && p.sends >= maxUnacked && p.nextSend <= t) {
            request = nil
            if !roster.superseded { port.up(.mergeFailed) }
            return
        }
        if p.nextSend <= t {
            port.down(.gossipDirect(Gossip(merge: p.gossip), to: p.address))
            p.sends += 1
            p.interval = min(p.interval * 2, sweep)
            p.nextSend = t + p.interval
        }
        request = p
        port.down(.timer(min(p.nextSend, p.deadline)))
    }

    private func received(_ m: MergeGossip) {
        switch m.kind {
        case .request:
            // "I hear you", for every copy: the requester knows I am alive.
            if let address = m.view.addresses.first {
                let back = MergeContact(endpoint: m.sender, address: address, viewID: m.view.id)
                port.down(.gossipDirect(Gossip(merge: MergeGossip(contact: back, sender: setup.endpoint, sequence: m.sequence,
                                                                  kind: .ack, view: m.view)), to: address))
            }
            port.up(.mergeRequest(m.contact, m.view))
        case .ack:
            if request?.gossip.contact.endpoint == m.sender && request?.gossip.view.id == m.view.id { request?.acked = true }
        case .granted, .denied:
            // An answer to my request ends it (from its contact, about the view it asked
            // for); anything else (a late answer to an earlier request, a requester declining
            // the view I granted it) goes up too, for Inter to judge.
            if let r = request, r.gossip.contact.endpoint == m.sender,
               m.kind == .granted ? m.view.previousIDs.contains(r.gossip.view.id) : m.view.id == r.gossip.view.id {
                request = nil
            }
            port.up(m.kind == .granted ? .mergeGranted(m.contact, m.view) : .mergeDenied(m.contact, m.view))
        }
    }
}
