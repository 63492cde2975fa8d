import DequeModule

/// Pt2pt: reliable FIFO point-to-point messages (Ensemble's `pt2pt.ml`).
///
/// Each sender numbers its sends per destination from 0 in every view and keeps them until
/// acknowledged. The receiver delivers in order, buffers what arrives early and NAKs the gap.
/// The window (`pt2pt_window` bytes per destination) bounds memory: when it is full, the
/// application is told (`.flowControl`).
///
/// Beyond Ensemble, which acknowledged and retransmitted only every `pt2pt_sweep` (1 s):
/// - the receiver acknowledges at the end of the loop turn that brought data (and, as before,
///   after `pt2pt_ack_rate` messages or `pt2pt_ack_bytes` bytes), so acks come back in about
///   a round trip;
/// - the sender measures round trips from its sends and the acks that first cover them (never
///   from a retransmission) into the endpoint's per-peer estimates (`RoundTrips`), and when the
///   oldest unacknowledged send has waited a retransmission timeout (RTO = SRTT + 4·RTTVAR,
///   at least `rto_min`, doubled per unanswered retransmission, at most `pt2pt_sweep`) it
///   re-sends it and the newest one (a tail probe: whatever came in between, the receiver's ack
///   or NAK then says). So loss costs a round trip or two, not a sweep.
public final class Pt2pt: Layer {
    /// On sends; casts carry only the pass-through tag.
    enum Header: LayerHeader {
        case data(UInt64)
        case ack(UInt64)
        case nak(UInt64, UInt64)

