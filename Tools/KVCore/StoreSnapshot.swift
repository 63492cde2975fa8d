// The whole store as a stream of chunks for state transfer, and its reassembly at the joiner.
//
//     "KVS1" | zigzag clock | varint entry count | entries
//     entry: varint key length, key, varint value length, value, zigzag expiry (0: none)
//
// The writer streams a copy of the dictionary taken when the transfer starts (copy on write:
// O(1) until the store changes, then one copy), so later writes do not leak into the state.
// Chunks are slices of the stream: an entry may span several.

/// Produces the chunks of one snapshot, each at most `maxBytes` (at least one chunk).
public struct SnapshotWriter {
    private let entries: [KVKey: KVEntry]
    private var index: Dictionary<KVKey, KVEntry>.Index
    private var staged: [UInt8] = []
    private var stagedStart = 0
    private var started = false
    public private(set) var chunksMade = 0

    public init(_ store: KVStore) {
        entries = store.entries
        index = entries.startIndex
        staged = Array("KVS1".utf8)
        staged.appendSigned(store.clock)
        staged.appendVarint(UInt64(entries.count))
    }

    /// The next chunk, or nil once everything was given (the first call always gives one).
    public mutating func next(maxBytes: Int) -> [UInt8]? {
        let size = max(64, maxBytes)
        while staged.count - stagedStart < size && index != entries.endIndex {
            let (k, e) = entries[index]
            staged.appendString(k.bytes)
            staged.appendString(e.value)
            staged.appendSigned(e.expiresAt ?? 0)
            entries.formIndex(after: &index)
        }
        let available = staged.count - stagedStart
        if available == 0 && started { return nil }
        started = true
        let n = min(size, available)
        let chunk = Array(staged[stagedStart ..< stagedStart + n])
        stagedStart += n
        if stagedStart > (1 << 20) || stagedStart == staged.count {
            staged.removeFirst(stagedStart)
            stagedStart = 0
        }
        chunksMade += 1
        return chunk
    }
}

/// Rebuilds a store from the chunks, entry by entry as they come; throws on malformed input.
public struct SnapshotLoader {
    private var pending: [UInt8] = []
    private var expected: Int?
    private var clock: Int64 = 0
    public private(set) var entries: [KVKey: KVEntry] = [:]
    /// Longest key or value accepted.
    public var maxStringBytes = 512 << 20

    public init() {}

    public mutating func feed(_ bytes: [UInt8]) throws(KVFormatError) {
        pending.append(contentsOf: bytes)
        var r = ByteReader(pending)
        if expected == nil {
            guard r.remaining >= 4 else { return }
            guard Array(pending[0 ..< 4]) == Array("KVS1".utf8) else { throw KVFormatError("not a store snapshot (bad magic)") }
            r.position = 4
            guard let c = try? r.signed(), let n = try? r.varint() else {
                if pending.count > 32 { throw KVFormatError("bad snapshot header") }
                return
            }
            guard n <= UInt64(Int.max / 4) else { throw KVFormatError("bad entry count \(n)") }
            clock = c
            expected = Int(n)
        }
        var consumed = r.position
        while true {
            var e = r
            guard let k = try partialString(&e), let v = try partialString(&e), let t = try? e.signed() else { break }
            guard entries.count < (expected ?? 0) else { throw KVFormatError("more entries than announced") }
            entries[KVKey(k)] = KVEntry(value: v, expiresAt: t == 0 ? nil : t)
            r = e
            consumed = r.position
        }
        if consumed > 0 { pending.removeFirst(consumed) }
    }

    /// A string if it is all there, nil if it is still coming; throws if its length is absurd.
    private func partialString(_ r: inout ByteReader) throws(KVFormatError) -> [UInt8]? {
        let save = r.position
        guard let n = try? r.varint() else { r.position = save; return nil }
        guard n <= UInt64(maxStringBytes) else { throw KVFormatError("a string of \(n) bytes in the snapshot") }
        guard n <= UInt64(r.remaining) else { r.position = save; return nil }
        let start = r.position
        r.position += Int(n)
        return Array(r.bytes[start ..< r.position])
    }

    /// The complete store: throws if bytes are left over or entries are missing.
    public func finish() throws(KVFormatError) -> (entries: [KVKey: KVEntry], clock: Int64) {
        guard let expected else { throw KVFormatError("empty snapshot") }
        guard pending.isEmpty else { throw KVFormatError("\(pending.count) bytes of a partial entry at the end of the snapshot") }
        guard entries.count == expected else { throw KVFormatError("snapshot has \(entries.count) entries, announced \(expected)") }
        return (entries, clock)
    }
}
