import Ensemble
import Testing
@testable import Simulation

@Suite struct SimSchedulingTests {
    @Test func simultaneousEventsRunInInsertionOrder() {
        let world = SimWorld(seed: 1)
        var log: [String] = []
        let times: [Int64] = [3, 1, 2, 1, 3, 1, 2]
        var tokens: [SimEventToken] = []
        for (i, t) in times.enumerated() {
            tokens.append(world.schedule(at: .milliseconds(t), label: "e\(i)") { log.append("e\(i)@\(world.now.milliseconds)") })
        }
        #expect(world.cancel(tokens[4]))
        #expect(!world.cancel(tokens[4]))
        // An event at the current instant, queued by an event, runs after those already queued.
        world.schedule(at: .milliseconds(1), label: "spawner") {
            world.schedule(at: world.now) { log.append("spawned@\(world.now.milliseconds)") }
        }
        world.run(until: .milliseconds(10))
        #expect(log == ["e1@1", "e3@1", "e5@1", "spawned@1", "e2@2", "e6@2", "e0@3"])
        #expect(world.now == .milliseconds(10))
        #expect(!world.cancel(tokens[0]))
        #expect(world.traceLines.contains("0.001000000 event #2 e1"))
    }

    @Test func runVariants() {
        let world = SimWorld(seed: 1)
        var fired: [Int64] = []
        for ms in [1, 2, 3, 4, 5] as [Int64] {
            world.schedule(at: .milliseconds(ms)) { fired.append(ms) }
        }
        #expect(world.nextEventTime == .milliseconds(1))
        #expect(world.step())
        #expect(world.now == .milliseconds(1))
        world.run(for: .milliseconds(1))
        #expect(fired == [1, 2] && world.now == .milliseconds(2))
        #expect(world.run(until: { fired.count == 4 }, timeout: .seconds(1)))
        #expect(world.now == .milliseconds(4))
        #expect(!world.run(until: { fired.count == 10 }, timeout: .milliseconds(10)))
        #expect(world.now == .milliseconds(14))
        #expect(fired == [1, 2, 3, 4, 5])
        #expect(world.runUntilIdle())
        #expect(!world.step())
        #expect(world.eventsExecuted == 5)

        // A self-rearming event never drains: the limit stops it.
        var ticks = 0
        func tick() {
            ticks += 1
            world.schedule(after: .milliseconds(1)) { tick() }
        }
        tick()
        #expect(!world.runUntilIdle(limit: 100))
        #expect(ticks == 101)
    }

    @Test func schedulingInThePastRunsNow() {
        let world = SimWorld(seed: 1)
        world.run(until: .milliseconds(5))
        var at: Time?
        world.schedule(at: .milliseconds(1)) { at = world.now }
        world.runUntilIdle()
        #expect(at == .milliseconds(5))
    }
}
