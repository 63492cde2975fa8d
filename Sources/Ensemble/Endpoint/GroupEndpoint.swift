import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One member of one group: owns the protocol stacks of its views, connects them to a
/// `Transport` (real UDP or the simulator) and to the application.
///
/// Sans-IO: it never opens a socket or reads a clock; everything arrives through the
/// transport's delegate calls, all on one thread.
public final class GroupEndpoint: TransportDelegate {
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
    private var wakeTime = Time.never
    private var idleRequested = false
    /// Where coordinators gossip (rendezvous servers), set at creation.
    public let gossipServers: [Address]
    /// The group's key: every datagram is authenticated with it (nil: none).
    public let key: GroupKey?
    /// True once this endpoint has left the group (or was never joined).
    public private(set) var hasLeft = false
    var gossipScratch = WireWriter(capacity: 256)
    /// When a notice last went to each address (see `sendNotice`).
    var noticesSent: [Address: Time] = [:]
    /// The last datagram sealed, before and after (see `sendDatagram`).
    private var lastPlain: [UInt8] = []
    private var lastSealed: [UInt8] = []
    private let shared = EndpointSharedState()
    /// Datagrams for a view not installed yet (its View message is on its way): replayed when
    /// it is, instead of waiting for a retransmission round. Bounded in count and age.
    private var early: [(view: UInt64, bytes: [UInt8], at: Time, source: Address)] = []
    static let earlyLimit = 256
    static let earlyAge = Time.seconds(2)
    private var leaveRequested = false
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
        let waiting = early.filter { $0.view == host.viewHash }
        if !waiting.isEmpty {
            early.removeAll { $0.view == host.viewHash }
            for e in waiting { e.bytes.withUnsafeBytes { receiveDatagram($0, from: e.source) } }
        }
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

    /// A status dump: identity, view, stacks, and every counter (what was sent and received,
    /// and everything dropped, by reason).
    public var status: String {
        let c = counters
        var lines = ["endpoint \(id) group \(group) \(key.map { $0.protection == .mac ? "authenticated" : "encrypted" } ?? "unauthenticated")"]
        if let v = view, let r = rank {
            lines.append("view \(v.ltime) coordinator \(v.coordinator) rank \(r) of \(v.count); stacks \(hosts.count)")
        } else {
            lines.append(hasLeft ? "left the group" : "not joined")
        }
        lines.append("sent \(c.datagramsSent) datagrams (\(c.bytesSent) bytes, \(c.messagesSent) messages), received \(c.datagramsReceived) datagrams (\(c.bytesReceived) bytes, \(c.messagesReceived) messages)")
        lines.append("dropped: malformed \(c.malformed), bad MAC \(c.badMAC), foreign group \(c.foreignGroup), stale or unknown view \(c.unknownView), bad sender \(c.badSender), misaddressed \(c.misaddressed), malformed headers \(drops.malformedHeaders), over limit \(drops.overLimit); oversized local messages \(c.oversized), send failures \(c.sendFailures)")
        lines.append("notices: sent \(c.noticesSent), received \(c.noticesReceived), stale incarnations found \(c.staleIncarnations)")
        return lines.joined(separator: "\n")
    }

    // MARK: Output

    func messageQueued(flushNow: Bool) {
        if flushNow {
            for h in hosts { h.flushAll() }
        } else if !idleRequested {
            idleRequested = true
            transport.requestIdleCallback()
        }
    }

    /// Sends a datagram; in an authenticated group, it is sealed first (MAC appended, or
    /// encrypted). A cast goes out as the same bytes to every member: the sealed form of the
    /// previous datagram is reused when the bytes are the same (a comparison costs far less
    /// than an HMAC or a cipher).
    func sendDatagram(_ bytes: inout [UInt8], messages: Int, to address: Address) {
        if let key {
            let same = !bytes.isEmpty && bytes.count == lastPlain.count && bytes.withUnsafeBytes { a in
                lastPlain.withUnsafeBytes { b in
                    guard let pa = a.baseAddress, let pb = b.baseAddress else { return false }
                    return memcmp(pa, pb, a.count) == 0
                }
            }
            if same {
                bytes.removeAll(keepingCapacity: true)
                bytes.append(contentsOf: lastSealed)
            } else {
                lastPlain.removeAll(keepingCapacity: true)
                lastPlain.append(contentsOf: bytes)
                key.seal(&bytes)
                lastSealed.removeAll(keepingCapacity: true)
                lastSealed.append(contentsOf: bytes)
            }
            guard !bytes.isEmpty else {
                counters.sendFailures += 1  // sealing refused it (no frame header): never sent in clear
                return
            }
        }
        let ok = bytes.withUnsafeBytes { transport.send($0, to: address) }
        if ok {
            counters.datagramsSent += 1
            counters.bytesSent += UInt64(bytes.count)
            counters.messagesSent += UInt64(messages)
        } else {
            counters.sendFailures += 1
        }
    }

