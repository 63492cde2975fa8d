import Ensemble
import Foundation
import Simulation
import SoakCheck
import Testing

extension RecordedRun {
    /// The clean run over a totally ordered stack: every member also delivers its own casts,
    /// and p1 casts #0 in view 2 before p0's #2 and #3, which every member delivers first.
    static var totalClean: RecordedRun {
        var r = clean
        r.insert("m0.1.log", "3010 recv cast 1@\(e0) \(e0) 0 1 cast 0 10")
        r.insert("m0.1.log", "5950 recv cast 2@\(e0) \(e1) 1 1 cast 0 7")
        r.insert("m0.1.log", "6010 recv cast 2@\(e0) \(e0) 0 1 cast 2 20")
        r.insert("m0.1.log", "6110 recv cast 2@\(e0) \(e0) 0 1 cast 3 30")
        r.insert("m1.1.log", "5900 cast 2@\(e0) 0 7")
        r.insert("m1.1.log", "5910 recv cast 2@\(e0) \(e1) 1 1 cast 0 7")
        r.insert("m2.1.log", "6650 recv cast 2@\(e0) \(e1) 1 1 cast 0 7")
        return r
    }

    static func totalFacts() -> RunFacts {
        var f = facts()
        f.totalOrder = true
        f.selfDelivery = true
        return f
    }

    // MARK: The primary partition

    static let primaryStack = "Top:Heal:Primary:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Seqbb:Pt2pt:Frag:Stable:Mnak:Bottom"

    static func pview(_ ltime: UInt64, _ members: [EndpointID], previous: [ViewID] = [], primary: Bool = false,
                      last: ViewState? = nil) -> ViewState {
        ViewState(group: GroupID("soak"), protocolStack: primaryStack, ltime: ltime, members: members,
                  addresses: members.map { Address(ip: $0.host, port: $0.port) }, previousIDs: previous, primary: primary,
                  expected: 3, lastPrimary: last.map { PrimaryRecord(id: $0.id, members: $0.members) })
    }

    /// The three primary (the first primary needs all three), then split 2 + 1: p0 and p1 go
    /// through view 2 to view 3 of the same members, primary; p2 stays alone in 2@p2. Healed:
    /// view 4 of the three (not primary: new members), p2 takes the state from p0, then view 5,
    /// primary again.
    static let pv1 = pview(1, [ep0, ep1, ep2], primary: true)
    static let pv2 = pview(2, [ep0, ep1], previous: [pv1.id], last: pv1)
    static let pw2 = pview(2, [ep2], previous: [pv1.id], last: pv1)
    static let pv3 = pview(3, [ep0, ep1], previous: [pv2.id], primary: true, last: pv1)
    static let pv4 = pview(4, [ep0, ep1, ep2], previous: [pv3.id, pw2.id], last: pv3)
    static let pv5 = pview(5, [ep0, ep1, ep2], previous: [pv4.id], primary: true, last: pv3)

    /// p0 casts in views 1, 3 and 5, once each view is confirmed primary (total order: it
    /// delivers its own casts too). Partition at 4 ms (p2 on side 1), heal at 7.5 ms.
    static var primarySplit: RecordedRun {
        let d = "00000000000000bb"
        return RecordedRun(logs: [
            "m0.1.log": [
                "1000 start 0 1 \(e0) 127.0.0.1:7000",
                "2000 view 1@\(e0) server \(hex(pv1))",
                "2010 primary 1@\(e0) 1",
                "2500 cast 1@\(e0) 0 10",
                "2510 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "5000 block 1@\(e0)",
                "5100 primary 2@\(e0) 0",
                "5110 view 2@\(e0) server \(hex(pv2))",
                "5500 block 2@\(e0)",
                "5600 view 3@\(e0) server \(hex(pv3))",
                "5700 primary 3@\(e0) 1",
                "6000 cast 3@\(e0) 1 11",
                "6010 recv cast 3@\(e0) \(e0) 0 1 cast 1 11",
                "8000 block 3@\(e0)",
                "8100 primary 4@\(e0) 0",
                "8110 view 4@\(e0) server \(hex(pv4))",
                "8200 xfer-provide \(e2) 1 00000000000000aa 2",
                "8500 block 4@\(e0)",
                "8600 view 5@\(e0) server \(hex(pv5))",
                "8700 primary 5@\(e0) 1",
                "9000 cast 5@\(e0) 2 12",
                "9010 recv cast 5@\(e0) \(e0) 0 1 cast 2 12",
                "12000 final 3 33 \(d) 5@\(e0)",
            ],
            "m1.1.log": [
                "1100 start 1 1 \(e1) 127.0.0.1:7001",
                "2100 view 1@\(e0) server \(hex(pv1))",
                "2110 primary 1@\(e0) 1",
                "2600 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "5050 block 1@\(e0)",
                "5150 primary 2@\(e0) 0",
                "5160 view 2@\(e0) server \(hex(pv2))",
                "5550 block 2@\(e0)",
                "5650 view 3@\(e0) server \(hex(pv3))",
                "5750 primary 3@\(e0) 1",
                "6100 recv cast 3@\(e0) \(e0) 0 1 cast 1 11",
                "8050 block 3@\(e0)",
                "8150 primary 4@\(e0) 0",
                "8160 view 4@\(e0) server \(hex(pv4))",
                "8550 block 4@\(e0)",
                "8650 view 5@\(e0) server \(hex(pv5))",
                "8750 primary 5@\(e0) 1",
                "9100 recv cast 5@\(e0) \(e0) 0 1 cast 2 12",
                "12100 final 3 33 \(d) 5@\(e0)",
            ],
            "m2.1.log": [
                "1200 start 2 1 \(e2) 127.0.0.1:7002",
                "2200 view 1@\(e0) server \(hex(pv1))",
                "2210 primary 1@\(e0) 1",
                "2700 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "5080 block 1@\(e0)",
                "5180 primary 2@\(e2) 0",
                "5190 view 2@\(e2) server \(hex(pw2))",
                "8080 block 2@\(e2)",
                "8190 view 4@\(e0) xfer \(hex(pv4))",
                "8210 xfer-start 1",
                "8300 xfer-got \(e0) 1 00000000000000aa 00000000000000aa 2",
                "8580 block 4@\(e0)",
                "8680 view 5@\(e0) server \(hex(pv5))",
                "8780 primary 5@\(e0) 1",
                "9200 recv cast 5@\(e0) \(e0) 0 1 cast 2 12",
                "12200 final 3 33 \(d) 5@\(e0)",
            ],
        ], soak: ["4000 note partition 0,0,1", "7500 note heal", "10000 note quiet"])
    }

