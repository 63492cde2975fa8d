import Testing
@testable import Ensemble

@Suite struct SuspectTests {
    func suspect(rank: Rank, members: Int = 3, maxIdle: Int = 3) throws -> LayerHarness {
        try LayerHarness(members: members, rank: rank, params: "suspect_sweep=1:time;suspect_max_idle=\(maxIdle):int") {
            s, p, x throws(ParameterError) in try Suspect(s, p, x)
        }
    }

    /// Starts the layer at time 0 (its first sweep is due at once).
    func started(_ h: LayerHarness) -> LayerHarness {
        h.fromBelow(.initialize(.zero))
        _ = h.takeUp()
        _ = h.takeDown()
        return h
    }

    /// One tick at `t` seconds; returns what went down.
    func tick(_ h: LayerHarness, _ t: Double) -> [Event] {
        h.fromBelow(.timer(.seconds(t)))
        _ = h.takeUp()
        return h.takeDown()
    }

    /// The ping among the events sent down, decoded.
    func ping(_ events: [Event]) -> (failed: RankSet, counters: [Int])? {
        guard let e = events.first(where: { $0.kind == "castUnreliable" }) else { return nil }
        return ping(e)
    }

    func ping(_ e: Event) -> (failed: RankSet, counters: [Int])? {
        guard case let .castUnreliable(p, _) = e,
              case let .ping(f, c, _)? = ownHeader(p, Suspect.Header.self)
        else { return nil }
        return (f, c)
    }

    /// A ping as rank `from`'s Suspect would send it.
    func craftedPing(failed: RankSet, counters: [Int]) -> Packet {
        var p = Packet(headroom: 64)
        p.push(Suspect.Header.ping(failed: failed, counters: counters, current: true))
        return p
    }

    @Test func initializeAsksForAnImmediateTick() throws {
        let h = try suspect(rank: 1)
        h.fromBelow(.initialize(.seconds(4)))
        #expect(h.takeUp().kinds == ["initialize"])
        #expect(h.takeDown().compactMap(\.timerTime) == [.seconds(4)])
    }

    @Test func pingsOncePerSweepAsUnreliableCasts() throws {
        let h = started(try suspect(rank: 1))
        let first = tick(h, 0)
        try #require(first.kinds == ["timer", "castUnreliable"])
        #expect(first[0].timerTime == .seconds(1), "next sweep requested one suspect_sweep later")
        #expect(first[1].peer == 1, "cast from my rank")
        #expect(ping(first[1])?.counters == [0, 1, 0], "my own counter is 1")
        #expect(tick(h, 0.5).isEmpty, "no ping between sweeps")
        let second = tick(h, 1)
        try #require(second.kinds == ["timer", "castUnreliable"])
        #expect(ping(second)?.counters == [0, 2, 0])
        // Every tick, whoever asked for it, is passed up.
        h.fromBelow(.timer(.seconds(1.2)))
        #expect(h.takeUp().kinds == ["timer"])
    }

