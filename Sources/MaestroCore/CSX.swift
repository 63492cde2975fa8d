import Ensemble

/// Client/server members with high-level state transfer (`Maestro_CSX`), in the
/// single-threaded, asynchronous style of the seed program:
///
/// - `stateTransferCallback(xferID)` runs when this member must (re)start pulling the state;
///   it resets the state and calls the non-blocking `getState(xferID, request)`;
/// - the oldest server gets `askStateCallback(origin, xferID, request)` and answers with
///   `sendState(origin, xferID, state)` (or streams a large state with
///   `sendState(to:xferID:chunks:)`);
/// - the joiner gets `gotStateCallback(xferID, state)` and calls `xferDone(xferID)`, or
///   `xferCanceledCallback(xferID)` if the transfer was abandoned (a later
///   `stateTransferCallback` restarts it with a new id).
///
/// If the provider leaves or fails mid-transfer, the request goes to the next server
/// transparently. Transfer ids expire at every (re)start and on completion: calls with a
/// stale id are ignored or answered with `.terminated`.
///
/// **No transfer of a state the member already holds.** Each server keeps `stateDigest`, a
/// 64-bit name of the lineage of its state. The coordinator of every view, if it is a server in
/// normal state, publishes its digest as of the start of the view in the view message; a
/// server that lost a merge (it is not a server in the merged view, asks to be one again, and
/// the next view lists it as receiving state) compares it with its own digest as of the start
/// of that same view, and if they are equal it skips the transfer: no `stateTransferCallback`,
/// no `askStateCallback` at the provider; it reports XFER_DONE at once and is a server in the
/// view after. So partitions that split and merge again without applying anything in between
/// do not move the state again. The rule:
///
/// - a server that holds no state from a transfer (it started the group alone, was admitted
///   with `.noXfer`, or finished a transfer without receiving a state) takes a fresh random
///   digest: a new lineage, shared with nobody (two groups that never met never match);
/// - a joiner that receives a state adopts the provider's digest as of the `sendState` call
///   and the provider's deliveries of that view so far (sent with the state, inside CSX's
///   framing: with the single message, or with the first chunk of a streamed state); from the
///   start of a transfer (`stateTransferCallback`, where the application resets its state)
///   until the state arrives it has no digest, and neither has a client. A provider that has a
///   multicast of its own still waiting to go out (held for the transfer, say) sends no
///   digest: its state may include that message, which the joiner will also receive (not
///   with self-delivery, where the application applies its own multicasts at delivery);
/// - every message delivered to the application (`csxReceive{Cast,Scast,Lsend,Send}Callback`)
///   is counted, per view, by origin: the number of its multicasts delivered and a mix of their
///   positions in its FIFO stream, and the sends. A member's own multicasts: over a stack with
///   Local or total order (`selfDelivering`) they are delivered to it like any other and
///   counted then; otherwise they count as delivered to it when they go out, if it would keep
///   them had another member sent them (the application applies its own when it makes them).
///   When the next view starts, the ended view's id and these counts are folded into the
///   digest (FNV-1a, if anything was delivered). Members that went through the same views and
///   were delivered the same messages in each end with the same digest; a send, or an lsend or
///   scast that reaches one member and not the other, makes them differ (conservatively: they
///   transfer);
/// - `stateChanged()` gives a fresh digest; leaving the group forgets it.
///
/// What it relies on: the application's replicated state changes only through the messages
/// delivered to it (each applied whatever the member's role at the time, also while it is a
/// client after losing a merge), through its own multicasts (applied when it makes them, or
/// at their delivery with self-delivery) and
/// through the state it receives; and `sendState` sends the state as it is at the call (a
/// chunk producer must stream that snapshot). An application that changes its state otherwise
/// (a timer, a local input, a message it chooses to ignore, a state it received but could not
/// install) must call `stateChanged()` then. Digests that differ only cost a transfer; equal
/// digests of different states (a 64-bit collision, odds about 2^-64 per comparison) would
/// skip a needed one.
open class CSX: ClientServer {
    /// The single outstanding request of a joiner.
    struct Outstanding {
        var provider: EndpID
        var request: Message
        var xferID: XferID
        /// Chunks of a streamed state received so far.
        var chunks = 0
        /// The provider's digest stamp (with the first chunk of a streamed state).
        var stamp: DigestStamp?
    }

