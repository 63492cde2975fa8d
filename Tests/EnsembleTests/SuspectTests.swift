import Testing
@testable import Ensemble

@Suite struct SuspectTests {
    func suspect(rank: Rank, members: Int = 3, maxIdle: Int = 3, extra: String = "") throws -> LayerHarness {
        try LayerHarness(members: members, rank: rank, params: "suspect_sweep=1:time;suspect_max_idle=\(maxIdle):int" + extra) {
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

    struct Ping: Equatable {
        var failed: RankSet
        var counter: Int
        var echo: Int
        var answer: Bool
    }

    /// The pings among the events sent down, decoded, by destination.
    func pings(_ events: [Event], members: Int = 3) -> [Rank: Ping] {
        var out: [Rank: Ping] = [:]
        for e in events {
            guard case let .sendUnreliable(p, to) = e,
                  case let .ping(f, c, echo, _, answer)? = ownHeader(p, Suspect.Header.self, members: members) else { continue }
            out[to] = Ping(failed: f, counter: c, echo: echo, answer: answer)
        }
        return out
    }

    /// A ping as another member's Suspect would send it.
    func craftedPing(failed: RankSet = RankSet(), counter: Int, echo: Int, current: Bool = true, answer: Bool = false) -> Packet {
        var p = Packet(headroom: 64)
        p.push(Suspect.Header.ping(failed: failed, counter: counter, echo: echo, current: current, answer: answer))
        return p
    }

    @Test func initializeAsksForAnImmediateTick() throws {
        let h = try suspect(rank: 1)
        h.fromBelow(.initialize(.seconds(4)))
        #expect(h.takeUp().kinds == ["initialize"])
        #expect(h.takeDown().compactMap(\.timerTime) == [.seconds(4)])
    }

    @Test func pingsOncePerSweepOneMessagePerMember() throws {
        let h = started(try suspect(rank: 1))
        let first = tick(h, 0)
        try #require(first.kinds == ["timer", "sendUnreliable", "sendUnreliable"])
        #expect(first[0].timerTime == .seconds(1), "next sweep requested one suspect_sweep later")
        #expect(pings(first) == [0: Ping(failed: RankSet(), counter: 1, echo: 0, answer: false),
                                 2: Ping(failed: RankSet(), counter: 1, echo: 0, answer: false)], "my own counter is 1")
        #expect(tick(h, 0.5).isEmpty, "no ping between sweeps")
        let second = tick(h, 1)
        #expect(pings(second).mapValues(\.counter) == [0: 2, 2: 2])
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
        old.fromBelow(.sendUnreliable(craftedPing(counter: 5, echo: 1, current: false), peer: 1))
        #expect(tick(new, 4).only("suspect").first?.suspects == RankSet([1, 2]))
        old.fromBelow(.sendUnreliable(craftedPing(counter: 6, echo: 1), peer: 1))
        #expect(tick(new, 5).only("suspect").first?.suspects == RankSet([2]))
    }

