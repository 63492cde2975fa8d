import Testing
@testable import Ensemble

@Suite struct Pt2ptTests {
    func pt2pt(rank: Rank, params: String = "") throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank, params: params) { s, p, x throws(ParameterError) in try Pt2pt(s, p, x) }
    }

    func sends(_ from: LayerHarness, to: Rank, _ payloads: [[UInt8]]) -> [Packet] {
        for b in payloads { from.fromAbove(.send(Packet(payload: b), peer: to, flags: .application)) }
        return from.takeDown().compactMap(\.packet)
    }

    @Test func deliversInOrderBuffersEarlyAndNaksTheGap() throws {
        let a = try pt2pt(rank: 0)
        let b = try pt2pt(rank: 1)
        let p = sends(a, to: 1, [[1], [2], [3]])
        b.fromBelow(.send(p[0], peer: 0, flags: []))
        b.fromBelow(.send(p[2], peer: 0, flags: []))
        b.fromBelow(.send(p[2], peer: 0, flags: []))  // duplicate of an early one
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[1]])
        let nak = b.takeDown().filter { $0.name == "send" }
        #expect(nak.count == 1 && nak[0].peer == 0, "one NAK to the sender")
        if let n = nak.first?.packet { a.fromBelow(.send(n, peer: 1, flags: [])) }
        let resent = a.takeDown().filter { $0.name == "send" }
        #expect(resent.count == 1)
        if let r = resent.first?.packet { b.fromBelow(.send(r, peer: 0, flags: [])) }
        #expect(b.takeUp().map { $0.packet?.bytes ?? [] } == [[2], [3]])
    }

    /// Sends going down, and the ack the peer owes at the end of the loop turn (the timer).
    func sentDown(_ h: LayerHarness) -> [Event] { h.takeDown().filter { $0.name == "send" } }

    @Test func theReceiverAcksAtTheEndOfTheLoopTurn() throws {
        let a = try pt2pt(rank: 0)
        let b = try pt2pt(rank: 1)
        let p = sends(a, to: 1, [[7], [8]])
        b.now = .milliseconds(3)
        for q in p { b.fromBelow(.send(q, peer: 0, flags: [])) }
        _ = b.takeUp()
        let down = b.takeDown()
        #expect(down.compactMap(\.timerTime) == [.milliseconds(3)], "one alarm due now: the end of this turn")
        #expect(down.filter { $0.name == "send" }.isEmpty, "no ack yet")
        b.fromBelow(.timer(.milliseconds(3)))
        let acks = sentDown(b)
        #expect(acks.count == 1, "one ack for both")
        // The ack measures the round trip toward b.
        a.now = .milliseconds(4)
        if let ack = acks.first?.packet { a.fromBelow(.send(ack, peer: 1, flags: [])) }
        let rtt = try #require(a.setup.shared.roundTrips.estimate(a.view.members[1]))
        #expect(rtt.samples == 1 && rtt.smoothed == .milliseconds(4))
    }

    @Test func theOldestUnackedSendAndTheTailAreResentOnTheTimeoutWithBackoff() throws {
        let a = try pt2pt(rank: 0, params: "pt2pt_sweep=1:time")
        _ = sends(a, to: 1, [[1], [2], [3]])
        func tick(_ ms: Int64) { a.now = .milliseconds(ms); a.fromBelow(.timer(.milliseconds(ms))) }
        tick(49)
        #expect(sentDown(a).isEmpty, "not before rto_initial (50 ms)")
        tick(50)
        let first = sentDown(a)
        #expect(first.map { $0.packet?.bytes.last } == [1, 3], "the oldest and the newest (a tail probe)")
        tick(149)
        #expect(sentDown(a).isEmpty, "backed off: 100 ms")
        tick(150)
        #expect(sentDown(a).count == 2)
        // An ack of everything ends it: nothing more, ever.
        let b = try pt2pt(rank: 1)
        for q in sends(a, to: 1, []) { b.fromBelow(.send(q, peer: 0, flags: [])) }
        var ack = Packet(headroom: 32)
        ack.push(Pt2pt.Header.ack(3))
        a.fromBelow(.send(ack, peer: 1, flags: []))
        for t in stride(from: 200, through: 5000, by: 100) {
            tick(Int64(t))
            #expect(sentDown(a).isEmpty)
        }
        // Acks of retransmitted sends measure nothing (Karn).
        #expect(a.setup.shared.roundTrips.estimate(a.view.members[1]) == nil)
    }

    @Test func theTimeoutIsCappedByTheSweep() throws {
        let a = try pt2pt(rank: 0, params: "pt2pt_sweep=0.2:time")
        _ = sends(a, to: 1, [[1]])
        var resentAt: [Int64] = []
        for t in stride(from: 10, through: 1500, by: 10) {
            a.now = .milliseconds(Int64(t))
            a.fromBelow(.timer(.milliseconds(Int64(t))))
            if !sentDown(a).isEmpty { resentAt.append(Int64(t)) }
        }
        #expect(resentAt.prefix(4) == [50, 150, 350, 550], "50, 100, 200 ms, then never more than pt2pt_sweep")
    }

    @Test func windowFullBlocksUntilAcknowledged() throws {
        let a = try pt2pt(rank: 0, params: "pt2pt_window=256:int")
        let b = try pt2pt(rank: 1, params: "pt2pt_ack_rate=5:int")
        let p = sends(a, to: 1, (0 ..< 5).map { [UInt8($0)] })
        #expect(a.takeUp().map(\.name) == ["flowControl(true,1)"])
        for q in p { b.fromBelow(.send(q, peer: 0, flags: [])) }
        let ack = b.takeDown().compactMap(\.packet)
        #expect(ack.count == 1, "an ack after pt2pt_ack_rate messages, without waiting for the sweep")
        a.fromBelow(.send(ack[0], peer: 1, flags: []))
        #expect(a.takeUp().map(\.name) == ["flowControl(false,1)"])
    }

    @Test func castsPassThroughWithATag() throws {
        let a = try pt2pt(rank: 0)
        a.fromAbove(.cast(Packet(payload: [5]), peer: 0, flags: []))
        let down = a.takeDown()
        #expect(down.first?.packet?.bytes == [0, 5])
        a.fromBelow(.cast(Packet(payload: [0, 5]), peer: 2, flags: []))
        #expect(a.takeUp().first?.packet?.bytes == [5])
    }
}

