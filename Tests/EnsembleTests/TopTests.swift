import Testing
@testable import Ensemble

@Suite struct TopTests {
    func top(rank: Rank = 0, elected: Bool = true, params: String = "top_sweep=5:time") throws -> LayerHarness {
        let h = try LayerHarness(members: 3, rank: rank, params: params) { s, p, x throws(ParameterError) in try Top(s, p, x) }
        if elected { h.fromBelow(.elect) }
        #expect(h.takeDown().isEmpty, "electing alone decides nothing")
        return h
    }

    /// What Top sends down in reaction to one event from below.
    func react(_ h: LayerHarness, _ e: Event) -> [Event] {
        h.fromBelow(e)
        return h.takeDown()
    }

    func suspect(_ ranks: Rank...) -> Event { .suspect(RankSet(ranks), reason: "test") }

    let other = foreignView(size: 2, ltime: 4)
    var otherContact: MergeContact { contact(of: other) }

    // MARK: Failures and views

    @Test func suspicionAtTheElectedCoordinatorBlocksAndFails() throws {
        let h = try top()
        let down = react(h, suspect(2))
        try #require(down.kinds == ["block", "fail"])
        #expect(down[1].failures == RankSet([2]))
        // Another suspicion: failures grow, but one block per view.
        let more = react(h, suspect(1))
        #expect(more.kinds == ["fail"])
        #expect(more.first?.failures == RankSet([1, 2]))
        #expect(react(h, suspect(2)).isEmpty, "already failed")
    }

    @Test func suspicionIsIgnoredUntilElected() throws {
        let h = try top(rank: 1, elected: false)
        #expect(react(h, suspect(0)).isEmpty)
        let down = react(h, .elect)
        #expect(down.kinds == ["block", "fail"], "elected later: acts on what it suspected")
        #expect(down.last?.failures == RankSet([0]))
    }

    @Test func suspectingMyselfIsIgnored() throws {
        #expect(react(try top(), suspect(0)).isEmpty)
    }

    @Test func blockIsAlwaysAnsweredWithBlockOk() throws {
        for (rank, elected) in [(0, true), (1, false), (2, false)] {
            let h = try top(rank: rank, elected: elected)
            let down = react(h, .block)
            #expect(down.kinds == ["blockOk"])
            #expect(down.first?.blockOkContact == .some(nil))
        }
    }

    @Test func blockOkAfterItsOwnBlockInstallsTheViewWithoutTheFailed() throws {
        let h = try top()
        _ = react(h, suspect(1))
        _ = react(h, .fail(RankSet([1])))  // the bounce
        let down = react(h, .blockOk(contact: nil))
        #expect(down.kinds == ["view"])
        let nv = try #require(down.first?.viewState)
        #expect(nv.members == [h.view.members[0], h.view.members[2]])
        #expect(nv.addresses == [h.view.addresses[0], h.view.addresses[2]])
        #expect(nv.ltime == h.view.ltime + 1)
        #expect(nv.previousIDs == [ViewID(ltime: 1, coordinator: h.view.members[0])])
        #expect(react(h, .blockOk(contact: nil)).isEmpty, "one view per stack")
    }

    @Test func blockOkWithoutItsOwnBlockDecidesNothing() throws {
        let member = try top(rank: 1, elected: false)
        _ = react(member, .block)
        #expect(react(member, .blockOk(contact: nil)).isEmpty)
        let coord = try top()
        #expect(react(coord, .blockOk(contact: nil)).isEmpty)
    }

