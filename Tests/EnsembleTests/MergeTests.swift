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
        #expect(m.sender == h.endpoint)
        #expect(m.view == h.view)
        #expect(m.sequence == 1)
        #expect(down[1].timerTime == .milliseconds(50), "a wake-up one merge_rto later")
        #expect(h.takeUp().isEmpty)
    }

    @Test func grantsAndDenialsAreSentOnceWithIncreasingSequences() throws {
        let h = try merge()
        let requester = foreignView(size: 2)
        h.fromAbove(.mergeGranted(contact(of: requester), granter))
        h.fromAbove(.mergeDenied(contact(of: requester), requester))
        let down = h.takeDown()
        #expect(down.kinds == ["gossipDirect", "gossipDirect"], "no retransmission: every copy of a request is answered")
        #expect(down.compactMap { mergePart($0)?.kind } == [.granted, .denied])
        #expect(down.compactMap { mergePart($0)?.sequence } == [1, 2])
        #expect(down.allSatisfy { $0.directGossip?.to == requester.addresses[0] })
    }

    /// A requester that has sent its request at time 0.
    func requesting() throws -> LayerHarness {
        let h = try merge()
        h.fromBelow(.initialize(.zero))
        _ = h.takeUp()
        h.fromAbove(.mergeRequest(granterContact, h.view))
        _ = h.takeDown()
        return h
    }

    /// The contact's answer of `kind` to `h`'s request, from `sender`.
    func answer(_ h: LayerHarness, _ kind: MergeGossip.Kind, view: ViewState? = nil, from sender: EndpointID? = nil) -> Gossip {
        Gossip(merge: MergeGossip(contact: MergeContact(endpoint: h.endpoint, address: h.view.addresses[0], viewID: h.view.id),
                                  sender: sender ?? granter.coordinator, sequence: 1, kind: kind, view: view ?? h.view))
    }

    @Test func aSilentContactIsGivenUpAfterFiveSendsWithDoublingGaps() throws {
        let h = try requesting()
        #expect(tick(h, 0.04).resent.isEmpty, "not before merge_rto")
        var sends: [Double] = []
        var t = 0.0
        var failedAt: Double?
        while t < 3, failedAt == nil {
            t += 0.01
            let out = tick(h, t)
            if !out.resent.isEmpty { sends.append((t * 100).rounded() / 100) }
            if out.up == ["mergeFailed"] { failedAt = t }
        }
        #expect(sends == [0.05, 0.15, 0.35, 0.75], "50 ms, then doubling")
        let f = try #require(failedAt)
        #expect(f > 1.5 && f < 1.6, "gave up at \(f) s, long before merge_timeout (3 s)")
    }

    @Test func anAcknowledgedRequestIsResentUntilTheTimeoutThenFails() throws {
        let h = try requesting()
        h.fromBelow(.gossip(answer(h, .ack)))
        #expect(h.takeUp().kinds == ["gossip"], "an ack is not delivered")
        var resent = 0
        var failedAt: Double?
        var t = 0.0
        while t < 4, failedAt == nil {
            t += 0.05
            let out = tick(h, t)
            resent += out.resent.count
            if out.up == ["mergeFailed"] { failedAt = t }
        }
        #expect(resent >= 5, "keeps asking: each copy gets the answer again if it was lost")
        #expect(failedAt.map { abs($0 - 3) < 0.06 } == true, "merge_timeout")
    }

    @Test func theContactsAnswerEndsTheRequestOthersDoNot() throws {
        let h = try requesting()
        let stranger = foreignEndpoints(1, firstPort: 900)[0]
        h.fromBelow(.gossip(answer(h, .denied, from: stranger)))
        #expect(h.takeUp().kinds == ["mergeDenied", "gossip"], "passed up for Inter to judge")
        #expect(!tick(h, 0.05).resent.isEmpty, "still asking")
        h.fromBelow(.gossip(answer(h, .denied)))
        #expect(h.takeUp().kinds == ["mergeDenied", "gossip"])
        for t in stride(from: 0.1, through: 4, by: 0.1) {
            let out = tick(h, t)
            #expect(out.resent.isEmpty && out.up.isEmpty, "answered: no more sends, no failure")
        }
    }

    @Test func interAbandoningTheMergeStopsTheRequest() throws {
        let h = try requesting()
        h.fromAbove(.mergeFailed)
        #expect(h.takeDown().isEmpty)
        for t in stride(from: 0.1, through: 4, by: 0.1) { #expect(tick(h, t).resent.isEmpty) }
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

    @Test func everyCopyOfARequestIsAcknowledgedAndDelivered() throws {
        let me = try merge()
        let theirs = foreignView(size: 2)
        let (sender, g) = try requesterAiming(at: me, view: theirs)
        for _ in 0 ..< 2 {
            me.fromBelow(.gossip(g))
            let up = me.takeUp()
            #expect(up.kinds == ["mergeRequest", "gossip"], "Inter answers every copy (idempotently)")
            #expect(up.first?.mergeFields?.view == theirs)
            let ack = try #require(me.takeDown().first)
            #expect(ack.directGossip?.to == theirs.addresses[0])
            let m = try #require(mergePart(ack))
            #expect(m.kind == .ack && m.sender == me.endpoint && m.view.id == theirs.id)
            // The ack reaches the requester: it is not given up as silent.
            sender.fromBelow(.gossip(try #require(ack.directGossip?.gossip)))
            #expect(sender.takeUp().kinds == ["gossip"])
        }
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
        #expect(me.takeDown().isEmpty, "no ack either")
    }
}
