import Ensemble
import Foundation
import Reactor
import ToolSupport

/// Members in this process on one reactor, with an embedded rendezvous: for the benchmarks
/// that need to reach into the members (partitions, memory).
final class InProcessGroup {
    let reactor: Reactor
    let gossip: GossipServer
    var members: [UDPMember] = []
    var apps: [NumberedCasts] = []
    var endpoints: [GroupEndpoint] { members.map(\.endpoint) }
    var transports: [UDPTransport] { members.map(\.transport) }

    init(reactor: Reactor, members n: Int, params: Parameters, protocolStack: String, group: String, key: GroupKey? = nil) throws {
        self.reactor = reactor
        gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0), key: key)
        for i in 0 ..< n {
            let app = NumberedCasts(size: 16)
            members.append(try UDPMember(reactor: reactor, group: group, rendezvous: [gossip.address], protocolStack: protocolStack,
                                         params: params, application: app, key: key, counter: UInt16(i), maxDatagram: 16384, batch: 8))
            apps.append(app)
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
