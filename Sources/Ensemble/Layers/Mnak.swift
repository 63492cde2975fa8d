import DequeModule

/// Mnak: reliable FIFO multicast by negative acknowledgement (Ensemble's `mnak.ml`, v2.00).
///
/// Casts are numbered per origin from 0 in every view. Every member keeps every cast it has
/// delivered (and its own) until Stable reports it stable, so anyone can retransmit. A
/// receiver that sees a gap NAKs the origin (or, if the origin failed, the coordinator, or
/// else the group); retransmissions are unreliable sends. On a failure the failed origin's
/// undelivered messages are discarded, so "the most any survivor delivered" is deliverable
/// to all. The sender's unstable bytes are bounded by `mnak_window`.
///
/// Beyond Ensemble: a NAK for an origin that is *suspected* (not yet failed) also goes to the
/// lowest member that is not suspected, so a member that missed the last casts of an origin
/// that vanished (left, or crashed before the failure is decided) can still get them from a
/// survivor that delivered them.
///
/// Beyond Ensemble, which repaired only on stability rounds (`stable_sweep`, 1 s): holes still
/// open a retransmission timeout after they were NAKed (the origin's RTO, see `RoundTrips`,
/// doubled per attempt, at most `stable_sweep`) are NAKed again; and a sender whose casts are
/// not yet stable announces its high-water mark (an unreliable cast) one to two timeouts after
/// its last cast, then at doubling intervals up to `stable_sweep`, so that receivers that lost
/// the tail of its stream learn of the holes and NAK them.
public final class Mnak: Layer {
    enum Header: LayerHeader {
        case data(UInt64)
        case retransmit(origin: Rank, seq: UInt64)
        case nak(origin: Rank, lo: UInt64, hi: UInt64)
        case highWater(UInt64)

