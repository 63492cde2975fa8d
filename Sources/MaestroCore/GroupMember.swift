import Ensemble
import Logging

/// One member of one group (`Maestro_GroupMember`): joins and leaves, casts and sends, and
/// receives views, messages, block, heartbeat and exit through overridable callbacks.
///
/// With each view the coordinator may attach a view message (`grpMembViewMsgCallback`); every
/// member's `grpMembAcceptedViewCallback` gets it, and until it does, messages of the new view
/// are held (the original delivered them under the previous view; here they wait for the
/// view they belong to). Messages sent after `block` go out in the next view
/// (`SendView.nextView`), once that view is accepted; messages sent while the flow-control
/// window is full wait for room. A view whose view message never comes (its coordinator
/// failed before sending it) is skipped: by virtual synchrony no survivor got the view message,
/// hence none got anything its members sent after accepting it, and every survivor drops the
/// same (empty) set.
///
/// Every callback runs on the shell's loop, one at a time. The shell (`MaestroShell`) is the
/// libev runtime of the calling thread unless one is given: the simulator gives its own.
///
/// The engine's calls (`GroupApplication`: install, receive, block, heartbeat, exit) reach the
/// member through a private adapter (`EngineAdapter`), as the original kept its dispatchers
/// private: a subclass sees only the `grpMemb…Callback` methods.
open class GroupMember {
    enum MemberState { case bogus, joining, normal, leaving }
    enum MessageType: Int32 { case data = 0, view = 1 }

    public let options: MaestroOptions
    /// Where the member's clock, transport and deferred calls come from.
    public let shell: any MaestroShell
    public private(set) var endpoint: GroupEndpoint?
    private var transport: (any Transport)?
    /// Receives the engine's calls for this member (owned here; the endpoint holds it unowned).
    private lazy var adapter = EngineAdapter(self)
    let logger: Logger
    var memberState = MemberState.bogus

    /// The view data of the last view accepted at Maestro level.
    public private(set) var viewData: GroupMemberViewData?
    private var ensembleView: ViewState?
    private var pendingView: GroupMemberViewData?
    private var heldIncoming: [(cast: Bool, origin: EndpID, rank: Rank, message: Message)] = []
    /// The rank, in the current view, of the origin of the message being delivered (set just
    /// before each receive callback): ClientServer's delivery accounts are kept by rank.
    var deliveryRank: Rank = -1
    private var outgoing: [(destination: EndpID?, bytes: [UInt8])] = []
    private var heartbeatOrigin: Time?
    /// Between `block` and the acceptance of the next view.
    private var blocked = false
    /// The stack blocked the pending view before its view message came: the application is
    /// told right after it accepts that view (the block belongs to it), or never if the view
    /// is skipped. So every accepted view sees exactly one block before the next one.
    private var blockOfPendingView = false
    /// Views installed by the stack whose view message never came (see the type's comment).
    public private(set) var skippedViews = 0

    /// - Parameter shell: nil (the default): the libev runtime of the calling thread.
    public init(_ options: MaestroOptions, shell: (any MaestroShell)? = nil) {
        self.options = options
        self.shell = shell ?? DefaultShell.resolve()
        logger = Logger(label: "maestro.\(options.groupName)")
    }

    /// The member's status dump: view and every counter, drops by reason included.
    public var status: String {
        guard let endpoint else { return "\(options.groupName): not joined" }
        var lines = [endpoint.status]
        if let transport, let line = shell.transportStatus(transport) { lines.append(line) }
        lines.append("maestro: malformed=\(malformedMessages) skipped_views=\(skippedViews) held_incoming=\(heldIncoming.count) pending_sends=\(outgoing.count)")
        return lines.joined(separator: "\n")
    }

    /// The engine's interface to this member, for harnesses that feed it events directly (the
    /// fuzzer): `@_spi(Engine) import MaestroCore`. Not part of the API a daemon uses.
    @_spi(Engine) public var engineInterface: any GroupApplication { adapter }

    /// The member's transport (nil before join and after exit).
    public var memberTransport: (any Transport)? { transport }

    /// The address the others reach this member at (nil before join and after exit).
    public var localAddress: Address? { transport?.localAddress }

    /// "member <endpoint> of group <name>" (from join): names the member in logs and in
    /// slow-callback reports.
    public private(set) var label = ""

    /// My endpoint id (nil until joined).
    public var myEndpID: EndpID? { endpoint?.id }

    /// True from `block` until the next view is accepted at Maestro level: what is sent now
    /// goes out in that view, under its rules.
    public var awaitingView: Bool { blocked || pendingView != nil }

