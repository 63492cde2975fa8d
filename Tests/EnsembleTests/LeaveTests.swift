import Testing
@testable import Ensemble

@Suite struct LeaveTests {
    func leave(rank: Rank, linger: Double = 100) throws -> LayerHarness {
        let h = try LayerHarness(members: 3, rank: rank, params: "leave_linger=\(linger):time") {
            s, p, x throws(ParameterError) in try Leave(s, p, x)
        }
        h.fromBelow(.initialize(.zero))
        _ = h.takeUp()
        return h
    }

    func decode(_ p: Packet?) -> Leave.Header? {
        guard let p else { return nil }
        return ownHeader(p, Leave.Header.self)
    }

    func gotView(_ p: Packet?) -> RankSet? {
        if case let .gotView(v)? = decode(p) { return v }
        return nil
    }

    var next: ViewState { get throws { nextView(of: try leave(rank: 0).view) } }

    /// The next view arrives at `h`; returns what went down (timer requests excluded).
    func installNext(_ h: LayerHarness) throws -> [Event] {
        h.fromBelow(.view(try next))
        return h.takeDown().filter { $0.kind != "timer" }
    }

    /// Member `rank`'s GotView report after it got the next view.
    func gotViewFrom(_ rank: Rank) throws -> Packet {
        let m = try leave(rank: rank)
        let sends = try installNext(m)
        #expect(sends.kinds == ["send"])
        #expect(sends.first?.peer == 0)
        return try #require(sends.first?.packet)
    }

    // MARK: Leaving