    @Test func silentMemberIsSuspectedAfterMoreThanMaxIdleSweepsAndNotBefore() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 {
            #expect(tick(h, Double(t)).only("suspect").isEmpty, "sweep \(t + 1): only \(t + 1) pings unechoed")
        }
        let fourth = tick(h, 3).only("suspect")
        #expect(fourth.count == 1)
        #expect(fourth.first?.suspects == RankSet([1, 2]))
        // The suspicion is repeated every sweep while it holds.
        #expect(tick(h, 4).only("suspect").first?.suspects == RankSet([1, 2]))
    }

    /// The stack of the next view (same members, the next ltime) of `h`'s endpoint, at `t`.
    func nextStack(after h: LayerHarness, at t: Double, maxIdle: Int = 3) throws -> LayerHarness {
        var v = h.view
        v.ltime += 1
        let n = try LayerHarness(view: v, rank: h.setup.rank, params: "suspect_sweep=1:time;suspect_max_idle=\(maxIdle):int",
                                 shared: h.setup.shared, now: .seconds(t)) { s, p, x throws(ParameterError) in try Suspect(s, p, x) }
        n.fromBelow(.initialize(.seconds(t)))
        _ = n.takeUp()
        return n
    }

    @Test func unechoedPingsAreCountedAcrossViewsSoAGhostIsSuspectedOnce() throws {
        let v1 = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 { #expect(tick(v1, Double(t)).only("suspect").isEmpty) }
        // A view change: the silent members are still silent in the next view.
        v1.fromBelow(.view(nextView(of: v1.view)))
        _ = v1.takeUp()
        let v2 = try nextStack(after: v1, at: 2.5)
        #expect(v2.takeDown().only("suspect").isEmpty, "the new stack's first ping comes less than a sweep after the last")
        #expect(tick(v2, 3).only("suspect").first?.suspects == RankSet([1, 2]), "four unechoed pings over both views")
    }

    @Test func quickSuccessiveViewsAddNoSilence() throws {
        var h = started(try suspect(rank: 0, maxIdle: 3))
        _ = tick(h, 0)
        for k in 1 ... 5 {
            h.fromBelow(.view(nextView(of: h.view)))
            h = try nextStack(after: h, at: 0.1 * Double(k))
            #expect(h.takeDown().only("suspect").isEmpty, "view \(k): a stack's first ping within a sweep counts for nothing")
        }
    }

    @Test func anOldStacksEchoCountsOnlyFromAPeerStillInThatView() throws {
        let old = started(try suspect(rank: 0, maxIdle: 3))
        _ = tick(old, 0)
        old.fromBelow(.view(nextView(of: old.view)))
        _ = old.takeUp()
        let new = try nextStack(after: old, at: 0.5)
        for t in 1 ... 3 { _ = tick(new, Double(t)) }
        // Member 1 echoes my old stack's ping 1 from a stack it has moved on from: no proof it is
        // in my new view. Then from its newest stack (it is catching up): that counts.
        var moved = Packet(headroom: 64)
        moved.push(Suspect.Header.ping(failed: RankSet(), counters: [1, 5, 0], current: false))
        old.fromBelow(.castUnreliable(moved, peer: 1))
        #expect(tick(new, 4).only("suspect").first?.suspects == RankSet([1, 2]))
        var catching = Packet(headroom: 64)
        catching.push(Suspect.Header.ping(failed: RankSet(), counters: [1, 6, 0], current: true))
        old.fromBelow(.castUnreliable(catching, peer: 1))
        #expect(tick(new, 5).only("suspect").first?.suspects == RankSet([2]))
    }

    @Test func theCoordinatorSuspectsAMemberThatTookOthersAsFailed() throws {
        let coordinator = started(try suspect(rank: 0))
        coordinator.fromBelow(.elect)
        _ = coordinator.takeUp()
        // Member 1 accepted a Fail of member 2 from someone else (the other side of a healed
        // partition); I never failed 2.
        coordinator.fromBelow(.castUnreliable(craftedPing(failed: RankSet([2]), counters: [0, 1, 0]), peer: 1))
        let down = coordinator.takeDown()
        #expect(down.compactMap(\.suspects) == [RankSet([1])])
        // Once I fail 2 myself, the same ping is consistent.
        coordinator.fromBelow(.fail(RankSet([2])))
        _ = coordinator.takeUp()
        coordinator.fromBelow(.castUnreliable(craftedPing(failed: RankSet([2]), counters: [0, 2, 0]), peer: 1))
        #expect(coordinator.takeDown().compactMap(\.suspects).isEmpty)
        // A member that is not the coordinator draws no such conclusion (the Fail may be my
        // coordinator's, on its way to me).
        let member = started(try suspect(rank: 2))
        member.fromBelow(.castUnreliable(craftedPing(failed: RankSet([1]), counters: [0, 0, 0]), peer: 0))
        #expect(member.takeDown().compactMap(\.suspects).isEmpty)
    }

    @Test func echoesKeepAMemberUnsuspected() throws {
        let me = started(try suspect(rank: 0, maxIdle: 3))
        let peer = started(try suspect(rank: 1, maxIdle: 3))
        var suspicions: [RankSet] = []
        for t in 0 ..< 10 {
            let mine = tick(me, Double(t))
            suspicions += mine.compactMap(\.suspects)
            // Member 1 hears my ping and echoes my counter in its own; member 2 stays silent.
            for e in mine where e.kind == "castUnreliable" { peer.fromBelow(.castUnreliable(e.packet!, peer: 0)) }
            for e in tick(peer, Double(t)) where e.kind == "castUnreliable" {
                me.fromBelow(.castUnreliable(e.packet!, peer: 1))
            }
        }
        #expect(!suspicions.isEmpty)
        #expect(suspicions.allSatisfy { $0 == RankSet([2]) }, "only the silent member: \(suspicions)")
    }

    @Test func heardCountersAreEchoedInMyPings() throws {
        let h = started(try suspect(rank: 0))
        h.fromBelow(.castUnreliable(craftedPing(failed: RankSet(), counters: [0, 42, 0]), peer: 1))
        #expect(h.takeUp().isEmpty, "pings are consumed")
        #expect(ping(tick(h, 0))?.counters == [1, 42, 0])
    }

    @Test func pingThatMarksMeFailedIsIgnored() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 { _ = tick(h, Double(t)) }
        // Member 1 echoes all three of my pings, but it believes I have failed.
        h.fromBelow(.castUnreliable(craftedPing(failed: RankSet([0]), counters: [3, 9, 0]), peer: 1))
        let fourth = tick(h, 3)
        #expect(fourth.only("suspect").first?.suspects == RankSet([1, 2]), "the echo did not count")
        #expect(ping(fourth)?.counters == [4, 0, 0], "its counter was not taken either")
    }

    @Test func theSameEchoWithoutTheFailureMarkCounts() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 { _ = tick(h, Double(t)) }
        h.fromBelow(.castUnreliable(craftedPing(failed: RankSet([2]), counters: [3, 9, 0]), peer: 1))
        let fourth = tick(h, 3)
        #expect(fourth.only("suspect").first?.suspects == RankSet([2]))
        #expect(ping(fourth)?.counters == [4, 9, 0])
    }

    @Test func pingFromAFailedMemberIsIgnoredAndFailedMembersAreNotSuspected() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        h.fromBelow(.fail(RankSet([1])))
        #expect(h.takeUp().kinds == ["fail"])
        h.fromBelow(.castUnreliable(craftedPing(failed: RankSet(), counters: [0, 42, 0]), peer: 1))
        var lastPing: [Int]?
        var suspicions: [RankSet] = []
        for t in 0 ..< 5 {
            let out = tick(h, Double(t))
            lastPing = ping(out)?.counters
            suspicions += out.compactMap(\.suspects)
        }
        #expect(lastPing == [5, 0, 0], "nothing taken from the failed member's ping")
        #expect(!suspicions.isEmpty && suspicions.allSatisfy { $0 == RankSet([2]) }, "never the failed member: \(suspicions)")
        // My ping carries my failure vector.
        #expect(ping(tick(h, 5))?.failed == RankSet([1]))
    }

    @Test func otherUnreliableCastsPassThroughWithTheirOwnTag() throws {
        let a = try suspect(rank: 0)
        let b = try suspect(rank: 1)
        a.fromAbove(.castUnreliable(Packet(payload: [7, 8]), peer: 0))
        let p = try #require(a.takeDownPackets().first)
        b.fromBelow(.castUnreliable(p, peer: 0))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[7, 8]])
    }
}
