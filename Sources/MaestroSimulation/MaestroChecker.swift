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
///   transfer done.
public struct MaestroChecker {
    /// A live member at the end of the run.
    public struct Final {
        public var member: MaestroHistory.Member
        public var view: ViewID?
        public var isServer: Bool
        public var state: ClSvState
        public var digest: UInt64?
    }

    public init() {}

    public func check(_ h: MaestroHistory, finals: [Final]) -> [Violation] {
        var out = h.violations
        out += blockDiscipline(h)
        out += fifo(h)
        out += transferPoints(h)
        out += replicas(h, finals)
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