@Suite struct FragTests {
    func frag(rank: Rank, max: Int = 100, partial: Int = 8) throws -> LayerHarness {
        try LayerHarness(members: 3, rank: rank, params: "frag_max_len=\(max):int;frag_max_partial=\(partial):int") {
            s, p, x throws(ParameterError) in try Frag(s, p, x)
        }
    }

    @Test func smallMessagesGoWhole() throws {
        let a = try frag(rank: 0)
        a.fromAbove(.cast(Packet(payload: [1, 2]), peer: 0, flags: []))
        #expect(a.takeDown().map { $0.packet?.bytes ?? [] } == [[0, 1, 2]])
    }

    @Test func largeSendSurvivesReorderDuplicationAndARetransmissionUnderANewID() throws {
        let a = try frag(rank: 0)
        let b = try frag(rank: 1)
        let payload = (0 ..< 350).map { UInt8($0 % 251) }
        a.fromAbove(.send(Packet(payload: payload), peer: 1, flags: []))
        let first = a.takeDown().compactMap(\.packet)
        #expect(first.count == 4)
        // Fragments 3, 1, 1 (duplicate), 0 arrive; 2 is lost: nothing is delivered.
        for i in [3, 1, 1, 0] { b.fromBelow(.send(first[i], peer: 0, flags: [])) }
        #expect(b.takeUp().isEmpty)
        // Pt2pt above resends the whole message: it is fragmented again under a new id.
        a.fromAbove(.send(Packet(payload: payload), peer: 1, flags: []))
        let second = a.takeDown().compactMap(\.packet)
        for p in second.reversed() { b.fromBelow(.send(p, peer: 0, flags: [])) }
        let up = b.takeUp()
        #expect(up.count == 1)
        #expect(up.first?.packet?.bytes == payload)
        // A straggler of the abandoned first attempt completes it: delivered again, which is
        // harmless because Pt2pt above drops the duplicate by seqno.
        b.fromBelow(.send(first[2], peer: 0, flags: []))
        #expect(b.takeUp().count <= 1)
    }

