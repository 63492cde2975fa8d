import Ensemble

/// Checks the membership guarantees of reference §7.2 on a recorded run: views include
/// their member (1), logical times increase (2), members that install the same view id agree
/// on it (3), virtual synchrony (11, 13) and send synchrony (12) between members that move
/// from one view to the same next view, block discipline (14), merged views without
/// duplicates and with the right logical time (16), leave (17), and bounded liveness (18):
/// at the end, every live member is in one and the same view of exactly the live members.
public struct ViewChecker {
    /// Members receive their own casts (total order): virtual synchrony counts a member's own
    /// casts as it delivered them, not as it sent them.
    public var selfDelivery = false

    public init(selfDelivery: Bool = false) { self.selfDelivery = selfDelivery }

    public typealias Member = Recorder.Member

    struct Stream: Hashable {
        var member: Member
        var view: ViewID
        var origin: Member
    }

    public func check(_ rec: Recorder, live: Set<Member>) -> [Violation] {
        var violations: [Violation] = []
        func fail(_ p: String, _ d: String) { violations.append(Violation(property: p, detail: d)) }

        var viewsByID: [ViewID: ViewState] = [:]
        var history: [Member: [ViewState]] = [:]
        var blockedIn: [Member: Set<ViewID>] = [:]
        var castCount: [Stream: Int] = [:]       // casts delivered (or, for one's own, sent) in a view
        var sendCount: [Stream: Int] = [:]       // sends from origin to member in a view (as received)
        var sentTo: [Stream: Int] = [:]          // sends from origin (member field = destination) as sent
        var leaveRequested: Set<Member> = []
        var exited: Set<Member> = []
        var crashed: Set<Member> = []

        for entry in rec.entries {
            switch entry {
            case let .installed(m, v):
                if v.rank(of: rec.endpoints.first { $0.value == m }?.key ?? .none) == nil {
                    fail("view self-inclusion", "\(m) installed view \(v.ltime) without itself")
                }
                if let last = history[m]?.last {
                    if v.ltime <= last.ltime {
                        fail("monotonic views", "\(m) installed ltime \(v.ltime) after \(last.ltime)")
                    }
                    if !(blockedIn[m]?.contains(last.id) ?? false) {
                        fail("block discipline", "\(m) installed view \(v.ltime) without block() in view \(last.ltime)")
                    }
                }
                if leaveRequested.contains(m) {
                    fail("leave", "\(m) installed view \(v.ltime) after asking to leave")
                }
                if let known = viewsByID[v.id] {
                    if known != v { fail("view agreement", "two different views share id \(v.id.ltime)/\(v.id.coordinator)") }
                } else {
                    viewsByID[v.id] = v
                    if Set(v.members).count != v.members.count {
                        fail("merge correctness", "view \(v.ltime) lists an endpoint twice")
                    }
                    let previous = v.previousIDs.compactMap { viewsByID[$0] }
                    if previous.count == v.previousIDs.count, let maxL = previous.map(\.ltime).max(), v.ltime != maxL + 1 {
                        fail("merge correctness", "view \(v.ltime) formed from views with ltime up to \(maxL)")
                    }
                }
                history[m, default: []].append(v)
            case let .blocked(m, vid):
                blockedIn[m, default: []].insert(vid)
            case let .sent(s):
                if blockedIn[s.origin]?.contains(s.view) ?? false {
                    fail("block discipline", "\(s.origin) sent \(s.kind) #\(s.seq) in view \(s.view.ltime) after block()")
                }
                switch s.kind {
                case .cast:
                    if !selfDelivery { castCount[Stream(member: s.origin, view: s.view, origin: s.origin), default: 0] += 1 }
                case .send:
                    if let d = s.destination { sentTo[Stream(member: d, view: s.view, origin: s.origin), default: 0] += 1 }
                }
            case let .delivered(d):
                guard let msg = d.message else { continue }
                let origin = Member(process: msg.origin, incarnation: msg.incarnation)
                let key = Stream(member: d.receiver, view: d.view, origin: origin)
                if msg.kind == .cast { castCount[key, default: 0] += 1 } else { sendCount[key, default: 0] += 1 }
            case let .crashed(m): crashed.insert(m)
            case let .leaveRequested(m): leaveRequested.insert(m)
            case let .left(m):
                if !exited.insert(m).inserted { fail("leave", "\(m)'s exit() was called twice") }
            case .note, .membership, .primaryConfirmed: break
            }
        }

        // Virtual synchrony: members moving from V to the same W saw the same casts in V,
        // and each received every send the other sent it in V.
        var movers: [[ViewID]: [Member]] = [:]
        for (m, views) in history {
            for (v, w) in zip(views, views.dropFirst()) { movers[[v.id, w.id], default: []].append(m) }
        }
        for (pair, group) in movers {
            guard group.count > 1, let v = viewsByID[pair[0]] else { continue }
            let origins = v.members.compactMap { rec.member(of: $0) }
            let sorted = group.sorted()
            for r in origins {
                let counts = sorted.map { castCount[Stream(member: $0, view: v.id, origin: r)] ?? 0 }
                if Set(counts).count > 1 {
                    fail("virtual synchrony", "moving from view \(v.ltime) to \(pair[1].ltime), \(zip(sorted, counts).map { "\($0) has \($1)" }.joined(separator: ", ")) of \(r)'s casts")
                }
            }
            for p in sorted {
                for q in sorted where q != p {
                    let sent = sentTo[Stream(member: q, view: v.id, origin: p)] ?? 0
                    let got = sendCount[Stream(member: q, view: v.id, origin: p)] ?? 0
                    if sent != got {
                        fail("send synchrony", "\(q) received \(got) of the \(sent) sends \(p) sent it in view \(v.ltime), yet both moved to \(pair[1].ltime)")
                    }
                }
            }
        }

        for m in leaveRequested.sorted() where !exited.contains(m) && !crashed.contains(m) {
            fail("leave", "\(m) asked to leave but exit() was never called")
        }

        // Liveness: one view of exactly the live members, installed by all of them.
        let liveEndpoints = Set(rec.endpoints.filter { live.contains($0.value) }.keys)
        let finals = Set(live.compactMap { history[$0]?.last?.id })
        if finals.count > 1 {
            fail("liveness", "live members ended in \(finals.count) different views")
        } else if let id = finals.first, let v = viewsByID[id], Set(v.members) != liveEndpoints {
            let names = v.members.map { rec.member(of: $0).map(String.init(describing:)) ?? "?" }
            fail("liveness", "the final view (ltime \(v.ltime)) has \(names) but the live members are \(live.sorted())")
        }
        for m in live.sorted() where history[m] == nil {
            fail("liveness", "\(m) never installed a view")
        }
        return violations
    }
}
