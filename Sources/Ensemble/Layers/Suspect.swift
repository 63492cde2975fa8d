/// Suspect: failure detection by pings (Ensemble's `suspect.ml`).
///
/// Every `suspect_sweep` each member casts, unreliably, a ping with its own counter and the
/// counters it last heard from everyone. Member j is suspected once more than
/// `suspect_max_idle` of my pings have gone without j echoing one of them back: a round-trip
/// test, so it fails in both directions. Suspicions are local guesses, sent down as
/// `.suspect` (Elect and Top decide what to do with them).
public final class Suspect: Layer {
    enum Header: HeaderEncodable {
        case noHeader
        case ping(failed: RankSet, counters: [Int])

        var encodedSizeBound: Int {
            switch self {
            case .noHeader: 1
            case let .ping(f, c): 1 + 10 + 8 * (f.count + 2) + 10 + 10 * c.count
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .noHeader: w.write(UInt8(0))
            case let .ping(f, c):
                w.write(UInt8(1))
                f.encode(into: &w)
                w.writeCount(c.count)
                for x in c { w.writeVarint(UInt64(max(0, x))) }
            }
        }
        static func decode(from r: inout WireReader, members: Int) throws(WireError) -> Header {
            let tag: UInt8 = try r.read()
            switch tag {
            case 0: return .noHeader
            case 1:
                let f = try RankSet.decode(from: &r, maxRank: members)
                let n = try r.readCount(limit: members)
                var c: [Int] = []
                c.reserveCapacity(n)
                for _ in 0 ..< n {
                    let v: UInt64 = try r.readVarint()
                    c.append(Int(clamping: v))
                }
                return .ping(failed: f, counters: c)
            default: throw .invalidValue(field: "Suspect header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let rank: Rank
    private let count: Int
    private let sweep: Time
    private let maxIdle: Int
    private var sent: [Int]      // sent[me]: my ping counter; sent[j]: the latest counter heard from j
    private var echoed: [Int]    // echoed[j]: the highest of my counters j reported hearing
    private var failed = RankSet()
    private var nextSweep = Time.zero

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        rank = setup.rank
        count = setup.count
        sweep = try setup.params.time("suspect_sweep", default: .seconds(1))
        maxIdle = try setup.params.int("suspect_max_idle", default: 15)
        guard sweep > .zero, maxIdle >= 1 else { throw ParameterError("suspect_sweep must be positive and suspect_max_idle at least 1") }
        sent = Array(repeating: 0, count: setup.count)
        echoed = Array(repeating: 0, count: setup.count)
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .initialize(now):
            port.up(event)
            nextSweep = now
            port.down(.timer(now))
        case let .timer(now):
            if now >= nextSweep && count > 1 {
                nextSweep = now + sweep
                port.down(.timer(nextSweep))
                sent[rank] += 1
                var ping = Packet(headroom: 32 + 10 * count)
                ping.push(Header.ping(failed: failed, counters: sent))
                port.down(.castUnreliable(ping, peer: rank))
                var suspects = RankSet()
                for j in 0 ..< count where j != rank && !failed.contains(j) && sent[rank] - echoed[j] > maxIdle {
                    suspects.insert(j)
                }
                if !suspects.isEmpty { port.down(.suspect(suspects, reason: "no ping echo for \(maxIdle) sweeps")) }
            }
            port.up(event)
        case .castUnreliable(var p, let o):
            guard let h = p.popHeader(port.drops, { (r: inout WireReader) throws(WireError) in try Header.decode(from: &r, members: count) }) else { return }
            switch h {
            case .noHeader:
                port.up(.castUnreliable(p, peer: o))
            case let .ping(theirFailed, counters):
                guard o != rank, !theirFailed.contains(rank), !failed.contains(o), counters.count == count else { return }
                echoed[o] = max(echoed[o], counters[rank])
                sent[o] = max(sent[o], counters[o])
            }
        case let .fail(f):
            failed.formUnion(f)
            port.up(event)
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case .castUnreliable(var p, let peer):
            p.push(Header.noHeader)
            port.down(.castUnreliable(p, peer: peer))
        default:
            port.down(event)
        }
    }
}
