import Ensemble
import Testing
import Maestro
@testable import MaestroCore

@Suite struct StateTransferTests {
    /// The seed program: 10 CSX servers in one process, ATOMIC transfer, single-threaded.
    /// They end in one view of 10 servers, and every transfer that started completed.
    @Test func seedGroupReachesTenServers() throws {
        let rt = Runtime()
        var svr: [TestServer] = []
        let group = "seed-\(UInt32.random(in: 0 ... .max))"
        for _ in 0 ..< 10 { svr.append(try TestServer(options(group), state: 0, runtime: rt)) }
        _ = i0(svr)
        #expect(rt.run(until: { svr.allServers }, timeout: .seconds(30)), "views: \(svr.map { $0.lastView.map { "\($0.nmembers)/\($0.servers.count)/\($0.xferServers.count)" } ?? "-" })")
        let started = svr.reduce(0) { $0 + $1.transfersStarted }
        let finished = svr.reduce(0) { $0 + $1.gotStates.count }
        let canceled = svr.reduce(0) { $0 + $1.canceled }
        #expect(started >= 9, "every joiner but the first pulled the state")
        #expect(finished + canceled == started, "each transfer either completed or was canceled and restarted")
        #expect(svr.allSatisfy { $0.clsvState == .serverNormal })
    }

