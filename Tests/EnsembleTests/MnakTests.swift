import Testing
@testable import Ensemble

@Suite struct MnakTests {
    func mnak(rank: Rank, params: String = "") throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank, params: params) { s, p, x throws(ParameterError) in try Mnak(s, p, x) }
    }

    /// Casts from member 1's Mnak, as they leave it.
    func castsFrom(_ sender: LayerHarness, _ payloads: [[UInt8]]) -> [Packet] {
        for b in payloads { sender.fromAbove(.cast(Packet(payload: b), peer: 1, flags: .application)) }
        return sender.takeDown().compactMap(\.packet)
    }

    @Test func numbersCastsAndDeliversInOrderWithoutDuplicates() throws {
        let sender = try mnak(rank: 1)
        let receiver = try mnak(rank: 0)
        let packets = castsFrom(sender, [[1], [2], [3]])
        #expect(packets.count == 3)
        for p in packets { receiver.fromBelow(.cast(p, peer: 1, flags: [])) }
        receiver.fromBelow(.cast(packets[1], peer: 1, flags: []))  // duplicate
        let up = receiver.takeUp()
        #expect(up.map(\.name) == ["cast", "cast", "cast"])
        #expect(up.map { $0.packet?.bytes ?? [] } == [[1], [2], [3]])
        #expect(up.allSatisfy { $0.peer == 1 })
        #expect(receiver.takeDown().isEmpty, "no NAK when nothing is missing")
    }

    @Test func aHoleStillOpenAfterTheTimeoutIsNakedAgainWithBackoff() throws {
        let sender = try mnak(rank: 1)
        let receiver = try mnak(rank: 0, params: "stable_sweep=1:time")
        let packets = castsFrom(sender, [[10], [11], [12]])
        receiver.fromBelow(.cast(packets[0], peer: 1, flags: []))
        receiver.fromBelow(.cast(packets[2], peer: 1, flags: []))  // seq 1 lost
        #expect(receiver.takeDown().filter { $0.name == "send" }.count == 1)
        var nakedAt: [Int64] = []
        for t in stride(from: 10, through: 700, by: 10) {
            receiver.now = .milliseconds(Int64(t))
            receiver.fromBelow(.timer(.milliseconds(Int64(t))))
            if !receiver.takeDown().filter({ $0.name == "send" }).isEmpty { nakedAt.append(Int64(t)) }
        }
        #expect(nakedAt == [50, 150, 350], "NAKed again after 50 ms (rto_initial), then 100, 200 ms: backing off")
        // Repaired: no more NAKs.
        receiver.fromBelow(.sendUnreliable(retransmission(of: packets[1], seq: 1), peer: 1))
        _ = receiver.takeUp()
        for t in stride(from: 800, through: 3000, by: 100) {
            receiver.now = .milliseconds(Int64(t))
            receiver.fromBelow(.timer(.milliseconds(Int64(t))))
            #expect(receiver.takeDown().filter { $0.name == "send" }.isEmpty)
        }
    }

    /// Packet `p` (a Data cast of member 1) turned into the retransmission of `seq`.
    func retransmission(of p: Packet, seq: UInt64) -> Packet {
        var q = p
        _ = try? q.pop { (r: inout WireReader) throws(WireError) in try Mnak.Header.decode(from: &r, members: 3) }
        q.push(Mnak.Header.retransmit(origin: 1, seq: seq))
        return q
    }

    @Test func anIdleSenderAnnouncesItsHighWaterMarkAndTheTailIsRepaired() throws {
        let sender = try mnak(rank: 1, params: "stable_sweep=1:time")
        let receiver = try mnak(rank: 0)
        let packets = castsFrom(sender, [[10], [11]])
        receiver.fromBelow(.cast(packets[0], peer: 1, flags: []))  // the last one is lost: nobody knows
        #expect(receiver.takeDown().isEmpty)
        for t: Int64 in [49, 50, 99] {
            sender.now = .milliseconds(t)
            sender.fromBelow(.timer(.milliseconds(t)))
            #expect(sender.takeDown().filter { $0.name == "castUnreliable" }.isEmpty, "\(t) ms: casts went out within the last timeout")
        }
        sender.now = .milliseconds(100)
        sender.fromBelow(.timer(.milliseconds(100)))
        let announcement = try #require(sender.takeDown().first { $0.name == "castUnreliable" }?.packet)
        receiver.fromBelow(.castUnreliable(announcement, peer: 1))
        let nak = receiver.takeDown().filter { $0.name == "send" }
        #expect(nak.count == 1, "the receiver learns of the hole and NAKs it")
        // It announces again, later (backing off), until its casts are stable; then it stops.
        var again: [Int64] = []
        for t in stride(from: 110, through: 700, by: 10) {
            sender.now = .milliseconds(Int64(t))
            sender.fromBelow(.timer(.milliseconds(Int64(t))))
            if sender.takeDown().contains(where: { $0.name == "castUnreliable" }) { again.append(Int64(t)) }
        }
        #expect(again == [200, 400], "backing off")
        sender.fromBelow(.stable(stability: [0, 2, 0], numCasts: [0, 2, 0]))
        _ = sender.takeUp()
        for t in stride(from: 710, through: 3000, by: 20) {
            sender.now = .milliseconds(Int64(t))
            sender.fromBelow(.timer(.milliseconds(Int64(t))))
            #expect(!sender.takeDown().contains { $0.name == "castUnreliable" })
        }
    }

    @Test func gapIsNakedAndRepairedByRetransmission() throws {
        let sender = try mnak(rank: 1)
        let receiver = try mnak(rank: 0)
        let packets = castsFrom(sender, [[10], [11], [12]])
        receiver.fromBelow(.cast(packets[0], peer: 1, flags: []))
        receiver.fromBelow(.cast(packets[2], peer: 1, flags: []))  // seq 1 lost
        #expect(receiver.takeUp().map { $0.packet?.bytes ?? [] } == [[10]])
        let naks = receiver.takeDown().filter { $0.name == "send" }
        #expect(naks.count == 1)
        guard case let .send(nak, to, _) = naks[0] else { Issue.record("expected a NAK send"); return }
        #expect(to == 1, "NAK goes to the origin")

        // The origin answers with a retransmission.
        sender.fromBelow(.send(nak, peer: 0, flags: []))
        let retrans = sender.takeDown()
        #expect(retrans.map(\.name) == ["sendUnreliable"])
        guard case let .sendUnreliable(r, peer) = retrans[0] else { return }
        #expect(peer == 0)
        receiver.fromBelow(.sendUnreliable(r, peer: 1))
        #expect(receiver.takeUp().map { $0.packet?.bytes ?? [] } == [[11], [12]])
    }

    @Test func stabilityFreesAndWindowBlocksThenUnblocks() throws {
        let sender = try mnak(rank: 1, params: "mnak_window=1000:int")
        // 64 bytes of accounting per small message: the 16th exceeds 1000.
        for i in 0 ..< 16 { sender.fromAbove(.cast(Packet(payload: [UInt8(i)]), peer: 1, flags: .application)) }
        #expect(sender.takeUp().map(\.name) == ["flowControl(true,casts)"])
        _ = sender.takeDown()
        sender.fromBelow(.stable(stability: [0, 16, 0], numCasts: [0, 16, 0]))
        #expect(sender.takeUp().map(\.name) == ["flowControl(false,casts)", "stable"])
        // Freed: a NAK for stable messages retransmits nothing.
        let receiver = try mnak(rank: 0)
        receiver.fromBelow(.stable(stability: [0, 0, 0], numCasts: [0, 2, 0]))  // learns seqnos 0,1 exist
        let nak = receiver.takeDown().compactMap(\.packet).first
        #expect(nak != nil, "a forced NAK up to numCasts")
        if let nak { sender.fromBelow(.send(nak, peer: 0, flags: [])) }
        #expect(sender.takeDown().isEmpty)
    }

    @Test func stableRequestIsFilledWithDeliveredCounts() throws {
        let sender = try mnak(rank: 1)
        let receiver = try mnak(rank: 0)
        for p in castsFrom(sender, [[1], [2]]) { receiver.fromBelow(.cast(p, peer: 1, flags: [])) }
        _ = receiver.takeUp()
        receiver.fromBelow(.stableRequest(numCasts: nil))
        guard case let .stableRequest(counts?) = receiver.takeUp().first else { Issue.record("not filled"); return }
        #expect(counts == [0, 2, 0])
    }

    @Test func failureCutsUndeliveredMessagesAndNaksGoToTheCoordinator() throws {
        let sender = try mnak(rank: 2)
        let receiver = try mnak(rank: 1)
        let packets = castsFrom(sender, [[1], [2], [3]])
        receiver.fromBelow(.cast(packets[0], peer: 2, flags: []))
        receiver.fromBelow(.cast(packets[2], peer: 2, flags: []))  // 1 missing, 2 buffered
        _ = receiver.takeUp()
        _ = receiver.takeDown()
        receiver.fromBelow(.fail(RankSet([2])))
        _ = receiver.takeUp()
        // Some survivor delivered 3 of origin 2's casts: NAK the coordinator (rank 0).
        receiver.fromBelow(.stable(stability: [0, 0, 0], numCasts: [0, 0, 3]))
        let down = receiver.takeDown()
        guard case let .send(_, to, _)? = down.first else { Issue.record("expected a NAK"); return }
        #expect(to == 0)
    }

    @Test func malformedHeaderIsDropped() throws {
        let receiver = try mnak(rank: 0)
        receiver.fromBelow(.cast(Packet(payload: [9, 9]), peer: 1, flags: []))
        receiver.fromBelow(.cast(Packet(payload: []), peer: 1, flags: []))
        #expect(receiver.takeUp().isEmpty)
    }
}
