// A key of the store: its bytes, hashed as one block (an Array's own hashing feeds the
// hasher byte by byte).

public struct KVKey: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { bytes = Array(text.utf8) }

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (a: KVKey, b: KVKey) -> Bool { a.bytes == b.bytes }
}

/// A value and its absolute expiry (Unix milliseconds; nil: none).
public struct KVEntry: Equatable, Sendable {
    public var value: [UInt8]
    public var expiresAt: Int64?
    public init(value: [UInt8], expiresAt: Int64? = nil) {
        self.value = value
        self.expiresAt = expiresAt
    }
}
