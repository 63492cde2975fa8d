import Ensemble
@_spi(Engine) import MaestroCore

/// Feeds arbitrary bytes to every decoder of the runtime: datagram framing, every layer's
/// header (through a live stack of the seed protocol), gossip records, views, Maestro messages,
/// and the Maestro member's handling of casts, sends, view messages and state chunks. Used by
/// the libFuzzer target (`make fuzz`) and by the tests that replay the corpus. It must never
/// trap: any input is either used or dropped.
public final class FuzzHarness {
    /// A transport that goes nowhere and a clock that moves only when told.
    final class NullTransport: Transport {
        var localAddress = Address.loopback(port: 1000)
        var now = Time.zero
        unowned(unsafe) var delegate: (any TransportDelegate)?
        func send(_ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool { true }
        func wake(at time: Time) {}
        func requestIdleCallback() {}
        func close() {}
    }

    final class Sink: GroupApplication {
        var delivered = 0
        func install(view: ViewState, rank: Rank) {}
        func receiveCast(from origin: Rank, _ payload: Packet) { delivered += 1 }
        func receiveSend(from origin: Rank, _ payload: Packet) { delivered += 1 }
    }

    let transport = NullTransport()
    let sink = Sink()
    let endpoint: GroupEndpoint
    let view: ViewState
    let member: CSX
    let maestroView: ViewState
    /// Both protections' checks run on every raw datagram (they see untrusted bytes first).
    let keys = [GroupKey.Protection.mac, .encryption].map { try! GroupKey(secret: Array("fuzz-harness-key-0123".utf8), protection: $0) }

    public init() {
        let ids = (0 ..< 3).map { EndpointID(host: 0x7F00_0001, port: UInt16(1000 + $0), counter: 0, incarnation: 42) }
        let stack = MaestroOptions.defaultProtocol
        view = ViewState(group: GroupID("fuzz"), protocolStack: stack, ltime: 7, members: ids,
                         addresses: ids.map { Address.loopback(port: $0.port) })
        // Force-try is acceptable here: these inputs are constants of the harness, not fuzz data.
        endpoint = try! GroupEndpoint(id: ids[0], group: view.group, transport: transport, protocolStack: stack,
                                      application: sink)
        try! endpoint.join(view: view)
        var ops = CSXOptions()
        ops.groupName = "fuzz"
        ops.xferType = .atomic
        member = CSX(ops)
        maestroView = view
        member.engineInterface.install(view: maestroView, rank: 1)
    }

    /// One input. The first byte chooses what to feed; the rest is the payload.
    public func run(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let body = UnsafeRawBufferPointer(rebasing: input.dropFirst())
        transport.now = transport.now + .milliseconds(7)
        switch mode % 8 {
        case 0:
            // A raw datagram, framing and all.
            endpoint.transport(transport, received: body, from: .loopback(port: 1001))
            for k in keys { _ = k.open(body) { $0.count } }
        case 1, 2:
            // A well-framed data datagram whose messages are the fuzz bytes (reaches the layers).
            var w = WireWriter()
            Frame(kind: .data, group: view.group.hash, view: Frame.hash(view.id), sender: Int(mode % 2) + 1).encode(into: &w)
            w.writeRaw(body)
            w.bytes.withUnsafeBytes { endpoint.transport(transport, received: $0, from: .loopback(port: 1001)) }
        case 3:
            // One message straight into the stack, as if Bottom had just received it.
            endpoint.currentStack?.injectUp(.receive(Packet(payload: body, headroom: 0), peer: 1 + Int(mode >> 3) % 2))
        case 4:
            // A gossip datagram, and a gossip record and a view on their own.
            var w = WireWriter()
            Frame(kind: .gossip, group: view.group.hash, view: 0, sender: 0).encode(into: &w)
            w.writeRaw(body)
            w.bytes.withUnsafeBytes { endpoint.transport(transport, received: $0, from: .loopback(port: 1002)) }
            var r = WireReader(body)
            _ = try? Gossip.decode(from: &r)
            var r2 = WireReader(body)
            _ = try? ViewState.decode(from: &r2)
        case 5:
            // A Maestro member's cast (view messages, client/server headers, scast, lsend).
            member.engineInterface.receiveCast(from: Int(mode >> 3) % 3, Packet(payload: body, headroom: 0))
        case 6:
            // A Maestro member's send (ASK_STATE, SEND_STATE, state chunks, BECOME_SERVER, XFER_DONE).
            member.engineInterface.receiveSend(from: Int(mode >> 3) % 3, Packet(payload: body, headroom: 0))
        default:
            // Maestro message pops of every type.
            var m = Message(copying: body)
            for step in 0 ..< 8 {
                switch (Int(mode >> 3) + step) % 8 {
                case 0: _ = try? m.pop(Int32.self)
                case 1: _ = try? m.pop(String.self)
                case 2: _ = try? m.pop([UInt8].self)
                case 3: _ = try? m.pop(Message.self)
                case 4: _ = try? m.pop(EndpointID.self)
                case 5: _ = try? m.pop(ViewID.self)
                case 6: _ = try? m.pop([EndpointID].self)
                default: _ = try? m.popOptional(Int64.self)
                }
            }
        }
        // Let timers run, so that what the input changed is acted upon.
        endpoint.transportWake(transport, now: transport.now)
        endpoint.transportWillIdle(transport)
    }

    /// Whether the harness is still sane after an input (the view is the one it started with).
    public var intact: Bool { endpoint.view?.id == view.id || endpoint.view != nil }
}