    /// A state streamed to one joiner, chunk by chunk, as the window allows.
    final class OutboundStream {
        let joiner: EndpID
        let xferID: XferID
        let next: (Int) -> Message?
        /// The provider's digest when the application handed the state over (sent with the
        /// first chunk).
        let stamp: DigestStamp
        var index = 0
        var done = false
        var started = false
        /// The producer tells the end by returning nil: one chunk is read ahead to know
        /// whether the one being sent is the last.
        var lookahead: Message?
        init(joiner: EndpID, xferID: XferID, stamp: DigestStamp, next: @escaping (Int) -> Message?) {
            self.joiner = joiner
            self.xferID = xferID
            self.stamp = stamp
            self.next = next
        }
    }

    private var outstanding: Outstanding?
    private var streams: [OutboundStream] = []
    private var accumulated: Message?
    private var pumpScheduled = false
    /// Names the stream pump in slow-callback reports (set at the first pump).
    private var pumpLabel = ""
    /// The lineage of my state at the start of the current view (`tallyView`); nil when I hold
    /// no state I can vouch for (see the class comment).
    private var lineage: UInt64?
    /// What was delivered to the application in `tallyView` so far. Updated once per delivered
    /// message; unchecked exclusivity (no access to it ever overlaps another: one thread, and
    /// no callback runs inside its mutations) keeps that update at a few nanoseconds.
    @exclusivity(unchecked) private var tally = DeliveryTally()
    private var tallyView: ViewID?
    /// What `csxPrimaryChangedCallback` said last (a member starts outside the primary).
    private var toldPrimary = false

    public override init(_ options: MaestroOptions, shell: (any MaestroShell)? = nil) {
        super.init(options, shell: shell)
    }

    // MARK: The application's calls

    /// Asks the oldest server for the state, without blocking: `gotStateCallback` or
    /// `xferCanceledCallback` follows. Returns `.terminated` at once if `xferID` is stale or
    /// this member is not receiving state; throws if a request is already outstanding (issue
    /// the next one after the reply). The blocking form of the original does not exist in this
    /// single-threaded runtime.
    @discardableResult
    public func getState(_ xferID: XferID, _ requestMsg: Message) throws -> XferStatus {
        guard xferID == currentXferID, clsvState == .serverXfer else { return .terminated }
        guard outstanding == nil else {
            throw MaestroError("getState: a request is already outstanding; ask again after gotStateCallback")
        }
        guard let provider = clsvViewData?.servers.first else { return .terminated }
        outstanding = Outstanding(provider: provider, request: requestMsg, xferID: xferID)
        accumulated = nil
        try ask(provider, requestMsg, xferID)
        return .ok
    }

    private func ask(_ provider: EndpID, _ request: Message, _ xferID: XferID) throws {
        var m = request
        m << xferID
        try askState(provider, m)
    }

    /// Answers a state request with the whole state in one message.
    public func sendState(_ destination: EndpID, _ xferID: XferID, _ stateMsg: Message) {
        var m = stateMsg
        m << currentStamp()
        m << xferID
        do { try sendStateMessage(destination, m) } catch { logger.warning("\(error)") }
    }

    /// Answers a state request with a state streamed in chunks: `next(maxBytes)` is called
    /// whenever the window to `destination` has room, returns the next chunk (at most
    /// `maxBytes`, the `stateChunkBytes` option), and nil after the last one. Memory stays
    /// bounded by the window whatever the size of the state, and the loop keeps running
    /// between chunks (heartbeats are never late).
    public func sendState(to destination: EndpID, xferID: XferID, chunks next: @escaping (Int) -> Message?) {
        streams.removeAll { $0.joiner == destination }
        streams.append(OutboundStream(joiner: destination, xferID: xferID, stamp: currentStamp(), next: next))
        schedulePump()
    }

