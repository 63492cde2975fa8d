import Testing
@testable import Ensemble

@Suite struct IntraTests {
    func intra(rank: Rank, members: Int = 4, elected: Bool = false, failed: [Rank] = []) throws -> LayerHarness {
        let h = try LayerHarness(members: members, rank: rank) { s, p, x in Intra(s, p, x) }
        if elected { h.fromBelow(.elect) }
        if !failed.isEmpty { h.fromBelow(.fail(RankSet(failed))) }
        _ = h.takeUp()
        return h
    }

    /// The Fail(F) message member `from` casts when its Top fails `F`.
    func failMessage(from: Rank, _ f: [Rank], members: Int = 4) throws -> Packet {
        let h = try intra(rank: from, members: members, elected: true)
        h.fromAbove(.fail(RankSet(f)))
        return try #require(h.takeDown().first?.packet)
    }

    /// The View(nv) message member `from` casts when its Top installs `nv`.
    func viewMessage(from: Rank, _ nv: ViewState, members: Int = 4) throws -> Packet {
        let h = try intra(rank: from, members: members, elected: true)
        h.fromAbove(.view(nv))
        return try #require(h.takeDown().first?.packet)
    }

    /// Delivers a message cast by `from`; returns what went down.
    func deliver(_ h: LayerHarness, _ p: Packet, from: Rank) -> [Event] {
        h.fromBelow(.cast(p, peer: from, flags: []))
        #expect(h.takeUp().isEmpty, "Intra's own messages are consumed")
        return h.takeDown()
    }

    /// Expects exactly one `.suspect` of `sender`, and nothing else.
    func expectRejected(_ out: [Event], sender: Rank, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(out.kinds == ["suspect"], sourceLocation: sourceLocation)
        #expect(out.first?.suspects == RankSet([sender]), sourceLocation: sourceLocation)
    }

    func decode(_ p: Packet?) -> Intra.Header? {
        guard let p else { return nil }
        return ownHeader(p, Intra.Header.self, members: 4)
    }

    func view(without failed: [Rank] = []) throws -> ViewState {
        nextView(of: try intra(rank: 0).view, without: RankSet(failed))
    }

    // MARK: At the coordinator

    @Test func coordinatorCastsItsFailDecisionAndPassesItDown() throws {
        let h = try intra(rank: 0, elected: true)
        h.fromAbove(.fail(RankSet([3])))
        let down = h.takeDown()
        try #require(down.kinds == ["cast", "fail"])
        guard case let .fail(f)? = decode(down[0].packet) else { Issue.record("not a Fail message"); return }
        #expect(f == RankSet([3]))
        #expect(down[1].failures == RankSet([3]))
        // Failures accumulate: the next decision carries both.
        h.fromAbove(.fail(RankSet([2])))
        guard case let .fail(f2)? = decode(h.takeDown().first?.packet) else { Issue.record("not a Fail message"); return }
        #expect(f2 == RankSet([2, 3]))
    }

    @Test func coordinatorCastsItsViewOnceAndDropsASecond() throws {
        let h = try intra(rank: 0, elected: true)
        let nv = try view(without: [3])
        h.fromAbove(.view(nv))
        let down = h.takeDown()
        try #require(down.kinds == ["cast", "view"])
        guard case let .view(sent)? = decode(down[0].packet) else { Issue.record("not a View message"); return }
        #expect(sent == nv)
        #expect(down[1].viewState == nv)
        h.fromAbove(.view(try view(without: [2])))
        #expect(h.takeDown().isEmpty)
    }

    // MARK: Accepting

    @Test func failFromTheCoordinatorIsAccepted() throws {
        let h = try intra(rank: 1)
        let out = deliver(h, try failMessage(from: 0, [3]), from: 0)
        #expect(out.kinds == ["fail"])
        #expect(out.first?.failures == RankSet([3]))
    }

    @Test func failFromAnElectedLowerRankWhoseLowerRanksFailedIsAccepted() throws {
        let h = try intra(rank: 3)
        let out = deliver(h, try failMessage(from: 2, [0, 1]), from: 2)
        #expect(out.kinds == ["fail"])
        #expect(out.first?.failures == RankSet([0, 1]))
    }

