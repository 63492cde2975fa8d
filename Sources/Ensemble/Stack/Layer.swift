/// One protocol layer: a state machine that handles events from below (`up`) and from above
/// (`down`) and emits events to its neighbours through its `LayerPort`. Events are handed
/// over (`consuming`), so passing one on costs no reference counting. A layer never does
/// I/O, never reads a clock and never calls another layer directly; it talks to the same
/// layer at other members only through the header it pushes on messages.
public protocol Layer: AnyObject {
    /// An event from the layer below.
    func up(_ event: consuming Event)
    /// An event from the layer above.
    func down(_ event: consuming Event)
}

/// What a layer is given when the stack for a view is built.
public struct LayerSetup {
    /// The view, identical at every member.
    public let view: ViewState
    /// My rank in it.
    public let rank: Rank
    /// Parameters: the view's overrides on top of the endpoint's.
    public let params: Parameters
    /// The time the stack starts.
    public let now: Time
    /// What an endpoint's stacks hand on from one view to the next.
    public let shared: EndpointSharedState

    public init(view: ViewState, rank: Rank, params: Parameters, now: Time, shared: EndpointSharedState = EndpointSharedState()) {
        self.view = view
        self.rank = rank
        self.params = params
        self.now = now
        self.shared = shared
    }

    public var count: Int { view.count }
    public var endpoint: EndpointID { view.members[rank] }
    public var isCoordinator: Bool { rank == 0 }
}

/// The little state that survives from one view's stack to the next (Ensemble's
/// `Layer.state`); everything else is per view.
public final class EndpointSharedState {
    /// When the last protocol switch was requested or adopted (Switch); nil: never.
    public var switchTimestamp: Time?
    /// What the layers of every view dropped.
    public let drops = DropCounters()
    /// Sees every membership decision this endpoint makes or accepts (checkers, traces).
    public var observer: ((MembershipNote) -> Void)?
    /// Leaving: the latest the endpoint waits for its Leave to be acknowledged (Leave).
    public var leaveDeadline: Time?
    /// How many pings each member of the current view has left unechoed (Suspect), across views.
    public var unechoedPings: [EndpointID: Int] = [:]
    /// When those counts last grew (one sweep period at most once).
    public var pingsCountedAt: Time?
    /// The members pinged then (Suspect pings only some; one pinged anew starts its count afresh).
    public var pingedAtLastCount: Set<EndpointID> = []
    /// Round-trip estimates per peer (Pt2pt measures; Pt2pt, Mnak and Stable time out by them).
    public let roundTrips = RoundTrips()
    public init() {}
}

/// A membership decision, as an observer sees it (for the checker of guarantees 4 and 15).
public enum MembershipNote: Sendable {
    /// As coordinator (rank `rank` of view `view`), I decided that `failed` have failed.
    case issuedFail(view: ViewID, rank: Rank, failed: RankSet)
    /// As coordinator (rank `rank` of `view`), I decided the next view.
    case issuedView(view: ViewID, rank: Rank, next: ViewState)
    /// In `view`, I took `failed` as failed (from my coordinator, or as coordinator).
    case acceptedFail(view: ViewID, failed: RankSet)
    /// In `view`, I delivered the Leave of rank `rank` (so every cast it made there before).
    case acknowledgedLeave(view: ViewID, rank: Rank)
}

/// Messages the layers dropped, for status dumps: headers that did not decode, and input
/// refused for exceeding a resource limit.
public final class DropCounters {
    public var malformedHeaders: UInt64 = 0
    public var overLimit: UInt64 = 0
    public init() {}
}

/// A layer's connection to its neighbours: events go into the stack's FIFO queue and are
/// handled after the current handler returns (no re-entrancy, FIFO between any two layers).
public struct LayerPort {
    unowned(unsafe) let stack: Stack
    let index: Int

    /// Passes an event to the layer above (or, from the top layer, out of the stack).
    @inline(__always) public func up(_ event: consuming Event) { stack.enqueue(index - 1, .up, event) }

    /// Where the layer counts what it drops.
    public var drops: DropCounters { stack.drops }

    /// Passes an event to the layer below.
    @inline(__always) public func down(_ event: consuming Event) { stack.enqueue(index + 1, .down, event) }
}

/// How a layer is made: from its setup and its port. Throws on bad parameters.
public typealias LayerFactory = @Sendable (LayerSetup, LayerPort, StackServices) throws(ParameterError) -> any Layer

/// What the stack offers the layers that need the outside world: only Bottom (the network
/// and alarms) and Top_appl (the application) use it.
public protocol StackServices: AnyObject {
    /// Hands one finished message to the network: to `destination`, or to every other member
    /// when `destination` is nil. The bytes must be copied before returning.
    func transmit(_ packet: Packet, to destination: Rank?)
    /// Gossip on the group's rendezvous channel, or straight to one address.
    func transmitGossip(_ gossip: Gossip, to address: Address?)
    /// Deliver an up `.timer` at (or after) `time`.
    func requestAlarm(at time: Time)
    /// The current time on the endpoint's clock (the transport's): for layers that measure
    /// round trips or stamp what they send.
    var now: Time { get }
    /// The application bound to this endpoint.
    var application: (any GroupApplication)? { get }
}
