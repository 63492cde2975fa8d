import Ensemble
import Testing
@testable import Reactor

/// A member over real UDP, for the authentication and hostile-input tests.
final class AuthMember: GroupApplication {
    let transport: UDPTransport
    var endpoint: GroupEndpoint!
    var view: ViewState?
    var casts: [[UInt8]] = []
    var installs = 0

    init(reactor: Reactor, group: String, gossip: Address, key: GroupKey?, params: String = AuthMember.fast) throws {
        transport = try UDPTransport(reactor: reactor)
        endpoint = try GroupEndpoint(id: .fresh(at: transport.localAddress, counter: 0), group: GroupID(group), transport: transport,
                                     protocolStack: AuthMember.stack, params: try Parameters(parsing: params), application: self,
                                     gossip: [gossip], key: key)
        try endpoint.join()
    }

    static let stack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
    static let fast = "suspect_sweep=0.05:time;suspect_max_idle=4:int;top_sweep=0.2:time;merge_timeout=1:time"

    func install(view: ViewState, rank: Rank) {
        self.view = view
        installs += 1
    }
    func receiveCast(from origin: Rank, _ payload: Packet) { casts.append(payload.bytes) }
    func receiveSend(from origin: Rank, _ payload: Packet) {}
}

@Suite struct AuthenticationTests {
    func key(_ s: String) throws -> GroupKey { try GroupKey(secret: Array(s.utf8)) }

    /// A frame header (magic, version, kind, group, view, rank 5), then a body.
    static let sampleDatagram: [UInt8] = [0xEB, 1, 0x81] + [UInt8](repeating: 7, count: 16) + [5] + Array("hello, group".utf8)

    @Test(arguments: [GroupKey.Protection.mac, .encryption])
    func sealOpenAndTampering(protection: GroupKey.Protection) throws {
        let k = try GroupKey(secret: Array("0123456789abcdef-secret".utf8), protection: protection)
        let plain = AuthenticationTests.sampleDatagram
        var bytes = plain
        k.seal(&bytes)
        #expect(bytes.count == plain.count + k.overhead)
        #expect(bytes.withUnsafeBytes { k.open($0, Array.init) } == plain)
        for i in bytes.indices {
            var t = bytes
            t[i] ^= 0x01
            #expect(t.withUnsafeBytes { k.open($0) { _ in () } } == nil, "a flipped bit at \(i) must be caught")
        }
        #expect(bytes.dropLast().withUnsafeBytes { k.verify($0) } == false)
        let other = try GroupKey(secret: Array("another-secret-of-enough-length".utf8), protection: protection)
        #expect(!bytes.withUnsafeBytes { other.verify($0) })
        // The same secret with the other protection accepts nothing either.
        let mixed = try GroupKey(secret: Array("0123456789abcdef-secret".utf8), protection: protection == .mac ? .encryption : .mac)
        #expect(!bytes.withUnsafeBytes { mixed.verify($0) })
        #expect(throws: KeyError.self) { _ = try GroupKey(secret: [1, 2, 3]) }
    }

    /// Encryption keeps the frame header in clear (a keyless rendezvous routes by it), hides
    /// the body, and never repeats a nonce.
    @Test func encryptionHidesTheBodyAndVariesTheNonce() throws {
        let k = try GroupKey(secret: Array("0123456789abcdef-secret".utf8), protection: .encryption)
        let plain = AuthenticationTests.sampleDatagram
        var one = plain, two = plain
        k.seal(&one)
        k.seal(&two)
        #expect(Array(one.prefix(20)) == Array(plain.prefix(20)), "the frame header travels in clear")
        #expect(one != two, "two seals of the same bytes use different nonces")
        let body = Array("hello, group".utf8)
        #expect(!one.indices.contains { Array(one[$0...].prefix(body.count)) == body }, "the body must not appear in clear")
        #expect(two.withUnsafeBytes { k.open($0, Array.init) } == plain)
        var short: [UInt8] = Array(plain.prefix(10))
        k.seal(&short)
        #expect(short.isEmpty, "bytes without a frame header are refused, never sent in clear")
    }

