import Ensemble

/// One broken guarantee, with enough detail to start debugging from the replayed seed.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var property: String
    public var detail: String
    public var description: String { "\(property): \(detail)" }

    public init(property: String, detail: String) {
        self.property = property
        self.detail = detail
    }
}

/// Checks a recorded run against the guarantees of reference §7.2 that concern message
/// delivery within a view (items 5–10 and 13): sending-view delivery, integrity, no
/// duplicates, no self-delivery of casts, FIFO per sender for casts and per pair for sends,
/// and (with `expectComplete`) that every message of a live sender reached every live member.
///
/// With `localDelivery` (a stack with Local, or total order): members deliver their own casts,
/// and must, once each and in the order they made them (completeness and FIFO include one's
/// own stream).
///
/// With `totalOrder` (a stack with Seqbb): members deliver their own casts, and must, so
/// self-delivery is required instead of forbidden (completeness includes one's own casts), and
/// the casts of each view are delivered in one order: any two members that delivered the same
/// two casts in a view, and went on from it to the same next view (or to none: crashed, left,
/// or still in it at the end), delivered them in the same relative order. Members split by a
/// partition are not compared: each side orders the casts it holds and no decision reached
/// on its own, as members moving together must (the partitionable model, reference §7.2 19).
public struct PropertyChecker {
    public var localDelivery = false
    public var totalOrder = false

    public init(localDelivery: Bool = false, totalOrder: Bool = false) {
        self.localDelivery = localDelivery || totalOrder
        self.totalOrder = totalOrder
    }

    public typealias Member = Recorder.Member

    struct StreamKey: Hashable {
        var view: ViewID
        var origin: Member
        var kind: TestMessage.Kind
        var destination: Member?
    }

    struct MessageKey: Hashable {
        var origin: Member
        var kind: TestMessage.Kind
        var seq: UInt64
    }

