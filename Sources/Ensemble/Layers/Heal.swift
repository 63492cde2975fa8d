/// Heal: finds other partitions of the group by gossip and starts merges (Ensemble's
/// `heal.ml`).
///
/// The coordinator of a view whose members are all present announces the partition on the
/// gossip channel (Top asks every `top_sweep`; Heal also announces at once when the view is
/// complete). On hearing a disjoint partition with the same protocol, it merges into it if
/// that one is larger by (size, view id), so merges always go from small to large and never
/// cycle; if it is itself the larger, it answers the smaller one directly so that one learns
/// of it at once. Beyond Ensemble: gossip from another endpoint at the address of one of my
/// members proves that member dead (its process restarted), and it is suspected at once.
public final class Heal: Layer {
    enum Header: HeaderEncodable {
        case passThrough, present
        var encodedSizeBound: Int { 1 }
        func encode<W: WireWriting>(into w: inout W) { w.write(self == .present ? UInt8(1) : Tag.passThrough) }
        static func decode(from r: inout WireReader) throws(WireError) -> Header {
            let tag: UInt8 = try r.read()
            switch tag {
            case 0: return .passThrough
            case 1: return .present
            default: throw .invalidValue(field: "Heal header", value: UInt64(tag))
            }
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private var waitingForView = false
    private var present = RankSet()
    private var allPresent = false
    private var repliedThisSweep = false
    /// The partition to merge into: initially my own (no merge planned).
    private var target: (size: Int, id: ViewID, contact: MergeContact)

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.setup = setup
        let v = setup.view
        target = (v.count, v.id, MergeContact(endpoint: v.coordinator, address: v.addresses[0], viewID: v.id))
    }

    private var isCoordinator: Bool { setup.rank == 0 }
    private var planningMerge: Bool { target.id != setup.view.id }

    private var announcement: HealGossip {
        let v = setup.view
        return HealGossip(protocolStack: v.protocolStack, viewID: v.id,
                          contact: MergeContact(endpoint: setup.endpoint, address: v.addresses[setup.rank], viewID: v.id),
                          members: v.members)
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .initialize:
            port.up(event)
            if isCoordinator {
                present.insert(0)
                checkPresent()
            } else {
                var p = Packet(headroom: 32)
                p.push(Header.present)
                port.down(.send(p, peer: 0, flags: []))
            }
        case .send(var p, let o, let flags):
            guard let h = p.popHeader(port.drops, Header.decode) else { return }
            if h == .present {
                present.insert(o)
                checkPresent()
            } else {
                port.up(.send(p, peer: o, flags: flags))
            }
        case let .gossip(g):
            if let h = g.heal { heard(h) }
            port.up(event)
        case .block:
            waitingForView = true
            port.up(event)
        case let .blockOk(contact):
            if contact == nil && planningMerge {
                port.up(.blockOk(contact: MergeContact(endpoint: target.contact.endpoint, address: target.contact.address,
                                                       viewID: target.id)))
            } else {
                port.up(event)
            }
        default:
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case var .gossip(g):
            repliedThisSweep = false
            if isCoordinator && !waitingForView && !planningMerge && allPresent { g.heal = announcement }
            port.down(.gossip(g))
        case .send(var p, let peer, let flags):
            p.push(Header.passThrough)
            port.down(.send(p, peer: peer, flags: flags))
        default:
            port.down(event)
        }
    }

    private func checkPresent() {
        guard !allPresent, present.count == setup.count else { return }
        allPresent = true
        if isCoordinator { port.down(.gossip(Gossip(heal: announcement))) }
    }

    private func heard(_ h: HealGossip) {
        let v = setup.view
        if let r = v.addresses.firstIndex(of: h.contact.address), r != setup.rank, v.members[r] != h.contact.endpoint {
            // Another endpoint coordinates at that member's address: the process restarted,
            // so the member I list there is dead (beyond Ensemble; see IncarnationNotices).
            port.down(.suspect(RankSet([r]), reason: "a new incarnation gossips at \(h.contact.address)"))
            return
        }
        guard isCoordinator, allPresent, h.protocolStack == v.protocolStack, v.rank(of: h.contact.endpoint) == nil,
              h.members.allSatisfy({ v.rank(of: $0) == nil }) else { return }
        let theirs = (h.members.count, h.viewID)
        if !v.primary && theirs > (target.size, target.id) {
            target = (h.members.count, h.viewID, h.contact)
            if !waitingForView {
                waitingForView = true
                port.down(.prompt)
            }
        }
        if !planningMerge && !waitingForView && !repliedThisSweep && theirs < (v.count, v.id) {
            // I am the larger: make sure the smaller partition hears of me now.
            repliedThisSweep = true
            port.down(.gossipDirect(Gossip(heal: announcement), to: h.contact.address))
        }
    }
}
