import Ensemble
import Logging

/// The `Transport` of the protocol stack over a real UDP socket on a reactor.
///
/// `localAddress` is the address the others reach this member at: the bound address, or,
/// for a socket bound to every interface (0.0.0.0), the advertised one. It is never 0.0.0.0.
public final class UDPTransport: Transport {
    private let reactor: Reactor
    private var socket: UDPSocket?
    private var wakeTimer: LoopTimer?
    private var idleWatcher: IdleWatcher?
    /// Not retained, and not weak either (a weak reference would make every retain of the
    /// delegate slow): a delegate must clear it before it goes away, as `GroupEndpoint` does.
    public unowned(unsafe) var delegate: (any TransportDelegate)?
    public let localAddress: Address
    /// Fault injection (soak tests, partition benchmarks): datagrams from an address for which
    /// this returns true are dropped on arrival.
    public var dropIncoming: ((Address) -> Bool)?
    /// The same for datagrams sent to an address.
    public var dropOutgoing: ((Address) -> Bool)?
    /// Observation hook (tests, traces): sees every datagram handed to `send`.
    public var sendTap: ((UnsafeRawBufferPointer, Address) -> Void)?
    /// Datagrams dropped by the fault hooks.
    public private(set) var injectedDrops: UInt64 = 0
    /// Names the transport's socket, timer and idle watcher in logs and slow-callback reports
    /// (for a member: its endpoint and group).
    public var label: String {
        didSet { applyLabel() }
    }

    /// Opens a UDP socket bound to `address` (port 0: ephemeral).
    /// - Parameter advertise: the IP the others reach this socket at, when it differs from
    ///   the bound one (a socket bound to 0.0.0.0). Without it, a socket bound to 0.0.0.0
    ///   advertises the address of the default route (127.0.0.1 if there is none).
    public init(reactor: Reactor, bind address: Address = .loopback(port: 0), advertise: UInt32? = nil,
                maxDatagram: Int = 65536, batch: Int = 16, label: String = "") throws(SocketError) {
        self.reactor = reactor
        var deliver: ((UnsafeRawBufferPointer, Address) -> Void)?
        let socket = try UDPSocket(reactor: reactor, bind: address, maxDatagram: maxDatagram, batch: batch) { bytes, from in
            deliver?(bytes, from)
        }
        self.socket = socket
        let bound = socket.localAddress
        let ip = advertise ?? (bound.ip == 0 ? LocalAddress.defaultRouteSource() : bound.ip)
        localAddress = Address(ip: ip, port: bound.port)
        self.label = label
        deliver = { [unowned self] bytes, from in
            if let drop = self.dropIncoming, drop(from) {
                self.injectedDrops &+= 1
                return
            }
            self.delegate?.transport(self, received: bytes, from: from)
        }
        wakeTimer = LoopTimer(reactor) { [unowned self] in
            self.delegate?.transportWake(self, now: self.reactor.now)
        }
        idleWatcher = IdleWatcher(reactor) { [unowned self] in
            self.delegate?.transportWillIdle(self)
        }
        applyLabel()
    }

    private func applyLabel() {
        let owner = label.isEmpty ? "UDP \(localAddress)" : label
        socket?.label = owner
        wakeTimer?.label = "protocol timers of \(owner)"
        idleWatcher?.label = owner
    }

    /// The socket's send failures by reason, on one line ("none" if there were none).
    public var sendFailureSummary: String { socket?.sendFailureSummary ?? "none" }

    deinit { close() }

    public var now: Time { reactor.now }

    /// The underlying socket's counters.
    public var udpSocket: UDPSocket? { socket }

    @discardableResult
    public func send(_ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool {
        sendTap?(datagram, destination)
        if let drop = dropOutgoing, drop(destination) {
            injectedDrops &+= 1
            return true  // lost in the "network", as far as the sender can tell
        }
        return socket?.send(datagram, to: destination) ?? false
    }

    public func wake(at time: Time) {
        guard let wakeTimer else { return }
        if time == .never { wakeTimer.cancel() } else { wakeTimer.schedule(at: time) }
    }

    public func requestIdleCallback() { idleWatcher?.arm() }

    public func close() {
        socket?.close()
        socket = nil
        wakeTimer?.cancel()
        wakeTimer = nil
        idleWatcher?.disarm()
        idleWatcher = nil
    }
}