    /// Two groups with the same name and rendezvous but different keys never merge; a member
    /// without a key cannot join either; the bad datagrams are counted.
    @Test func differentKeysStayApartAndKeylessCannotJoin() throws {
        let reactor = Reactor()
        let gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0))
        let group = "auth-\(UInt32.random(in: 0 ... .max))"
        let a = try (0 ..< 2).map { _ in try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: try key("key-number-one-1234")) }
        let b = try (0 ..< 2).map { _ in try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: try key("key-number-two-5678")) }
        let keyless = try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: nil)
        #expect(reactor.run(until: { a.allSatisfy { $0.view?.count == 2 } && b.allSatisfy { $0.view?.count == 2 } }, timeout: .seconds(10)))
        reactor.run(for: .seconds(1))  // several gossip rounds: nobody must cross over
        for m in a + b { #expect(m.view?.count == 2, "a keyed group grew to \(m.view?.count ?? 0)") }
        #expect(keyless.view?.count == 1, "the member without the key stays alone")
        let aIDs = Set(a.map(\.endpoint.id)), bIDs = Set(b.map(\.endpoint.id))
        #expect(a.allSatisfy { Set($0.view?.members ?? []) == aIDs } && b.allSatisfy { Set($0.view?.members ?? []) == bIDs })
        #expect((a + b + [keyless]).contains { $0.endpoint.counters.badMAC > 0 }, "the other groups' gossip was seen and dropped")
        withExtendedLifetime(gossip) {}
    }

    /// An encrypted group forms through a rendezvous that has no key (the frame header is in
    /// clear), delivers casts of every size in order, and nothing of them is seen on the wire;
    /// a member with the same secret but only a MAC cannot join it.
    @Test func encryptedGroupFormsAndHidesItsMessages() throws {
        let reactor = Reactor()
        let gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0))
        let group = "encrypted-\(UInt32.random(in: 0 ... .max))"
        let secret = Array("encryption-test-key-0001".utf8)
        let k = try GroupKey(secret: secret, protection: .encryption)
        let ms = try (0 ..< 3).map { _ in try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: k) }
        let macOnly = try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: try GroupKey(secret: secret))
        #expect(reactor.run(until: { ms.allSatisfy { $0.view?.count == 3 } }, timeout: .seconds(10)))
        #expect(ms[0].endpoint.status.contains("encrypted"))
        var wire: [[UInt8]] = []
        ms[0].transport.sendTap = { bytes, _ in wire.append(Array(bytes)) }
        let marker = Array("SECRET-MARKER".utf8)
        let casts = (0 ..< 20).map { i in marker + [UInt8(i)] + [UInt8](repeating: UInt8(i), count: i == 7 ? 100_000 : i * 10) }
        for c in casts { _ = ms[0].endpoint.cast(c) }
        #expect(reactor.run(until: { ms.dropFirst().allSatisfy { $0.casts.count == 20 } }, timeout: .seconds(10)))
        for m in ms.dropFirst() { #expect(m.casts == casts) }
        ms[0].transport.sendTap = nil
        #expect(!wire.isEmpty)
        #expect(!wire.contains { d in d.indices.contains { d[$0...].starts(with: marker) } }, "a cast went out in clear")
        reactor.run(for: .milliseconds(500))
        #expect(macOnly.view?.count == 1, "a member with a MAC-only key stays out")
        #expect(macOnly.endpoint.counters.badMAC > 0)
        withExtendedLifetime(gossip) {}
    }

    /// Every datagram a member sent, replayed to the others, delivers nothing twice and
    /// changes no view.
    @Test func replayedDatagramsAreNotDeliveredTwice() throws {
        let reactor = Reactor()
        let gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0))
        let group = "replay-\(UInt32.random(in: 0 ... .max))"
        let k = try key("replay-test-key-0001")
        let ms = try (0 ..< 3).map { _ in try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: k) }
        #expect(reactor.run(until: { ms.allSatisfy { $0.view?.count == 3 } }, timeout: .seconds(10)))
        var captured: [([UInt8], Address)] = []
        ms[0].transport.sendTap = { bytes, to in captured.append((Array(bytes), to)) }
        for i in 0 ..< 20 { _ = ms[0].endpoint.cast([UInt8(i), 1, 2, 3]) }
        #expect(reactor.run(until: { ms.dropFirst().allSatisfy { $0.casts.count == 20 } }, timeout: .seconds(10)))
        reactor.run(for: .milliseconds(200))
        ms[0].transport.sendTap = nil
        let views = ms.map { $0.view?.id }
        // Replay everything, twice, from another socket.
        let attacker = try UDPSocket(reactor: reactor) { _, _ in }
        #expect(!captured.isEmpty)
        for _ in 0 ..< 2 { for (bytes, to) in captured { attacker.send(bytes, to: to) } }
        reactor.run(for: .milliseconds(500))
        for m in ms.dropFirst() {
            #expect(m.casts.count == 20, "a replayed cast was delivered again")
        }
        #expect(ms.map { $0.view?.id } == views, "replays changed a view")
        withExtendedLifetime((gossip, attacker)) {}
    }

    /// 100,000 random and mutated datagrams sent to a live member over UDP: it keeps running
    /// and its view does not change. In an authenticated group every one of them is dropped
    /// for its MAC and the group's own messages still arrive, in order; without a key, a
    /// mutated copy of a genuine datagram may pass for a message (nothing can tell), but the
    /// member survives.
    @Test(arguments: [GroupKey.Protection?.none, .mac, .encryption])
    func hostileDatagramsLeaveAMemberRunning(protection: GroupKey.Protection?) throws {
        let authenticated = protection != nil
        let reactor = Reactor()
        let gossip = try GossipServer(reactor: reactor, bind: .loopback(port: 0))
        let group = "hostile-\(UInt32.random(in: 0 ... .max))"
        let k = try protection.map { p throws(KeyError) in try GroupKey(secret: Array("hostile-test-key-123".utf8), protection: p) }
        let ms = try (0 ..< 2).map { _ in try AuthMember(reactor: reactor, group: group, gossip: gossip.address, key: k) }
        #expect(reactor.run(until: { ms.allSatisfy { $0.view?.count == 2 } }, timeout: .seconds(10)))
        var genuine: [[UInt8]] = []
        ms[0].transport.sendTap = { bytes, _ in if genuine.count < 64 { genuine.append(Array(bytes)) } }
        for i in 0 ..< 10 { _ = ms[0].endpoint.cast([UInt8(i)]) }
        #expect(reactor.run(until: { ms[1].casts.count == 10 }, timeout: .seconds(10)))
        ms[0].transport.sendTap = nil
        let view = ms[1].view?.id
        let target = ms[1].transport.localAddress
        let attacker = try UDPSocket(reactor: reactor) { _, _ in }
        var rng = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 0 ... .max, using: &rng)
        func next() -> UInt64 {
            seed &+= 0x9E37_79B9_7F4A_7C15
            var z = seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            return z ^ (z >> 27)
        }
        var sent = 0
        while sent < 100_000 {
            for _ in 0 ..< 500 {
                var d: [UInt8]
                if next() % 2 == 0 || genuine.isEmpty {
                    d = (0 ..< Int(next() % 200)).map { _ in UInt8(truncatingIfNeeded: next()) }
                } else {
                    d = genuine[Int(next() % UInt64(genuine.count))]
                    for _ in 0 ..< 1 + Int(next() % 4) where !d.isEmpty { d[Int(next() % UInt64(d.count))] = UInt8(truncatingIfNeeded: next()) }
                    if next() % 8 == 0 { d = Array(d.prefix(Int(next() % UInt64(d.count + 1)))) }
                }
                attacker.send(d, to: target)
                sent += 1
            }
            reactor.run(for: .milliseconds(2))  // paced, so the socket buffer keeps up
        }
        reactor.run(for: .milliseconds(300))
        #expect(ms[1].view?.id == view, "hostile input changed the view (seed \(seed))")
        let c = ms[1].endpoint.counters
        if authenticated {
            // All but the few mutations that left a genuine datagram intact (harmless replays) or
            // that the loopback socket buffer lost.
            #expect(c.badMAC >= 99_000, "hostile datagrams are dropped for their MAC (seed \(seed))")
            #expect(ms[1].casts == (0 ..< 10).map { [UInt8($0)] })
            _ = ms[0].endpoint.cast([99])
            #expect(reactor.run(until: { ms[1].casts.last == [99] }, timeout: .seconds(5)), "the member stopped delivering (seed \(seed))")
        } else {
            #expect(c.malformed + c.foreignGroup + c.unknownView + c.badSender > 0)
            reactor.run(for: .milliseconds(200))
            #expect(ms.allSatisfy { $0.view?.id == view }, "the member is still in its view (seed \(seed))")
        }
        withExtendedLifetime((gossip, attacker)) {}
    }
}