    /// Maestro's hook for the application's own state reset (Maestro never calls it; the seed
    /// program calls it itself). A server that resets its state outside a transfer must also
    /// call `stateChanged()`.
    open func resetState() {}

    /// Tells CSX that the application changed its replicated state other than by applying a
    /// delivered message or installing a received state (a timer, a local input, a message it
    /// ignored, a reset): this server's state now starts a new lineage, and it will pull the
    /// state again after a merge instead of taking its old digest for the group's. Cheap; call
    /// it at every such change. No effect on a member that holds no state.
    public func stateChanged() {
        guard lineage != nil else { return }
        lineage = shell.randomBits()
        tally.clearDeliveries()
    }

    /// The name of the state this server holds now: the lineage at the start of the view with
    /// this view's deliveries so far folded in (nil: no state; see the class comment). Two
    /// servers with the same digest hold the same state.
    public override final var stateDigest: UInt64? {
        guard let l = lineage else { return nil }
        guard let v = tallyView, tally.deliveredAny else { return l }
        return tally.fold(into: l, view: v)
    }

    /// My stamp for a state I send now. None (no lineage) while a multicast of mine waits to
    /// go out: the state may include it already (applied when it was made), and the joiner
    /// would then get it again on top.
    private func currentStamp() -> DigestStamp {
        DigestStamp(view: tallyView ?? ViewID(ltime: 0, coordinator: .none), lineage: hasPendingOwnMulticasts ? nil : lineage,
                    tally: tally)
    }

    /// A state with `stamp` has arrived complete: it is mine now, and so is its lineage (if it
    /// was sent in this very view; otherwise I cannot place it and hold no lineage).
    private func adopt(_ stamp: DigestStamp?) {
        if let stamp, stamp.view == tallyView, let l = stamp.lineage {
            lineage = l
            tally.adopt(stamp)
        } else {
            lineage = nil
            tally.clearDeliveries()
        }
    }

    // MARK: Callbacks (override)

