import Testing
@testable import Ensemble

@Suite struct ElectTests {
    func elect(rank: Rank, members: Int = 4) throws -> LayerHarness {
        let h = try LayerHarness(members: members, rank: rank) { s, p, x in Elect(s, p, x) }
        h.fromBelow(.initialize(.zero))
        return h
    }

    /// Suspicions arriving from below; returns (up, down).
    func suspect(_ h: LayerHarness, _ ranks: [Rank]) -> (up: [Event], down: [Event]) {
        h.fromBelow(.suspect(RankSet(ranks), reason: "test"))
        return (h.takeUp(), h.takeDown())
    }

    @Test func rankZeroElectsItselfAtInitialize() throws {
        let h = try LayerHarness(members: 4, rank: 0) { s, p, x in Elect(s, p, x) }
        h.fromBelow(.initialize(.zero))
        #expect(h.takeUp().kinds == ["initialize"])
        #expect(h.takeDown().kinds == ["elect"])
        // Once only: a later suspicion of others does not elect again.
        #expect(suspect(h, [3]).down.isEmpty)
    }

    @Test func otherRanksDoNotElectAtInitialize() throws {
        let h = try elect(rank: 2)
        #expect(h.takeUp().kinds == ["initialize"])
        #expect(h.takeDown().isEmpty)
    }

    @Test func rankTwoElectsOnlyOnceRanksZeroAndOneAreBothSuspected() throws {
        let h = try elect(rank: 2)
        _ = h.takeUp()
        #expect(suspect(h, [0]).down.isEmpty, "rank 1 is still alive")
        #expect(suspect(h, [3]).down.isEmpty, "a higher rank does not matter")
        let out = suspect(h, [1])
        #expect(out.down.kinds == ["elect"])
        #expect(suspect(h, [0, 1]).down.isEmpty, "elects once")
    }

    @Test func failuresCountLikeSuspicions() throws {
        let h = try elect(rank: 2)
        _ = h.takeUp()
        h.fromBelow(.fail(RankSet([0])))
        #expect(h.takeUp().kinds == ["fail"])
        #expect(h.takeDown().isEmpty)
        #expect(suspect(h, [1]).down.kinds == ["elect"])
    }

    @Test func electsWhenAllLowerRanksHaveFailed() throws {
        let h = try elect(rank: 2)
        h.fromBelow(.fail(RankSet([0, 1])))
        #expect(h.takeDown().kinds == ["elect"])
    }

    @Test func suspicionsAreAccumulatedInTheSuspectPassedUp() throws {
        let h = try elect(rank: 2)
        _ = h.takeUp()
        #expect(suspect(h, [0]).up.compactMap(\.suspects) == [RankSet([0])])
        #expect(suspect(h, [3]).up.compactMap(\.suspects) == [RankSet([0, 3])])
        h.fromBelow(.fail(RankSet([1])))
        _ = h.takeUp()
        _ = h.takeDown()
        #expect(suspect(h, [2]).up.compactMap(\.suspects) == [RankSet([0, 1, 3])], "failures included; never myself")
    }

    @Test func suspectingMyselfNeverElectsMe() throws {
        let h = try elect(rank: 1)
        #expect(suspect(h, [1]).down.isEmpty)
        #expect(suspect(h, [0]).down.kinds == ["elect"])
    }

    @Test func downElectFromAboveIsSwallowedOtherEventsPass() throws {
        let h = try elect(rank: 1)
        _ = h.takeDown()
        h.fromAbove(.elect)
        #expect(h.takeDown().isEmpty)
        h.fromAbove(.block)
        h.fromAbove(.fail(RankSet([3])))
        #expect(h.takeDown().kinds == ["block", "fail"])
    }
}
