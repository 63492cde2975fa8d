import Ensemble
import MaestroCore

/// The replicated state of the soak servers: how many casts were applied, the wrapping sum of
/// a 64-bit hash of each, and (with `--state-bytes`) a blob in which each cast XORs its hash
/// at a position derived from it.
///
/// Every operation commutes, so servers that delivered the same set of casts hold the same
/// state whatever the order in which casts from different senders reached them. A duplicated
/// or lost cast changes it.
///
/// `ordered` (the soak's `--total`) adds a hash chain over every applied cast,
/// `chain = mix(chain ^ hash(cast))`, which the digest includes: then the state depends on the
/// order of the casts too, and only servers that applied the same casts in the same order
/// agree (what total order promises). Transfers carry the chain.
///
/// No operation run from a callback reads or writes the whole blob (a long callback holds the
/// loop past the suspicion time): `blobHash`, a weighted sum of the blob's bytes, is kept up
/// to date by `apply` and computed chunk by chunk by a joiner (`BlobHasher`), so `digest` is
/// O(1); a blob of zeros costs nothing to make (`Blob`), so `reset` is O(1) too.
public struct ReplicatedState {
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0
    public private(set) var blob: Blob
    /// Σ blob[i] × weight(i), wrapping.
    public private(set) var blobHash: UInt64 = 0
    /// Whether the state depends on the order of the casts (`chain`).
    public let ordered: Bool
    /// With `ordered`: mix(chain ^ hash) over every cast applied, in order; 0 otherwise.
    public private(set) var chain: UInt64 = 0

    public init(blobBytes: Int, ordered: Bool = false) {
        blob = Blob(zeros: blobBytes)
        self.ordered = ordered
    }

    /// The blob's size (--state-bytes), which every member's blob has.
    public var blobBytes: Int { blob.count }

    public mutating func reset() {
        count = 0
        sum = 0
        blobHash = 0
        chain = 0
        blob = Blob(zeros: blob.count)
    }

    /// Replaces the whole state with a transferred one (`hash`: the blob's, from `BlobHasher`;
    /// `chain`: the provider's, kept only if this state is `ordered`).
    public mutating func install(count: UInt64, sum: UInt64, blob: Blob, hash: UInt64, chain: UInt64 = 0) {
        self.count = count
        self.sum = sum
        self.blob = blob
        blobHash = hash
        self.chain = ordered ? chain : 0
    }

    /// Applies one cast, identified by its payload.
    public mutating func apply(_ payload: UnsafeRawBufferPointer) { apply(hash: ReplicatedState.hash(payload)) }

    /// Applies one update known by its 64-bit identity.
    public mutating func apply(hash h: UInt64) {
        count &+= 1
        sum &+= h
        if ordered { chain = SimRandomMix.mix(chain ^ h) }
        if blob.count >= 8 {
            let at = Int(h % UInt64(blob.count - 7))
            var v = h
            for i in 0 ..< 8 {
                let old = blob[at + i]
                let new = old ^ UInt8(truncatingIfNeeded: v)
                blob[at + i] = new
                blobHash &+= (UInt64(new) &- UInt64(old)) &* ReplicatedState.weight(at + i)
                v >>= 8
            }
        }
    }

    /// The weight of the blob byte at `offset` in `blobHash`.
    @inline(__always) public static func weight(_ offset: Int) -> UInt64 { SimRandomMix.mix(UInt64(offset)) | 1 }

    /// FNV-1a with a final avalanche: the identity of a payload.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return SimRandomMix.mix(h)
    }

    /// A digest of the whole state (count, sum, the blob's length and every blob byte, through
    /// `blobHash`, and with `ordered` the chain), in constant time.
    public var digest: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func eat(_ v: UInt64) {
            var x = v
            for _ in 0 ..< 8 {
                h = (h ^ (x & 0xFF)) &* 0x0000_0100_0000_01B3
                x >>= 8
            }
        }
        eat(count)
        eat(sum)
        eat(UInt64(blob.count))
        eat(blobHash)
        if ordered { eat(chain) }
        return SimRandomMix.mix(h)
    }

    // MARK: Transfer

    /// The header of a transferred state: the scalar part (the chain is 0 in a state that is
    /// not `ordered`), the blob's length, the provider's digest of the whole state, and who
    /// provides it (checked against the provider's log).
    public struct Header {
        public var count: UInt64
        public var sum: UInt64
        public var chain: UInt64 = 0
        public var blobBytes: Int64
        public var digest: UInt64
        public var provider: EndpID
    }

    public func header(provider: EndpID) -> Header {
        Header(count: count, sum: sum, chain: chain, blobBytes: Int64(blob.count), digest: digest, provider: provider)
    }

    public static func push(_ h: Header, onto m: inout Message) {
        m << h.chain
        m << h.provider
        m << h.digest
        m << h.blobBytes
        m << h.sum
        m << h.count
    }

    public static func popHeader(from m: inout Message) throws -> Header {
        let count: UInt64 = try m.pop()
        let sum: UInt64 = try m.pop()
        let blobBytes: Int64 = try m.pop()
        let digest: UInt64 = try m.pop()
        let provider: EndpID = try m.pop()
        let chain: UInt64 = try m.pop()
        return Header(count: count, sum: sum, chain: chain, blobBytes: blobBytes, digest: digest, provider: provider)
    }
}

/// A blob arriving in chunks: its bytes collected (up to the expected size) and its
/// `blobHash` computed as they come, one chunk per callback.
public struct BlobHasher {
    public private(set) var blob: Blob
    public private(set) var hash: UInt64 = 0
    /// Bytes collected so far.
    public private(set) var received = 0
    /// Bytes beyond the expected size (dropped, not collected).
    public private(set) var excess = 0

    public init(expected: Int) {
        blob = Blob(zeros: expected)
    }

    public mutating func add(_ chunk: UnsafeRawBufferPointer) {
        let take = min(chunk.count, blob.count - received)
        excess += chunk.count - take
        guard take > 0 else { return }
        var h = hash
        var offset = received
        for b in chunk[..<take] {
            h &+= UInt64(b) &* ReplicatedState.weight(offset)
            offset += 1
        }
        hash = h
        blob.write(UnsafeRawBufferPointer(rebasing: chunk[..<take]), at: received)
        received = offset
    }
}

/// The SplitMix64 finalizer (a bijection that spreads every input bit over the output).
public enum SimRandomMix {
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
