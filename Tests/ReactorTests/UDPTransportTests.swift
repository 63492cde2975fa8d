import Ensemble
import Testing
@testable import Reactor

/// Records what a transport hands its delegate.
final class RecordingDelegate: TransportDelegate {
    var datagrams: [([UInt8], Address)] = []
    var wakes: [Time] = []
    var idles = 0
    var onWake: ((Time) -> Void)?

    func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        datagrams.append((Array(datagram), source))
    }
    func transportWake(_ transport: any Transport, now: Time) {
        wakes.append(now)
        onWake?(now)
    }
    func transportWillIdle(_ transport: any Transport) { idles += 1 }
}

@Suite struct UDPTransportTests {
    @Test func deliversDatagramsToTheDelegate() throws {
        let reactor = Reactor()
        let a = try UDPTransport(reactor: reactor)
        let b = try UDPTransport(reactor: reactor)
        let da = RecordingDelegate()
        a.delegate = da
        [UInt8]([9, 8, 7]).withUnsafeBytes { _ = b.send($0, to: a.localAddress) }
        #expect(reactor.run(until: { !da.datagrams.isEmpty }, timeout: .seconds(5)))
        #expect(da.datagrams.first?.0 == [9, 8, 7])
        #expect(da.datagrams.first?.1 == b.localAddress)
    }

    @Test func wakeAtFiresOnceAndLaterRequestReplacesEarlier() throws {
        let reactor = Reactor()
        let t = try UDPTransport(reactor: reactor)
        let d = RecordingDelegate()
        t.delegate = d
        t.wake(at: t.now + .milliseconds(5))
        t.wake(at: t.now + .milliseconds(15))  // replaces the first
        #expect(reactor.run(until: { !d.wakes.isEmpty }, timeout: .seconds(5)))
        reactor.run(for: .milliseconds(30))
        #expect(d.wakes.count == 1)
        if let w = d.wakes.first { #expect(w >= .milliseconds(14)) }
    }

    @Test func wakeNeverCancelsAndPastTimeFiresFromTheLoop() throws {
        let reactor = Reactor()
        let t = try UDPTransport(reactor: reactor)
        let d = RecordingDelegate()
        t.delegate = d
        t.wake(at: t.now + .milliseconds(5))
        t.wake(at: .never)
        reactor.run(for: .milliseconds(20))
        #expect(d.wakes.isEmpty)
        t.wake(at: .zero)  // in the past
        #expect(d.wakes.isEmpty)  // not from inside the call
        #expect(reactor.run(until: { d.wakes.count == 1 }, timeout: .seconds(5)))
    }

    @Test func idleCallbacksCoalesce() throws {
        let reactor = Reactor()
        let t = try UDPTransport(reactor: reactor)
        let d = RecordingDelegate()
        t.delegate = d
        t.requestIdleCallback()
        t.requestIdleCallback()
        reactor.run(for: .milliseconds(10))
        #expect(d.idles == 1)
    }

    @Test func closeStopsEverything() throws {
        let reactor = Reactor()
        let a = try UDPTransport(reactor: reactor)
        let b = try UDPTransport(reactor: reactor)
        let d = RecordingDelegate()
        a.delegate = d
        let target = a.localAddress
        a.wake(at: a.now + .milliseconds(5))
        a.close()
        a.close()
        [UInt8]([1]).withUnsafeBytes { _ = b.send($0, to: target) }
        reactor.run(for: .milliseconds(20))
        #expect(d.wakes.isEmpty && d.datagrams.isEmpty)
    }
}
