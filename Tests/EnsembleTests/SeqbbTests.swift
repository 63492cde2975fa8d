import Testing
@testable import Ensemble

@Suite struct SeqbbTests {
    func seqbb(rank: Rank, members: Int = 3, params: String = "") throws -> LayerHarness {
        try LayerHarness(members: members, rank: rank, params: params) { s, p, x throws(ParameterError) in try Seqbb(s, p, x) }
    }

    /// A group of three Seqbb layers.
    func group(params: String = "") throws -> [LayerHarness] { try (0 ..< 3).map { try seqbb(rank: $0, params: params) } }

    /// Member `h` casts `byte`: what leaves it downward (the data cast).
    func cast(_ h: LayerHarness, _ byte: UInt8) -> Packet? {
        h.fromAbove(.cast(Packet(payload: [byte]), peer: h.setup.rank, flags: .application))
        return h.takeDown().first { $0.name == "cast" }?.packet
    }

    /// The application casts delivered upward, as (origin, first byte).
    func deliveries(_ h: LayerHarness) -> [[Int]] {
        h.takeUp().compactMap { e in
            guard case let .cast(p, o, flags) = e, flags.contains(.application) else { return nil }
            return [o, Int(p.bytes.first ?? 0)]
        }
    }

    /// The sequencer's loop turn ends: its ordering message, if any.
    func endTurn(_ h: LayerHarness) -> Packet? {
        h.fromBelow(.timer(h.now))
        return h.takeDown().first { $0.name == "cast" }?.packet
    }

    func runs(_ p: Packet) -> [Seqbb.Run]? {
        var q = p
        guard case let .order(runs)?? = try? q.pop({ (r: inout WireReader) throws(WireError) in try Seqbb.Header.decode(from: &r, members: 3) }) else { return nil }
        return runs
    }

    @Test func everyMemberDeliversInTheSequencersOrderItsOwnCastsIncluded() throws {
        let g = try group()
        let a1 = try #require(cast(g[1], 11))
        let a2 = try #require(cast(g[2], 21))
        let b2 = try #require(cast(g[2], 22))
        #expect(deliveries(g[1]).isEmpty && deliveries(g[2]).isEmpty, "held until ordered, even one's own")
        // The sequencer receives 2's casts first, casts one of its own, then gets 1's.
        g[0].fromBelow(.cast(a2, peer: 2, flags: []))
        g[0].fromBelow(.cast(b2, peer: 2, flags: []))
        let own = try #require(cast(g[0], 1))
        g[0].fromBelow(.cast(a1, peer: 1, flags: []))
        let expected = [[2, 21], [2, 22], [0, 1], [1, 11]]
        #expect(deliveries(g[0]) == [[2, 21], [2, 22]], "the sequencer delivers as it decides; its own cast at the end of the turn")
        let order = try #require(endTurn(g[0]))
        #expect(deliveries(g[0]) == [[0, 1], [1, 11]])
        #expect(runs(order) == [.init(origin: 2, count: 2), .init(origin: 0, count: 1), .init(origin: 1, count: 1)])
        // Member 1 gets the decision before the data it orders: it waits.
        g[1].fromBelow(.cast(order, peer: 0, flags: []))
        #expect(deliveries(g[1]).isEmpty)
        g[1].fromBelow(.cast(a2, peer: 2, flags: []))
        g[1].fromBelow(.cast(own, peer: 0, flags: []))
        #expect(deliveries(g[1]) == [[2, 21]], "22 is not there yet")
        g[1].fromBelow(.cast(b2, peer: 2, flags: []))
        #expect(deliveries(g[1]) == [[2, 22], [0, 1], [1, 11]])
        g[2].fromBelow(.cast(own, peer: 0, flags: []))
        g[2].fromBelow(.cast(a1, peer: 1, flags: []))
        g[2].fromBelow(.cast(order, peer: 0, flags: []))
        #expect(deliveries(g[2]) == expected)
    }

    @Test func decisionsAreBatchedPerLoopTurnAsRuns() throws {
        let g = try group()
        let from1 = (0 ..< 5).compactMap { cast(g[1], UInt8(10 + $0)) }
        let from2 = (0 ..< 3).compactMap { cast(g[2], UInt8(20 + $0)) }
        for p in from1.prefix(3) { g[0].fromBelow(.cast(p, peer: 1, flags: [])) }
        for p in from2 { g[0].fromBelow(.cast(p, peer: 2, flags: [])) }
        for p in from1.suffix(2) { g[0].fromBelow(.cast(p, peer: 1, flags: [])) }
        let down = g[0].takeDown()
        #expect(down.filter { $0.name == "cast" }.isEmpty, "nothing is decided aloud before the turn ends")
        #expect(down.contains { $0.name == "timer" }, "an alarm for the end of the turn")
        let order = try #require(endTurn(g[0]))
        #expect(runs(order) == [.init(origin: 1, count: 3), .init(origin: 2, count: 3), .init(origin: 1, count: 2)])
        #expect(endTurn(g[0]) == nil, "nothing new, nothing sent")
        // A full batch goes at once.
        let small = try seqbb(rank: 0, params: "seqbb_max_runs=2:int")
        for (i, p) in [from1[0], from2[0], from1[1]].enumerated() { small.fromBelow(.cast(p, peer: i == 1 ? 2 : 1, flags: [])) }
        let sent = small.takeDown().filter { $0.name == "cast" }.compactMap(\.packet)
        #expect(sent.count == 1)
        #expect(sent.first.flatMap(runs) == [.init(origin: 1, count: 1), .init(origin: 2, count: 1)])
    }

