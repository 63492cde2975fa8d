import Ensemble
import MaestroCore

/// The replicated state of the simulated CSX servers: a blob of bytes that every update XORs
/// at a position of its own, how many updates were applied and a wrapping sum of their
/// hashes, and the last update applied from each origin.
///
/// Updates commute, so servers that applied the same set hold the same state whatever the
/// order. The set of updates applied from each origin makes applying idempotent: a joiner
/// applies the updates delivered to it while its state was on its way, and skips those the
/// provider's state already holds. (A set, not the highest number: an update of higher
/// safety may overtake held ones of its origin.)
struct SimReplica: Equatable {
    private(set) var blob: [UInt8]
    private(set) var count: UInt64 = 0
    private(set) var sum: UInt64 = 0
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

        var digest: UInt64 { above.reduce(SimReplica.mix(below)) { $0 ^ SimReplica.mix($1 &+ 0x5555) } }
    }
    /// Σ blob[i] × weight(i), wrapping: kept up to date by `apply`.
    private(set) var blobHash: UInt64 = 0

    init(blobBytes: Int) { blob = [UInt8](repeating: 0, count: blobBytes) }

    /// Applies update `seq` of `origin` unless an update of that origin at or after it was
    /// applied already. Returns whether it was applied.
    @discardableResult
    mutating func apply(origin: EndpID, seq: UInt64, value: UInt64) -> Bool {
        if applied[origin]?.contains(seq) == true { return false }
        applied[origin, default: Applied()].insert(seq)
        let h = SimReplica.mix(value ^ SimReplica.mix(seq ^ UInt64(origin.incarnation)))
        count &+= 1
        sum &+= h
        if blob.count >= 8 {
            let at = Int(h % UInt64(blob.count - 7))
            var v = h
            for i in 0 ..< 8 {
                let old = blob[at + i]
                let new = old ^ UInt8(truncatingIfNeeded: v)
                blob[at + i] = new
                blobHash &+= (UInt64(new) &- UInt64(old)) &* SimReplica.weight(at + i)
                v >>= 8
            }
        }
        return true
    }

    /// A digest of the whole state (in time linear in the number of origins).
    var digest: UInt64 {
        var h = SimReplica.mix(count) ^ SimReplica.mix(sum &+ 1) ^ SimReplica.mix(blobHash &+ 2) ^ SimReplica.mix(UInt64(blob.count) &+ 3)
        for (origin, set) in applied {  // order-independent: XOR of per-entry mixes
            h ^= SimReplica.mix(UInt64(origin.host) << 32 ^ UInt64(origin.port) << 16 ^ UInt64(origin.counter)
                                ^ SimReplica.mix(origin.incarnation) ^ set.digest)
        }
        return h
    }

    // MARK: Transfer

    /// The state's header (everything but the blob), pushed first.
    func pushHeader(onto m: inout Message, digest: UInt64) {
        for (origin, set) in applied.sorted(by: { $0.key < $1.key }) {
            for seq in set.above.sorted() { m << seq }
            m << Int64(set.above.count)
            m << set.below
            m << origin
        }
        m << Int64(applied.count)
        m << Int64(blob.count)
        m << blobHash
        m << sum
        m << count
        m << digest
    }

    /// A state received: its header, then its blob's bytes (`add`), then `finish`.
    struct Incoming {
        var replica: SimReplica
        let digest: UInt64
        let expectedBlob: Int
        var received = 0
        var hash: UInt64 = 0

        init(header m: inout Message, maxBlob: Int) throws {
            digest = try m.pop()
            let count: UInt64 = try m.pop()
            let sum: UInt64 = try m.pop()
            _ = try m.pop(UInt64.self)  // the provider's blob hash: recomputed from the bytes
            let blobBytes: Int64 = try m.pop()
            let origins: Int64 = try m.pop()
            guard blobBytes >= 0, blobBytes <= Int64(maxBlob), origins >= 0, origins <= 1 << 16 else {
                throw SimShellError("a state header out of bounds")
            }
            var r = SimReplica(blobBytes: Int(blobBytes))
            r.count = count
            r.sum = sum
            for _ in 0 ..< origins {
                let origin: EndpID = try m.pop()
                var set = Applied()
                set.below = try m.pop()
                let n: Int64 = try m.pop()
                guard n >= 0, n <= 1 << 20 else { throw SimShellError("a state header out of bounds") }
                for _ in 0 ..< n { set.above.insert(try m.pop()) }
                r.applied[origin] = set
            }
            replica = r
            expectedBlob = Int(blobBytes)
        }

        mutating func add(_ bytes: UnsafeRawBufferPointer) {
            let take = min(bytes.count, expectedBlob - received)
            guard take > 0 else { return }
            var h = hash
            replica.blob.withUnsafeMutableBytes { dst in
                for i in 0 ..< take {
                    let b = bytes[i]
                    dst[received + i] = b
                    h &+= UInt64(b) &* SimReplica.weight(received + i)
                }
            }
            hash = h
            received += take
        }

        /// The installed state, or nil when bytes are missing.
        func finish() -> SimReplica? {
            guard received == expectedBlob else { return nil }
            var r = replica
            r.blobHash = hash
            return r
        }
    }

    @inline(__always) static func weight(_ offset: Int) -> UInt64 { mix(UInt64(offset)) | 1 }

    /// The SplitMix64 finalizer.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
