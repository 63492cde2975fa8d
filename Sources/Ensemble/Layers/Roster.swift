/// The view-membership bookkeeping that many layers keep: my rank, the view's size, the
/// members that have failed in this view, and the coordinator those failures leave (the lowest
/// live rank, the rule every membership layer follows); and the milestones of the view that
/// layers watch go by on their way up (elected, blocked, superseded by a next view). Written
/// once so that every layer updates it the same way: a layer that only records these events
/// hands them to `note` and passes them on.
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
    /// `.elect` came up: I am this view's elected coordinator.
    private(set) var elected = false
    /// `.block` came up: the view is being flushed.
    private(set) var blocked = false
    /// `.view` came up: a next view is decided and this stack's view is over.
    private(set) var superseded = false

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

    /// Records what `event`, on its way up, says about the view (failures, election, blocking,
    /// a next view); any other event leaves it as it is.
    @inline(__always)
    mutating func note(_ event: borrowing Event) {
        switch event {
        case let .fail(f): fail(f)
        case .elect: elected = true
        case .block: blocked = true
        case .view: superseded = true
        default: break
        }
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
