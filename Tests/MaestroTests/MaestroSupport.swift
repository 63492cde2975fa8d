import Ensemble
import Maestro
@testable import MaestroCore
import Reactor

/// A CSX server like the seed's, recording what happens to it.
final class TestServer: CSX {
    var state: Int
    var blob: [UInt8]
    var transfersStarted = 0
    var gotStates: [Int] = []
    var canceled = 0
    var views: [CSXViewData] = []
    var casts: [(EndpID, Int)] = []
    var heartbeats: [Time] = []
    var chunksReceived = 0
    var blobReceived = 0
    /// When set, state requests are answered only when the test says so.
    var holdRequests = false
    var pendingRequests: [(EndpID, XferID)] = []
    var providedTo: [EndpID] = []

    let runtime: Runtime

    init(_ ops: CSXOptions, state: Int, blob: Int = 0, runtime: Runtime) throws {
        self.runtime = runtime
        self.state = state
        self.blob = [UInt8](repeating: UInt8(truncatingIfNeeded: state), count: blob)
        super.init(ops, shell: runtime)
        try join()
    }

    override func stateTransferCallback(_ xferID: XferID) {
        transfersStarted += 1
        blobReceived = 0
        _ = try? getState(xferID, Message())
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        providedTo.append(origin)
        if holdRequests {
            pendingRequests.append((origin, xferID))
        } else {
            answer(origin, xferID)
        }
    }

    func answer(_ origin: EndpID, _ xferID: XferID) {
        if blob.isEmpty {
            var m = Message()
            m << state
            sendState(origin, xferID, m)
            return
        }
        var offset = 0
        var sentState = false
        let b = blob
        let s = state
        sendState(to: origin, xferID: xferID) { max in
            if offset < b.count {
                var m = Message()
                m.push(raw: b[offset ..< min(b.count, offset + max)])
                offset += max
                return m
            }
            if sentState { return nil }
            sentState = true
            var m = Message()
            m << s
            return m
        }
    }

    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        if let s: Int = try? stateMsg.pop() {
            state = s
            gotStates.append(s)
        }
        xferDone(xferID)
    }

    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 { blobReceived = 0 }
        chunksReceived += 1
        if !isLast {
            blobReceived += chunk.count
            return
        }
        var m = chunk
        gotStateCallback(xferID, &m)
    }

    override func xferCanceledCallback(_ xferID: XferID) { canceled += 1 }

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) { views.append(viewData) }

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if lastView?.viewType == .atomic { castsDuringAtomic += 1 }
        if let v: Int = try? msg.pop() { casts.append((origin, v)) }
    }

    var sendsReceived: [(EndpID, Int)] = []
    override func csxReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) {
        if let v: Int = try? msg.pop() { sendsReceived.append((origin, v)) }
    }

    /// Generic casts delivered while my view was ATOMIC (must stay 0).
    var castsDuringAtomic = 0
    /// When set, every block is followed by a cast of the next number (a message sent between
    /// block and the next view).
    var castOnBlock = false
    var castsOnBlock = 0

    private var blockTimers: [LoopTimer] = []

    /// Casts right after the block callback returned (from a timer: casts made inside the
    /// callback still go out in the old view).
    override func csxBlockCallback() {
        guard castOnBlock else { return }
        blockTimers.append(runtime.reactor.after(.zero) { [unowned self] in
            castsOnBlock += 1
            var m = Message()
            m << (1000 + castsOnBlock)
            cast(m)
        })
    }

    override func csxHeartbeatCallback(_ elapsed: Duration) { heartbeats.append(runtime.now) }

    var lastView: CSXViewData? { views.last }
}

extension Array where Element == TestServer {
    /// Every member's last view has all of them as servers and no transfer left.
    var allServers: Bool {
        let ids = Set(compactMap(\.myEndpID))
        return allSatisfy { s in
            guard let v = s.lastView else { return false }
            return Set(v.servers) == ids && v.xferServers.isEmpty && v.nmembers == count
        }
    }
}

func options(_ group: String, xfer: XferType = .atomic, heartbeatMs: Int = 1000, params: String = "") -> CSXOptions {
    var ops = CSXOptions()
    ops.groupName = group
    ops.heartbeatRate = .milliseconds(heartbeatMs)
    ops.xferType = xfer
    ops.membershipType = .server
    ops.params = params
    return ops
}

let fastTimers = "suspect_sweep=0.05:time;suspect_max_idle=4:int;top_sweep=0.2:time;merge_timeout=1:time"
