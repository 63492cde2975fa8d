// The store: writes applied deterministically (two stores fed the same batches end equal,
// with equal digests), expiry against the group clock, INCR's rules, batch encoding.

@testable import KVCore
import Testing

struct KVStoreTests {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }
    func set(_ k: String, _ v: String, _ e: WriteCommand.SetExpiry = .none, _ c: WriteCommand.SetCondition = .always, get: Bool = false) -> WriteCommand {
        .set(key: b(k), value: b(v), expiry: e, condition: c, returnOld: get)
    }

    @Test func setGetDelIncr() {
        let s = KVStore()
        let r = s.apply(WriteBatch(sequence: 1, time: 1000, commands: [
            set("a", "1"), .incrBy(key: b("a"), delta: 41), .incrBy(key: b("n"), delta: -3), set("t", "x"),
            .delete([b("t"), b("missing")]), .incrBy(key: b("a"), delta: Int64.max), set("s", "abc"), .incrBy(key: b("s"), delta: 1),
            set("a", "z", .none, .ifAbsent), set("q", "1", .none, .ifPresent), set("a", "new", get: true),
        ]))
        #expect(r == [.ok, .integer(42), .integer(-3), .ok, .integer(1), .error("ERR increment or decrement would overflow"), .ok,
                      .error("ERR value is not an integer or out of range"), .null, .null, .bulk(b("42"))])
        #expect(s.live(KVKey("a"), at: 0)?.value == b("new"))
        #expect(s.live(KVKey("n"), at: 0)?.value == b("-3"))
        #expect(s.live(KVKey("q"), at: 0) == nil)
        #expect(s.count == 3)
    }

    @Test func expiryFollowsTheGroupClock() {
        let s = KVStore()
        _ = s.apply(WriteBatch(sequence: 1, time: 1000, commands: [set("e", "v", .at(1500)), set("p", "v")]))
        #expect(s.volatileCount == 1)
        #expect(s.live(KVKey("e"), at: s.readTime(wallClock: 1200)) != nil)
        // A reader whose wall clock passed the expiry does not see it, though it is not swept yet.
        #expect(s.live(KVKey("e"), at: s.readTime(wallClock: 1600)) == nil)
        #expect(s.count == 2)
        // A batch from a lagging clock does not move the group clock back.
        _ = s.apply(WriteBatch(sequence: 2, time: 900, commands: []))
        #expect(s.clock == 1000)
        _ = s.apply(WriteBatch(sequence: 3, time: 1500, commands: []))  // a tick: sweeps
        #expect(s.count == 1 && s.volatileCount == 0)
        // An expiry at or before the clock deletes at once; INCR keeps the TTL; PERSIST drops it.
        let r = s.apply(WriteBatch(sequence: 4, time: 2000, commands: [
            set("old", "v", .at(1999)), .set(key: b("c"), value: b("1"), expiry: .at(5000), condition: .always, returnOld: false),
            .incrBy(key: b("c"), delta: 1), .expireAt(key: b("p"), at: 9000), .persist(key: b("p")), .expireAt(key: b("nope"), at: 9000),
            set("c", "7", .keep),
        ]))
        #expect(r == [.ok, .ok, .integer(2), .integer(1), .integer(1), .integer(0), .ok])
        #expect(s.live(KVKey("old"), at: 0) == nil)
        #expect(s.live(KVKey("c"), at: 0) == KVEntry(value: b("7"), expiresAt: 5000))
        #expect(s.live(KVKey("p"), at: 0)?.expiresAt == nil)
    }

    @Test func sameBatchesSameStoreAndDigest() {
        var rng = SplitMix(seed: 7)
        let a = KVStore(), c = KVStore()
        var t: Int64 = 10_000
        for seq in 1 ... 300 {
            var cmds: [WriteCommand] = []
            for _ in 0 ..< Int(rng.next() % 5) {
                let k = b("k\(rng.next() % 40)")
                switch rng.next() % 7 {
                case 0: cmds.append(.set(key: k, value: b("v\(rng.next() % 9)"), expiry: .at(t + Int64(rng.next() % 3000)), condition: .always, returnOld: false))
                case 1: cmds.append(.delete([k]))
                case 2: cmds.append(.incrBy(key: k, delta: Int64(rng.next() % 10)))
                case 3: cmds.append(.mset(pairs: [k, b("m"), b("k\(rng.next() % 40)"), b("n")]))
                case 4: cmds.append(.expireAt(key: k, at: t + Int64(rng.next() % 2000)))
                case 5 where rng.next() % 20 == 0: cmds.append(.flushAll)
                default: cmds.append(.set(key: k, value: b("\(rng.next() % 100)"), expiry: .none, condition: .always, returnOld: false))
                }
            }
            t += Int64(rng.next() % 300) - 50  // clocks jitter
            let batch = WriteBatch(sequence: UInt64(seq), time: t, commands: cmds)
            let decoded = try? WriteBatch(decoding: batch.encoded())
            #expect(decoded == batch)
            #expect(a.apply(batch) == c.apply(decoded ?? batch))
        }
        #expect(a.entries == c.entries)
        #expect(a.digest == c.digest)
        #expect(a.count > 0)
        let empty = KVStore()
        #expect(empty.digest == String(repeating: "0", count: 32))
        _ = c.apply(WriteBatch(sequence: 999, time: t, commands: [set("extra", "1")]))
        #expect(a.digest != c.digest)
    }

    @Test func batchBuilderMatchesEncoding() throws {
        var builder = BatchBuilder()
        let cmds: [WriteCommand] = [set("a", "b", .at(-5)), .delete([]), .mset(pairs: [b("x"), b("y")]), .flushAll, .persist(key: [])]
        for c in cmds { builder.add(c) }
        let bytes = builder.take(sequence: 77, time: -1)
        #expect(try WriteBatch(decoding: bytes) == WriteBatch(sequence: 77, time: -1, commands: cmds))
        #expect(builder.isEmpty)
    }

    @Test func malformedBatchesThrow() {
        var rng = SplitMix(seed: 99)
        let good = WriteBatch(sequence: 3, time: 5, commands: [set("k", "v", .at(9)), .mset(pairs: [b("a"), b("b")])]).encoded()
        for cut in 0 ..< good.count { #expect(throws: KVFormatError.self) { try WriteBatch(decoding: Array(good.prefix(cut))) } }
        #expect(throws: KVFormatError.self) { try WriteBatch(decoding: good + [0]) }
        for _ in 0 ..< 5000 {
            let junk = (0 ..< Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? WriteBatch(decoding: [1] + junk)
        }
    }

    @Test func strictIntegers() {
        for ok in ["0", "-1", "9223372036854775807", "-9223372036854775808", "42"] { #expect(KVStore.parseInteger(b(ok)) != nil, "\(ok)") }
        for bad in ["", "-", "01", "-0", " 1", "1 ", "+1", "9223372036854775808", "1a", "0x10"] { #expect(KVStore.parseInteger(b(bad)) == nil, "\(bad)") }
    }
}
