import Ensemble
import Testing
@testable import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// The reactor notices a callback that holds the loop too long and names its watcher.
@Suite struct SlowCallbackTests {
    @Test func aSlowTimerIsReportedWithItsLabel() {
        let reactor = Reactor()
        reactor.slowCallbackThreshold = .milliseconds(20)
        var reports: [SlowCallback] = []
        reactor.onSlowCallback = { reports.append($0) }
        var fired = false
        reactor.after(.milliseconds(1), label: "the deliberately slow timer") {
            usleep(60_000)
            fired = true
        }
        #expect(reactor.run(until: { fired }, timeout: .seconds(5)))
        #expect(reports.count == 1)
        let r = reports.first
        #expect(r?.kind == .timer)
        #expect(r?.label == "the deliberately slow timer")
        #expect((r?.duration ?? .zero) >= .milliseconds(55))
        #expect(r?.description.contains("timer (the deliberately slow timer) held the loop") == true)
        #expect(reactor.slowCallbacks == 1)
    }

    @Test func fastCallbacksAreNotReported() {
        let reactor = Reactor()
        reactor.slowCallbackThreshold = .milliseconds(50)
        var reports = 0
        reactor.onSlowCallback = { _ in reports += 1 }
        var ticks = 0
        let t = reactor.every(.milliseconds(2)) { ticks += 1 }
        // Waiting between callbacks is not holding the loop.
        #expect(reactor.run(until: { ticks >= 40 }, timeout: .seconds(5)))
        t.cancel()
        #expect(reports == 0)
    }

    @Test func aSlowDatagramHandlerIsReportedAsAReceive() throws {
        let reactor = Reactor()
        reactor.slowCallbackThreshold = .milliseconds(20)
        var reports: [SlowCallback] = []
        reactor.onSlowCallback = { reports.append($0) }
        var got = false
        let a = try UDPSocket(reactor: reactor) { _, _ in
            usleep(40_000)
            got = true
        }
        a.label = "member X of group G"
        let b = try UDPSocket(reactor: reactor) { _, _ in }
        b.send([1, 2, 3], to: a.localAddress)
        #expect(reactor.run(until: { got }, timeout: .seconds(5)))
        #expect(reports.map(\.kind) == [.datagramReceive])
        #expect(reports.first?.label == "member X of group G")
    }

    @Test func idleFlushAndTransportTimersCarryTheTransportsLabel() throws {
        let reactor = Reactor()
        reactor.slowCallbackThreshold = .milliseconds(20)
        var reports: [SlowCallback] = []
        reactor.onSlowCallback = { reports.append($0) }
        let t = try UDPTransport(reactor: reactor, label: "member M of group lapa")
        final class Slow: TransportDelegate {
            var idles = 0
            var wakes = 0
            func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {}
            func transportWake(_ transport: any Transport, now: Time) { usleep(30_000); wakes += 1 }
            func transportWillIdle(_ transport: any Transport) { usleep(30_000); idles += 1 }
        }
        let d = Slow()
        t.delegate = d
        t.requestIdleCallback()
        t.wake(at: reactor.now + .milliseconds(1))
        #expect(reactor.run(until: { d.idles == 1 && d.wakes == 1 }, timeout: .seconds(5)))
        #expect(Set(reports.map(\.kind)) == [.idleFlush, .timer])
        #expect(reports.allSatisfy { $0.label.contains("member M of group lapa") })
        t.delegate = nil
        t.close()
    }

    @Test func thresholdCanBeLoweredNotRaisedAndTurnedOff() {
        let reactor = Reactor()
        #expect(reactor.slowCallbackThreshold == Reactor.defaultSlowCallbackThreshold)
        reactor.lowerSlowCallbackThreshold(to: .milliseconds(100))
        #expect(reactor.slowCallbackThreshold == .milliseconds(100))
        reactor.lowerSlowCallbackThreshold(to: .seconds(3))
        #expect(reactor.slowCallbackThreshold == .milliseconds(100))
        reactor.slowCallbackThreshold = nil
        var reports = 0
        reactor.onSlowCallback = { _ in reports += 1 }
        var fired = false
        reactor.after(.zero) { usleep(5_000); fired = true }
        #expect(reactor.run(until: { fired }, timeout: .seconds(5)))
        #expect(reports == 0)
    }
}
