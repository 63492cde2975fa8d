/// The state of a view, identical at every member (Ensemble's `View.state`).
///
/// A fresh protocol stack is built for each view from this record; nothing else survives
/// from one view to the next.
public struct ViewState: Hashable, Sendable {
    public var group: GroupID
    /// The protocol string, top layer first (`Top:Heal:...:Bottom`).
    public var protocolStack: String
    /// Logical time: bumped by every view change.
    public var ltime: UInt64
    /// Member endpoints in rank order: rank = index, rank 0 is the coordinator.
    public var members: [EndpointID]
    /// Where each member receives datagrams, parallel to `members`.
    public var addresses: [Address]
    /// Per member: joined as a client (Ensemble's client flag; Maestro uses it).
    public var clients: [Bool]
    /// Ids of the views this one was formed from.
    public var previousIDs: [ViewID]
    /// Parameter overrides agreed for this view.
    public var params: Parameters
    /// This view is the primary partition (decided by the Primary layer; false without it).
    public var primary: Bool
    /// The expected membership (Corosync's expected_votes) the Primary layer carries from view
    /// to view; 0: not set yet (the `primary_expected` parameter applies).
    public var expected: Int
    /// The last primary view this one descends from (not itself), with the members of it that
    /// had not left cleanly; nil: none known (Primary layer only).
    public var lastPrimary: PrimaryRecord?
    /// Earliest start time of the merged partitions (informational).
    public var uptime: Time

    public init(group: GroupID, protocolStack: String, ltime: UInt64, members: [EndpointID],
                addresses: [Address], clients: [Bool]? = nil, previousIDs: [ViewID] = [],
                params: Parameters = Parameters(), primary: Bool = false, uptime: Time = .zero,
                expected: Int = 0, lastPrimary: PrimaryRecord? = nil) {
        self.group = group
        self.protocolStack = protocolStack
        self.ltime = ltime
        self.members = members
        self.addresses = addresses
        self.clients = clients ?? Array(repeating: false, count: members.count)
        self.previousIDs = previousIDs
        self.params = params
        self.primary = primary
        self.uptime = uptime
        self.expected = expected
        self.lastPrimary = lastPrimary
    }

    /// A one-member view: how every endpoint starts.
    public static func singleton(group: GroupID, protocolStack: String, endpoint: EndpointID,
                                 address: Address, client: Bool = false, params: Parameters = Parameters(),
                                 now: Time = .zero) -> ViewState {
        ViewState(group: group, protocolStack: protocolStack, ltime: 0, members: [endpoint],
                  addresses: [address], clients: [client], params: params, uptime: now)
    }

    public var count: Int { members.count }
    public var coordinator: EndpointID { members.first ?? .none }
    public var id: ViewID { ViewID(ltime: ltime, coordinator: coordinator) }

    public func rank(of endpoint: EndpointID) -> Rank? { members.firstIndex(of: endpoint) }

    /// The view without the `failed` ranks (order kept; nothing else changes).
    public func removing(_ failed: RankSet) -> ViewState {
        var v = self
        let keep = members.indices.filter { !failed.contains($0) }
        v.members = keep.map { members[$0] }
        v.addresses = keep.map { addresses[$0] }
        v.clients = keep.map { clients[$0] }
        return v
    }

    /// Ensemble's `View.merge`: members concatenated in list order (the first view's
    /// coordinator stays coordinator), ltime one past the largest, previous ids recorded.
    public static func merge(_ views: [ViewState]) -> ViewState? {
        guard var v = views.first else { return nil }
        v.members = views.flatMap(\.members)
        v.addresses = views.flatMap(\.addresses)
        v.clients = views.flatMap(\.clients)
        v.ltime = (views.map(\.ltime).max() ?? 0) + 1
        v.previousIDs = views.map(\.id)
        v.uptime = views.map(\.uptime).min() ?? v.uptime
        return v
    }
}

/// A primary view as its successors remember it: its id and the members that count for the
/// next primary's majority (those that did not leave cleanly); and, when the view was not
/// known to be confirmed (every member installed it) by the coordinator that decided from
/// it, the member sets the next primary also needs a majority of (those its own decision
/// needed): a partition that split off before installing it may have continued the older
/// lineage, and only a majority of both excludes that side.
public struct PrimaryRecord: Hashable, Sendable {
    public var id: ViewID
    public var members: [EndpointID]
    /// Further member sets that each need a majority (at most `maxEarlier`).
    public var earlier: [[EndpointID]]
    /// More unconfirmed primaries in a row than `earlier` holds: no successor can be primary
    /// (safety before liveness; a restart of the group clears it).
    public var overflow: Bool

    /// The most member sets `earlier` holds.
    public static let maxEarlier = 3

    public init(id: ViewID, members: [EndpointID], earlier: [[EndpointID]] = [], overflow: Bool = false) {
        self.id = id
        self.members = members
        self.earlier = Array(earlier.prefix(PrimaryRecord.maxEarlier))
        self.overflow = overflow || earlier.count > PrimaryRecord.maxEarlier
    }

    /// Every member set the next primary needs a majority of.
    public var quorums: [[EndpointID]] { [members] + earlier }
}