    /// The state transfer must be (re)started. Default: finish at once without state.
    open func stateTransferCallback(_ xferID: XferID) { xferDone(xferID) }
    /// A joiner asks for the state; answer with `sendState`.
    open func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {}
    /// The reply to `getState`.
    open func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {}
    /// One chunk of a streamed state (`index` from 0; after a change of provider it starts at
    /// 0 again). Default: collect the chunks and call `gotStateCallback` with all of them at
    /// the end; override to consume a large state chunk by chunk.
    open func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 { accumulated = Message() }
        guard (accumulated?.count ?? 0) + chunk.count <= options.maxPendingStateBytes else {
            logger.error("state transfer canceled: the state exceeds maxPendingStateBytes (\(options.maxPendingStateBytes)); override gotStateChunkCallback to take it chunk by chunk")
            accumulated = nil
            outstanding = nil
            lineage = nil
            xferCanceledCallback(currentXferID)
            return
        }
        accumulated?.push(raw: chunk.bytes)
        if isLast {
            var whole = accumulated ?? Message()
            accumulated = nil
            gotStateCallback(xferID, &whole)
        }
    }
    /// The outstanding request was abandoned; `xferID` is the new current id (as Maestro).
    open func xferCanceledCallback(_ xferID: XferID) {}

    /// This member entered or left the primary partition (`viewData.primaryFlag`; `Maestro_Prim`'s
    /// primarity-lost callback, in both directions). Leaving: when a view is accepted, before
    /// its `csxAcceptedViewCallback` (a new view is never primary before every member has
    /// installed it). Entering: later in a view decided primary (`viewData.decidedPrimary`),
    /// once the Primary layer confirms it; or before `csxAcceptedViewCallback` if the
    /// confirmation came first. A member starts outside the primary. Only stacks with the
    /// Primary layer (the `Primary` property, with `primary_expected`) have primary views.
    ///
    /// Outside the primary a replicated service should refuse updates (its state will be
    /// replaced at the merge): when partitions merge, Heal makes the primary side's coordinator
    /// the coordinator of the merged view, so the primary side's servers stay servers and the
    /// others take their state, never the other way round.
    open func csxPrimaryChangedCallback(_ viewData: CSXViewData) {}
    open func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func csxReceiveScastCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func csxReceiveLsendCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func csxReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {}
    open func csxViewMsgCallback(_ viewData: CSXViewData, _ msg: inout Message) {}
    open func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {}
    open func csxBlockCallback() {}
    open func csxExitCallback() {}
    /// Every `heartbeatRate` while not blocked; `elapsed`: the time since the first view.
    open func csxHeartbeatCallback(_ elapsed: Duration) {}

    // MARK: Client/server plumbing

    override func viewStarting(_ viewData: GroupMemberViewData) {
        guard viewData.viewID != tallyView else { return }
        if let l = lineage, let v = tallyView, tally.deliveredAny { lineage = tally.fold(into: l, view: v) }
        tally = DeliveryTally(members: viewData.members, me: viewData.myEndpID)
        tallyView = viewData.viewID
        if lineage == nil && clsvState == .serverNormal { lineage = shell.randomBits() }
    }

    override var tracksDeliveries: Bool { true }

    @inline(__always) override func noteMulticast(rank: Rank, origin: EndpID, delivered: Bool) {
        tally.multicast(rank: rank, origin: origin, delivered: delivered)
    }

    @inline(__always) override func noteSend(rank: Rank, origin: EndpID) {
        tally.send(rank: rank, origin: origin)
    }

    override func viewAccepted(_ vd: ClSvViewData, _ msg: inout Message) {
        if vd.startXfer {
            // The application resets its state now: no lineage until a state arrives.
            lineage = nil
            tally.clearDeliveries()
            // Single-threaded: the transfer callback runs inline on the loop.
            stateTransferCallback(currentXferID)
        }
        if let o = outstanding {
            if clsvState != .serverXfer || o.xferID != currentXferID {
                // Abandoned (my provider went with every other server): a restart gets a new id.
                if o.xferID == currentXferID { currentXferID.value += 1 }
                outstanding = nil
                accumulated = nil
                lineage = nil
                xferCanceledCallback(currentXferID)
            } else if !vd.servers.contains(o.provider), let next = vd.servers.first {
                // The provider is gone: the same request goes to the next (oldest) server.
                outstanding?.provider = next
                outstanding?.chunks = 0
                accumulated = nil
                try? ask(next, o.request, o.xferID)
            }
        }
        streams.removeAll { !vd.xferServers.contains($0.joiner) }
        // A server without a state from a transfer starts a lineage of its own.
        if lineage == nil && clsvState == .serverNormal { lineage = shell.randomBits() }
        if vd.primaryFlag != toldPrimary {
            toldPrimary = vd.primaryFlag
            csxPrimaryChangedCallback(vd)
        }
        csxAcceptedViewCallback(vd, &msg)
    }

    override func primaryConfirmed() {
        super.primaryConfirmed()
        guard !toldPrimary, let vd = clsvViewData else { return }
        toldPrimary = true
        csxPrimaryChangedCallback(vd)
    }

    override func rcvAskState(_ origin: EndpID, _ msg: inout Message) {
        guard let id = try? msg.pop(XferID.self) else { return }
        askStateCallback(origin, id, &msg)
    }

    override func rcvState(_ origin: EndpID, _ msg: inout Message) {
        guard let id = try? msg.pop(XferID.self), let o = outstanding, o.xferID == id, id == currentXferID,
              o.provider == origin else { return }  // stale or from a replaced provider: dropped
        guard let stamp = try? msg.pop(DigestStamp.self) else {
            droppedMalformed("dropped a state without a digest stamp from \(origin)")
            return
        }
        outstanding = nil
        adopt(stamp)
        gotStateCallback(id, &msg)
    }

    override func rcvStateChunk(_ origin: EndpID, _ msg: inout Message) {
        guard let id = try? msg.pop(XferID.self), let index = try? msg.pop(Int64.self), let last = try? msg.pop(Bool.self),
              let o = outstanding, o.xferID == id, id == currentXferID, o.provider == origin, Int(index) == o.chunks else { return }
        if index == 0 {
            // The first chunk carries the provider's digest stamp.
            guard let stamp = try? msg.pop(DigestStamp.self) else {
                droppedMalformed("dropped a first state chunk without a digest stamp from \(origin)")
                return
            }
            outstanding?.stamp = stamp
        }
        outstanding?.chunks += 1
        if last {
            adopt(outstanding?.stamp)
            outstanding = nil
        }
        gotStateChunkCallback(id, &msg, index: Int(index), isLast: last)
    }

    open override func outgoingDrained() {
        super.outgoingDrained()
        if !streams.isEmpty { schedulePump() }
    }

    /// Pumps from the loop, never from inside a callback: inside one, the stack has not yet
    /// handled the sends already made, so the window would not stop the pump.
    private func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        if pumpLabel.isEmpty { pumpLabel = "state transfer stream of \(label)" }
        // A strong capture until the timer fires (a weak one would slow every retain of self).
        shell.schedule(after: .zero, label: pumpLabel) { [self] in
            self.pumpScheduled = false
            self.pumpStreams()
        }
    }

    /// Sends chunks while nothing waits for the window (so at most a window's worth plus one
    /// chunk is buffered); resumed by `outgoingDrained` when the window has room again.
    private func pumpStreams() {
        let size = options.stateChunkBytes
        var progress = true
        while progress && pendingSends == 0 {
            progress = false
            for s in streams where !s.done && pendingSends == 0 {
                if !s.started {
                    s.started = true
                    s.lookahead = s.next(size)
                }
                var chunk = s.lookahead ?? Message()  // an empty state: one empty, last chunk
                let following = s.lookahead == nil ? nil : s.next(size)
                let last = following == nil
                if s.index == 0 { chunk << s.stamp }
                chunk << last
                chunk << Int64(s.index)
                chunk << s.xferID
                do { try sendStateMessage(s.joiner, chunk, type: .stateChunk) } catch {
                    // The joiner left or the send failed locally: abandon this stream.
                    logger.warning("state stream to \(s.joiner) abandoned: \(error)")
                    s.done = true
                    continue
                }
                s.index += 1
                s.lookahead = following
                if last { s.done = true }
                progress = true
            }
            streams.removeAll { $0.done }
        }
    }

    // MARK: Client/server callbacks, renamed for CSX

    public final override func clSvReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) { csxReceiveCastCallback(origin, &msg) }
    public final override func clSvReceiveScastCallback(_ origin: EndpID, _ msg: inout Message) { csxReceiveScastCallback(origin, &msg) }
    public final override func clSvReceiveLsendCallback(_ origin: EndpID, _ msg: inout Message) { csxReceiveLsendCallback(origin, &msg) }
    public final override func clSvReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) { csxReceiveSendCallback(origin, &msg) }
    public final override func clSvViewMsgCallback(_ viewData: ClSvViewData, _ msg: inout Message) { csxViewMsgCallback(viewData, &msg) }
    public final override func clSvAcceptedViewCallback(_ viewData: ClSvViewData, _ msg: inout Message) {
        csxAcceptedViewCallback(viewData, &msg)
    }
    public final override func clSvBlockCallback() { csxBlockCallback() }
    public final override func clSvHeartbeatCallback(_ elapsed: Duration) { csxHeartbeatCallback(elapsed) }
    public final override func clSvExitCallback() {
        outstanding = nil
        streams.removeAll()
        accumulated = nil
        lineage = nil
        tally = DeliveryTally()
        tallyView = nil
        toldPrimary = false
        csxExitCallback()
    }
}
