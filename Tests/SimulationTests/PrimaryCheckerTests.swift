import Ensemble
import Testing
@testable import Simulation

/// The primary checker on hand-made histories: a clean line of primaries passes; two
/// primaries side by side, a primary without a quorum, and a first primary without every
/// expected member are reported.
@Suite struct PrimaryCheckerTests {
    typealias M = Recorder.Member
    let ms = (0 ..< 5).map { M(process: $0, incarnation: 0) }
    let ids = (0 ..< 5).map { EndpointID(host: 1, port: UInt16($0), counter: 0, incarnation: 1) }

    func history() -> (Recorder, () -> Void) {
        let rec = Recorder()
        var now = Time.zero
        rec.clock = { now }
        for (m, id) in zip(ms, ids) { rec.register(m, endpoint: id) }
        return (rec, { now = now + .seconds(1) })
    }

    func view(_ ltime: UInt64, _ ranks: [Int], from previous: [ViewState] = [], primary: Bool, last: ViewState? = nil) -> ViewState {
        ViewState(group: GroupID("g"), protocolStack: "Top:Primary:Bottom", ltime: ltime, members: ranks.map { ids[$0] },
                  addresses: ranks.map { .loopback(port: ids[$0].port) }, previousIDs: previous.map(\.id), primary: primary,
                  lastPrimary: last.map { PrimaryRecord(id: $0.id, members: $0.members) })
    }

    /// Members `ranks` install `v`; a view decided primary that all its members installed is
    /// then confirmed to them, as the Primary layer does.
    func install(_ rec: Recorder, _ v: ViewState, _ ranks: [Int]) {
        for r in ranks { rec.record(.installed(ms[r], v)) }
        guard v.primary, ranks.count == v.count else { return }
        for r in ranks { rec.record(.primaryConfirmed(ms[r], v.id)) }
    }

    var all: ViewState { view(1, [0, 1, 2, 3, 4], primary: true) }

    @Test func aLineOfPrimariesPasses() {
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3, 4])
        tick()
        let v2 = view(2, [0, 1, 2], from: [v1], primary: true, last: v1)
        let w2 = view(2, [3, 4], from: [v1], primary: false, last: v1)
        install(rec, v2, [0, 1, 2])
        install(rec, w2, [3, 4])
        #expect(PrimaryChecker(configured: 5).check(rec).isEmpty)
    }

    @Test func twoOverlappingPrimariesAreReported() {
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3, 4])
        tick()
        // Both sides of a split call themselves primary.
        let v2 = view(2, [0, 1, 2], from: [v1], primary: true, last: v1)
        let w2 = view(2, [3, 4], from: [v1], primary: true, last: v1)
        install(rec, v2, [0, 1, 2])
        install(rec, w2, [3, 4])
        let found = PrimaryChecker(configured: 5).check(rec)
        #expect(found.contains { $0.property == "one primary at a time" && $0.detail.contains("two primary views with ltime 2") })
        #expect(found.contains { $0.property == "primary quorum" })
    }

    @Test func aPrimaryThatSomeMemberNeverInstalledIsNeverConfirmedAndDoesNotCount() {
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3, 4])
        tick()
        // v2 was decided primary but only 0 installed it: never confirmed. The others go on
        // from v1 and form a primary of their own, which is the only one.
        let v2 = view(2, [0, 1, 2], from: [v1], primary: true, last: v1)
        install(rec, v2, [0])
        let w2 = view(2, [1, 2, 3, 4], from: [v1], primary: false, last: v1)
        install(rec, w2, [1, 2, 3, 4])
        tick()
        let w3 = view(3, [1, 2, 3, 4], from: [w2], primary: true, last: v1)
        install(rec, w3, [1, 2, 3, 4])
        #expect(PrimaryChecker(configured: 5).check(rec).isEmpty)
        // Had v2 been confirmed although 1 and 2 never installed it, that is reported.
        rec.record(.primaryConfirmed(ms[0], v2.id))
        #expect(PrimaryChecker(configured: 5).check(rec).map(\.detail).contains { $0.contains("never installed it") })
    }

    @Test func primariesWithDisjointInstallersAreReported() {
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3, 4])
        tick()
        let v2 = view(2, [0, 1, 2], from: [v1], primary: true, last: v1)
        install(rec, v2, [0, 1, 2])
        tick()
        // w3 descends from v1 behind v2's back, with installers disjoint from v2's.
        let w2 = view(2, [3, 4], from: [v1], primary: false, last: v1)
        install(rec, w2, [3, 4])
        let w3 = view(3, [3, 4], from: [w2], primary: true, last: v1)
        install(rec, w3, [3, 4])
        let found = PrimaryChecker(configured: 5).check(rec).map(\.detail)
        #expect(found.contains { $0.contains("no installer in common") })
        #expect(found.contains { $0.contains("descends from 1/") })
    }

    @Test func aFirstPrimaryWithoutEveryExpectedMemberIsReported() {
        let (rec, _) = history()
        install(rec, view(1, [0, 1, 2], primary: true), [0, 1, 2])
        #expect(PrimaryChecker(configured: 5).check(rec).map(\.property) == ["primary quorum"])
    }

    @Test func leavesCountForTheFirstConfirmedPrimaryAfterUnconfirmedOnes() {
        // Seed 121046: v1 was decided primary but never confirmed (4 did not install it); 3 and
        // 4 left cleanly (its coordinator lowered E to 3); v2 of 2 is the first confirmed one.
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3])
        tick()
        rec.record(.leaveRequested(ms[3]))
        rec.record(.leaveRequested(ms[4]))
        tick()
        let v2 = view(2, [0, 1], from: [v1], primary: true, last: v1)
        install(rec, v2, [0, 1])
        #expect(PrimaryChecker(configured: 5).check(rec).isEmpty, "2 of the 3 expected after two leaves")
    }

    @Test func aLeaveLowersWhatTheNextPrimaryNeeds() {
        let (rec, tick) = history()
        let v1 = all
        install(rec, v1, [0, 1, 2, 3, 4])
        tick()
        rec.record(.leaveRequested(ms[3]))
        rec.record(.leaveRequested(ms[4]))
        tick()
        let v2 = view(2, [0, 1, 2], from: [v1], primary: true, last: v1)
        install(rec, v2, [0, 1, 2])
        tick()
        let v3 = view(3, [0, 1], from: [v2], primary: true, last: v2)
        install(rec, v3, [0, 1])
        #expect(PrimaryChecker(configured: 5).check(rec).isEmpty, "3 expected after two leaves: 2 of them are a quorum")
        tick()
        let v4 = view(4, [0], from: [v3], primary: true, last: v3)
        install(rec, v4, [0])
        #expect(PrimaryChecker(configured: 5).check(rec).map(\.property) == ["primary quorum", "primary quorum"])
    }
}
