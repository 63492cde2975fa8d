import Ensemble
import MaestroCore
import Simulation

/// A simulated CSX member: a server that holds a `SimReplica`, or a client. Members send
/// updates (casts) and point-to-point messages with random safety; servers answer state
/// requests with their state streamed in chunks; every callback is written to the run's
/// `MaestroHistory` for the checks.
///
/// Over a stack without self-delivery a server applies its own updates when it makes them
/// (casts are not delivered to their sender), so it only sends an update that leaves at once,
/// in the view it was made in; a client's updates may wait (for the next view, for room, or
/// held by the transfer type), which is how held messages are exercised. Over a stack with
/// Local or total order every member's updates may wait, and a server applies its own when
/// they are delivered to it. A joiner keeps the updates delivered while its state is on its
/// way and applies, once the state is installed, those the state lacks.
final class SimServer: CSX {
    let me: MaestroHistory.Member
    private let history: MaestroHistory
    private var rng: SimRandom
    private let blobBytes: Int
    private(set) var replica: SimReplica
    /// Holds a state (a lone server's, or a transferred one) it can serve and compare.
    private(set) var hasState: Bool
    /// Between `stateTransferCallback` and the installed state (or the end of the transfer).
    private(set) var awaitingState = false
    /// Updates delivered while awaiting the state, applied after it.
    private var buffered: [(origin: EndpID, seq: UInt64, value: UInt64)] = []
    private var incoming: SimReplica.Incoming?
    private var castSeq: UInt64 = 0
    private var sendSeq: UInt64 = 0
    private(set) var exited = false
    /// What `csxPrimaryChangedCallback` said last.
    private var toldPrimary = false
    private(set) var leaving = false

    init(me: MaestroHistory.Member, history: MaestroHistory, options: CSXOptions, shell: SimShell, blobBytes: Int) {
        self.me = me
        self.history = history
        self.blobBytes = blobBytes
        rng = shell.process.random.split()
        replica = SimReplica(blobBytes: blobBytes)
        hasState = options.membershipType == .server
        super.init(options, shell: shell)
    }

    var isActive: Bool { isJoined && !leaving && !exited }

    private func note(_ e: MaestroHistory.Event) { history.record(me, e) }

    /// A callback arrived: none may come after exit.
    private func callback(_ name: String) {
        if exited { history.violation("callback after exit", "\(me): \(name) after its exit callback") }
    }

    // MARK: Traffic

    /// Sends one update or one point-to-point message if it may.
    func sendOne() {
        guard isActive, let vd = clsvViewData, let myID = myEndpID else { return }
        let safety = [MessageSafety.generic, .safe, .xfer][rng.int(in: 0 ..< 3)]
        let filler = rng.chance(0.9) ? rng.int(in: 0 ..< 200) : rng.int(in: 200 ..< 6000)
        let others = vd.members.filter { $0 != myID }
        if isServer && !selfDelivering {
            // Only what leaves now, in this view (the update is applied here now).
            guard hasState, !awaitingState, !awaitingView, pendingSends == 0, heldMessages == 0,
                  safety.rawValue >= vd.viewType.rawValue, clsvState == .serverNormal || clsvState == .clientNormal
            else { return }
        }
        if !others.isEmpty && rng.chance(0.2) {
            let to = others[rng.int(in: 0 ..< others.count)]
            var m = Message()
            m.push(raw: [UInt8](repeating: 0x5A, count: filler))
            m << sendSeq
            m << safety.rawValue
            sendSeq += 1
            send(to, m, MessageOptions(safety: safety))
            return
        }
        let value = rng.next()
        var m = Message()
        m.push(raw: [UInt8](repeating: 0xA5, count: filler))
        m << value
        m << castSeq
        m << safety.rawValue
        let seq = castSeq
        castSeq += 1
        let result = cast(m, MessageOptions(safety: safety))
        if result != .unspecified { note(.made(seq)) }
        if isServer && !selfDelivering && result != .unspecified { replica.apply(origin: myID, seq: seq, value: value) }
        if heldMessages > 0 { note(.held) }
    }

    func simLeave() {
        guard isActive else { return }
        leaving = true
        note(.leave)
        leave()
    }

    // MARK: Views

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {
        callback("accepted view")
        note(.view(viewData.viewID, viewData.members, clsvState, primary: viewData.decidedPrimary))
        if viewData.primaryFlag != toldPrimary {
            history.violation("primary", "\(me): view \(viewData.viewID.ltime) is \(viewData.primaryFlag ? "" : "not ")primary, but the last primary change it was told of says otherwise")
        }
        if awaitingState && clsvState == .serverNormal {
            // A server without a state from a transfer (it became the group's only server):
            // its state is what it applied since.
            awaitingState = false
            hasState = true
            flushBuffered()
        }
    }

