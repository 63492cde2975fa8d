import Crypto
import Foundation

/// The shared secret of an authenticated group. With a key, every datagram a member sends is
/// protected, and every datagram received is checked before any of it is decoded: a member
/// without the key (or with another one, or with the other protection) can neither join the
/// group, nor inject messages, nor disturb its views.
///
/// Two protections:
/// - `.mac` (the default): the datagram ends with a 16-byte MAC (HMAC-SHA256, truncated) over
///   all its other bytes; the contents travel in clear.
/// - `.encryption`: ChaCha20-Poly1305. The frame header (magic, version, kind, group hash,
///   view hash, sender and destination ranks) stays in clear, as associated data, so that a rendezvous without
///   the key can still route gossip; everything after it is encrypted. Layout:
///   `header | nonce (12) | ciphertext | tag (16)`. The nonce is a random 8-byte prefix drawn
///   when the key is made, then a 4-byte counter (a new prefix when it wraps).
///
/// Replays: a protected datagram replayed later is still dropped or harmless. Data goes to the
/// stack of the view named in its frame, so a datagram of an ended view finds no stack;
/// inside a view, reliable casts and sends carry sequence numbers and are delivered at most
/// once; the unreliable ones (pings, stability rows, NAKs) only ever raise counters to a
/// maximum, so an old copy changes nothing; merge messages are taken at most once per
/// (sender, logical time, sequence).
public struct GroupKey {
    public enum Protection: Sendable {
        case mac
        case encryption
    }

    public let protection: Protection
    let macKey: SymmetricKey
    let cipherKey: SymmetricKey
    private let state: SealState

    /// Bytes of MAC at the end of each datagram (`.mac`).
    public static let macSize = 16
    /// Bytes of nonce and tag (`.encryption`).
    public static let nonceSize = 12
    public static let tagSize = 16
    /// The most bytes either protection adds to a datagram.
    public static let maxOverhead = nonceSize + tagSize
    /// The shortest secret accepted.
    public static let minimumSecret = 16
    /// Bytes of a frame header before the ranks (see `Frame`).
    static let fixedHeader = 19

    /// A key from secret bytes (a key file's contents): at least 16 bytes.
    public init(secret: [UInt8], protection: Protection = .mac) throws(KeyError) {
        guard secret.count >= GroupKey.minimumSecret else { throw KeyError("a group key needs at least \(GroupKey.minimumSecret) bytes of secret, got \(secret.count)") }
        self.protection = protection
        macKey = SymmetricKey(data: SHA256.hash(data: secret))
        // A separate key for the cipher: the two protections never accept each other's datagrams.
        cipherKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret),
                                           info: Array("maestro datagram encryption v1".utf8), outputByteCount: 32)
        state = SealState()
    }

    /// Bytes this key adds to every datagram.
    public var overhead: Int { protection == .mac ? GroupKey.macSize : GroupKey.maxOverhead }

    /// Protects `bytes` (a whole datagram, frame header first) in place.
    public func seal(_ bytes: inout [UInt8]) {
        switch protection {
        case .mac:
            let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: macKey)
            mac.withUnsafeBytes { bytes.append(contentsOf: $0.prefix(GroupKey.macSize)) }
        case .encryption:
            // Fails closed: if anything is wrong, nothing is sent rather than clear text.
            guard let h = bytes.withUnsafeBytes({ GroupKey.headerLength($0) }),
                  let nonce = try? ChaChaPoly.Nonce(data: state.nextNonce()),
                  let box = try? ChaChaPoly.seal(bytes[h...], using: cipherKey, nonce: nonce, authenticating: bytes[..<h])
            else {
                bytes.removeAll()
                return
            }
            bytes.removeSubrange(h...)
            bytes.append(contentsOf: box.nonce)
            bytes.append(contentsOf: box.ciphertext)
            bytes.append(contentsOf: box.tag)
        }
    }

    /// Checks `datagram` and, if it is genuine, calls `body` with its contents (the frame
    /// header and the messages, without MAC, nonce or tag) and returns what `body` returns;
    /// nil if the datagram is not genuine.
    public func open<R>(_ datagram: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        switch protection {
        case .mac:
            guard datagram.count > GroupKey.macSize else { return nil }
            let contents = UnsafeRawBufferPointer(rebasing: datagram[..<(datagram.count - GroupKey.macSize)])
            let mac = HMAC<SHA256>.authenticationCode(for: contents, using: macKey)
            let ok: Bool = mac.withUnsafeBytes { expected in
                var diff: UInt8 = 0
                for i in 0 ..< GroupKey.macSize { diff |= expected[i] ^ datagram[contents.count + i] }
                return diff == 0
            }
            return ok ? body(contents) : nil
        case .encryption:
            guard let h = GroupKey.headerLength(datagram), datagram.count >= h + GroupKey.maxOverhead else { return nil }
            let header = UnsafeRawBufferPointer(rebasing: datagram[..<h])
            let nonceEnd = h + GroupKey.nonceSize, tagStart = datagram.count - GroupKey.tagSize
            guard let nonce = try? ChaChaPoly.Nonce(data: UnsafeRawBufferPointer(rebasing: datagram[h ..< nonceEnd])),
                  let box = try? ChaChaPoly.SealedBox(nonce: nonce, ciphertext: UnsafeRawBufferPointer(rebasing: datagram[nonceEnd ..< tagStart]),
                                                      tag: UnsafeRawBufferPointer(rebasing: datagram[tagStart...])),
                  let plain = try? ChaChaPoly.open(box, using: cipherKey, authenticating: header)
            else { return nil }
            var whole: [UInt8] = []
            swap(&whole, &state.scratch)  // reuse its capacity; a nested open gets a fresh one
            whole.removeAll(keepingCapacity: true)
            whole.append(contentsOf: header)
            whole.append(contentsOf: plain)
            defer { swap(&whole, &state.scratch) }
            return whole.withUnsafeBytes(body)
        }
    }

    /// Whether `datagram` is genuine (for relays, which forward it as it is).
    public func verify(_ datagram: UnsafeRawBufferPointer) -> Bool {
        open(datagram) { _ in () } != nil
    }

    /// The length of the clear frame header at the start of `datagram`: the fixed part, then
    /// the sender's and the destination's rank varints (at most 3 bytes each: ranks are below
    /// 2^16). Nil if too short.
    static func headerLength(_ datagram: UnsafeRawBufferPointer) -> Int? {
        var i = fixedHeader
        for _ in 0 ..< 2 {
            let start = i
            while true {
                guard i < datagram.count, i < start + 3 else { return nil }
                let b = datagram[i]
                i += 1
                if b & 0x80 == 0 { break }
            }
        }
        return i
    }
}

/// The mutable state of one key, shared by every copy of it (one thread): its nonces, a random
/// 8-byte prefix and a 4-byte counter (a fresh prefix when the counter wraps), so that no
/// nonce repeats; and the buffer decrypted datagrams are assembled in.
final class SealState {
    private var prefix = UInt64.random(in: 0 ... .max)
    private var counter: UInt32 = 0
    var scratch: [UInt8] = []

    func nextNonce() -> [UInt8] {
        if counter == .max {
            prefix = UInt64.random(in: 0 ... .max)
            counter = 0
        }
        counter += 1
        var n = [UInt8](repeating: 0, count: GroupKey.nonceSize)
        for i in 0 ..< 8 { n[i] = UInt8(truncatingIfNeeded: prefix >> (56 - 8 * i)) }
        for i in 0 ..< 4 { n[8 + i] = UInt8(truncatingIfNeeded: counter >> (24 - 8 * i)) }
        return n
    }
}

public struct KeyError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
