/// Frag: fragmentation and reassembly of casts and sends longer than `frag_max_len`
/// (Ensemble's `frag.ml`, made robust).
///
/// Ensemble's Frag requires reliable FIFO fragments and fails on anything else, which breaks
/// when it sits below Pt2pt (the seed's string): a lost fragment of a send makes Pt2pt
/// retransmit the whole message, re-fragmented, and the receiver's reassembly state is wrong
/// (reference §0, problem B). Here every fragmented message carries an id unique per sender,
/// fragments may arrive in any order, duplicates are ignored, and an incomplete message is
/// discarded once newer ones from the same origin have overtaken it (at most
/// `frag_max_partial` partial messages per origin). So Frag is correct above or below Pt2pt:
/// a send whose fragment was lost is simply re-sent whole by Pt2pt under a new id.
public final class Frag: Layer {
    enum Header: HeaderEncodable {
        case whole
        case fragment(id: UInt64, index: Int, total: Int)

        var encodedSizeBound: Int { 1 + 10 + 10 + 10 }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .whole: w.write(UInt8(0))
            case let .fragment(id, index, total):
                w.write(UInt8(1))
                w.writeVarint(id)
                w.writeCount(index)
                w.writeCount(total)
            }
        }
        static func decode(from r: inout WireReader, maxFragments: Int) throws(WireError) -> Header {
            let tag: UInt8 = try r.read()
            switch tag {
            case 0: return .whole
            case 1:
                let id: UInt64 = try r.readVarint()
                let index = try r.readCount(limit: maxFragments - 1)
                let total = try r.readCount(limit: maxFragments)
                guard total >= 2, index < total else { throw .invalidValue(field: "Frag index", value: UInt64(index)) }
                return .fragment(id: id, index: index, total: total)
            default: throw .invalidValue(field: "Frag header", value: UInt64(tag))
            }
        }
    }

    /// A message being reassembled.
    struct Partial {
        var id: UInt64
        var pieces: [Packet?]
        var received = 0
        var bytes = 0
    }

    private let port: LayerPort
    private let maxLength: Int
    private let maxPartial: Int
    private let maxFragments: Int
    private let maxPending: Int
    private var nextID: UInt64 = 0
    /// Per origin and kind (0 casts, 1 sends): messages under reassembly, oldest first.
    @exclusivity(unchecked) private var partials: [[Partial]]  // never re-entered (see Mnak)

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        maxLength = try setup.params.int("frag_max_len", default: 6192)
        maxPartial = max(1, try setup.params.int("frag_max_partial", default: 8))
        // Resource limits: the largest message, and what one origin may have under reassembly.
        let maxMessage = try setup.params.int("max_message", default: 64 << 20)
        maxPending = max(maxMessage, try setup.params.int("frag_max_pending", default: maxMessage + 4 * maxLength))
        guard maxLength >= 64 else { throw ParameterError("frag_max_len must be at least 64 bytes") }
        maxFragments = max(2, maxMessage / maxLength + 1)
        partials = Array(repeating: [], count: setup.count * 2)
    }

    public func down(_ event: consuming Event) {
        switch consume event {
        case .cast(let p, let peer, let flags):
            split(p) { port.down(.cast($0, peer: peer, flags: flags)) }
        case .send(let p, let peer, let flags):
            split(p) { port.down(.send($0, peer: peer, flags: flags)) }
        case let other:
            port.down(other)
        }
    }

    public func up(_ event: consuming Event) {
        switch consume event {
        case .cast(var p, let o, let flags):
            guard let h = p.popHeader(port.drops, { (r: inout WireReader) throws(WireError) in try Header.decode(from: &r, maxFragments: maxFragments) }) else { return }
            reassemble(h, p, slot: o * 2) { port.up(.cast($0, peer: o, flags: flags)) }
        case .send(var p, let o, let flags):
            guard let h = p.popHeader(port.drops, { (r: inout WireReader) throws(WireError) in try Header.decode(from: &r, maxFragments: maxFragments) }) else { return }
            reassemble(h, p, slot: o * 2 + 1) { port.up(.send($0, peer: o, flags: flags)) }
        case .exit:
            partials = partials.map { _ in [] }
            port.up(.exit)
        case let other:
            port.up(other)
        }
    }

    private func split(_ p: Packet, _ emit: (Packet) -> Void) {
        if p.count <= maxLength {
            var q = p
            q.push(Header.whole)
            emit(q)
            return
        }
        let total = (p.count + maxLength - 1) / maxLength
        let id = nextID
        nextID += 1
        for i in 0 ..< total {
            var piece = p.slice(i * maxLength ..< min(p.count, (i + 1) * maxLength))
            piece.push(Header.fragment(id: id, index: i, total: total))
            emit(piece)
        }
    }

    private func reassemble(_ h: Header, _ p: Packet, slot: Int, _ deliver: (Packet) -> Void) {
        guard case let .fragment(id, index, total) = h else {
            deliver(p)
            return
        }
        reassemble(id, index, total, p, &partials[slot], deliver)
    }

    private func reassemble(_ id: UInt64, _ index: Int, _ total: Int, _ p: Packet, _ list: inout [Partial],
                            _ deliver: (Packet) -> Void) {
        var k = list.firstIndex { $0.id == id }
        if k == nil {
            // Only the newest messages are worth waiting for; older incomplete ones were
            // either abandoned by their sender or will come again whole.
            if list.count >= maxPartial {
                guard let oldest = list.first, id > oldest.id else { return }
                list.removeFirst()
            }
            list.append(Partial(id: id, pieces: Array(repeating: nil, count: total)))
            list.sort { $0.id < $1.id }
            k = list.firstIndex { $0.id == id }
        }
        guard let k, list[k].pieces.count == total, list[k].pieces[index] == nil else { return }
        if list.reduce(0, { $0 + $1.bytes }) + p.count > maxPending {
            port.drops.overLimit &+= 1  // more under reassembly than one origin may hold
            return
        }
        list[k].pieces[index] = p
        list[k].received += 1
        list[k].bytes += p.count
        guard list[k].received == total else { return }
        let done = list.remove(at: k)
        deliver(Packet(concatenating: done.pieces.compactMap { $0 }))
    }
}
