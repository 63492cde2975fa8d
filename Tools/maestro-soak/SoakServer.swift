import Ensemble
import Maestro
import MaestroSimulation
import Simulation
import SoakCheck

/// One CSX server of a soak node: it holds the replicated state (`ReplicatedState`), sends
/// numbered test messages (`TestMessage`) when told to, applies every cast it delivers (and
/// its own casts: when it sends them, or, over a stack that delivers a member's own casts
/// (`selfDelivering`: Local, or total order), when they are delivered back, at their place in
/// the order), answers state requests, and logs everything to its `EventLog` for the checkers.
///
/// Over a totally ordered stack the state is order-sensitive (`ReplicatedState.ordered`: a
/// hash chain over the casts in the order applied). With the Primary layer it casts only while
/// its view is confirmed primary (`isPrimary`; sends, which change no state, go on), and logs
/// every `csxPrimaryChangedCallback`.
///
/// It only sends when the message is certain to leave in the view it records: Maestro has
/// accepted the endpoint's newest view, the view is not blocked, no transfer is in progress
/// (atomic transfers hold casts), and nothing of its own is waiting in Maestro's queue. A
/// message Maestro still queues (full flow-control window) is recorded when it leaves, in the
/// view it leaves in.
final class SoakServer: CSX {
    /// The member's identity in the checkers' history.
    let member: Int
    let incarnation: UInt64
    private let log: EventLog
    private(set) var state: ReplicatedState
    private var rng: SimRandom
    private let sizeMax: Int
    private let castFraction: Double
    /// The stack has the Primary layer: casts (updates) only in the confirmed primary.
    private let primaryOnly: Bool
    /// Lines for the orchestrator (stdout).
    private let report: (String) -> Void

    private var started = false
    private var nextSeq: UInt64 = 0
    private var blocked = false
    private var queued: (kind: TestMessage.Kind, seq: UInt64, filler: Int, destination: EndpID?)?
    private var incoming: (header: ReplicatedState.Header, blob: BlobHasher)?
    private(set) var leaving = false
    private(set) var exited = false

    private(set) var castsSent = 0
    private(set) var sendsSent = 0
    private(set) var delivered = 0
    private(set) var viewsAccepted = 0
    private(set) var queuedByMaestro = 0

    init(member: Int, incarnation: UInt64, options: CSXOptions, log: EventLog, seed: UInt64,
         sizeMax: Int, castFraction: Double, stateBytes: Int, report: @escaping (String) -> Void) throws {
        self.member = member
        self.incarnation = incarnation
        self.log = log
        self.sizeMax = sizeMax
        self.castFraction = castFraction
        self.report = report
        let stack = try options.stack()
        primaryOnly = GroupScenario.hasPrimary(stack)
        state = ReplicatedState(blobBytes: stateBytes, ordered: LayerRegistry.totallyOrders(stack))
        rng = SimRandom(seed: seed, stream: UInt64(member) << 32 | (incarnation & 0xFFFF_FFFF))
        super.init(options)
        try join()
        record(.start)  // (a no-op if the first view already wrote it)
    }

    /// Joined, not leaving, not gone.
    var isActive: Bool { !leaving && !exited && isJoined }

    var address: Address? { myEndpID.map { Address(ip: $0.host, port: $0.port) } }

    /// Writes a log line, preceded the first time by the `start` line (the endpoint id is only
    /// known once `join` has created the endpoint, and the first view may come inside it).
    private func record(_ kind: EventLog.Kind, _ fields: String...) {
        if !started, let me = myEndpID {
            started = true
            log.write(.start, "\(member)", "\(incarnation)", LogCodec.endpoint(me), Address(ip: me.host, port: me.port).description)
        }
        if kind == .start { return }
        switch fields.count {
        case 0: log.write(kind)
        default: log.write(kind, fields.joined(separator: " "))
        }
    }

    private var viewTag: String { clsvViewData.map { LogCodec.viewID($0.viewID) } ?? "-" }

    // MARK: Traffic

    /// Whether a message sent now certainly leaves in the view it would be recorded in.
    var canSend: Bool {
        guard isActive, !blocked, queued == nil, pendingSends == 0, heldMessages == 0, clsvState == .serverNormal,
              let vd = clsvViewData, vd.viewType == .noXfer, let ev = endpoint?.view, ev.id == vd.viewID
        else { return false }
        return true
    }

