import Ensemble

/// The lineage of a CSX server's replicated state: a 64-bit name that two servers share only if
/// they hold the same state (see `CSX.stateDigest` for the rule and what it relies on).
///
/// A lineage starts with a random value when a server starts holding a state of its own (alone,
/// or admitted without a transfer); a joiner adopts its provider's with the state; and at the
/// end of every view in which messages were delivered to the application, the view's id and a
/// summary of those deliveries are folded into it. The summary is kept per view in a
/// `DeliveryTally`: per origin, how many of its multicasts were delivered and a running mix of
/// their positions in its FIFO stream (one dictionary update per message, no hashing of
/// payloads); per (origin, receiver), how many sends were delivered.
struct DeliveryTally: Equatable {
    /// One origin's multicasts (casts, scasts and lsends) in this view.
    struct Stream: Equatable {
        /// Multicasts from this origin that reached this member (delivered or not): the
        /// position of the next one in the origin's FIFO stream, the same at every member.
        var seen: UInt32 = 0
        /// How many were delivered to the application, and a running mix of their positions.
        var delivered: UInt32 = 0
        var mix: UInt64 = 0
    }

    struct SendKey: Hashable {
        var origin: EndpID
        var receiver: EndpID
    }

    var casts: [EndpID: Stream] = [:]
    /// Sends delivered, per origin and receiver: mine, plus those a provider had received
    /// before it sent me its state (adopted with it).
    var sends: [SendKey: UInt32] = [:]

    /// Whether anything was delivered (else the view leaves the lineage unchanged).
    var deliveredAny: Bool { !sends.isEmpty || casts.values.contains { $0.delivered > 0 } }

    @inline(__always) mutating func multicast(from origin: EndpID, delivered: Bool) {
        casts[origin, default: Stream()].note(delivered: delivered)
    }

    @inline(__always) mutating func send(from origin: EndpID, to receiver: EndpID) {
        sends[SendKey(origin: origin, receiver: receiver), default: 0] &+= 1
    }

    /// Forgets what was delivered (keeps the stream positions).
    mutating func clearDeliveries() {
        casts = casts.mapValues { Stream(seen: $0.seen) }
        sends.removeAll()
    }

    /// Takes `stamp`'s deliveries as mine (a state that reflects them was just installed),
    /// keeping my own stream positions: what I deliver next is mixed at its true position, so
    /// a joiner that delivered more or fewer of an origin's messages before the state than the
    /// provider had when it sent it ends with a different tally.
    mutating func adopt(_ stamp: DigestStamp) {
        clearDeliveries()
        for c in stamp.casts {
            casts[c.origin, default: Stream()].delivered = c.delivered
            casts[c.origin]?.mix = c.mix
        }
        for s in stamp.sends { sends[SendKey(origin: s.origin, receiver: s.receiver), default: 0] &+= s.count }
    }

    /// The lineage after a view with these deliveries.
    func fold(into lineage: UInt64, view: ViewID) -> UInt64 {
        var h = Digest64()
        h.add(lineage)
        h.add(view)
        let cs = casts.filter { $0.value.delivered > 0 }.sorted { $0.key < $1.key }
        h.add(UInt64(cs.count))
        for (origin, s) in cs {
            h.add(origin)
            h.add(UInt64(s.delivered))
            h.add(s.mix)
        }
        let ss = sends.sorted { ($0.key.origin, $0.key.receiver) < ($1.key.origin, $1.key.receiver) }
        h.add(UInt64(ss.count))
        for (k, n) in ss {
            h.add(k.origin)
            h.add(k.receiver)
            h.add(UInt64(n))
        }
        return h.value
    }
}

extension DeliveryTally.Stream {
    @inline(__always) mutating func note(delivered d: Bool) {
        seen &+= 1
        guard d else { return }
        delivered &+= 1
        // Order-sensitive: the same positions in another order, or other positions, give
        // another value.
        var z = (mix &+ UInt64(seen)) &* 0x9E37_79B9_7F4A_7C15
        z ^= z >> 29
        mix = z
    }
}