    /// The joiner gets the oldest server's state: every member ends with the first one's value.
    @Test func joinerGetsTheOldestServersState() throws {
        let rt = Runtime()
        let group = "state-\(UInt32.random(in: 0 ... .max))"
        let a = try TestServer(options(group), state: 42, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        // A lone member is a server at once, without transfer.
        #expect(a.clsvState == .serverNormal && a.transfersStarted == 0)
        let b = try TestServer(options(group), state: 7, runtime: rt)
        let all = [a, b]
        #expect(rt.run(until: { all.allServers }, timeout: .seconds(20)))
        // Whichever side's coordinator won the merge, both now hold the same state.
        #expect(a.state == b.state)
        #expect(a.gotStates.count + b.gotStates.count == 1)
    }

    /// Clients never take part in state transfer.
    @Test func clientsNeverGetState() throws {
        let rt = Runtime()
        let group = "clients-\(UInt32.random(in: 0 ... .max))"
        let a = try TestServer(options(group), state: 1, runtime: rt)
        var c = options(group)
        c.membershipType = .client
        let client = try TestServer(c, state: 0, runtime: rt)
        #expect(rt.run(until: { a.lastView?.nmembers == 2 && client.lastView?.nmembers == 2 && a.lastView?.clients.count == 1 },
                        timeout: .seconds(20)))
        rt.run(for: .milliseconds(200))
        #expect(client.clsvState == .clientNormal)
        #expect(client.transfersStarted == 0 && client.gotStates.isEmpty)
        #expect(client.lastView?.clients == [client.myEndpID].compactMap { $0 })
    }

    /// During an ATOMIC transfer, generic casts are held at their senders and released in
    /// order when the transfer ends; none is delivered while the view is ATOMIC.
    @Test func atomicTransferHoldsAndReleasesInOrder() throws {
        let rt = Runtime()
        let group = "atomic-\(UInt32.random(in: 0 ... .max))"
        let a = try TestServer(options(group), state: 5, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        a.holdRequests = true
        let b = try TestServer(options(group), state: 0, runtime: rt)
        b.holdRequests = true  // whichever side wins the merge provides the state
        let provider: TestServer
        let joiner: TestServer
        // Wait for the transfer view: one server, one transfer server, type ATOMIC.
        #expect(rt.run(until: { [a, b].contains { $0.lastView?.viewType == .atomic } && !(a.pendingRequests + b.pendingRequests).isEmpty }, timeout: .seconds(20)))
        if a.pendingRequests.isEmpty { (provider, joiner) = (b, a) } else { (provider, joiner) = (a, b) }
        _ = joiner
        // The provider casts while the view is ATOMIC: held, not sent.
        for v in 1 ... 5 {
            var m = Message()
            m << v
            provider.cast(m)
        }
        #expect(provider.heldMessages == 5)
        rt.run(for: .milliseconds(100))
        #expect(joiner.casts.isEmpty, "nothing is delivered during an atomic transfer")
        // Now the transfer completes: the held casts go out in order in the next view.
        if let (origin, id) = provider.pendingRequests.first {
            provider.holdRequests = false
            provider.answer(origin, id)
        }
        #expect(rt.run(until: { joiner.casts.count == 5 }, timeout: .seconds(20)))
        #expect(joiner.casts.map(\.1) == [1, 2, 3, 4, 5])
        #expect(provider.heldMessages == 0)
        #expect(joiner.lastView?.viewType == .noXfer)
    }

    /// Casts sent between block and the next view go out under that view's rules: when the
    /// next view is ATOMIC they are held until the transfer ends, never delivered during it,
    /// and every one arrives, in order.
    @Test func castsSentDuringBlockWaitForTheNextViewsType() throws {
        let rt = Runtime()
        let group = "blockcast-\(UInt32.random(in: 0 ... .max))"
        let a = try TestServer(options(group), state: 3, runtime: rt)
        let b = try TestServer(options(group), state: 0, runtime: rt)
        #expect(rt.run(until: { [a, b].allServers }, timeout: .seconds(20)))
        for s in [a, b] { s.castOnBlock = true; s.holdRequests = true }
        let c = try TestServer(options(group), state: 0, runtime: rt)
        // The transfer view comes (c a transfer server, ATOMIC); hold it a while.
        #expect(rt.run(until: { c.lastView?.viewType == .atomic && !(a.pendingRequests + b.pendingRequests).isEmpty }, timeout: .seconds(20)))
        rt.run(for: .milliseconds(200))
        for s in [a, b] {
            s.holdRequests = false
            for (origin, id) in s.pendingRequests { s.answer(origin, id) }
            s.pendingRequests.removeAll()
        }
        #expect(rt.run(until: { [a, b, c].allServers }, timeout: .seconds(20)))
        rt.run(for: .milliseconds(300))
        for s in [a, b, c] { #expect(s.castsDuringAtomic == 0) }
        // Every cast a or b made at a block reached the other and c's later views, in order.
        for (sender, receiver) in [(a, b), (b, a)] {
            let got = receiver.casts.filter { $0.0 == sender.myEndpID }.map(\.1)
            #expect(got == Array(1001 ... 1000 + sender.castsOnBlock), "\(got)")
        }
    }

    /// The provider crashes mid-transfer: the request goes to the next server (or the transfer
    /// is canceled and restarted), and the joiner ends a server with the group's state.
    @Test func providerCrashMidTransfer() throws {
        let rt = Runtime()
        let group = "crash-\(UInt32.random(in: 0 ... .max))"
        let ops = options(group, params: fastTimers)
        let a = try TestServer(ops, state: 9, runtime: rt)
        let b = try TestServer(ops, state: 9, runtime: rt)
        #expect(rt.run(until: { [a, b].allServers }, timeout: .seconds(20)))
        for s in [a, b] { s.holdRequests = true; s.state = 9 }
        let c = try TestServer(ops, state: 0, runtime: rt)
        // Wait until the joiner's request reached the provider (the oldest server).
        #expect(rt.run(until: { !(a.pendingRequests + b.pendingRequests).isEmpty }, timeout: .seconds(20)))
        let provider = a.pendingRequests.isEmpty ? b : a
        let other = provider === a ? b : a
        let joiner = [a, b, c].first { !$0.lastView!.servers.contains($0.myEndpID!) } ?? c
        other.holdRequests = false
        provider.crash()
        // The next server answers (re-request, or restart with a new id after cancel).
        #expect(rt.run(until: { [other, joiner].allServers }, timeout: .seconds(20)),
                "joiner \(joiner.clsvState), views \(joiner.lastView.map { "\($0.servers.count)/\($0.xferServers.count)/\($0.nmembers)" } ?? "-")")
        #expect(joiner.state == 9)
        #expect(other.providedTo.contains(joiner.myEndpID!))
    }

    /// A 64 MB state streamed in chunks between two members of one process: it arrives whole,
    /// in chunks of at most stateChunkBytes, and the loop keeps running: every heartbeat of
    /// both members comes on time (no gap longer than a second at a 50 ms rate).
    @Test func sixtyFourMegabyteTransferKeepsHeartbeats() throws {
        let rt = Runtime()
        let group = "big-\(UInt32.random(in: 0 ... .max))"
        let size = 64 << 20
        let a = try TestServer(options(group, heartbeatMs: 50), state: 3, blob: size, runtime: rt)
        #expect(rt.run(until: { a.lastView?.servers.count == 1 }, timeout: .seconds(5)))
        let b = try TestServer(options(group, heartbeatMs: 50), state: 3, blob: size, runtime: rt)
        let pair = [a, b]
        rt.run(for: .milliseconds(100))
        let start = rt.now
        #expect(rt.run(until: { pair.allServers }, timeout: .seconds(120)))
        let end = rt.now
        let joiner = a.chunksReceived > 0 ? a : b
        #expect(joiner.blobReceived == size, "the whole blob arrived")
        #expect(joiner.chunksReceived == size / (64 << 10) + 1)
        for s in pair {
            let beats = s.heartbeats.filter { $0 >= start && $0 <= end }
            let gaps = zip(beats, beats.dropFirst()).map { ($1 - $0).seconds }
            #expect((gaps.max() ?? 0) < 1.0, "largest heartbeat gap \(gaps.max() ?? 0) s during the transfer")
        }
    }
}

private func i0(_ s: [TestServer]) -> Int { s.count }
