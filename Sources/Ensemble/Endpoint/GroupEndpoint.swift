import Logging

/// One member of one group: owns the protocol stacks of its views, connects them to a
/// `Transport` (real UDP or the simulator) and to the application.
///
/// Sans-IO: it never opens a socket or reads a clock; everything arrives through the
/// transport's delegate calls, all on one thread.
///
/// Here: the life cycle of its views and the application's calls. The transport's side
/// (datagrams in and out, alarms) is in GroupEndpoint+Transport, the status text in
/// GroupEndpoint+Status, notices to stale incarnations in IncarnationNotices.
public final class GroupEndpoint {
    public static let maxDatagram = 65507

    public let id: EndpointID
    public let group: GroupID
    public let transport: any Transport
    public let protocolStack: String
    public let params: Parameters
    /// Not retained (the application usually owns its endpoint) and not weak (a weak reference
    /// makes every retain of the application slow on the delivery path): an application that
    /// goes away before its endpoint must set this to nil first.
    public unowned(unsafe) var application: (any GroupApplication)?
    @exclusivity(unchecked) public internal(set) var counters = EndpointCounters()
    /// Batch the messages of one loop turn into one datagram per destination.
    public let batching: Bool
    /// Largest batched datagram (`batch_max_bytes`).
    let batchBytes: Int
    let logger: Logger
    private let registry: LayerRegistry

    private(set) var hosts: [StackHost] = []
    /// Where coordinators gossip (rendezvous servers), set at creation.
    public let gossipServers: [Address]
    /// The group's key: every datagram is authenticated with it (nil: none).
    public let key: GroupKey?
    /// True once this endpoint has left the group (or was never joined).
    public private(set) var hasLeft = false
    var gossipScratch = WireWriter(capacity: 256)
    /// When a notice last went to each address (see `sendNotice`).
    var noticesSent: [Address: Time] = [:]
    private let shared = EndpointSharedState()
    private var leaveRequested = false
    /// The wake-up asked of the transport (never: none), and whether an idle callback is.
    var wakeTime = Time.never
    var idleRequested = false
    /// The last datagram sealed.
    var sealCache = SealCache()
    /// Datagrams for a view not installed yet, replayed when it is.
    var early = EarlyDatagrams()
    /// When set, every event of every stack is reported (debugging; costly).
    public var tracer: ((_ view: ViewID, _ layer: String, _ up: Bool, _ event: Event) -> Void)? {
        didSet { for h in hosts { traceStack(of: h) } }
    }

    private func traceStack(of host: StackHost) {
        guard let tracer else {
            host.stack?.tracer = nil
            return
        }
        let vid = host.view.id
        host.stack?.tracer = { layer, up, event in tracer(vid, layer, up, event) }
    }

    public init(id: EndpointID, group: GroupID, transport: any Transport, protocolStack: String,
                params: Parameters = Parameters(), application: any GroupApplication, gossip: [Address] = [],
                key: GroupKey? = nil, registry: LayerRegistry = .standard, logger: Logger? = nil) throws(ParameterError) {
        gossipServers = gossip
        self.key = key
        self.id = id
        self.group = group
        self.transport = transport
        self.protocolStack = protocolStack
        self.params = params
        self.application = application
        self.registry = registry
        batching = try params.bool("batching", default: true)
        batchBytes = min(GroupEndpoint.maxDatagram, max(512, try params.int("batch_max_bytes", default: 8192)))
        self.logger = logger ?? Logger(label: "ensemble.endpoint")
        transport.delegate = self
    }

    deinit {
        if transport.delegate === self { transport.delegate = nil }
    }

    // MARK: Views

    /// The view of the newest stack.
    public var view: ViewState? { hosts.last?.view }
    public var rank: Rank? { hosts.last?.rank }

    /// Starts in `view` (which must contain this endpoint), or alone in a singleton view.
    public func join(view initial: ViewState? = nil) throws(StackError) {
        let v = initial ?? ViewState.singleton(group: group, protocolStack: protocolStack, endpoint: id,
                                               address: transport.localAddress, params: Parameters(), now: transport.now)
        try install(v)
    }

