/// Vsync: the flush agreement (Ensemble's `vsync.ml`). Not in the seed's protocol string, which
/// taken literally hangs at the first view change (reference §0, problem A): the stack builder
/// inserts it directly above Top_appl whenever the stack has Sync but no Vsync.
///
/// Once blocked, every member reports to the coordinator how many application casts it has
/// received from each origin (its own count: how many it sent) and how many sends it sent to
/// each peer. Reports count only when made under the same failure vector as mine. When every
/// live member has reported, each member (the coordinator casts all reports so they compute
/// the same numbers) tells Top_appl, with `.syncInfo`, how many casts from each origin and
/// sends from each peer it must deliver before the view may end: for casts, the most any
/// survivor received (Mnak can fetch it from that survivor); for sends, what the peer sent me.
public final class Vsync: Layer {
    struct Report: Equatable {
        var rank: Rank
        var casts: [Int]
        var sends: [Int]
    }

    enum Header: LayerHeader {
        case reports(failed: RankSet, [Report])

        static var carriers: MessageKinds { [.cast, .send] }
        var encodedSizeBound: Int {
            switch self {
            case let .reports(f, rs): 1 + f.encodedSizeBound + 10 + rs.reduce(0) { $0 + 30 + 10 * ($1.casts.count + $1.sends.count) }
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .reports(f, rs):
                w.write(UInt8(1))
                f.encode(into: &w)
                w.writeCount(rs.count)
                for r in rs {
                    w.writeCount(r.rank)
                    encodeCounts(r.casts, into: &w)
                    encodeCounts(r.sends, into: &w)
                }
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1:
                let f = try RankSet.decode(from: &r, maxRank: members)
                let n = try r.readCount(limit: members)
                var rs: [Report] = []
                for _ in 0 ..< n {
                    let rank = try r.readCount(limit: members - 1)
                    let c = try decodeCounts(from: &r, members: members)
                    let s = try decodeCounts(from: &r, members: members)
                    guard c.count == members, s.count == members else { throw .invalidValue(field: "Vsync report size", value: UInt64(c.count)) }
                    rs.append(Report(rank: rank, casts: c, sends: s))
                }
                return .reports(failed: f, rs)
            default: throw .invalidValue(field: "Vsync header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private var roster: Roster
    private var localCasts: [Int]
    private var localSends: [Int]
    private var reports: [Report?]
    /// Reports made under another failure vector, kept until mine matches.
    private var delayed: [(RankSet, Report)] = []
    private var done = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        roster = Roster(setup)
        localCasts = Array(repeating: 0, count: setup.count)
        localSends = Array(repeating: 0, count: setup.count)
        reports = Array(repeating: nil, count: setup.count)
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .applCounts(casts, sends):
            localCasts = casts
            localSends = sends
        case .block:
            roster.note(event)  // blocked: the flush begins
            reportLocal()
            port.up(event)
        case let .fail(f):
            if roster.fail(f) {
                reports = Array(repeating: nil, count: roster.count)
                done = false
                if roster.blocked { reportLocal() }
                replayDelayed()
            }
            port.up(event)
        case .send(var p, let o, let flags):
            guard case let .reports(f, rs)? = port.receive(Header.self, &p, .send, from: o, flags: flags, members: roster.count) else { return }
            received(rs, under: f)
        case .cast(var p, let o, let flags):
            guard case let .reports(f, rs)? = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: roster.count) else { return }
            received(rs, under: f)
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        port.passDown(event, Header.self)
    }

    private func reportLocal() {
        let mine = Report(rank: roster.rank, casts: localCasts, sends: localSends)
        reports[roster.rank] = mine
        if !roster.isCoordinator {
            port.originate(Header.reports(failed: roster.failed, [mine]), .send, peer: roster.coordinator)
        }
        checkDone()
    }

    private func received(_ rs: [Report], under f: RankSet) {
        for r in rs where r.rank != roster.rank {
            if f == roster.failed {
                if !roster.failed.contains(r.rank) { reports[r.rank] = r }
            } else if !f.isSubset(of: roster.failed) {
                delayed.append((f, r))  // made after failures I have not heard of yet
            }
            // Otherwise it predates failures I know of: its sender will report again.
        }
        checkDone()
    }

    private func replayDelayed() {
        let pending = delayed
        delayed = []
        for (f, r) in pending {
            if f == roster.failed, !roster.failed.contains(r.rank) { reports[r.rank] = r }
            else if !f.isSubset(of: roster.failed) { delayed.append((f, r)) }
        }
        checkDone()
    }

    private func checkDone() {
        guard roster.blocked, !done, roster.everyLive({ reports[$0] != nil }) else { return }
        done = true
        var expectCasts = Array(repeating: 0, count: roster.count)
        var expectSends = Array(repeating: 0, count: roster.count)
        for case let r? in reports where !roster.failed.contains(r.rank) {
            for j in 0 ..< roster.count { expectCasts[j] = max(expectCasts[j], r.casts[j]) }
            expectSends[r.rank] = r.sends[roster.rank]
        }
        port.down(.syncInfo(casts: expectCasts, sends: expectSends))
        if roster.isCoordinator {
            // Everyone computes the same numbers from the same reports.
            port.originate(Header.reports(failed: roster.failed, reports.compactMap { $0 }), .cast, peer: roster.rank)
        }
    }
}
