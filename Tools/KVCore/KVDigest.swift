// A digest of a store that does not depend on the order of its entries: two replicas that
// hold the same keys, values and expiries print the same 32 hex digits (KVDIGEST, DEBUG DIGEST).

extension KVStore {
    /// 128 bits, as 32 hex digits: the sum of a 2×64-bit hash of every entry, then the count.
    /// All zeros for an empty store (as Redis's DEBUG DIGEST).
    public var digest: String {
        guard !entries.isEmpty else { return String(repeating: "0", count: 32) }
        var a: UInt64 = 0, b: UInt64 = 0
        for (k, e) in entries {
            let (x, y) = Self.entryHash(k.bytes, e)
            a &+= x
            b &+= y
        }
        a = Self.mix(a ^ UInt64(entries.count))
        b = Self.mix(b &+ UInt64(entries.count))
        return Self.hex(a) + Self.hex(b)
    }

    static func entryHash(_ key: [UInt8], _ e: KVEntry) -> (UInt64, UInt64) {
        var h1: UInt64 = 0xcbf2_9ce4_8422_2325
        var h2: UInt64 = 0x8422_2325_cbf2_9ce4
        @inline(__always) func feed(_ byte: UInt8) {
            h1 = (h1 ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            h2 = (h2 ^ UInt64(byte)) &* 0x9e37_79b9_7f4a_7c15
        }
        @inline(__always) func feed64(_ v: UInt64) { for s in stride(from: 0, to: 64, by: 8) { feed(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
        feed64(UInt64(key.count))
        for c in key { feed(c) }
        feed64(UInt64(e.value.count))
        for c in e.value { feed(c) }
        feed64(e.expiresAt.map { UInt64(bitPattern: $0) } ?? UInt64.max)
        return (mix(h1), mix(h2))
    }

    /// splitmix64's finalizer.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
