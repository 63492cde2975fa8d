import Ensemble
import MaestroCore
import Simulation

/// Judges a Maestro run (`MaestroHistory`) at its end, beside the violations recorded on the
/// spot:
/// - **block discipline**: between two views a member accepts, exactly one block;
/// - **FIFO by safety**: each member gets an origin's casts, and its sends, once each, and a
///   message before every later one of equal or lower safety (messages held for a transfer
///   or for the next view are released in order; a message of higher safety than the view's
///   transfer type may overtake held ones of lower safety, which is what holding means);
/// - **transfer point**: every state a joiner installed is one a provider sent it, for the same
///   transfer, as it was when the provider sent it;
/// - **replicas**: the servers of each final view that hold a state hold the same one;
/// - **liveness**: every live member ends in one view with the others, a server with its
///   transfer done;
/// - with **total order** (the stack names Seqbb or Total): the members of a view that go on
///   to the same next view (or end the run in it together) are given the casts they have in
///   common in one order (a member cut off from the others may order the view's last casts
///   otherwise, as in Ensemble: the order is agreed by those that stay together);
/// - with **self-delivery** (Local, or total order): every member is given each of its own
///   casts once (FIFO, above), and a member alive at the end every one it made.
public struct MaestroChecker {
    /// A live member at the end of the run.
    public struct Final {
        public var member: MaestroHistory.Member
        public var view: ViewID?
        public var isServer: Bool
        public var state: ClSvState
        public var digest: UInt64?
    }

    public var totalOrder: Bool
    public var selfDelivery: Bool

    public init(totalOrder: Bool = false, selfDelivery: Bool = false) {
        self.totalOrder = totalOrder
        self.selfDelivery = selfDelivery || totalOrder
    }

    /// The checks `protocolStack`'s guarantees call for.
    public init(protocolStack: String) {
        self.init(totalOrder: LayerRegistry.totallyOrders(protocolStack), selfDelivery: LayerRegistry.selfDelivers(protocolStack))
    }

    public func check(_ h: MaestroHistory, finals: [Final]) -> [Violation] {
        var out = h.violations
        out += blockDiscipline(h)
        out += fifo(h)
        out += transferPoints(h)
        out += replicas(h, finals)
        if totalOrder { out += oneOrder(h, finals) }
        out += ownCasts(h, finals)
        return out
    }

    /// Each view's casts, in the order each member was given them, compared among the members
    /// that go on to the same next view (`finals`: those alive at the end, whose last view has
    /// no next one).
    func oneOrder(_ h: MaestroHistory, _ finals: [Final]) -> [Violation] {
        struct Cast: Hashable { var origin: EndpID; var seq: UInt64 }
        /// A view, and the view its members went on to (nil: the run ended in it).
        struct Step: Hashable, Comparable {
            var view: ViewID
            var next: ViewID?
            static func < (a: Step, b: Step) -> Bool { (a.view, a.next.map { Int64(bitPattern: $0.ltime) } ?? -1) < (b.view, b.next.map { Int64(bitPattern: $0.ltime) } ?? -1) }
        }
        var viewOf: [MaestroHistory.Member: ViewID] = [:]
        var current: [MaestroHistory.Member: [Cast]] = [:]
        var orders: [Step: [MaestroHistory.Member: [Cast]]] = [:]
        for e in h.entries {
            switch e.event {
            case let .view(id, _, _):
                if let v = viewOf[e.member] { orders[Step(view: v, next: id), default: [:]][e.member] = current[e.member] ?? [] }
                viewOf[e.member] = id
                current[e.member] = []
            case let .cast(o, s, _):
                current[e.member, default: []].append(Cast(origin: o, seq: s))
            default: break
            }
        }
        for f in finals {
            guard let v = viewOf[f.member], v == f.view else { continue }
            orders[Step(view: v, next: nil), default: [:]][f.member] = current[f.member] ?? []
        }
        var out: [Violation] = []
        for (step, byMember) in orders.sorted(by: { $0.key < $1.key }) {
            let view = step.view
            let members = byMember.keys.sorted()
            let sets = byMember.mapValues(Set.init)
            for (i, a) in members.enumerated() {
                for b in members[(i + 1)...] {
                    let (sa, sb) = (sets[a] ?? [], sets[b] ?? [])
                    let orderA = (byMember[a] ?? []).filter(sb.contains)
                    let orderB = (byMember[b] ?? []).filter(sa.contains)
                    guard orderA != orderB, let k = orderA.indices.first(where: { orderA[$0] != orderB[$0] }) else { continue }
                    func name(_ c: Cast) -> String { "#\(c.seq) of \(h.endpoints[c.origin].map(String.init(describing:)) ?? "\(c.origin)")" }
                    out.append(Violation(property: "total order", detail: "view \(view.ltime): \(a) and \(b) were given their common casts in different orders, from the \(k + 1)th: \(name(orderA[k])) and \(name(orderB[k]))"))
                }
            }
        }
        return out
    }

