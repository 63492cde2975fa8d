/// Suspect: failure detection by pings (Ensemble's `suspect.ml`).
///
/// Every `suspect_sweep` a member pings, unreliably, with its own counter and the counter it
/// last heard from the member pinged (the echo). Member j is suspected once more than
/// `suspect_max_idle` of my pings to j have gone without j echoing one of them back: a
/// round-trip test, so it fails in both directions. Suspicions are local guesses, sent down
/// as `.suspect` (Elect and Top decide what to do with them).
///
/// Beyond Ensemble, whose members all cast their pings to everyone (with the counters of
/// everyone: n² messages of n counters per sweep, unicast here): only the suspicions of the
/// coordinator and of the members that would succeed it are ever acted on, so only the
/// *core*, the `suspect_core` lowest ranks not failed (3 by default; 0: everyone), pings
/// everyone, and the other members ping the core alone, one message per member pinged
/// (about 2·core·n messages per sweep in the group, of a few bytes each). The coordinator
/// (core) still watches everyone; the core watches each other, so the next coordinator
/// suspects the ones before it. A member that is elected pings everyone too. A member whose
/// whole core it suspects (a partition that left it without one; the core crashed together)
/// pings every rank below its own as well, so that the lowest of its side is elected as
/// before (one suspicion time later). A member answers whoever pinged it within the last
/// `suspect_max_idle` sweeps (the others' idea of the core may briefly differ from mine);
/// those answers are marked as such and start no answers in turn. Only the members I ping of
/// my own accord are counted and suspected; one I start pinging begins at 1.
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
        /// `answer`: an answer to the receiver's pings, not a ping it should answer.
        case ping(failed: RankSet, counter: Int, echo: Int, current: Bool, answer: Bool)

        static var carriers: MessageKinds { .sendUnreliable }
        var encodedSizeBound: Int {
            switch self {
            case let .ping(f, _, _, _, _): 1 + f.encodedSizeBound + 10 + 10
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .ping(f, counter, echo, current, answer):
                w.write(UInt8(1) + (current ? 0 : 1) + (answer ? 2 : 0))
                f.encode(into: &w)
                w.writeVarint(UInt64(max(0, counter)))
                w.writeVarint(UInt64(max(0, echo)))
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1 ... 4:
                let f = try RankSet.decode(from: &r, maxRank: members)
                let counter: UInt64 = try r.readVarint()
                let echo: UInt64 = try r.readVarint()
                return .ping(failed: f, counter: Int(clamping: counter), echo: Int(clamping: echo),
                             current: (tag - 1) & 1 == 0, answer: (tag - 1) & 2 != 0)
            default: throw .invalidValue(field: "Suspect header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private var roster: Roster
    private let sweep: Time
    private let maxIdle: Int
    private let coreSize: Int
    private var counter = 0      // my ping counter
    private var heard: [Int]     // heard[j]: the latest counter heard from j
    private var echoed: [Int]    // echoed[j]: the highest of my counters j reported hearing
    /// pingedMe[j]: my counter when j last pinged me of its own accord (-1: never).
    private var pingedMe: [Int]
    private var nextSweep = Time.zero
    private let setup: LayerSetup

    /// A ping every 200 ms, suspicion after 6 unanswered: a crashed member is suspected within
    /// about 1.0 to 1.4 s, 1.0 to 1.2 s measured on loopback (Ensemble's defaults, a ping a
    /// second and 15 unanswered, took about 14 to 16 s;
    /// the `ensemble` parameter profile restores them).
    public static let defaultSweep = Time.milliseconds(200)
    public static let defaultMaxIdle = 6
    public static let defaultCore = 3

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
        let core = try setup.params.int("suspect_core", default: Suspect.defaultCore)
        guard sweep > .zero, maxIdle >= 1 else { throw ParameterError("suspect_sweep must be positive and suspect_max_idle at least 1") }
        guard core >= 0 else { throw ParameterError("suspect_core cannot be negative") }
        coreSize = core == 0 ? setup.count : core
        heard = Array(repeating: 0, count: setup.count)
        echoed = Array(repeating: 0, count: setup.count)
        pingedMe = Array(repeating: -1, count: setup.count)
        self.setup = setup
        // Members of earlier views keep their count; new ones start afresh.
        let known = setup.shared.unechoedPings
        var counts: [EndpointID: Int] = [:]
        for (j, e) in setup.view.members.enumerated() where j != setup.rank { counts[e] = known[e] ?? 0 }
        setup.shared.unechoedPings = counts
    }

    /// Whether I suspect `j` (my pings to it went unechoed too long).
    private func suspected(_ j: Rank) -> Bool {
        (setup.shared.unechoedPings[setup.view.members[j]] ?? 0) > maxIdle
    }

    /// The members I ping of my own accord: everyone if I am in the core (or elected);
    /// otherwise the core, and the ranks below mine if I suspect the whole core.
    private func targets() -> [Rank] {
        let me = roster.rank
        var core: [Rank] = []
        var r = 0
        while r < roster.count && core.count < coreSize {
            if !roster.failed.contains(r) { core.append(r) }
            r += 1
        }
        if core.contains(me) || roster.elected {
            return (0 ..< roster.count).filter { $0 != me && !roster.failed.contains($0) }
        }
        var ts = core
        if core.allSatisfy(suspected) {
            for j in (core.last ?? 0) + 1 ..< max((core.last ?? 0) + 1, me) where !roster.failed.contains(j) { ts.append(j) }
        }
        return ts
    }

    private func ping(_ j: Rank, answer: Bool) {
        var p = Packet(headroom: 48 + roster.count / 8)
        p.push(Header.ping(failed: roster.failed, counter: counter, echo: heard[j], current: !roster.superseded, answer: answer))
        port.down(.sendUnreliable(p, peer: j))
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
                counter += 1
                let mine = targets()
                var isTarget = Array(repeating: false, count: roster.count)
                for j in mine {
                    isTarget[j] = true
                    ping(j, answer: false)
                }
                // Answers to those that pinged me lately and that I do not ping anyway.
                for j in 0 ..< roster.count where !isTarget[j] && j != roster.rank && pingedMe[j] >= 0
                    && counter - pingedMe[j] <= maxIdle && !roster.failed.contains(j) {
                    ping(j, answer: true)
                }
                var suspects = RankSet()
                // A new stack pings at once; that sweep counts only if a sweep period has passed
                // since the last one counted (quick successive views add no silence).
                let counts = !roster.superseded && setup.shared.pingsCountedAt.map { now - $0 >= sweep } ?? true
                if counts {
                    setup.shared.pingsCountedAt = now
                    var pinged = Set<EndpointID>()
                    pinged.reserveCapacity(mine.count)
                    for j in mine {
                        let e = setup.view.members[j]
                        pinged.insert(e)
                        // One I did not ping at the last count starts afresh.
                        let n = setup.shared.pingedAtLastCount.contains(e) ? (setup.shared.unechoedPings[e] ?? 0) + 1 : 1
                        setup.shared.unechoedPings[e] = n
                        if n > maxIdle { suspects.insert(j) }
                    }
                    setup.shared.pingedAtLastCount = pinged
                }
                if !suspects.isEmpty { port.down(.suspect(suspects, reason: "no ping echo for \(maxIdle) sweeps")) }
            }
            port.up(event)
        case .sendUnreliable(var p, let o):
            guard case let .ping(theirFailed, theirCounter, echo, theirsCurrent, answer)? = port.receive(Header.self, &p, .sendUnreliable, from: o, members: roster.count),
                  o != roster.rank, o < roster.count, !theirFailed.contains(roster.rank), !roster.failed.contains(o) else { return }
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
            let c = min(echo, counter)
            if c > echoed[o] && (!roster.superseded || theirsCurrent) {
                echoed[o] = c
                // Any stack's echo counts (for members of the newest view), but an old
                // stack's only while the peer's is not old too: a peer still in the old view
                // is catching up, one that moved on may be in another view than mine.
                let e = setup.view.members[o]
                if let n = setup.shared.unechoedPings[e] {
                    setup.shared.unechoedPings[e] = min(n, counter - c)
                }
            }
            heard[o] = max(heard[o], theirCounter)
            if !answer { pingedMe[o] = counter }
        default:
            roster.note(event)  // failures, election, a next view
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        port.passDown(event, Header.self)
    }
}
