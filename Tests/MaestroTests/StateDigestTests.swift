import Ensemble
import Testing
import Maestro
@testable import MaestroCore

/// Cuts the members' sockets off from each other while `on` (the runtime's fault hooks): every
/// datagram from one member to another is dropped, while the rendezvous still relays their
/// gossip. With two members, a partition of one and one; `on = false` heals it.
final class Cut {
    var on = false
    var addresses: Set<Address> = []

    init(_ rt: Runtime) {
        rt.dropIncoming = { [unowned self] from in on && addresses.contains(from) }
        rt.dropOutgoing = { [unowned self] to in on && addresses.contains(to) }
    }

    func add(_ members: [TestServer]) {
        for m in members { if let a = m.localAddress { addresses.insert(a) } }
    }
}

/// A server that lost a merge does not pull a state it already holds (CSX's state digest).
@Suite struct StateDigestTests {
    static func group(_ name: String) -> String { "\(name)-\(UInt32.random(in: 0 ... .max))" }

    static func cast(_ s: TestServer, _ v: Int) {
        var m = Message()
        m << v
        s.cast(m)
    }

    /// Both members alone, each a server, after the cut.
    static func split(_ rt: Runtime, _ pair: [TestServer]) -> Bool {
        rt.run(until: { pair.allSatisfy { $0.lastView?.nmembers == 1 && $0.clsvState == .serverNormal } }, timeout: .seconds(10))
    }

    func transfers(_ s: [TestServer]) -> Int { s.reduce(0) { $0 + $1.transfersStarted } }
    func requests(_ s: [TestServer]) -> Int { s.reduce(0) { $0 + $1.providedTo.count } }

    /// Two servers, one pulled the state (whole, or streamed in chunks); a partition splits
    /// them after some casts (delivered to both before the cut), nothing is delivered while
    /// they are apart, the partition heals and they merge: the state is not transferred again,
    /// and both are servers of the merged view.
    @Test(arguments: [0, 300_000])
    func mergeWithoutTrafficDoesNotTransferAgain(blob: Int) throws {
        let rt = Runtime()
        let cut = Cut(rt)
        let ops = options(Self.group("digest-idle"), params: fastTimers)
        let a = try TestServer(ops, state: 5, blob: blob, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        let b = try TestServer(ops, state: 0, blob: blob, runtime: rt)
        let pair = [a, b]
        cut.add(pair)
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        #expect(transfers(pair) == 1 && requests(pair) == 1)
        // Casts are not delivered to their sender: each gets the other's three.
        for v in 1 ... 3 { Self.cast(a, v); Self.cast(b, 10 + v) }
        #expect(rt.run(until: { pair.allSatisfy { $0.casts.count >= 3 } }, timeout: .seconds(10)), "\(a.casts.count) \(b.casts.count)")
        #expect(a.stateDigest != nil && a.stateDigest == b.stateDigest)
        #expect(a.state == b.state, "whichever side won the first merge gave its state")

        // Split and merge again and again (the issue: 107 times in 300 s, 512 MB each time).
        for round in 1 ... 3 {
            cut.on = true
            #expect(Self.split(rt, pair))
            #expect(a.stateDigest == b.stateDigest, "nothing was delivered while apart")
            rt.run(for: .milliseconds(200))
            cut.on = false
            #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)),
                    "views: \(pair.map { $0.lastView.map { "\($0.nmembers)/\($0.servers.count)/\($0.xferServers.count)" } ?? "-" })")
            #expect(transfers(pair) == 1, "no second stateTransferCallback")
            #expect(requests(pair) == 1, "no second askStateCallback")
            #expect(a.transfersSkipped + b.transfersSkipped == round)
            #expect(pair.allSatisfy { $0.clsvState == .serverNormal })
            #expect(a.stateDigest == b.stateDigest && a.state == b.state)
        }
    }

