import Ensemble

/// The gossip rendezvous over real UDP: a `GossipRelay` on a reactor socket. Run it as its
/// own process (`maestro-gossip`) or embedded in a member process, so that a group living in
/// one process needs no external server.
public final class GossipServer {
    public let relay: GossipRelay
    private let transport: UDPTransport

    /// Binds `address` (port 0 picks one; the default port is Ensemble's 6788).
    public init(reactor: Reactor, bind address: Address = .loopback(port: 6788), key: GroupKey? = nil,
                maxClients: Int = 4096) throws(SocketError) {
        transport = try UDPTransport(reactor: reactor, bind: address, maxDatagram: 65536, batch: 8)
        relay = GossipRelay(transport: transport, maxClients: maxClients, key: key)
    }

    public var address: Address { transport.localAddress }

    public func close() { transport.close() }
}

extension EndpointID {
    /// A new endpoint id for a member receiving at `address`: `counter` distinguishes the
    /// endpoints of one process, the random incarnation every start of it.
    public static func fresh(at address: Address, counter: UInt16) -> EndpointID {
        var rng = SystemRandomNumberGenerator()
        return EndpointID(host: address.ip, port: address.port, counter: counter, incarnation: rng.next())
    }
}
