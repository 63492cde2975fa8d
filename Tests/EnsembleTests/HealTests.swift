import Testing
@testable import Ensemble

@Suite struct HealTests {
    func heal(rank: Rank) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank) { s, p, x in Heal(s, p, x) }
    }

    /// The presence message member `rank` sends at start-up.
    func presenceFrom(_ rank: Rank) throws -> Packet {
        let m = try heal(rank: rank)
        m.fromBelow(.initialize(.zero))
        return try #require(m.takeDown().first?.packet)
    }

    /// A started coordinator that has heard every member's presence.
    func completeCoordinator() throws -> LayerHarness {
        let c = try heal(rank: 0)
        c.fromBelow(.initialize(.zero))
        for r in 1 ..< 3 { c.fromBelow(.send(try presenceFrom(r), peer: r, flags: [])) }
        _ = c.takeUp()
        _ = c.takeDown()
        return c
    }

    /// What another partition's coordinator announces.
    func announcement(of v: ViewState) -> HealGossip {
        HealGossip(protocolStack: v.protocolStack, viewID: v.id, contact: contact(of: v), members: v.members)
    }

    /// Hears another partition's announcement; returns (down, up).
    func hear(_ h: LayerHarness, _ v: ViewState) -> (down: [Event], up: [Event]) {
        hear(h, announcement(of: v))
    }

    func hear(_ h: LayerHarness, _ a: HealGossip) -> (down: [Event], up: [Event]) {
        h.fromBelow(.gossip(Gossip(heal: a)))
        return (h.takeDown(), h.takeUp())
    }

    /// Top's gossip round going down through Heal: what Heal lets through.
    func topGossip(_ h: LayerHarness) -> Gossip? {
        h.fromAbove(.gossip(Gossip()))
        return h.takeDown().first?.gossipValue
    }

    @Test func nonCoordinatorSendsPresenceToRankZeroAtInit() throws {
        let m = try heal(rank: 2)
        m.fromBelow(.initialize(.zero))
        #expect(m.takeUp().kinds == ["initialize"])
        let down = m.takeDown()
        #expect(down.kinds == ["send"])
        #expect(down.first?.peer == 0)
    }

    @Test func coordinatorAnnouncesOnceEveryoneIsPresent() throws {
        let c = try heal(rank: 0)
        c.fromBelow(.initialize(.zero))
        #expect(c.takeDown().isEmpty)
        #expect(topGossip(c)?.heal == nil, "not all present: no announcement")
        c.fromBelow(.send(try presenceFrom(1), peer: 1, flags: []))
        #expect(c.takeDown().isEmpty)
        c.fromBelow(.send(try presenceFrom(2), peer: 2, flags: []))
        #expect(c.takeUp().kinds == ["initialize"], "presence messages are consumed")
        let down = c.takeDown()
        #expect(down.kinds == ["gossip"])
        let a = try #require(down.first?.gossipValue?.heal)
        #expect(a.protocolStack == "test")
        #expect(a.viewID == c.view.id)
        #expect(a.members == c.view.members)
        #expect(a.contact.endpoint == c.view.members[0])
        #expect(a.contact.address == c.view.addresses[0])
        // Top's later rounds carry it too; a repeated presence announces nothing new.
        #expect(topGossip(c)?.heal == a)
        c.fromBelow(.send(try presenceFrom(2), peer: 2, flags: []))
        #expect(c.takeDown().isEmpty)
    }

    /// The merge target Heal offered Top, if any.
    func target(_ up: [Event]) -> MergeContact? {
        for e in up { if case let .mergeTarget(c) = e { return c } }
        return nil
    }

    @Test func aLargerDisjointPartitionIsOfferedToTopEachTimeItIsHeard() throws {
        let c = try completeCoordinator()
        let big = foreignView(size: 4, ltime: 2)
        let first = hear(c, big)
        #expect(first.down.isEmpty, "no prompt: the group does not block to ask")
        #expect(first.up.kinds == ["mergeTarget", "gossip"], "the gossip itself goes on up")
        let t = try #require(target(first.up))
        #expect(t.endpoint == big.coordinator)
        #expect(t.address == big.addresses[0])
        #expect(t.viewID == big.id)
        // Heard again (after a failed attempt, say): offered again, so Top may retry.
        #expect(target(hear(c, big).up)?.viewID == big.id)
        #expect(topGossip(c)?.heal != nil, "still announces its own partition")
    }

    @Test func sameSizeWithALargerViewIDIsLarger() throws {
        let c = try completeCoordinator()
        #expect(target(hear(c, foreignView(size: 3, ltime: 2)).up) != nil)
        #expect(target(hear(c, foreignView(size: 3, ltime: 0)).up) == nil)
    }

    @Test func gossipFromAnotherEndpointAtAMembersAddressProbesThatMember() throws {
        let c = try completeCoordinator()
        var a = announcement(of: foreignView(size: 1, ltime: 0))
        a.contact.address = c.view.addresses[2]  // restarted on member 2's address?
        let out = hear(c, a)
        #expect(out.down.kinds == ["sendUnreliable"], "a probe a new incarnation answers with a notice; no suspicion on gossip alone")
        #expect(out.down.first?.peer == 2)
        #expect(target(out.up) == nil)
    }

    @Test func smallerPartitionGetsADirectAnswerOncePerSweep() throws {
        let c = try completeCoordinator()
        let small = foreignView(size: 2, ltime: 7)
        let out = hear(c, small)
        #expect(out.down.kinds == ["gossipDirect"])
        let (g, to) = try #require(out.down.first?.directGossip)
        #expect(to == small.addresses[0])
        #expect(g.heal?.viewID == c.view.id)
        #expect(g.heal?.members == c.view.members)
        #expect(hear(c, small).down.isEmpty, "answered already this sweep")
        _ = topGossip(c)  // a new sweep
        let again = hear(c, small)
        #expect(again.down.kinds == ["gossipDirect"])
        #expect(target(again.up) == nil, "not a merge target")
    }

    @Test func differentProtocolIsIgnored() throws {
        let c = try completeCoordinator()
        let out = hear(c, foreignView(size: 5, protocolStack: "other"))
        #expect(out.down.isEmpty)
        #expect(out.up.kinds == ["gossip"])
        #expect(hear(c, foreignView(size: 1, protocolStack: "other")).down.isEmpty)
    }

    @Test func overlappingPartitionIsIgnored() throws {
        let c = try completeCoordinator()
        var ids = foreignEndpoints(4)
        ids[3] = c.view.members[2]
        #expect(hear(c, foreignView(size: 4, ltime: 2, members: ids)).up.kinds == ["gossip"])
        var small = foreignEndpoints(2)
        small[1] = c.view.members[1]
        #expect(hear(c, foreignView(size: 2, members: small)).down.isEmpty)
        // Their coordinator is in my view (e.g. my own announcement echoed back).
        #expect(hear(c, announcement(of: c.view)).down.isEmpty)
        var odd = announcement(of: foreignView(size: 4, ltime: 2))
        odd.contact.endpoint = c.view.members[1]
        #expect(hear(c, odd).up.kinds == ["gossip"], "a contact in my view, even with disjoint members")
    }

    @Test func ignoredUntilAllPresentAndAtNonCoordinators() throws {
        let c = try heal(rank: 0)
        c.fromBelow(.initialize(.zero))
        _ = c.takeDown()
        #expect(target(hear(c, foreignView(size: 4, ltime: 2)).up) == nil)
        let m = try heal(rank: 1)
        m.fromBelow(.initialize(.zero))
        _ = m.takeDown()
        #expect(target(hear(m, foreignView(size: 4, ltime: 2)).up) == nil)
        #expect(hear(m, foreignView(size: 1)).down.isEmpty)
    }

    @Test func duringAViewChangeNoTargetAndNoAnswer() throws {
        let c = try completeCoordinator()
        c.fromBelow(.block)
        #expect(c.takeUp().kinds == ["block"])
        #expect(target(hear(c, foreignView(size: 4, ltime: 2)).up) == nil)
        #expect(hear(c, foreignView(size: 1, firstPort: 400)).down.isEmpty)
        #expect(topGossip(c)?.heal == nil)
    }

    @Test func otherSendsPassThrough() throws {
        let a = try heal(rank: 0)
        let b = try heal(rank: 1)
        a.fromAbove(.send(Packet(payload: [4]), peer: 1, flags: []))
        b.fromBelow(.send(try #require(a.takeDownPackets().first), peer: 0, flags: []))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[4]])
    }
}
