import Ensemble

/// A group member that is a client or a server (`Maestro_ClSv`): servers hold the replicated
/// state and a joining server pulls it from them (state transfer). The roles live at this
/// level; every member is an ordinary group member.
///
/// Each view carries the server lists (in the coordinator's view message). A server joining a
/// group with servers asks the coordinator to become one (BECOME_SERVER); the next view lists
/// it as a transfer server, and messages whose safety is below the view's transfer type are
/// held at their senders until the transfers are done (XFER_DONE), then released in order.
///
/// **When no server is left** (every server failed or left while others waited for the state,
/// or a merge put servers under a coordinator whose side had none), one holder becomes the
/// server and the others take the state from it, instead of all becoming servers with states
/// that may differ: each member waiting to be a server tells the coordinator whether it holds a
/// state (it was a server before, or finished its transfer); the first that does becomes the
/// server; if none does, once every one has said so, the first of them.
///
/// **With the Primary layer** the state lives with the primary partition: once the group has
/// had a primary view, a member holding no state is never made a server in a view that is not
/// primary (neither alone nor when no server is left): it waits, as a transfer server, for a
/// view with a holder. A member that joined during a primary view and was cut off before its
/// transfer would otherwise found a fresh, empty state that could win the merge (Heal makes
/// the side with the newer primary lineage the merged view's coordinator, and its servers
/// keep their state; see `csxPrimaryChangedCallback`).
///
/// A subclass that can name the lineage of its replicated state (`stateDigest`, CSX) lets a
/// server that lost a merge skip a transfer it does not need: the coordinator publishes its
/// digest with every view, and a member about to receive state whose digest equals it reports
/// XFER_DONE at once instead (see `stateDigest`).
open class ClientServer: GroupMember {
    enum ClSvType: Int32 {
        case cast = 0, scast = 1, lsend = 2, send = 3, becomeServer = 4, xferDone = 5, askState = 6, sendState = 7
        case stateChunk = 8
        /// To the coordinator, from a member waiting to be a server in a view with no server
        /// left: it holds a state (it was a server, or finished its transfer) or it does not.
        case holdsState = 9, holdsNoState = 10
    }

    public internal(set) var clsvState = ClSvState.initial
    /// The current state transfer's id (`Maestro_XferID`): it changes at every (re)start of
    /// this member's transfer and at its end, so `xferDone` with a stale id does nothing.
    public internal(set) var currentXferID = XferID(0)
    /// The last view data delivered.
    public internal(set) var clsvViewData: ClSvViewData?
    var serversNext: [EndpID] = []
    var xferServersNext: [EndpID] = []
    var viewTypeNext = XferType.noXfer
    /// Messages held because their safety is below the view's transfer type, or because they
    /// were sent while the next view was awaited (its type is not known yet). FIFO.
    private var held: [(destination: EndpID?, message: Message, safety: MessageSafety)] = []
    /// Transfers this member did not run because its state digest equalled the coordinator's.
    public private(set) var transfersSkipped = 0
    /// I hold a state I can serve: I was a server, or my transfer ended (from
    /// `serverNormal` or `xferDone` until a transfer starts again).
    var holdsState = false
    /// Coordinator: the transfer servers of the current view, and those of them that said they
    /// hold no state while no server is left (see `noServerLeft`).
    var xferOfView: [EndpID] = []
    var stateless: Set<EndpID> = []
    /// Coordinator, same: those that hold a state, with its lineage.
    var holders: [EndpID: ViewID?] = [:]
    /// The primary view in which my state was last the group's (I was a server in it, or took
    /// my state while it lasted, or from a server of a view descending from it): nil before
    /// the group's first primary, or without the Primary layer.
    var stateLineage: ViewID?

    public override init(_ options: MaestroOptions, shell: (any MaestroShell)? = nil) {
        super.init(options, shell: shell)
    }

    open override func join() throws {
        guard clsvState == .initial else { throw MaestroError("join: this member has already joined") }
        selfDelivering = LayerRegistry.selfDelivers(try options.stack())
        clsvState = .joining
        do { try super.join() } catch {
            clsvState = .initial
            throw error
        }
    }

    open override func leave() {
        clsvState = .leaving
        held.removeAll()
        super.leave()
    }

