/// Sync: blocks the group before a view change (Ensemble's `sync.ml`).
///
/// The coordinator's Top sends `.block` down; Sync casts Block so that every member blocks
/// too. When a member's flush is done (its `.blockOk` comes up from Top_appl), it reports to
/// the current coordinator with a BlockOk vector; the coordinator releases `.blockOk` upward
/// once every live member has answered.
public final class Sync: Layer {
    enum Header: LayerHeader {
        case block
        case blockOk(RankSet)

        static var carriers: MessageKinds { [.cast, .send] }
        var encodedSizeBound: Int {
            if case let .blockOk(s) = self { return 1 + s.encodedSizeBound }
            return 1
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .block: w.write(UInt8(1))
            case let .blockOk(s): w.write(UInt8(2)); s.encode(into: &w)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .block
            case 2: return .blockOk(try RankSet.decode(from: &r, maxRank: members))
            default: throw .invalidValue(field: "Sync header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private var roster: Roster
    private var blockSent = false
    private var collecting = false   // I got `.block` from above: I collect the BlockOks
    private var released = false
    private var blockOk = RankSet()

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        roster = Roster(setup)
    }

    public func down(_ event: consuming Event) {
        switch event {
        case .block:
            guard !collecting else { return }
            collecting = true
            if !blockSent {
                blockSent = true
                port.originate(Header.block, .cast, peer: roster.rank)
                port.down(.block)
            }
            check()
        default:
            port.passDown(event, Header.self)
        }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: roster.count) else { return }
            switch h {
            case .block:
                if !blockSent {
                    blockSent = true
                    port.down(.block)
                }
            case .blockOk: break
            }
        case .send(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .send, from: o, flags: flags, members: roster.count) else { return }
            switch h {
            case let .blockOk(v):
                blockOk.formUnion(v)
                check()
            case .block: break
            }
        case .blockOk:
            // My own flush is complete.
            blockOk.insert(roster.rank)
            report()
            check()
        case let .fail(f):
            roster.fail(f)
            report()
            port.up(event)
            check()
        default:
            port.up(event)
        }
    }

    /// A member that has finished its flush tells the (possibly new) coordinator.
    private func report() {
        guard !roster.isCoordinator, blockOk.contains(roster.rank) else { return }
        port.originate(Header.blockOk(blockOk), .send, peer: roster.coordinator)
    }

    private func check() {
        guard collecting, !released, roster.everyLive(in: blockOk) else { return }
        released = true
        port.up(.blockOk(contact: nil))
    }
}