    static func primaryFacts(split: Bool = true) -> RunFacts {
        var f = totalFacts()
        f.primaryExpected = 3
        f.splitScenario = split
        return f
    }
}

/// The soak's checks over a totally ordered stack (own casts delivered, one order per view)
/// and with the Primary layer (the primary line, casts only in the primary, the split).
@Suite struct TotalPrimarySoakTests {
    typealias R = RecordedRun
    static let e0 = R.e0
    static let e1 = R.e1
    static let e2 = R.e2

    // MARK: Total order

    @Test func totalOrderRunPassesEveryCheckIncludingTotalOrder() {
        let a = R.totalClean.analyze(R.totalFacts())
        #expect(a.failed.isEmpty, "\(a.failed)")
        let names = a.checks.map(\.name)
        #expect(names.contains("total order"))
        #expect(names.firstIndex(of: "total order") == names.firstIndex(of: "FIFO sends").map { $0 + 1 })
        #expect(!names.contains { $0.hasPrefix("primary") || $0 == "updates only in the primary" })
    }

    /// The same logs read as a stack without self-delivery: every own delivery is one too many
    /// (and virtual synchrony counts them against the others).
    @Test func ownDeliveriesFailNoSelfDeliveryWithoutTotalOrder() {
        let f = R.totalClean.analyze().failed
        #expect(Set(f.keys) == ["no self-delivery", "virtual synchrony"])
        #expect(f["no self-delivery"]?.count == 4)
        #expect(f["no self-delivery"]?.contains("p0.1 delivered its own cast #2") == true)
    }

    @Test func missingOwnDeliveryFailsReliableDelivery() {
        var r = R.totalClean
        r.remove("m0.1.log", at: 6110)
        let d = r.analyze(R.totalFacts()).onlyFailure("reliable delivery")
        #expect(d == ["p0.1 delivered 1 of 2 casts from live p0.1 in view 2"])
    }

    @Test func castsInAnotherOrderFailTotalOrder() {
        var r = R.totalClean
        r.swapContents("m2.1.log", 6650, 6700)  // p2: p0's #2 before p1's #0
        let d = r.analyze(R.totalFacts()).onlyFailure("total order")
        #expect(d.contains("in view 2, p2.1 delivered p1.1's cast #0 after p0.1's #2; p0.1 delivered them the other way round"))
    }

    // MARK: The primary partition

    @Test func primaryLineParses() throws {
        let p = try #require(LogLine.parse("7 primary 3@\(Self.e0) 1"))
        guard case let .primary(id, true) = p.event else {
            Issue.record("\(p.event)")
            return
        }
        #expect(id == ViewID(ltime: 3, coordinator: R.ep0))
        guard case .primary(_, false)? = LogLine.parse("7 primary 3@\(Self.e0) 0")?.event else {
            Issue.record("primary 0 does not parse")
            return
        }
    }

    @Test(arguments: ["7 primary", "7 primary 3@\(R.e0)", "7 primary 3@\(R.e0) 2", "7 primary 3@\(R.e0) 1 x", "7 primary - 1"])
    func malformedPrimaryLineIsNil(line: String) {
        #expect(LogLine.parse(line) == nil)
    }

