import Ensemble
import Testing
@testable import Simulation

@Suite struct SimBenchmarkTests {
    /// Prints how many simulated datagrams per real second the simulator handles (not an
    /// assertion: timings depend on the machine and the build configuration).
    @Test func datagramsPerSecond() {
        let seed: UInt64 = 42
        for mode in [TraceMode.off, .digestOnly, .full] {
            let world = SimWorld(seed: seed, trace: mode)
            world.defaultFaults = LinkFaults(drop: 0.01, duplicate: 0.01, reorder: 0.01)
            let count = 16
            for i in 0..<count {
                world.addProcess(name: "n\(i)") { p in
                    _ = PingNode(p, processCount: count, interval: .microseconds(500), payload: 64)
                }
            }
            let clock = ContinuousClock()
            let start = clock.now
            world.run(until: .milliseconds(mode == .full ? 25 : 100))
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let datagrams = world.counters.sent
            let rate = Double(datagrams) / max(seconds, 1e-9)
            print("SimBenchmark trace=\(mode): \(datagrams) datagrams, \(world.eventsExecuted) events in \(seconds)s real, \(Int(rate)) datagrams/s, \(world.now.seconds / seconds)x real time (seed \(seed))")
            #expect(world.counters.delivered > 0, "seed \(seed)")
        }
    }
}
