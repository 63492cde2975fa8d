/// Leave: voluntary leave, and garbage collection of old stacks (Ensemble's `leave.ml`).
///
/// A leaving member casts Leave (FIFO after its earlier casts, so they are delivered first)
/// and suspects everyone else, which takes it out of the group at once; the others suspect it
/// when its Leave arrives. After a view change, the old stack stays up until every member of
/// the old view has either installed the next view (reported with GotView) or failed, long
/// enough to serve retransmissions; then it exits.
///
/// Beyond Ensemble: an old stack also exits `leave_linger` after its member moved on, even if
/// some member of the old view never reported. Otherwise a member that missed the View (its
/// coordinator crashed mid-way) would wait forever in the old view, kept from suspecting
/// anyone by the old stacks' pings; with the linger it suspects them, forms a view of its
/// own and merges back.
public final class Leave: Layer {
    enum Header: HeaderEncodable {
        case passThrough
        case leave
        case gotView(RankSet)

        var encodedSizeBound: Int {
            if case let .gotView(s) = self { return 1 + s.encodedSizeBound }
            return 1
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .passThrough: w.write(Tag.passThrough)
            case .leave: w.write(UInt8(1))
            case let .gotView(s): w.write(UInt8(2)); s.encode(into: &w)
            }
        }
        static func decode(from r: inout WireReader, members: Int) throws(WireError) -> Header {
            let tag: UInt8 = try r.read()
            switch tag {
            case 0: return .passThrough
            case 1: return .leave
            case 2: return .gotView(try RankSet.decode(from: &r, maxRank: members))
            default: throw .invalidValue(field: "Leave header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private let rank: Rank
    private var leaving = false
    private var exited = false
    private var exitPassed = false
    private var gotView = RankSet()
    private var failed = RankSet()
    private var coordinator: Rank = 0
    private let linger: Time
    private var now: Time
    private var deadline = Time.never

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        rank = setup.rank
        now = setup.now
        // Long enough for a straggler to repair what it missed (a few retransmission rounds).
        let repair = max(try setup.params.time("stable_sweep", default: .seconds(1)),
                         try setup.params.time("pt2pt_sweep", default: .seconds(1)))
        linger = try setup.params.time("leave_linger", default: repair * 3)
    }

    private func decode(_ p: inout Packet) -> Header? {
        p.popHeader(port.drops) { (r: inout WireReader) throws(WireError) in try Header.decode(from: &r, members: setup.count) }
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .leave:
            if !leaving {
                leaving = true
                var p = Packet(headroom: 32)
                p.push(Header.leave)
                port.down(.cast(p, peer: rank, flags: []))
                var others = RankSet.all(setup.count)
                others.remove(rank)
                if !others.isEmpty { port.down(.suspect(others, reason: "leaving")) }
            }
            port.up(event)
        case .cast(var p, let o, let flags):
            guard let h = decode(&p) else { return }
            switch h {
            case .passThrough: port.up(.cast(p, peer: o, flags: flags))
            case .leave: if o != rank { port.down(.suspect(RankSet([o]), reason: "left")) }
            case let .gotView(v): got(v)
            }
        case .send(var p, let o, let flags):
            guard let h = decode(&p) else { return }
            switch h {
            case .passThrough: port.up(.send(p, peer: o, flags: flags))
            case let .gotView(v): got(v)
            case .leave: break
            }
        case .view:
            if !leaving { port.up(event) }
            gotView.insert(rank)
            deadline = now + linger
            port.down(.timer(deadline))
            report()
            checkExit()
        case let .initialize(t):
            now = t
            port.up(event)
        case let .timer(t):
            now = t
            port.up(event)
            if t >= deadline && !exited {
                exited = true
                if !exitPassed {
                    exitPassed = true
                    port.down(.exit)
                }
            }
        case let .fail(f):
            failed.formUnion(f)
            coordinator = setup.coordinator(excluding: failed)
            report()
            checkExit()
            port.up(event)
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case .exit:
            guard !exitPassed else { return }
            exitPassed = true
            port.down(event)
        case .blockOk:
            if !exited { port.down(event) }
        case .cast(var p, let peer, let flags):
            p.push(Header.passThrough)
            port.down(.cast(p, peer: peer, flags: flags))
        case .send(var p, let peer, let flags):
            p.push(Header.passThrough)
            port.down(.send(p, peer: peer, flags: flags))
        default:
            port.down(event)
        }
    }

    private func got(_ v: RankSet) {
        var v = v
        v.remove(rank)  // only I may say that I have the view
        gotView.formUnion(v)
        checkExit()
    }

    private func report() {
        guard rank != coordinator, gotView.contains(rank) else { return }
        var p = Packet(headroom: 32 + setup.count / 8)
        p.push(Header.gotView(gotView))
        port.down(.send(p, peer: coordinator, flags: []))
    }

    private func checkExit() {
        guard !exited, gotView.contains(rank) else { return }
        for r in 0 ..< setup.count where !gotView.contains(r) && !failed.contains(r) { return }
        exited = true
        if rank == coordinator {
            var p = Packet(headroom: 32 + setup.count / 8)
            p.push(Header.gotView(gotView))
            port.down(.cast(p, peer: rank, flags: []))
        }
        if !exitPassed {
            exitPassed = true
            port.down(.exit)
        }
    }
}
