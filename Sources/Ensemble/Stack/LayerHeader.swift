/// The header a layer puts on every message of the kinds it is carried on (`carriers`), as
/// Ensemble's layers did with a `NoHdr` case in each header type: the layer's own messages
/// carry their own tag (1 and up) and fields; every other message of those kinds carries only
/// the pass-through tag 0 ("not mine, pass it on"), so that a receiving layer can always tell
/// whose message it is.
///
/// The pass-through tag is handled here, once for every layer: going down, `passDown` tags the
/// messages a layer does not handle itself; going up, `receive` pops the header, passes a
/// pass-through message on up and counts a malformed header, so a layer only ever sees its own
/// headers. Both are generic over the concrete header type, so every use is specialised (no
/// existential, no allocation).
protocol LayerHeader: HeaderEncodable {
    /// The kinds of message that carry this header: going down, every one of them gets it.
    static var carriers: MessageKinds { get }
    /// Reads the rest of the header whose tag (never the pass-through tag) was just read.
    /// `members`: the size of the view, the limit of ranks and counts.
    static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Self
}

/// The tag of a message that a layer passes on without a header of its own.
let passThroughTag: UInt8 = 0

/// The header of a message that a layer passes on: the pass-through tag alone.
struct PassThroughHeader: HeaderEncodable {
    var encodedSizeBound: Int { 1 }
    func encode<W: WireWriting>(into w: inout W) { w.write(passThroughTag) }
}

extension LayerHeader {
    /// Reads a whole header: nil for the pass-through tag.
    static func decode(from r: inout WireReader, members: Int) throws(WireError) -> Self? {
        let tag: UInt8 = try r.read()
        return tag == passThroughTag ? nil : try decode(tag: tag, from: &r, members: members)
    }
}

extension LayerPort {
    /// Passes `event` down past a layer whose header is `H`: a message of a kind that carries
    /// `H` gets the pass-through tag; any other event goes on as it is.
    @inline(__always)
    func passDown<H: LayerHeader>(_ event: consuming Event, _: H.Type) {
        switch consume event {
        case .cast(var p, let peer, let flags) where H.carriers.contains(.cast):
            p.push(PassThroughHeader())
            down(.cast(p, peer: peer, flags: flags))
        case .send(var p, let peer, let flags) where H.carriers.contains(.send):
            p.push(PassThroughHeader())
            down(.send(p, peer: peer, flags: flags))
        case .castUnreliable(var p, let peer) where H.carriers.contains(.castUnreliable):
            p.push(PassThroughHeader())
            down(.castUnreliable(p, peer: peer))
        case .sendUnreliable(var p, let peer) where H.carriers.contains(.sendUnreliable):
            p.push(PassThroughHeader())
            down(.sendUnreliable(p, peer: peer))
        case let other:
            down(other)
        }
    }

    /// Sends a message of the layer's own, carrying only `header`, down as a reliable message
    /// of `kind` (`.cast` to the view, `peer` being my rank; `.send` to `peer`), with room
    /// for the headers of the layers below.
    func originate<H: LayerHeader>(_ header: H, _ kind: MessageKind, peer: Rank) {
        var p = Packet(headroom: header.encodedSizeBound + 64)
        p.push(header)
        down(kind.event(p, peer: peer, flags: []))
    }

    /// Pops the header `H` off `p`, a message of `kind` that came up from `peer`: the layer's
    /// own header comes back. A pass-through message goes on up (without the tag), and a header
    /// that does not decode is counted in `drops` and its message dropped: both give nil.
    @inline(__always)
    func receive<H: LayerHeader>(_: H.Type, _ p: inout Packet, _ kind: MessageKind, from peer: Rank,
                                 flags: MessageFlags = [], members: Int) -> H? {
        assert(H.carriers.contains(MessageKinds(kind)), "\(H.self) is not carried on \(kind) messages")
        let popped = p.popHeader(drops) { (r: inout WireReader) throws(WireError) in try H.decode(from: &r, members: members) }
        guard let popped else { return nil }  // malformed, counted
        if let own = popped { return own }
        up(kind.event(p, peer: peer, flags: flags))
        return nil
    }
}

/// The four kinds of message event.
enum MessageKind: UInt8 {
    case cast, send, castUnreliable, sendUnreliable

    /// The event of this kind carrying `p` (`flags` are only for reliable messages).
    @inline(__always)
    func event(_ p: Packet, peer: Rank, flags: MessageFlags) -> Event {
        switch self {
        case .cast: .cast(p, peer: peer, flags: flags)
        case .send: .send(p, peer: peer, flags: flags)
        case .castUnreliable: .castUnreliable(p, peer: peer)
        case .sendUnreliable: .sendUnreliable(p, peer: peer)
        }
    }
}

/// A set of message kinds.
struct MessageKinds: OptionSet {
    let rawValue: UInt8
    init(rawValue: UInt8) { self.rawValue = rawValue }
    init(_ kind: MessageKind) { rawValue = 1 << kind.rawValue }

    static let cast = MessageKinds(rawValue: 1 << MessageKind.cast.rawValue)
    static let send = MessageKinds(rawValue: 1 << MessageKind.send.rawValue)
    static let castUnreliable = MessageKinds(rawValue: 1 << MessageKind.castUnreliable.rawValue)
    static let sendUnreliable = MessageKinds(rawValue: 1 << MessageKind.sendUnreliable.rawValue)
    static let all: MessageKinds = [.cast, .send, .castUnreliable, .sendUnreliable]
}
