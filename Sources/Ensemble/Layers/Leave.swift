/// Leave: voluntary leave, and garbage collection of old stacks (Ensemble's `leave.ml`).
///
/// A leaving member casts Leave (FIFO after its earlier casts, so they are delivered first);
/// the others suspect it when its Leave arrives, which takes it out of their next view. After a
/// view change, the old stack stays up until every member of the old view has either
/// installed the next view (reported with GotView) or failed, long enough to serve
/// retransmissions; then it exits.
///
/// Beyond Ensemble, whose leaver suspected everyone and exited at once (so its Leave, still in
/// its send queue, never reached the wire, and the others dropped it only when their failure
/// detector did): every member that delivers the Leave acknowledges it; the leaver keeps its
/// stack running (answering NAKs and acks) until every other member has acknowledged or failed,
/// or `leave_timeout` (1 s) has passed since the leave, and only then exits. A leaver included
/// in a next view decided before its Leave arrived follows that view silently (the endpoint
/// installs it without telling the application) and leaves it in turn. And an old stack also
/// exits `leave_linger` after its member moved on, even if some member of the old view never
/// reported: otherwise a member that missed a View (its coordinator crashed mid-way) would
/// wait forever in the old view, kept from suspecting anyone by the old stacks' pings.
public final class Leave: Layer {
    enum Header: LayerHeader {
        case leave
        case gotView(RankSet)
        case leaveAck

        static var carriers: MessageKinds { [.cast, .send] }
        var encodedSizeBound: Int {
            if case let .gotView(s) = self { return 1 + s.encodedSizeBound }
            return 1
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .leave: w.write(UInt8(1))
            case let .gotView(s): w.write(UInt8(2)); s.encode(into: &w)
            case .leaveAck: w.write(UInt8(3))
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .leave
            case 2: return .gotView(try RankSet.decode(from: &r, maxRank: members))
            case 3: return .leaveAck
            default: throw .invalidValue(field: "Leave header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private var roster: Roster
    private var leaving = false
    private var exited = false
    private var exitPassed = false
    private var gotView = RankSet()
    private let linger: Time
    private var now: Time
    private var deadline = Time.never
    /// Leaving: who has acknowledged my Leave (me included), and until when I wait.
    private var leaveAcked = RankSet()
    private var leaveDeadline = Time.never
    private let leaveTimeout: Time

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.setup = setup
        roster = Roster(setup)
        now = setup.now
        // Long enough for a straggler to repair what it missed (a few retransmission rounds).
        let repair = max(try setup.params.time("stable_sweep", default: .seconds(1)),
                         try setup.params.time("pt2pt_sweep", default: .seconds(1)))
        linger = try setup.params.time("leave_linger", default: repair * 3)
        leaveTimeout = try setup.params.time("leave_timeout", default: .seconds(1))
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .leave:
            if !leaving {
                leaving = true
                port.originate(Header.leave, .cast, peer: roster.rank)
                leaveAcked.insert(roster.rank)
                // The wait is bounded from the first leave, whatever views it crosses.
                let d = setup.shared.leaveDeadline ?? now + leaveTimeout
                setup.shared.leaveDeadline = d
                leaveDeadline = d
                port.down(.timer(d))
                checkLeft()
            }
            port.up(event)
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: roster.count) else { return }
            switch h {
            case .leave:
                guard o != roster.rank else { return }
                // Everything it cast before reached me (FIFO): say so, then let it go.
                setup.shared.observer?(.acknowledgedLeave(view: setup.view.id, rank: o))
                var ack = Packet(headroom: 32)
                ack.push(Header.leaveAck)
                port.down(.send(ack, peer: o, flags: []))
                port.down(.suspect(RankSet([o]), reason: "left"))
                port.up(.left(o))
                if leaving {
                    // Leaving too (several members of one process, say): it will not wait to
                    // acknowledge mine, and need not.
                    leaveAcked.insert(o)
                    checkLeft()
                }
            case let .gotView(v): got(v)
            case .leaveAck: break
            }
        case .send(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .send, from: o, flags: flags, members: roster.count) else { return }
            switch h {
            case let .gotView(v): got(v)
            case .leaveAck:
                leaveAcked.insert(o)
                checkLeft()
            case .leave: break
            }
        case .view:
            // Superseded: a next view came (while leaving, it is where I leave now); this
            // stack ends as old ones do.
            roster.note(event)
            port.up(event)
            gotView.insert(roster.rank)
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
            if t >= deadline || (leaving && !roster.superseded && t >= leaveDeadline) { exitNow() }
        case let .fail(f):
            roster.fail(f)
            report()
            checkExit()
            checkLeft()
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
        default:
            port.passDown(event, Header.self)
        }
    }

    /// Leaving: done once every other member acknowledged my Leave or failed.
    private func checkLeft() {
        guard leaving, !roster.superseded, !exited, roster.everyLive(in: leaveAcked) else { return }
        exitNow()
    }

    private func exitNow() {
        guard !exited else { return }
        exited = true
        if !exitPassed {
            exitPassed = true
            port.down(.exit)
        }
    }

    private func got(_ v: RankSet) {
        var v = v
        v.remove(roster.rank)  // only I may say that I have the view
        gotView.formUnion(v)
        checkExit()
    }

    private func report() {
        guard !roster.isCoordinator, gotView.contains(roster.rank) else { return }
        port.originate(Header.gotView(gotView), .send, peer: roster.coordinator)
    }

    private func checkExit() {
        guard !exited, gotView.contains(roster.rank), roster.everyLive(in: gotView) else { return }
        exited = true
        if roster.isCoordinator {
            port.originate(Header.gotView(gotView), .cast, peer: roster.rank)
        }
        if !exitPassed {
            exitPassed = true
            port.down(.exit)
        }
    }
}
