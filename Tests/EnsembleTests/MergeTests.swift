import Testing
@testable import Ensemble

@Suite struct MergeTests {
    func merge(rank: Rank = 0) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank, params: "merge_sweep=1:time;merge_timeout=3:time") {
            s, p, x throws(ParameterError) in try Merge(s, p, x)
        }
    }

    let granter = foreignView(size: 4, ltime: 5, firstPort: 300)
    var granterContact: MergeContact { contact(of: granter) }

    /// Ticks at `t` seconds; returns the directed gossip sent and what went up (timers excluded).
    func tick(_ h: LayerHarness, _ t: Double) -> (resent: [Event], up: [String]) {
        h.fromBelow(.timer(.seconds(t)))
        return (h.takeDown().only("gossipDirect"), h.takeUp().kinds(excluding: ["timer"]))
    }

    /// The merge part of a directed gossip event.
    func mergePart(_ e: Event?) -> MergeGossip? { e?.directGossip?.gossip.merge }

    @Test func downRequestBecomesDirectedGossipToTheContact() throws {
        let h = try merge()
        h.fromAbove(.mergeRequest(granterContact, h.view))
        let down = h.takeDown()
        try #require(down.kinds == ["gossipDirect", "timer"])
        #expect(down[0].directGossip?.to == granterContact.address)
        let m = try #require(mergePart(down[0]))
        #expect(m.kind == .request)
        #expect(m.contact == granterContact)
        #expect(m.view == h.view)
        #expect(m.sequence == 1)
        #expect(down[1].timerTime == .seconds(1), "a wake-up one merge_sweep later")
        #expect(h.takeUp().isEmpty)
    }

    @Test func grantsAndDenialsTravelTheSameWayWithIncreasingSequences() throws {
        let h = try merge()
        let requester = foreignView(size: 2)
        h.fromAbove(.mergeGranted(contact(of: requester), granter))
        h.fromAbove(.mergeDenied(contact(of: requester), requester))
        let sent = h.takeDown().only("gossipDirect")
        #expect(sent.compactMap { mergePart($0)?.kind } == [.granted, .denied])
        #expect(sent.compactMap { mergePart($0)?.sequence } == [1, 2])
        #expect(sent.allSatisfy { $0.directGossip?.to == requester.addresses[0] })
    }

    @Test func requestIsResentEverySweepThenFailsAfterTheTimeout() throws {
        let h = try merge()
        h.fromBelow(.initialize(.zero))
        _ = h.takeUp()
        h.fromAbove(.mergeRequest(granterContact, h.view))
        _ = h.takeDown()
        #expect(tick(h, 0.5).resent.isEmpty, "not before a merge_sweep")
        let first = tick(h, 1)
        #expect(first.resent.count == 1)
        #expect(mergePart(first.resent.first)?.sequence == 1, "the same message again")
        #expect(first.up.isEmpty)
        #expect(tick(h, 1.5).resent.isEmpty, "one merge_sweep between re-sends")
        #expect(tick(h, 2).resent.count == 1)
        let last = tick(h, 3)
        #expect(last.resent.isEmpty, "merge_timeout reached")
        #expect(last.up == ["mergeFailed"])
        #expect(tick(h, 10).up.isEmpty, "given up: nothing more")
        #expect(tick(h, 11).resent.isEmpty)
    }

    @Test func grantThatTimesOutIsDroppedSilently() throws {
        let h = try merge()
        h.fromAbove(.mergeGranted(granterContact, granter))
        _ = h.takeDown()
        for t in 1 ... 5 { #expect(tick(h, Double(t)).up.isEmpty) }
        #expect(tick(h, 6).resent.isEmpty)
    }

    @Test func noMergeFailedOnceAViewWasInstalled() throws {
        let h = try merge()
        h.fromAbove(.mergeRequest(granterContact, h.view))
        _ = h.takeDown()
        h.fromBelow(.view(ViewState.merge([granter, h.view])!))
        #expect(h.takeUp().kinds == ["view"])
        var ups: [String] = []
        for t in 1 ... 5 { ups += tick(h, Double(t)).up }
        #expect(ups.isEmpty)
    }

    // MARK: Receiving

    /// A requester in another partition (its coordinator's Merge layer), aiming at me.
    func requesterAiming(at me: LayerHarness, view: ViewState) throws -> (sender: LayerHarness, gossip: Gossip) {
        let sender = try merge()
        sender.fromAbove(.mergeRequest(MergeContact(endpoint: me.endpoint, address: me.view.addresses[0], viewID: me.view.id), view))
        let g = try #require(sender.takeDown().first?.directGossip?.gossip)
        return (sender, g)
    }

    @Test func incomingMergeAddressedToMeIsDeliveredOnceAndTheGossipAlwaysPassesUp() throws {
        let me = try merge()
        let theirs = foreignView(size: 2)
        let (sender, g) = try requesterAiming(at: me, view: theirs)
        me.fromBelow(.gossip(g))
        let up = me.takeUp()
        #expect(up.kinds == ["mergeRequest", "gossip"])
        #expect(up.first?.mergeFields?.view == theirs)
        #expect(up.first?.mergeFields?.contact.endpoint == me.endpoint)
        // The sender's retransmission is a duplicate (same sender, ltime and sequence).
        let resent = try #require(tick(sender, 1).resent.first?.directGossip?.gossip)
        me.fromBelow(.gossip(resent))
        #expect(me.takeUp().kinds == ["gossip"])
        me.fromBelow(.gossip(g))
        #expect(me.takeUp().kinds == ["gossip"])
    }

    @Test func aNewerMessageFromTheSameSenderIsDelivered() throws {
        let me = try merge()
        let theirs = foreignView(size: 2)
        let (sender, _) = try requesterAiming(at: me, view: theirs)
        sender.fromAbove(.mergeDenied(MergeContact(endpoint: me.endpoint, address: me.view.addresses[0], viewID: me.view.id), theirs))
        let second = try #require(sender.takeDown().first?.directGossip?.gossip)
        #expect(second.merge?.sequence == 2)
        me.fromBelow(.gossip(second))
        #expect(me.takeUp().kinds == ["mergeDenied", "gossip"])
    }

    @Test func olderSequenceFromTheSameSenderIsDropped() throws {
        let me = try merge()
        let theirs = foreignView(size: 2)
        let sender = try merge()
        let aim = MergeContact(endpoint: me.endpoint, address: me.view.addresses[0], viewID: me.view.id)
        sender.fromAbove(.mergeRequest(aim, theirs))
        sender.fromAbove(.mergeRequest(aim, theirs))
        let gs = sender.takeDown().compactMap { $0.directGossip?.gossip }
        try #require(gs.count == 2)
        me.fromBelow(.gossip(gs[1]))
        me.fromBelow(.gossip(gs[0]))
        #expect(me.takeUp().kinds == ["mergeRequest", "gossip", "gossip"])
    }

    @Test func mergeAddressedToSomeoneElseOrAnotherProtocolIsNotDelivered() throws {
        let me = try merge()
        let other = try merge(rank: 1)  // another endpoint of my own view
        let (_, toOther) = try requesterAiming(at: other, view: foreignView(size: 2))
        me.fromBelow(.gossip(toOther))
        #expect(me.takeUp().kinds == ["gossip"])
        let (_, otherProtocol) = try requesterAiming(at: me, view: foreignView(size: 2, protocolStack: "other"))
        me.fromBelow(.gossip(otherProtocol))
        #expect(me.takeUp().kinds == ["gossip"])
        me.fromBelow(.gossip(Gossip()))
        #expect(me.takeUp().kinds == ["gossip"])
    }
}
