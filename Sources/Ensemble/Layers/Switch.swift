/// Switch: agreed protocol switching at a view change (Ensemble's `switch.ml`).
///
/// A requested protocol is cast to the group and remembered; the coordinator prompts a view
/// change and writes the protocol into the next view, so every member builds its next stack
/// from it. Coordinators gossip their protocol so that other partitions converge on the most
/// recent suggestion before they can merge. An unknown or malformed protocol is refused. The
/// time of the last request travels with the suggestion and survives view changes (a
/// partition that never asked for a protocol counts as oldest), as in Ensemble.
public final class Switch: Layer {
    enum Header: LayerHeader {
        case proto(String)

        static var carriers: MessageKinds { .cast }
        var encodedSizeBound: Int {
            switch self {
            case let .proto(s): 1 + 10 + s.utf8.count
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case let .proto(s): w.write(UInt8(1)); w.write(s)
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .proto(try r.readString(limit: WireLimits.maxProtocolLength))
            default: throw .invalidValue(field: "Switch header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private var suggestion: String?
    private var now: Time

    /// When the last switch was requested or adopted, kept across views (never: lowest).
    private var timestamp: Time {
        get { setup.shared.switchTimestamp ?? Switch.never }
        set { setup.shared.switchTimestamp = newValue }
    }
    static let never = Time(nanoseconds: .min)

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.setup = setup
        now = setup.now
    }

    private func acceptable(_ p: String) -> Bool {
        p != setup.view.protocolStack && (try? LayerRegistry.standard.validate(p)) != nil
    }

    public func up(_ event: consuming Event) {
        switch event {
        case let .protocolSwitch(p):
            guard acceptable(p) else { return }
            suggestion = p
            timestamp = now
            var m = Packet(headroom: 32 + p.utf8.count)
            m.push(Header.proto(p))
            port.down(.cast(m, peer: setup.rank, flags: []))
            if setup.rank == 0 { port.up(.prompt) }
        case .cast(var m, let o, let flags):
            guard case let .proto(p)? = port.receive(Header.self, &m, .cast, from: o, flags: flags, members: setup.count),
                  acceptable(p) else { return }
            suggestion = p
            if setup.rank == 0 { port.up(.prompt) }
        case let .gossip(g):
            if setup.rank == 0, suggestion == nil, let s = g.protocolSuggestion, s.viewID != setup.view.id,
               acceptable(s.protocolStack), (s.timestamp, s.viewID) > (timestamp, setup.view.id) {
                suggestion = s.protocolStack
                timestamp = s.timestamp  // the suggestion keeps its age as it spreads
                port.up(.prompt)
            }
            port.up(event)
        case let .timer(t):
            now = t
            port.up(event)
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case var .view(nv):
            if let s = suggestion { nv.protocolStack = s }
            port.down(.view(nv))
        case var .gossip(g):
            if setup.rank == 0 {
                g.protocolSuggestion = ProtocolGossip(protocolStack: suggestion ?? setup.view.protocolStack,
                                                      viewID: setup.view.id, timestamp: timestamp)
            }
            port.down(.gossip(g))
        default:
            port.passDown(event, Header.self)
        }
    }
}
