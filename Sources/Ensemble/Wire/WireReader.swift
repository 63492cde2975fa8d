/// Reads header fields from untrusted bytes, front to back. Every read is bounds-checked and
/// throws `WireError`; nothing here can trap on malformed input.
///
/// The reader borrows its bytes: build it inside `withUnsafeBytes` (or use `WireReader.decode`)
/// and do not let it outlive that scope.
public struct WireReader {
    public let buffer: UnsafeRawBufferPointer
    public var offset: Int

    @inlinable public init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = min(max(offset, 0), buffer.count)
    }

    /// Decodes `bytes` with `body`, which must consume all of them.
    @inlinable public static func decode<T>(
        _ bytes: [UInt8], _ body: (inout WireReader) throws(WireError) -> T
    ) throws(WireError) -> T {
        let result = bytes.withUnsafeBytes { raw -> Result<T, WireError> in
            do throws(WireError) {
                var r = WireReader(raw)
                let value = try body(&r)
                try r.expectEnd()
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    @inlinable public var remaining: Int { buffer.count - offset }
    @inlinable public var isAtEnd: Bool { offset >= buffer.count }

    @inlinable public func expectEnd() throws(WireError) {
        if remaining != 0 { throw .trailingBytes(remaining) }
    }

    @inlinable mutating func need(_ n: Int) throws(WireError) {
        if n < 0 || n > remaining { throw .truncated(needed: n, available: remaining) }
    }

    /// Checks the magic byte and the format version at the start of a datagram.
    @inlinable public mutating func readFormatHeader() throws(WireError) {
        let m: UInt8 = try read()
        if m != Wire.magic { throw .badMagic(m) }
        let v: UInt8 = try read()
        if v != Wire.formatVersion { throw .unsupportedVersion(v) }
    }

    @inlinable public mutating func read() throws(WireError) -> UInt8 {
        try need(1)
        let v = buffer[offset]
        offset += 1
        return v
    }

    @inlinable public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        try need(size)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(bigEndian: v)
    }

    @inlinable public mutating func readBool() throws(WireError) -> Bool {
        let b: UInt8 = try read()
        switch b {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: "bool", value: UInt64(b))
        }
    }

    @inlinable public mutating func readVarint() throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b: UInt8 = try read()
            if shift == 63 && b > 1 { throw .badVarint }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .badVarint }
        }
    }

    @inlinable public mutating func readVarint(signed _: Void = ()) throws(WireError) -> Int64 {
        let z: UInt64 = try readVarint()
        return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
    }

    /// A varint that must fit in `0...limit`, as an `Int`: counts and lengths.
    @inlinable public mutating func readCount(limit: Int = Wire.defaultLengthLimit) throws(WireError) -> Int {
        let v: UInt64 = try readVarint()
        if v > UInt64(limit) { throw .lengthTooLarge(v > UInt64(Int.max) ? Int.max : Int(v), limit: limit) }
        return Int(v)
    }

    /// `n` raw bytes, borrowed from the underlying buffer.
    @inlinable public mutating func readRaw(_ n: Int) throws(WireError) -> UnsafeRawBufferPointer {
        try need(n)
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset ..< offset + n])
        offset += n
        return slice
    }

    @inlinable public mutating func skip(_ n: Int) throws(WireError) {
        try need(n)
        offset += n
    }

    /// A varint length (at most `limit`), then that many bytes, copied.
    @inlinable public mutating func readLengthPrefixed(limit: Int = Wire.defaultLengthLimit) throws(WireError) -> [UInt8] {
        let n = try readCount(limit: limit)
        return Array(try readRaw(n))
    }

    /// UTF-8 text with a varint length prefix.
    @inlinable public mutating func readString(limit: Int = 1 << 16) throws(WireError) -> String {
        let n = try readCount(limit: limit)
        let raw = try readRaw(n)
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else { throw .invalidUTF8 }
        return s
    }
}
