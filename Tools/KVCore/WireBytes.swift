// Little helpers for the replica's binary formats (write batches, store snapshots): a byte
// writer and a bounds-checked reader of varints and length-prefixed strings. The reader
// throws on any malformed input; it never traps.

/// A malformed write batch or snapshot.
public struct KVFormatError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Array where Element == UInt8 {
    /// Appends `v` as an unsigned LEB128 varint.
    mutating func appendVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    /// Appends `v` zigzag-encoded (small magnitudes of either sign stay short).
    mutating func appendSigned(_ v: Int64) {
        appendVarint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    /// Appends a length-prefixed byte string.
    mutating func appendString(_ s: [UInt8]) {
        appendVarint(UInt64(s.count))
        append(contentsOf: s)
    }
}

/// Reads what the `append…` helpers wrote, from `bytes[position...]`.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }
    var atEnd: Bool { position >= bytes.count }

    mutating func byte() throws(KVFormatError) -> UInt8 {
        guard position < bytes.count else { throw KVFormatError("truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(KVFormatError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw KVFormatError("varint too long") }
            v |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func signed() throws(KVFormatError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A count of items that each take at least `minBytes`: never more than could fit.
    mutating func count(minBytes: Int = 1) throws(KVFormatError) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining / Swift.max(1, minBytes)) else { throw KVFormatError("count \(n) exceeds the bytes left") }
        return Int(n)
    }

    mutating func string() throws(KVFormatError) -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw KVFormatError("string of \(n) bytes exceeds the bytes left") }
        let start = position
        position += Int(n)
        return Array(bytes[start ..< position])
    }
}
