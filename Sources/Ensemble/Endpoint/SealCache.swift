#if canImport(Glibc)
import Glibc
#endif

/// The last datagram an endpoint sealed, before and after. A cast goes out as the same bytes
/// to every member: the sealed form of the previous datagram is reused when the bytes are the
/// same (a comparison costs far less than an HMAC or a cipher).
struct SealCache {
    private var lastPlain: [UInt8] = []
    private var lastSealed: [UInt8] = []

    /// Seals `bytes` with `key` in place (MAC appended, or encrypted); empty if the key refuses
    /// them (no frame header).
    mutating func seal(_ bytes: inout [UInt8], with key: GroupKey) {
        let same = !bytes.isEmpty && bytes.count == lastPlain.count && bytes.withUnsafeBytes { a in
            lastPlain.withUnsafeBytes { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return false }
                return memcmp(pa, pb, a.count) == 0
            }
        }
        if same {
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: lastSealed)
        } else {
            lastPlain.removeAll(keepingCapacity: true)
            lastPlain.append(contentsOf: bytes)
            key.seal(&bytes)
            lastSealed.removeAll(keepingCapacity: true)
            lastSealed.append(contentsOf: bytes)
        }
    }
}