    /// A member that has cast its Leave at time 0; returns it and the Leave message.
    func leaving(rank: Rank) throws -> (LayerHarness, Packet) {
        let h = try leave(rank: rank)
        h.fromBelow(.leave)
        #expect(h.takeUp().kinds == ["leave"])
        let down = h.takeDown()
        try #require(down.kinds == ["cast", "timer"])
        guard case .leave? = decode(down[0].packet) else { throw LeaveTestError.notALeave }
        #expect(down[1].timerTime == .seconds(1), "waits at most leave_timeout")
        return (h, try #require(down[0].packet))
    }

    enum LeaveTestError: Error { case notALeave }

    /// The Leave cast a leaver at `h`'s rank sends (its layer is stateless for this).
    func leaveCast(of h: LayerHarness) throws -> Packet? {
        try leaving(rank: h.setup.rank).1
    }

    /// Member `rank`'s reaction to `leaver`'s Leave cast: its acknowledgement.
    func ackFrom(_ rank: Rank, leaver: Rank, _ cast: Packet) throws -> Packet {
        let m = try leave(rank: rank)
        m.fromBelow(.cast(cast, peer: leaver, flags: []))
        let down = m.takeDown()
        try #require(down.kinds == ["send", "suspect"])
        #expect(down[0].peer == leaver)
        #expect(down[1].suspects == RankSet([leaver]))
        return try #require(down[0].packet)
    }

    @Test func leaveCastsLeaveOnceAndSuspectsNobody() throws {
        let (h, _) = try leaving(rank: 1)
        h.fromBelow(.leave)
        #expect(h.takeDown().isEmpty, "cast once")
    }

    @Test func aReceivedLeaveIsAcknowledgedAndItsSenderSuspected() throws {
        let (_, cast) = try leaving(rank: 2)
        let ack = try ackFrom(0, leaver: 2, cast)
        guard case .leaveAck? = decode(ack) else { Issue.record("not an ack"); return }
    }

    @Test func theLeaverExitsOnceEveryOtherMemberAcknowledged() throws {
        let (h, cast) = try leaving(rank: 1)
        h.fromBelow(.send(try ackFrom(0, leaver: 1, cast), peer: 0, flags: []))
        #expect(h.takeDown().isEmpty, "rank 2 has not acknowledged yet: stay and serve retransmissions")
        h.fromBelow(.send(try ackFrom(2, leaver: 1, cast), peer: 2, flags: []))
        #expect(h.takeDown().kinds == ["exit"])
    }

    @Test func anotherLeaverNeedNotAcknowledge() throws {
        // Two members of one process leave together: each acknowledges the other's Leave, but
        // neither waits for the other's acknowledgement (it may exit first).
        let (h, _) = try leaving(rank: 1)
        let (_, theirs) = try leaving(rank: 2)
        h.fromBelow(.cast(theirs, peer: 2, flags: []))
        #expect(h.takeDown().kinds == ["send", "suspect"], "acknowledged and suspected")
        let mine = try #require(try leaveCast(of: h))
        h.fromBelow(.send(try ackFrom(0, leaver: 1, mine), peer: 0, flags: []))
        #expect(h.takeDown().kinds == ["exit"], "every member that is not leaving acknowledged")
    }

    @Test func aFailedMemberNeedNotAcknowledge() throws {
        let (h, cast) = try leaving(rank: 0)
        h.fromBelow(.send(try ackFrom(1, leaver: 0, cast), peer: 1, flags: []))
        _ = h.takeDown()
        h.fromBelow(.fail(RankSet([2])))
        #expect(h.takeDown().kinds == ["exit"])
    }

    @Test func theLeaverExitsAtTheTimeoutWhateverTheAcknowledgements() throws {
        let (h, _) = try leaving(rank: 1)
        h.fromBelow(.timer(.seconds(0.9)))
        #expect(h.takeDown().isEmpty)
        h.fromBelow(.timer(.seconds(1)))
        #expect(h.takeDown().kinds == ["exit"])
    }

    @Test func aLoneMemberLeavesAtOnce() throws {
        let h = try LayerHarness(members: 1, rank: 0) { s, p, x throws(ParameterError) in try Leave(s, p, x) }
        h.fromBelow(.initialize(.zero))
        h.fromBelow(.leave)
        #expect(h.takeDown().kinds == ["cast", "timer", "exit"])
    }

    @Test func aLeaverPassesTheNextViewUpAndStopsWaitingThere() throws {
        let (h, _) = try leaving(rank: 1)
        h.fromBelow(.view(try next))
        #expect(h.takeUp().kinds == ["view"], "the endpoint installs it silently and leaves it in turn")
        h.fromBelow(.timer(.seconds(1)))
        #expect(!h.takeDown().contains { $0.kind == "exit" }, "this stack now ends as old stacks do")
    }

    // MARK: Garbage collection of the old stack

    @Test func coordinatorExitsOnceEveryMemberReportedAndCastsGotViewFirst() throws {
        let c = try leave(rank: 0)
        let report1 = try gotViewFrom(1)
        let report2 = try gotViewFrom(2)
        #expect(gotView(report1) == RankSet([1]))
        #expect(try installNext(c).isEmpty, "the coordinator does not report to itself")
        #expect(c.takeUp().kinds == ["view"])
        c.fromBelow(.send(report1, peer: 1, flags: []))
        #expect(c.takeDown().isEmpty, "member 2 has not reported")
        c.fromBelow(.send(report2, peer: 2, flags: []))
        let down = c.takeDown()
        #expect(down.kinds == ["cast", "exit"])
        #expect(gotView(down.first?.packet) == RankSet([0, 1, 2]))
        c.fromBelow(.send(report2, peer: 2, flags: []))
        c.fromAbove(.exit)
        #expect(c.takeDown().isEmpty, "exits once")
    }

    @Test func memberExitsOnTheCoordinatorsGotViewCast() throws {
        let c = try leave(rank: 0)
        _ = try installNext(c)
        c.fromBelow(.send(try gotViewFrom(1), peer: 1, flags: []))
        c.fromBelow(.send(try gotViewFrom(2), peer: 2, flags: []))
        let all = try #require(c.takeDown().first?.packet)

        let m = try leave(rank: 1)
        _ = try installNext(m)
        m.fromBelow(.cast(all, peer: 0, flags: []))
        #expect(m.takeDown().kinds == ["exit"], "no cast from a non-coordinator")
    }

    @Test func aReportBeforeMyOwnViewDoesNotExit() throws {
        let c = try leave(rank: 0)
        c.fromBelow(.send(try gotViewFrom(1), peer: 1, flags: []))
        c.fromBelow(.send(try gotViewFrom(2), peer: 2, flags: []))
        #expect(c.takeDown().isEmpty, "I have not got the view myself")
        #expect(try installNext(c).kinds == ["cast", "exit"])
    }

    @Test func failedMembersNeedNotReport() throws {
        let c = try leave(rank: 0)
        _ = try installNext(c)
        c.fromBelow(.send(try gotViewFrom(1), peer: 1, flags: []))
        c.fromBelow(.fail(RankSet([2])))
        #expect(c.takeUp().kinds == ["view", "fail"])
        #expect(c.takeDown().kinds == ["cast", "exit"])
    }

    @Test func reportGoesToTheNewCoordinatorAfterAFailure() throws {
        let m = try leave(rank: 2)
        _ = try installNext(m)
        m.fromBelow(.fail(RankSet([0])))
        let down = m.takeDown()
        #expect(down.kinds == ["send"])
        #expect(down.first?.peer == 1)
        #expect(gotView(down.first?.packet) == RankSet([2]))
    }

    @Test func nobodyElseMaySetMyBit() throws {
        // A GotView claiming that everyone, me included, has the next view: my own bit must
        // not count (only I know whether I have the view), so I do not exit before my view.
        var claim = Packet(headroom: 64)
        claim.push(Leave.Header.gotView(RankSet([0, 1, 2])))
        let m = try leave(rank: 1)
        m.fromBelow(.cast(claim, peer: 0, flags: []))
        #expect(m.takeDown().isEmpty)
        // The others' bits do count: with my own view I exit at once.
        #expect(try installNext(m).kinds == ["send", "exit"])
    }

    @Test func anOldStackExitsAfterTheLingerEvenIfAMemberNeverReports() throws {
        let c = try leave(rank: 0, linger: 2)
        c.fromBelow(.timer(.seconds(5)))
        #expect(c.takeDown().isEmpty, "no linger before the view")
        c.fromBelow(.view(try next))
        #expect(c.takeDown().compactMap(\.timerTime) == [.seconds(7)], "a wake-up leave_linger after the view")
        c.fromBelow(.send(try gotViewFrom(1), peer: 1, flags: []))  // 2 never reports
        c.fromBelow(.timer(.seconds(6.5)))
        #expect(c.takeDown().isEmpty)
        c.fromBelow(.timer(.seconds(7)))
        #expect(c.takeDown().kinds == ["exit"])
        c.fromBelow(.timer(.seconds(8)))
        c.fromBelow(.send(try gotViewFrom(2), peer: 2, flags: []))
        #expect(c.takeDown().isEmpty, "exits once")
        #expect(c.takeUp().kinds.contains("timer"), "ticks still pass up")
    }

    @Test func blockOkIsDroppedAfterExit() throws {
        let c = try leave(rank: 0, linger: 1)
        c.fromAbove(.blockOk(contact: nil))
        #expect(c.takeDown().kinds == ["blockOk"])
        c.fromBelow(.view(try next))
        c.fromBelow(.timer(.seconds(1)))
        _ = c.takeDown()
        c.fromAbove(.blockOk(contact: nil))
        #expect(c.takeDown().isEmpty)
    }

    @Test func otherMessagesPassThrough() throws {
        let a = try leave(rank: 0)
        let b = try leave(rank: 1)
        a.fromAbove(.cast(Packet(payload: [1]), peer: 0, flags: []))
        a.fromAbove(.send(Packet(payload: [2]), peer: 1, flags: []))
        let out = a.takeDownPackets()
        try #require(out.count == 2)
        b.fromBelow(.cast(out[0], peer: 0, flags: []))
        b.fromBelow(.send(out[1], peer: 0, flags: []))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[1], [2]])
        #expect(b.takeDown().isEmpty)
    }
}