    @Test func oldIncompleteMessagesAreEvicted() throws {
        let a = try frag(rank: 0, partial: 2)
        let b = try frag(rank: 1, partial: 2)
        var firsts: [Packet] = []
        for k in 0 ..< 4 {
            a.fromAbove(.send(Packet(payload: [UInt8](repeating: UInt8(k), count: 150)), peer: 1, flags: []))
            firsts.append(a.takeDown().compactMap(\.packet)[0])
        }
        for p in firsts { b.fromBelow(.send(p, peer: 0, flags: [])) }  // four partial messages, room for two
        #expect(b.takeUp().isEmpty)
    }

    @Test func hostileFragmentHeadersAreDropped() throws {
        let b = try frag(rank: 1)
        for bytes: [UInt8] in [[1, 0, 5, 1], [1, 0, 0, 1], [1], [7], []] {
            b.fromBelow(.send(Packet(payload: bytes), peer: 0, flags: []))
        }
        #expect(b.takeUp().isEmpty)
    }
}

@Suite struct StableTests {
    @Test func aBlockStartsARoundAtOnceAndMoreOnTimeoutsWhileTheFlushLasts() throws {
        let h = try LayerHarness(members: 3, rank: 1, params: "stable_sweep=1:time") { s, p, x throws(ParameterError) in try Stable(s, p, x) }
        h.fromBelow(.block)
        #expect(h.takeUp().map(\.name) == ["block"])
        #expect(h.takeDown().map(\.name).contains("stableRequest"), "rows go out now, not at the next sweep")
        h.fromBelow(.stableRequest(numCasts: [0, 0, 0]))
        _ = h.takeDown()
        var roundsAt: [Int64] = []
        for t in stride(from: 10, through: 900, by: 10) {
            h.now = .milliseconds(Int64(t))
            h.fromBelow(.timer(.milliseconds(Int64(t))))
            _ = h.takeUp()
            if h.takeDown().map(\.name).contains("stableRequest") {
                roundsAt.append(Int64(t))
                h.fromBelow(.stableRequest(numCasts: [0, 0, 0]))  // Mnak's answer
                _ = h.takeDown()
            }
        }
        #expect(roundsAt == [50, 150, 350, 750], "after 50 ms (rto_initial), then backing off up to stable_sweep")
    }

    @Test func gossipAndComputeMinAndMaxOverLiveRows() throws {
        let s0 = try LayerHarness(members: 3, rank: 0) { s, p, x throws(ParameterError) in try Stable(s, p, x) }
        let s1 = try LayerHarness(members: 3, rank: 1) { s, p, x throws(ParameterError) in try Stable(s, p, x) }
        s1.fromBelow(.stableRequest(numCasts: [4, 9, 2]))
        let gossip = s1.takeDown().first { $0.name == "castUnreliable" }?.packet
        #expect(gossip != nil)
        if let g = gossip { s0.fromBelow(.castUnreliable(g, peer: 1)) }
        #expect(s0.takeDown().map(\.name) == ["stable"], "a row that advances is used at once")
        s0.fromBelow(.stableRequest(numCasts: [6, 3, 2]))
        let stable = s0.takeDown().first { $0.name == "stable" }
        guard case let .stable(mins, maxs)? = stable else { Issue.record("no stability"); return }
        // Member 2 has reported nothing yet: its row is all zero.
        #expect(mins == [0, 0, 0])
        #expect(maxs == [6, 9, 2])
        s0.fromBelow(.fail(RankSet([2])))
        #expect(s0.takeDown().map(\.name).contains("stableRequest"), "a failure triggers a round at once")
        s0.fromBelow(.stableRequest(numCasts: [6, 3, 2]))
        guard case let .stable(mins2, _)? = s0.takeDown().first(where: { $0.name == "stable" }) else { return }
        #expect(mins2 == [4, 3, 2], "without the failed member's row")
    }