    @Test func viewFromTheCoordinatorIsAcceptedOnce() throws {
        let h = try intra(rank: 2)
        let nv = try view(without: [3])
        let out = deliver(h, try viewMessage(from: 0, nv), from: 0)
        #expect(out.kinds == ["view"])
        #expect(out.first?.viewState == nv)
        // Rule: a view was already accepted.
        expectRejected(deliver(h, try viewMessage(from: 0, nv), from: 0), sender: 0)
    }

    // MARK: Rejection rules (reference §2.6): each one alone makes Intra suspect the sender

    @Test func failIsRejectedWhenIAmElected() throws {
        let h = try intra(rank: 1, elected: true)
        expectRejected(deliver(h, try failMessage(from: 0, [3]), from: 0), sender: 0)
    }

    @Test func viewIsRejectedWhenIAmElected() throws {
        let h = try intra(rank: 1, elected: true)
        expectRejected(deliver(h, try viewMessage(from: 0, try view(without: [3])), from: 0), sender: 0)
    }

    @Test func viewFromAHigherRankIsRejected() throws {
        let h = try intra(rank: 0)
        expectRejected(deliver(h, try viewMessage(from: 1, try view(without: [3])), from: 1), sender: 1)
    }

    @Test func failFromAHigherRankIsRejected() throws {
        // For a Fail this rule never holds alone: I am below the sender, so either I am not in F
        // (a lower rank missing from F) or I am (F contains me). Here: me (1) < sender (2).
        let h = try intra(rank: 1)
        expectRejected(deliver(h, try failMessage(from: 2, [0]), from: 2), sender: 2)
    }

    @Test func failIsRejectedWhenALowerRankIsNotInF() throws {
        let h = try intra(rank: 2)
        expectRejected(deliver(h, try failMessage(from: 1, [3]), from: 1), sender: 1)
    }

    @Test func failIsRejectedWhenFMissesMyFailures() throws {
        let h = try intra(rank: 2, failed: [3])
        expectRejected(deliver(h, try failMessage(from: 0, [1]), from: 0), sender: 0)
        // The same message including my failures is fine.
        #expect(deliver(h, try failMessage(from: 0, [1, 3]), from: 0).kinds == ["fail"])
    }

    @Test func viewFromAFailedSenderIsRejected() throws {
        let h = try intra(rank: 2, failed: [1])
        expectRejected(deliver(h, try viewMessage(from: 1, try view(without: [0])), from: 1), sender: 1)
    }

    @Test func failFromAFailedSenderIsRejected() throws {
        // I know that 1 failed. (For a Fail this rule comes with "F misses my failures" unless F
        // contains the sender, another rule: it cannot hold alone.)
        let h = try intra(rank: 3, failed: [1])
        expectRejected(deliver(h, try failMessage(from: 1, [0]), from: 1), sender: 1)
    }

    @Test func failThatContainsItsSenderIsRejected() throws {
        let h = try intra(rank: 2)
        expectRejected(deliver(h, try failMessage(from: 0, [0]), from: 0), sender: 0)
    }

    @Test func failThatContainsMeIsRejected() throws {
        let h = try intra(rank: 2)
        expectRejected(deliver(h, try failMessage(from: 0, [2]), from: 0), sender: 0)
    }

    @Test func viewIsRejectedAfterIPassedMyOwnView() throws {
        let h = try intra(rank: 1, elected: false)
        h.fromAbove(.view(try view(without: [3])))
        _ = h.takeDown()
        expectRejected(deliver(h, try viewMessage(from: 0, try view(without: [2])), from: 0), sender: 0)
    }

    @Test func viewWithoutMeIsRejected() throws {
        let h = try intra(rank: 3)
        expectRejected(deliver(h, try viewMessage(from: 0, try view(without: [3])), from: 0), sender: 0)
    }

    @Test func acceptedFailuresRaiseTheBarForTheNextFail() throws {
        let h = try intra(rank: 1)
        #expect(deliver(h, try failMessage(from: 0, [3]), from: 0).kinds == ["fail"])
        expectRejected(deliver(h, try failMessage(from: 0, [2]), from: 0), sender: 0)
    }

    @Test func otherCastsPassThrough() throws {
        let a = try intra(rank: 0)
        let b = try intra(rank: 1)
        a.fromAbove(.cast(Packet(payload: [5, 6]), peer: 0, flags: .application))
        let p = try #require(a.takeDownPackets().first)
        b.fromBelow(.cast(p, peer: 0, flags: .application))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[5, 6]])
    }
}
