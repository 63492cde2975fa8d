/// Something header fields can be written to, front to back: a growable `WireWriter` or a
/// `BoundedWriter` over a packet's headroom. Header types write through this protocol, so the
/// same `encode` serves both.
public protocol WireWriting {
    mutating func write(_ v: UInt8)
    mutating func writeRaw(_ raw: UnsafeRawBufferPointer)
}

extension WireWriting {
    @inlinable public mutating func write(_ v: Bool) { write(UInt8(v ? 1 : 0)) }

    @inlinable public mutating func write<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { writeRaw($0) }
    }

    @inlinable public mutating func writeVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            write(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        write(UInt8(v))
    }

    @inlinable public mutating func writeVarint(signed v: Int64) {
        writeVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    @inlinable public mutating func writeCount(_ n: Int) { writeVarint(UInt64(n)) }

    @inlinable public mutating func writeLengthPrefixed(_ raw: UnsafeRawBufferPointer) {
        writeVarint(UInt64(raw.count))
        writeRaw(raw)
    }

    @inlinable public mutating func writeLengthPrefixed(_ raw: [UInt8]) {
        raw.withUnsafeBytes { writeLengthPrefixed($0) }
    }

    @inlinable public mutating func write(_ s: String) {
        var s = s
        s.withUTF8 { writeLengthPrefixed(UnsafeRawBufferPointer($0)) }
    }
}

/// Upper bound of the encoded size of a varint of `v`.
@inlinable public func varintSize(_ v: UInt64) -> Int {
    max(1, (64 - v.leadingZeroBitCount + 6) / 7)
}

/// Writes into a fixed region of memory. Writing past the end would be a wrong size bound of
/// the encoder (`HeaderBoundTests` checks every header's at its largest): rather than trap, the
/// writer stops writing and marks itself `overflowed`, and `Packet.push` encodes the header
/// again into a growable buffer.
public struct BoundedWriter: WireWriting {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    public private(set) var count = 0
    /// An encoder wrote more than `capacity`: the bytes written are incomplete.
    public private(set) var overflowed = false

    init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    public mutating func write(_ v: UInt8) {
        guard count < capacity else { overflowed = true; return }
        base.storeBytes(of: v, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        guard let src = raw.baseAddress, raw.count > 0 else { return }
        guard raw.count <= capacity - count else { overflowed = true; return }
        (base + count).copyMemory(from: src, byteCount: raw.count)
        count += raw.count
    }
}

/// A header that a layer pushes onto a packet.
public protocol HeaderEncodable {
    /// An upper bound of the encoded size (exact is fine). Must not be exceeded: a header that
    /// does is still pushed whole, but encoded twice (see `BoundedWriter`).
    var encodedSizeBound: Int { get }
    func encode<W: WireWriting>(into w: inout W)
}
