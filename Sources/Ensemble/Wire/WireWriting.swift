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

/// Writes into a fixed region of memory. Writing past the end is a programming error of the
/// encoder (its size bound was wrong) and traps, since it can only come from our own headers,
/// never from network input.
public struct BoundedWriter: WireWriting {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    public private(set) var count = 0

    init(base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    public mutating func write(_ v: UInt8) {
        precondition(count < capacity, "header encoder wrote more than its declared size bound")
        base.storeBytes(of: v, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        guard let src = raw.baseAddress, raw.count > 0 else { return }
        precondition(count + raw.count <= capacity, "header encoder wrote more than its declared size bound")
        (base + count).copyMemory(from: src, byteCount: raw.count)
        count += raw.count
    }
}

/// A header that a layer pushes onto a packet.
public protocol HeaderEncodable {
    /// An upper bound of the encoded size (exact is fine). Must never be exceeded.
    var encodedSizeBound: Int { get }
    func encode<W: WireWriting>(into w: inout W)
}
