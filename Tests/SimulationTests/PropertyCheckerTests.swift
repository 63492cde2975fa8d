import Ensemble
import Testing
@testable import Simulation

/// The checker itself: hand-made histories with one known fault each.
@Suite struct PropertyCheckerTests {
    typealias M = Recorder.Member
    let a = M(process: 0, incarnation: 0)
    let b = M(process: 1, incarnation: 0)
    let c = M(process: 2, incarnation: 0)

    func history(_ body: (Recorder, ViewState) -> Void) -> Recorder {
        let rec = Recorder()
        let ids = (0 ..< 3).map { EndpointID(host: 1, port: UInt16($0), counter: 0, incarnation: 1) }
        for (i, id) in ids.enumerated() { rec.register(M(process: i, incarnation: 0), endpoint: id) }
        let view = ViewState(group: GroupID("g"), protocolStack: "P", ltime: 1, members: ids,
                             addresses: ids.map { .loopback(port: $0.port) })
        for m in [a, b, c] { rec.record(.installed(m, view)) }
        body(rec, view)
        return rec
    }

    func cast(_ rec: Recorder, _ v: ViewState, _ from: M, _ seq: UInt64) {
        rec.record(.sent(.init(origin: from, view: v.id, kind: .cast, seq: seq, destination: nil)))
    }
    func deliver(_ rec: Recorder, _ v: ViewState, _ to: M, _ from: M, _ seq: UInt64, kind: TestMessage.Kind = .cast) {
        let msg = TestMessage(origin: from.process, incarnation: 0, kind: kind, seq: seq, fillerLength: 0)
        rec.record(.delivered(.init(receiver: to, view: v.id, from: from, message: msg, kind: kind)))
    }

    func properties(_ rec: Recorder, complete: Bool = true) -> [String] {
        PropertyChecker().check(rec, live: [a, b, c], expectComplete: complete).map(\.property)
    }

    @Test func totalOrderRequiresOneOrderAndSelfDelivery() {
        func total(_ rec: Recorder) -> [String] {
            PropertyChecker(totalOrder: true).check(rec, live: [a, b, c], expectComplete: true).map(\.property)
        }
        // One order, own casts included: clean.
        let good = history { r, v in
            cast(r, v, a, 0); cast(r, v, b, 0)
            for m in [a, b, c] { deliver(r, v, m, b, 0); deliver(r, v, m, a, 0) }
        }
        #expect(total(good).isEmpty)
        #expect(properties(good).contains("no self-delivery"), "without total order, the same history breaks no self-delivery")
        // c delivers the two casts the other way round; a never gets its own.
        let bad = history { r, v in
            cast(r, v, a, 0); cast(r, v, b, 0)
            deliver(r, v, b, b, 0); deliver(r, v, b, a, 0)
            deliver(r, v, c, a, 0); deliver(r, v, c, b, 0)
            deliver(r, v, a, b, 0)
        }
        #expect(total(bad) == ["reliable delivery", "total order"])
    }

    @Test func aCleanHistoryPasses() {
        let rec = history { r, v in
            cast(r, v, a, 0); cast(r, v, a, 1)
            for m in [b, c] { deliver(r, v, m, a, 0); deliver(r, v, m, a, 1) }
        }
        #expect(properties(rec).isEmpty)
    }

    @Test func detectsFIFOViolation() {
        let rec = history { r, v in
            cast(r, v, a, 0); cast(r, v, a, 1)
            deliver(r, v, b, a, 1); deliver(r, v, b, a, 0)
            deliver(r, v, c, a, 0); deliver(r, v, c, a, 1)
        }
        #expect(properties(rec) == ["FIFO casts"])
    }

    @Test func detectsDuplicateAndSelfDeliveryAndInventedMessages() {
        let rec = history { r, v in
            cast(r, v, a, 0)
            deliver(r, v, b, a, 0); deliver(r, v, b, a, 0)
            deliver(r, v, c, a, 0)
            deliver(r, v, a, a, 0)
            deliver(r, v, c, b, 7)
            r.record(.delivered(.init(receiver: c, view: v.id, from: a, message: nil, kind: .cast)))
        }
        #expect(Set(properties(rec)) == ["no duplicates", "no self-delivery", "integrity"])
    }

    @Test func detectsLossAndMisaddressedSends() {
        let rec = history { r, v in
            cast(r, v, a, 0)
            deliver(r, v, b, a, 0)
            r.record(.sent(.init(origin: b, view: v.id, kind: .send, seq: 0, destination: c)))
            deliver(r, v, a, b, 0, kind: .send)
        }
        let found = properties(rec)
        #expect(found.contains("reliable delivery"))  // c never got a's cast nor b's send
        #expect(found.contains("integrity"))          // a got a send addressed to c
        #expect(!properties(rec, complete: false).contains("reliable delivery"))
    }
}