    @Test func othersCastsAndSendsPassThroughUnordered() throws {
        let h = try seqbb(rank: 1)
        h.fromAbove(.cast(Packet(payload: [7]), peer: 1, flags: []))  // a layer above Top_appl
        h.fromAbove(.send(Packet(payload: [8]), peer: 2, flags: .application))
        let down = h.takeDown()
        #expect(down.map(\.name) == ["cast", "send"])
        #expect(down[1].packet?.bytes == [8], "sends carry no Seqbb header")
        h.fromBelow(try #require(down[0].packet).asCast(from: 2))
        #expect(h.takeUp().map { $0.packet?.bytes ?? [] } == [[7]], "delivered at once")
        // Malformed: counted and dropped; an order from a member other than the sequencer too.
        let before = h.stack.drops.malformedHeaders
        h.fromBelow(.cast(Packet(payload: [9, 1]), peer: 2, flags: []))
        var bogus = Packet(payload: [])
        bogus.push(Seqbb.Header.order([.init(origin: 2, count: 1)]))
        h.fromBelow(.cast(bogus, peer: 2, flags: []))
        #expect(h.takeUp().isEmpty)
        #expect(h.stack.drops.malformedHeaders == before + 2)
    }

    @Test func atTheViewsEndSurvivorsDeliverTheSameRestInOneOrder() throws {
        // The sequencer (0) decided 1's first cast, then crashed; 1 and 2 hold casts nobody ordered.
        let g = try group()
        let a1 = try #require(cast(g[1], 11))
        let b1 = try #require(cast(g[1], 12))
        let a2 = try #require(cast(g[2], 21))
        g[0].fromBelow(.cast(a1, peer: 1, flags: []))
        let order = try #require(endTurn(g[0]))
        _ = deliveries(g[0])
        // Member 1 got the decision; member 2 did not (and has not got 1's casts yet).
        g[1].fromBelow(.cast(a2, peer: 2, flags: []))
        g[1].fromBelow(.cast(order, peer: 0, flags: []))
        #expect(deliveries(g[1]) == [[1, 11]])
        var reports: [[Int]] = []
        for h in g[1...] {
            h.fromBelow(.fail(RankSet([0])))
            let up = h.takeUp()
            guard case let .applCounts(casts, _)? = up.first else { Issue.record("counts first, then the failure"); continue }
            #expect(up.last?.name == "fail")
            reports.append(casts)
        }
        // Received per origin; the sequencer's slot counts its decision.
        #expect(reports == [[1, 2, 1], [0, 0, 1]])
        // The flush: the most any survivor received.
        let expected = [1, 2, 1]
        for h in g[1...] { h.fromBelow(.syncInfo(casts: expected, sends: [0, 0, 0])) }
        #expect(deliveries(g[1]) == [[1, 12], [2, 21]], "the rest by origin rank, then FIFO")
        #expect(g[2].takeUp().isEmpty, "2 waits for what the flush counts: the decision, and 1's casts")
        g[2].fromBelow(.cast(order, peer: 0, flags: []))
        g[2].fromBelow(.cast(a1, peer: 1, flags: []))
        #expect(deliveries(g[2]) == [[1, 11]], "decided: delivered as usual; the rest still waits for 12")
        g[2].fromBelow(.cast(b1, peer: 1, flags: []))
        let up = g[2].takeUp()
        let delivered = up.compactMap { e -> [Int]? in
            guard case let .cast(p, o, _) = e else { return nil }
            return [o, Int(p.bytes.first ?? 0)]
        }
        #expect(delivered == [[1, 12], [2, 21]], "the same casts in the same order as member 1")
        guard case let .syncInfo(casts, _)? = up.last else { Issue.record("syncInfo goes up last"); return }
        #expect(casts == [0, 2, 1], "rewritten to what was delivered, for Top_appl")
    }

    @Test func theStackAcceptsTotalForSeqbbAndKeepsFragBelowIt() throws {
        let names = try LayerRegistry.standard.validate("Top:Top_appl:Total:Pt2pt:Frag:Stable:Mnak:Bottom").map(\.canonicalName)
        #expect(names == ["Top", "Top_appl", "Seqbb", "Frag", "Pt2pt", "Stable", "Mnak", "Bottom"])
        #expect(throws: StackError.self) { try LayerRegistry.standard.validate("Top:Top_appl:Frag:Seqbb:Pt2pt:Stable:Mnak:Bottom") }
        #expect(LayerRegistry.totallyOrders("Top:Top_appl:total:Mnak:Stable:Bottom"))
        #expect(!LayerRegistry.totallyOrders("Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"))
    }

    @Test func theSequencerStopsDecidingOnceBlocked() throws {
        let g = try group()
        let a1 = try #require(cast(g[1], 11))
        let b1 = try #require(cast(g[1], 12))
        g[0].fromBelow(.cast(a1, peer: 1, flags: []))
        g[0].fromBelow(.block)
        let down = g[0].takeDown().filter { $0.name == "cast" }
        #expect(down.count == 1, "its pending decision goes out before it reports")
        guard case let .applCounts(casts, _)? = g[0].takeUp().first(where: { $0.name != "cast" }) else { Issue.record("counts"); return }
        #expect(casts == [1, 1, 0])
        g[0].fromBelow(.cast(b1, peer: 1, flags: []))
        #expect(deliveries(g[0]).isEmpty, "held: left to the view's end")
        #expect(endTurn(g[0]) == nil)
    }
}

extension Packet {
    fileprivate func asCast(from o: Rank) -> Event { .cast(self, peer: o, flags: []) }
}