    /// Whether this member's casts (cast, scast, lsend) are delivered to it, as to every other
    /// member: its stack has Local or total order (Seqbb). Then the application applies its own
    /// updates when they are delivered (at the place the order gives them), not when it makes
    /// them, and CSX counts them at delivery. Set at `join`.
    public private(set) var selfDelivering = false

    /// Whether this member asked to be a server.
    public var isServer: Bool { options.membershipType == .server }
    public var isClient: Bool { options.membershipType == .client }
    /// Messages held until the transfer in progress ends.
    public var heldMessages: Int { held.count }

    /// A name for the replicated state this member holds, or nil if it holds none it can
    /// vouch for. Two members with the same digest hold the same state. Here: nil (plain
    /// client/server members know nothing of their state, and always transfer); CSX overrides
    /// it with the lineage of its state (CSX.swift).
    ///
    /// With a digest, the coordinator of a view that is a server in normal state publishes its
    /// own digest (as of the start of the view) in the view message; a server entering the
    /// transfer (a server that lost a merge and asked to be one again) whose digest, at the
    /// start of the same view, is equal skips the transfer: it reports XFER_DONE at once and is
    /// a server in the next view, without `stateTransferCallback` or a state request.
    open var stateDigest: UInt64? { nil }

    /// A view starts (its view message is being made, or it is accepted): CSX closes the
    /// previous view's accounts here, so that `stateDigest` names the state at the start of
    /// the view. Called once or twice per view (idempotent).
    func viewStarting(_ viewData: GroupMemberViewData) {}
    /// One client/server multicast from the member of rank `rank` in the current view (every
    /// cast, scast and lsend reaching this member, in the view's FIFO order from that origin,
    /// and my own as they go out), and whether it was delivered to the application. Called
    /// before the application's callback.
    func noteMulticast(rank: Rank, origin: EndpID, delivered: Bool) {}
    /// A send from `origin`, of rank `rank`, delivered to the application (before its callback).
    func noteSend(rank: Rank, origin: EndpID) {}
    /// Whether this member accounts for its deliveries (`noteMulticast`, `noteSend`): CSX does.
    var tracksDeliveries: Bool { false }

    /// Whether a multicast of mine is waiting to go out (held for the transfer, or by the
    /// group member for the next view or for room): the application may have applied it to its
    /// state already, and its position in my stream is not known yet.
    /// (Never with self-delivery: the application applies its multicasts when they come back.)
    var hasPendingOwnMulticasts: Bool {
        !selfDelivering && (hasOutgoingCasts || held.contains { $0.destination == nil })
    }

    /// Whether this member keeps a multicast of `type` (`dests`: its destinations, for scast
    /// and lsend): the same rule for what others send and for what I send (without Local or
    /// total order casts are not delivered to their sender, and CSX counts a member's own
    /// multicasts as delivered to it when they go out, by this rule).
    private func keeps(_ type: ClSvType, _ dests: [EndpID]) -> Bool {
        guard let me = myEndpID else { return false }
        switch type {
        case .cast: return true
        case .scast:
            let vd = clsvViewData
            return vd?.servers.contains(me) == true || vd?.xferServers.contains(me) == true || dests.contains(me)
        case .lsend: return dests.contains(me)
        default: return false
        }
    }

    /// One of my casts went out in this view: it takes the next place in my multicast stream
    /// (counted at its delivery instead when my casts come back to me).
    override func castTransmitted(_ bytes: [UInt8]) {
        guard tracksDeliveries, !selfDelivering, let vd = viewData else { return }
        let (me, id) = (vd.myRank, vd.myEndpID)
        var m = Message(bytes: bytes)
        guard (try? m.pop(Int32.self)) == GroupMember.MessageType.data.rawValue else { return }  // a view message
        guard let raw = try? m.pop(Int32.self), let type = ClSvType(rawValue: raw) else {
            noteMulticast(rank: me, origin: id, delivered: false)
            return
        }
        let dests = type == .scast || type == .lsend ? (try? m.pop([EndpID].self)) : []
        noteMulticast(rank: me, origin: id, delivered: dests.map { keeps(type, $0) } ?? false)
    }

    // MARK: Sending

    @discardableResult
    open override func cast(_ msg: Message) -> SendView { cast(msg, MessageOptions()) }

