import Ensemble

/// What a member learns with each view (`Maestro_GrpMemb_ViewData`).
public struct GroupMemberViewData: Sendable {
    public var version = "ensemble-swift-1"
    public var groupName: String
    public var myEndpID: EndpID
    /// Members in rank order; rank 0 is the coordinator.
    public var members: [EndpID]
    public var newMembers: [EndpID]
    public var departedMembers: [EndpID]
    public var nmembers: Int { members.count }
    public var myRank: Int
    /// -1 before the first view.
    public var myOldRank: Int
    public var coordinator: EndpID
    public var oldCoordinator: EndpID?
    public var protocolStack: String
    public var viewID: ViewID
    public var params: String
    /// This member is in the primary partition: the view was decided primary and is confirmed
    /// (every member installed it). False at first in every view, it becomes true during the
    /// view when the confirmation comes (`CSX.csxPrimaryChangedCallback`); always false without
    /// the Primary layer. Refuse updates to replicated state while it is false.
    public var primaryFlag: Bool
    /// The view's coordinator decided it primary (the same at every member of the view, from
    /// the start of the view). Decide by this, not by `primaryFlag` (which members learn at
    /// different moments), anything every replica must do alike, such as whether to apply an
    /// update delivered in this view.
    public var decidedPrimary: Bool
    /// The newest primary view this one descends from, itself if it was decided primary (nil
    /// without the Primary layer, or before the group's first primary view).
    public var primaryLineage: ViewID?
    /// Per rank: joined as a client.
    public var clientFlags: [Bool]
    public var nGrpMembers: Int { clientFlags.filter { !$0 }.count }
    public var nGrpClients: Int { clientFlags.filter { $0 }.count }

    init(view: ViewState, rank: Rank, previous: GroupMemberViewData?) {
        groupName = view.group.name
        members = view.members
        myRank = rank
        myEndpID = view.members[rank]
        let old = Set(previous?.members ?? [])
        newMembers = view.members.filter { !old.contains($0) }
        let now = Set(view.members)
        departedMembers = (previous?.members ?? []).filter { !now.contains($0) }
        myOldRank = previous?.myRank ?? -1
        coordinator = view.coordinator
        oldCoordinator = previous?.coordinator
        protocolStack = view.protocolStack
        viewID = view.id
        params = view.params.description
        primaryFlag = false
        decidedPrimary = view.primary
        primaryLineage = view.primary ? view.id : view.lastPrimary?.id
        clientFlags = view.clients
    }
}

/// What a client/server member learns with each view (`Maestro_ClSv_ViewData`): the group
/// member's view data plus the server lists of the view message.
public struct ClSvViewData: Sendable {
    public var base: GroupMemberViewData
    /// Servers in promotion order (the first is the oldest: state providers are chosen from it).
    public var servers: [EndpID] = []
    /// Servers currently receiving state.
    public var xferServers: [EndpID] = []
    /// Everyone else.
    public var clients: [EndpID] = []
    public var newServers: [EndpID] = []
    public var departedServers: [EndpID] = []
    public var newXferServers: [EndpID] = []
    public var departedXferServers: [EndpID] = []
    public var newClients: [EndpID] = []
    public var departedClients: [EndpID] = []
    public var serverCoordinator: EndpID?
    /// The previous view's server coordinator (the original stored the group coordinator: fixed).
    public var oldServerCoordinator: EndpID?
    /// The strictest transfer protection in force; `.noXfer` when nobody is receiving state.
    public var viewType = XferType.noXfer
    public var myXferType = XferType.noXfer
    public var myMbrshipType = MembershipType.server
    public var state = ClSvState.initial
    public var oldState = ClSvState.initial
    /// -1 if not a server.
    public var myServerRank = -1
    public var myOldServerRank = -1
    /// This member must (re)start pulling its state now.
    public var startXfer = false
    /// The id of this member's transfer as of this view: with `startXfer`, the one to pass to
    /// `xferDone` when the state is in (CSX passes it to `stateTransferCallback`).
    public var xferID = XferID(0)

    init(base: GroupMemberViewData) { self.base = base }

    // The group member's fields, for convenience (viewData.members, viewData.myRank, ...).
    public var members: [EndpID] { base.members }
    public var nmembers: Int { base.nmembers }
    public var myRank: Int { base.myRank }
    public var myEndpID: EndpID { base.myEndpID }
    public var coordinator: EndpID { base.coordinator }
    public var viewID: ViewID { base.viewID }
    public var groupName: String { base.groupName }
    /// This view is the primary partition (with the Primary layer; false without it).
    public var primaryFlag: Bool { base.primaryFlag }
    public var decidedPrimary: Bool { base.decidedPrimary }
    public var primaryLineage: ViewID? { base.primaryLineage }
}

public typealias CSXViewData = ClSvViewData
