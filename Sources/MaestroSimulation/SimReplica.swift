import Ensemble
import MaestroCore

/// The replicated state of the simulated CSX servers: the soak's `ReplicatedState` (a count,
/// a sum and a blob, every update commuting with the others), plus the set of updates applied
/// from each origin.
///
/// The sets make applying idempotent: a joiner applies the updates delivered to it while its
/// state was on its way, and skips those the provider's state already holds. (Sets, not the
/// highest number per origin: an update of higher safety may overtake held ones.)
struct SimReplica {
    private(set) var state: ReplicatedState
    /// The updates applied, per origin.
    private(set) var applied: [EndpID: Applied] = [:]

    /// Sequence numbers: every one below `below`, and those in `above`.
    struct Applied: Equatable {
        var below: UInt64 = 0
        var above: Set<UInt64> = []

        func contains(_ seq: UInt64) -> Bool { seq < below || above.contains(seq) }

        mutating func insert(_ seq: UInt64) {
            above.insert(seq)
            while above.remove(below) != nil { below += 1 }
        }

        var digest: UInt64 { above.reduce(SimRandomMix.mix(below)) { $0 ^ SimRandomMix.mix($1 &+ 0x5555) } }
    }

    init(blobBytes: Int) { state = ReplicatedState(blobBytes: blobBytes) }

    /// Applies update `seq` of `origin` unless it was applied already. Returns whether it was.
    @discardableResult
    mutating func apply(origin: EndpID, seq: UInt64, value: UInt64) -> Bool {
        if applied[origin]?.contains(seq) == true { return false }
        applied[origin, default: Applied()].insert(seq)
        state.apply(hash: SimRandomMix.mix(value ^ SimRandomMix.mix(seq ^ origin.incarnation)))
        return true
    }

    /// A digest of the whole state, the applied sets included (in time linear in their size).
    var digest: UInt64 {
        var h = state.digest
        for (origin, set) in applied {  // order-independent: XOR of per-entry mixes
            h ^= SimRandomMix.mix(UInt64(origin.host) << 32 ^ UInt64(origin.port) << 16 ^ UInt64(origin.counter)
                                  ^ SimRandomMix.mix(origin.incarnation) ^ set.digest)
        }
        return h
    }

    // MARK: Transfer

    /// The state's header (the applied sets, the `ReplicatedState` header, the whole digest),
    /// sent before the blob's bytes.
    func pushHeader(onto m: inout Message, provider: EndpID, digest: UInt64) {
        for (origin, set) in applied.sorted(by: { $0.key < $1.key }) {
            for seq in set.above.sorted() { m << seq }
            m << Int64(set.above.count)
            m << set.below
            m << origin
        }
        m << Int64(applied.count)
        ReplicatedState.push(state.header(provider: provider), onto: &m)
        m << digest
    }

    /// A state received: its header, then its blob's bytes (`add`), then `finish`.
    struct Incoming {
        let header: ReplicatedState.Header
        let digest: UInt64
        var applied: [EndpID: Applied] = [:]
        var blob: BlobHasher

        init(header m: inout Message, blobBytes: Int) throws {
            digest = try m.pop()
            header = try ReplicatedState.popHeader(from: &m)
            let origins: Int64 = try m.pop()
            guard header.blobBytes == Int64(blobBytes), origins >= 0, origins <= 1 << 16 else {
                throw MaestroError("a state header out of bounds")
            }
            for _ in 0 ..< origins {
                let origin: EndpID = try m.pop()
                var set = Applied()
                set.below = try m.pop()
                let n: Int64 = try m.pop()
                guard n >= 0, n <= 1 << 20 else { throw MaestroError("a state header out of bounds") }
                for _ in 0 ..< n { set.above.insert(try m.pop()) }
                applied[origin] = set
            }
            blob = BlobHasher(expected: blobBytes)
        }

        mutating func add(_ bytes: UnsafeRawBufferPointer) { blob.add(bytes) }

        /// The installed state, or nil when bytes are missing or in excess.
        func finish() -> SimReplica? {
            guard blob.received == blob.blob.count, blob.excess == 0 else { return nil }
            var r = SimReplica(blobBytes: 0)
            r.state.install(count: header.count, sum: header.sum, blob: blob.blob, hash: blob.hash)
            r.applied = applied
            return r
        }
    }
}
