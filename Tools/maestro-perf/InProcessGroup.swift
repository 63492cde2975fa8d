import Ensemble
import Foundation
import Reactor

/// Members in this process on one reactor, with an embedded rendezvous: for the benchmarks
/// that need to reach into the members (partitions, memory).
final class InProcessGroup {
    final class Member: GroupApplication {
        var view: ViewState?
        func install(view: ViewState, rank: Rank) { self.view = view }
        func receiveCast(from origin: Rank, _ payload: Packet) {}
        func receiveSend(from origin: Rank, _ payload: Packet) {}
    }

    let reactor: Reactor
    let gossip: GossipServer
    var transports: [UDPTransport] = []
    var endpoints: [GroupEndpoint] = []
    var apps: [Member] = []

    init(reactor: Reactor, members n: Int, params: Parameters, protocolStack: String, group: String, key: GroupKey? = nil) throws {
        self.reactor = reactor
        gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0), key: key)
        for i in 0 ..< n {
            let t = try UDPTransport(reactor: reactor, maxDatagram: 16384, batch: 8)
            let app = Member()
            let e = try GroupEndpoint(id: .fresh(at: t.localAddress, counter: UInt16(i)), group: GroupID(group), transport: t,
                                      protocolStack: protocolStack, params: params, application: app, gossip: [gossip.address], key: key)
            transports.append(t)
            apps.append(app)
            endpoints.append(e)
        }
    }

    func joinAll() throws { for e in endpoints { try e.join() } }

    /// True when members `indices` all have the same view of exactly those members.
    func together(_ indices: [Int]) -> Bool {
        guard let first = apps[indices[0]].view else { return false }
        let ids = Set(indices.map { endpoints[$0].id })
        return Set(first.members) == ids && indices.allSatisfy { apps[$0].view?.id == first.id }
    }
}
