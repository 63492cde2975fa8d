/// Intra: spreads the coordinator's Fail and View decisions inside one partition, and
/// rejects inconsistent ones (Ensemble's `intra.ml`). A rejected decision makes its sender a
/// suspect; a member accepts at most one view per stack.
public final class Intra: Layer {
    enum Header: LayerHeader {
        case view(ViewState)
        case fail(RankSet)

        static var carriers: MessageKinds { .cast }
        var encodedSizeBound: Int {
            switch self {
            case let .view(v): 1 + v.encodedSizeBound
            case let .fail(f): 1 + f.encodedSizeBound
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .view(v): w.write(UInt8(1)); v.encode(into: &w)
            case let .fail(f): w.write(UInt8(2)); f.encode(into: &w)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .view(try ViewState.decode(from: &r))
            case 2: return .fail(try RankSet.decode(from: &r, maxRank: members))
            default: throw .invalidValue(field: "Intra header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private var roster: Roster
    private var viewSent = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.setup = setup
        roster = Roster(setup)
    }

    public func down(_ event: consuming Event) {
        switch event {
        case let .fail(f):
            roster.fail(f)
            setup.shared.observer?(.issuedFail(view: setup.view.id, rank: roster.rank, failed: roster.failed))
            setup.shared.observer?(.acceptedFail(view: setup.view.id, failed: roster.failed))
            port.originate(Header.fail(roster.failed), .cast, peer: roster.rank)
            port.down(.fail(roster.failed))
        case let .view(nv):
            guard !viewSent else { return }
            viewSent = true
            setup.shared.observer?(.issuedView(view: setup.view.id, rank: roster.rank, next: nv))
            port.originate(Header.view(nv), .cast, peer: roster.rank)
            port.down(event)
        default:
            port.passDown(event, Header.self)
        }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: roster.count) else { return }
            switch h {
            case let .fail(f):
                // Accept only from the lowest live rank, consistent with what I know.
                let bad = roster.elected || roster.rank < o || f.lowestAbsent(below: roster.count) < o || !roster.failed.isSubset(of: f)
                    || roster.failed.contains(o) || f.contains(o) || f.contains(roster.rank)
                if bad {
                    port.down(.suspect(RankSet([o]), reason: "inconsistent Fail from rank \(o)"))
                } else {
                    roster.fail(f)  // f contains mine (checked above): mine becomes f
                    setup.shared.observer?(.acceptedFail(view: setup.view.id, failed: f))
                    port.down(.fail(f))
                }
            case let .view(nv):
                let bad = roster.elected || viewSent || roster.rank < o || roster.failed.contains(o) || nv.rank(of: setup.endpoint) == nil
                if bad {
                    port.down(.suspect(RankSet([o]), reason: "unacceptable View from rank \(o)"))
                } else {
                    viewSent = true
                    port.down(.view(nv))
                }
            }
        default:
            roster.note(event)  // failures, election
            port.up(event)
        }
    }
}