    func sendRaw(_ bytes: [UInt8], to address: Address) {
        if bytes.withUnsafeBytes({ transport.send($0, to: address) }) {
            counters.datagramsSent += 1
            counters.bytesSent += UInt64(bytes.count)
        } else {
            counters.sendFailures += 1
        }
    }

    func countOversized(_ length: Int) {
        counters.oversized += 1
        logger.error("dropped a \(length)-byte message: larger than one datagram (\(GroupEndpoint.maxDatagram) bytes); lower frag_max_len")
    }

    func transmitGossip(_ gossip: Gossip, to address: Address?) {
        gossipScratch.removeAll()
        Frame(kind: .gossip, authenticated: key != nil, group: group.hash, view: 0, sender: 0).encode(into: &gossipScratch)
        gossip.encode(into: &gossipScratch)
        key?.seal(&gossipScratch.bytes)
        let datagram = gossipScratch.bytes
        if let address {
            sendRaw(datagram, to: address)
        } else {
            for server in gossipServers { sendRaw(datagram, to: server) }
        }
    }

    func alarmsChanged() {
        let next = hosts.compactMap(\.alarms.first).min() ?? .never
        if next != wakeTime {
            wakeTime = next
            transport.wake(at: next)
        }
    }

    // MARK: TransportDelegate

    public func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        counters.datagramsReceived += 1
        counters.bytesReceived += UInt64(datagram.count)
        if let key {
            // Checked before anything else is read.
            guard key.open(datagram, { receiveDatagram($0, from: source) }) != nil else {
                counters.badMAC += 1
                return
            }
        } else {
            receiveDatagram(datagram, from: source)
        }
    }

    private func receiveDatagram(_ datagram: UnsafeRawBufferPointer, from source: Address) {
        var r = WireReader(datagram)
        guard let frame = try? Frame.decode(from: &r, maxRank: 1 << 16) else {
            counters.malformed += 1
            return
        }
        guard frame.authenticated == (key != nil) else {
            counters.badMAC += 1  // an authenticated group I have no key for, or a datagram without MAC
            return
        }
        guard frame.group == group.hash else {
            counters.foreignGroup += 1
            return
        }
        if frame.kind == .gossip {
            guard let g = try? Gossip.decode(from: &r), r.isAtEnd else {
                counters.malformed += 1
                return
            }
            hosts.last?.stack?.injectUp(.gossip(g))
            return
        }
        if frame.kind == .notice {
            receivedNotice(&r, view: frame.view, from: source)
            return
        }
        guard let host = hosts.first(where: { $0.viewHash == frame.view }), let stack = host.stack else {
            counters.unknownView += 1
            let now = transport.now
            early.removeAll { now - $0.at > GroupEndpoint.earlyAge }
            if early.count < GroupEndpoint.earlyLimit && !hasLeft { early.append((frame.view, Array(datagram), now, source)) }
            sendNotice(view: frame.view, to: source)
            return
        }
        guard frame.sender < host.view.count, frame.sender != host.rank else {
            counters.badSender += 1
            return
        }
        guard frame.destination == host.rank else {
            // Meant for whoever had this address before me in that view (my previous
            // incarnation): never mine to consume. Tell the sender who answers here.
            counters.misaddressed += 1
            sendNotice(view: frame.view, to: source)
            return
        }
        // One copy of the datagram for all its messages: each message is a slice of it.
        let base = r.offset
        let body = Packet(payload: UnsafeRawBufferPointer(rebasing: datagram[base...]), headroom: 0)
        while !r.isAtEnd {
            guard let length = try? r.readCount(limit: r.remaining), (try? r.skip(length)) != nil else {
                counters.malformed += 1
                return
            }
            counters.messagesReceived += 1
            let end = r.offset - base
            stack.injectUp(.receive(body.slice(end - length ..< end), peer: frame.sender))
        }
    }

    public func transportWake(_ transport: any Transport, now: Time) {
        wakeTime = .never
        for h in hosts where h.takeDueAlarms(now) {
            h.stack?.injectUp(.timer(now))
        }
        alarmsChanged()
    }

    public func transportWillIdle(_ transport: any Transport) {
        idleRequested = false
        for h in hosts { h.flushAll() }
    }
}