    @Test func splitRunPassesWithItsFigures() throws {
        let a = R.primarySplit.analyze(R.primaryFacts())
        #expect(a.failed.isEmpty, "\(a.failed)")
        let names = a.checks.map(\.name)
        for n in ["total order", "minority knows it", "one primary at a time", "primary quorum", "updates only in the primary"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(names.contains { $0.hasPrefix("primary at the split (2+1: majority primary after 0.002 s, others never; primary again 0.001 s after the heal; 1 of 1 transfers") })
        let s = try #require(a.splits.first)
        #expect(a.splits.count == 1)
        #expect(s.sides == [0, 0, 1] && s.sizes == [2, 1] && s.majority == 0)
        #expect(s.at == 0.004 && s.healedAt == 0.0075)
        #expect(abs((s.majorityPrimaryAfter ?? 0) - 0.00175) < 1e-9)  // p1's confirmation of view 3
        #expect(abs((s.primaryAfterHeal ?? 0) - 0.00128) < 1e-9)  // p2's confirmation of view 5
        #expect(s.transfersAfterHeal == 1 && s.transfersFromMajority == 1)
    }

    /// Outside a split scenario only the minority's half is checked, and named so.
    @Test func partitionsWithoutTheScenarioCheckOnlyTheMinority() {
        let a = R.primarySplit.analyze(R.primaryFacts(split: false))
        #expect(a.failed.isEmpty, "\(a.failed)")
        #expect(a.checks.contains { $0.name == "primary at partitions (no side without a majority primary, over 1)" })
        #expect(a.splits.first?.majorityPrimaryAfter == nil)
    }

    private func splitFailure(_ a: SoakAnalysis, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        a.checks.first { $0.name.hasPrefix("primary at the split") }?.details ?? []
    }

    @Test func minorityConfirmedPrimaryFailsTheSplit() {
        var r = R.primarySplit
        r.insert("m2.1.log", "5300 primary 2@\(Self.e2) 1")
        let a = r.analyze(R.primaryFacts())
        #expect(Set(a.failed.keys.map { $0.hasPrefix("primary at the split") ? "split" : $0 }) == ["split", "minority knows it"])
        #expect(splitFailure(a) == ["p2.1 (a side of 1 of the 3 expected members) was told view 2@\(Self.e2) is primary at 0.005 s, during the split at 0.004–0.007 s"])
    }

    @Test func majorityNeverPrimaryFailsTheSplit() {
        var r = R.primarySplit
        r.remove("m1.1.log", at: 5750)
        let a = r.analyze(R.primaryFacts())
        #expect(a.failed.count == 1)
        #expect(splitFailure(a) == ["p1.1 (majority side) was never told a view of its side is primary during the split at 0.004–0.007 s"])
        #expect(a.splits.first?.majorityPrimaryAfter == nil)
    }

    /// p0 takes a state from p2 before p2 has taken the majority's.
    @Test func stateFromTheMinorityAfterTheHealFailsTheSplit() {
        var r = R.primarySplit
        r.insert("m2.1.log", "8240 xfer-provide \(Self.e0) 2 00000000000000cc 1")
        r.insert("m0.1.log", "8230 xfer-start 2")
        r.insert("m0.1.log", "8250 xfer-got \(Self.e2) 2 00000000000000cc 00000000000000cc 1")
        let a = r.analyze(R.primaryFacts())
        #expect(a.failed.count == 1)
        #expect(splitFailure(a) == ["p0.1 took the state from p2.1, which held no state of the majority side, at 0.008 s after the heal"])
        #expect(a.splits.first?.transfersAfterHeal == 2 && a.splits.first?.transfersFromMajority == 1)
    }

    /// Once p2 has taken the majority's state, it may provide it in turn.
    @Test func stateFromAMinorityServerThatTookTheMajoritysPasses() {
        var r = R.primarySplit
        r.insert("m2.1.log", "8400 xfer-provide \(Self.e0) 2 00000000000000aa 2")
        r.insert("m0.1.log", "8410 xfer-start 2")
        r.insert("m0.1.log", "8450 xfer-got \(Self.e2) 2 00000000000000aa 00000000000000aa 2")
        let a = r.analyze(R.primaryFacts())
        #expect(a.failed.isEmpty, "\(a.failed)")
        #expect(a.splits.first?.transfersAfterHeal == 2 && a.splits.first?.transfersFromMajority == 2)
    }

    @Test func minorityWithoutTransferFailsTheSplit() {
        var r = R.primarySplit
        r.remove("m0.1.log", at: 8200)
        r.remove("m2.1.log", at: 8210)
        r.remove("m2.1.log", at: 8300)
        let a = r.analyze(R.primaryFacts())
        #expect(a.failed.count == 1)
        #expect(splitFailure(a) == ["p2.1 (minority side) took no state from the majority after the heal"])
    }

    @Test func castOutsideTheConfirmedPrimaryFailsUpdatesOnlyInThePrimary() {
        var r = R.primarySplit
        r.remove("m0.1.log", at: 2010)  // p0 never told view 1 is primary, yet casts in it
        let d = r.analyze(R.primaryFacts()).onlyFailure("updates only in the primary")
        #expect(d == ["p0.1 cast #0 at 0.003 s in view 1@\(Self.e0), which it was not told is primary"])
    }
}
