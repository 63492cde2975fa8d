import Ensemble
import MaestroCore
import Simulation

/// What the simulated Maestro members did, in virtual-time order, and the violations found
/// on the spot (a callback after exit, a client given state, a state that arrived altered).
/// `MaestroChecker` judges the rest at the end of the run.
public final class MaestroHistory {
    /// One incarnation of one simulated process.
    public struct Member: Hashable, Comparable, CustomStringConvertible, Sendable {
        public var process: Int
        public var incarnation: UInt64
        public var description: String { "p\(process).\(incarnation)" }
        public static func < (a: Member, b: Member) -> Bool { (a.process, a.incarnation) < (b.process, b.incarnation) }
    }

    public enum Event: Sendable {
        /// A view accepted: its id, members, my client/server state in it, and whether it was
        /// decided primary.
        case view(ViewID, [EndpID], ClSvState, primary: Bool)
        case block
        case leave
        case exit
        /// A cast or send delivered: its origin, its number in the origin's casts (or sends),
        /// and its safety (`MessageSafety.rawValue`).
        case cast(EndpID, UInt64, Int32)
        case send(EndpID, UInt64, Int32)
        case held
        /// A cast of mine accepted by `cast` (its number in my casts).
        case made(UInt64)
        case xferStart(XferID)
        case xferCanceled(XferID)
        case xferTerminated(XferID)
        case provided(to: EndpID, XferID, UInt64)
        case installed(XferID, UInt64)
    }

    public struct Entry: Sendable {
        public var time: Time
        public var member: Member
        public var event: Event
    }

    public private(set) var entries: [Entry] = []
    public private(set) var violations: [Violation] = []
    /// Endpoint id → member, for the checks.
    public private(set) var endpoints: [EndpID: Member] = [:]
    var clock: () -> Time = { .zero }

    public init() {}

    func register(_ m: Member, endpoint: EndpID) { endpoints[endpoint] = m }

    func record(_ m: Member, _ e: Event) { entries.append(Entry(time: clock(), member: m, event: e)) }

    func violation(_ property: String, _ detail: String) {
        violations.append(Violation(property: property, detail: "\(clock()): \(detail)"))
    }

    /// Counts of one kind of event over the run.
    public func count(where f: (Event) -> Bool) -> Int { entries.reduce(0) { $0 + (f($1.event) ? 1 : 0) } }
}
