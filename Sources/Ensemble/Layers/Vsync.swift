/// Vsync: the flush agreement (Ensemble's `vsync.ml`). Not in the seed's protocol string, which
/// taken literally hangs at the first view change (reference §0, problem A): the stack builder
/// inserts it directly above Top_appl whenever the stack has Sync but no Vsync.
///
/// Once blocked, every member reports to the coordinator how many application casts it has
/// received from each origin (its own count: how many it sent) and how many sends it sent to
/// each peer. Reports count only when made under the same failure vector as mine. When every
/// live member has reported, each member tells Top_appl, with `.syncInfo`, how many casts from
/// each origin and sends from each peer it must deliver before the view may end: for casts,
/// the most any survivor received (Mnak can fetch it from that survivor); for sends, what the
/// peer sent me.
///
/// Deviation (issue 14, scale): the coordinator does not cast every report (2n² counts to n
/// members, O(n³) bytes per view change); it casts the decision alone, under the failure
/// vector it was made with: the per-origin maxima (n counts) and the non-zero send counts
/// between live members as (from, to, count) triples, from which each member takes its own column.
/// Every member so computes what the coordinator computed from the same reports. A decision
/// is used only under the same failure vector as mine, from that vector's coordinator; one
/// made under failures I have not heard of waits, as reports do.
public final class Vsync: Layer {
    struct Report: Equatable {
        var rank: Rank
        var casts: [Int]
        var sends: [Int]
    }

    /// `count` sends from `from` to `to`, as reported by `from`.
    struct SentCount: Equatable {
        var from: Rank
        var to: Rank
        var count: Int
    }

    enum Header: LayerHeader {
        /// A member's report, sent to the coordinator.
        case report(failed: RankSet, Report)
        /// The coordinator's decision, cast: per origin the most casts any survivor received,
        /// and the survivors' non-zero send counts.
        case decision(failed: RankSet, casts: [Int], sends: [SentCount])

