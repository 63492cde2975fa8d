import Testing
@testable import Ensemble

/// Local: own casts delivered to their sender, in order, at the end of the loop turn.
@Suite struct LocalTests {
    func local(rank: Rank = 1) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank) { s, p, x in Local(s, p, x) }
    }

    func ownCasts(_ h: LayerHarness) -> [[Int]] {
        h.takeUp().compactMap { e in
            guard case let .cast(p, o, flags) = e, flags.contains(.application) else { return nil }
            return [o, Int(p.bytes.first ?? 0)]
        }
    }

    @Test func ownCastsComeBackInOrderAtTheEndOfTheTurn() throws {
        let h = try local()
        for b: UInt8 in [1, 2, 3] { h.fromAbove(.cast(Packet(payload: [b]), peer: 1, flags: .application)) }
        let down = h.takeDown()
        #expect(down.filter { $0.name == "cast" }.count == 3, "every cast goes down as usual, unchanged")
        #expect(down.filter { $0.name == "timer" }.count == 1, "one alarm for the end of the turn")
        #expect(ownCasts(h).isEmpty, "never inside the application's call to cast")
        h.fromBelow(.timer(h.now))
        #expect(ownCasts(h) == [[1, 1], [1, 2], [1, 3]])
        h.fromBelow(.timer(h.now))
        #expect(ownCasts(h).isEmpty, "once each")
    }

    @Test func onlyTheApplicationsCastsComeBack() throws {
        let h = try local()
        h.fromAbove(.cast(Packet(payload: [9]), peer: 1, flags: []))  // a membership layer's cast
        h.fromAbove(.send(Packet(payload: [8]), peer: 2, flags: .application))
        #expect(h.takeDown().map(\.name) == ["cast", "send"])
        h.fromBelow(.timer(h.now))
        #expect(ownCasts(h).isEmpty)
    }

    /// Kept casts belong to the view they were made in: delivered before the view's block goes
    /// down and before a failure goes up; dropped at exit.
    @Test func keptCastsGoUpBeforeTheViewChanges() throws {
        let h = try local()
        h.fromAbove(.cast(Packet(payload: [1]), peer: 1, flags: .application))
        h.fromAbove(.block)
        #expect(ownCasts(h) == [[1, 1]])
        #expect(h.takeDown().last?.name == "block")
        h.fromAbove(.cast(Packet(payload: [2]), peer: 1, flags: .application))
        h.fromBelow(.fail(RankSet([2])))
        let up = h.takeUp()
        #expect(up.map(\.name) == ["cast", "fail"])
        h.fromAbove(.cast(Packet(payload: [3]), peer: 1, flags: .application))
        h.fromBelow(.exit)
        h.fromBelow(.timer(h.now))
        #expect(ownCasts(h).isEmpty, "nothing after exit")
    }
}
