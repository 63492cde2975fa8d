@testable import Ensemble

/// Drives one layer between two probes: events injected from below or above, and the
/// events the layer emits, recorded on each side.
final class LayerHarness: StackServices {
    /// Records what reaches it and passes nothing further.
    final class Probe: Layer {
        let isTop: Bool
        let port: LayerPort
        var received: [Event] = []
        init(isTop: Bool, port: LayerPort) {
            self.isTop = isTop
            self.port = port
        }
        func up(_ event: consuming Event) {
            if isTop { received.append(event) } else { port.up(event) }
        }
        func down(_ event: consuming Event) {
            if isTop { port.down(event) } else { received.append(event) }
        }
    }

    var stack: Stack!
    var alarms: [Time] = []
    var transmitted: [(Packet, Rank?)] = []
    weak var application: (any GroupApplication)?
    let setup: LayerSetup

    convenience init(members n: Int = 3, rank: Rank = 0, params: String = "", application: (any GroupApplication)? = nil,
                     _ factory: @escaping LayerFactory) throws {
        let ids = (0 ..< n).map { EndpointID(host: 0x0A00_0001, port: UInt16(100 + $0), counter: 0, incarnation: 7) }
        let view = ViewState(group: GroupID("t"), protocolStack: "test", ltime: 1, members: ids,
                             addresses: (0 ..< n).map { .loopback(port: UInt16(100 + $0)) })
        try self.init(view: view, rank: rank, params: params, application: application, factory)
    }

    /// The layer at `rank` of a given view.
    init(view: ViewState, rank: Rank, params: String = "", application: (any GroupApplication)? = nil,
         shared: EndpointSharedState = EndpointSharedState(), now: Time = .zero, _ factory: @escaping LayerFactory) throws {
        setup = LayerSetup(view: view, rank: rank, params: try Parameters(parsing: params), now: now, shared: shared)
        self.now = now
        self.application = application
        let entries = [
            LayerRegistry.Entry(canonicalName: "ProbeTop", factory: { _, p, _ in Probe(isTop: true, port: p) }),
            LayerRegistry.Entry(canonicalName: "UnderTest", factory: factory),
            LayerRegistry.Entry(canonicalName: "ProbeBottom", factory: { _, p, _ in Probe(isTop: false, port: p) }),
        ]
        stack = try Stack(entries: entries, setup: setup, services: self, above: { _ in })
    }

    var top: Probe { stack.layers[0] as! Probe }
    var bottom: Probe { stack.layers[2] as! Probe }

    /// What the layer emitted upward / downward; clears the record.
    func takeUp() -> [Event] { defer { top.received = [] }; return top.received }
    func takeDown() -> [Event] { defer { bottom.received = [] }; return bottom.received }

    func fromBelow(_ e: Event) { stack.enqueue(1, .up, e) }
    func fromAbove(_ e: Event) { stack.enqueue(1, .down, e) }

    func transmit(_ packet: Packet, to destination: Rank?) { transmitted.append((packet, destination)) }
    func transmitGossip(_ gossip: Gossip, to address: Address?) {}
    func requestAlarm(at time: Time) { alarms.append(time) }
    /// The clock the layer reads; tests move it.
    var now: Time = .zero
}

/// Short descriptions of events, for readable test expectations.
extension Event {
    var name: String {
        switch self {
        case .cast: "cast"
        case .send: "send"
        case .castUnreliable: "castUnreliable"
        case .sendUnreliable: "sendUnreliable"
        case .receive: "receive"
        case .flowControl(let b, let p): "flowControl(\(b),\(p.map(String.init) ?? "casts"))"
        case .initialize: "initialize"
        case .timer: "timer"
        case .stable: "stable"
        case .stableRequest(let c): c == nil ? "stableRequest" : "stableRequest(filled)"
        case .fail: "fail"
        case .exit: "exit"
        default: "\(self)"
        }
    }

    var packet: Packet? {
        switch self {
        case let .cast(p, _, _), let .send(p, _, _), let .castUnreliable(p, _), let .sendUnreliable(p, _), let .receive(p, _): p
        default: nil
        }
    }

    var peer: Rank? {
        switch self {
        case let .cast(_, r, _), let .send(_, r, _), let .castUnreliable(_, r), let .sendUnreliable(_, r), let .receive(_, r): r
        default: nil
        }
    }
}