        static var carriers: MessageKinds { [.cast, .send] }
        var encodedSizeBound: Int {
            switch self {
            case let .report(f, r):
                1 + f.encodedSizeBound + varintSize(UInt64(r.rank)) + Self.countsSize(r.casts) + Self.countsSize(r.sends)
            case let .decision(f, casts, sends):
                1 + f.encodedSizeBound + Self.countsSize(casts) + varintSize(UInt64(sends.count))
                    + sends.reduce(0) { $0 + varintSize(UInt64($1.from)) + varintSize(UInt64($1.to)) + varintSize(UInt64(max(0, $1.count))) }
            }
        }
        /// The exact size of `encodeCounts(a)`.
        static func countsSize(_ a: [Int]) -> Int {
            a.reduce(varintSize(UInt64(a.count))) { $0 + varintSize(UInt64(max(0, $1))) }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .report(f, r):
                w.write(UInt8(1))
                f.encode(into: &w)
                w.writeCount(r.rank)
                encodeCounts(r.casts, into: &w)
                encodeCounts(r.sends, into: &w)
            case let .decision(f, casts, sends):
                w.write(UInt8(2))
                f.encode(into: &w)
                encodeCounts(casts, into: &w)
                w.writeCount(sends.count)
                for s in sends {
                    w.writeCount(s.from)
                    w.writeCount(s.to)
                    w.writeVarint(UInt64(max(0, s.count)))
                }
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1:
                let f = try RankSet.decode(from: &r, maxRank: members)
                let rank = try r.readCount(limit: members - 1)
                let c = try decodeCounts(from: &r, members: members)
                let s = try decodeCounts(from: &r, members: members)
                guard c.count == members, s.count == members else { throw .invalidValue(field: "Vsync report size", value: UInt64(c.count)) }
                return .report(failed: f, Report(rank: rank, casts: c, sends: s))
            case 2:
                let f = try RankSet.decode(from: &r, maxRank: members)
                let c = try decodeCounts(from: &r, members: members)
                guard c.count == members else { throw .invalidValue(field: "Vsync decision size", value: UInt64(c.count)) }
                // At most one entry per (from, to); each takes at least 3 bytes, so a false
                // count runs out of bytes long before it allocates much.
                let n = try r.readCount(limit: members * members)
                var sends: [SentCount] = []
                for _ in 0 ..< n {
                    let from = try r.readCount(limit: members - 1)
                    let to = try r.readCount(limit: members - 1)
                    let v: UInt64 = try r.readVarint()
                    sends.append(SentCount(from: from, to: to, count: Int(clamping: v)))
                }
                return .decision(failed: f, casts: c, sends: sends)
            default: throw .invalidValue(field: "Vsync header", value: UInt64(tag))
            }
        }
    }

    /// A decision as one member uses it: the casts to expect, and its own column of sends.
    private struct Decision {
        var coordinator: Rank
        var casts: [Int]
        var sends: [Int]
    }

    private let port: LayerPort
    private var roster: Roster
    private var localCasts: [Int]
    private var localSends: [Int]
    private var reports: [Report?]
    /// Reports made under another failure vector, kept until mine matches.
    private var delayed: [(RankSet, Report)] = []
    /// The decision of my failure vector's coordinator, made under that vector (only it decides
    /// for me).
    private var decision: Decision?
    /// Decisions made under failures I have not heard of yet, kept until mine matches.
    private var delayedDecisions: [(RankSet, Decision)] = []
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
                decision = nil
                done = false
                if roster.blocked { reportLocal() }
                replayDelayed()
            }
            port.up(event)
        case .send(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .send, from: o, flags: flags, members: roster.count) else { return }
            received(h, from: o)
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: roster.count) else { return }
            received(h, from: o)
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
            port.originate(Header.report(failed: roster.failed, mine), .send, peer: roster.coordinator)
        }
        checkDone()
    }

    private func received(_ h: Header, from o: Rank) {
        switch h {
        case let .report(f, r):
            guard r.rank != roster.rank else { return }
            if f == roster.failed {
                if !roster.failed.contains(r.rank) { reports[r.rank] = r }
            } else if !f.isSubset(of: roster.failed) {
                delayed.append((f, r))  // made after failures I have not heard of yet
            }
            // Otherwise it predates failures I know of: its sender will report again.
        case let .decision(f, casts, sends):
            guard o != roster.rank else { return }
            var mine = Array(repeating: 0, count: roster.count)
            for s in sends where s.to == roster.rank { mine[s.from] = s.count }
            let d = Decision(coordinator: o, casts: casts, sends: mine)
            if f == roster.failed {
                if o == roster.coordinator { decision = d }
            } else if !f.isSubset(of: roster.failed) {
                delayedDecisions.append((f, d))
            }
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
        let pendingDecisions = delayedDecisions
        delayedDecisions = []
        for (f, d) in pendingDecisions {
            if f == roster.failed { if d.coordinator == roster.coordinator { decision = d } }
            else if !f.isSubset(of: roster.failed) { delayedDecisions.append((f, d)) }
        }
        checkDone()
    }

    private func checkDone() {
        guard roster.blocked, !done else { return }
        if !roster.isCoordinator {
            guard let d = decision else { return }
            done = true
            port.down(.syncInfo(casts: d.casts, sends: d.sends))
            return
        }
        guard roster.everyLive({ reports[$0] != nil }) else { return }
        done = true
        var expectCasts = Array(repeating: 0, count: roster.count)
        var expectSends = Array(repeating: 0, count: roster.count)
        var sends: [SentCount] = []
        for case let r? in reports where !roster.failed.contains(r.rank) {
            for j in 0 ..< roster.count {
                expectCasts[j] = max(expectCasts[j], r.casts[j])
                if r.sends[j] > 0, !roster.failed.contains(j) { sends.append(SentCount(from: r.rank, to: j, count: r.sends[j])) }
            }
            expectSends[r.rank] = r.sends[roster.rank]
        }
        port.down(.syncInfo(casts: expectCasts, sends: expectSends))
        // Everyone computes the same numbers from the decision.
        port.originate(Header.decision(failed: roster.failed, casts: expectCasts, sends: sends), .cast, peer: roster.rank)
    }
}
