/// Heal: finds other partitions of the group by gossip and starts merges (Ensemble's
/// `heal.ml`).
///
/// The coordinator of a view whose members are all present announces the partition on the
/// gossip channel (Top asks every `top_sweep`; Heal also announces at once when the view is
/// complete). On hearing a disjoint partition with the same protocol, it offers it to Top as a
/// merge target if that one is larger by (size, view id), so merges always go from small to
/// large and never cycle; if it is itself the larger, it answers the smaller one directly so
/// that one learns of it at once.
///
/// Beyond Ensemble: the target goes to Top the moment its gossip is heard (Top asks it at
/// once, without blocking: only a contact heard just now is asked, and a failed merge is
/// retried on the next gossip heard); and on gossip from another endpoint at the address of
/// one of my members, that member is probed at once: if its process restarted, the new
/// incarnation answers with a notice and the member is suspected. With the Primary layer, a
/// primary partition ranks above any non-primary one whatever their sizes (Ensemble never let
/// a primary partition merge into another, and so could leave a larger non-primary one
/// waiting for it forever): the announcement carries the flag. Of two non-primary partitions,
/// the one descending from the newer primary view ranks above (the announcement names it):
/// its coordinator leads the merged view, so its servers keep their state and the others take
/// it (Maestro's client/server members take the state of the coordinator's side), and the
/// state of a side that was cut off from the primary earlier never replaces a newer one.
public final class Heal: Layer {
    enum Header: UInt8, LayerHeader, ByteHeader {
        case present = 1

        static var carriers: MessageKinds { .send }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            try decode(byte: tag, field: "Heal header")
        }
    }

    private let port: LayerPort
    private let setup: LayerSetup
    private var roster: Roster
    private var present = RankSet()
    private var allPresent = false
    private var repliedThisSweep = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) {
        self.port = port
        self.setup = setup
        roster = Roster(setup)
    }

    private var isCoordinator: Bool { setup.rank == 0 }

    private var announcement: HealGossip {
        let v = setup.view
        return HealGossip(protocolStack: v.protocolStack, viewID: v.id,
                          contact: MergeContact(endpoint: setup.endpoint, address: v.addresses[setup.rank], viewID: v.id),
                          members: v.members, primary: v.primary, primaryLineage: v.primary ? v.id : v.lastPrimary?.id)
    }

    public func up(_ event: consuming Event) {
        switch event {
        case .initialize:
            port.up(event)
            if isCoordinator {
                present.insert(0)
                checkPresent()
            } else {
                port.originate(Header.present, .send, peer: 0)
            }
        case .send(var p, let o, let flags):
            guard case .present? = port.receive(Header.self, &p, .send, from: o, flags: flags, members: setup.count) else { return }
            present.insert(o)
            checkPresent()
        case let .gossip(g):
            if let h = g.heal { heard(h) }
            port.up(event)
        default:
            roster.note(event)  // blocked: a view change is under way
            port.up(event)
        }
    }

    public func down(_ event: consuming Event) {
        switch event {
        case var .gossip(g):
            repliedThisSweep = false
            if isCoordinator && !roster.blocked && allPresent { g.heal = announcement }
            port.down(.gossip(g))
        default:
            port.passDown(event, Header.self)
        }
    }

    private func checkPresent() {
        guard !allPresent, present.count == setup.count else { return }
        allPresent = true
        if isCoordinator { port.down(.gossip(Gossip(heal: announcement))) }
    }

    private func heard(_ h: HealGossip) {
        let v = setup.view
        if let r = v.addresses.firstIndex(of: h.contact.address) {
            // Another partition cannot live at an address of mine. If another endpoint claims a
            // member's address, the process may have restarted: probe the address; a new
            // incarnation there answers with a notice (see IncarnationNotices), which proves the
            // member dead. Gossip alone proves nothing (without a key it may be forged).
            if r != setup.rank && v.members[r] != h.contact.endpoint { port.down(.sendUnreliable(Packet(headroom: 32), peer: r)) }
            return
        }
        guard isCoordinator, allPresent, h.protocolStack == v.protocolStack, v.rank(of: h.contact.endpoint) == nil,
              h.members.allSatisfy({ v.rank(of: $0) == nil }) else { return }
        // A primary partition ranks above any other (it never merges into a non-primary one,
        // whose coordinator could not keep it primary), then the newer primary lineage:
        // (primary, lineage, size, view id). No lineage ranks below any.
        let none = ViewID(ltime: 0, coordinator: .none)
        let mineLineage = v.primary ? v.id : v.lastPrimary?.id
        let theirs = (h.primary ? 1 : 0, h.primaryLineage ?? none, h.members.count, h.viewID)
        let mine = (v.primary ? 1 : 0, mineLineage ?? none, v.count, v.id)
        if theirs > mine {
            if !roster.blocked {
                port.up(.mergeTarget(MergeContact(endpoint: h.contact.endpoint, address: h.contact.address, viewID: h.viewID)))
            }
            return
        }
        if !roster.blocked && !repliedThisSweep && theirs < mine {
            // I am the larger: make sure the smaller partition hears of me now.
            repliedThisSweep = true
            port.down(.gossipDirect(Gossip(heal: announcement), to: h.contact.address))
        }
    }
}