        static var carriers: MessageKinds { [.cast, .send] }
        var encodedSizeBound: Int { 21 }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .data(s): w.write(UInt8(1)); w.writeVarint(s)
            case let .ack(s): w.write(UInt8(2)); w.writeVarint(s)
            case let .nak(lo, hi): w.write(UInt8(3)); w.writeVarint(lo); w.writeVarint(hi)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .data(try r.readVarint())
            case 2: return .ack(try r.readVarint())
            case 3: return .nak(try r.readVarint(), try r.readVarint())
            default: throw .invalidValue(field: "Pt2pt header", value: UInt64(tag))
            }
        }
    }

    /// What I send to one peer.
    struct Outbound {
        var buffer: Deque<Packet> = []  // unacknowledged sends, seqnos lo..<lo+count
        var sentAt: Deque<Time> = []    // when each was first sent
        var lo: UInt64 = 0
        var bytes = 0
        var blocked = false
        /// Sends below were retransmitted: their acks measure nothing (Karn).
        var retransmittedBelow: UInt64 = 0
        /// When the oldest unacknowledged send is retransmitted (never: nothing outstanding).
        var deadline = Time.never
        var backoff = 0
        var hi: UInt64 { lo + UInt64(buffer.count) }
    }

    /// What I receive from one peer.
    struct Inbound {
        var next: UInt64 = 0           // next seqno to deliver
        var early: [UInt64: Packet] = [:]
        var acked: UInt64 = 0          // highest ack I sent
        var naked: UInt64 = 0          // highest seqno NAKed
        var bytesSinceAck = 0
        var ackDue = false             // data came in this loop turn
    }

    private let port: LayerPort
    private let rank: Rank
    private let sweep: Time
    private let window: Int
    private let ackRate: UInt64
    private let ackBytes: Int
    private let maxEarly: Int
    // Unchecked exclusivity: never re-entered (see Mnak).
    @exclusivity(unchecked) private var out: [Outbound]
    @exclusivity(unchecked) private var inb: [Inbound]
    private var failed = RankSet()
    private var nextSweep = Time.zero
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    private let members: [EndpointID]
    private let roundTrips: RoundTrips
    /// The earliest retransmission deadline of any peer.
    private var nextDeadline = Time.never
    /// Peers owed an ack at the end of this loop turn.
    private var acksDue: [Rank] = []

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.services = services
        members = setup.view.members
        roundTrips = setup.shared.roundTrips
        roundTrips.keep(only: setup.view.members)
        roundTrips.minimum = try setup.params.time("rto_min", default: RoundTrips.defaultMinimum)
        roundTrips.initial = try setup.params.time("rto_initial", default: RoundTrips.defaultInitial)
        rank = setup.rank
        sweep = try setup.params.time("pt2pt_sweep", default: .seconds(1))
        window = try setup.params.int("pt2pt_window", default: 4 << 20)
        ackRate = UInt64(max(1, try setup.params.int("pt2pt_ack_rate", default: 64)))
        maxEarly = max(16, try setup.params.int("pt2pt_max_early", default: 65536))
        ackBytes = max(1, try setup.params.int("pt2pt_ack_bytes", default: window / 4))
        guard sweep > .zero, window > 0 else { throw ParameterError("pt2pt_sweep and pt2pt_window must be positive") }
        out = Array(repeating: Outbound(), count: setup.count)
        inb = Array(repeating: Inbound(), count: setup.count)
    }

    /// Accounting size of a buffered message: empty messages still cost memory.
    @inline(__always) private func cost(_ p: Packet) -> Int { max(p.count, 64) }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .send(var p, let peer, let flags) where peer != rank && peer >= 0 && peer < out.count:
            let seq = out[peer].hi
            let now = services.now
            out[peer].buffer.append(p)
            out[peer].sentAt.append(now)
            out[peer].bytes += cost(p)
            if out[peer].deadline == .never { arm(peer, now + rto(peer)) }
            p.push(Header.data(seq))
            port.down(.send(p, peer: peer, flags: flags))
            if out[peer].bytes > window && !out[peer].blocked {
                out[peer].blocked = true
                port.up(.flowControl(blocked: true, peer: peer))
            }
        case .send:
            break  // to myself or out of range: Top_appl already refuses these
        case let other:
            port.passDown(other, Header.self)
        }
    }

    public func up(_ event: consuming Event) {
        switch consume event {
        case .send(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .send, from: o, flags: flags, members: members.count) else { return }
            switch h {
            case let .data(seq): received(seq, p, from: o, flags: flags)
            case let .ack(a): acknowledged(a, by: o)
            case let .nak(lo, hi):
                acknowledged(lo, by: o)
                resend(to: o, from: lo, below: hi)
            }
        case .cast(var p, let o, let flags):
            // Passed on up; a header of mine on a cast is meaningless and dropped.
            _ = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: members.count)
        case let .timer(now):
            if !acksDue.isEmpty {
                for peer in acksDue where inb[peer].ackDue {
                    inb[peer].ackDue = false
                    if inb[peer].next > inb[peer].acked && !failed.contains(peer) { sendAck(to: peer) }
                }
                acksDue.removeAll(keepingCapacity: true)
            }
            if now >= nextDeadline { retransmitOverdue(now) }
            if now >= nextSweep {
                // The sweep is only a safety net now: any ack still owed goes out.
                nextSweep = now + sweep
                port.down(.timer(nextSweep))
                for peer in inb.indices where peer != rank && !failed.contains(peer) && inb[peer].next > inb[peer].acked {
                    sendAck(to: peer)
                }
            }
            port.up(.timer(now))
        case let .fail(f):
            failed.formUnion(f)
            port.up(.fail(f))
        case .exit:
            out = out.map { _ in Outbound() }
            inb = inb.map { _ in Inbound() }
            nextDeadline = .never
            port.up(.exit)
        case let other:
            port.up(other)
        }
    }

    private func received(_ seq: UInt64, _ p: Packet, from o: Rank, flags: MessageFlags) {
        // In place: a copy of the peer's state would copy its buffer of early messages.
        received(seq, p, from: o, flags: flags, &inb[o])
    }

    private func received(_ seq: UInt64, _ p: Packet, from o: Rank, flags: MessageFlags, _ s: inout Inbound) {
        if !s.ackDue {
            // Acknowledge at the end of this loop turn (an alarm due now runs after it).
            s.ackDue = true
            if acksDue.isEmpty { port.down(.timer(services.now)) }
            acksDue.append(o)
        }
        if seq == s.next {
            s.next += 1
            s.bytesSinceAck += p.count
            port.up(.send(p, peer: o, flags: flags))
            while let q = s.early.removeValue(forKey: s.next) {
                s.next += 1
                s.bytesSinceAck += q.count
                port.up(.send(q, peer: o, flags: flags))
            }
        } else if seq > s.next {
            guard seq - s.next <= UInt64(maxEarly) else { return }  // implausibly far ahead
            if s.early[seq] == nil { s.early[seq] = p }
            if seq > s.naked {
                // Ask for the hole [next, seq) once per new high point.
                s.naked = seq
                var nak = Packet(headroom: 48)
                nak.push(Header.nak(s.next, seq))
                port.down(.send(nak, peer: o, flags: []))
            }
        } else if seq < s.acked {
            s.acked = seq  // a duplicate below my ack: my ack was lost, send it again
        }
        if s.next >= s.acked + ackRate || (s.bytesSinceAck >= ackBytes && s.next > s.acked) {
            s.acked = s.next
            s.bytesSinceAck = 0
            var ack = Packet(headroom: 32)
            ack.push(Header.ack(s.next))
            port.down(.send(ack, peer: o, flags: []))
        }
    }

    private func sendAck(to peer: Rank) {
        inb[peer].acked = inb[peer].next
        inb[peer].bytesSinceAck = 0
        var ack = Packet(headroom: 32)
        ack.push(Header.ack(inb[peer].next))
        port.down(.send(ack, peer: peer, flags: []))
    }

    private func acknowledged(_ a: UInt64, by o: Rank) {
        guard a > out[o].lo, a <= out[o].hi else { return }
        let now = services.now
        if a - 1 >= out[o].retransmittedBelow {
            roundTrips.sample(members[o], now - out[o].sentAt[Int(a - 1 - out[o].lo)])
        }
        while out[o].lo < a, let p = out[o].buffer.popFirst() {
            out[o].sentAt.removeFirst()
            out[o].bytes -= cost(p)
            out[o].lo += 1
        }
        // Progress: the timer restarts, the backoff ends.
        out[o].backoff = 0
        out[o].deadline = .never
        if !out[o].buffer.isEmpty { arm(o, now + rto(o)) }
        if out[o].blocked && out[o].bytes <= window / 2 {
            out[o].blocked = false
            port.up(.flowControl(blocked: false, peer: o))
        }
    }

    private func rto(_ peer: Rank) -> Time {
        roundTrips.rto(members[peer], backoff: out[peer].backoff, ceiling: sweep)
    }

    private func arm(_ peer: Rank, _ t: Time) {
        out[peer].deadline = t
        if t < nextDeadline { nextDeadline = t }
        port.down(.timer(t))
    }

    /// The oldest unacknowledged send of every peer whose timer ran out goes again, with the
    /// newest (a tail probe); the timer backs off.
    private func retransmitOverdue(_ now: Time) {
        nextDeadline = .never
        for peer in out.indices where out[peer].deadline != .never {
            if failed.contains(peer) {
                out[peer].deadline = .never
                continue
            }
            if out[peer].deadline <= now {
                let (lo, hi) = (out[peer].lo, out[peer].hi)
                resend(to: peer, from: lo, below: lo + 1)
                if hi - 1 > lo { resend(to: peer, from: hi - 1, below: hi) }
                out[peer].retransmittedBelow = hi
                out[peer].backoff += 1
                out[peer].deadline = now + rto(peer)
                port.down(.timer(out[peer].deadline))
            }
            nextDeadline = min(nextDeadline, out[peer].deadline)
        }
    }

    private func resend(to peer: Rank, from lo: UInt64, below hi: UInt64) {
        let start = max(lo, out[peer].lo)
        let end = min(hi, out[peer].hi)
        guard start < end else { return }
        out[peer].retransmittedBelow = max(out[peer].retransmittedBelow, end)
        for seq in start ..< end {
            var p = out[peer].buffer[Int(seq - out[peer].lo)]  // a copy of one packet, not of the buffer
            p.push(Header.data(seq))
            port.down(.send(p, peer: peer, flags: []))
        }
    }
}
