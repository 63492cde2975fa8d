import Ensemble
import Testing
@testable import Simulation

@Suite struct SimRandomTests {
    /// Values from the reference C implementations (splitmix64.c, xoshiro256starstar.c).
    @Test func matchesReferenceImplementation() {
        var sm: UInt64 = 0
        #expect(SimRandom.splitMix64(&sm) == 0xE220_A839_7B1D_CDAF)

        let expected: [(UInt64, [UInt64])] = [
            (0, [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0, 0x6AA5_94F1_262D_2D2C]),
            (42, [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1]),
            (0xDEAD_BEEF, [0xC555_5444_A74D_7E83, 0x65C3_0D37_B4B1_6E38, 0x54F7_7320_0A4E_FA23, 0x429A_ED75_FB95_8AF7]),
        ]
        for (seed, values) in expected {
            var r = SimRandom(seed: seed)
            #expect((0..<4).map { _ in r.next() } == values, "seed \(seed)")
        }
    }

    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = SimRandom(seed: 7), b = SimRandom(seed: 7), c = SimRandom(seed: 8)
        let sa = (0..<100).map { _ in a.next() }
        #expect(sa == (0..<100).map { _ in b.next() })
        #expect(sa != (0..<100).map { _ in c.next() })
    }

    @Test func streamsAndSplitsAreDistinct() {
        let seed: UInt64 = 99
        var base = SimRandom(seed: seed)
        var s1 = SimRandom(seed: seed, stream: 1)
        var s2 = SimRandom(seed: seed, stream: 2)
        var parent = SimRandom(seed: seed)
        var child = parent.split()
        let first = [base.next(), s1.next(), s2.next(), parent.next(), child.next()]
        #expect(Set(first).count == first.count, "seed \(seed)")
    }

    @Test func rangesAreRespectedAndCovered() {
        let seed: UInt64 = 12345
        var r = SimRandom(seed: seed)
        var seen = Set<Int>()
        for _ in 0..<10_000 {
            let v = r.int(in: -3..<4)
            #expect((-3..<4).contains(v), "seed \(seed)")
            seen.insert(v)
            let d = r.double()
            #expect(d >= 0 && d < 1, "seed \(seed)")
            let c = r.int(in: 5...6)
            #expect(c == 5 || c == 6, "seed \(seed)")
            let t = r.time(in: Time.microseconds(100)...Time.microseconds(200))
            #expect(t >= .microseconds(100) && t <= .microseconds(200), "seed \(seed)")
        }
        #expect(seen.count == 7, "seed \(seed)")
        _ = r.int(in: Int.min...Int.max)  // full range: must not trap
        _ = r.int(in: Int.min..<Int.max)
        let single = r.int(in: 9..<10)
        #expect(single == 9)
    }

    @Test func chanceAtTheEdgesDrawsNothing() {
        let seed: UInt64 = 5
        var a = SimRandom(seed: seed)
        var b = SimRandom(seed: seed)
        let never = a.chance(0), always = a.chance(1)
        let fixed = a.time(in: Time.microseconds(3)...Time.microseconds(3))
        #expect(!never && always && fixed == .microseconds(3))
        let (nextA, nextB) = (a.next(), b.next())
        #expect(nextA == nextB, "seed \(seed)")
        var hits = 0
        for _ in 0..<10_000 where a.chance(0.25) { hits += 1 }
        #expect(hits > 2_200 && hits < 2_800, "seed \(seed): \(hits) hits")
    }
}
