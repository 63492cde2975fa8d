@testable import Ensemble

/// Helpers for the membership-layer tests (Top down to Vsync): short event kinds, extractors
/// for the fields the tests look at, and views of "another partition".

extension Event {
    /// The case name only, without fields: for readable sequences like `["cast", "fail"]`.
    var kind: String {
        switch self {
        case .cast: "cast"
        case .send: "send"
        case .castUnreliable: "castUnreliable"
        case .sendUnreliable: "sendUnreliable"
        case .receive: "receive"
        case .flowControl: "flowControl"
        case .initialize: "initialize"
        case .timer: "timer"
        case .exit: "exit"
        case .leave: "leave"
        case .async: "async"
        case .suspect: "suspect"
        case .elect: "elect"
        case .fail: "fail"
        case .block: "block"
        case .blockOk: "blockOk"
        case .syncInfo: "syncInfo"
        case .applCounts: "applCounts"
        case .view: "view"
        case .prompt: "prompt"
        case .left: "left"
        case .protocolSwitch: "protocolSwitch"
        case .stable: "stable"
        case .stableRequest: "stableRequest"
        case .gossip: "gossip"
        case .gossipDirect: "gossipDirect"
        case .mergeTarget: "mergeTarget"
        case .mergeRequest: "mergeRequest"
        case .mergeGranted: "mergeGranted"
        case .mergeDenied: "mergeDenied"
        case .mergeFailed: "mergeFailed"
        case .account: "account"
        case .dump: "dump"
        }
    }

    var suspects: RankSet? { if case let .suspect(s, _) = self { s } else { nil } }
    var failures: RankSet? { if case let .fail(f) = self { f } else { nil } }
    var viewState: ViewState? { if case let .view(v) = self { v } else { nil } }
    var timerTime: Time? { if case let .timer(t) = self { t } else { nil } }
    var gossipValue: Gossip? { if case let .gossip(g) = self { g } else { nil } }
    var directGossip: (gossip: Gossip, to: Address)? { if case let .gossipDirect(g, a) = self { (g, a) } else { nil } }
    /// `.blockOk`'s contact: nil if not a `.blockOk`, `.some(nil)` if it has none.
    var blockOkContact: MergeContact?? { if case let .blockOk(c) = self { .some(c) } else { nil } }

    /// The contact and view of a merge event (request, granted or denied).
    var mergeFields: (contact: MergeContact, view: ViewState)? {
        switch self {
        case let .mergeRequest(c, v), let .mergeGranted(c, v), let .mergeDenied(c, v): (c, v)
        default: nil
        }
    }
}

extension Array where Element == Event {
    var kinds: [String] { map(\.kind) }
    /// The events of one kind.
    func only(_ kind: String) -> [Event] { filter { $0.kind == kind } }
    /// All kinds but the ones listed (timers passing through, typically).
    func kinds(excluding excluded: Set<String>) -> [String] { kinds.filter { !excluded.contains($0) } }
}

extension LayerHarness {
    /// The harness view (3 members by default, ranks 0..n-1, ltime 1, protocol "test").
    var view: ViewState { setup.view }
    var endpoint: EndpointID { setup.endpoint }

    /// The down events of one kind emitted so far (clears the record).
    func takeDown(_ kind: String) -> [Event] { takeDown().only(kind) }
    /// The packets of the casts / sends emitted downward (clears the record).
    func takeDownPackets() -> [Packet] { takeDown().compactMap(\.packet) }
}

/// Pops one layer header off a copy of `p`, or nil if it does not decode.
func header<H>(_ p: Packet, _ decode: (inout WireReader) throws(WireError) -> H) -> H? {
    var q = p
    return try? q.pop(decode)
}

/// The header of layer header type `H` in front of `p` (popped off a copy), or nil if it is the
/// pass-through tag or does not decode.
func ownHeader<H: LayerHeader>(_ p: Packet, _: H.Type, members: Int = 3) -> H? {
    header(p) { (r: inout WireReader) throws(WireError) in try H.decode(from: &r, members: members) } ?? nil
}

/// Endpoints of another partition: a different host, so never equal to the harness's.
func foreignEndpoints(_ n: Int, firstPort: UInt16 = 200) -> [EndpointID] {
    (0 ..< n).map { EndpointID(host: 0x0A00_0002, port: firstPort + UInt16($0), counter: 0, incarnation: 9) }
}

/// The view of another partition of the harness's group ("t", protocol "test" by default).
func foreignView(size n: Int, ltime: UInt64 = 1, firstPort: UInt16 = 200, protocolStack: String = "test",
                 members: [EndpointID]? = nil) -> ViewState {
    let ids = members ?? foreignEndpoints(n, firstPort: firstPort)
    return ViewState(group: GroupID("t"), protocolStack: protocolStack, ltime: ltime, members: ids,
                     addresses: ids.map { .loopback(port: $0.port) })
}

/// The contact of a view's coordinator, as Inter and Heal build it.
func contact(of v: ViewState) -> MergeContact {
    MergeContact(endpoint: v.coordinator, address: v.addresses[0], viewID: v.id)
}

/// The next view of `v` without `failed` (what an elected coordinator installs).
func nextView(of v: ViewState, without failed: RankSet = RankSet()) -> ViewState {
    ViewState.merge([v.removing(failed)])!
}
