import Ensemble
import Reactor

/// One protocol endpoint over UDP on a reactor: the wiring every tool that runs bare members
/// shares (the soak's `member`, the benchmarks' processes and in-process groups). Maestro's
/// members are assembled by `GroupMember.join` instead.
public final class UDPMember {
    public let transport: UDPTransport
    public let endpoint: GroupEndpoint

    /// Opens the socket (bound to `bind`, or to the address that routes to `rendezvous`, on
    /// `port`) and builds the endpoint. `view`: a fixed view to start in (`join(view:)`), for
    /// benchmarks of a static group; nil: start alone and find the group through `rendezvous`.
    public init(reactor: Reactor, group: String, bind: Address? = nil, port: UInt16 = 0, rendezvous: [Address],
                protocolStack: String, params: Parameters, application: any GroupApplication, key: GroupKey?,
                id: EndpointID? = nil, counter: UInt16 = 0, maxDatagram: Int = 65536, batch: Int = 32) throws {
        let label = "member of group \(group)"
        do {
            let local = try LocalAddress.forMember(bind: bind, port: port, rendezvous: rendezvous)
            transport = try UDPTransport(reactor: reactor, bind: local.bind, advertise: local.advertise, maxDatagram: maxDatagram,
                                         batch: batch, label: label)
        } catch {
            throw ToolError("cannot open the \(label)'s UDP socket: \(error)")
        }
        endpoint = try GroupEndpoint(id: id ?? .fresh(at: transport.localAddress, counter: counter), group: GroupID(group),
                                     transport: transport, protocolStack: protocolStack, params: params, application: application,
                                     gossip: rendezvous, key: key)
    }

    public var localAddress: Address { transport.localAddress }
}

/// A tool's error: a sentence that says what went wrong.
public struct ToolError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
