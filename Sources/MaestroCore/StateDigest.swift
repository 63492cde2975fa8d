import Ensemble

/// The lineage of a CSX server's replicated state: a 64-bit name that two servers share only if
/// they hold the same state (see `CSX` for the rule and what it relies on).
///
/// A lineage starts with a random value when a server starts holding a state of its own (alone,
/// or admitted without a transfer); a joiner adopts its provider's with the state; and at the
/// start of every view after one in which messages were delivered to the application, the
/// ended view's id and a summary of those deliveries are folded into it. The summary is kept
/// per view in a `DeliveryTally`, by the origin's rank in the view (one array update per
/// message: no hashing, no payload read): per origin, how many of its multicasts were
/// delivered and a running mix of their positions in its FIFO stream; per origin, how many
/// sends it delivered to me (plus the sends a provider had received, adopted with its state).
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

    /// The view's members, in rank order (they name the origins in the fold and the stamp).
    private(set) var members: [EndpID]
    /// Me (the receiver of `sendsToMe`).
    let me: EndpID?
    /// By origin rank.
    private(set) var streams: [Stream]
    /// Sends delivered to me, by origin rank.
    private(set) var sendsToMe: [UInt32]
    /// Sends a provider had delivered (to itself, or adopted in turn) when it sent me its state.
    private(set) var adoptedSends: [SendKey: UInt32] = [:]
    /// A delivery could not be placed (an origin that is not the member of its rank): the
    /// tally no longer vouches for anything (the lineage ends at the fold).
    private(set) var poisoned = false

    init(members: [EndpID] = [], me: EndpID? = nil) {
        self.members = members
        self.me = me
        streams = Array(repeating: Stream(), count: members.count)
        sendsToMe = Array(repeating: 0, count: members.count)
    }

    /// Whether anything was delivered (else the view leaves the lineage unchanged).
    var deliveredAny: Bool {
        poisoned || !adoptedSends.isEmpty || sendsToMe.contains { $0 > 0 } || streams.contains { $0.delivered > 0 }
    }

    @inline(__always) mutating func multicast(rank: Int, origin: EndpID, delivered: Bool) {
        guard rank >= 0 && rank < streams.count && members[rank] == origin else {
            poisoned = true
            return
        }
        streams[rank].note(delivered: delivered)
    }

    @inline(__always) mutating func send(rank: Int, origin: EndpID) {
        guard rank >= 0 && rank < sendsToMe.count && members[rank] == origin && me != nil else {
            poisoned = true
            return
        }
        sendsToMe[rank] &+= 1
    }

    /// Forgets what was delivered (keeps the stream positions).
    mutating func clearDeliveries() {
        for i in streams.indices { streams[i] = Stream(seen: streams[i].seen) }
        for i in sendsToMe.indices { sendsToMe[i] = 0 }
        adoptedSends.removeAll()
        poisoned = false
    }

    /// Takes `stamp`'s deliveries as mine (a state that reflects them was just installed),
    /// keeping my own stream positions: what I deliver next is mixed at its true position, so
    /// a joiner that delivered more or fewer of an origin's messages before the state than the
    /// provider had when it sent it ends with a different tally.
    mutating func adopt(_ stamp: DigestStamp) {
        clearDeliveries()
        for c in stamp.casts {
            guard let r = members.firstIndex(of: c.origin) else {
                poisoned = true
                continue
            }
            streams[r].delivered = c.delivered
            streams[r].mix = c.mix
        }
        for s in stamp.sends { adoptedSends[SendKey(origin: s.origin, receiver: s.receiver), default: 0] &+= s.count }
    }

    /// Every send delivered, by origin and receiver.
    var allSends: [SendKey: UInt32] {
        var all = adoptedSends
        if let me {
            for (r, n) in sendsToMe.enumerated() where n > 0 { all[SendKey(origin: members[r], receiver: me), default: 0] &+= n }
        }
        return all
    }

    /// Every origin's delivered multicasts (count and mix), by origin.
    var castEntries: [(origin: EndpID, delivered: UInt32, mix: UInt64)] {
        streams.enumerated().compactMap { r, s in s.delivered > 0 ? (members[r], s.delivered, s.mix) : nil }
    }

    /// The lineage after a view with these deliveries (nil if poisoned).
    func fold(into lineage: UInt64, view: ViewID) -> UInt64? {
        if poisoned { return nil }
        var h = Digest64()
        h.add(lineage)
        h.add(view)
        let cs = castEntries.sorted { $0.origin < $1.origin }
        h.add(UInt64(cs.count))
        for c in cs {
            h.add(c.origin)
            h.add(UInt64(c.delivered))
            h.add(c.mix)
        }
        let ss = allSends.sorted { ($0.key.origin, $0.key.receiver) < ($1.key.origin, $1.key.receiver) }
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
        self.lineage = tally.poisoned ? nil : lineage
        guard self.lineage != nil else { return }
        casts = tally.castEntries.map { Cast(origin: $0.origin, delivered: $0.delivered, mix: $0.mix) }
        sends = tally.allSends.map { Send(origin: $0.key.origin, receiver: $0.key.receiver, count: $0.value) }
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

    /// A count, then that many entries of at least `bytesEach` bytes, pushed in order (so
    /// popped last first).
    private static func popEntries<T>(_ c: inout Message, bytesEach: Int,
                                      _ entry: (inout Message) throws(WireError) -> T) throws(WireError) -> [T] {
        let n = Int(try c.pop(UInt32.self))
        guard n <= c.count / bytesEach else { throw .lengthTooLarge(n, limit: c.count / bytesEach) }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0 ..< n { out.append(try entry(&c)) }
        out.reverse()
        return out
    }

    /// Atomic: on error the message is unchanged.
    static func pop(from m: inout Message) throws(WireError) -> DigestStamp {
        var c = m
        let view = try c.pop(ViewID.self)
        let lineage = try c.popOptional(UInt64.self)
        // Each cast entry takes 28 bytes, each send 36: a count the bytes cannot hold is garbage.
        let casts = try popEntries(&c, bytesEach: 28) { (c: inout Message) throws(WireError) in
            let mix = try c.pop(UInt64.self), delivered = try c.pop(UInt32.self), origin = try c.pop(EndpID.self)
            return Cast(origin: origin, delivered: delivered, mix: mix)
        }
        let sends = try popEntries(&c, bytesEach: 36) { (c: inout Message) throws(WireError) in
            let count = try c.pop(UInt32.self), receiver = try c.pop(EndpID.self), origin = try c.pop(EndpID.self)
            return Send(origin: origin, receiver: receiver, count: count)
        }
        m = c
        return DigestStamp(view: view, lineage: lineage, casts: casts, sends: sends)
    }
}
