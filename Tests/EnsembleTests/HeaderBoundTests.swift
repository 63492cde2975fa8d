import Testing
@testable import Ensemble

/// Every layer header, built at its largest for views of up to `max_members` (256) members,
/// encodes within its `encodedSizeBound`: `Packet.push` writes a header straight into the
/// headroom it reserves from that bound (issue 14: Sync's BlockOk vector of a member of rank
/// 192 or more was written past its bound, and trapped).
@Suite struct HeaderBoundTests {
    /// `max_members`' default, and sizes around every word boundary of a rank set.
    static let sizes = [1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 254, 255, 256]

    /// The largest counter a header may carry (varints of 9 bytes; `encodeCounts` clamps
    /// negatives to 0).
    static let big = Int.max

    /// Rank sets of a view of `n`: empty, full, only the last rank (the most words for one
    /// member), the first and the last, every other rank.
    static func rankSets(_ n: Int) -> [RankSet] {
        [RankSet(), .all(n), RankSet([n - 1]), RankSet([0, n - 1]), RankSet(stride(from: 0, to: n, by: 2))]
    }

    /// Encodes `h` into a growable writer and checks the size against the bound; if within
    /// it, pushes `h` onto a packet (the path that traps on a wrong bound) and checks the
    /// bytes are the same.
    func check<H: HeaderEncodable>(_ h: H, _ what: @autoclosure () -> String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        var w = WireWriter()
        h.encode(into: &w)
        let bound = h.encodedSizeBound
        #expect(w.count <= bound, "\(what()): encodes to \(w.count) bytes, bound \(bound)", sourceLocation: sourceLocation)
        guard w.count <= bound else { return }
        var p = Packet(headroom: 0)
        p.push(h)
        #expect(p.bytes == w.bytes, "\(what()): pushed bytes differ", sourceLocation: sourceLocation)
    }

    @Test func rankSetsEncodeWithinTheirBound() {
        for n in Self.sizes {
            for s in Self.rankSets(n) {
                var w = WireWriter()
                s.encode(into: &w)
                #expect(w.count <= s.encodedSizeBound, "\(n) members, \(s.count) ranks: \(w.count) > \(s.encodedSizeBound)")
            }
        }
    }

    @Test func syncLeaveAndIntraRankSetHeaders() {
        for n in Self.sizes {
            check(Sync.Header.block, "Sync block")
            check(Leave.Header.leave, "Leave leave")
            check(Leave.Header.leaveAck, "Leave ack")
            for (i, s) in Self.rankSets(n).enumerated() {
                check(Sync.Header.blockOk(s), "Sync blockOk, \(n) members, set \(i)")
                check(Leave.Header.gotView(s), "Leave gotView, \(n) members, set \(i)")
                check(Intra.Header.fail(s), "Intra fail, \(n) members, set \(i)")
            }
        }
    }

    /// A sender of rank `r` reports BlockOk: its own rank alone, as a freshly blocked member
    /// does (the crash of issue 14 at 255 and 256 members).
    @Test func syncBlockOkOfEveryRank() {
        for r in 0 ..< 256 {
            check(Sync.Header.blockOk(RankSet([r])), "Sync blockOk of rank \(r)")
        }
    }

    @Test func vsyncReportsAndDecisionsAtTheirLargest() {
        for n in Self.sizes {
            let row = Array(repeating: Self.big, count: n)
            // Every member sent to every member: n² entries, of the largest ranks and counts.
            let all = (0 ..< n).flatMap { from in (0 ..< n).map { Vsync.SentCount(from: from, to: $0, count: Self.big) } }
            for (i, f) in Self.rankSets(n).enumerated() {
                check(Vsync.Header.report(failed: f, Vsync.Report(rank: n - 1, casts: row, sends: row)), "Vsync report, \(n) members, set \(i)")
                check(Vsync.Header.decision(failed: f, casts: row, sends: all), "Vsync full decision, \(n) members, set \(i)")
                check(Vsync.Header.decision(failed: f, casts: row, sends: []), "Vsync decision without sends, \(n) members, set \(i)")
            }
            // Vsync's bound is exact, and a view of n decodes its largest decision back.
            let h = Vsync.Header.decision(failed: .all(n), casts: row, sends: all)
            var w = WireWriter()
            h.encode(into: &w)
            #expect(w.count == h.encodedSizeBound, "\(n) members: \(w.count) bytes, bound \(h.encodedSizeBound)")
            var p = Packet(payload: [])
            p.push(h)
            var back = WireWriter()
            let decoded: Vsync.Header? = (try? p.pop { (r: inout WireReader) throws(WireError) in try Vsync.Header.decode(from: &r, members: n) }) ?? nil
            if case let .decision(f, c, s)? = decoded {
                Vsync.Header.decision(failed: f, casts: c, sends: s).encode(into: &back)
            }
            #expect(back.bytes == w.bytes, "\(n) members: the decision decodes to itself")
        }
    }

