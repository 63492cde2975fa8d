import Ensemble

/// One simulated host: an IP address, a boot closure, and the transports it has bound.
///
/// Created by `SimWorld.addProcess`. A process is up or down: `SimWorld.crash` takes it down
/// (closing all its transports at once) and `SimWorld.restart` boots it again with the next
/// incarnation. The world keeps processes for its whole life.
public final class SimProcess {
    /// Index in `SimWorld.processes`: 0, 1, 2, ...
    public let id: Int
    /// 10.0.0.(id + 1): 10.0.0.1 for the first process (counting on past .255 into 10.0.1.0).
    public let ip: UInt32
    /// A label for traces and test messages.
    public let name: String
    /// False between `crash` and `restart`.
    public var isUp: Bool { up }
    /// 0 for the first boot, +1 at each restart.
    public internal(set) var incarnation: UInt64 = 0
    /// A random stream for the code running in this process, reset at every boot to a stream
    /// determined by the world's seed, `id` and `incarnation` (so the process's choices do not
    /// depend on what the rest of the world drew).
    public var random: SimRandom
    /// Anything the boot closure wants kept alive for this incarnation (typically the
    /// protocol stack that owns the transports). Cleared by `crash`: a crash loses memory.
    public var state: AnyObject?

    /// The world this process lives in (not retained). Boot closures should reach the world
    /// through here rather than capture it: the world keeps its processes, so a boot closure
    /// that captures the world strongly makes a reference cycle and the world is never freed.
    public unowned let world: SimWorld
    // Unchecked for the reason given at SimWorld's stored properties.
    @exclusivity(unchecked) var up = false
    let boot: (SimProcess) -> Void
    /// Open transports, in bind order. Few per process, so a linear search is fastest.
    @exclusivity(unchecked) var bound: [SimTransport] = []
    var nextEphemeralPort: UInt16 = SimProcess.ephemeralPorts.lowerBound
    /// Partition group label; processes talk only within one label while partitioned.
    @exclusivity(unchecked) var partitionGroup: Int = 0

    /// Ports handed out for `makeTransport(port: 0)`, as on Linux.
    public static let ephemeralPorts: ClosedRange<UInt16> = 49152...65535

    init(world: SimWorld, id: Int, name: String, boot: @escaping (SimProcess) -> Void) {
        self.world = world
        self.id = id
        self.ip = SimWorld.ipBase &+ UInt32(truncatingIfNeeded: id + 1)
        self.name = name
        self.boot = boot
        self.random = SimRandom(seed: world.seed, stream: SimWorld.processStream(id: id, incarnation: 0))
    }

    /// The address of `port` on this host.
    public func address(port: UInt16) -> Address { Address(ip: ip, port: port) }

    /// The addresses of this process's open transports, in bind order.
    public var boundAddresses: [Address] { bound.map(\.localAddress) }

    /// True when a transport of this process is bound to `port`.
    public func isBound(port: UInt16) -> Bool { transport(port: port) != nil }

    /// Binds a new transport to `port` on this host; port 0 picks a free ephemeral port.
    ///
    /// The process must be up and the port free: binding a port twice is a bug in the
    /// simulated program, so it traps rather than failing quietly. A restarted process may
    /// rebind the ports of its previous incarnation (the crash closed them).
    public func makeTransport(port: UInt16 = 0) -> SimTransport {
        precondition(isUp, "SimProcess \(name): makeTransport while down")
        let chosen = port == 0 ? freeEphemeralPort() : port
        precondition(!isBound(port: chosen), "SimProcess \(name): port \(chosen) already bound")
        let transport = world.openTransport(process: self, port: chosen)
        bound.append(transport)
        return transport
    }

    func transport(port: UInt16) -> SimTransport? {
        for t in bound where t.localAddress.port == port { return t }
        return nil
    }

    func unbind(_ transport: SimTransport) {
        if let i = bound.firstIndex(where: { $0 === transport }) { bound.remove(at: i) }
    }

    private func freeEphemeralPort() -> UInt16 {
        let range = SimProcess.ephemeralPorts
        for _ in 0..<range.count {
            let candidate = nextEphemeralPort
            nextEphemeralPort = candidate == range.upperBound ? range.lowerBound : candidate + 1
            if !isBound(port: candidate) { return candidate }
        }
        preconditionFailure("SimProcess \(name): no free ephemeral port")
    }
}