    private func install(_ v: ViewState, silently: Bool = false) throws(StackError) {
        guard let rank = v.rank(of: id) else { throw .missingLayer("a view that contains this endpoint") }
        let host = StackHost(endpoint: self, view: v, rank: rank)
        host.silent = silently
        let setup = LayerSetup(view: v, rank: rank, params: params.merging(v.params), now: transport.now, shared: shared)
        try host.build(setup: setup, registry: registry)
        traceStack(of: host)
        hosts.append(host)
        logger.debug("view \(v.ltime) by \(v.coordinator): \(v.count) members, rank \(rank)\(silently ? " (leaving: silent)" : "")")
        host.stack?.injectUp(.initialize(transport.now))
        for e in early.take(view: host.viewHash) { e.bytes.withUnsafeBytes { receiveDatagram($0, from: e.source) } }
    }

    /// Events leaving the top of a stack: the next view, or the end of a stack.
    func stackEmitted(_ event: Event, from host: StackHost) {
        switch event {
        case let .view(nv):
            // Only the newest stack may move the endpoint on, once per view.
            guard host === hosts.last, !hasLeft, nv.ltime > host.view.ltime || nv.id != host.view.id,
                  nv.rank(of: id) != nil else { return }
            do {
                // A leaving member was put in this view before its Leave arrived: it follows
                // the view without telling the application, and leaves it in turn.
                try install(nv, silently: leaveRequested)
                if leaveRequested { hosts.last?.topAppl?.applicationControl(.leave) }
            } catch {
                logger.error("cannot build the stack for view \(nv.id): \(error)")
            }
        case .exit:
            host.flushAll()
            host.exited = true
            let wasNewest = host === hosts.last
            hosts.removeAll { $0 === host }
            if wasNewest && leaveRequested && !hasLeft {
                // The leave is complete: the older stacks end too (each is then the newest
                // left, but the application hears of the exit once).
                hasLeft = true
                for h in hosts { h.stack?.injectDown(.exit, at: 0) }
                alarmsChanged()
                application?.exit()
                return
            } else if hosts.isEmpty && !hasLeft {
                // The newest stack ended without a leave (its next view could not be built):
                // start again alone rather than fall silent; gossip brings the group back.
                logger.error("the stack of view \(host.view.id) ended without a next view; joining again as a singleton")
                do { try join() } catch { logger.error("cannot rejoin: \(error)") }
            }
            alarmsChanged()
        default:
            break
        }
    }

    // MARK: The application's calls

    /// Multicasts `payload` to the other members of the current view.
    @discardableResult
    public func cast(_ payload: Packet) -> SendResult {
        guard let appl = hosts.last?.topAppl else { return .rejected("not joined") }
        return appl.applicationCast(payload)
    }

    @discardableResult
    public func cast(_ bytes: [UInt8]) -> SendResult { cast(Packet(payload: bytes)) }

    /// Sends `payload` to the member of rank `destination` in the current view.
    @discardableResult
    public func send(to destination: Rank, _ payload: Packet) -> SendResult {
        guard let appl = hosts.last?.topAppl else { return .rejected("not joined") }
        return appl.applicationSend(payload, to: destination)
    }

    @discardableResult
    public func send(to destination: Rank, _ bytes: [UInt8]) -> SendResult {
        send(to: destination, Packet(payload: bytes))
    }

    /// Asks for a view change.
    public func prompt() { hosts.last?.topAppl?.applicationControl(.prompt) }

    /// Reports members that look faulty.
    public func suspect(_ ranks: RankSet) { hosts.last?.topAppl?.applicationControl(.suspect(ranks, reason: "application")) }

    /// Asks for a switch to another protocol stack at the next view.
    public func changeProtocol(_ protocolStack: String) { hosts.last?.topAppl?.applicationControl(.protocolSwitch(protocolStack)) }

    /// Leaves the group: announces the departure and keeps serving retransmissions until the
    /// others have acknowledged it (at most `leave_timeout`); then `exit` is called on the
    /// application.
    public func leave() {
        guard !leaveRequested, !hasLeft else { return }
        leaveRequested = true
        hosts.last?.topAppl?.applicationControl(.leave)
    }

    /// The newest stack, for tests and status dumps.
    public var currentStack: Stack? { hosts.last?.stack }

    /// Messages the layers dropped (malformed headers, over a resource limit).
    public var drops: DropCounters { shared.drops }

    /// Sees every membership decision this endpoint makes or accepts (the simulator's
    /// checker of coordinator determinism and failure monotonicity uses it).
    public var membershipObserver: ((MembershipNote) -> Void)? {
        get { shared.observer }
        set { shared.observer = newValue }
    }
}
