/// A member's position in a view: 0 is the coordinator.
public typealias Rank = Int

/// A set of ranks of one view (Ensemble's `bool array` vectors: failures, suspicions,
/// presence). Value type; small views fit in one word.
public struct RankSet: Hashable, Sendable, Sequence, CustomStringConvertible {
    private var words: [UInt64]

    public init() { words = [] }

    public init<S: Sequence>(_ ranks: S) where S.Element == Rank {
        words = []
        for r in ranks { insert(r) }
    }

    /// Every rank in `0..<n`.
    public static func all(_ n: Int) -> RankSet { RankSet(0 ..< n) }

    public func contains(_ r: Rank) -> Bool {
        guard r >= 0 else { return false }
        let w = r >> 6
        return w < words.count && words[w] & (1 << UInt64(r & 63)) != 0
    }

    public mutating func insert(_ r: Rank) {
        guard r >= 0 else { return }
        let w = r >> 6
        if w >= words.count { words.append(contentsOf: repeatElement(0, count: w - words.count + 1)) }
        words[w] |= 1 << UInt64(r & 63)
    }

    public mutating func remove(_ r: Rank) {
        guard r >= 0, r >> 6 < words.count else { return }
        words[r >> 6] &= ~(1 << UInt64(r & 63))
        trim()
    }

    public mutating func formUnion(_ other: RankSet) {
        if other.words.count > words.count {
            words.append(contentsOf: repeatElement(0, count: other.words.count - words.count))
        }
        for i in other.words.indices { words[i] |= other.words[i] }
    }

    public func union(_ other: RankSet) -> RankSet {
        var r = self
        r.formUnion(other)
        return r
    }

    public func subtracting(_ other: RankSet) -> RankSet {
        var r = self
        for i in r.words.indices where i < other.words.count { r.words[i] &= ~other.words[i] }
        r.trim()
        return r
    }

    public func isSubset(of other: RankSet) -> Bool { subtracting(other).isEmpty }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The lowest rank in `0..<n` that is *not* in the set (n if all are).
    public func lowestAbsent(below n: Int) -> Rank {
        for r in 0 ..< n where !contains(r) { return r }
        return n
    }

    public func makeIterator() -> AnyIterator<Rank> {
        var wordIndex = 0
        var current: UInt64 = words.first ?? 0
        let words = self.words
        return AnyIterator {
            while true {
                if current != 0 {
                    let bit = current.trailingZeroBitCount
                    current &= current - 1
                    return wordIndex * 64 + bit
                }
                wordIndex += 1
                guard wordIndex < words.count else { return nil }
                current = words[wordIndex]
            }
        }
    }

    public static func == (a: RankSet, b: RankSet) -> Bool {
        let n = Swift.max(a.words.count, b.words.count)
        for i in 0 ..< n where (i < a.words.count ? a.words[i] : 0) != (i < b.words.count ? b.words[i] : 0) {
            return false
        }
        return true
    }

    public func hash(into h: inout Hasher) {
        for r in self { h.combine(r) }
    }

    private mutating func trim() {
        while let last = words.last, last == 0 { words.removeLast() }
    }

    public var description: String { "{" + map(String.init).joined(separator: ",") + "}" }

    /// Encoded as the number of words then the words (so a view of n members costs n/8 bytes).
    /// The size depends on the highest rank, not on how many ranks are in the set: {255}
    /// takes 33 bytes, as does a full set of 256 members.
    public var encodedSizeBound: Int { varintSize(UInt64(words.count)) + 8 * words.count }

    public func encode<W: WireWriting>(into w: inout W) {
        w.writeVarint(UInt64(words.count))
        for x in words { w.write(x) }
    }

    /// `maxRank` bounds the set so a hostile length cannot make a huge allocation.
    public static func decode(from r: inout WireReader, maxRank: Int) throws(WireError) -> RankSet {
        let n = try r.readCount(limit: (maxRank >> 6) + 1)
        var s = RankSet()
        s.words.reserveCapacity(n)
        for _ in 0 ..< n { s.words.append(try r.read()) }
        s.trim()
        return s
    }
}
