import Foundation
import FuzzHarness
import Testing

/// The fuzzer's corpus of interesting inputs (Tests/FuzzCorpus, from `make fuzz`), replayed
/// through the same harness: a regression test for every decoder. Plus a seeded random pass,
/// so the harness itself is exercised even where libFuzzer is not available.
@Suite struct FuzzCorpusTests {
    static var corpus: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FuzzCorpus")
    }

    @Test func corpusReplaysWithoutTrapping() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.corpus, includingPropertiesForKeys: nil)
        #expect(files.count >= 50, "the corpus should hold the fuzzer's interesting inputs")
        let harness = FuzzHarness()
        for f in files.sorted(by: { $0.lastPathComponent < $1.lastPathComponent }) {
            let data = try Data(contentsOf: f)
            data.withUnsafeBytes { harness.run($0) }
        }
        #expect(harness.intact)
    }

    @Test func seededRandomInputsDoNotTrap() {
        let seed = UInt64.random(in: 0 ... .max)
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let harness = FuzzHarness()
        for _ in 0 ..< 20_000 {
            let n = Int(next() % 300)
            let bytes = (0 ..< n).map { _ in UInt8(truncatingIfNeeded: next()) }
            bytes.withUnsafeBytes { harness.run($0) }
        }
        #expect(harness.intact, "seed \(seed)")
    }
}