    /// Sends one random cast or send, if it may.
    func sendOne() {
        guard canSend, let vd = clsvViewData, let me = myEndpID else { return }
        let others = vd.members.filter { $0 != me }
        var isCast = others.isEmpty || rng.chance(castFraction)
        if isCast && primaryOnly && !isPrimary {
            // No update outside the primary partition; a send instead, if there is anyone.
            guard !others.isEmpty else { return }
            isCast = false
        }
        let filler = pickFiller()
        let seq = nextSeq
        nextSeq += 1
        let kind: TestMessage.Kind = isCast ? .cast : .send
        let bytes = TestMessage(origin: member, incarnation: incarnation, kind: kind, seq: seq, fillerLength: filler).encode()
        var msg = Message()
        msg.push(raw: bytes)
        let destination = isCast ? nil : others[rng.int(in: 0 ..< others.count)]
        let result: SendView
        if let destination {
            result = send(destination, msg)
        } else {
            // Without self-delivery the cast is applied now; with it, when it comes back.
            if !selfDelivering { bytes.withUnsafeBytes { state.apply($0) } }
            result = cast(msg)
        }
        if result == .unspecified {
            record(.anomaly, "\(kind) #\(seq) was refused by Maestro in view \(viewTag)")
            return
        }
        if pendingSends > 0 {
            queued = (kind, seq, filler, destination)
            queuedByMaestro += 1
            return
        }
        recordSent(kind, seq: seq, filler: filler, destination: destination, view: vd.viewID)
    }

    private func recordSent(_ kind: TestMessage.Kind, seq: UInt64, filler: Int, destination: EndpID?, view: ViewID) {
        if let destination {
            sendsSent += 1
            record(.send, LogCodec.viewID(view), "\(seq)", "\(filler)", LogCodec.endpoint(destination))
        } else {
            castsSent += 1
            record(.cast, LogCodec.viewID(view), "\(seq)", "\(filler)")
        }
    }

    /// Mostly small messages, some above the fragmentation threshold, a few up to `sizeMax`.
    private func pickFiller() -> Int {
        let most = max(1, sizeMax - TestMessage.headerSize)
        let r = rng.double()
        let upper: Int
        if r < 0.6 { upper = 100 } else if r < 0.85 { upper = 2000 } else if r < 0.95 { upper = 20000 } else { upper = most + 1 }
        return rng.int(in: 0 ..< max(1, min(upper, most + 1)))
    }

    override func outgoingDrained() {
        super.outgoingDrained()
        guard let q = queued, pendingSends == 0 else { return }
        queued = nil
        guard let ev = endpoint?.view else { return }
        if let d = q.destination, !ev.members.contains(d) {
            record(.anomaly, "queued send #\(q.seq) dropped: its destination left before it could go")
            return
        }
        recordSent(q.kind, seq: q.seq, filler: q.filler, destination: q.destination, view: ev.id)
    }

    // MARK: Leave and stop

    func soakLeave() {
        guard isActive else { return }
        leaving = true
        record(.leave)
        leave()
    }

    /// Logs and reports the final state (the soak is over).
    func finish() {
        let d = LogCodec.digest(state.digest)
        record(.final, "\(state.count)", "\(state.sum)", d, viewTag)
        report("final \(member) \(state.count) \(state.sum) \(d) \(viewTag)")
    }

    // MARK: Views

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {
        blocked = false
        viewsAccepted += 1
        let tag = LogCodec.viewID(viewData.viewID)
        let role: String
        switch clsvState {
        case .serverNormal: role = "server"
        case .serverXfer, .serverXferDone: role = "xfer"
        case .becomingServer: role = "joining"
        case .clientNormal: role = "client"
        default: role = "other"
        }
        if let v = endpoint?.view, v.id == viewData.viewID {
            record(.view, tag, role, LogCodec.view(v))
        } else {
            record(.anomaly, "Maestro accepted view \(tag) but the endpoint's newest view is \(endpoint?.view.map { LogCodec.viewID($0.id) } ?? "none")")
        }
        func list(_ l: [EndpID]) -> String { l.isEmpty ? "-" : l.map(LogCodec.endpoint).joined(separator: ",") }
        report("view \(member) \(tag) \(role) \(list(viewData.servers)) \(list(viewData.xferServers)) \(list(viewData.members))")
    }

    override func csxPrimaryChangedCallback(_ viewData: CSXViewData) {
        let tag = LogCodec.viewID(viewData.viewID)
        record(.primary, tag, viewData.primaryFlag ? "1" : "0")
        report("primary \(member) \(tag) \(viewData.primaryFlag ? 1 : 0)")
    }

