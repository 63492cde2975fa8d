/// The view-membership bookkeeping that many layers keep: my rank, the view's size, the
/// members that have failed in this view, and the coordinator those failures leave (the lowest
/// live rank, the rule every membership layer follows). Written once so that every layer
/// updates it the same way on `.fail`.
///
/// A plain struct of a few words: reading it costs what reading the layer's own fields did.
struct Roster {
    /// My rank in the view.
    let rank: Rank
    /// How many members the view has.
    let count: Int
    /// The members known to have failed in this view (only ever grows).
    private(set) var failed = RankSet()
    /// The lowest rank not in `failed`.
    private(set) var coordinator: Rank = 0

    init(_ setup: LayerSetup) {
        rank = setup.rank
        count = setup.count
    }

    /// Records the failures in `f`; true if any of them was news.
    @inline(__always) @discardableResult
    mutating func fail(_ f: RankSet) -> Bool {
        guard !f.isSubset(of: failed) else { return false }
        failed.formUnion(f)
        coordinator = failed.lowestAbsent(below: count)
        return true
    }

    /// Whether I am the coordinator after the failures recorded.
    var isCoordinator: Bool { rank == coordinator }

    /// Whether every live member is in `s`.
    func everyLive(in s: RankSet) -> Bool {
        everyLive { s.contains($0) }
    }

    /// Whether `p` holds for every live member.
    @inline(__always)
    func everyLive(_ p: (Rank) -> Bool) -> Bool {
        for r in 0 ..< count where !p(r) && !failed.contains(r) { return false }
        return true
    }
}