/// FNV-1a over 64-bit words, with a final avalanche (splitmix64's).
struct Digest64 {
    private var h: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ v: UInt64) {
        var x = v
        for _ in 0 ..< 8 {
            h = (h ^ (x & 0xFF)) &* 0x0000_0100_0000_01B3
            x >>= 8
        }
    }

    mutating func add(_ e: EndpID) {
        add(UInt64(e.host) << 32 | UInt64(e.port) << 16 | UInt64(e.counter))
        add(e.incarnation)
    }

    mutating func add(_ v: ViewID) {
        add(v.ltime)
        add(v.coordinator)
    }

    var value: UInt64 {
        var z = h
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a provider sends with its state (inside CSX's framing): its lineage at the start of
/// the view and what it had delivered in the view when it handed the state over. The joiner
/// adopts both, so that it folds the same thing as the provider at the end of the view if it
/// then delivers what the provider delivers.
struct DigestStamp: Equatable, MessageCodable {
    struct Cast: Equatable { var origin: EndpID; var delivered: UInt32; var mix: UInt64 }
    struct Send: Equatable { var origin: EndpID; var receiver: EndpID; var count: UInt32 }

    var view: ViewID
    var lineage: UInt64?
    var casts: [Cast] = []
    var sends: [Send] = []

    init(view: ViewID, lineage: UInt64?, tally: DeliveryTally) {
        self.view = view
        self.lineage = lineage
        guard lineage != nil else { return }
        casts = tally.casts.compactMap { o, s in s.delivered > 0 ? Cast(origin: o, delivered: s.delivered, mix: s.mix) : nil }
        sends = tally.sends.map { Send(origin: $0.key.origin, receiver: $0.key.receiver, count: $0.value) }
    }

    init(view: ViewID, lineage: UInt64?, casts: [Cast], sends: [Send]) {
        (self.view, self.lineage, self.casts, self.sends) = (view, lineage, casts, sends)
    }

    func push(onto m: inout Message) {
        for s in sends { m << s.origin; m << s.receiver; m << s.count }
        m << UInt32(sends.count)
        for c in casts { m << c.origin; m << c.delivered; m << c.mix }
        m << UInt32(casts.count)
        m.push(optional: lineage)
        m << view
    }

    /// Atomic: on error the message is unchanged.
    static func pop(from m: inout Message) throws(WireError) -> DigestStamp {
        var c = m
        let view = try c.pop(ViewID.self)
        let lineage = try c.popOptional(UInt64.self)
        let nc = Int(try c.pop(UInt32.self))
        // Each entry takes 28 bytes (32 for a send): a count the bytes cannot hold is garbage.
        guard nc <= c.count / 28 else { throw .lengthTooLarge(nc, limit: c.count / 28) }
        var casts: [Cast] = []
        casts.reserveCapacity(nc)
        for _ in 0 ..< nc {
            let mix = try c.pop(UInt64.self), delivered = try c.pop(UInt32.self), origin = try c.pop(EndpID.self)
            casts.append(Cast(origin: origin, delivered: delivered, mix: mix))
        }
        casts.reverse()
        let ns = Int(try c.pop(UInt32.self))
        guard ns <= c.count / 36 else { throw .lengthTooLarge(ns, limit: c.count / 36) }
        var sends: [Send] = []
        sends.reserveCapacity(ns)
        for _ in 0 ..< ns {
            let count = try c.pop(UInt32.self), receiver = try c.pop(EndpID.self), origin = try c.pop(EndpID.self)
            sends.append(Send(origin: origin, receiver: receiver, count: count))
        }
        sends.reverse()
        m = c
        return DigestStamp(view: view, lineage: lineage, casts: casts, sends: sends)
    }
}
