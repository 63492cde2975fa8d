/// The events that travel between adjacent layers of a stack (Ensemble's `Event.t`).
///
/// One enum serves both directions; a layer's `up` handler receives events coming from
/// below and its `down` handler events coming from above. The same case means slightly
/// different things in each direction (a `.cast` going down is a request to multicast, going
/// up a delivery), exactly as in Ensemble. Control events that every layer must see in the
/// same order are "bounced": a layer sends them down and Bottom turns them around.
public enum Event {
    // MARK: Messages

    /// Reliable multicast. Up: a delivery from `peer` (never from oneself).
    case cast(Packet, peer: Rank, flags: MessageFlags)
    /// Reliable point-to-point. Down: to `peer`; up: from `peer`.
    case send(Packet, peer: Rank, flags: MessageFlags)
    /// Unreliable multicast (pings, stability gossip, some NAKs).
    case castUnreliable(Packet, peer: Rank)
    /// Unreliable point-to-point (retransmissions).
    case sendUnreliable(Packet, peer: Rank)
    /// Up, into Bottom only: a message from the network before Bottom has read its header.
    case receive(Packet, peer: Rank)
    /// Up: a sender's window is full (`blocked`) or has room again. `peer` nil: casts;
    /// otherwise sends to that peer.
    case flowControl(blocked: Bool, peer: Rank?)

    // MARK: Life cycle and time

    /// First event of every stack (up). Carries the time the stack starts.
    case initialize(Time)
    /// Down: please send an up `.timer` at (or after) the given time. Up: a tick; every layer
    /// sees every tick and checks its own deadlines.
    case timer(Time)
    /// Down: disable this stack. Up: the stack is disabled; free resources.
    case exit
    /// The application wants to leave the group.
    case leave
    /// An application wake-up outside any callback.
    case async

    // MARK: Membership

    /// These ranks look faulty.
    case suspect(RankSet, reason: String)
    /// "I am now the coordinator."
    case elect
    /// These ranks have failed; drop their traffic.
    case fail(RankSet)
    /// Stop sending: the view is about to change.
    case block
    /// My part of the flush is complete (up: everyone's, at the collector).
    indirect case blockOk(contact: MergeContact?)
    /// How many application casts (per origin) and sends (per peer) must be delivered
    /// before this view may end.
    case syncInfo(casts: [Int], sends: [Int])
    /// Application message counts attached to `.block`/`.fail` on their way up (Top_appl to
    /// the flush).
    case applCounts(casts: [Int], sends: [Int])
    /// The next view.
    indirect case view(ViewState)
    /// Ask for a view change.
    case prompt
    /// Up, from Leave: this member's Leave was delivered here (it leaves cleanly, after
    /// everything it cast in this view). Primary lowers the expected membership by it.
    case left(Rank)
    /// Switch to this protocol at the next view.
    case protocolSwitch(String)

    // MARK: Stability

    /// From Stable down to Mnak: free casts below `stability[o]`; NAK up to `numCasts[o]`.
    case stable(stability: [Int], numCasts: [Int])
    /// From Stable: "report your delivered counts" (Mnak fills them in on the way up).
    case stableRequest(numCasts: [Int]?)

    // MARK: Gossip and merging

    /// Gossip on the group's channel (down: to the rendezvous; up: heard from elsewhere).
    indirect case gossip(Gossip)
    /// Gossip sent straight to one address (Heal replies, merge traffic).
    indirect case gossipDirect(Gossip, to: Address)
    /// Up, from Heal to Top: a larger partition was just heard; merging into it is possible.
    indirect case mergeTarget(MergeContact)
    indirect case mergeRequest(MergeContact, ViewState)
    indirect case mergeGranted(MergeContact, ViewState)
    indirect case mergeDenied(MergeContact, ViewState)
    case mergeFailed

    // MARK: Debugging

    /// Each layer logs its statistics.
    case account
    case dump
}

/// Per-message flags carried with a message event.
public struct MessageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The payload came from the application (Top_appl counts these for the flush).
    public static let application = MessageFlags(rawValue: 1 << 0)
    /// This payload is one fragment of a larger message.
    public static let fragment = MessageFlags(rawValue: 1 << 1)
}

/// Whom a merge is aimed at: a coordinator, its address and (optionally) its view id.
public struct MergeContact: Hashable, Sendable {
    public var endpoint: EndpointID
    public var address: Address
    public var viewID: ViewID?

    public init(endpoint: EndpointID, address: Address, viewID: ViewID?) {
        self.endpoint = endpoint
        self.address = address
        self.viewID = viewID
    }
}

/// The fields layers add to a gossip event (Ensemble's `HealGos`, `SwitchGos`, `MergeGos`).
public struct Gossip: Sendable {
    /// Heal: "my partition exists".
    public var heal: HealGossip?
    /// Switch: "this protocol is suggested".
    public var protocolSuggestion: ProtocolGossip?
    /// Merge: one merge-protocol message.
    public var merge: MergeGossip?

    public init(heal: HealGossip? = nil, protocolSuggestion: ProtocolGossip? = nil, merge: MergeGossip? = nil) {
        self.heal = heal
        self.protocolSuggestion = protocolSuggestion
        self.merge = merge
    }
}

/// "My partition exists": a coordinator's announcement on the gossip channel.
public struct HealGossip: Hashable, Sendable {
    public var protocolStack: String
    public var viewID: ViewID
    public var contact: MergeContact
    public var members: [EndpointID]
    /// The partition is the primary one (Primary layer): it never merges into another.
    public var primary: Bool
    /// The newest primary view the partition descends from (its own view if it is primary; nil
    /// without the Primary layer or before the first primary): of two non-primary partitions,
    /// the one with the newer primary lineage holds the newer state, and absorbs the other.
    public var primaryLineage: ViewID?

    public init(protocolStack: String, viewID: ViewID, contact: MergeContact, members: [EndpointID], primary: Bool = false,
                primaryLineage: ViewID? = nil) {
        self.protocolStack = protocolStack
        self.viewID = viewID
        self.contact = contact
        self.members = members
        self.primary = primary
        self.primaryLineage = primaryLineage
    }
}

public struct ProtocolGossip: Hashable, Sendable {
    public var protocolStack: String
    public var viewID: ViewID
    public var timestamp: Time

    public init(protocolStack: String, viewID: ViewID, timestamp: Time) {
        self.protocolStack = protocolStack
        self.viewID = viewID
        self.timestamp = timestamp
    }
}

/// One message of the merge protocol between coordinators of different partitions.
public struct MergeGossip: Sendable {
    /// `ack`: "I heard your request" (every copy is acknowledged; see Merge).
    public enum Kind: UInt8, Sendable { case request = 0, granted = 1, denied = 2, ack = 3 }
    /// To whom.
    public var contact: MergeContact
    /// From whom (the coordinator that sent it).
    public var sender: EndpointID
    public var sequence: UInt64
    public var kind: Kind
    public var view: ViewState

    public init(contact: MergeContact, sender: EndpointID, sequence: UInt64, kind: Kind, view: ViewState) {
        self.contact = contact
        self.sender = sender
        self.sequence = sequence
        self.kind = kind
        self.view = view
    }
}