    @Test func theCoordinatorSuspectsAMemberThatTookOthersAsFailed() throws {
        let coordinator = started(try suspect(rank: 0))
        coordinator.fromBelow(.elect)
        _ = coordinator.takeUp()
        // Member 1 accepted a Fail of member 2 from someone else (the other side of a healed
        // partition); I never failed 2.
        coordinator.fromBelow(.sendUnreliable(craftedPing(failed: RankSet([2]), counter: 1, echo: 0), peer: 1))
        let down = coordinator.takeDown()
        #expect(down.compactMap(\.suspects) == [RankSet([1])])
        // Once I fail 2 myself, the same ping is consistent.
        coordinator.fromBelow(.fail(RankSet([2])))
        _ = coordinator.takeUp()
        coordinator.fromBelow(.sendUnreliable(craftedPing(failed: RankSet([2]), counter: 2, echo: 0), peer: 1))
        #expect(coordinator.takeDown().compactMap(\.suspects).isEmpty)
        // A member that is not the coordinator draws no such conclusion (the Fail may be my
        // coordinator's, on its way to me).
        let member = started(try suspect(rank: 2))
        member.fromBelow(.sendUnreliable(craftedPing(failed: RankSet([1]), counter: 0, echo: 0), peer: 0))
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
            for e in mine where e.kind == "sendUnreliable" && e.peer == 1 { peer.fromBelow(.sendUnreliable(e.packet!, peer: 0)) }
            for e in tick(peer, Double(t)) where e.kind == "sendUnreliable" && e.peer == 0 {
                me.fromBelow(.sendUnreliable(e.packet!, peer: 1))
            }
        }
        #expect(!suspicions.isEmpty)
        #expect(suspicions.allSatisfy { $0 == RankSet([2]) }, "only the silent member: \(suspicions)")
    }

    @Test func heardCountersAreEchoedInMyPings() throws {
        let h = started(try suspect(rank: 0))
        h.fromBelow(.sendUnreliable(craftedPing(counter: 42, echo: 0), peer: 1))
        #expect(h.takeUp().isEmpty, "pings are consumed")
        #expect(pings(tick(h, 0)).mapValues(\.echo) == [1: 42, 2: 0])
    }

    @Test func pingThatMarksMeFailedIsIgnored() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 { _ = tick(h, Double(t)) }
        // Member 1 echoes all three of my pings, but it believes I have failed.
        h.fromBelow(.sendUnreliable(craftedPing(failed: RankSet([0]), counter: 9, echo: 3), peer: 1))
        let fourth = tick(h, 3)
        #expect(fourth.only("suspect").first?.suspects == RankSet([1, 2]), "the echo did not count")
        #expect(pings(fourth)[1] == Ping(failed: RankSet(), counter: 4, echo: 0, answer: false), "its counter was not taken either")
    }

    @Test func theSameEchoWithoutTheFailureMarkCounts() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        for t in 0 ..< 3 { _ = tick(h, Double(t)) }
        h.fromBelow(.sendUnreliable(craftedPing(failed: RankSet([2]), counter: 9, echo: 3), peer: 1))
        let fourth = tick(h, 3)
        #expect(fourth.only("suspect").first?.suspects == RankSet([2]))
        #expect(pings(fourth)[1]?.echo == 9)
    }

    @Test func pingFromAFailedMemberIsIgnoredAndFailedMembersAreNotSuspected() throws {
        let h = started(try suspect(rank: 0, maxIdle: 3))
        h.fromBelow(.fail(RankSet([1])))
        #expect(h.takeUp().kinds == ["fail"])
        h.fromBelow(.sendUnreliable(craftedPing(counter: 42, echo: 0), peer: 1))
        var last: [Rank: Ping] = [:]
        var suspicions: [RankSet] = []
        for t in 0 ..< 5 {
            let out = tick(h, Double(t))
            last = pings(out)
            suspicions += out.compactMap(\.suspects)
        }
        #expect(last == [2: Ping(failed: RankSet([1]), counter: 5, echo: 0, answer: false)], "no ping to the failed member, my failure vector in mine")
        #expect(!suspicions.isEmpty && suspicions.allSatisfy { $0 == RankSet([2]) }, "never the failed member: \(suspicions)")
    }

    @Test func otherUnreliableSendsPassThroughWithTheirOwnTag() throws {
        let a = try suspect(rank: 0)
        let b = try suspect(rank: 1)
        a.fromAbove(.sendUnreliable(Packet(payload: [7, 8]), peer: 1))
        let p = try #require(a.takeDownPackets().first)
        b.fromBelow(.sendUnreliable(p, peer: 0))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[7, 8]])
        // Unreliable casts carry no header of this layer.
        a.fromAbove(.castUnreliable(Packet(payload: [5]), peer: 0))
        #expect(a.takeDownPackets().map(\.bytes) == [[5]])
    }

    // MARK: Who pings whom

    @Test func aMemberOutsideTheCorePingsOnlyTheCoreAndTheCorePingsEveryone() throws {
        let outside = started(try suspect(rank: 5, members: 8))
        #expect(pings(tick(outside, 0), members: 8).keys.sorted() == [0, 1, 2])
        let inside = started(try suspect(rank: 1, members: 8))
        #expect(pings(tick(inside, 0), members: 8).keys.sorted() == [0, 2, 3, 4, 5, 6, 7])
        let all = started(try suspect(rank: 5, members: 8, extra: ";suspect_core=0:int"))
        #expect(pings(tick(all, 0), members: 8).keys.sorted() == [0, 1, 2, 3, 4, 6, 7], "suspect_core 0: everyone pings everyone")
    }

    @Test func failuresMoveTheCoreAndAnElectedMemberPingsEveryone() throws {
        let h = started(try suspect(rank: 5, members: 8))
        h.fromBelow(.fail(RankSet([0, 2])))
        _ = h.takeUp()
        #expect(pings(tick(h, 0), members: 8).keys.sorted() == [1, 3, 4])
        h.fromBelow(.elect)
        _ = h.takeUp()
        #expect(pings(tick(h, 1), members: 8).keys.sorted() == [1, 3, 4, 6, 7])
    }

    @Test func aMemberAnswersThoseThatPingItButNotTheirAnswers() throws {
        let h = started(try suspect(rank: 5, members: 8))
        h.fromBelow(.sendUnreliable(craftedPing(counter: 3, echo: 0), peer: 6))
        h.fromBelow(.sendUnreliable(craftedPing(counter: 4, echo: 0, answer: true), peer: 7))
        let out = pings(tick(h, 0), members: 8)
        #expect(out.keys.sorted() == [0, 1, 2, 6])
        #expect(out[6] == Ping(failed: RankSet(), counter: 1, echo: 3, answer: true))
        // Answers stop suspect_max_idle sweeps after the last ping, and are never counted.
        var suspicions: [RankSet] = []
        var answeredAt: [Int] = []
        for t in 1 ... 6 {
            let events = tick(h, Double(t))
            suspicions += events.compactMap(\.suspects)
            if pings(events, members: 8)[6] != nil { answeredAt.append(t) }
        }
        #expect(answeredAt == [1, 2])
        #expect(suspicions.allSatisfy { $0.isSubset(of: RankSet([0, 1, 2, 3, 4])) })
    }

    @Test func aMemberThatSuspectsTheWholeCorePingsTheRanksBelowItToo() throws {
        let h = started(try suspect(rank: 5, members: 8, maxIdle: 3))
        var suspicions: [RankSet] = []
        var targets: [[Rank]] = []
        for t in 0 ..< 9 {
            let events = tick(h, Double(t))
            suspicions += events.compactMap(\.suspects)
            targets.append(pings(events, members: 8).keys.sorted())
        }
        #expect(targets[0] == [0, 1, 2])
        #expect(targets[4] == [0, 1, 2, 3, 4], "after the core is suspected (fourth sweep)")
        #expect(suspicions.first == RankSet([0, 1, 2]))
        #expect(suspicions.last == RankSet([0, 1, 2, 3, 4]), "every rank below mine, in two suspicion times")
    }
}