    /// Multicast to every member.
    @discardableResult
    open func cast(_ msg: Message, _ ops: MessageOptions) -> SendView {
        var m = msg
        m << ClSvType.cast.rawValue
        return deliverOrHold(m, to: nil, safety: ops.safety)
    }

    /// Multicast kept by the servers, the transfer servers and `ops.destinations`.
    @discardableResult
    open func scast(_ msg: Message, _ ops: MessageOptions = MessageOptions()) -> SendView {
        var m = msg
        m << ops.destinations
        m << ClSvType.scast.rawValue
        return deliverOrHold(m, to: nil, safety: ops.safety)
    }

    /// Multicast kept only by `ops.destinations`.
    @discardableResult
    open func lsend(_ msg: Message, _ ops: MessageOptions) -> SendView {
        var m = msg
        m << ops.destinations
        m << ClSvType.lsend.rawValue
        return deliverOrHold(m, to: nil, safety: ops.safety)
    }

    @discardableResult
    open override func send(_ destination: EndpID, _ msg: Message) -> SendView { send(destination, msg, MessageOptions()) }

    @discardableResult
    open func send(_ destination: EndpID, _ msg: Message, _ ops: MessageOptions) -> SendView {
        var m = msg
        m << ClSvType.send.rawValue
        return deliverOrHold(m, to: destination, safety: ops.safety)
    }

    /// Sends now if `safety` is at least the current view's transfer type; else holds. While
    /// the next view is awaited every message is held: that view's type decides.
    private func deliverOrHold(_ m: Message, to destination: EndpID?, safety: MessageSafety) -> SendView {
        if awaitingView {
            held.append((destination, m, safety))
            return .nextView
        }
        let viewType = clsvViewData?.viewType ?? .noXfer
        if safety.level < viewType {
            held.append((destination, m, safety))
            return .currentView
        }
        return raw(m, to: destination)
    }

    /// Sends a fully headed ClSv message (bypassing the hold).
    func raw(_ m: Message, to destination: EndpID?) -> SendView {
        if let destination { return super.send(destination, m) }
        var c = m
        c << GroupMember.MessageType.data.rawValue
        return transmit(c.bytes, to: nil)
    }

    /// Asks `server` for (a part of) the state. Low-level: CSX's `getState` uses it.
    func askState(_ server: EndpID, _ msg: Message) throws {
        guard clsvViewData?.servers.contains(server) == true else {
            throw MaestroError("askState: \(server) is not a server of the current view")
        }
        var m = msg
        m << ClSvType.askState.rawValue
        _ = raw(m, to: server)
    }

    /// Sends (a part of) the state to a transfer server. Low-level: CSX's `sendState` uses it.
    func sendStateMessage(_ joiner: EndpID, _ msg: Message, type: ClSvType = .sendState) throws {
        guard clsvViewData?.xferServers.contains(joiner) == true else {
            throw MaestroError("sendState: \(joiner) is not receiving state in the current view")
        }
        var m = msg
        m << type.rawValue
        _ = raw(m, to: joiner)
    }

    // MARK: Callbacks (override; the defaults do nothing)

    open func clSvReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func clSvReceiveScastCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func clSvReceiveLsendCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func clSvReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {}
    /// At the coordinator: the user part of the view message (server lists are added after).
    open func clSvViewMsgCallback(_ viewData: ClSvViewData, _ msg: inout Message) {}
    open func clSvAcceptedViewCallback(_ viewData: ClSvViewData, _ msg: inout Message) {}
    open func clSvBlockCallback() {}
    open func clSvExitCallback() {}
    /// Every `heartbeatRate` while not blocked; `elapsed`: the time since the first view.
    open func clSvHeartbeatCallback(_ elapsed: Duration) {}
    /// At a server: a transfer server asks for state (low level; CSX handles it).
    func rcvAskState(_ origin: EndpID, _ msg: inout Message) {}
    /// At a transfer server: state arrived (low level; CSX handles it).
    func rcvState(_ origin: EndpID, _ msg: inout Message) {}
    /// A chunk of a streamed state arrived (low level; CSX handles it).
    func rcvStateChunk(_ origin: EndpID, _ msg: inout Message) {}

    // MARK: The group member's callbacks

