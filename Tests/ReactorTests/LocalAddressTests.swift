import Ensemble
import Logging
import Testing
@testable import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// Binding and advertising: the address others use is never 0.0.0.0, and sends that fail are
/// counted by reason and logged once.
@Suite struct LocalAddressTests {
    @Test func aLocalRendezvousMeansLoopback() throws {
        let r = try LocalAddress.forMember(bind: nil, port: 0, rendezvous: [.loopback(port: 6788)])
        #expect(r.bind == .loopback(port: 0))
        #expect(r.advertise == Address.loopbackIP)
        let none = try LocalAddress.forMember(bind: nil, port: 4000, rendezvous: [])
        #expect(none.bind == .loopback(port: 4000))
    }

    @Test func aRemoteRendezvousMeansTheRoutedAddress() throws {
        // Any address outside this host: the kernel names the source it would use (no packet).
        let remote = Address(ip: 0xC633_6401, port: 6788)  // 198.51.100.1 (documentation range)
        guard let routed = try? LocalAddress.route(toward: remote) else { return }  // no network here
        #expect(routed != 0 && !LocalAddress.isLoopback(routed))
        let r = try LocalAddress.forMember(bind: nil, port: 0, rendezvous: [.loopback(port: 1), remote])
        #expect(r.bind.ip == routed && r.advertise == routed)
    }

    @Test func anExplicitBindWinsAndTheWildcardAdvertisesTheRoute() throws {
        let explicit = try LocalAddress.forMember(bind: Address(ip: Address.loopbackIP, port: 5), rendezvous: [Address(ip: 0x0A00_0001, port: 1)])
        #expect(explicit.bind == Address(ip: Address.loopbackIP, port: 5) && explicit.advertise == Address.loopbackIP)
        let any = try LocalAddress.forMember(bind: Address(ip: 0, port: 0), rendezvous: [.loopback(port: 6788)])
        #expect(any.bind.ip == 0 && any.advertise == Address.loopbackIP)
    }

    @Test func aWildcardTransportAdvertisesARealAddress() throws {
        let reactor = Reactor()
        let t = try UDPTransport(reactor: reactor, bind: Address(ip: 0, port: 0), advertise: Address.loopbackIP)
        #expect(t.localAddress.ip == Address.loopbackIP && t.localAddress.port != 0)
        let u = try UDPTransport(reactor: reactor, bind: Address(ip: 0, port: 0))
        #expect(u.localAddress.ip != 0)
        // Bound to every interface, it receives on the advertised address.
        var got = false
        final class D: TransportDelegate {
            let hit: () -> Void
            init(_ hit: @escaping () -> Void) { self.hit = hit }
            func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) { hit() }
            func transportWake(_ transport: any Transport, now: Time) {}
            func transportWillIdle(_ transport: any Transport) {}
        }
        let d = D { got = true }
        t.delegate = d
        let s = try UDPSocket(reactor: reactor) { _, _ in }
        s.send([1], to: t.localAddress)
        #expect(reactor.run(until: { got }, timeout: .seconds(5)))
        t.delegate = nil
    }

    @Test func failedSendsAreCountedByReasonAndLoggedOncePerDestination() throws {
        let reactor = Reactor()
        let log = CapturedLog()
        let s = try UDPSocket(reactor: reactor) { _, _ in }  // bound to 127.0.0.1
        s.label = "member M of group G"
        s.logger = Logger(label: "test") { _ in CapturingHandler(log) }
        let far = Address(ip: 0x0A4D_00FE, port: 6788)  // 10.77.0.254: unreachable from 127.0.0.1
        for _ in 0 ..< 5 { #expect(!s.send([1, 2, 3], to: far)) }
        #expect(!s.send([1], to: Address(ip: 0x0A4D_00FD, port: 6788)))
        #expect(s.sendFailures == 6)
        #expect(s.sendFailuresByReason == [EINVAL: 6])
        #expect(s.sendFailureSummary == "Invalid argument (errno 22) 6")
        #expect(log.lines.count == 2, "\(log.lines)")
        #expect(log.lines.allSatisfy { $0.level == .warning })
        let first = log.lines.first?.message ?? ""
        #expect(first.contains("member M of group G: cannot send to 10.77.0.254:6788: Invalid argument"))
        #expect(first.contains("bound to 127.0.0.1"))
    }
}

final class CapturedLog: @unchecked Sendable {
    var lines: [(level: Logger.Level, message: String)] = []
}

struct CapturingHandler: LogHandler {
    let sink: CapturedLog
    init(_ sink: CapturedLog) { self.sink = sink }
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        sink.lines.append((event.level, event.message.description))
    }
}
