import Crypto

/// The shared secret of an authenticated group. With a key, every datagram a member sends
/// ends with a 16-byte MAC (HMAC-SHA256, truncated) over all its other bytes, and every
/// datagram received is checked before any of it is decoded: a member without the key (or
/// with another one) can neither join the group, nor inject messages, nor disturb its views.
///
/// Replays: an authenticated datagram replayed later is still dropped or harmless. Data goes
/// to the stack of the view named in its frame, so a datagram of an ended view finds no
/// stack; inside a view, reliable casts and sends carry sequence numbers and are delivered at
/// most once; the unreliable ones (pings, stability rows, NAKs) only ever raise counters to a
/// maximum, so an old copy changes nothing; merge messages are taken at most once per (sender,
/// logical time, sequence).
public struct GroupKey {
    let key: SymmetricKey
    /// Bytes of MAC at the end of each datagram.
    public static let macSize = 16
    /// The shortest secret accepted.
    public static let minimumSecret = 16

    /// A key from secret bytes (a key file's contents): at least 16 bytes.
    public init(secret: [UInt8]) throws(KeyError) {
        guard secret.count >= GroupKey.minimumSecret else { throw KeyError("a group key needs at least \(GroupKey.minimumSecret) bytes of secret, got \(secret.count)") }
        key = SymmetricKey(data: SHA256.hash(data: secret))
    }

    /// Appends the MAC of `bytes` to `bytes`.
    public func seal(_ bytes: inout [UInt8]) {
        let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: key)
        mac.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(GroupKey.macSize)) }
    }

    /// The datagram without its MAC, if the MAC is right; nil otherwise.
    public func open(_ datagram: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard datagram.count > GroupKey.macSize else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: datagram[..<(datagram.count - GroupKey.macSize)])
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        let ok: Bool = mac.withUnsafeBytes { expected in
            var diff: UInt8 = 0
            for i in 0 ..< GroupKey.macSize { diff |= expected[i] ^ datagram[body.count + i] }
            return diff == 0
        }
        return ok ? body : nil
    }
}

public struct KeyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
