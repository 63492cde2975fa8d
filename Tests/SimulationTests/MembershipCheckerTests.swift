import Ensemble
import Testing
@testable import Simulation

/// The membership checker itself: hand-made histories with one known fault each (and a clean
/// one), so that each check is known to fire.
@Suite struct MembershipCheckerTests {
    typealias M = Recorder.Member
    let a = M(process: 0, incarnation: 0)
    let b = M(process: 1, incarnation: 0)
    let c = M(process: 2, incarnation: 0)
    let ids = (0 ..< 3).map { EndpointID(host: 1, port: UInt16($0), counter: 0, incarnation: 1) }

    /// A recorder whose clock the test sets, with a, b, c registered.
    final class History {
        let rec = Recorder()
        var now = Time.zero
        init(_ ids: [EndpointID]) {
            rec.clock = { [unowned self] in self.now }
            for (i, id) in ids.enumerated() { rec.register(M(process: i, incarnation: 0), endpoint: id) }
        }
    }

    func view(_ ltime: UInt64, _ ranks: [Int], from previous: [ViewState] = []) -> ViewState {
        ViewState(group: GroupID("g"), protocolStack: "P", ltime: ltime, members: ranks.map { ids[$0] },
                  addresses: ranks.map { .loopback(port: ids[$0].port) }, previousIDs: previous.map(\.id))
    }

    /// v1 = {a, b, c}; v2 = {a, b}, formed from v1 after a (its coordinator) failed c.
    var v1: ViewState { view(1, [0, 1, 2]) }
    var v2: ViewState { view(2, [0, 1], from: [v1]) }

    func violations(_ h: History, live: Set<M>? = nil, end: Time = .seconds(100), ghostBound: Time = .seconds(5)) -> [String] {
        MembershipChecker(ghostBound: ghostBound, endTime: end).check(h.rec, live: live ?? [a, b]).map(\.property)
    }

    /// The clean history the faulty ones are variations of.
    func cleanHistory(_ h: History) {
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        h.now = .seconds(1)
        h.rec.record(.crashed(c))
        h.now = .seconds(2)
        h.rec.record(.membership(a, .issuedFail(view: v1.id, rank: 0, failed: RankSet([2]))))
        for m in [a, b] { h.rec.record(.membership(m, .acceptedFail(view: v1.id, failed: RankSet([2])))) }
        for m in [a, b] { h.rec.record(.blocked(m, v1.id)) }
        h.rec.record(.membership(a, .issuedView(view: v1.id, rank: 0, next: v2)))
        h.now = .seconds(3)
        for m in [a, b] { h.rec.record(.installed(m, v2)) }
    }

    @Test func aCleanHistoryPasses() {
        let h = History(ids)
        cleanHistory(h)
        #expect(violations(h).isEmpty)
    }

    @Test func detectsADecisionByAMemberThatIsNotTheCoordinator() {
        let h = History(ids)
        cleanHistory(h)
        // b, rank 1, decides a view that keeps a (rank 0), and fails c without failing a.
        h.rec.record(.membership(b, .issuedFail(view: v1.id, rank: 1, failed: RankSet([2]))))
        h.rec.record(.membership(b, .issuedView(view: v1.id, rank: 1, next: v2)))
        // and c claims a rank that is not its own.
        h.rec.record(.membership(c, .issuedView(view: v1.id, rank: 0, next: v2)))
        #expect(violations(h) == ["coordinator determinism", "coordinator determinism", "coordinator determinism"])
    }

    @Test func detectsFailuresThatShrinkOrComeBack() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        h.rec.record(.membership(b, .acceptedFail(view: v1.id, failed: RankSet([2]))))
        h.rec.record(.membership(b, .acceptedFail(view: v1.id, failed: RankSet())))  // shrinks
        h.rec.record(.membership(a, .acceptedFail(view: v1.id, failed: RankSet([2]))))
        // a took c as failed, yet moves to a view that still has it.
        let withC = view(2, [0, 1, 2], from: [v1])
        for m in [a, b, c] { h.rec.record(.installed(m, withC)) }
        #expect(violations(h) == ["failure monotonicity", "failure monotonicity"])
    }

    @Test func detectsAViewNotFormedFromTheLastOne() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        h.rec.record(.crashed(c))
        let unrelated = view(2, [0, 1])  // names no previous view
        for m in [a, b] { h.rec.record(.installed(m, unrelated)) }
        #expect(violations(h) == ["merge correctness", "merge correctness"])
    }

    @Test func detectsMembersOutOfTheConstituentViewsOrder() {
        let h = History(ids)
        let left = view(1, [0]), right = view(1, [1])
        h.rec.record(.installed(a, left))
        h.rec.record(.installed(b, right))
        // Formed from [left, right]: a must come before b.
        let merged = view(2, [1, 0], from: [left, right])
        for m in [a, b] { h.rec.record(.installed(m, merged)) }
        #expect(violations(h) == ["merge correctness"])
    }

    @Test func detectsALeaversCastMissingBeforeTheViewWithoutIt() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        for seq in 0 ..< 2 { h.rec.record(.sent(.init(origin: c, view: v1.id, kind: .cast, seq: UInt64(seq), destination: nil))) }
        let msg = { (seq: UInt64) in TestMessage(origin: 2, incarnation: 0, kind: .cast, seq: seq, fillerLength: 0) }
        for seq in 0 ..< 2 { h.rec.record(.delivered(.init(receiver: a, view: v1.id, from: c, message: msg(UInt64(seq)), kind: .cast))) }
        h.rec.record(.delivered(.init(receiver: b, view: v1.id, from: c, message: msg(0), kind: .cast)))  // b misses #1
        h.rec.record(.leaveRequested(c))
        h.rec.record(.membership(a, .acknowledgedLeave(view: v1.id, rank: 2)))
        h.rec.record(.left(c))
        for m in [a, b] { h.rec.record(.installed(m, v2)) }
        #expect(violations(h) == ["leave"])
    }

    @Test func detectsAGhostListedButNeverInstalledNorFailed() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        let v2c = view(2, [0, 1, 2], from: [v1])
        h.now = .seconds(1)
        for m in [a, b] { h.rec.record(.installed(m, v2c)) }  // c never installs it
        #expect(violations(h) == ["ghost"])
        // Not judged before the bound has passed at the end of the run.
        #expect(violations(h, end: .seconds(3)).isEmpty)
    }

    @Test func aGhostFailedWithinTheBoundIsNoViolation() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        let v2c = view(2, [0, 1, 2], from: [v1])
        h.now = .seconds(1)
        for m in [a, b] { h.rec.record(.installed(m, v2c)) }
        h.now = .seconds(4)
        h.rec.record(.membership(a, .acceptedFail(view: v2c.id, failed: RankSet([2]))))
        #expect(violations(h).isEmpty)
        // The same failure after the bound is too late.
        #expect(violations(h, ghostBound: .seconds(2)) == ["ghost"])
    }

    @Test func detectsALiveMemberBlockedAtTheEnd() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        h.rec.record(.blocked(b, v1.id))
        #expect(violations(h) == ["blocked at end"])
        #expect(violations(h, live: [a]).isEmpty, "a member that is not live is not judged")
    }

    @Test func theViewCheckerDetectsASecondExit() {
        let h = History(ids)
        for m in [a, b, c] { h.rec.record(.installed(m, v1)) }
        h.rec.record(.leaveRequested(c))
        h.rec.record(.left(c))
        h.rec.record(.left(c))
        #expect(ViewChecker().check(h.rec, live: [a, b]).map(\.property).contains("leave"))
    }
}
