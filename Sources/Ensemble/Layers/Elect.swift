/// Elect: leader election by suspicion (Ensemble's `elect.ml`).
///
/// The view's coordinator (rank 0) elects itself at start-up. Anyone else elects itself once
/// every rank below its own is suspected or failed. Two members may both believe they lead
/// for a while; Intra's rank checks settle it.
public final class Elect: Layer {
    private let port: LayerPort
    private let rank: Rank
    private let count: Int
    private var suspects = RankSet()
    private var electedDown = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        rank = setup.rank
        count = setup.count
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .initialize:
            port.up(event)
            if rank == 0 {
                electedDown = true
                port.down(.elect)
            }
        case let .suspect(s, reason):
            var s = s
            s.remove(rank)  // nobody suspects itself
            suspects.formUnion(s)
            electIfLowest()
            port.up(.suspect(suspects, reason: reason))
        case let .fail(f):
            suspects.formUnion(f)
            suspects.remove(rank)
            port.up(event)
            electIfLowest()
        default:
            port.up(event)
        }
    }

    private func electIfLowest() {
        if !electedDown && suspects.lowestAbsent(below: count) >= rank {
            electedDown = true
            port.down(.elect)
        }
    }

    public func down(_ event: consuming Event) {
        if case .elect = event { return }  // only Elect elects
        port.down(event)
    }
}
