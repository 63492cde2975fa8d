/// Stable: tracks which casts every live member has delivered (Ensemble's `stable.ml`).
///
/// Each member keeps an acknowledgement matrix: row `i` is what member `i` reported having
/// delivered from each origin. Every `stable_sweep` (and, beyond Ensemble, whenever
/// `stable_trigger_bytes` of casts have gone by, so a busy sender's window keeps moving), it
/// asks Mnak for its own row, gossips the row as an unreliable cast and sends down
/// `.stable(mins, maxs)` over the live rows: Mnak frees what is stable and NAKs up to the max.
///
/// Beyond Ensemble, which recomputed the whole matrix (n² cells) for every row it heard, so
/// that a round of a group of n cost each member n³: the minimum and maximum of each column
/// are kept up to date as rows advance (`StabilityMatrix`); a column is rescanned only when
/// its last member at the minimum moves past it. A row that changes neither goes no further
/// (no `.stable` down); my own round always sends one (Mnak re-NAKs open holes on it).
public final class Stable: Layer {
    enum Header: LayerHeader {
        case gossip(row: [Int], failed: RankSet)

        static var carriers: MessageKinds { .castUnreliable }
        var encodedSizeBound: Int {
            switch self {
            case let .gossip(row, failed): 1 + 10 + row.count * 10 + failed.encodedSizeBound
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .gossip(row, failed):
                w.write(UInt8(1))
                encodeCounts(row, into: &w)
                failed.encode(into: &w)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .gossip(row: try decodeCounts(from: &r, members: members), failed: try RankSet.decode(from: &r, maxRank: members))
            default: throw .invalidValue(field: "Stable header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let rank: Rank
    private let count: Int
    private let sweep: Time
    private let triggerBytes: Int
    @exclusivity(unchecked) private var matrix: StabilityMatrix  // never re-entered (see Mnak)
    private var failed = RankSet()
    private var nextGossip = Time.zero
    private var firstRound = true
    private var volume = 0
    private var requestPending = false
    private let members: [EndpointID]
    private let roundTrips: RoundTrips
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    /// While the view is being flushed: the next extra round, and how many came before.
    private var flushDeadline = Time.never
    private var flushBackoff = 0

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.services = services
        members = setup.view.members
        roundTrips = setup.shared.roundTrips
        rank = setup.rank
        count = setup.count
        sweep = try setup.params.time("stable_sweep", default: .seconds(1))
        triggerBytes = try setup.params.int("stable_trigger_bytes", default: 512 << 10)
        guard sweep > .zero else { throw ParameterError("stable_sweep must be positive") }
        matrix = StabilityMatrix(count: setup.count)
    }

    public func up(_ event: consuming Event) {
        switch consume event {
        case let .initialize(now):
            port.up(.initialize(now))
            nextGossip = now
            port.down(.timer(now))
        case let .timer(now):
            if now >= flushDeadline { flushRound(now) }
            if now >= nextGossip {
                // The very first round is skipped: nothing can be stable yet.
                if firstRound { firstRound = false } else { requestRound() }
                nextGossip = now + sweep
                port.down(.timer(nextGossip))
            }
            port.up(.timer(now))
        case let .cast(p, peer, flags):
            countVolume(p.count)
            port.up(.cast(p, peer: peer, flags: flags))
        case let .stableRequest(numCasts?):
            requestPending = false
            if numCasts.count == count { matrix.update(row: rank, numCasts) }
            sendStability()
            var g = Packet(headroom: 64 + 10 * count)
            g.push(Header.gossip(row: matrix.row(rank), failed: failed))
            port.down(.castUnreliable(g, peer: rank))
        case .castUnreliable(var p, let o):
            guard case let .gossip(row, theirFailed)? = port.receive(Header.self, &p, .castUnreliable, from: o, members: count),
                  o != rank, !theirFailed.contains(rank), !failed.contains(o), row.count == count else { return }
            // Beyond Ensemble: used at once (not at my next round), so a sender whose window
            // is full gets its casts freed as soon as the last row arrives.
            if matrix.update(row: o, row) { sendStability() }
        case let .fail(f):
            failed.formUnion(f)
            matrix.fail(failed)
            port.up(.fail(f))
            requestRound()
        case .block:
            // The flush waits for every member to have every cast some member has: rows go
            // out now, and again on round-trip timeouts while the view lasts (beyond Ensemble,
            // whose rows went every stable_sweep only).
            port.up(.block)
            if flushBackoff == 0 && flushDeadline == .never { flushRound(services.now) }
        case let other:
            port.up(other)
        }
    }

    public func down(_ event: consuming Event) {
        switch consume event {
        case let .cast(p, peer, flags):
            countVolume(p.count)
            port.down(.cast(p, peer: peer, flags: flags))
        case let other:
            port.passDown(other, Header.self)
        }
    }

    private func countVolume(_ bytes: Int) {
        volume += max(bytes, 64)
        if volume >= triggerBytes {
            volume = 0
            requestRound()
        }
    }

    private func flushRound(_ now: Time) {
        flushDeadline = .never
        requestRound()
        var interval = Time.zero
        for j in members.indices where j != rank && !failed.contains(j) {
            interval = max(interval, roundTrips.rto(members[j], backoff: flushBackoff, ceiling: sweep))
        }
        flushBackoff += 1
        guard interval < sweep, count > 1 else { return }  // from here on, the sweep's rounds do
        flushDeadline = now + interval
        port.down(.timer(flushDeadline))
    }

    private func requestRound() {
        guard !requestPending else { return }
        requestPending = true
        port.down(.stableRequest(numCasts: nil))
    }

    private func sendStability() {
        port.down(.stable(stability: matrix.mins, numCasts: matrix.maxs))
    }
}

/// The acknowledgement matrix of Stable: row `i` is what member `i` reported having delivered
/// from each origin (counts only grow), with, over the live rows, `mins[j]` (what every live
/// member has delivered of j's casts) and `maxs[j]` (what some has), kept up to date as rows
/// advance. Each column also counts its live rows at the minimum: the column is rescanned
/// only when that count falls to zero (the minimum rises), so a row costs its own length plus
/// n per column whose minimum it raised, instead of n² to recompute everything.
struct StabilityMatrix {
    private var acks: [[Int]]
    private var live: [Bool]
    private(set) var mins: [Int]
    private(set) var maxs: [Int]
    /// Live rows whose value in the column equals its minimum.
    private var atMin: [Int]

    init(count: Int) {
        acks = Array(repeating: Array(repeating: 0, count: count), count: count)
        live = Array(repeating: true, count: count)
        mins = Array(repeating: 0, count: count)
        maxs = Array(repeating: 0, count: count)
        atMin = Array(repeating: count, count: count)
    }

    func row(_ i: Int) -> [Int] { acks[i] }

    /// Raises row `i` to `row` where it is higher (a count never goes back); true if a minimum
    /// or maximum over the live rows changed. `row` must have one entry per member.
    @discardableResult
    mutating func update(row i: Int, _ row: [Int]) -> Bool {
        let n = acks.count
        guard i >= 0, i < n, row.count == n else { return false }
        var changed = false
        for j in 0 ..< n where row[j] > acks[i][j] {
            let old = acks[i][j]
            acks[i][j] = row[j]
            guard live[i] else { continue }
            if row[j] > maxs[j] {
                maxs[j] = row[j]
                changed = true
            }
            if old == mins[j] {
                atMin[j] -= 1
                if atMin[j] == 0 {
                    rescan(j)
                    changed = true
                }
            }
        }
        return changed
    }

    /// Only the rows not in `failed` count from now on (the set only grows).
    mutating func fail(_ failed: RankSet) {
        var dropped = false
        for i in failed where i >= 0 && i < live.count && live[i] {
            live[i] = false
            dropped = true
        }
        guard dropped else { return }
        for j in 0 ..< acks.count { rescan(j) }
    }

    private mutating func rescan(_ j: Int) {
        var lo = Int.max, hi = 0, at = 0
        for i in 0 ..< acks.count where live[i] {
            let v = acks[i][j]
            if v < lo {
                lo = v
                at = 1
            } else if v == lo {
                at += 1
            }
            hi = max(hi, v)
        }
        mins[j] = lo == Int.max ? 0 : lo
        maxs[j] = hi
        atMin[j] = at
    }
}
