/// The framing of every datagram between endpoints.
///
/// ```
/// magic (1) | version (1) | kind (1) | group hash (8) | view hash (8) | sender rank (varint)
/// | destination rank (varint)
/// then, for data frames: [message length (varint) | message bytes]*
/// then, in an authenticated group: MAC (16); in an encrypted one, everything after the
/// header is replaced by nonce (12) | ciphertext | tag (16) (see `GroupKey`)
/// ```
/// One datagram carries every message queued for one destination in one loop turn
/// (batching), so the 19 + rank bytes of frame are shared. Gossip frames carry one gossip
/// record after the header instead, with a view hash of 0 and ranks 0.
///
/// The destination rank makes every datagram addressed: a process restarted on the address
/// of a member it used to be (a new incarnation) may be in the same view as its old self for
/// a while, and must never consume what was sent to the old one. A receiver drops a data
/// frame whose destination is not its own rank in the view the frame names. Notice frames
/// (`Notice`) answer a datagram for a view the receiver has no stack for.
public struct Frame {
    public enum Kind: UInt8 {
        case data = 1
        case gossip = 2
        /// "I, endpoint E, have no stack for the view you named": see `Notice`.
        case notice = 3
    }

    public var kind: Kind
    /// The datagram ends with a MAC (the group has a key).
    public var authenticated = false
    public var group: UInt64
    public var view: UInt64
    public var sender: Rank
    /// The rank the datagram is for in `view` (0 in gossip and notice frames).
    public var destination: Rank

    /// Set in the kind byte of datagrams that end with a MAC.
    public static let authenticatedFlag: UInt8 = 0x80

    /// Bytes of the header for a rank below 128.
    public static let typicalHeaderSize = 21

    public init(kind: Kind, authenticated: Bool = false, group: UInt64, view: UInt64, sender: Rank, destination: Rank = 0) {
        self.kind = kind
        self.authenticated = authenticated
        self.group = group
        self.view = view
        self.sender = sender
        self.destination = destination
    }

    public func encode<W: WireWriting>(into w: inout W) {
        w.write(Wire.magic)
        w.write(Wire.formatVersion)
        w.write(kind.rawValue | (authenticated ? Frame.authenticatedFlag : 0))
        w.write(group)
        w.write(view)
        w.writeCount(sender)
        w.writeCount(destination)
    }

    /// Reads and checks a frame header; the reader is left at the first message.
    public static func decode(from r: inout WireReader, maxRank: Int) throws(WireError) -> Frame {
        try r.readFormatHeader()
        let k: UInt8 = try r.read()
        guard let kind = Kind(rawValue: k & ~Frame.authenticatedFlag) else { throw .invalidValue(field: "frame kind", value: UInt64(k)) }
        return Frame(kind: kind, authenticated: k & Frame.authenticatedFlag != 0, group: try r.read(), view: try r.read(),
                     sender: try r.readCount(limit: maxRank), destination: try r.readCount(limit: maxRank))
    }

    /// A 64-bit digest of a view id, used to route datagrams to the stack of that view.
    public static func hash(_ id: ViewID) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ x: UInt64) {
            var x = x
            for _ in 0 ..< 8 {
                h ^= x & 0xFF
                h = h &* 0x0000_0100_0000_01B3
                x >>= 8
            }
        }
        mix(id.ltime)
        mix(UInt64(id.coordinator.host) << 16 | UInt64(id.coordinator.port))
        mix(UInt64(id.coordinator.counter))
        mix(id.coordinator.incarnation)
        return h == 0 ? 1 : h  // 0 means "no view" in gossip frames
    }
}
