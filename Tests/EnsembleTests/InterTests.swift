import Testing
@testable import Ensemble

@Suite struct InterTests {
    func inter(rank: Rank = 0) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank) { s, p, x throws(ParameterError) in try Inter(s, p, x) }
    }

    /// The larger partition I try to merge into, and its coordinator's contact.
    let granter = foreignView(size: 4, ltime: 5, firstPort: 300)
    var granterContact: MergeContact { contact(of: granter) }

    /// A coordinator that has sent its merge request.
    func merging() throws -> LayerHarness {
        let h = try inter(rank: 0)
        h.fromAbove(.mergeRequest(granterContact, h.view))
        #expect(h.takeDown().kinds == ["mergeRequest"])
        return h
    }

    /// A merge request from another partition, as Merge delivers it.
    func requestFrom(_ h: LayerHarness, _ mvs: ViewState) -> (up: [Event], down: [Event]) {
        h.fromBelow(.mergeRequest(MergeContact(endpoint: h.endpoint, address: h.view.addresses[0], viewID: nil), mvs))
        return (h.takeUp(), h.takeDown())
    }

    /// The view the granter installs: its members then mine.
    func grantedView(for mine: ViewState) -> ViewState { ViewState.merge([granter, mine])! }

    // MARK: Requesting

    @Test func coordinatorsMergeRequestGoesDownWithItsView() throws {
        let h = try inter(rank: 0)
        let stale = foreignView(size: 1, ltime: 0, firstPort: 900)
        h.fromAbove(.mergeRequest(granterContact, stale))
        let down = h.takeDown()
        #expect(down.kinds == ["mergeRequest"])
        #expect(down.first?.mergeFields?.contact == granterContact)
        #expect(down.first?.mergeFields?.view == h.view, "always my own view")
        #expect(h.takeUp().isEmpty)
    }

    @Test func oneRequestAtATimeAndAnotherAfterAFailure() throws {
        let h = try merging()
        h.fromAbove(.mergeRequest(granterContact, h.view))
        #expect(h.takeDown().isEmpty)
        #expect(h.takeUp().kinds == ["mergeFailed"])
        h.fromBelow(.mergeDenied(contact(of: h.view), h.view))
        #expect(h.takeUp().kinds == ["mergeFailed"])
        h.fromAbove(.mergeRequest(granterContact, h.view))
        #expect(h.takeDown().kinds == ["mergeRequest"], "the group never blocked: it may try again")
    }

    @Test func nonCoordinatorOrAContactInMyViewCannotMerge() throws {
        let m = try inter(rank: 1)
        m.fromAbove(.mergeRequest(granterContact, m.view))
        #expect(m.takeDown().isEmpty)
        #expect(m.takeUp().kinds == ["mergeFailed"])
        let c = try inter(rank: 0)
        c.fromAbove(.mergeRequest(contact(of: c.view), c.view))
        #expect(c.takeDown().isEmpty)
        #expect(c.takeUp().kinds == ["mergeFailed"])
    }

    @Test func grantedViewNamingMyViewGoesUpAndIsInstalledAfterTheFlush() throws {
        let h = try merging()
        let nv = grantedView(for: h.view)
        #expect(nv.previousIDs.contains(h.view.id))
        h.fromBelow(.mergeGranted(contact(of: h.view), nv))
        #expect(h.takeDown().isEmpty, "not yet: my partition flushes first")
        let up = h.takeUp()
        #expect(up.kinds == ["mergeGranted"])
        #expect(up.first?.mergeFields?.view == nv)
        // A copy of the grant changes nothing.
        h.fromBelow(.mergeGranted(contact(of: h.view), nv))
        #expect(h.takeUp().isEmpty && h.takeDown().isEmpty)
        // Top's flush is done: the granted view is installed as granted.
        h.fromAbove(.mergeGranted(contact(of: nv), nv))
        let down = h.takeDown()
        #expect(down.kinds == ["view"])
        #expect(down.first?.viewState == nv)
        h.fromAbove(.view(nextView(of: h.view)))
        #expect(h.takeDown().isEmpty, "a view is already installed")
    }

    @Test func grantNotNamingMyViewIsIgnoredAndOneNoLongerWantedIsDeclined() throws {
        let h = try merging()
        var other = grantedView(for: h.view)
        other.previousIDs = [granter.id]
        h.fromBelow(.mergeGranted(contact(of: h.view), other))
        #expect(h.takeDown().isEmpty && h.takeUp().isEmpty)

        // Granted to my partition after it gave up the merge: declined, with my view, to the
        // granter's view, so that the granter fails my members now.
        let idle = try inter(rank: 0)
        let nv = grantedView(for: idle.view)
        idle.fromBelow(.mergeGranted(contact(of: idle.view), nv))
        let down = idle.takeDown()
        #expect(down.kinds == ["mergeDenied"])
        #expect(down.first?.mergeFields?.contact.viewID == nv.id)
        #expect(down.first?.mergeFields?.view == idle.view)
    }

    @Test func aDeclinedGrantMakesTheGranterSuspectTheMembersThatWillNotCome() throws {
        let merger = foreignView(size: 2, ltime: 1, firstPort: 700)
        let h = try LayerHarness(view: ViewState.merge([foreignView(size: 2, ltime: 3, firstPort: 100), merger])!, rank: 0) {
            s, p, x throws(ParameterError) in try Inter(s, p, x)
        }
        h.fromBelow(.mergeDenied(contact(of: h.view), merger))
        let down = h.takeDown()
        #expect(down.kinds == ["suspect"])
        #expect(down.first?.suspects == RankSet([2, 3]))
    }

    @Test func aRepeatedRequestFromAMergedPartitionIsGrantedAgain() throws {
        let merger = foreignView(size: 2, ltime: 1, firstPort: 700)
        let h = try LayerHarness(view: ViewState.merge([foreignView(size: 2, ltime: 3, firstPort: 100), merger])!, rank: 0) {
            s, p, x throws(ParameterError) in try Inter(s, p, x)
        }
        let out = requestFrom(h, merger)
        #expect(out.up.isEmpty)
        #expect(out.down.kinds == ["mergeGranted"], "its grant was lost: granted again, not denied")
        #expect(out.down.first?.mergeFields?.view == h.view)
        #expect(out.down.first?.mergeFields?.contact == contact(of: merger))
    }

    @Test func aRequestClashingOnAnAddressIsDenied() throws {
        let h = try inter(rank: 0)
        var restarted = foreignView(size: 1, firstPort: 800)
        restarted.addresses[0] = h.view.addresses[2]
        #expect(requestFrom(h, restarted).down.kinds == ["mergeDenied"])
    }

    @Test func denialOfMyViewYieldsMergeFailed() throws {
        let h = try merging()
        h.fromBelow(.mergeDenied(contact(of: h.view), foreignView(size: 2, firstPort: 700)))
        #expect(h.takeUp().isEmpty, "a denial of another view is not mine")
        h.fromBelow(.mergeDenied(contact(of: h.view), h.view))
        #expect(h.takeUp().kinds == ["mergeFailed"])
        h.fromBelow(.mergeDenied(contact(of: h.view), h.view))
        #expect(h.takeUp().isEmpty && h.takeDown().isEmpty, "once")
        // After the failed merge, Top's ordinary view goes down.
        h.fromAbove(.view(nextView(of: h.view)))
        #expect(h.takeDown().kinds == ["view"])
    }

    @Test func mergeFailedFromMergePassesOnlyWhileMerging() throws {
        let idle = try inter(rank: 0)
        idle.fromBelow(.mergeFailed)
        #expect(idle.takeUp().isEmpty)
        let h = try merging()
        h.fromBelow(.mergeFailed)
        #expect(h.takeUp().kinds == ["mergeFailed"])
    }

    // MARK: Granting

    @Test func requestFromDisjointUnseenMembersIsPassedUp() throws {
        let h = try inter(rank: 0)
        let small = foreignView(size: 2)
        let out = requestFrom(h, small)
        #expect(out.up.kinds == ["mergeRequest"])
        #expect(out.up.first?.mergeFields?.view == small)
        #expect(out.down.isEmpty)
    }

    @Test func requestWithAlreadySeenMembersIsDenied() throws {
        let h = try inter(rank: 0)
        let small = foreignView(size: 2)
        _ = requestFrom(h, small)
        // Another partition that shares a member with the accepted one.
        let overlapping = foreignView(size: 2, members: [foreignEndpoints(3, firstPort: 500)[0], small.members[1]])
        let out = requestFrom(h, overlapping)
        #expect(out.up.isEmpty)
        #expect(out.down.kinds == ["mergeDenied"])
        #expect(out.down.first?.mergeFields?.contact == contact(of: overlapping), "addressed to the requester's coordinator")
        #expect(out.down.first?.mergeFields?.view == overlapping, "its own view, so it recognises the denial")
    }

    @Test func requestOverlappingMyViewIsDenied() throws {
        let h = try inter(rank: 0)
        let overlapping = foreignView(size: 2, members: [foreignEndpoints(1)[0], h.view.members[2]])
        let out = requestFrom(h, overlapping)
        #expect(out.up.isEmpty)
        #expect(out.down.kinds == ["mergeDenied"])
    }

    @Test func requestAfterBlockOkIsDenied() throws {
        let h = try inter(rank: 0)
        h.fromBelow(.blockOk(contact: nil))
        #expect(h.takeUp().kinds == ["blockOk"])
        let out = requestFrom(h, foreignView(size: 2))
        #expect(out.up.isEmpty)
        #expect(out.down.kinds == ["mergeDenied"])
    }

    @Test func requestAtANonCoordinatorIsDenied() throws {
        let h = try inter(rank: 1)
        #expect(requestFrom(h, foreignView(size: 2)).down.kinds == ["mergeDenied"])
    }

    @Test func viewGrantsEveryAcceptedMergerThenGoesDown() throws {
        let h = try inter(rank: 0)
        let a = foreignView(size: 2, firstPort: 200)
        let b = foreignView(size: 1, ltime: 3, firstPort: 600)
        _ = requestFrom(h, a)
        _ = requestFrom(h, b)
        let nv = ViewState.merge([h.view, a, b])!
        h.fromAbove(.view(nv))
        let down = h.takeDown()
        try #require(down.kinds == ["mergeGranted", "mergeGranted", "view"])
        #expect(down[0].mergeFields?.contact == contact(of: a))
        #expect(down[1].mergeFields?.contact == contact(of: b))
        #expect(down.prefix(2).allSatisfy { $0.mergeFields?.view == nv })
        #expect(down[2].viewState == nv)
        h.fromAbove(.view(nv))
        #expect(h.takeDown().isEmpty, "a second view is dropped")
    }

    @Test func upViewEndsMergingAndALateGrantIsDeclined() throws {
        let h = try merging()
        h.fromBelow(.view(nextView(of: h.view)))
        #expect(h.takeUp().kinds == ["view"])
        h.fromBelow(.mergeGranted(contact(of: h.view), grantedView(for: h.view)))
        #expect(h.takeUp().isEmpty)
        #expect(h.takeDown().kinds == ["mergeDenied"])
    }
}