    /// True between join and exit.
    /// Whether this member is in the primary partition: its view was decided primary and is
    /// confirmed (`GroupMemberViewData.primaryFlag`; always false without the Primary layer).
    public var isPrimary: Bool { viewData?.primaryFlag ?? false }

    public var isJoined: Bool { memberState == .normal || memberState == .joining }

    /// Joins the group. Returns after the first view (a singleton: every member starts alone
    /// and finds the others through the gossip rendezvous). Throws on bad options.
    open func join() throws {
        guard memberState == .bogus else { throw MaestroError("join: this member has already joined") }
        try options.validate()
        let gossip = options.gossip.isEmpty ? [try shell.rendezvous()]
            : try options.gossip.map { try GossipAddress(parsing: $0).resolve(with: shell) }
        let t: any Transport
        do {
            t = try shell.openTransport(bind: options.bind, port: options.port, rendezvous: gossip, label: "member of group \(options.groupName)")
        } catch {
            throw MaestroError("join: \(error)")
        }
        var params = try Parameters(parsing: options.params)
        if params["heartbeat_rate"] == nil { params["heartbeat_rate"] = .time(Time(options.heartbeatRate)) }
        let e = try GroupEndpoint(id: shell.newEndpointID(at: t.localAddress),
                                  group: GroupID(options.groupName), transport: t, protocolStack: try options.stack(),
                                  params: params, application: adapter, gossip: gossip,
                                  key: try options.key.map { k throws(KeyError) in
                                      try GroupKey(secret: k, protection: options.encrypt ? .encryption : .mac)
                                  }, logger: logger)
        label = "member \(e.id) of group \(options.groupName)"
        shell.name(t, label)
        transport = t
        endpoint = e
        e.membershipObserver = { [logger] note in
            switch note {
            case let .issuedFail(v, r, f): logger.debug("view \(v.ltime): as rank \(r), fail \(f)")
            case let .issuedView(v, r, next): logger.debug("view \(v.ltime): as rank \(r), next view \(next.ltime) of \(next.count)")
            case let .acceptedFail(v, f): logger.debug("view \(v.ltime): failed \(f)")
            case let .acknowledgedLeave(v, r): logger.debug("view \(v.ltime): rank \(r) leaves")
            }
        }
        memberState = .joining
        shell.suspicionTime(Suspect.suspicionTime(params))
        shell.memberJoined(self)
        do { try e.join() } catch { throw MaestroError("join: \(error)") }
    }

    /// Leaves the group; `grpMembExitCallback` follows (asynchronously).
    open func leave() {
        guard memberState == .normal || memberState == .joining else { return }
        memberState = .leaving
        outgoing.removeAll()
        endpoint?.leave()
    }

    /// Multicasts `msg` to the other members.
    @discardableResult
    open func cast(_ msg: Message) -> SendView {
        var m = msg
        m << MessageType.data.rawValue
        return transmit(m.bytes, to: nil)
    }

    /// Sends `msg` to `destination`.
    @discardableResult
    open func send(_ destination: EndpID, _ msg: Message) -> SendView {
        transmit(msg.bytes, to: destination)
    }

    /// Everything this member dropped, by reason (zero before join).
    public var dropCounts: DropCounts {
        var d = DropCounts()
        if let endpoint {
            let c = endpoint.counters
            d.malformed = c.malformed
            d.badMAC = c.badMAC
            d.foreignGroup = c.foreignGroup
            d.staleView = c.unknownView
            d.badSender = c.badSender
            d.malformedHeaders = endpoint.drops.malformedHeaders
            d.overLimit = endpoint.drops.overLimit
        }
        d = d + endpointDropsBefore
        d.maestroMalformed = UInt64(malformedMessages)
        return d
    }

    /// Maestro-level messages from members that could not be decoded (dropped).
    public private(set) var malformedMessages = 0
    /// What earlier endpoints of this member dropped (a member may join again after exit).
    private var endpointDropsBefore = DropCounts()

    /// Counts a dropped message; logs the 1st, 2nd, 4th, 8th... so a faulty peer cannot
    /// flood the log.
    func droppedMalformed(_ what: @autoclosure () -> String) {
        malformedMessages += 1
        if malformedMessages & (malformedMessages - 1) == 0 {
            logger.warning("\(what()) (\(malformedMessages) such drops so far)")
        }
    }

    /// Reports members that look faulty.
    public func suspect(_ members: [EndpID]) {
        guard memberState == .normal, let v = ensembleView else { return }
        endpoint?.suspect(RankSet(members.compactMap { v.rank(of: $0) }))
    }

