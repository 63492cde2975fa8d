import Testing
@testable import Ensemble

/// Every resource limit: a clear error for a local call, a dropped and counted message for
/// remote input, and no unbounded growth.
@Suite struct ResourceLimitTests {
    @Test func localMessageLargerThanMaxMessageIsRefused() throws {
        let h = try LayerHarness(members: 2, rank: 0, params: "max_message=1000:int") { s, p, x throws(ParameterError) in try TopAppl(s, p, x) }
        let layer = try #require(h.stack.layer(TopAppl.self))
        #expect(layer.applicationCast(Packet(payload: [UInt8](repeating: 0, count: 1000))) == .sent)
        #expect(layer.applicationCast(Packet(payload: [UInt8](repeating: 0, count: 1001))) == .rejected("a message of 1001 bytes exceeds max_message (1000)"))
        #expect(layer.applicationSend(Packet(payload: [UInt8](repeating: 0, count: 5000)), to: 1) == .rejected("a message of 5000 bytes exceeds max_message (1000)"))
    }

    @Test func fragmentsBeyondTheReassemblyLimitAreDroppedAndCounted() throws {
        let params = "frag_max_len=100:int;max_message=1000:int;frag_max_pending=1000:int"
        let a = try LayerHarness(members: 2, rank: 0, params: "frag_max_len=100:int") { s, p, x throws(ParameterError) in try Frag(s, p, x) }
        let b = try LayerHarness(members: 2, rank: 1, params: params) { s, p, x throws(ParameterError) in try Frag(s, p, x) }
        // Eight messages of 900 bytes, each missing its last fragment: under reassembly at once.
        for k in 0 ..< 8 {
            a.fromAbove(.send(Packet(payload: [UInt8](repeating: UInt8(k), count: 900)), peer: 1, flags: []))
            for p in a.takeDown().compactMap(\.packet).dropLast() { b.fromBelow(.send(p, peer: 0, flags: [])) }
        }
        #expect(b.stack.drops.overLimit > 0, "fragments beyond frag_max_pending are dropped and counted")
        // A message too large for max_message announces too many fragments: refused at decoding.
        a.fromAbove(.send(Packet(payload: [UInt8](repeating: 9, count: 5000)), peer: 1, flags: []))
        for p in a.takeDown().compactMap(\.packet) { b.fromBelow(.send(p, peer: 0, flags: [])) }
        #expect(b.takeUp().isEmpty)
        #expect(b.stack.drops.malformedHeaders > 0)
    }

    @Test func aFloodingOriginIsCappedByMnakMaxBuffer() throws {
        let sender = try LayerHarness(members: 2, rank: 1, params: "mnak_window=100000000:int") { s, p, x throws(ParameterError) in try Mnak(s, p, x) }
        let receiver = try LayerHarness(members: 2, rank: 0, params: "mnak_window=10000:int;mnak_max_buffer=10000:int") { s, p, x throws(ParameterError) in try Mnak(s, p, x) }
        for i in 0 ..< 400 { sender.fromAbove(.cast(Packet(payload: [UInt8](repeating: UInt8(i & 0xFF), count: 100)), peer: 1, flags: [])) }
        let casts = sender.takeDown().compactMap(\.packet)
        // Nothing is ever stable at the receiver, so it holds what it delivered: up to the limit.
        for p in casts { receiver.fromBelow(.cast(p, peer: 1, flags: [])) }
        let delivered = receiver.takeUp().filter { $0.name == "cast" }.count
        #expect(delivered < 400 && delivered >= 10000 / 164)
        #expect(receiver.stack.drops.overLimit == UInt64(400 - delivered))
    }

    @Test func mergesBeyondMaxMembersAreDenied() throws {
        let h = try LayerHarness(members: 3, rank: 0, params: "max_members=4:int") { s, p, x throws(ParameterError) in try Inter(s, p, x) }
        let ids = (0 ..< 2).map { EndpointID(host: 9, port: UInt16($0), counter: 0, incarnation: 1) }
        let other = ViewState(group: GroupID("t"), protocolStack: "test", ltime: 3, members: ids, addresses: ids.map { .loopback(port: $0.port) })
        let contact = MergeContact(endpoint: ids[0], address: .loopback(port: 0), viewID: other.id)
        h.fromBelow(.mergeRequest(contact, other))
        #expect(h.takeUp().isEmpty, "3 + 2 members exceed max_members = 4")
        #expect(h.takeDown().map(\.name) == ["mergeDenied(\(ids[0]), view 3)"])
        #expect(h.stack.drops.overLimit == 1)
    }

    @Test func theRendezvousRemembersAtMostMaxClients() {
        final class Null: Transport {
            var localAddress = Address.loopback(port: 6788)
            var now = Time.zero
            unowned(unsafe) var delegate: (any TransportDelegate)?
            var sent = 0
            func send(_ d: UnsafeRawBufferPointer, to: Address) -> Bool { sent += 1; return true }
            func wake(at time: Time) {}
            func requestIdleCallback() {}
            func close() {}
        }
        let t = Null()
        let relay = GossipRelay(transport: t, maxClients: 10)
        var w = WireWriter()
        Frame(kind: .gossip, group: 7, view: 0, sender: 0).encode(into: &w)
        for i in 0 ..< 100 {
            t.now = .milliseconds(Int64(i) * 200)  // past the duplicate window each time
            w.bytes.withUnsafeBytes { relay.transport(t, received: $0, from: .loopback(port: UInt16(2000 + i))) }
        }
        #expect(relay.clientCount == 10)
    }
}
