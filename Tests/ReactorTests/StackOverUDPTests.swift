import Ensemble
import Testing
@testable import Reactor

/// An application that numbers its messages and checks what it receives.
final class CountingApp: GroupApplication {
    var installed: [ViewState] = []
    var casts: [[UInt64]] = []
    var sends: [[UInt64]] = []
    var castBytes = 0
    var sendBytes = 0
    var writableCalls = 0

    func install(view: ViewState, rank: Rank) {
        installed.append(view)
        casts = Array(repeating: [], count: view.count)
        sends = Array(repeating: [], count: view.count)
    }
    func receiveCast(from origin: Rank, _ payload: Packet) {
        casts[origin].append(Self.sequence(payload))
        castBytes += payload.count
    }
    func receiveSend(from origin: Rank, _ payload: Packet) {
        sends[origin].append(Self.sequence(payload))
        sendBytes += payload.count
    }
    func writable(peer: Rank?) { writableCalls += 1 }

    static func payload(_ seq: UInt64, size: Int) -> [UInt8] {
        var b = [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: max(size, 8))
        withUnsafeBytes(of: seq.bigEndian) { for i in 0 ..< 8 { b[i] = $0[i] } }
        return b
    }
    static func sequence(_ p: Packet) -> UInt64 {
        p.withBytes { $0.count >= 8 ? UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) : .max }
    }
}

@Suite struct StackOverUDPTests {
    static let protocolStack = "Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    /// Four members in one process on the reactor, one static view: every member casts and
    /// sends (some messages larger than frag_max_len); all arrive, once, in FIFO order.
    @Test func fourMembersExchangeCastsAndSendsOverUDP() throws {
        let reactor = Reactor()
        let n = 4
        let transports = try (0 ..< n).map { _ in try UDPTransport(reactor: reactor) }
        let ids = transports.enumerated().map { i, t in
            EndpointID(host: t.localAddress.ip, port: t.localAddress.port, counter: UInt16(i), incarnation: 1)
        }
        let view = ViewState(group: GroupID("udp-test"), protocolStack: Self.protocolStack, ltime: 1,
                             members: ids, addresses: transports.map(\.localAddress))
        let params = try Parameters(parsing: "frag_max_len=2000:int;stable_sweep=0.05:time;pt2pt_sweep=0.05:time")
        let apps = (0 ..< n).map { _ in CountingApp() }
        let endpoints = try (0 ..< n).map { i in
            try GroupEndpoint(id: ids[i], group: view.group, transport: transports[i],
                              protocolStack: Self.protocolStack, params: params, application: apps[i])
        }
        for e in endpoints { try e.join(view: view) }

        let castsEach = 300
        let sendsEach = 100
        var sent = 0
        // Paced: a few messages per member per millisecond, sizes up to 3x frag_max_len.
        let pacer = reactor.every(.milliseconds(1)) {
            guard sent < castsEach else { return }
            for (i, e) in endpoints.enumerated() {
                let size = (sent % 10 == 0) ? 5000 : 100
                #expect(e.cast(CountingApp.payload(UInt64(sent), size: size)) == .sent)
                if sent < sendsEach {
                    #expect(e.send(to: (i + 1) % n, CountingApp.payload(UInt64(sent), size: size + 1)) == .sent)
                }
            }
            sent += 1
        }
        let done = reactor.run(until: {
            apps.enumerated().allSatisfy { i, app in
                (0 ..< n).allSatisfy { o in o == i || app.casts[o].count == castsEach }
                    && app.sends[(i + n - 1) % n].count == sendsEach
            }
        }, timeout: .seconds(30))
        pacer.cancel()
        #expect(done)
        for (i, app) in apps.enumerated() {
            #expect(app.casts[i].isEmpty, "no self-delivery")
            for o in 0 ..< n where o != i {
                #expect(app.casts[o] == (0 ..< UInt64(castsEach)).map { $0 }, "casts from \(o) at \(i) in FIFO order, no loss, no duplicate")
            }
            #expect(app.sends[(i + n - 1) % n] == (0 ..< UInt64(sendsEach)).map { $0 })
        }
        for e in endpoints { #expect(e.counters.malformed == 0 && e.counters.unknownView == 0) }
    }
}
