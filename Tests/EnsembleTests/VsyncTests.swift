import Testing
@testable import Ensemble

@Suite struct VsyncTests {
    typealias Report = Vsync.Report
    typealias SentCount = Vsync.SentCount

    func vsync(rank: Rank) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank) { s, p, x in Vsync(s, p, x) }
    }

    func decode(_ p: Packet?) -> (failed: RankSet, report: Report)? {
        guard let p, case let .report(f, r)? = ownHeader(p, Vsync.Header.self) else { return nil }
        return (f, r)
    }

    func decodeDecision(_ p: Packet?) -> (failed: RankSet, casts: [Int], sends: [SentCount])? {
        guard let p, case let .decision(f, c, s)? = ownHeader(p, Vsync.Header.self) else { return nil }
        return (f, c, s)
    }

    /// A packet carrying a decision, to come up from below as a cast.
    func decisionCast(failed: RankSet = RankSet(), casts: [Int], sends: [SentCount]) -> Packet {
        var p = Packet(payload: [])
        p.push(Vsync.Header.decision(failed: failed, casts: casts, sends: sends))
        return p
    }

    /// Top_appl's counts then the block, as they come up; returns what went down.
    func block(_ h: LayerHarness, casts: [Int], sends: [Int]) -> [Event] {
        h.fromBelow(.applCounts(casts: casts, sends: sends))
        h.fromBelow(.block)
        #expect(h.takeUp().kinds == ["block"], "the counts are consumed, the block passes")
        return h.takeDown()
    }

    // The three members' counts: casts received per origin (own entry = casts sent), sends sent per peer.
    let r0 = Report(rank: 0, casts: [4, 1, 0], sends: [0, 7, 2])
    let r1 = Report(rank: 1, casts: [3, 5, 1], sends: [6, 0, 4])
    let r2 = Report(rank: 2, casts: [4, 2, 3], sends: [9, 8, 0])

    /// Member `r.rank`'s report send, made after the given failures.
    func reportFrom(_ r: Report, failed: RankSet = RankSet()) throws -> Packet {
        let m = try vsync(rank: r.rank)
        if !failed.isEmpty {
            m.fromBelow(.fail(failed))
            #expect(m.takeUp().kinds == ["fail"])
        }
        let down = block(m, casts: r.casts, sends: r.sends)
        return try #require(down.first?.packet)
    }

    @Test func nonCoordinatorReportsItsCountsToTheCoordinatorWhenBlocked() throws {
        let m = try vsync(rank: 1)
        m.fromBelow(.applCounts(casts: r1.casts, sends: r1.sends))
        #expect(m.takeUp().isEmpty)
        #expect(m.takeDown().isEmpty, "nothing before the block")
        m.fromBelow(.block)
        #expect(m.takeUp().kinds == ["block"])
        let down = m.takeDown()
        try #require(down.kinds == ["send"])
        #expect(down[0].peer == 0)
        let report = try #require(decode(down[0].packet))
        #expect(report.failed == RankSet())
        #expect(report.report == r1)
    }

    @Test func coordinatorComputesSyncInfoFromAllReportsAndCastsThem() throws {
        let coord = try vsync(rank: 0)
        #expect(block(coord, casts: r0.casts, sends: r0.sends).isEmpty, "the coordinator keeps its own report")
        coord.fromBelow(.send(try reportFrom(r1), peer: 1, flags: []))
        #expect(coord.takeDown().isEmpty, "member 2 has not reported")
        coord.fromBelow(.send(try reportFrom(r2), peer: 2, flags: []))
        let down = coord.takeDown()
        try #require(down.kinds == ["syncInfo", "cast"])
        guard case let .syncInfo(casts, sends) = down[0] else { Issue.record("no syncInfo"); return }
        #expect(casts == [4, 5, 3], "per origin, the most any member received")
        #expect(sends == [0, 6, 9], "what each peer sent me")
        let d = try #require(decodeDecision(down[1].packet), "the decision, not the reports")
        #expect(d.failed == RankSet())
        #expect(d.casts == [4, 5, 3])
        #expect(d.sends == [SentCount(from: 0, to: 1, count: 7), SentCount(from: 0, to: 2, count: 2),
                            SentCount(from: 1, to: 0, count: 6), SentCount(from: 1, to: 2, count: 4),
                            SentCount(from: 2, to: 0, count: 9), SentCount(from: 2, to: 1, count: 8)],
                "the non-zero send counts only")
        // Once only.
        coord.fromBelow(.send(try reportFrom(r2), peer: 2, flags: []))
        #expect(coord.takeDown().isEmpty)
    }

    @Test func othersComputeTheSameFromTheCoordinatorsCast() throws {
        let coord = try vsync(rank: 0)
        _ = block(coord, casts: r0.casts, sends: r0.sends)
        coord.fromBelow(.send(try reportFrom(r1), peer: 1, flags: []))
        coord.fromBelow(.send(try reportFrom(r2), peer: 2, flags: []))
        let all = try #require(coord.takeDown().first { $0.kind == "cast" }?.packet)

        let m2 = try vsync(rank: 2)
        _ = block(m2, casts: r2.casts, sends: r2.sends)
        m2.fromBelow(.cast(all, peer: 0, flags: []))
        let down = m2.takeDown()
        #expect(down.kinds == ["syncInfo"], "only the coordinator casts the decision")
        guard case let .syncInfo(casts, sends) = down.first else { return }
        #expect(casts == [4, 5, 3])
        #expect(sends == [2, 4, 0], "what 0 and 1 sent to 2")
    }

    @Test func reportsUnderAnotherFailureVectorWaitUntilMineMatches() throws {
        let coord = try vsync(rank: 0)
        _ = block(coord, casts: r0.casts, sends: r0.sends)
        // Member 1 already knows that 2 failed; member 2's report is under the old vector.
        coord.fromBelow(.send(try reportFrom(r1, failed: RankSet([2])), peer: 1, flags: []))
        coord.fromBelow(.send(try reportFrom(r2), peer: 2, flags: []))
        #expect(coord.takeDown().isEmpty, "1's report is held back: its failures differ from mine")
        coord.fromBelow(.fail(RankSet([2])))
        #expect(coord.takeUp().kinds == ["fail"])
        let down = coord.takeDown()
        try #require(down.kinds == ["syncInfo", "cast"])
        guard case let .syncInfo(casts, sends) = down.first else { return }
        #expect(casts == [4, 5, 1], "without the failed member's report")
        #expect(sends == [0, 6, 0])
        let d = try #require(decodeDecision(down[1].packet))
        #expect(d.failed == RankSet([2]))
        #expect(d.casts == [4, 5, 1])
        #expect(d.sends == [SentCount(from: 0, to: 1, count: 7), SentCount(from: 1, to: 0, count: 6)],
                "neither from nor to the failed member")
    }

    @Test func aDecisionWaitsForMyBlockAndForFailuresIHaveNotHeardOf() throws {
        let sends = [SentCount(from: 0, to: 1, count: 7), SentCount(from: 0, to: 2, count: 2)]
        let m = try vsync(rank: 1)
        m.fromBelow(.cast(decisionCast(casts: [4, 5, 3], sends: sends), peer: 0, flags: []))
        #expect(m.takeDown().isEmpty, "not blocked yet")
        #expect(block(m, casts: r1.casts, sends: r1.sends).kinds == ["send", "syncInfo"])

        // Made after 2 failed, which member 1 has not heard of yet.
        let n = try vsync(rank: 1)
        _ = block(n, casts: r1.casts, sends: r1.sends)
        n.fromBelow(.cast(decisionCast(failed: RankSet([2]), casts: [4, 5, 1], sends: [sends[0]]), peer: 0, flags: []))
        #expect(n.takeDown().isEmpty, "held back: its failures differ from mine")
        n.fromBelow(.fail(RankSet([2])))
        let down = n.takeDown()
        #expect(down.kinds == ["send", "syncInfo"], "reports again, then uses the held decision")
        guard case let .syncInfo(casts, s) = down.last else { return }
        #expect(casts == [4, 5, 1])
        #expect(s == [7, 0, 0])
    }

    @Test func aDecisionFromAnotherThanTheCoordinatorOrUnderOlderFailuresIsIgnored() throws {
        let m = try vsync(rank: 2)
        m.fromBelow(.fail(RankSet([0])))
        _ = m.takeUp()
        _ = block(m, casts: r2.casts, sends: r2.sends)
        m.fromBelow(.cast(decisionCast(casts: [4, 5, 3], sends: []), peer: 0, flags: []))
        #expect(m.takeDown().isEmpty, "made before 0 failed")
        m.fromBelow(.cast(decisionCast(failed: RankSet([0]), casts: [4, 5, 3], sends: []), peer: 0, flags: []))
        #expect(m.takeDown().isEmpty, "0 is not the coordinator once it failed")
        m.fromBelow(.cast(decisionCast(failed: RankSet([0]), casts: [0, 5, 3], sends: []), peer: 1, flags: []))
        #expect(m.takeDown().kinds == ["syncInfo"])
    }

    @Test func malformedDecisionsAreDropped() throws {
        let m = try vsync(rank: 1)
        _ = block(m, casts: r1.casts, sends: r1.sends)
        let before = m.stack.drops.malformedHeaders
        // A rank out of the view, casts of the wrong size, a count of entries the bytes do not hold.
        m.fromBelow(.cast(decisionCast(casts: [1, 2, 3], sends: [SentCount(from: 3, to: 1, count: 1)]), peer: 0, flags: []))
        m.fromBelow(.cast(decisionCast(casts: [1, 2], sends: []), peer: 0, flags: []))
        m.fromBelow(.cast(Packet(payload: [2, 0, 3, 0, 0, 0, 0xFF, 0xFF, 0x03]), peer: 0, flags: []))
        #expect(m.takeDown().isEmpty)
        #expect(m.stack.drops.malformedHeaders == before + 3)
    }

    @Test func reportsOlderThanMyFailuresAreDropped() throws {
        let coord = try vsync(rank: 0)
        coord.fromBelow(.fail(RankSet([2])))
        #expect(coord.takeUp().kinds == ["fail"])
        #expect(coord.takeDown().isEmpty, "not blocked yet: nothing to report")
        _ = block(coord, casts: r0.casts, sends: r0.sends)
        coord.fromBelow(.send(try reportFrom(r1), peer: 1, flags: []))  // made before 1 heard of the failure
        #expect(coord.takeDown().isEmpty)
        coord.fromBelow(.send(try reportFrom(r1, failed: RankSet([2])), peer: 1, flags: []))
        #expect(coord.takeDown().kinds == ["syncInfo", "cast"])
    }

    @Test func failureAfterBlockReReportsToTheNewCoordinator() throws {
        let m = try vsync(rank: 2)
        _ = block(m, casts: r2.casts, sends: r2.sends)
        m.fromBelow(.fail(RankSet([0])))
        let down = m.takeDown()
        #expect(down.kinds == ["send"])
        #expect(down.first?.peer == 1)
        #expect(decode(down.first?.packet)?.failed == RankSet([0]))
    }

    @Test func otherMessagesPassThrough() throws {
        let a = try vsync(rank: 0)
        let b = try vsync(rank: 1)
        a.fromAbove(.cast(Packet(payload: [3]), peer: 0, flags: []))
        a.fromAbove(.send(Packet(payload: [4]), peer: 1, flags: []))
        let out = a.takeDownPackets()
        try #require(out.count == 2)
        b.fromBelow(.cast(out[0], peer: 0, flags: []))
        b.fromBelow(.send(out[1], peer: 0, flags: []))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[3], [4]])
    }
}
