/// The gossip rendezvous (Ensemble's `gossip` server, `reflect.ml`), sans-IO: run it on any
/// `Transport`, a real UDP socket (`maestro-gossip`, or embedded in a member process) or a
/// simulated one.
///
/// It remembers every address it hears a gossip datagram from, per group, for `memory`
/// (20 s), and relays each gossip datagram to every other address of the same group heard
/// within that time. An identical datagram relayed less than `duplicateWindow` (0.1 s) ago
/// is not relayed again. Anything that is not a well-formed gossip frame is dropped and counted.
public final class GossipRelay: TransportDelegate {
    struct Client {
        var address: Address
        var group: UInt64
        var lastHeard: Time
    }

    public let transport: any Transport
    public let memory: Time
    public let duplicateWindow: Time
    /// Most clients remembered; the least recently heard is forgotten first.
    public let maxClients: Int
    private var clients: [Client] = []
    private var recent: [(digest: UInt64, at: Time)] = []

    /// Fault injection: return false to keep a datagram from `source` from being relayed to
    /// `destination` (a partition that the rendezvous is part of).
    public var relayFilter: ((_ source: Address, _ destination: Address) -> Bool)?

    public private(set) var received: UInt64 = 0
    public private(set) var relayed: UInt64 = 0
    public private(set) var dropped: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0

    /// With a key, only genuine datagrams are relayed (their frame header is in clear in both
    /// protections, so a relay without the key can route them too).
    public let key: GroupKey?
    public private(set) var badMAC: UInt64 = 0

    public init(transport: any Transport, memory: Time = .seconds(20), duplicateWindow: Time = .milliseconds(100),
                maxClients: Int = 4096, key: GroupKey? = nil) {
        self.transport = transport
        self.key = key
        self.memory = memory
        self.duplicateWindow = duplicateWindow
        self.maxClients = max(1, maxClients)
        transport.delegate = self
    }

    deinit {
        if transport.delegate === self { transport.delegate = nil }
    }

    public var address: Address { transport.localAddress }
    /// Clients currently remembered.
    public var clientCount: Int { clients.count }

    public func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        received += 1
        if let key, !key.verify(datagram) {
            badMAC += 1
            return
        }
        var r = WireReader(datagram)
        guard let frame = try? Frame.decode(from: &r, maxRank: 0), frame.kind == .gossip else {
            dropped += 1
            return
        }
        let now = transport.now
        clients.removeAll { now - $0.lastHeard > memory }
        if let i = clients.firstIndex(where: { $0.address == source && $0.group == frame.group }) {
            clients[i].lastHeard = now
        } else {
            if clients.count >= maxClients, let oldest = clients.indices.min(by: { clients[$0].lastHeard < clients[$1].lastHeard }) {
                clients.remove(at: oldest)
            }
            clients.append(Client(address: source, group: frame.group, lastHeard: now))
        }
        var digest: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in datagram {
            digest ^= UInt64(b)
            digest = digest &* 0x0000_0100_0000_01B3
        }
        recent.removeAll { now - $0.at > duplicateWindow }
        if recent.contains(where: { $0.digest == digest }) {
            duplicates += 1
            return
        }
        recent.append((digest, now))
        for c in clients where c.group == frame.group && c.address != source {
            if let filter = relayFilter, !filter(source, c.address) { continue }
            if transport.send(datagram, to: c.address) { relayed += 1 }
        }
    }

    public func transportWake(_ transport: any Transport, now: Time) {}
    public func transportWillIdle(_ transport: any Transport) {}
}
