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

/// Seeded whole-group runs of the real stack with every network fault.
@Suite struct SimulatedGroupTests {
    /// 300 seeds, 3 to 8 members, loss, duplication, reordering and delay, split into four
    /// batches so they run in parallel.
    @Test(arguments: 0 ..< 4)
    func staticGroupsWithNetworkFaults(batch: Int) {
        for seed in UInt64(batch * 75 + 1) ... UInt64(batch * 75 + 75) {
            let members = 3 + Int(seed % 6)
            var config = GroupScenario.Config(seed: seed, members: members, faults: .network)
            config.trafficTime = .seconds(2)
            config.settleTime = .seconds(15)
            let result = GroupScenario(config).run()
            #expect(result.passed, """
                seed \(seed) failed: \(result.violations.prefix(3).map(\.description).joined(separator: "; "))
                replay: maestro-sim --seed \(seed) --members \(members) --faults all --static --traffic-seconds 2 --settle-seconds 15 --verbose
                """)
            #expect(result.deliveries > 0, "seed \(seed): nothing was delivered")
        }
    }

    @Test func sameSeedSameRun() {
        let config = GroupScenario.Config(seed: 42, members: 5, faults: .network)
        let one = GroupScenario(config).run()
        let two = GroupScenario(config).run()
        #expect(one.events == two.events && one.datagrams == two.datagrams && one.deliveries == two.deliveries)
    }
}
