import Ensemble

/// Who did what, in the order it happened, across every simulated member: the input of the
/// property checker. Members are identified by (process index, incarnation).
public final class Recorder {
    public struct Member: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var process: Int
        public var incarnation: UInt64
        public init(process: Int, incarnation: UInt64) {
            self.process = process
            self.incarnation = incarnation
        }
        public static func < (a: Member, b: Member) -> Bool { (a.process, a.incarnation) < (b.process, b.incarnation) }
        public var description: String { incarnation == 0 ? "p\(process)" : "p\(process).\(incarnation)" }
    }

    /// A message as sent: by whom, in which view, to whom (nil: a cast to the view).
    public struct Sent: Sendable {
        public var origin: Member
        public var view: ViewID
        public var kind: TestMessage.Kind
        public var seq: UInt64
        public var destination: Member?

        public init(origin: Member, view: ViewID, kind: TestMessage.Kind, seq: UInt64, destination: Member?) {
            self.origin = origin
            self.view = view
            self.kind = kind
            self.seq = seq
            self.destination = destination
        }
    }

    public struct Delivery: Sendable {
        public var receiver: Member
        public var view: ViewID
        /// The member the stack says sent it (from the view's rank).
        public var from: Member?
        /// What the payload says; nil if it was not a valid test message.
        public var message: TestMessage?
        public var kind: TestMessage.Kind

        public init(receiver: Member, view: ViewID, from: Member?, message: TestMessage?, kind: TestMessage.Kind) {
            self.receiver = receiver
            self.view = view
            self.from = from
            self.message = message
            self.kind = kind
        }
    }

    public enum Entry: Sendable {
        case installed(Member, ViewState)
        case sent(Sent)
        case delivered(Delivery)
        case blocked(Member, ViewID)
        /// The simulator crashed the member's process.
        case crashed(Member)
        /// The application asked to leave.
        case leaveRequested(Member)
        /// The application's `exit` was called.
        case left(Member)
        /// A remark for the history (faults injected).
        case note(String)
        /// A membership decision the member's endpoint made or accepted.
        case membership(Member, MembershipNote)
        /// The Primary layer confirmed the member's current (primary) view.
        case primaryConfirmed(Member, ViewID)
    }

    public private(set) var entries: [Entry] = []
    /// When each entry was recorded (parallel to `entries`).
    public private(set) var times: [Time] = []
    /// The clock entries are stamped with.
    public var clock: () -> Time = { .zero }
    /// Endpoint ids of the members, to translate view membership.
    public private(set) var endpoints: [EndpointID: Member] = [:]

    public init() {}

    public func note(_ text: String) { record(.note(text)) }

    /// The longest interval a member spent blocked (first block in a view until its next
    /// view installed), with the member and when it started. A member that crashes or leaves
    /// installs nothing more, so its last interval is never counted.
    public func longestBlocked() -> (Time, String) {
        var since: [Member: Time] = [:]
        var worst: (Time, String) = (.zero, "")
        for (entry, t) in zip(entries, times) {
            switch entry {
            case let .blocked(m, _):
                if since[m] == nil { since[m] = t }
            case let .installed(m, _):
                if let s = since.removeValue(forKey: m), t - s > worst.0 { worst = (t - s, "\(m) from \(s)") }
            default:
                break
            }
        }
        return worst
    }

    public func register(_ member: Member, endpoint: EndpointID) { endpoints[endpoint] = member }
    public func member(of endpoint: EndpointID) -> Member? { endpoints[endpoint] }

    public func record(_ e: Entry) {
        entries.append(e)
        times.append(clock())
    }

    /// The membership history (views, blocks, crashes, leaves) as readable lines.
    public func membershipHistory() -> [String] {
        func name(_ v: ViewState) -> String {
            "\(v.ltime)/\(member(of: v.coordinator).map(String.init(describing:)) ?? "?") [\(v.members.map { member(of: $0).map(String.init(describing:)) ?? "?" }.joined(separator: ","))]\(v.primary ? " primary" : "")"
        }
        var lines: [String] = []
        for (e, t) in zip(entries, times) {
            switch e {
            case let .installed(m, v): lines.append("\(t) \(m) installs \(name(v))")
            case let .blocked(m, id): lines.append("\(t) \(m) blocks in \(id.ltime)")
            case let .crashed(m): lines.append("\(t) \(m) crashes")
            case let .primaryConfirmed(m, id): lines.append("\(t) \(m) confirms primary \(id.ltime)")
            case let .leaveRequested(m): lines.append("\(t) \(m) asks to leave")
            case let .left(m): lines.append("\(t) \(m) exits")
            case let .note(text): lines.append("\(t) -- \(text)")
            case let .membership(m, .issuedFail(v, r, f)): lines.append("\(t) \(m) (rank \(r) of \(v.ltime)) fails \(f)")
            case let .membership(m, .issuedView(v, r, next)): lines.append("\(t) \(m) (rank \(r) of \(v.ltime)) decides \(name(next))")
            default: break
            }
        }
        return lines
    }
}