    @Test func theMatrixKeepsMinimaAndMaximaAsAFullRecomputationWould() {
        // Random rows raised in random order, failures now and then: the kept minima and
        // maxima always equal a recomputation over the live rows.
        var rng = SplitMix64(seed: 7)
        for n in [1, 2, 5, 17] {
            var m = StabilityMatrix(count: n)
            var rows = Array(repeating: Array(repeating: 0, count: n), count: n)
            var failed = RankSet()
            for step in 0 ..< 400 {
                let i = Int(rng.next() % UInt64(n))
                var row = rows[i]
                for j in 0 ..< n where rng.next() % 3 == 0 { row[j] += Int(rng.next() % 3) }
                if rng.next() % 4 == 0, n > 0 { row[Int(rng.next() % UInt64(n))] = 0 }  // a stale, lower count
                let before = (m.mins, m.maxs)
                let changed = m.update(row: i, row)
                for j in 0 ..< n { rows[i][j] = max(rows[i][j], row[j]) }
                if step % 97 == 96, failed.count < n - 1 {
                    failed.insert(Int(rng.next() % UInt64(n)))
                    m.fail(failed)
                }
                let liveRows = rows.indices.filter { !failed.contains($0) }.map { rows[$0] }
                let mins = (0 ..< n).map { j in liveRows.map { $0[j] }.min() ?? 0 }
                let maxs = (0 ..< n).map { j in liveRows.map { $0[j] }.max() ?? 0 }
                #expect(m.mins == mins && m.maxs == maxs, "n=\(n) step \(step)")
                if !failed.contains(i) && step % 97 != 96 { #expect(changed == (before.0 != m.mins || before.1 != m.maxs)) }
                #expect(m.row(i) == rows[i])
            }
        }
    }

    @Test func firstRoundIsSkippedAndVolumeTriggersARound() throws {
        let s = try LayerHarness(members: 2, rank: 0, params: "stable_trigger_bytes=640:int") {
            s, p, x throws(ParameterError) in try Stable(s, p, x)
        }
        s.fromBelow(.initialize(.zero))
        s.fromBelow(.timer(.zero))
        #expect(!s.takeDown().map(\.name).contains("stableRequest"))
        for _ in 0 ..< 10 { s.fromAbove(.cast(Packet(payload: [1]), peer: 0, flags: [])) }
        #expect(s.takeDown().map(\.name).filter { $0 == "stableRequest" }.count == 1)
    }
}

@Suite struct BottomTests {
    @Test func tagsMessagesAndDropsTrafficFromFailedMembers() throws {
        let h = try LayerHarness(members: 3, rank: 0) { s, p, x in Bottom(s, p, x) }
        h.fromAbove(.send(Packet(payload: [9]), peer: 2, flags: []))
        h.fromAbove(.castUnreliable(Packet(payload: [8]), peer: 0))
        #expect(h.transmitted.map { $0.0.bytes } == [[1, 9], [2, 8]])
        #expect(h.transmitted.map(\.1) == [2, nil])
        h.fromBelow(.receive(Packet(payload: [0, 5]), peer: 1))
        h.fromBelow(.receive(Packet(payload: [3, 6]), peer: 2))
        #expect(h.takeUp().map(\.name) == ["cast", "sendUnreliable"])
        h.fromAbove(.fail(RankSet([1])))
        #expect(h.takeUp().map(\.name) == ["fail"], "bounced")
        h.fromBelow(.receive(Packet(payload: [0, 5]), peer: 1))
        h.fromBelow(.receive(Packet(payload: [9, 5]), peer: 2))  // bad tag
        h.fromBelow(.receive(Packet(payload: [0, 5]), peer: 0))  // from myself
        #expect(h.takeUp().isEmpty)
    }

    @Test func timersGoToTheAlarmClockAndExitDisables() throws {
        let h = try LayerHarness(members: 2, rank: 0) { s, p, x in Bottom(s, p, x) }
        h.fromAbove(.timer(.seconds(3)))
        #expect(h.alarms == [.seconds(3)])
        h.fromAbove(.exit)
        h.fromAbove(.exit)
        #expect(h.takeUp().map(\.name) == ["exit"])
        h.fromAbove(.cast(Packet(payload: [1]), peer: 0, flags: []))
        #expect(h.transmitted.isEmpty)
    }
}
