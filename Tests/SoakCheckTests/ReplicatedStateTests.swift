import Ensemble
import MaestroCore
import MaestroSimulation
import Testing

/// The soak servers' replicated state: commutative by default, order-sensitive with
/// `ordered` (`--total`), and a transfer carries all of it.
@Suite struct ReplicatedStateTests {
    static let casts: [UInt64] = [0x1111, 0x2222, 0x3333]

    static func state(_ order: [UInt64], ordered: Bool, blobBytes: Int = 64) -> ReplicatedState {
        var s = ReplicatedState(blobBytes: blobBytes, ordered: ordered)
        for h in order { s.apply(hash: h) }
        return s
    }

    @Test func defaultStateIgnoresTheOrderOfCasts() {
        let a = Self.state(Self.casts, ordered: false)
        let b = Self.state(Self.casts.reversed(), ordered: false)
        #expect(a.digest == b.digest)
        #expect(a.chain == 0 && b.chain == 0)
    }

    @Test func orderedStateDependsOnTheOrderOfCasts() {
        let a = Self.state(Self.casts, ordered: true)
        let b = Self.state(Self.casts.reversed(), ordered: true)
        let again = Self.state(Self.casts, ordered: true)
        #expect(a.count == b.count && a.sum == b.sum && a.blobHash == b.blobHash)
        #expect(a.chain != b.chain)
        #expect(a.digest != b.digest)
        #expect(a.digest == again.digest)
        // The chain is mix(chain ^ hash) over the casts, in order.
        let chain = Self.casts.reduce(UInt64(0)) { SimRandomMix.mix($0 ^ $1) }
        #expect(a.chain == chain)
        // Same counters, so only the chain tells the two orders apart.
        #expect(Self.state(Self.casts, ordered: false).digest != a.digest)
    }

    @Test func aLostOrDuplicatedCastChangesBoth() {
        for ordered in [false, true] {
            let all = Self.state(Self.casts, ordered: ordered)
            #expect(Self.state(Array(Self.casts.dropLast()), ordered: ordered).digest != all.digest)
            #expect(Self.state(Self.casts + [Self.casts[0]], ordered: ordered).digest != all.digest)
        }
    }

    @Test func resetClearsTheChain() {
        var s = Self.state(Self.casts, ordered: true)
        s.reset()
        #expect(s.chain == 0 && s.count == 0)
        #expect(s.digest == ReplicatedState(blobBytes: 64, ordered: true).digest)
    }

    /// The header carries the chain; an ordered joiner that installs it and the blob holds the
    /// provider's digest and goes on from its chain.
    @Test func transferCarriesTheChain() throws {
        let provider = Self.state(Self.casts, ordered: true)
        let me = EndpID(host: 0x7F00_0001, port: 7000, counter: 0, incarnation: 9)
        var m = Message()
        ReplicatedState.push(provider.header(provider: me), onto: &m)
        let h = try ReplicatedState.popHeader(from: &m)
        #expect(h.chain == provider.chain && h.count == 3 && h.digest == provider.digest && h.provider == me)
        var hasher = BlobHasher(expected: provider.blobBytes)
        provider.blob.withBytes(0 ..< provider.blobBytes) { hasher.add($0) }

        var joiner = ReplicatedState(blobBytes: 64, ordered: true)
        joiner.install(count: h.count, sum: h.sum, blob: hasher.blob, hash: hasher.hash, chain: h.chain)
        #expect(joiner.digest == provider.digest)
        var p = provider
        p.apply(hash: 0x4444)
        joiner.apply(hash: 0x4444)
        #expect(joiner.digest == p.digest)

        // A state that is not ordered keeps no chain, whatever the header says.
        var plain = ReplicatedState(blobBytes: 64)
        plain.install(count: h.count, sum: h.sum, blob: hasher.blob, hash: hasher.hash, chain: h.chain)
        #expect(plain.chain == 0 && plain.digest == Self.state(Self.casts, ordered: false).digest)
    }
}
