import Ensemble
import Simulation

/// One event of a member's log, parsed (see `LogLine` for the format).
public enum LogEvent {
    /// The member's identity in the history and its endpoint (the address is not kept).
    case start(Recorder.Member, endpoint: EndpointID)
    case view(ViewState, role: String)
    case block(ViewID)
    /// `csxPrimaryChangedCallback`: the view is (true) confirmed primary, or (false) not.
    case primary(ViewID, Bool)
    case sent(TestMessage.Kind, ViewID, seq: UInt64, filler: Int, destination: EndpointID?)
    case received(TestMessage.Kind, ViewID, from: EndpointID, message: TestMessage?)
    case leave
    case exit
    case xferStart(Int)
    case xferCancel(Int)
    case xferProvide(joiner: EndpointID, xfer: Int, digest: String, count: UInt64)
    case xferGot(provider: EndpointID, xfer: Int, claimed: String, computed: String, count: UInt64)
    case final(count: UInt64, sum: UInt64, digest: String, view: ViewID?)
    case anomaly(String)
    /// Orchestrator lines (soak.log).
    case kill(Recorder.Member, reason: String)
    case note(String)
}

/// A parsed log file: one member's (or the orchestrator's) events with their times.
public struct ParsedLog {
    public var file: String
    /// From the (last) start line; nil in soak.log, or if the start line was lost.
    public var member: Recorder.Member?
    public var endpoint: EndpointID?
    public var events: [(micros: Int64, event: LogEvent)] = []
}
