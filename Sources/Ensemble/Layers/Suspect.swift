/// Suspect: failure detection by pings (Ensemble's `suspect.ml`).
///
/// Every `suspect_sweep` each member casts, unreliably, a ping with its own counter and the
/// counters it last heard from everyone. Member j is suspected once more than
/// `suspect_max_idle` of my pings have gone without j echoing one of them back: a round-trip
/// test, so it fails in both directions. Suspicions are local guesses, sent down
/// as `.suspect` (Elect and Top decide what to do with them).
///
/// Beyond Ensemble: how many of my pings each member has left unechoed is kept per endpoint
/// and survives view changes (in the endpoint's shared state): the newest stack counts its
/// sweeps, and an echo resets the count: in the newest stack, or in an old one from a peer whose
/// pinging stack is its newest (a ping says whether it is). So a member listed in view after
/// view that never answers in any of them (a ghost: it never installed them) is suspected
/// `suspect_max_idle` sweeps after it was last heard, not that long after every new view, while
/// a member still catching up on the new view keeps answering in the old one; and one that
/// moved on to another view is not kept alive by the old view's lingering stacks.
/// Counting my own sweeps rather than measuring time keeps a stall of this process (a long
/// callback) from making it suspect everyone else: no sweep, no count. And the elected
/// coordinator suspects a member whose pings show it took as failed members the coordinator
/// never failed (it accepted a Fail from another coordinator, across a partition that healed):
/// such a member refuses the coordinator's Fail, so the flush would otherwise wait for it forever.
public final class Suspect: Layer {
    enum Header: LayerHeader {
        /// `current`: sent by the sender's newest stack (false: it has moved on to a next view).
        case ping(failed: RankSet, counters: [Int], current: Bool)

        static var carriers: MessageKinds { .castUnreliable }
        var encodedSizeBound: Int {
            switch self {
            case let .ping(f, c, _): 1 + f.encodedSizeBound + 10 + 10 * c.count
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .ping(f, c, current):
                w.write(current ? UInt8(1) : UInt8(2))
                f.encode(into: &w)
                encodeCounts(c, into: &w)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1, 2:
                let f = try RankSet.decode(from: &r, maxRank: members)
                return .ping(failed: f, counters: try decodeCounts(from: &r, members: members), current: tag == 1)
            default: throw .invalidValue(field: "Suspect header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private var roster: Roster
    private let sweep: Time
    private let maxIdle: Int
    private var sent: [Int]      // sent[me]: my ping counter; sent[j]: the latest counter heard from j
    private var echoed: [Int]    // echoed[j]: the highest of my counters j reported hearing
    private var nextSweep = Time.zero
    private let setup: LayerSetup

    /// A ping every 200 ms, suspicion after 6 unanswered: a crashed member is suspected within
    /// about 1.0 to 1.4 s, 1.0 to 1.2 s measured on loopback (Ensemble's defaults, a ping a
    /// second and 15 unanswered, took about 14 to 16 s;
    /// the `ensemble` parameter profile restores them).
    public static let defaultSweep = Time.milliseconds(200)
    public static let defaultMaxIdle = 6

    /// How long a silent member goes unsuspected: `suspect_max_idle` + 1 sweeps.
    public static func suspicionTime(_ p: Parameters) -> Time {
        let sweep = (try? p.time("suspect_sweep", default: defaultSweep)) ?? defaultSweep
        let idle = (try? p.int("suspect_max_idle", default: defaultMaxIdle)) ?? defaultMaxIdle
        return sweep * Int64(idle + 1)
    }

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        roster = Roster(setup)
        sweep = try setup.params.time("suspect_sweep", default: Suspect.defaultSweep)
        maxIdle = try setup.params.int("suspect_max_idle", default: Suspect.defaultMaxIdle)
        guard sweep > .zero, maxIdle >= 1 else { throw ParameterError("suspect_sweep must be positive and suspect_max_idle at least 1") }
        sent = Array(repeating: 0, count: setup.count)
        echoed = Array(repeating: 0, count: setup.count)
        self.setup = setup
        // Members of earlier views keep their count; new ones start afresh.
        let known = setup.shared.unechoedPings
        var counts: [EndpointID: Int] = [:]
        for (j, e) in setup.view.members.enumerated() where j != setup.rank { counts[e] = known[e] ?? 0 }
        setup.shared.unechoedPings = counts
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .initialize(now):
            port.up(event)
            nextSweep = now
            port.down(.timer(now))
        case let .timer(now):
            if now >= nextSweep && roster.count > 1 {
                nextSweep = now + sweep
                port.down(.timer(nextSweep))
                sent[roster.rank] += 1
                var ping = Packet(headroom: 32 + 10 * roster.count)
                ping.push(Header.ping(failed: roster.failed, counters: sent, current: !roster.superseded))
                port.down(.castUnreliable(ping, peer: roster.rank))
                var suspects = RankSet()
                // A new stack pings at once; that sweep counts only if a sweep period has passed
                // since the last one counted (quick successive views add no silence).
                let counts = !roster.superseded && setup.shared.pingsCountedAt.map { now - $0 >= sweep } ?? true
                if counts {
                    setup.shared.pingsCountedAt = now
                    for j in 0 ..< roster.count where j != roster.rank {
                        let e = setup.view.members[j]
                        let n = (setup.shared.unechoedPings[e] ?? 0) + 1
                        setup.shared.unechoedPings[e] = n
                        if !roster.failed.contains(j) && n > maxIdle { suspects.insert(j) }
                    }
                }
                if !suspects.isEmpty { port.down(.suspect(suspects, reason: "no ping echo for \(maxIdle) sweeps")) }
            }
            port.up(event)
        case .castUnreliable(var p, let o):
            guard case let .ping(theirFailed, counters, theirsCurrent)? = port.receive(Header.self, &p, .castUnreliable, from: o, members: roster.count),
                  o != roster.rank, !theirFailed.contains(roster.rank), !roster.failed.contains(o), counters.count == roster.count else { return }
            if roster.elected && !roster.superseded && !theirFailed.isSubset(of: roster.failed) {
                // It took as failed members I, its coordinator, never failed (a Fail from the
                // other side of a healed partition, or from a coordinator before me that I did
                // not hear): it will refuse my Fail and report to someone else, and my flush
                // would wait for it forever.
                port.down(.suspect(RankSet([o]), reason: "took \(theirFailed.subtracting(roster.failed)) as failed, which its coordinator did not"))
            }
            // A counter beyond mine can only be forged or corrupted (an unauthenticated
            // group): counted as an echo of my latest ping, so that it never silences a live
            // peer (it still dies silent if the peer stops pinging).
            let c = min(counters[roster.rank], sent[roster.rank])
            if c > echoed[o] && (!roster.superseded || theirsCurrent) {
                echoed[o] = c
                // Any stack's echo counts (for members of the newest view), but an old
                // stack's only while the peer's is not old too: a peer still in the old view
                // is catching up, one that moved on may be in another view than mine.
                let e = setup.view.members[o]
                if let n = setup.shared.unechoedPings[e] {
                    setup.shared.unechoedPings[e] = min(n, sent[roster.rank] - c)
                }
            }
            sent[o] = max(sent[o], counters[o])
        default:
            roster.note(event)  // failures, election, a next view
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        port.passDown(event, Header.self)
    }
}