    @Test func promptBlocksAndThenInstallsTheSameMembers() throws {
        let h = try top()
        #expect(react(h, .prompt).kinds == ["block"])
        #expect(react(h, .prompt).isEmpty, "one block per view")
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.members == h.view.members)
        #expect(nv.ltime == 2)
    }

    @Test func promptBeforeElectionBlocksOnceElected() throws {
        let h = try top(rank: 1, elected: false)
        #expect(react(h, .prompt).isEmpty)
        #expect(react(h, .elect).kinds == ["block"])
    }

    // MARK: Merging

    @Test func aMergeTargetIsAskedAtOnceWithoutBlocking() throws {
        let h = try top()
        let down = react(h, .mergeTarget(otherContact))
        #expect(down.kinds == ["mergeRequest"], "no block before the contact answers")
        #expect(down.first?.mergeFields?.contact == otherContact)
        #expect(down.first?.mergeFields?.view == h.view)
        #expect(react(h, .mergeTarget(otherContact)).isEmpty, "one request at a time")
    }

    @Test func aGrantBlocksAndAfterTheFlushInstallsTheGrantedViewAsIs() throws {
        let h = try top()
        _ = react(h, .mergeTarget(otherContact))
        let granted = try #require(ViewState.merge([other, h.view]))
        #expect(react(h, .mergeGranted(otherContact, granted)).kinds == ["block"])
        let down = react(h, .blockOk(contact: nil))
        #expect(down.kinds == ["mergeGranted"], "handed to Inter to install, untouched by Switch")
        #expect(down.first?.mergeFields?.view == granted)
        #expect(react(h, suspect(2)).isEmpty, "decided: nothing more")
    }

    @Test func aFailedOrDeniedMergeLeavesTheGroupUnblockedAndFreeToTryAgain() throws {
        let h = try top()
        _ = react(h, .mergeTarget(otherContact))
        #expect(react(h, .mergeFailed).isEmpty)
        #expect(react(h, .mergeTarget(otherContact)).kinds == ["mergeRequest"])
        #expect(react(h, .mergeDenied(otherContact, h.view)).isEmpty)
        #expect(react(h, .mergeTarget(otherContact)).kinds == ["mergeRequest"])
    }

    @Test func aFailureAbandonsTheRequestAndTheGrantIsIgnored() throws {
        let h = try top()
        _ = react(h, .mergeTarget(otherContact))
        #expect(react(h, suspect(2)).kinds == ["mergeFailed", "block", "fail"])
        let granted = try #require(ViewState.merge([other, h.view]))
        #expect(react(h, .mergeGranted(otherContact, granted)).isEmpty)
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.members == [h.view.members[0], h.view.members[1]], "the failed member is out, no merge")
    }

    @Test func aFailureDuringTheGrantedFlushDeclinesTheGrant() throws {
        let h = try top()
        _ = react(h, .mergeTarget(otherContact))
        let granted = try #require(ViewState.merge([other, h.view]))
        _ = react(h, .mergeGranted(otherContact, granted))
        let down = react(h, suspect(1))
        #expect(down.kinds == ["mergeDenied", "mergeFailed", "fail"], "declined, so the granter fails us at once")
        #expect(down.first?.mergeFields?.contact.viewID == granted.id)
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.members == [h.view.members[0], h.view.members[2]])
    }

    @Test func aPromptDuringARequestBlocksOnceItIsAnswered() throws {
        let h = try top()
        _ = react(h, .mergeTarget(otherContact))
        #expect(react(h, .prompt).isEmpty, "not while asking: a blockOk now would have nothing to install")
        #expect(react(h, .mergeFailed).kinds == ["block"], "the request failed: now the group blocks")
        #expect(react(h, .blockOk(contact: nil)).kinds == ["view"])
        // A grant serves the prompt too.
        let g = try top()
        _ = react(g, .mergeTarget(otherContact))
        _ = react(g, .prompt)
        let granted = try #require(ViewState.merge([other, g.view]))
        #expect(react(g, .mergeGranted(otherContact, granted)).kinds == ["block"])
    }

    @Test func noMergeTargetWhileBlockedOrWithFailuresOrMergers() throws {
        let h = try top()
        _ = react(h, .prompt)
        #expect(react(h, .mergeTarget(otherContact)).isEmpty, "blocked")
        let g = try top()
        _ = react(g, .mergeRequest(contact(of: g.view), foreignView(size: 1, ltime: 2, firstPort: 600)))
        #expect(react(g, .mergeTarget(otherContact)).isEmpty, "granting someone else")
        let n = try top(rank: 1, elected: false)
        #expect(react(n, .mergeTarget(otherContact)).isEmpty, "not the coordinator")
    }

    @Test func withFailuresTheViewIsInstalledWithoutThem() throws {
        let h = try top()
        _ = react(h, suspect(2))
        let down = react(h, .blockOk(contact: nil))
        #expect(down.kinds == ["view"])
        #expect(down.first?.viewState?.members == [h.view.members[0], h.view.members[1]])
        #expect(down.first?.viewState?.previousIDs == [h.view.id])
    }

    @Test func aFailedCoordinatorsViewIsStillTheNamedPredecessor() throws {
        let h = try top(rank: 1, elected: false)
        _ = react(h, suspect(0))
        _ = react(h, .elect)
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.previousIDs == [h.view.id], "not the survivors' first member (reference §8.14)")
    }

    @Test func withPendingMergersTheMergedViewIsInstalled() throws {
        let h = try top()
        let small = foreignView(size: 1, ltime: 2, firstPort: 600)
        _ = react(h, .mergeRequest(contact(of: h.view), small))
        let down = react(h, .blockOk(contact: nil))
        #expect(down.kinds == ["view"])
        #expect(down.first?.viewState?.members == h.view.members + small.members)
    }

    @Test func mergeRequestFromAnotherPartitionAddsItToTheNextView() throws {
        let h = try top()
        let down = react(h, .mergeRequest(contact(of: h.view), other))
        #expect(down.kinds == ["block"])
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.members == h.view.members + other.members)
        #expect(nv.addresses == h.view.addresses + other.addresses)
        #expect(nv.ltime == other.ltime + 1, "one past the largest")
        #expect(nv.previousIDs == [h.view.id, other.id])
        #expect(nv.coordinator == h.view.coordinator, "the granter's coordinator stays coordinator")
    }

    @Test func overlappingMergerIsNotAddedTwice() throws {
        let h = try top()
        _ = react(h, .mergeRequest(contact(of: h.view), other))
        _ = react(h, .mergeRequest(contact(of: h.view), foreignView(size: 1, members: [other.members[1]])))
        let nv = try #require(react(h, .blockOk(contact: nil)).first?.viewState)
        #expect(nv.members == h.view.members + other.members)
    }

    // MARK: Old stacks

    @Test func afterItsViewWentUpAnOldStackDecidesNothing() throws {
        let h = try top()
        h.fromBelow(.view(nextView(of: h.view)))
        #expect(h.takeUp().kinds == ["view"], "the view goes to the stack manager")
        #expect(react(h, suspect(2)).isEmpty, "no fail, no block")
        #expect(react(h, .prompt).isEmpty)
        #expect(react(h, .mergeRequest(contact(of: h.view), other)).isEmpty)
        #expect(react(h, .blockOk(contact: nil)).isEmpty)
        #expect(react(h, .block).kinds == ["blockOk"], "still answers blocks")
    }

    @Test func anOldStackElectedLaterDecidesNothing() throws {
        let h = try top(rank: 1, elected: false)
        h.fromBelow(.view(nextView(of: h.view)))
        _ = react(h, suspect(0))
        #expect(react(h, .elect).isEmpty)
    }

    // MARK: Leaving and sweeps

    @Test func aLeavingCoordinatorDecidesNothing() throws {
        let h = try top()
        #expect(react(h, .leave).isEmpty, "the Leave layer announces it; no block, no exit here")
        #expect(react(h, suspect(2)).isEmpty)
        #expect(react(h, .mergeTarget(otherContact)).isEmpty)
        #expect(react(h, .block).kinds == ["blockOk"], "still takes part in the others' flush")
        h.fromBelow(.exit)
        #expect(h.takeUp().kinds == ["exit"])
    }

    @Test func coordinatorGossipsEveryTopSweep() throws {
        let h = try top()
        #expect(react(h, .initialize(.zero)).compactMap(\.timerTime) == [.zero])
        let first = react(h, .timer(.zero))
        #expect(first.kinds == ["timer", "gossip"])
        #expect(first.first?.timerTime == .seconds(5))
        #expect(first.last?.gossipValue?.heal == nil, "empty: Heal and Switch fill it in")
        #expect(react(h, .timer(.seconds(3))).isEmpty)
        let second = react(h, .timer(.seconds(5)))
        #expect(second.kinds == ["timer", "gossip"])
        #expect(second.first?.timerTime == .seconds(10))
    }

    @Test func otherMembersDoNotGossip() throws {
        let h = try top(rank: 1, elected: false)
        _ = react(h, .initialize(.zero))
        #expect(react(h, .timer(.zero)).kinds == ["timer"])
    }

    @Test func gossipCanBeTurnedOff() throws {
        let h = try top(params: "top_sweep=5:time;top_gossip=false:bool")
        _ = react(h, .initialize(.zero))
        #expect(react(h, .timer(.zero)).kinds == ["timer"])
    }

    @Test func strayEventsEndHere() throws {
        let h = try top()
        for e: Event in [.stable(stability: [], numCasts: []), .stableRequest(numCasts: nil), .syncInfo(casts: [], sends: []),
                         .async, .account, .gossip(Gossip()), .cast(Packet(payload: [1]), peer: 1, flags: [])] {
            h.fromBelow(e)
        }
        #expect(h.takeUp().isEmpty)
        #expect(h.takeDown().isEmpty)
    }
}
