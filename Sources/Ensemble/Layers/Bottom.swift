/// Bottom: the interface to the transport. Sends messages and gossip, schedules alarms,
/// drops traffic from failed members, and bounces control events back up so that every layer
/// sees them in the same order (Ensemble's `bottom.ml`).
public final class Bottom: Layer {
    /// One byte on every message: which kind of event carried it.
    enum Header: UInt8, ByteHeader {
        case cast = 0, send = 1, castUnreliable = 2, sendUnreliable = 3
        static func decode(from r: inout WireReader) throws(WireError) -> Header {
            try decode(byte: try r.read(), field: "Bottom header")
        }
    }

    private let port: LayerPort
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    // Unchecked exclusivity: read on every message, never re-entered (see Mnak).
    @exclusivity(unchecked) private var roster: Roster
    private var enabled = true

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.services = services
        roster = Roster(setup)
    }

    public func up(_ event: consuming Event) {
        guard enabled else { return }
        switch consume event {
        case .receive(var packet, let peer):
            // Traffic straight from a failed member is dropped; what others relay still comes in.
            guard peer != roster.rank, peer >= 0, peer < roster.count, !roster.failed.contains(peer) else { return }
            guard let header = try? packet.pop(Header.decode) else { return }
            switch header {
            case .cast: port.up(.cast(packet, peer: peer, flags: []))
            case .send: port.up(.send(packet, peer: peer, flags: []))
            case .castUnreliable: port.up(.castUnreliable(packet, peer: peer))
            case .sendUnreliable: port.up(.sendUnreliable(packet, peer: peer))
            }
        case let other:
            port.up(other)
        }
    }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .cast(var packet, _, _):
            guard enabled else { return }
            packet.push(Header.cast)
            services.transmit(packet, to: nil)
        case .send(var packet, let peer, _):
            guard enabled, peer != roster.rank, peer >= 0, peer < roster.count else { return }
            packet.push(Header.send)
            services.transmit(packet, to: peer)
        case .castUnreliable(var packet, _):
            guard enabled else { return }
            packet.push(Header.castUnreliable)
            services.transmit(packet, to: nil)
        case .sendUnreliable(var packet, let peer):
            guard enabled, peer != roster.rank, peer >= 0, peer < roster.count else { return }
            packet.push(Header.sendUnreliable)
            services.transmit(packet, to: peer)
        case let .timer(time):
            if enabled { services.requestAlarm(at: time) }
        case let .fail(ranks):
            roster.fail(ranks)
            port.up(.fail(ranks))
        case .exit:
            // Disable: from now on nothing is sent or passed up, then tell the layers.
            guard enabled else { return }
            port.up(.exit)
            enabled = false
        case let .gossip(g):
            if enabled { services.transmitGossip(g, to: nil) }
        case let .gossipDirect(g, address):
            if enabled { services.transmitGossip(g, to: address) }
        case .receive, .flowControl, .initialize, .async, .mergeTarget, .mergeRequest, .mergeGranted, .mergeDenied, .mergeFailed:
            // Not meaningful going down; a layer above has a bug. Dropped.
            break
        case let other:
            // Control events are bounced so that every layer sees them on the way up.
            if enabled { port.up(other) }
        }
    }
}