    override func csxPrimaryChangedCallback(_ viewData: CSXViewData) {
        callback("primary changed")
        if viewData.primaryFlag == toldPrimary {
            history.violation("primary", "\(me): told of a primary change in view \(viewData.viewID.ltime) that changes nothing")
        }
        toldPrimary = viewData.primaryFlag
    }

    override func csxBlockCallback() {
        callback("block")
        note(.block)
    }

    override func csxExitCallback() {
        callback("exit")
        exited = true
        note(.exit)
    }

    override func csxHeartbeatCallback(_ elapsed: Duration) { callback("heartbeat") }

    // MARK: Messages

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        callback("cast")
        guard let safety: Int32 = try? msg.pop(), let seq: UInt64 = try? msg.pop(), let value: UInt64 = try? msg.pop() else {
            history.violation("integrity", "\(me): a malformed update from \(origin)")
            return
        }
        note(.cast(origin, seq, safety))
        guard isServer else { return }
        if awaitingState {
            buffered.append((origin, seq, value))
        } else {
            replica.apply(origin: origin, seq: seq, value: value)
        }
    }

    override func csxReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {
        callback("send")
        guard let safety: Int32 = try? msg.pop(), let seq: UInt64 = try? msg.pop() else {
            history.violation("integrity", "\(me): a malformed send from \(origin)")
            return
        }
        note(.send(origin, seq, safety))
    }

    // MARK: State transfer

    override func stateTransferCallback(_ xferID: XferID) {
        callback("stateTransfer")
        if isClient { history.violation("client state", "\(me): a client was asked to get the state (\(xferID))") }
        note(.xferStart(xferID))
        replica = SimReplica(blobBytes: blobBytes)
        hasState = false
        awaitingState = true
        buffered.removeAll()
        incoming = nil
        do {
            if try getState(xferID, Message()) == .terminated { note(.xferTerminated(xferID)) }
        } catch {
            history.violation("transfer", "\(me): getState(\(xferID)) failed: \(error)")
        }
    }

    override func xferCanceledCallback(_ xferID: XferID) {
        callback("xferCanceled")
        incoming = nil
        note(.xferCanceled(xferID))
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        callback("askState")
        guard isServer, hasState, !awaitingState else {
            history.violation("client state", "\(me): asked for a state it does not hold (by \(origin), \(xferID))")
            return
        }
        guard let myID = myEndpID else { return }
        let snapshot = replica
        let digest = snapshot.digest
        note(.provided(to: origin, xferID, digest))
        // The header, then the blob as it was now (copy-on-write), one chunk per call.
        var offset = -1
        sendState(to: origin, xferID: xferID) { most in
            var m = Message()
            let blob = snapshot.state.blob
            if offset < 0 {
                offset = 0
                snapshot.pushHeader(onto: &m, provider: myID, digest: digest)
                return m
            }
            guard offset < blob.count else { return nil }
            let end = min(blob.count, offset + most)
            blob.withBytes(offset ..< end) { m.push(raw: $0) }
            offset = end
            return m
        }
    }

    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        callback("gotState")
        // (Only if the default chunk handler collected a one-chunk state: not used here.)
        history.violation("transfer", "\(me): gotStateCallback although every chunk is consumed")
        xferDone(xferID)
    }

    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        callback("gotStateChunk")
        if isClient { history.violation("client state", "\(me): a client got a state chunk (\(xferID))") }
        if index == 0 {
            do {
                incoming = try SimReplica.Incoming(header: &chunk, blobBytes: blobBytes)
            } catch {
                history.violation("transfer", "\(me): a malformed state header for \(xferID): \(error)")
                incoming = nil
            }
        } else {
            chunk.withUnsafeBytes { raw in incoming?.add(raw) }
        }
        guard isLast else { return }
        guard let got = incoming, let state = got.finish() else {
            history.violation("transfer", "\(me): transfer \(xferID) ended without a whole state")
            incoming = nil
            xferDone(xferID)
            return
        }
        incoming = nil
        let received = state.digest
        if received != got.digest {
            history.violation("transfer", "\(me): the state of \(xferID) arrived as \(hex(received)), sent as \(hex(got.digest))")
        }
        note(.installed(xferID, received))
        replica = state
        hasState = true
        awaitingState = false
        flushBuffered()
        xferDone(xferID)
    }

    private func flushBuffered() {
        for u in buffered { replica.apply(origin: u.origin, seq: u.seq, value: u.value) }
        buffered.removeAll()
    }
}

func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}