    public final override func grpMembViewMsgCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {
        viewStarting(viewData)
        clSvViewMsgCallback(ClSvViewData(base: viewData), &msg)
        msg << serversNext
        msg << xferServersNext
        msg << viewTypeNext.rawValue
        // My digest at the start of this view, if I am a server holding the group's state.
        let published = clsvState == .serverNormal && serversNext.contains(viewData.myEndpID) ? stateDigest : nil
        msg.push(optional: published)
    }

    public final override func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {
        viewStarting(viewData)
        var vd = ClSvViewData(base: viewData)
        let coordinatorDigest: UInt64?
        do { coordinatorDigest = try msg.popOptional(UInt64.self) } catch {
            coordinatorDigest = nil
            droppedMalformed("view \(viewData.viewID): malformed state digest in the view message")
        }
        let typeRaw = (try? msg.pop(Int32.self)) ?? 0
        var xfer = (try? msg.pop([EndpID].self)) ?? []
        var servers = (try? msg.pop([EndpID].self)) ?? []
        let members = Set(viewData.members)
        servers = servers.filter { members.contains($0) }
        xfer = xfer.filter { members.contains($0) && !servers.contains($0) }
        vd.servers = servers
        vd.xferServers = xfer
        vd.viewType = xfer.isEmpty ? .noXfer : (XferType(rawValue: typeRaw) ?? .atomic)
        vd.clients = viewData.members.filter { !servers.contains($0) && !xfer.contains($0) }
        let previous = clsvViewData
        func diff(_ a: [EndpID], _ b: [EndpID]) -> [EndpID] { let sb = Set(b); return a.filter { !sb.contains($0) } }
        vd.newServers = diff(servers, previous?.servers ?? [])
        vd.departedServers = diff(previous?.servers ?? [], servers)
        vd.newXferServers = diff(xfer, previous?.xferServers ?? [])
        vd.departedXferServers = diff(previous?.xferServers ?? [], xfer)
        vd.newClients = diff(vd.clients, previous?.clients ?? [])
        vd.departedClients = diff(previous?.clients ?? [], vd.clients)
        vd.serverCoordinator = servers.first
        vd.oldServerCoordinator = previous?.serverCoordinator
        vd.myXferType = options.xferType
        vd.myMbrshipType = options.membershipType
        vd.myServerRank = servers.firstIndex(of: vd.myEndpID) ?? -1
        vd.myOldServerRank = previous?.myServerRank ?? -1
        vd.oldState = clsvState
        vd.state = clsvState
        serversNext = servers
        xferServersNext = xfer
        viewTypeNext = vd.viewType
        xferOfView = xfer
        stateless = []
        holders = [:]

        let me = vd.myEndpID
        switch clsvState {
        case .joining:
            if options.membershipType == .client { vd.state = .clientNormal } else { becomeServer(&vd) }
        case .becomingServer:
            if servers.contains(me) {
                vd.state = .serverNormal
            } else if xfer.contains(me) {
                if servers.isEmpty && vd.nmembers == 1 && mayFoundState(vd) {
                    finishTransfer(&vd)  // alone: a server at once
                } else if servers.isEmpty {
                    noServerLeft(vd)
                } else if let d = coordinatorDigest, d == stateDigest {
                    // I hold the coordinator's state already (a server that lost a merge and
                    // missed nothing): no transfer.
                    transfersSkipped += 1
                    logger.info("view \(vd.viewID): my state digest equals the coordinator's: state transfer skipped")
                    finishTransfer(&vd)
                } else {
                    vd.state = .serverXfer
                }
            } else {
                becomeServer(&vd)
            }
        case .serverXfer:
            if xfer.contains(me) {
                if servers.isEmpty && vd.nmembers == 1 && mayFoundState(vd) {
                    finishTransfer(&vd)  // alone: a server at once
                } else if servers.isEmpty {
                    // My provider is gone with every other server: the transfer restarts from
                    // the member that becomes the server.
                    vd.state = .becomingServer
                    noServerLeft(vd)
                }
            } else if servers.contains(me) {
                vd.state = .serverNormal
            } else {
                becomeServer(&vd)
            }
        case .serverXferDone:
            if servers.contains(me) { vd.state = .serverNormal } else if xfer.contains(me) { finishTransfer(&vd) } else { becomeServer(&vd) }
        case .serverNormal:
            if !servers.contains(me) { becomeServer(&vd) }
        case .initial, .clientNormal, .leaving:
            break
        }
        vd.startXfer = vd.state == .serverXfer && vd.oldState != .serverXfer
        vd.xferID = currentXferID
        if vd.state == .serverNormal {
            holdsState = true
            if vd.decidedPrimary { stateLineage = vd.viewID }
        }
        if vd.startXfer {
            holdsState = false
            stateLineage = nil
        }
        clsvState = vd.state
        clsvViewData = vd

        // Release or keep what was held for the transfer.
        if clsvState == .leaving {
            held.removeAll()
        } else if !held.isEmpty {
            // Release, in order, what this view's type lets out.
            let out = held
            held.removeAll()
            for h in out {
                if h.safety.level < vd.viewType { held.append(h) } else { _ = raw(h.message, to: h.destination) }
            }
        }
        viewAccepted(vd, &msg)
    }

