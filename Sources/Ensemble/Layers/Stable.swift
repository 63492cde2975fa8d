/// Stable: tracks which casts every live member has delivered (Ensemble's `stable.ml`).
///
/// Each member keeps an acknowledgement matrix: row `i` is what member `i` reported having
/// delivered from each origin. Every `stable_sweep` (and, beyond Ensemble, whenever
/// `stable_trigger_bytes` of casts have gone by, so a busy sender's window keeps moving), it
/// asks Mnak for its own row, gossips the row as an unreliable cast and sends down
/// `.stable(mins, maxs)` over the live rows: Mnak frees what is stable and NAKs up to the max.
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
    @exclusivity(unchecked) private var acks: [[Int]]  // never re-entered (see Mnak)
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
        acks = Array(repeating: Array(repeating: 0, count: setup.count), count: setup.count)
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
            if numCasts.count == count { acks[rank] = numCasts }
            computeStability()
            var g = Packet(headroom: 64 + 10 * count)
            g.push(Header.gossip(row: acks[rank], failed: failed))
            port.down(.castUnreliable(g, peer: rank))
        case .castUnreliable(var p, let o):
            guard case let .gossip(row, theirFailed)? = port.receive(Header.self, &p, .castUnreliable, from: o, members: count),
                  o != rank, !theirFailed.contains(rank), !failed.contains(o), row.count == count else { return }
            var advanced = false
            for j in 0 ..< count where row[j] > acks[o][j] {
                acks[o][j] = row[j]
                advanced = true
            }
            // Beyond Ensemble: recompute at once (not at my next round), so a sender whose
            // window is full gets its casts freed as soon as the last row arrives.
            if advanced { computeStability() }
        case let .fail(f):
            failed.formUnion(f)
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

    /// `mins[j]`: what every live member has delivered of j's casts; `maxs[j]`: what some has.
    private func computeStability() {
        var mins = Array(repeating: Int.max, count: count)
        var maxs = Array(repeating: 0, count: count)
        for i in 0 ..< count where !failed.contains(i) {
            for j in 0 ..< count {
                mins[j] = min(mins[j], acks[i][j])
                maxs[j] = max(maxs[j], acks[i][j])
            }
        }
        for j in 0 ..< count where mins[j] == Int.max { mins[j] = 0 }
        port.down(.stable(stability: mins, numCasts: maxs))
    }
}
