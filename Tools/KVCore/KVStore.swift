// The replicated store: keys to values with optional expiry, the deterministic application of
// writes (every replica applies the same batches in the same order and gets the same store and
// the same results), the reads, and the group clock that expiry is measured against.

import HeapModule

/// The store of one replica.
///
/// **Time.** Every batch carries its origin's clock; the store's `clock` is the largest batch
/// time applied so far, so it is the same at every replica after the same batches. Writes
/// judge expiry by it, and after each batch every key whose expiry is at or before it is
/// deleted (the sweep), so replicas that applied the same batches hold exactly the same
/// entries. Reads judge by the later of the local wall clock and `clock` (a key whose time
/// has come is not shown even if no batch has swept it yet); the coordinator casts an empty
/// batch (a tick) every second while keys with an expiry exist, so the sweep keeps up when
/// nobody writes.
public final class KVStore {
    public private(set) var entries: [KVKey: KVEntry] = [:]
    /// The group clock (Unix ms): the largest batch time applied.
    public private(set) var clock: Int64 = 0
    /// Entries with an expiry.
    public private(set) var volatileCount = 0
    /// Pending expiries, oldest first; an entry is stale when its key's expiry changed since.
    private var expiries = Heap<ExpiryMark>()

    struct ExpiryMark: Comparable {
        var at: Int64
        var key: KVKey
        static func < (a: ExpiryMark, b: ExpiryMark) -> Bool { a.at < b.at }
        static func == (a: ExpiryMark, b: ExpiryMark) -> Bool { a.at == b.at && a.key == b.key }
    }

    public init() {}

    public var count: Int { entries.count }

    // MARK: Applying writes

    /// Applies a batch: the clock first, then each command, then the sweep. Returns one reply
    /// per command.
    public func apply(_ batch: WriteBatch) -> [KVReply] {
        advanceClock(to: batch.time)
        let replies = batch.commands.map(apply)
        sweep()
        return replies
    }

    /// Moves the group clock forward (never back).
    public func advanceClock(to time: Int64) {
        if time > clock { clock = time }
    }

    /// Applies one command at the current clock (without the sweep: `apply(_ batch:)` sweeps).
    public func apply(_ command: WriteCommand) -> KVReply {
        switch command {
        case let .set(key, value, expiry, condition, returnOld):
            let k = KVKey(key)
            let old = live(k, at: clock)
            switch condition {
            case .ifAbsent where old != nil, .ifPresent where old == nil:
                return returnOld ? old.map { .bulk($0.value) } ?? .null : .null
            default: break
            }
            var at: Int64?
            switch expiry {
            case .none: at = nil
            case .keep: at = old?.expiresAt
            case let .at(t): at = t
            }
            if let t = at, t <= clock {
                remove(k)  // an expiry in the past deletes the key (as Redis)
            } else {
                put(k, KVEntry(value: value, expiresAt: at))
            }
            return returnOld ? old.map { .bulk($0.value) } ?? .null : .ok
        case let .delete(keys):
            var n: Int64 = 0
            for key in keys {
                let k = KVKey(key)
                if live(k, at: clock) != nil { n += 1 }
                remove(k)
            }
            return .integer(n)
        case let .incrBy(key, delta):
            let k = KVKey(key)
            let old = live(k, at: clock)
            var current: Int64 = 0
            if let old {
                guard let v = Self.parseInteger(old.value) else { return KVReply.notInteger }
                current = v
            }
            let (sum, overflow) = current.addingReportingOverflow(delta)
            if overflow { return KVReply.overflow }
            var digits: [UInt8] = []
            RESP.decimal(sum, into: &digits)
            put(k, KVEntry(value: digits, expiresAt: old?.expiresAt))
            return .integer(sum)
        case let .mset(pairs):
            var i = 0
            while i + 1 < pairs.count {
                put(KVKey(pairs[i]), KVEntry(value: pairs[i + 1]))
                i += 2
            }
            return .ok
        case .flushAll:
            entries.removeAll()
            expiries = Heap()
            volatileCount = 0
            return .ok
        case let .expireAt(key, at):
            let k = KVKey(key)
            guard var e = live(k, at: clock) else { return .integer(0) }
            if at <= clock {
                remove(k)
            } else {
                e.expiresAt = at
                put(k, e)
            }
            return .integer(1)
        case let .persist(key):
            let k = KVKey(key)
            guard var e = live(k, at: clock), e.expiresAt != nil else { return .integer(0) }
            e.expiresAt = nil
            put(k, e)
            return .integer(1)
        }
    }

    private func put(_ k: KVKey, _ e: KVEntry) {
        let before = entries.updateValue(e, forKey: k)
        if before?.expiresAt != nil { volatileCount -= 1 }
        if let t = e.expiresAt {
            volatileCount += 1
            if before?.expiresAt != t { expiries.insert(ExpiryMark(at: t, key: k)) }
        }
    }

    private func remove(_ k: KVKey) {
        if let before = entries.removeValue(forKey: k), before.expiresAt != nil { volatileCount -= 1 }
    }

    /// Deletes every entry whose expiry is at or before the clock.
    public func sweep() {
        while let m = expiries.min, m.at <= clock {
            _ = expiries.popMin()
            if let e = entries[m.key], e.expiresAt == m.at { remove(m.key) }
        }
        // Stale marks (keys rewritten or deleted) go when their time comes; rebuild if they pile up.
        if expiries.count > 2 * volatileCount + 4096 {
            expiries = Heap(entries.compactMap { k, e in e.expiresAt.map { ExpiryMark(at: $0, key: k) } })
        }
    }

    // MARK: Reading

    /// The entry for `key` if it has not expired at `now`.
    public func live(_ key: KVKey, at now: Int64) -> KVEntry? {
        guard let e = entries[key] else { return nil }
        if let t = e.expiresAt, t <= now { return nil }
        return e
    }

    /// The time reads judge expiry by: the later of `wallClock` and the group clock.
    public func readTime(wallClock: Int64) -> Int64 { max(wallClock, clock) }

    /// Keys matching `pattern` that are live at `now`.
    public func keys(matching pattern: [UInt8], at now: Int64) -> [[UInt8]] {
        let glob = GlobPattern(pattern)
        var out: [[UInt8]] = []
        for (k, e) in entries {
            if let t = e.expiresAt, t <= now { continue }
            if glob.matches(k.bytes) { out.append(k.bytes) }
        }
        return out
    }

    /// Replaces the whole store (a received state).
    public func install(entries: [KVKey: KVEntry], clock: Int64) {
        self.entries = entries
        self.clock = clock
        volatileCount = entries.values.reduce(0) { $0 + ($1.expiresAt == nil ? 0 : 1) }
        expiries = Heap(entries.compactMap { k, e in e.expiresAt.map { ExpiryMark(at: $0, key: k) } })
        sweep()
    }

    /// Empties the store (before a state transfer).
    public func reset() { install(entries: [:], clock: 0) }

    /// Redis's strict integer syntax: optional '-', no leading zeros, no blanks, fits Int64.
    public static func parseInteger(_ b: [UInt8]) -> Int64? {
        guard !b.isEmpty, b.count <= 20 else { return nil }
        var i = 0
        var negative = false
        if b[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            guard b.count > 1 else { return nil }
        }
        if b[i] == 48 && b.count > i + 1 { return nil }  // leading zero
        if b[i] == 48 && negative { return nil }  // "-0"
        var v: Int64 = 0
        while i < b.count {
            let d = b[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }
}