/// Seeded whole-group runs of the real stack with every network fault. A sample in the debug
/// build; `make test` then runs many more seeds with the release-built `maestro-sim` (the
/// `simulate` target), which is ten times faster.
@Suite struct SimulatedGroupTests {
    /// 100 seeds, 3 to 8 members, loss, duplication, reordering and delay, in four batches
    /// that run in parallel.
    @Test(arguments: 0 ..< 4)
    func staticGroupsWithNetworkFaults(batch: Int) {
        for seed in UInt64(batch * 25 + 1) ... UInt64(batch * 25 + 25) {
            let members = 3 + Int(seed % 6)
            var config = GroupScenario.Config(seed: seed, members: members, faults: .network)
            config.staticView = true
            config.protocolStack = GroupScenario.dataStack
            config.trafficTime = .seconds(2)
            config.settleTime = .seconds(15)
            config.settleGap = .seconds(1)
            let result = GroupScenario(config).run()
            #expect(result.passed, """
                seed \(seed) failed: \(result.violations.prefix(3).map(\.description).joined(separator: "; "))
                replay: maestro-sim --seed \(seed) --members \(members) --faults network --static --protocol-stack \(GroupScenario.dataStack) --traffic-seconds 2 --settle-seconds 15 --verbose
                """)
            #expect(result.deliveries > 0, "seed \(seed): nothing was delivered")
        }
    }

    /// 80 seeds of the seed's full stack, every member starting alone, with every fault (loss,
    /// duplication, reordering, delay, crash, restart, quick restart, leave, partition, heal),
    /// traffic going on after the faults stop: half with the default timers, half with the
    /// fast profile, in four batches that run in parallel.
    @Test(arguments: 0 ..< 4)
    func membershipWithEveryFault(batch: Int) throws {
        let fast = batch % 2 == 1
        let params = fast ? try Parameters(parsing: "fast") : Parameters()
        for k in 0 ..< 20 {
            let seed = UInt64(10_000 + batch * 20 + k)
            let members = 3 + Int(seed % 6)
            var config = GroupScenario.Config(seed: seed, members: members, faults: .all)
            config.params = params
            config.trafficTime = .seconds(5)
            config.settleTime = fast ? .seconds(12) : .seconds(36)
            let result = GroupScenario(config).run()
            let flags = fast ? " --params fast --settle-seconds 12" : " --settle-seconds 36"
            #expect(result.passed, """
                seed \(seed) failed: \(result.violations.prefix(3).map(\.description).joined(separator: "; "))
                replay: maestro-sim --seed \(seed) --members \(members) --faults all --traffic-seconds 5\(flags) --verbose
                """)
        }
    }

    /// Regression: a process restarted on its old address was merged while its previous
    /// incarnation was still listed, and consumed the sends meant for it (32 violations of
    /// integrity, FIFO sends and send synchrony before frames carried their destination).
    @Test func restartOnTheSameAddressSeed() {
        let result = GroupScenario(GroupScenario.Config(seed: 20_000_009, members: 13, faults: .all)).run()
        #expect(result.passed, "\(result.violations.prefix(3).map(\.description)); replay: maestro-sim --seed 20000009 --members 13 --faults all --verbose")
    }

    @Test func sameSeedSameRun() {
        var config = GroupScenario.Config(seed: 42, members: 5, faults: .all)
        config.trafficTime = .seconds(3)
        let one = GroupScenario(config).run()
        let two = GroupScenario(config).run()
        #expect(one.events == two.events && one.datagrams == two.datagrams && one.deliveries == two.deliveries)
    }
}

/// The view checker: hand-made histories with one known fault each.
@Suite struct ViewCheckerTests {
    typealias M = Recorder.Member
    let ms = (0 ..< 3).map { M(process: $0, incarnation: 0) }
    let ids = (0 ..< 3).map { EndpointID(host: 1, port: UInt16($0), counter: 0, incarnation: 1) }

    func view(_ ltime: UInt64, _ ranks: [Int], prev: [ViewID] = []) -> ViewState {
        ViewState(group: GroupID("g"), protocolStack: "P", ltime: ltime, members: ranks.map { ids[$0] },
                  addresses: ranks.map { .loopback(port: UInt16($0)) }, previousIDs: prev)
    }

    func recorder() -> Recorder {
        let rec = Recorder()
        for i in 0 ..< 3 { rec.register(ms[i], endpoint: ids[i]) }
        return rec
    }

    func cast(_ rec: Recorder, _ v: ViewState, _ from: Int, _ seq: UInt64) {
        rec.record(.sent(.init(origin: ms[from], view: v.id, kind: .cast, seq: seq, destination: nil)))
    }
    func deliver(_ rec: Recorder, _ v: ViewState, _ to: Int, _ from: Int, _ seq: UInt64) {
        let msg = TestMessage(origin: from, incarnation: 0, kind: .cast, seq: seq, fillerLength: 0)
        rec.record(.delivered(.init(receiver: ms[to], view: v.id, from: ms[from], message: msg, kind: .cast)))
    }

    func check(_ rec: Recorder, live: [Int] = [0, 1, 2]) -> [String] {
        ViewChecker().check(rec, live: Set(live.map { ms[$0] })).map(\.property)
    }

    @Test func aCleanViewChangePasses() {
        let rec = recorder()
        let v1 = view(1, [0, 1, 2]), v2 = view(2, [0, 1, 2], prev: [v1.id])
        for i in 0 ..< 3 { rec.record(.installed(ms[i], v1)) }
        cast(rec, v1, 0, 0)
        deliver(rec, v1, 1, 0, 0); deliver(rec, v1, 2, 0, 0)
        for i in 0 ..< 3 { rec.record(.blocked(ms[i], v1.id)) }
        for i in 0 ..< 3 { rec.record(.installed(ms[i], v2)) }
        #expect(check(rec).isEmpty)
    }

    @Test func detectsAVirtualSynchronyBreach() {
        let rec = recorder()
        let v1 = view(1, [0, 1, 2]), v2 = view(2, [0, 1, 2], prev: [v1.id])
        for i in 0 ..< 3 { rec.record(.installed(ms[i], v1)) }
        cast(rec, v1, 0, 0)
        deliver(rec, v1, 1, 0, 0)  // member 2 never delivers it, yet moves on with the others
        for i in 0 ..< 3 { rec.record(.blocked(ms[i], v1.id)) }
        for i in 0 ..< 3 { rec.record(.installed(ms[i], v2)) }
        #expect(check(rec) == ["virtual synchrony"])
    }

    @Test func detectsDisagreementRegressionMissingBlockAndSendAfterBlock() {
        let rec = recorder()
        let v1 = view(1, [0, 1, 2])
        let v1b = view(1, [0, 1])  // same id (same ltime and coordinator), different members
        rec.record(.installed(ms[0], v1))
        rec.record(.installed(ms[1], v1b))
        rec.record(.blocked(ms[0], v1.id))
        cast(rec, v1, 0, 0)                       // after block()
        rec.record(.installed(ms[0], view(1, [0, 2])))  // ltime does not grow
        let found = Set(check(rec, live: [0, 1]))
        #expect(found.isSuperset(of: ["view agreement", "block discipline", "monotonic views", "liveness"]))
    }

    @Test func detectsSelfExclusionAndIncompleteFinalView() {
        let rec = recorder()
        rec.record(.installed(ms[0], view(1, [1, 2])))
        rec.record(.installed(ms[1], view(1, [1, 2])))
        let found = Set(check(rec, live: [0, 1]))
        #expect(found.contains("view self-inclusion"))
        #expect(found.contains("liveness"))
    }

    @Test func detectsALeaverThatNeverExits() {
        let rec = recorder()
        let v1 = view(1, [0])
        rec.record(.installed(ms[0], v1))
        rec.record(.leaveRequested(ms[0]))
        #expect(check(rec, live: []) == ["leave"])
    }

    /// The longest blocked interval runs from a member's first block in a view to its next
    /// view; a member that crashes while blocked is not counted.
    @Test func longestBlockedIsFromFirstBlockToNextView() {
        var now = Time.zero
        let rec = recorder()
        rec.clock = { now }
        let v1 = view(1, [0, 1, 2]), v2 = view(2, [0, 1], prev: [v1.id])
        for i in 0 ..< 3 { rec.record(.installed(ms[i], v1)) }
        now = .milliseconds(500)
        rec.record(.blocked(ms[2], v1.id))
        now = .seconds(1)
        rec.record(.blocked(ms[0], v1.id))
        now = .seconds(2)
        rec.record(.blocked(ms[0], v1.id))  // a second block does not restart the interval
        rec.record(.blocked(ms[1], v1.id))
        now = .seconds(4)
        rec.record(.installed(ms[1], v2))   // 2 s
        now = .seconds(9)
        rec.record(.crashed(ms[2]))          // 8.5 s blocked, then crashed: not counted
        rec.record(.installed(ms[0], v2))    // 8 s
        let (longest, who) = rec.longestBlocked()
        #expect(longest == .seconds(8))
        #expect(who.hasPrefix("p0 "))
    }
}
