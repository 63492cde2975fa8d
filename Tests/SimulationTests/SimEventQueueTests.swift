import Ensemble
import Testing
@testable import Simulation

@Suite struct SimEventQueueTests {
    @Test func popsInTimeThenInsertionOrder() {
        let seed: UInt64 = 2024
        var random = SimRandom(seed: seed)
        var queue = SimEventQueue()
        var pushed: [(time: Int64, seq: UInt64)] = []
        for i in 0..<2_000 {
            let time = Int64(random.int(in: 0..<50))
            let seq = queue.push(time: Time(nanoseconds: time), kind: .driver, ref: i)
            pushed.append((time, seq))
            if i % 7 == 0, let e = queue.popFirst() {
                pushed.removeAll { $0.seq == e.seq }
                #expect(!pushed.contains { ($0.time, $0.seq) < (e.time, e.seq) }, "seed \(seed)")
            }
        }
        let expected = pushed.sorted { ($0.time, $0.seq) < ($1.time, $1.seq) }.map(\.seq)
        var popped: [UInt64] = []
        while let e = queue.popFirst() { popped.append(e.seq) }
        #expect(popped == expected, "seed \(seed)")
        #expect(queue.isEmpty)
    }
}