        static var carriers: MessageKinds { .all }
        var encodedSizeBound: Int { 31 }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .data(s): w.write(UInt8(1)); w.writeVarint(s)
            case let .retransmit(o, s): w.write(UInt8(2)); w.writeVarint(UInt64(o)); w.writeVarint(s)
            case let .nak(o, lo, hi): w.write(UInt8(3)); w.writeVarint(UInt64(o)); w.writeVarint(lo); w.writeVarint(hi)
            case let .highWater(n): w.write(UInt8(4)); w.writeVarint(n)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .data(try r.readVarint())
            case 2: return .retransmit(origin: try r.readCount(limit: members - 1), seq: try r.readVarint())
            case 3: return .nak(origin: try r.readCount(limit: members - 1), lo: try r.readVarint(), hi: try r.readVarint())
            case 4: return .highWater(try r.readVarint())
            default: throw .invalidValue(field: "Mnak header", value: UInt64(tag))
            }
        }
    }

    /// The casts of one origin: `buffer[i]` holds seqno `lo + i`; below `lo` is stable and
    /// freed, below `read` is delivered, `hi` is one past the highest seqno known to exist.
    struct Window {
        var buffer: Deque<Packet?> = []
        var lo: UInt64 = 0
        var read: UInt64 = 0
        var hi: UInt64 = 0
        var naked: UInt64 = 0
        /// Bytes held (delivered but unstable, and early), counted as `cost`.
        var bytes = 0
        /// When the holes are NAKed again if still open (never: none NAKed), and how often
        /// they already were.
        var nakDeadline = Time.never
        var nakBackoff = 0

        func has(_ seq: UInt64) -> Bool {
            seq >= lo && seq < lo + UInt64(buffer.count) && buffer[Int(seq - lo)] != nil
        }
        mutating func store(_ seq: UInt64, _ p: Packet) {
            let i = Int(seq - lo)
            if i >= buffer.count { buffer.append(contentsOf: repeatElement(nil, count: i - buffer.count + 1)) }
            buffer[i] = p
            bytes += max(p.count, 64)
        }
        func packet(_ seq: UInt64) -> Packet? { has(seq) ? buffer[Int(seq - lo)] : nil }
    }

    private let port: LayerPort
    private let rank: Rank
    private let count: Int
    private let window: Int
    private let maxGap: UInt64
    private let maxBuffer: Int
    // Unchecked exclusivity: a layer is never re-entered (the stack queues every event), so
    // accesses to its state cannot overlap; the dynamic checks cost a tenth of the hot path.
    @exclusivity(unchecked) private var windows: [Window]
    private var failed = RankSet()
    private var suspected = RankSet()
    private var coordinator: Rank = 0
    private var myUnstableBytes = 0
    private var flowBlocked = false
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    private let members: [EndpointID]
    private let roundTrips: RoundTrips
    /// Ceiling of every repair timer (Ensemble repaired on stability rounds only).
    private let sweep: Time
    /// The earliest re-NAK deadline of any origin.
    private var nextNakDeadline = Time.never
    /// My high-water mark announcement: when, and how often already since my last cast.
    private var highWaterDeadline = Time.never
    private var highWaterBackoff = 0
    private var castSinceDeadline = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.services = services
        members = setup.view.members
        roundTrips = setup.shared.roundTrips
        sweep = try setup.params.time("stable_sweep", default: .seconds(1))
        rank = setup.rank
        count = setup.count
        window = try setup.params.int("mnak_window", default: 4 << 20)
        maxGap = UInt64(max(1024, try setup.params.int("mnak_max_gap", default: 1 << 17)))
        // Resource limit: what one origin may make me hold (its window, with room to spare).
        maxBuffer = max(window, try setup.params.int("mnak_max_buffer", default: 4 * window))
        guard window > 0 else { throw ParameterError("mnak_window must be positive") }
        windows = Array(repeating: Window(), count: setup.count)
    }

    @inline(__always) private func cost(_ p: Packet) -> Int { max(p.count, 64) }

    /// Counts per origin of delivered casts (for Stable).
    public var delivered: [UInt64] { windows.map(\.read) }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .cast(var p, let peer, let flags):
            let seq = windows[rank].read
            windows[rank].store(seq, p)
            windows[rank].read += 1
            windows[rank].hi = windows[rank].read
            myUnstableBytes += cost(p)
            p.push(Header.data(seq))
            port.down(.cast(p, peer: peer, flags: flags))
            // The announcement is for an idle sender: a busy one's next casts reveal holes.
            castSinceDeadline = true
            if highWaterDeadline == .never {
                highWaterBackoff = 0
                highWaterDeadline = services.now + fastestRTO(backoff: 0)
                port.down(.timer(highWaterDeadline))
            }
            if myUnstableBytes > window && !flowBlocked {
                flowBlocked = true
                port.up(.flowControl(blocked: true, peer: nil))
            }
        case let other:
            port.passDown(other, Header.self)
        }
    }

    public func up(_ event: consuming Event) {
        switch consume event {
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: count) else { return }
            switch h {
            case let .data(seq): receivedData(origin: o, seq: seq, p)
            default: break  // retransmissions and NAKs never travel as reliable casts
            }
        case .send(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .send, from: o, flags: flags, members: count) else { return }
            receivedPointToPoint(h, p, from: o)
        case .sendUnreliable(var p, let o):
            guard let h = port.receive(Header.self, &p, .sendUnreliable, from: o, members: count) else { return }
            receivedPointToPoint(h, p, from: o)
        case .castUnreliable(var p, let o):
            guard let h = port.receive(Header.self, &p, .castUnreliable, from: o, members: count) else { return }
            switch h {
            case let .nak(origin, lo, hi): retransmit(origin: origin, lo: lo, hi: hi, to: o)
            case let .highWater(n): announced(n, by: o)
            default: break
            }
        case .stableRequest(nil):
            port.up(.stableRequest(numCasts: windows.map { Int($0.read) }))
        case let .suspect(s, reason):
            suspected.formUnion(s)
            port.up(.suspect(s, reason: reason))
        case let .stable(stability, numCasts):
            applyStability(stability, numCasts)
            port.up(.stable(stability: stability, numCasts: numCasts))
        case let .fail(f):
            failed.formUnion(f)
            coordinator = failed.lowestAbsent(below: count)
            for o in f where o != rank && o < count {
                // Cut the failed origin at what I delivered: anything beyond may be missing
                // everywhere, and the flush agrees on the maximum delivered by any survivor.
                let keep = Int(min(UInt64(windows[o].buffer.count), windows[o].read - windows[o].lo))
                for case let p? in windows[o].buffer.suffix(windows[o].buffer.count - keep) { windows[o].bytes -= max(p.count, 64) }
                windows[o].buffer.removeLast(windows[o].buffer.count - keep)
                windows[o].hi = windows[o].read
            }
            port.up(.fail(f))
        case let .timer(now):
            if now >= nextNakDeadline { renakOverdue(now) }
            if now >= highWaterDeadline { announceHighWater(now) }
            port.up(.timer(now))
        case .exit:
            windows = windows.map { _ in Window() }
            nextNakDeadline = .never
            highWaterDeadline = .never
            port.up(.exit)
        case let other:
            port.up(other)
        }
    }

    /// NAKs and retransmissions, whichever way they came.
    private func receivedPointToPoint(_ h: Header, _ p: Packet, from o: Rank) {
        switch h {
        case let .retransmit(origin, seq):
            // Also for a failed origin: survivors relay what some of them delivered.
            if origin != rank { receivedData(origin: origin, seq: seq, p) }
        case let .nak(origin, lo, hi):
            retransmit(origin: origin, lo: lo, hi: hi, to: o)
        case .data, .highWater:
            break
        }
    }

    private func receivedData(origin o: Rank, seq: UInt64, _ p: Packet) {
        guard o != rank else { return }
        // In place: copying the window out of the array would copy its whole buffer.
        receivedData(origin: o, seq: seq, p, &windows[o])
    }

    private func receivedData(origin o: Rank, seq: UInt64, _ p: Packet, _ w: inout Window) {
        if w.bytes + max(p.count, 64) > maxBuffer && seq >= w.read {
            port.drops.overLimit &+= 1  // more than an honest sender's window: dropped
            return
        }
        if seq == w.read && w.read == w.hi {
            // Fast path: the next one, nothing missing.
            w.store(seq, p)
            w.read += 1
            w.hi = w.read
            port.up(.cast(p, peer: o, flags: []))
            return
        }
        guard seq >= w.read, seq - w.lo < maxGap else { return }  // duplicate, or implausibly far ahead
        if !w.has(seq) { w.store(seq, p) }
        w.hi = max(w.hi, seq + 1)
        while w.read < w.hi, let q = w.packet(w.read) {
            w.read += 1
            port.up(.cast(q, peer: o, flags: []))
        }
        checkNak(&w, origin: o, forced: false)
    }

    /// NAKs the holes in `[read, hi)`: only those above the highest seqno already NAKed, or
    /// every one of them when `forced` (each stability round). Ensemble NAKs only the first
    /// hole; after heavy loss that costs one stability round per hole.
    private func checkNak(_ w: inout Window, origin o: Rank, forced: Bool) {
        guard w.read < w.hi else { return }
        var seq = w.read
        var sent = 0
        while seq < w.hi && sent < Mnak.maxHolesPerNak {
            while seq < w.hi && w.has(seq) { seq += 1 }
            guard seq < w.hi else { break }
            let lo = seq
            while seq < w.hi && !w.has(seq) { seq += 1 }
            if forced || seq > w.naked {
                sendNak(origin: o, lo: forced ? lo : max(lo, w.naked), hi: seq)
                sent += 1
            }
        }
        w.naked = max(w.naked, seq)
        if sent > 0 {
            // Ask again after a timeout if the holes stay open.
            if forced { w.nakBackoff += 1 } else { w.nakBackoff = 0 }
            w.nakDeadline = services.now + roundTrips.rto(members[o], backoff: w.nakBackoff, ceiling: sweep)
            if w.nakDeadline < nextNakDeadline { nextNakDeadline = w.nakDeadline }
            port.down(.timer(w.nakDeadline))
        }
    }

    /// Origins whose holes stayed open past their timeout are NAKed again.
    private func renakOverdue(_ now: Time) {
        nextNakDeadline = .never
        for o in windows.indices where o != rank && windows[o].nakDeadline != .never {
            if windows[o].read >= windows[o].hi {
                windows[o].nakDeadline = .never  // repaired
                windows[o].nakBackoff = 0
                continue
            }
            if windows[o].nakDeadline <= now {
                windows[o].nakDeadline = .never
                checkNak(&windows[o], origin: o, forced: true)
            }
            if windows[o].nakDeadline != .never { nextNakDeadline = min(nextNakDeadline, windows[o].nakDeadline) }
        }
    }

    /// The shortest timeout toward any live peer: the nearest receiver that lost my tail hears
    /// of it first; the backoff covers the farther ones (an early announcement costs one small
    /// datagram, a late one a round trip of every receiver that lost the tail).
    private func fastestRTO(backoff: Int) -> Time {
        var t = sweep
        for j in members.indices where j != rank && !failed.contains(j) {
            t = min(t, roundTrips.rto(members[j], backoff: backoff, ceiling: sweep))
        }
        return t
    }

    /// My casts are not all stable yet: tell everyone how many there are, in case the last ones
    /// were lost everywhere (nobody would know to NAK them).
    private func announceHighWater(_ now: Time) {
        highWaterDeadline = .never
        let w = windows[rank]
        guard w.lo < w.read, count > 1 else { return }
        if castSinceDeadline {
            // Still casting: look again a timeout later (so at most two after the last cast).
            castSinceDeadline = false
            highWaterBackoff = 0
            highWaterDeadline = now + fastestRTO(backoff: 0)
            port.down(.timer(highWaterDeadline))
            return
        }
        var p = Packet(headroom: 48)
        p.push(Header.highWater(w.read))
        port.down(.castUnreliable(p, peer: rank))
        highWaterBackoff += 1
        let next = fastestRTO(backoff: highWaterBackoff)
        guard next < sweep else { return }  // from here on, stability rounds take over
        highWaterDeadline = now + next
        port.down(.timer(highWaterDeadline))
    }

    /// `o` says it has cast `n` messages: NAK what I have not seen.
    private func announced(_ n: UInt64, by o: Rank) {
        guard o != rank, o < count, !failed.contains(o) else { return }
        announced(n, origin: o, &windows[o])
    }

    private func announced(_ n: UInt64, origin o: Rank, _ w: inout Window) {
        guard n > w.hi, n - w.lo < maxGap else { return }
        w.hi = n
        checkNak(&w, origin: o, forced: false)
    }

    static let maxHolesPerNak = 64

    private func sendNak(origin o: Rank, lo: UInt64, hi: UInt64) {
        var nak = Packet(headroom: 64)
        nak.push(Header.nak(origin: o, lo: lo, hi: hi))
        if !failed.contains(o) {
            port.down(.send(nak, peer: o, flags: []))
            if suspected.contains(o) {
                let helper = suspected.union(failed).union(RankSet([rank])).lowestAbsent(below: count)
                if helper < count { port.down(.send(nak, peer: helper, flags: [])) }
            }
        } else if rank != coordinator {
            port.down(.send(nak, peer: coordinator, flags: []))
        } else {
            port.down(.castUnreliable(nak, peer: rank))
        }
    }

    /// Re-sends what I delivered (or sent) of `origin`'s casts in `[lo, hi)` to `peer`.
    private func retransmit(origin: Rank, lo: UInt64, hi: UInt64, to peer: Rank) {
        guard peer != rank else { return }
        let end = min(hi, windows[origin].read)
        var seq = max(lo, windows[origin].lo)
        while seq < end {
            if var p = windows[origin].packet(seq) {
                p.push(Header.retransmit(origin: origin, seq: seq))
                port.down(.sendUnreliable(p, peer: peer))
            }
            seq += 1
        }
    }

    private func applyStability(_ stability: [Int], _ numCasts: [Int]) {
        guard stability.count == count, numCasts.count == count else { return }
        for o in 0 ..< count {
            applyStability(o, stability[o], numCasts[o], &windows[o])
        }
        if flowBlocked && myUnstableBytes <= window / 2 {
            flowBlocked = false
            port.up(.flowControl(blocked: false, peer: nil))
        }
    }

    private func applyStability(_ o: Rank, _ stable: Int, _ known: Int, _ w: inout Window) {
            let newLo = min(UInt64(max(0, stable)), w.read)
            while w.lo < newLo, !w.buffer.isEmpty {
                let p = w.buffer.removeFirst()
                if let p { w.bytes -= cost(p) }
                if o == rank, let p { myUnstableBytes -= cost(p) }
                w.lo += 1
            }
            if w.lo < newLo { w.lo = newLo }
            if o != rank {
                w.hi = max(w.hi, UInt64(max(0, known)))
                checkNak(&w, origin: o, forced: true)
            }
    }
}
