import Ensemble
import Testing
@testable import Simulation

@Suite struct SimProcessTests {
    @Test func crashSilencesAndRestartReboots() throws {
        let world = SimWorld(seed: 21)
        var boots: [(name: String, incarnation: UInt64)] = []
        let procs = (0..<2).map { i in
            world.addProcess(name: "p\(i)") { p in
                boots.append((p.name, p.incarnation))
                _ = Host(p)
            }
        }
        let (a, b) = (procs[0], procs[1])
        let hostA = try #require(Host.of(a))
        let oldB = try #require(Host.of(b))

        oldB.transport.wake(at: .milliseconds(5))
        world.schedule(at: .milliseconds(2), label: "send then crash b") {
            hostA.transport.send(encode(1), to: b.address(port: 7000))
            oldB.transport.requestIdleCallback()
            world.crash(b)
            world.crash(b)  // idempotent
        }
        world.run(until: .milliseconds(8))
        #expect(!b.isUp)
        #expect(!oldB.transport.isOpen)
        #expect(oldB.recorder.events.isEmpty)
        #expect(b.state == nil)
        #expect(world.counters.droppedDestinationDown == 1)
        #expect(!oldB.transport.send(encode(9), to: a.address(port: 7000)))

        world.restart(b)
        #expect(b.isUp && b.incarnation == 1)
        #expect(boots.map(\.incarnation) == [0, 0, 1] && boots.map(\.name) == ["p0", "p1", "p1"])
        let newB = try #require(Host.of(b))
        #expect(newB !== oldB)

        // A datagram sent just before its sender crashes is still delivered.
        world.schedule(at: .milliseconds(10), label: "b sends and crashes") {
            newB.transport.send(encode(2), to: a.address(port: 7000))
            world.crash(b)
        }
        world.schedule(at: .milliseconds(12), label: "restart b") { world.restart(b) }
        world.schedule(at: .milliseconds(13), label: "a sends to b") {
            hostA.transport.send(encode(3), to: b.address(port: 7000))
        }
        world.runUntilIdle()
        #expect(hostA.recorder.receivedValues.map(\.value) == [2])
        #expect(b.incarnation == 2)
        let newestB = try #require(Host.of(b))
        #expect(newestB.recorder.receivedValues.map(\.value) == [3])
        #expect(newB.recorder.events.isEmpty)
        #expect(oldB.recorder.events.isEmpty)
        let lines = world.traceLines
        #expect(lines.contains("0.002000000 crash p1 p1"))
        #expect(lines.contains("0.008000000 restart p1 p1 10.0.0.2 inc=1"))
    }

    @Test func processRandomDependsOnSeedIdAndIncarnation() {
        let world = SimWorld(seed: 4)
        var draws: [UInt64] = []
        let procs = (0..<2).map { i in
            world.addProcess(name: "p\(i)") { p in draws.append(p.random.next()) }
        }
        world.restart(procs[0])
        let again = SimWorld(seed: 4)
        var draws2: [UInt64] = []
        let procs2 = (0..<2).map { i in
            again.addProcess(name: "p\(i)") { p in draws2.append(p.random.next()) }
        }
        _ = again.random.next()  // drivers drawing does not affect processes
        again.restart(procs2[0])
        #expect(draws == draws2)
        #expect(Set(draws).count == 3)
    }

    @Test func crashFromInsideACallback() throws {
        let world = SimWorld(seed: 8)
        let procs = makeHosts(world, count: 2)
        let (a, b) = (try #require(Host.of(procs[0])), try #require(Host.of(procs[1])))
        b.recorder.onReceive = { transport, _, _ in
            transport.requestIdleCallback()
            transport.wake(at: transport.now)
            world.crash(procs[1])
        }
        for i in 0..<3 { a.transport.send(encode(UInt64(i)), to: procs[1].address(port: 7000)) }
        world.runUntilIdle()
        #expect(b.recorder.receivedValues.map(\.value) == [0])
        #expect(b.recorder.events.count == 1)
        #expect(world.counters.droppedDestinationDown == 2)

        // Restarting a process that is up crashes it first.
        world.restart(procs[1])
        world.restart(procs[1])
        #expect(procs[1].incarnation == 2 && procs[1].isUp)
        #expect(world.traceLines.filter { $0.hasSuffix("crash p1 p1") }.count == 2)
    }
}
