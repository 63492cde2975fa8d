import Testing
@testable import Ensemble

@Suite struct SyncTests {
    func sync(rank: Rank, members: Int = 3) throws -> LayerHarness {
        try LayerHarness(members: members, rank: rank) { s, p, x in Sync(s, p, x) }
    }

    func decode(_ p: Packet) -> Sync.Header? {
        ownHeader(p, Sync.Header.self)
    }

    func isBlock(_ p: Packet?) -> Bool {
        if let p, case .block? = decode(p) { return true }
        return false
    }

    func vector(_ p: Packet?) -> RankSet? {
        if let p, case let .blockOk(v)? = decode(p) { return v }
        return nil
    }

    /// The Block cast of a coordinator whose Top asked to block.
    func blockCast() throws -> Packet {
        let coord = try sync(rank: 0)
        coord.fromAbove(.block)
        return try #require(coord.takeDown().first?.packet)
    }

    /// The BlockOk send of member `rank` once its flush is done (after `failed`, if any).
    func blockOkFrom(_ rank: Rank, failed: RankSet = RankSet()) throws -> (packet: Packet, to: Rank) {
        let m = try sync(rank: rank)
        if !failed.isEmpty { m.fromBelow(.fail(failed)) }
        m.fromBelow(.blockOk(contact: nil))
        let send = try #require(m.takeDown().last)
        return (try #require(send.packet), try #require(send.peer))
    }

    @Test func coordinatorsBlockCastsBlockOnceAndPassesBlockDown() throws {
        let h = try sync(rank: 0)
        h.fromAbove(.block)
        let down = h.takeDown()
        try #require(down.kinds == ["cast", "block"])
        #expect(isBlock(down[0].packet))
        #expect(down[0].peer == 0)
        h.fromAbove(.block)
        #expect(h.takeDown().isEmpty, "a second block is dropped")
        #expect(h.takeUp().isEmpty)
    }

    @Test func receivedBlockMakesAMemberBlockOnce() throws {
        let block = try blockCast()
        let m = try sync(rank: 1)
        m.fromBelow(.cast(block, peer: 0, flags: []))
        #expect(m.takeDown().kinds == ["block"])
        #expect(m.takeUp().isEmpty, "the Block message is consumed")
        m.fromBelow(.cast(block, peer: 0, flags: []))
        #expect(m.takeDown().isEmpty)
    }

    @Test func nonCoordinatorsBlockOkSendsItsVectorToTheCoordinator() throws {
        let m = try sync(rank: 2)
        m.fromBelow(.blockOk(contact: nil))
        #expect(m.takeUp().isEmpty, "consumed: only the collector releases blockOk")
        let down = m.takeDown()
        try #require(down.kinds == ["send"])
        #expect(down[0].peer == 0)
        #expect(vector(down[0].packet) == RankSet([2]))
    }

    @Test func collectorReleasesBlockOkExactlyOnceWhenEveryMemberAnswered() throws {
        let coord = try sync(rank: 0)
        coord.fromAbove(.block)
        _ = coord.takeDown()
        coord.fromBelow(.blockOk(contact: nil))  // my own flush
        #expect(coord.takeUp().isEmpty)
        #expect(coord.takeDown().isEmpty, "the coordinator sends no vector to itself")
        let ok1 = try blockOkFrom(1)
        let ok2 = try blockOkFrom(2)
        coord.fromBelow(.send(ok1.packet, peer: 1, flags: []))
        #expect(coord.takeUp().isEmpty, "member 2 has not answered")
        coord.fromBelow(.send(ok2.packet, peer: 2, flags: []))
        let up = coord.takeUp()
        #expect(up.kinds == ["blockOk"])
        #expect(up.first?.blockOkContact == .some(nil))
        coord.fromBelow(.send(ok2.packet, peer: 2, flags: []))
        coord.fromBelow(.send(ok1.packet, peer: 1, flags: []))
        #expect(coord.takeUp().isEmpty, "released once")
    }

    @Test func withoutItsOwnBlockAMemberNeverReleases() throws {
        let m = try sync(rank: 0)
        m.fromBelow(.blockOk(contact: nil))
        m.fromBelow(.send(try blockOkFrom(1).packet, peer: 1, flags: []))
        m.fromBelow(.send(try blockOkFrom(2).packet, peer: 2, flags: []))
        #expect(m.takeUp().isEmpty)
        m.fromAbove(.block)  // now it collects: everybody already answered
        #expect(m.takeUp().kinds == ["blockOk"])
    }

    @Test func failureLetsTheCollectorProceedWithoutTheFailedMember() throws {
        let coord = try sync(rank: 0)
        coord.fromAbove(.block)
        coord.fromBelow(.blockOk(contact: nil))
        coord.fromBelow(.send(try blockOkFrom(1).packet, peer: 1, flags: []))
        #expect(coord.takeUp().isEmpty)
        coord.fromBelow(.fail(RankSet([2])))
        #expect(coord.takeUp().kinds == ["fail", "blockOk"])
    }

    @Test func afterTheCoordinatorFailsVectorsGoToTheNewOne() throws {
        let m2 = try sync(rank: 2)
        m2.fromBelow(.blockOk(contact: nil))
        #expect(m2.takeDown().compactMap(\.peer) == [0])
        m2.fromBelow(.fail(RankSet([0])))
        let resent = m2.takeDown()
        #expect(resent.kinds == ["send"])
        #expect(resent.first?.peer == 1, "re-sent to the new coordinator")
        #expect(vector(resent.first?.packet) == RankSet([2]))

        // The new coordinator (already blocked by the old one's Block) collects once its Top asks.
        let m1 = try sync(rank: 1)
        m1.fromBelow(.cast(try blockCast(), peer: 0, flags: []))
        #expect(m1.takeDown().kinds == ["block"])
        m1.fromBelow(.fail(RankSet([0])))
        m1.fromAbove(.block)
        #expect(m1.takeDown().isEmpty, "already blocked: no second Block cast")
        m1.fromBelow(.blockOk(contact: nil))
        #expect(m1.takeDown().isEmpty, "the new coordinator keeps its own vector")
        _ = m1.takeUp()
        m1.fromBelow(.send(try #require(resent.first?.packet), peer: 2, flags: []))
        #expect(m1.takeUp().kinds == ["blockOk"])
    }

    @Test func applicationTrafficPassesThrough() throws {
        let a = try sync(rank: 0)
        let b = try sync(rank: 1)
        a.fromAbove(.cast(Packet(payload: [1]), peer: 0, flags: .application))
        a.fromAbove(.send(Packet(payload: [2]), peer: 1, flags: .application))
        let out = a.takeDown()
        try #require(out.count == 2)
        b.fromBelow(.cast(try #require(out[0].packet), peer: 0, flags: .application))
        b.fromBelow(.send(try #require(out[1].packet), peer: 0, flags: .application))
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[1], [2]])
        #expect(b.takeDown().isEmpty)
    }
}
