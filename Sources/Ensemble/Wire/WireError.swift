/// Why bytes from the network (or any other untrusted source) could not be decoded.
///
/// Decoders throw this typed error and never trap: a malformed datagram is dropped and
/// counted by whoever received it.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes remain than the field needs.
    case truncated(needed: Int, available: Int)
    /// The datagram does not start with the magic byte.
    case badMagic(UInt8)
    /// The peer speaks another version of the wire format.
    case unsupportedVersion(UInt8)
    /// A varint is longer than 10 bytes or overflows 64 bits.
    case badVarint
    /// A length field exceeds what the decoder accepts.
    case lengthTooLarge(Int, limit: Int)
    /// A field holds a value outside its domain (an unknown enum tag, a bool that is not 0 or 1).
    case invalidValue(field: String, value: UInt64)
    /// Bytes that should be UTF-8 text are not.
    case invalidUTF8
    /// The input continues after the last field.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case let .truncated(needed, available): "truncated: need \(needed) bytes, \(available) left"
        case let .badMagic(b): "bad magic byte \(b)"
        case let .unsupportedVersion(v): "unsupported wire format version \(v) (this build speaks \(Wire.formatVersion))"
        case .badVarint: "malformed varint"
        case let .lengthTooLarge(n, limit): "length \(n) exceeds the limit \(limit)"
        case let .invalidValue(field, value): "invalid value \(value) for \(field)"
        case .invalidUTF8: "invalid UTF-8"
        case let .trailingBytes(n): "\(n) unexpected trailing bytes"
        }
    }
}

/// Constants of the wire format shared by every encoder.
public enum Wire {
    /// First byte of every datagram the engine sends.
    public static let magic: UInt8 = 0xEB
    /// Second byte: bumped whenever any header's encoding changes incompatibly.
    /// (3: every layer's pass-through tag is 0, Top_appl's included. 4: Heal's gossip names the
    /// newest primary view the partition descends from; Primary confirms views and its record
    /// carries earlier quorums; Suspect's pings go to and from a core of low ranks; Vsync's
    /// coordinator casts its decision, not every report: same release, no further bump.)
    public static let formatVersion: UInt8 = 4
    /// Largest length any length-prefixed field may claim unless a decoder sets a tighter bound.
    public static let defaultLengthLimit = 1 << 26
}
