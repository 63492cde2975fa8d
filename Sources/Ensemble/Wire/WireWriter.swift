/// Appends header fields to a growable byte array: fixed-width integers in big-endian order,
/// LEB128 varints and length-prefixed bytes. The counterpart of `WireReader`.
public struct WireWriter: WireWriting, Sendable {
    public var bytes: [UInt8]

    @inlinable public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { bytes.count }

    /// Forgets the contents but keeps the capacity, so a writer can be reused without allocating.
    @inlinable public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Writes the magic byte and the format version: the start of every datagram.
    @inlinable public mutating func writeFormatHeader() {
        bytes.append(Wire.magic)
        bytes.append(Wire.formatVersion)
    }

    @inlinable public mutating func write(_ v: UInt8) { bytes.append(v) }

    @inlinable public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Raw bytes with no length.
    @inlinable public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// A varint length, then the bytes.
    @inlinable public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }
}
