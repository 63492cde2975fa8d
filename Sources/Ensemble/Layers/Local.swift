/// Local: a member's own casts are delivered to it too (Ensemble's `local.ml`).
///
/// Every cast of the application goes down as usual, and a copy is kept; at the end of the
/// loop turn the kept copies go up, in the order the casts were made, as casts from this
/// member's own rank. So a member receives its own casts in its own FIFO order, in the view it
/// made them in, once each: the same place in its stream as at every other member. Whatever
/// else the member receives is unordered with respect to them (for one order across members,
/// use Seqbb, which delivers own casts at their ordered place instead).
///
/// Deviations from local.ml:
/// - the copy goes up at the end of the loop turn (an up `.timer` requested for now), never
///   inside the application's call to cast, which the original did at once;
/// - only the application's casts (flagged `.application`) come back: the casts of the layers
///   above Top_appl (membership) do not, as those layers never expect their own;
/// - kept copies are delivered at once before a view's `.block` goes down and before `.fail`,
///   `.blockOk` or `.syncInfo` go up, so they always belong to the view they were made in;
///   copies still kept at `.exit` are dropped (the member has left);
/// - no header: Local puts nothing on the wire.
public final class Local: Layer {
    private let port: LayerPort
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    private let rank: Rank
    /// Own casts not yet delivered back, in the order made.
    private var kept: [Packet] = []
    private var endOfTurn = EndOfTurn()
    private var exited = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.services = services
        rank = setup.rank
    }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .cast(let p, let peer, let flags) where flags.contains(.application):
            port.down(.cast(p, peer: peer, flags: flags))
            guard !exited else { return }
            kept.append(p)
            endOfTurn.request(port, now: services.now)
        case .block:
            deliverKept()
            port.down(.block)
        case let other:
            port.down(other)
        }
    }

    public func up(_ event: consuming Event) {
        switch consume event {
        case .timer(let now):
            endOfTurn.fired()
            deliverKept()
            port.up(.timer(now))
        case let .fail(f):
            deliverKept()
            port.up(.fail(f))
        case let .blockOk(contact):
            deliverKept()
            port.up(.blockOk(contact: contact))
        case let .syncInfo(casts, sends):
            deliverKept()
            port.up(.syncInfo(casts: casts, sends: sends))
        case .exit:
            exited = true
            kept.removeAll()
            port.up(.exit)
        case let other:
            port.up(other)
        }
    }

    private func deliverKept() {
        guard !kept.isEmpty else { return }
        let copies = kept
        kept.removeAll(keepingCapacity: true)
        for p in copies { port.up(.cast(p, peer: rank, flags: .application)) }
    }
}