    /// Asks for a view change (only the coordinator's request has an effect).
    public func requestNewView() { endpoint?.prompt() }

    /// Asks to switch to another protocol stack at the next view.
    public func changeProtocol(_ protocolStack: String) { endpoint?.changeProtocol(protocolStack) }

    // MARK: Callbacks (override; the defaults do nothing)

    open func grpMembReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func grpMembReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {}
    /// At the coordinator only: push what every member should get with the new view.
    open func grpMembViewMsgCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {}
    open func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {}
    open func grpMembBlockCallback() {}
    open func grpMembExitCallback() {}
    /// Every `heartbeatRate` while not blocked; `elapsed`: the time since the member's first view.
    open func grpMembHeartbeatCallback(_ elapsed: Duration) {}

    // MARK: Sending

    func transmit(_ bytes: [UInt8], to destination: EndpID?) -> SendView {
        switch memberState {
        case .leaving: return .unspecified  // dropped silently while leaving, as Maestro
        case .bogus:
            logger.error("\(options.groupName): cannot send before join (message dropped)")
            return .unspecified
        case .joining, .normal: break
        }
        if !outgoing.isEmpty || pendingView != nil {
            outgoing.append((destination, bytes))
            return .nextView
        }
        switch tryTransmit(bytes, to: destination) {
        case .sent: return .currentView
        case .blocked:
            outgoing.append((destination, bytes))
            return .nextView
        case .full:
            outgoing.append((destination, bytes))
            return .currentView
        case .rejected:
            return .unspecified
        }
    }

    private func tryTransmit(_ bytes: [UInt8], to destination: EndpID?) -> SendResult {
        guard let endpoint else { return .rejected("not joined") }
        let packet = bytes.withUnsafeBytes { Packet(payload: $0) }
        guard let destination else {
            let result = endpoint.cast(packet)
            if result == .sent { castTransmitted(bytes) }
            return result
        }
        guard let rank = ensembleView?.rank(of: destination) else {
            logger.info("send to \(destination): not a member of the current view (dropped)")
            return .rejected("unknown destination")
        }
        return endpoint.send(to: rank, packet)
    }

    /// Sends what waited (for the next view, or for room in the window), in order.
    func flushOutgoing() {
        guard pendingView == nil else { return }  // sent once the view is accepted
        while let (destination, bytes) = outgoing.first {
            switch tryTransmit(bytes, to: destination) {
            case .sent, .rejected: outgoing.removeFirst()
            case .blocked, .full: return
            }
        }
        outgoingDrained()
    }

    /// Called when every waiting message has been handed to the stack (room in the window
    /// again): subclasses that stream data resume here.
    open func outgoingDrained() {}

    /// Messages waiting to be sent.
    public var pendingSends: Int { outgoing.count }

    /// Whether a cast of mine waits to be sent (for the next view, or for room).
    var hasOutgoingCasts: Bool { outgoing.contains { $0.destination == nil } }

    /// A cast of mine (a view message or data, framed as `cast`/`install` frame them) was just
    /// accepted by the stack in the current view: ClientServer accounts for it here.
    func castTransmitted(_ bytes: [UInt8]) {}

    // MARK: The engine's calls (through EngineAdapter)

    func engineInstall(_ view: ViewState, rank: Rank) {
        let vd = GroupMemberViewData(view: view, rank: rank, previous: viewData)
        if let skipped = pendingView {
            skippedViews += 1
            logger.info("view \(skipped.viewID) ended before its view message came: skipped (\(heldIncoming.count) held messages dropped)")
            pendingView = nil
            heldIncoming.removeAll()
        }
        blockOfPendingView = false
        ensembleView = view
        if memberState == .joining { memberState = .normal }
        if rank == 0 {
            var msg = Message()
            grpMembViewMsgCallback(vd, &msg)
            if memberState != .leaving {
                var announce = msg
                announce << view.id
                announce << vd.myEndpID
                announce << MessageType.view.rawValue
                _ = tryTransmit(announce.bytes, to: nil)
            }
            accept(vd, msg)
        } else {
            pendingView = vd
        }
    }

    private func accept(_ vd: GroupMemberViewData, _ msg: Message) {
        let blockedAlready = blockOfPendingView
        pendingView = nil
        blockOfPendingView = false
        blocked = blockedAlready
        viewData = vd
        if heartbeatOrigin == nil { heartbeatOrigin = shell.now }
        var m = msg
        grpMembAcceptedViewCallback(vd, &m)
        if !blockedAlready { flushOutgoing() }
        deliverHeld()
        if blockedAlready { grpMembBlockCallback() }
    }