    override func csxBlockCallback() {
        blocked = true
        record(.block, viewTag)
    }

    override func csxExitCallback() {
        exited = true
        record(.exit)
        report("exit \(member)")
    }

    // MARK: Messages

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) { received(.cast, from: origin, msg) }
    override func csxReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) { received(.send, from: origin, msg) }

    private func received(_ kind: TestMessage.Kind, from origin: EndpID, _ msg: Message) {
        delivered += 1
        let bytes = msg.bytes
        let decoded = bytes.withUnsafeBytes { raw -> TestMessage? in
            if kind == .cast { state.apply(raw) }
            return TestMessage.decode(raw)
        }
        let what = kind == .cast ? "cast" : "send"
        if let t = decoded {
            record(.recv, what, viewTag, LogCodec.endpoint(origin), "\(t.origin)", "\(t.incarnation)",
                   t.kind == .cast ? "cast" : "send", "\(t.seq)", "\(t.fillerLength)")
        } else {
            record(.recv, what, viewTag, LogCodec.endpoint(origin), "invalid")
        }
    }

    // MARK: State transfer

    override func stateTransferCallback(_ xferID: XferID) {
        state.reset()
        incoming = nil
        record(.xferStart, "\(xferID.value)")
        do {
            if try getState(xferID, Message()) == .terminated {
                record(.anomaly, "getState(\(xferID.value)) answered terminated")
            }
        } catch {
            record(.anomaly, "getState(\(xferID.value)) failed: \(error)")
        }
    }

    override func xferCanceledCallback(_ xferID: XferID) {
        incoming = nil
        record(.xferCancel, "\(xferID.value)")
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        guard let me = myEndpID else { return }
        let header = state.header(provider: me)
        record(.xferProvide, LogCodec.endpoint(origin), "\(xferID.value)", LogCodec.digest(header.digest), "\(header.count)")
        if state.blob.count == 0 {
            var m = Message()
            ReplicatedState.push(header, onto: &m)
            sendState(origin, xferID, m)
            return
        }
        // A large state: the header, then the blob as it was now (copy-on-write snapshot), one
        // chunk per call.
        let blob = state.blob
        let length = blob.count
        var offset = -1
        sendState(to: origin, xferID: xferID) { most in
            var m = Message()
            if offset < 0 {
                offset = 0
                ReplicatedState.push(header, onto: &m)
                return m
            }
            guard offset < length else { return nil }
            let end = min(length, offset + most)
            blob.withBytes(offset ..< end) { m.push(raw: $0) }
            offset = end
            return m
        }
    }

    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        guard let header = try? ReplicatedState.popHeader(from: &stateMsg) else {
            record(.anomaly, "a malformed state arrived for transfer \(xferID.value)")
            xferDone(xferID)
            return
        }
        install(header, blob: BlobHasher(expected: 0), xferID: xferID)
    }

    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 {
            guard let header = try? ReplicatedState.popHeader(from: &chunk) else {
                record(.anomaly, "a malformed state header arrived for transfer \(xferID.value)")
                incoming = nil
                return
            }
            if header.blobBytes != Int64(state.blobBytes) {
                record(.anomaly, "transfer \(xferID.value) announces \(header.blobBytes) state bytes, expected \(state.blobBytes)")
            }
            // At most the size every member has (the header comes from the network).
            incoming = (header, BlobHasher(expected: state.blobBytes))
        } else {
            chunk.withUnsafeBytes { incoming?.blob.add($0) }
        }
        if isLast {
            guard let got = incoming else {
                record(.anomaly, "transfer \(xferID.value) ended without a header")
                xferDone(xferID)
                return
            }
            incoming = nil
            install(got.header, blob: got.blob, xferID: xferID)
        }
    }

    /// Replaces the whole state with the transferred one and ends the transfer (in constant
    /// time: the blob's hash was computed chunk by chunk).
    private func install(_ header: ReplicatedState.Header, blob: BlobHasher, xferID: XferID) {
        if blob.received + blob.excess != state.blobBytes {
            record(.anomaly, "transfer \(xferID.value) brought \(blob.received + blob.excess) state bytes, expected \(state.blobBytes)")
        }
        state.install(count: header.count, sum: header.sum, blob: blob.blob, hash: blob.hash, chain: header.chain)
        record(.xferGot, LogCodec.endpoint(header.provider), "\(xferID.value)", LogCodec.digest(header.digest),
               LogCodec.digest(state.digest), "\(header.count)")
        xferDone(xferID)
    }
}