    /// - Parameters:
    ///   - live: members alive and still in the group at the end.
    ///   - expectComplete: the run ended quietly (no traffic, faults over, time to repair), so
    ///     every message a live member sent in its last view must have reached every live member of it.
    public func check(_ rec: Recorder, live: Set<Member>, expectComplete: Bool) -> [Violation] {
        var violations: [Violation] = []
        func fail(_ p: String, _ d: String) { violations.append(Violation(property: p, detail: d)) }

        // What was sent, per stream, in order; and where each message was sent.
        var sentStreams: [StreamKey: [UInt64]] = [:]
        var sentIndex: [MessageKey: Recorder.Sent] = [:]
        var delivered: [Member: [StreamKey: [UInt64]]] = [:]
        var seen: Set<[UInt64]> = []
        var lastView: [Member: ViewState] = [:]
        // With total order: the casts each member delivered in each view, in order.
        var castOrder: [ViewID: [Member: [MessageKey]]] = [:]
        var nextView: [[AnyHashable]: ViewID] = [:]  // [member, view]: the view it installed next

        for entry in rec.entries {
            switch entry {
            case let .installed(m, v):
                if let last = lastView[m] { nextView[[AnyHashable(m), AnyHashable(last.id)]] = v.id }
                lastView[m] = v
            case let .sent(s):
                let key = StreamKey(view: s.view, origin: s.origin, kind: s.kind, destination: s.kind == .send ? s.destination : nil)
                sentStreams[key, default: []].append(s.seq)
                sentIndex[MessageKey(origin: s.origin, kind: s.kind, seq: s.seq)] = s
            case let .delivered(d):
                guard let msg = d.message else {
                    fail("integrity", "\(d.receiver) delivered an invalid payload in view \(d.view.ltime)")
                    continue
                }
                let origin = Member(process: msg.origin, incarnation: msg.incarnation)
                if let from = d.from, from != origin {
                    fail("integrity", "\(d.receiver) got \(origin)'s message #\(msg.seq) attributed to \(from)")
                }
                if msg.kind != d.kind {
                    fail("integrity", "\(d.receiver) got \(origin)'s \(msg.kind) #\(msg.seq) as a \(d.kind)")
                }
                guard let s = sentIndex[MessageKey(origin: origin, kind: msg.kind, seq: msg.seq)] else {
                    fail("integrity", "\(d.receiver) delivered \(origin)'s \(msg.kind) #\(msg.seq), which was never sent")
                    continue
                }
                if s.view != d.view {
                    fail("sending-view delivery", "\(d.receiver) delivered \(origin)'s \(msg.kind) #\(msg.seq) in view \(d.view.ltime); it was sent in view \(s.view.ltime)")
                }
                if msg.kind == .cast && origin == d.receiver && !localDelivery {
                    fail("no self-delivery", "\(d.receiver) delivered its own cast #\(msg.seq)")
                }
                if msg.kind == .send && s.destination != d.receiver {
                    fail("integrity", "\(d.receiver) delivered a send #\(msg.seq) of \(origin) addressed to \(s.destination.map(String.init(describing:)) ?? "nobody")")
                }
                let dupKey = [UInt64(d.receiver.process), d.receiver.incarnation, UInt64(origin.process), origin.incarnation, UInt64(msg.kind.rawValue), msg.seq]
                if !seen.insert(dupKey).inserted {
                    fail("no duplicates", "\(d.receiver) delivered \(origin)'s \(msg.kind) #\(msg.seq) twice")
                    continue
                }
                let key = StreamKey(view: s.view, origin: origin, kind: msg.kind, destination: msg.kind == .send ? d.receiver : nil)
                delivered[d.receiver, default: [:]][key, default: []].append(msg.seq)
                if totalOrder && msg.kind == .cast {
                    castOrder[d.view, default: [:]][d.receiver, default: []].append(MessageKey(origin: origin, kind: .cast, seq: msg.seq))
                }
            default:
                break
            }
        }

        // FIFO: what a receiver delivered of a stream is a prefix of what was sent in it.
        for receiver in delivered.keys.sorted() {
            guard let streams = delivered[receiver] else { continue }
            for (key, got) in streams {
                let sent = sentStreams[key] ?? []
                if let i = (0 ..< min(got.count, sent.count)).first(where: { got[$0] != sent[$0] }) {
                    let what = key.kind == .cast ? "casts" : "sends"
                    fail(key.kind == .cast ? "FIFO casts" : "FIFO sends",
                         "\(receiver) delivered \(key.origin)'s \(what) of view \(key.view.ltime) as #\(got[i]) where #\(sent[i]) was next")
                }
            }
        }

        // Completeness: in each live member's last view, every live sender's messages arrived.
        if expectComplete {
            for receiver in live.sorted() {
                guard let view = lastView[receiver] else { continue }
                for origin in live.sorted() where origin != receiver || localDelivery {
                    guard let ep = view.members.first(where: { rec.member(of: $0) == origin }), rec.member(of: ep) != nil else { continue }
                    for kind in [TestMessage.Kind.cast, .send] where origin != receiver || kind == .cast {
                        let key = StreamKey(view: view.id, origin: origin, kind: kind, destination: kind == .send ? receiver : nil)
                        let sent = sentStreams[key] ?? []
                        let got = delivered[receiver]?[key] ?? []
                        if got.count < sent.count {
                            fail("reliable delivery", "\(receiver) delivered \(got.count) of \(sent.count) \(kind)s from live \(origin) in view \(view.ltime)")
                        }
                    }
                }
            }
        }
        if totalOrder { checkTotalOrder(castOrder, { m, v in nextView[[AnyHashable(m), AnyHashable(v)]] }, fail) }
        return violations.sorted { ($0.property, $0.detail) < ($1.property, $1.detail) }
    }

    /// Every pair of members of a view delivered their common casts of it in the same order.
    private func checkTotalOrder(_ castOrder: [ViewID: [Member: [MessageKey]]], _ next: (Member, ViewID) -> ViewID?,
                                 _ fail: (String, String) -> Void) {
        for (view, byMember) in castOrder.sorted(by: { $0.key.ltime < $1.key.ltime }) {
            let members = byMember.keys.sorted()
            for (i, a) in members.enumerated() {
                guard let seqA = byMember[a] else { continue }
                var position: [MessageKey: Int] = [:]
                for (k, m) in seqA.enumerated() { position[m] = k }
                for b in members[(i + 1)...] where next(a, view) == next(b, view) {
                    var last = -1
                    var lastKey: MessageKey?
                    for m in byMember[b] ?? [] {
                        guard let k = position[m] else { continue }
                        if k < last, let prev = lastKey {
                            fail("total order", "in view \(view.ltime), \(b) delivered \(m.origin)'s cast #\(m.seq) after \(prev.origin)'s #\(prev.seq); \(a) delivered them the other way round")
                            break
                        }
                        last = k
                        lastKey = m
                    }
                }
            }
        }
    }
}