    @Test func suspectAndStableGossipAtTheirLargest() {
        for n in Self.sizes {
            let row = Array(repeating: Self.big, count: n)
            for (i, f) in Self.rankSets(n).enumerated() {
                check(Suspect.Header.ping(failed: f, counter: Int.max, echo: Int.max, current: true, answer: false), "Suspect ping, \(n) members, set \(i)")
                check(Suspect.Header.ping(failed: f, counter: 0, echo: 0, current: false, answer: true), "Suspect answer, set \(i)")
                check(Stable.Header.gossip(row: row, failed: f), "Stable gossip, \(n) members, set \(i)")
            }
        }
    }

    @Test func sequenceNumberHeadersAtTheirLargest() {
        let s = UInt64.max
        for h in [Mnak.Header.data(s), .retransmit(origin: Self.big, seq: s), .nak(origin: Self.big, lo: s, hi: s), .highWater(s)] {
            check(h, "Mnak \(h)")
        }
        for h in [Pt2pt.Header.data(s), .ack(s), .nak(s, s)] { check(h, "Pt2pt \(h)") }
        check(Frag.Header.whole, "Frag whole")
        check(Frag.Header.fragment(id: s, index: Self.big - 1, total: Self.big), "Frag fragment")
        check(Seqbb.Header.data, "Seqbb data")
        let runs = (0 ..< 1000).map { Seqbb.Run(origin: $0 % 256 == 0 ? Self.big : $0 % 256, count: Self.big) }
        check(Seqbb.Header.order(runs), "Seqbb order")
        check(Seqbb.Header.order([]), "Seqbb empty order")
    }

    @Test func oneByteHeaders() {
        check(PassThroughHeader(), "pass-through")
        check(Heal.Header.present, "Heal present")
        check(TopAppl.Header.application, "Top_appl application")
        for h in [Bottom.Header.cast, .send, .castUnreliable, .sendUnreliable] { check(h, "Bottom \(h)") }
    }

    /// A protocol string as long as a decoder takes, of multi-byte characters.
    static let longProtocol = String(repeating: "é", count: WireLimits.maxProtocolLength / 2)

    @Test func switchProtocolAtItsLargest() {
        check(Switch.Header.proto(Self.longProtocol), "Switch proto")
        check(Switch.Header.proto(""), "Switch empty proto")
    }

    /// A view of `n` members with every field at its largest: the longest names a decoder
    /// takes, every member a client, the most previous ids, parameters of every type with
    /// extreme values (Intra casts views; Merge gossips them).
    static func largestView(_ n: Int) -> ViewState {
        let members = (0 ..< n).map { EndpointID(host: .max, port: .max, counter: UInt16($0), incarnation: .max) }
        var params = Parameters()
        let key = String(repeating: "ß", count: 128)
        for i in 0 ..< 256 {
            let value: ParameterValue = switch i % 5 {
            case 0: .int(i % 2 == 0 ? .min : .max)
            case 1: .float(-.greatestFiniteMagnitude)
            case 2: .bool(true)
            case 3: .string(String(repeating: "€", count: 4096 / 3))
            default: .time(Time(nanoseconds: i % 2 == 0 ? .min : .max))
            }
            params["\(i)" + key.dropFirst(1)] = value
        }
        return ViewState(group: GroupID(String(repeating: "ü", count: 128)), protocolStack: longProtocol, ltime: .max,
                         members: members, addresses: Array(repeating: Address(ip: .max, port: .max), count: n),
                         clients: Array(repeating: true, count: n),
                         previousIDs: (0 ..< 64).map { ViewID(ltime: .max, coordinator: members[$0 % n]) },
                         params: params, primary: true, uptime: Time(nanoseconds: .min),
                         expected: Int(WireLimits.maxMembers),
                         lastPrimary: PrimaryRecord(id: ViewID(ltime: .max, coordinator: members[0]), members: members,
                                                    earlier: Array(repeating: members, count: PrimaryRecord.maxEarlier), overflow: true))
    }

    @Test func intraViewsAtTheirLargest() {
        for n in Self.sizes {
            check(Intra.Header.view(Self.largestView(n)), "Intra view, \(n) members")
        }
        check(Intra.Header.view(.singleton(group: GroupID("g"), protocolStack: "Top", endpoint: .none,
                                           address: Address(ip: 0, port: 0))), "Intra singleton view")
        // A parameter whose value prints shorter than it encodes.
        var p = Parameters()
        for i in 0 ..< 40 { p["\(i)"] = .time(Time(nanoseconds: i % 2 == 0 ? .min : .max)) }
        var v = Self.largestView(1)
        v.params = p
        check(Intra.Header.view(v), "Intra view of short time parameters")
    }
}
