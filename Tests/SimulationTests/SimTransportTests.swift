import Ensemble
import Testing
@testable import Simulation

@Suite struct SimTransportTests {
    private func oneHost() throws -> (SimWorld, SimTransport, DelegateRecorder) {
        let world = SimWorld(seed: 1)
        let p = makeHosts(world, count: 1)[0]
        let host = try #require(Host.of(p))
        return (world, host.transport, host.recorder)
    }

    @Test func wakeReplacesEarlierRequest() throws {
        let (world, t, r) = try oneHost()
        t.wake(at: .milliseconds(10))
        t.wake(at: .milliseconds(5))
        world.run(until: .milliseconds(20))
        #expect(r.events == [.wake(.milliseconds(5))])

        t.wake(at: .milliseconds(25))
        t.wake(at: .milliseconds(30))
        world.run(until: .milliseconds(40))
        #expect(r.wakeTimes == [.milliseconds(5), .milliseconds(30)])

        t.wake(at: .milliseconds(45))
        t.wake(at: .milliseconds(45))
        world.run(until: .milliseconds(50))
        #expect(r.wakeTimes == [.milliseconds(5), .milliseconds(30), .milliseconds(45)])
    }

    @Test func wakeNeverCancels() throws {
        let (world, t, r) = try oneHost()
        t.wake(at: .milliseconds(10))
        t.wake(at: .never)
        #expect(world.nextEventTime == nil)
        world.run(until: .milliseconds(20))
        #expect(r.events.isEmpty)
    }

    @Test func wakeInThePastFiresFromTheLoopNotInsideTheCall() throws {
        let (world, t, r) = try oneHost()
        var log: [String] = []
        world.schedule(at: .milliseconds(3)) {
            t.wake(at: .milliseconds(1))
            log.append("after wake call: \(r.events.count) events")
        }
        world.schedule(at: .milliseconds(3)) { log.append("second event: \(r.events.count) events") }
        world.run(until: .milliseconds(10))
        #expect(log == ["after wake call: 0 events", "second event: 0 events"])
        #expect(r.events == [.wake(.milliseconds(3))])
    }

    @Test func periodicWakeFromTheDelegate() throws {
        let (world, t, r) = try oneHost()
        r.onWake = { transport in transport.wake(at: transport.now + .milliseconds(1)) }
        t.wake(at: .milliseconds(1))
        world.run(until: Time.microseconds(5_500))
        #expect(r.wakeTimes == (1...5).map { Time.milliseconds($0) })
    }

    @Test func idleCallbacksCoalesceAndComeAfterQueuedEvents() throws {
        let (world, t, r) = try oneHost()
        var log: [String] = []
        r.onIdle = { _ in log.append("idle") }
        world.schedule(at: .milliseconds(1)) {
            t.requestIdleCallback()
            t.requestIdleCallback()
            log.append("first")
            t.requestIdleCallback()
        }
        world.schedule(at: .milliseconds(1)) { log.append("second") }
        world.schedule(at: .milliseconds(2)) { log.append("later") }
        world.run(until: .milliseconds(5))
        #expect(log == ["first", "second", "idle", "later"])
        #expect(r.idleTimes == [.milliseconds(1)])

        // A request made inside the callback is a new one.
        var again = true
        r.onIdle = { transport in
            if again { again = false; transport.requestIdleCallback() }
        }
        t.requestIdleCallback()
        world.run(until: .milliseconds(6))
        #expect(r.idleTimes == [.milliseconds(1), .milliseconds(5), .milliseconds(5)])
    }

    @Test func closeIsIdempotentAndSilencesTheTransport() throws {
        let (world, t, r) = try oneHost()
        let p = t.process
        t.wake(at: .milliseconds(1))
        t.requestIdleCallback()
        t.close()
        t.close()
        #expect(!t.isOpen)
        #expect(!p.isBound(port: 7000))
        #expect(!t.send(encode(1), to: p.address(port: 7000)))
        t.wake(at: .milliseconds(2))
        world.run(until: .milliseconds(5))
        #expect(r.events.isEmpty)
        #expect(world.counters.rejectedAtSender == 1)
        // The port can be bound again.
        let again = p.makeTransport(port: 7000)
        #expect(again.localAddress == Address(ip: SimWorld.ipBase + 1, port: 7000))
        #expect(world.traceLines.contains("0.000000000 close 10.0.0.1:7000"))
    }

    @Test func addressesAndEphemeralPorts() {
        let world = SimWorld(seed: 1)
        var transports: [SimTransport] = []
        let a = world.addProcess(name: "a") { p in
            transports.append(p.makeTransport(port: 0))
            transports.append(p.makeTransport(port: 0))
        }
        let b = world.addProcess(name: "b") { _ in }
        #expect(Address.ipString(a.ip) == "10.0.0.1" && Address.ipString(b.ip) == "10.0.0.2")
        #expect(a.id == 0 && b.id == 1 && a.incarnation == 0 && a.isUp)
        #expect(transports.map(\.localAddress.port) == [49152, 49153])
        #expect(a.boundAddresses == transports.map(\.localAddress))
        #expect(world.process(ip: b.ip) === b)
        #expect(world.process(ip: SimWorld.ipBase + 3) == nil)
        #expect(world.process(ip: Address.loopbackIP) == nil)
    }
}