    private func deliverHeld() {
        let held = heldIncoming
        heldIncoming.removeAll()
        for var h in held {
            deliveryRank = h.rank
            if h.cast { grpMembReceiveCastCallback(h.origin, &h.message) } else { grpMembReceiveSendCallback(h.origin, &h.message) }
        }
    }

    func engineReceiveCast(from origin: Rank, _ payload: Packet) {
        guard let v = ensembleView, origin < v.count else { return }
        let who = v.members[origin]
        var msg = payload.withBytes { Message(copying: $0) }
        guard let type = try? msg.pop(Int32.self) else {
            droppedMalformed("dropped a malformed cast from \(who)")
            return
        }
        switch MessageType(rawValue: type) {
        case .data:
            if pendingView != nil {
                heldIncoming.append((true, who, origin, msg))
            } else {
                deliveryRank = origin
                grpMembReceiveCastCallback(who, &msg)
            }
        case .view:
            receivedViewMessage(msg, from: who)
        case nil:
            droppedMalformed("dropped a cast of unknown type \(type) from \(who)")
        }
    }

    private func receivedViewMessage(_ msg: Message, from sender: EndpID) {
        var m = msg
        guard let endpoint = try? m.pop(EndpID.self), let id = try? m.pop(ViewID.self) else {
            droppedMalformed("dropped a malformed view message from \(sender)")
            return
        }
        guard let pending = pendingView else { return }  // stale, or mine
        if id.ltime < pending.viewID.ltime { return }
        guard id == pending.viewID, endpoint == pending.coordinator, sender == pending.coordinator else {
            droppedMalformed("dropped an inconsistent view message from \(sender) for \(id)")
            return
        }
        accept(pending, m)
    }

    func engineReceiveSend(from origin: Rank, _ payload: Packet) {
        guard let v = ensembleView, origin < v.count else { return }
        let who = v.members[origin]
        var msg = payload.withBytes { Message(copying: $0) }
        if pendingView != nil {
            heldIncoming.append((false, who, origin, msg))
        } else {
            deliveryRank = origin
            grpMembReceiveSendCallback(who, &msg)
        }
    }

    func engineBlock() {
        blocked = true
        if pendingView != nil {
            // The block of a view not accepted yet: its view message may still come during
            // the flush (keep holding); the application hears of the block after that view.
            blockOfPendingView = true
            return
        }
        grpMembBlockCallback()
    }

    func engineHeartbeat(now: Time) {
        let origin = heartbeatOrigin ?? now
        grpMembHeartbeatCallback((now - origin).duration)
    }

    func engineWritable() { flushOutgoing() }

    /// The current (Ensemble) view, decided primary, is confirmed: the member's view data says
    /// so from now on (or from its acceptance, if its view message has not come yet).
    func enginePrimaryConfirmed() {
        if pendingView != nil {
            pendingView?.primaryFlag = true
            return
        }
        guard viewData?.primaryFlag == false else { return }
        viewData?.primaryFlag = true
        primaryConfirmed()
    }

    /// The accepted view became primary (its confirmation came after the view was accepted):
    /// ClientServer and CSX update their view data and tell the application.
    func primaryConfirmed() {}

    /// The rank of `member` in the current (Ensemble) view.
    func rank(of member: EndpID) -> Rank? { ensembleView?.rank(of: member) }

    /// Stops this member dead, as a crash would: no leave, no more callbacks; the others
    /// find out by suspicion. For tests of failures inside one process.
    func crash() {
        endpoint?.application = nil
        detach()
    }

    func engineExit() {
        detach()
        grpMembExitCallback()
    }

    /// Drops the endpoint, its socket and every view and message state (keeping the drop
    /// counts for the status dump).
    private func detach() {
        memberState = .bogus
        endpointDropsBefore = dropCounts
        endpointDropsBefore.maestroMalformed = 0
        // Exit comes from inside the endpoint (a datagram or a timer of its own): keep it and
        // its transport alive until the loop comes round, so nothing on the stack is freed.
        let retired = (endpoint, transport, adapter)
        shell.schedule(after: .zero, label: "release of an exited member") { withExtendedLifetime(retired) {} }
        endpoint = nil
        transport?.close()
        transport = nil
        shell.memberGone(self)
        ensembleView = nil
        pendingView = nil
        blocked = false
        blockOfPendingView = false
        heldIncoming.removeAll()
        outgoing.removeAll()
    }
}
