/// The bytes of one message travelling through a protocol stack: the payload, and in front
/// of it the headers pushed so far.
///
/// Going down, each layer *prepends* its header into spare room in front of the bytes
/// (`push`), so the finished message is contiguous and is copied once, into a datagram.
/// Going up, each layer reads its header from the front (`pop`). Like a kernel socket buffer,
/// several `Packet` values may share one buffer: a layer that keeps a packet for
/// retransmission keeps its start and end, and headers later prepended by lower layers go
/// into the room before that start without disturbing it.
///
/// The invariant that makes this safe: bytes are only ever written in front of `start`, and
/// those bytes are scratch, valid until the next push on any packet sharing the buffer. So the
/// bottom of the stack must copy a finished message out (into a datagram) at once, within
/// the same call chain, never queue the packet itself.
public struct Packet {
    var storage: PacketStorage
    /// First byte of the outermost header.
    public private(set) var start: Int
    /// One past the last payload byte.
    public private(set) var end: Int

    /// Room left in front of a new packet for headers, enough for every layer's data headers.
    public static let defaultHeadroom = 96

    /// A packet whose payload is a copy of `payload`.
    public init(payload: UnsafeRawBufferPointer, headroom: Int = Packet.defaultHeadroom) {
        storage = PacketStorage(capacity: headroom + payload.count)
        start = headroom
        end = headroom + payload.count
        if let base = payload.baseAddress, payload.count > 0 {
            (storage.base + start).copyMemory(from: base, byteCount: payload.count)
        }
    }

    public init<C: Collection>(payload: C, headroom: Int = Packet.defaultHeadroom) where C.Element == UInt8 {
        let bytes = Array(payload)
        self = bytes.withUnsafeBytes { Packet(payload: $0, headroom: headroom) }
    }

    /// The bytes of `pieces`, one after the other, in one new buffer (fragment reassembly).
    public init(concatenating pieces: [Packet], headroom: Int = 0) {
        let total = pieces.reduce(0) { $0 + $1.count }
        storage = PacketStorage(capacity: headroom + total)
        start = headroom
        end = headroom
        for p in pieces {
            (storage.base + end).copyMemory(from: p.storage.base + p.start, byteCount: p.count)
            end += p.count
        }
    }

    /// An empty packet: for a layer's own messages, which carry only headers.
    public init(headroom: Int = Packet.defaultHeadroom) {
        storage = PacketStorage(capacity: headroom)
        start = headroom
        end = headroom
    }

    public var count: Int { end - start }
    public var isEmpty: Bool { end == start }

    /// The bytes, valid only during `body`.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base + start, count: end - start))
    }

    /// A copy of the bytes (for tests and for handing a payload to an application).
    public var bytes: [UInt8] { withBytes { Array($0) } }

    /// Prepends header bytes written by `encode`. The header is encoded into `scratch` (reused
    /// by the caller so that pushing allocates nothing) and then copied in front of `start`.
    public mutating func push(using scratch: inout WireWriter, _ encode: (inout WireWriter) -> Void) {
        scratch.removeAll()
        encode(&scratch)
        scratch.bytes.withUnsafeBytes { prepend($0) }
    }

    /// Prepends `header`, encoded straight into the headroom (no scratch buffer, no allocation
    /// unless the headroom is used up). A header longer than its `encodedSizeBound` (a bug of
    /// its encoder, which `HeaderBoundTests` would catch) is encoded again into a growable
    /// buffer and prepended: it costs an allocation, never a trap.
    public mutating func push<H: HeaderEncodable>(_ header: H) {
        let bound = header.encodedSizeBound
        if bound > start || detachHeadroom { regrow(headroom: bound + Packet.defaultHeadroom) }
        var w = BoundedWriter(base: storage.base + (start - bound), capacity: bound)
        header.encode(into: &w)
        if w.overflowed {
            var grown = WireWriter(capacity: 2 * bound)
            header.encode(into: &grown)
            grown.bytes.withUnsafeBytes { prepend($0) }
            return
        }
        let k = w.count
        // Overlap-safe move of the k written bytes up against `start`.
        if k < bound { (storage.base + (start - k)).copyMemory(from: storage.base + (start - bound), byteCount: k) }
        start -= k
    }

    /// Prepends raw bytes, moving to a bigger buffer if the headroom is used up.
    public mutating func prepend(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let src = bytes.baseAddress else { return }
        if n > start || detachHeadroom { regrow(headroom: n + Packet.defaultHeadroom) }
        start -= n
        (storage.base + start).copyMemory(from: src, byteCount: n)
    }

    /// Reads one header from the front with `decode` and removes it. On error the packet is
    /// unchanged.
    public mutating func pop<T>(_ decode: (inout WireReader) throws(WireError) -> T) throws(WireError) -> T {
        var reader = WireReader(UnsafeRawBufferPointer(start: storage.base + start, count: end - start))
        let value = try decode(&reader)
        start += reader.offset
        return value
    }

    /// Like `pop`, but a header that does not decode is counted in `drops` and gives nil:
    /// the layer then drops the message.
    public mutating func popHeader<T>(_ drops: DropCounters, _ decode: (inout WireReader) throws(WireError) -> T) -> T? {
        do {
            return try pop(decode)
        } catch {
            drops.malformedHeaders &+= 1
            return nil
        }
    }

    /// Removes `n` bytes from the front (a header already parsed elsewhere).
    public mutating func drop(_ n: Int) throws(WireError) {
        guard n >= 0 && n <= count else { throw .truncated(needed: n, available: count) }
        start += n
    }

    /// The bytes `[start + from, start + to)` as a new packet sharing this buffer (fragments).
    public func slice(_ range: Range<Int>) -> Packet {
        var p = self
        let lo = max(0, min(range.lowerBound, count))
        let hi = max(lo, min(range.upperBound, count))
        p.end = start + hi
        p.start = start + lo
        // A slice gets no headroom of its own: pushing onto it must not overwrite the bytes
        // of the slice in front of it, so the first push moves it to a new buffer.
        p.detachHeadroom = true
        return p
    }

    /// Set on slices: the bytes in front of `start` belong to someone else.
    var detachHeadroom = false

    private mutating func regrow(headroom: Int) {
        let newStorage = PacketStorage(capacity: headroom + count)
        (newStorage.base + headroom).copyMemory(from: storage.base + start, byteCount: count)
        storage = newStorage
        end = headroom + count
        start = headroom
        detachHeadroom = false
    }
}

/// Raw bytes behind one or more packets.
public final class PacketStorage {
    let base: UnsafeMutableRawPointer
    public let capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }
}