    /// With self-delivery, every cast a member made comes back to it: a member alive at the end
    /// was given every one (and, with or without, nobody is given a cast of its own it did not
    /// make).
    func ownCasts(_ h: MaestroHistory, _ finals: [Final]) -> [Violation] {
        var endpointOf: [MaestroHistory.Member: EndpID] = [:]
        for (id, m) in h.endpoints { endpointOf[m] = id }
        var made: [MaestroHistory.Member: Set<UInt64>] = [:]
        var given: [MaestroHistory.Member: Set<UInt64>] = [:]
        var out: [Violation] = []
        for e in h.entries {
            switch e.event {
            case let .made(s): made[e.member, default: []].insert(s)
            case let .cast(o, s, _) where o == endpointOf[e.member]:
                if !selfDelivery {
                    out.append(Violation(property: "self-delivery", detail: "\(e.time): \(e.member) was given its own cast #\(s) over a stack without Local or total order"))
                } else if made[e.member]?.contains(s) != true {
                    out.append(Violation(property: "self-delivery", detail: "\(e.time): \(e.member) was given a cast #\(s) of its own that it never made"))
                }
                given[e.member, default: []].insert(s)
            default: break
            }
        }
        guard selfDelivery else { return out }
        for f in finals {
            let missing = (made[f.member] ?? []).subtracting(given[f.member] ?? [])
            if !missing.isEmpty {
                out.append(Violation(property: "self-delivery", detail: "\(f.member) made \(missing.count) casts never given back to it: \(missing.sorted().prefix(8).map { "#\($0)" }.joined(separator: ", "))"))
            }
        }
        return out
    }

    func blockDiscipline(_ h: MaestroHistory) -> [Violation] {
        var out: [Violation] = []
        var blocks: [MaestroHistory.Member: Int] = [:]
        var seenView: Set<MaestroHistory.Member> = []
        for e in h.entries {
            switch e.event {
            case .view(let id, _, _):
                if seenView.contains(e.member), blocks[e.member, default: 0] != 1 {
                    out.append(Violation(property: "block discipline",
                                         detail: "\(e.time): \(e.member) accepted \(id) after \(blocks[e.member, default: 0]) blocks in its previous view"))
                }
                seenView.insert(e.member)
                blocks[e.member] = 0
            case .block:
                if !seenView.contains(e.member) {
                    out.append(Violation(property: "block discipline", detail: "\(e.time): \(e.member) blocked before its first view"))
                }
                blocks[e.member, default: 0] += 1
                if blocks[e.member, default: 0] == 2 {
                    out.append(Violation(property: "block discipline", detail: "\(e.time): \(e.member) blocked twice in one view"))
                }
            default: break
            }
        }
        return out
    }

    func fifo(_ h: MaestroHistory) -> [Violation] {
        struct Key: Hashable { var receiver: MaestroHistory.Member; var origin: EndpID; var cast: Bool }
        /// The highest number delivered so far at each safety level (generic, safe, xfer).
        var highest: [Key: [UInt64?]] = [:]
        var out: [Violation] = []
        for e in h.entries {
            let key: Key
            let seq: UInt64
            let safety: Int32
            switch e.event {
            case let .cast(o, s, q): (key, seq, safety) = (Key(receiver: e.member, origin: o, cast: true), s, q)
            case let .send(o, s, q): (key, seq, safety) = (Key(receiver: e.member, origin: o, cast: false), s, q)
            default: continue
            }
            let level = Int(max(1, min(3, safety))) - 1
            var marks = highest[key] ?? [nil, nil, nil]
            // A later message of equal or lower safety delivered already: out of order, or again.
            if let worst = marks[0 ... level].compactMap({ $0 }).max(), worst >= seq {
                let origin = h.endpoints[key.origin].map(String.init(describing:)) ?? "\(key.origin)"
                out.append(Violation(property: "FIFO", detail: "\(e.time): \(e.member) got \(key.cast ? "cast" : "send") #\(seq) (safety \(safety)) of \(origin) after #\(worst) of equal or lower safety"))
            }
            marks[level] = max(marks[level] ?? 0, seq)
            highest[key] = marks
        }
        return out
    }

    func transferPoints(_ h: MaestroHistory) -> [Violation] {
        struct Key: Hashable { var joiner: EndpID; var xfer: XferID; var digest: UInt64 }
        var provided: Set<Key> = []
        var endpointOf: [MaestroHistory.Member: EndpID] = [:]
        for (id, m) in h.endpoints { endpointOf[m] = id }
        var out: [Violation] = []
        for e in h.entries {
            switch e.event {
            case let .provided(to, x, d): provided.insert(Key(joiner: to, xfer: x, digest: d))
            case let .installed(x, d):
                guard let me = endpointOf[e.member], provided.contains(Key(joiner: me, xfer: x, digest: d)) else {
                    out.append(Violation(property: "transfer point", detail: "\(e.time): \(e.member) installed a state (\(x), digest \(hex(d))) that no provider sent it"))
                    continue
                }
            default: break
            }
        }
        return out
    }

    func replicas(_ h: MaestroHistory, _ finals: [Final]) -> [Violation] {
        var out: [Violation] = []
        let views = Set(finals.compactMap(\.view))
        if views.count > 1 {
            out.append(Violation(property: "liveness", detail: "the live members end in \(views.count) views: " +
                finals.map { "\($0.member) in \($0.view.map { "\($0.ltime)" } ?? "none")" }.joined(separator: ", ")))
        }
        for f in finals {
            if f.view == nil { out.append(Violation(property: "liveness", detail: "\(f.member) ends in no view")) }
            let normal: ClSvState = f.isServer ? .serverNormal : .clientNormal
            if f.state != normal {
                out.append(Violation(property: "liveness", detail: "\(f.member) ends in state \(f.state), not \(normal)"))
            }
        }
        for v in views {
            let servers = finals.filter { $0.view == v && $0.isServer && $0.state == .serverNormal }
            let digests = Set(servers.compactMap(\.digest))
            if digests.count > 1 {
                out.append(Violation(property: "replicas", detail: "the servers of final view \(v.ltime) differ: " +
                    servers.map { "\($0.member) \($0.digest.map(hex) ?? "no state")" }.joined(separator: ", ")))
            }
            for s in servers where s.digest == nil {
                out.append(Violation(property: "replicas", detail: "server \(s.member) of final view \(v.ltime) holds no state"))
            }
        }
        return out
    }
}
