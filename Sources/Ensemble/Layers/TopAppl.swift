/// Top_appl: the bridge to the application (Ensemble's `top_appl.ml`). Hands deliveries to
/// the application, calls its heartbeat, turns window-full signals from below into
/// `SendResult.full` and `writable` calls, and takes part in the flush: it counts the
/// application's casts and sends, calls `block()` when the view is about to change (sends are
/// refused from then on), and holds the member's `.blockOk` until it has delivered every
/// message the flush (`.syncInfo`) says it must.
///
/// Under an ordering layer (Seqbb) the counts it reports for the flush are that layer's: it
/// sends them up (`.applCounts`) just before each `.block` and `.fail`, because what it has
/// received, not what it has delivered, is what the survivors must agree on; and it hands up
/// `.syncInfo` only once it has delivered what the flush expects. With it, the application
/// also receives its own casts (at their place in the order).
public final class TopAppl: Layer {
    /// On casts and sends: a message belongs to the application, or (passed through) to a
    /// layer above Top_appl.
    enum Header: UInt8, LayerHeader, ByteHeader {
        case application = 1

        static var carriers: MessageKinds { [.cast, .send] }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            try decode(byte: tag, field: "Top_appl header")
        }
    }

    private let port: LayerPort
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    public let rank: Rank
    private let count: Int
    private let view: ViewState
    private let heartbeatRate: Time
    private let maxMessage: Int

    /// Messages the application sent and received in this view, for the flush.
    public private(set) var castsSent = 0
    // Unchecked exclusivity: never re-entered (see Mnak).
    @exclusivity(unchecked) public private(set) var sendsSent: [Int]
    @exclusivity(unchecked) public private(set) var castsReceived: [Int]
    @exclusivity(unchecked) public private(set) var sendsReceived: [Int]

    enum Blocking { case unblocked, blocked, flushing, flushed }

    private var castsBlocked = false
    private var sendsBlocked = RankSet()
    private var blocking = Blocking.unblocked
    private var blocked: Bool { blocking != .unblocked }
    private var failed = RankSet()
    private var expectations: (casts: [Int], sends: [Int])?
    /// The cast counts an ordering layer below reported for the flush (nil: none below).
    private var castCountsBelow: [Int]?
    private var leaving = false
    private var nextHeartbeat = Time.zero
    private var exited = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.services = services
        rank = setup.rank
        count = setup.count
        view = setup.view
        heartbeatRate = try setup.params.time("heartbeat_rate", default: .seconds(1))
        maxMessage = try setup.params.int("max_message", default: 64 << 20)
        guard heartbeatRate > .zero else { throw ParameterError("heartbeat_rate must be positive") }
        sendsSent = Array(repeating: 0, count: setup.count)
        castsReceived = Array(repeating: 0, count: setup.count)
        sendsReceived = Array(repeating: 0, count: setup.count)
    }

    // MARK: Calls from the application (through the endpoint)

    func applicationCast(_ payload: Packet) -> SendResult {
        if exited || leaving { return .rejected("the member has left") }
        if payload.count > maxMessage { return .rejected("a message of \(payload.count) bytes exceeds max_message (\(maxMessage))") }
        if blocked { return .blocked }
        if castsBlocked { return .full }
        var p = payload
        p.push(Header.application)
        castsSent += 1
        port.down(.cast(p, peer: rank, flags: .application))
        return .sent
    }

    func applicationSend(_ payload: Packet, to peer: Rank) -> SendResult {
        if exited || leaving { return .rejected("the member has left") }
        guard peer >= 0 && peer < count else { return .rejected("rank \(peer) is not in the view of \(count)") }
        guard peer != rank else { return .rejected("a member cannot send to itself") }
        if payload.count > maxMessage { return .rejected("a message of \(payload.count) bytes exceeds max_message (\(maxMessage))") }
        if blocked { return .blocked }
        if sendsBlocked.contains(peer) { return .full }
        var p = payload
        p.push(Header.application)
        sendsSent[peer] += 1
        port.down(.send(p, peer: peer, flags: .application))
        return .sent
    }

    func applicationControl(_ event: Event) {
        if case .leave = event { leaving = true }
        port.down(event)
    }

    // MARK: Handlers

    public func up(_ event: consuming Event) {
        switch consume event {
        case .initialize(let now):
            port.up(.initialize(now))
            services.application?.install(view: view, rank: rank)
            nextHeartbeat = now
            port.down(.timer(now))
        case .cast(var p, let peer, let flags):
            guard case .application? = port.receive(Header.self, &p, .cast, from: peer, flags: flags, members: count) else { return }
            castsReceived[peer] += 1
            services.application?.receiveCast(from: peer, p)
            if blocking == .flushing { checkFlushed() }
        case .send(var p, let peer, let flags):
            guard case .application? = port.receive(Header.self, &p, .send, from: peer, flags: flags, members: count) else { return }
            sendsReceived[peer] += 1
            services.application?.receiveSend(from: peer, p)
            if blocking == .flushing { checkFlushed() }
        case .timer(let now):
            if now >= nextHeartbeat && !blocked && !exited {
                nextHeartbeat = now + heartbeatRate
                port.down(.timer(nextHeartbeat))
                services.application?.heartbeat(now: now)
            }
            port.up(.timer(now))
        case .async:
            if !blocked && !exited { services.application?.heartbeat(now: nextHeartbeat - heartbeatRate) }
        case let .flowControl(isBlocked, peer):
            if let peer {
                if isBlocked { sendsBlocked.insert(peer) } else if sendsBlocked.contains(peer) {
                    sendsBlocked.remove(peer)
                    services.application?.writable(peer: peer)
                }
            } else if isBlocked != castsBlocked {
                castsBlocked = isBlocked
                if !isBlocked { services.application?.writable(peer: nil) }
            }
        case let .applCounts(casts, _) where casts.count == count:
            castCountsBelow = casts  // from an ordering layer: reported in its place
        case .block:
            port.up(counts)
            port.up(.block)
        case let .fail(f):
            failed.formUnion(f)
            port.up(counts)
            port.up(.fail(f))
            checkFlushed()
        case let .syncInfo(casts, sends):
            expectations = (casts, sends)
            checkFlushed()
            port.up(.syncInfo(casts: casts, sends: sends))
        case let .blockOk(contact):
            guard blocking == .blocked else {
                port.up(.blockOk(contact: contact))
                return
            }
            blocking = .flushing
            checkFlushed()
        case .exit:
            exited = true
            port.up(.exit)  // a leave ends with the endpoint calling the application's exit
        case let other:
            port.up(other)
        }
    }

    /// What the flush needs from me: casts received per origin (mine: sent) and sends sent.
    private var counts: Event {
        if let below = castCountsBelow { return .applCounts(casts: below, sends: sendsSent) }
        var casts = castsReceived
        casts[rank] = castsSent
        return .applCounts(casts: casts, sends: sendsSent)
    }

    /// Lets `.blockOk` go up once every message the flush expects has been delivered.
    private func checkFlushed() {
        guard blocking == .flushing, let e = expectations, e.casts.count == count, e.sends.count == count else { return }
        for j in 0 ..< count where j != rank {
            if castsReceived[j] < e.casts[j] { return }
            if !failed.contains(j) && sendsReceived[j] < e.sends[j] { return }
        }
        blocking = .flushed
        port.up(.blockOk(contact: nil))
    }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .block:
            if blocking == .unblocked {
                if !leaving { services.application?.block() }
                blocking = .blocked
            }
            port.down(.block)
        case let other:
            port.passDown(other, Header.self)
        }
    }
}
