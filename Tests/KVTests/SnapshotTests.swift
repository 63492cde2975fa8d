// State transfer's format: a store streamed in chunks of any size (entries spanning chunks)
// arrives equal; a copy taken at the start is not disturbed by later writes; malformed
// snapshots throw.

@testable import KVCore
import Testing

struct SnapshotTests {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    func filled(_ n: Int) -> KVStore {
        let s = KVStore()
        var cmds: [WriteCommand] = []
        for i in 0 ..< n {
            let big = i % 50 == 0 ? [UInt8](repeating: UInt8(i & 0xff), count: 5000) : b("value \(i)")
            cmds.append(.set(key: b("key\(i)"), value: big, expiry: i % 3 == 0 ? .at(100_000 + Int64(i)) : .none, condition: .always, returnOld: false))
        }
        _ = s.apply(WriteBatch(sequence: 1, time: 1234, commands: cmds))
        return s
    }

    func transfer(_ s: KVStore, chunk: Int, mutate: (() -> Void)? = nil) throws -> KVStore {
        var w = SnapshotWriter(s)
        mutate?()
        var loader = SnapshotLoader()
        var chunks = 0
        while let c = w.next(maxBytes: chunk) {
            #expect(c.count <= max(64, chunk))
            try loader.feed(c)
            chunks += 1
        }
        #expect(chunks >= 1)
        let (entries, clock) = try loader.finish()
        let t = KVStore()
        t.install(entries: entries, clock: clock)
        return t
    }

    @Test func roundTripsAtEveryChunkSize() throws {
        let s = filled(500)
        for size in [64, 100, 4096, 65536, 1 << 22] {
            let t = try transfer(s, chunk: size)
            #expect(t.entries == s.entries && t.clock == s.clock && t.digest == s.digest && t.volatileCount == s.volatileCount)
        }
        let e = try transfer(KVStore(), chunk: 1024)
        #expect(e.count == 0)
    }

    @Test func theSnapshotIsTakenAtTheStart() throws {
        let s = filled(100)
        let before = s.digest
        let t = try transfer(s, chunk: 256) { _ = s.apply(WriteBatch(sequence: 2, time: 2000, commands: [.flushAll])) }
        #expect(t.digest == before && s.count == 0)
    }

    @Test func malformedSnapshotsThrow() throws {
        var w = SnapshotWriter(filled(20))
        var all: [UInt8] = []
        while let c = w.next(maxBytes: 1 << 20) { all += c }
        var l = SnapshotLoader()
        #expect(throws: KVFormatError.self) { try l.feed(b("XXXX")) }
        var truncated = SnapshotLoader()
        try truncated.feed(Array(all.dropLast(3)))
        #expect(throws: KVFormatError.self) { _ = try truncated.finish() }
        var rng = SplitMix(seed: 3)
        for _ in 0 ..< 2000 {
            var x = SnapshotLoader()
            var junk = all
            for _ in 0 ..< 3 { junk[Int(rng.next() % UInt64(junk.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? x.feed(junk)
            _ = try? x.finish()
        }
    }
}
