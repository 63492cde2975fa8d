import Ensemble
import MaestroCore
import Simulation

/// Maestro's shell on a simulated process: the world's virtual clock, the process's simulated
/// UDP sockets, a gossip rendezvous given by the scenario, endpoint ids drawn from the
/// process's seeded random stream, and deferred calls queued on the world.
///
/// A crash of the process silences it: deferred calls of an earlier incarnation never run
/// (its transports are closed by the world).
public final class SimShell: MaestroShell {
    public unowned let process: SimProcess
    /// The rendezvous members use when their options name none.
    public let relay: Address
    private let incarnation: UInt64
    private lazy var lineages = SimRandom(seed: UInt64(process.id), stream: 0x11AE_A6E0 ^ incarnation)
    private var counter: UInt16 = 0
    /// Members joined and not gone (weakly held), in join order.
    private var joined: [WeakMember] = []

    public init(process: SimProcess, relay: Address) {
        self.process = process
        self.relay = relay
        incarnation = process.incarnation
    }

    public var now: Time { process.world.now }

    public func rendezvous() throws -> Address { relay }

    public func openTransport(bind: Address?, port: UInt16, rendezvous: [Address], label: String) throws -> any Transport {
        let wanted = bind?.port ?? port
        if wanted != 0 && process.isBound(port: wanted) {
            throw MaestroError("port \(wanted) of \(process.name) is in use")
        }
        return process.makeTransport(port: wanted)
    }

    /// A stream of its own (the process's stream is left as it was, so runs keep their
    /// shape), fixed by the process and its incarnation.
    public func randomBits() -> UInt64 { lineages.next() }

    public func newEndpointID(at address: Address) -> EndpointID {
        counter &+= 1
        return EndpointID(host: address.ip, port: address.port, counter: counter, incarnation: process.random.next())
    }

    public func schedule(after delay: Time, label: String, _ action: @escaping () -> Void) {
        let p = process
        let incarnation = self.incarnation
        p.world.schedule(after: delay, label: label) {
            guard p.isUp, p.incarnation == incarnation else { return }
            action()
        }
    }

    public func memberJoined(_ member: GroupMember) {
        joined.removeAll { $0.member == nil || $0.member === member }
        joined.append(WeakMember(member: member))
    }

    public func memberGone(_ member: GroupMember) { joined.removeAll { $0.member == nil || $0.member === member } }

    /// Members between join and exit, in join order.
    public var joinedMembers: [GroupMember] { joined.compactMap(\.member) }
}

private struct WeakMember {
    weak var member: GroupMember?
}