    /// The same, but a cast is delivered in one partition while they are apart: the states
    /// may differ, so the member that lost the merge pulls the state again.
    @Test func mergeAfterADeliveryTransfersAgain() throws {
        let rt = Runtime()
        let cut = Cut(rt)
        let ops = options(Self.group("digest-busy"), params: fastTimers)
        let a = try TestServer(ops, state: 5, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        let b = try TestServer(ops, state: 0, runtime: rt)
        let pair = [a, b]
        cut.add(pair)
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        #expect(transfers(pair) == 1)

        cut.on = true
        #expect(Self.split(rt, pair))
        // a's own cast counts as delivered to a when it goes out.
        let digest = a.stateDigest
        Self.cast(a, 99)
        #expect(a.pendingSends == 0 && a.heldMessages == 0)
        #expect(a.stateDigest != digest && a.stateDigest != b.stateDigest)
        cut.on = false
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        #expect(transfers(pair) == 2, "the loser of the merge pulled the state again")
        #expect(requests(pair) == 2)
        #expect(a.transfersSkipped + b.transfersSkipped == 0)
        #expect(a.stateDigest == b.stateDigest)
    }

    /// Two servers that never met (each started the group alone, apart) merge: their states
    /// are unrelated, so one pulls the other's.
    @Test func groupsThatNeverMetTransfer() throws {
        let rt = Runtime()
        let cut = Cut(rt)
        cut.on = true
        let ops = options(Self.group("digest-strangers"), params: fastTimers)
        let a = try TestServer(ops, state: 1, runtime: rt)
        let b = try TestServer(ops, state: 2, runtime: rt)
        let pair = [a, b]
        cut.add(pair)  // before the loop runs: they never see each other until the heal
        #expect(Self.split(rt, pair))
        #expect(a.stateDigest != nil && b.stateDigest != nil && a.stateDigest != b.stateDigest)
        rt.run(for: .milliseconds(300))
        #expect(transfers(pair) == 0)
        cut.on = false
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        #expect(transfers(pair) == 1 && requests(pair) == 1)
        #expect(a.transfersSkipped + b.transfersSkipped == 0)
        #expect(a.state == b.state && a.stateDigest == b.stateDigest)
    }

    /// Two servers delivered the same casts in the same views: equal digests, through a view
    /// change too; a send delivered to one of them makes them differ at once.
    @Test func digestsFollowDeliveries() throws {
        let rt = Runtime()
        let ops = options(Self.group("digest-casts"), params: fastTimers)
        let a = try TestServer(ops, state: 3, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        let b = try TestServer(ops, state: 0, runtime: rt)
        let pair = [a, b]
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        let start = a.stateDigest
        #expect(start != nil && start == b.stateDigest)
        for v in 1 ... 4 { Self.cast(a, v); Self.cast(b, 100 + v) }
        #expect(rt.run(until: { pair.allSatisfy { $0.casts.count >= 4 } }, timeout: .seconds(10)))
        #expect(a.stateDigest == b.stateDigest && a.stateDigest != start, "same casts, same digest, a new one")

        // A third member joins: a view change (and a transfer to it); a and b fold the same view.
        let c = try TestServer(ops, state: 0, runtime: rt)
        let all = [a, b, c]
        #expect(rt.run(until: { all.allServers }, timeout: .seconds(20)))
        #expect(Set(all.map(\.stateDigest)).count == 1, "\(all.map(\.stateDigest))")

        var m = Message()
        m << 7
        a.send(b.myEndpID!, m)
        #expect(rt.run(until: { !b.sendsReceived.isEmpty }, timeout: .seconds(5)))
        #expect(a.stateDigest == c.stateDigest)
        #expect(b.stateDigest != a.stateDigest, "a send delivered to b alone")
        // And it stays different after the next view.
        let d = try TestServer(ops, state: 0, runtime: rt)
        #expect(rt.run(until: { (all + [d]).allServers }, timeout: .seconds(20)))
        #expect(b.stateDigest != a.stateDigest && a.stateDigest == c.stateDigest)
    }

    /// `stateChanged()` starts a new lineage: the member pulls the state after the next merge.
    @Test func stateChangedForcesATransfer() throws {
        let rt = Runtime()
        let cut = Cut(rt)
        let ops = options(Self.group("digest-changed"), params: fastTimers)
        let a = try TestServer(ops, state: 5, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        let b = try TestServer(ops, state: 0, runtime: rt)
        let pair = [a, b]
        cut.add(pair)
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        cut.on = true
        #expect(Self.split(rt, pair))
        a.state = 6
        a.stateChanged()
        b.stateChanged()
        #expect(a.stateDigest != b.stateDigest)
        cut.on = false
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(20)))
        #expect(transfers(pair) == 2 && a.state == b.state)
    }

    /// A state sent while a cast of the provider's is held for the transfer (the provider may
    /// have applied it already; the joiner will get it after the state) carries no lineage: the
    /// joiner starts one of its own and will pull the state again after a merge.
    @Test func stateSentWithOwnCastsHeldCarriesNoLineage() throws {
        let rt = Runtime()
        let ops = options(Self.group("digest-held"), params: fastTimers)
        let a = try TestServer(ops, state: 5, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        a.holdRequests = true
        let b = try TestServer(ops, state: 0, runtime: rt)
        b.holdRequests = true
        let pair = [a, b]
        #expect(rt.run(until: { !(a.pendingRequests + b.pendingRequests).isEmpty }, timeout: .seconds(20)))
        let provider = a.pendingRequests.isEmpty ? b : a
        let joiner = provider === a ? b : a
        Self.cast(provider, 1)
        #expect(provider.heldMessages == 1)
        let (origin, id) = provider.pendingRequests[0]
        provider.answer(origin, id)
        #expect(rt.run(until: { pair.allServers && joiner.casts.count == 1 }, timeout: .seconds(20)))
        #expect(joiner.stateDigest != nil && joiner.stateDigest != provider.stateDigest)
    }

    /// The tally: which messages, not only how many; a joiner that adopted a provider's tally
    /// matches it only if it then delivers exactly what the provider had not; a delivery it
    /// cannot place ends the lineage.
    @Test func tallyRules() {
        let x = EndpointID(host: 0x7F00_0001, port: 4000, counter: 1, incarnation: 9)
        let y = EndpointID(host: 0x7F00_0001, port: 4001, counter: 2, incarnation: 9)
        let z = EndpointID(host: 0x7F00_0001, port: 4002, counter: 3, incarnation: 9)
        let members = [x, y, z]
        let v = ViewID(ltime: 4, coordinator: x)
        // Two lsends from x, one to y and one to z: one delivery each, different messages.
        var p = DeliveryTally(members: members, me: y), q = DeliveryTally(members: members, me: z)
        p.multicast(rank: 0, origin: x, delivered: true); p.multicast(rank: 0, origin: x, delivered: false)
        q.multicast(rank: 0, origin: x, delivered: false); q.multicast(rank: 0, origin: x, delivered: true)
        #expect(p.fold(into: 1, view: v) != q.fold(into: 1, view: v))
        // A send from x to y, another to z.
        p = DeliveryTally(members: members, me: y); q = DeliveryTally(members: members, me: z)
        p.send(rank: 0, origin: x); q.send(rank: 0, origin: x)
        #expect(p.fold(into: 1, view: v) != q.fold(into: 1, view: v))
        // Same deliveries: same fold; another view or another lineage: another fold.
        p = DeliveryTally(members: members, me: y); q = DeliveryTally(members: members, me: z)
        p.multicast(rank: 0, origin: x, delivered: true); q.multicast(rank: 0, origin: x, delivered: true)
        #expect(p.fold(into: 1, view: v) == q.fold(into: 1, view: v))
        #expect(p.fold(into: 1, view: v) != p.fold(into: 2, view: v))
        #expect(p.fold(into: 1, view: v) != p.fold(into: 1, view: ViewID(ltime: 5, coordinator: x)))
        // The same deliveries in a view whose ranks differ (another order of members).
        var r = DeliveryTally(members: [y, x, z], me: z)
        r.multicast(rank: 1, origin: x, delivered: true)
        #expect(r.fold(into: 1, view: v) == q.fold(into: 1, view: v))
        // A delivery that names an origin other than the member of its rank: no lineage.
        r.multicast(rank: 0, origin: x, delivered: true)
        #expect(r.poisoned && r.fold(into: 1, view: v) == nil)
        #expect(DigestStamp(view: v, lineage: 5, tally: r).lineage == nil)
        // Adoption: the provider (y) delivered x's first two casts and a send from z when it
        // sent the state.
        var provider = DeliveryTally(members: members, me: y)
        provider.multicast(rank: 0, origin: x, delivered: true); provider.multicast(rank: 0, origin: x, delivered: true)
        provider.send(rank: 2, origin: z)
        let stamp = DigestStamp(view: v, lineage: 7, tally: provider)
        for before in 0 ... 3 {
            var joiner = DeliveryTally(members: members, me: z)
            for _ in 0 ..< before { joiner.multicast(rank: 0, origin: x, delivered: true) }  // delivered before the state
            joiner.adopt(stamp)
            var full = provider
            while joiner.streams[0].seen < 4 { joiner.multicast(rank: 0, origin: x, delivered: true) }
            while full.streams[0].seen < 4 { full.multicast(rank: 0, origin: x, delivered: true) }
            #expect((joiner.fold(into: 7, view: v) == full.fold(into: 7, view: v)) == (before == 2), "\(before) before the state")
        }
        // A send to the joiner after the state: different from the provider.
        var joiner = DeliveryTally(members: members, me: z)
        joiner.adopt(stamp)
        #expect(joiner.fold(into: 7, view: v) == provider.fold(into: 7, view: v))
        joiner.send(rank: 0, origin: x)
        #expect(joiner.fold(into: 7, view: v) != provider.fold(into: 7, view: v))
    }

    /// The stamp sent with a state survives the wire, and garbage never decodes into one (nor
    /// traps); a failed pop leaves the message as it was.
    @Test func stampCodec() {
        let x = EndpointID(host: 0x7F00_0001, port: 4000, counter: 1, incarnation: 9)
        let y = EndpointID(host: 0x7F00_0001, port: 4001, counter: 2, incarnation: 9)
        let stamp = DigestStamp(view: ViewID(ltime: 3, coordinator: x), lineage: 0xDEAD_BEEF,
                                casts: [.init(origin: x, delivered: 2, mix: 77), .init(origin: y, delivered: 1, mix: 5)],
                                sends: [.init(origin: y, receiver: x, count: 4)])
        var m = Message()
        m << 42
        m << stamp
        #expect((try? m.pop(DigestStamp.self)) == stamp)
        #expect((try? m.pop(Int.self)) == 42)
        var rng = SystemRandomNumberGenerator()
        for n in 0 ..< 2000 {
            var g = Message(bytes: (0 ..< (n % 200)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) })
            let before = g
            if (try? g.pop(DigestStamp.self)) == nil { #expect(g == before) }
        }
    }

    /// Plain client/server members have no digest and publish none.
    @Test func clientServerHasNoDigest() {
        let s = ClientServer(MaestroOptions())
        #expect(s.stateDigest == nil)
    }
}