    /// Between the client/server processing of a view and the application's callback: CSX
    /// starts and cancels transfers here.
    func viewAccepted(_ vd: ClSvViewData, _ msg: inout Message) {
        clSvAcceptedViewCallback(vd, &msg)
    }

    public final override func grpMembReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        guard let raw = try? msg.pop(Int32.self), let type = ClSvType(rawValue: raw) else {
            noteMulticast(rank: deliveryRank, origin: origin, delivered: false)
            droppedMalformed("dropped a cast without a client/server header from \(origin)")
            return
        }
        switch type {
        case .cast:
            noteMulticast(rank: deliveryRank, origin: origin, delivered: true)
            clSvReceiveCastCallback(origin, &msg)
        case .scast, .lsend:
            guard let dests = try? msg.pop([EndpID].self), keeps(type, dests) else {
                noteMulticast(rank: deliveryRank, origin: origin, delivered: false)
                return
            }
            noteMulticast(rank: deliveryRank, origin: origin, delivered: true)
            if type == .scast { clSvReceiveScastCallback(origin, &msg) } else { clSvReceiveLsendCallback(origin, &msg) }
        default:
            noteMulticast(rank: deliveryRank, origin: origin, delivered: false)
            droppedMalformed("dropped a cast of client/server type \(raw) from \(origin)")
        }
    }

    public final override func grpMembReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {
        guard let raw = try? msg.pop(Int32.self), let type = ClSvType(rawValue: raw) else {
            droppedMalformed("dropped a send without a client/server header from \(origin)")
            return
        }
        switch type {
        case .send:
            noteSend(rank: deliveryRank, origin: origin)
            clSvReceiveSendCallback(origin, &msg)
        case .becomeServer:
            let x = (try? msg.pop(Int32.self)).flatMap(XferType.init(rawValue:)) ?? .noXfer
            if clsvViewData?.myRank == 0 { becomeServerRequest(from: origin, xferType: x) }
        case .xferDone:
            if clsvViewData?.myRank == 0 { xferDoneRequest(from: origin) }
        case .holdsState, .holdsNoState:
            let lineage = type == .holdsState ? (try? msg.popOptional(ViewID.self)) ?? nil : nil
            if clsvViewData?.myRank == 0 { stateReport(from: origin, holds: type == .holdsState, lineage: lineage) }
        case .askState:
            rcvAskState(origin, &msg)
        case .sendState:
            rcvState(origin, &msg)
        case .stateChunk:
            rcvStateChunk(origin, &msg)
        case .cast, .scast, .lsend:
            droppedMalformed("dropped a send of client/server type \(raw) from \(origin)")
        }
    }

    /// The accepted view was confirmed primary: so says its view data from now on.
    override func primaryConfirmed() {
        clsvViewData?.base.primaryFlag = true
    }

    public final override func grpMembBlockCallback() { clSvBlockCallback() }
    public final override func grpMembHeartbeatCallback(_ elapsed: Duration) { clSvHeartbeatCallback(elapsed) }
    public final override func grpMembExitCallback() {
        clsvState = .initial
        holdsState = false
        stateLineage = nil
        held.removeAll()
        clsvViewData = nil
        serversNext = []
        xferServersNext = []
        viewTypeNext = .noXfer
        clSvExitCallback()
    }
}
