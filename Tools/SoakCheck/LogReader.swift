import Ensemble
import Foundation
import Simulation

/// One event of a member's log, parsed (see `EventLog` for the format).
public enum LogEvent {
    case start
    case view(ViewState, role: String)
    case block(ViewID)
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
    public var member: Recorder.Member?
    public var endpoint: EndpointID?
    public var events: [(micros: Int64, event: LogEvent)] = []

    public init(file: String, member: Recorder.Member? = nil, endpoint: EndpointID? = nil, events: [(micros: Int64, event: LogEvent)] = []) {
        self.file = file
        self.member = member
        self.endpoint = endpoint
        self.events = events
    }
}

/// Reads the soak's log files. Every malformed line becomes a problem (`file:line: what`);
/// an unterminated last line is expected of a member killed while writing and is skipped.
public struct LogReader {
    public private(set) var problems: [String] = []

    public init() {}

    public mutating func read(_ path: String, killed: Bool) -> ParsedLog {
        var log = ParsedLog(file: (path as NSString).lastPathComponent)
        guard let data = FileManager.default.contents(atPath: path) else {
            problems.append("\(log.file): cannot be read")
            return log
        }
        var text = String(decoding: data, as: UTF8.self)
        if !text.isEmpty && !text.hasSuffix("\n") {
            if !killed { problems.append("\(log.file): the last line is cut short, yet the member was not killed") }
            if let nl = text.lastIndex(of: "\n") { text = String(text[...nl]) } else { text = "" }
        }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            if let (t, e) = parse(line, into: &log) {
                log.events.append((t, e))
            } else {
                let shown = line.count > 160 ? line.prefix(160) + "..." : line
                problems.append("\(log.file):\(i + 1): cannot parse `\(shown)`")
            }
        }
        return log
    }

    private func parse(_ line: Substring, into log: inout ParsedLog) -> (Int64, LogEvent)? {
        let f = line.split(separator: " ", omittingEmptySubsequences: false)
        guard f.count >= 2, let t = Int64(f[0]), let kind = EventLog.Kind(rawValue: String(f[1])) else { return nil }
        let a = Array(f.dropFirst(2))
        func ep(_ i: Int) -> EndpointID? { i < a.count ? LogCodec.parseEndpoint(a[i]) : nil }
        func vid(_ i: Int) -> ViewID? { i < a.count ? LogCodec.parseViewID(a[i]) : nil }
        func u64(_ i: Int) -> UInt64? { i < a.count ? UInt64(a[i]) : nil }
        func int(_ i: Int) -> Int? { i < a.count ? Int(a[i]) : nil }
        func msgKind(_ i: Int) -> TestMessage.Kind? {
            guard i < a.count else { return nil }
            return a[i] == "cast" ? .cast : a[i] == "send" ? .send : nil
        }
        switch kind {
        case .start:
            guard a.count == 4, let m = int(0), let inc = u64(1), let e = ep(2) else { return nil }
            log.member = Recorder.Member(process: m, incarnation: inc)
            log.endpoint = e
            return (t, .start)
        case .view:
            guard a.count == 3, let id = vid(0), let v = LogCodec.parseView(a[2]), v.id == id else { return nil }
            return (t, .view(v, role: String(a[1])))
        case .block:
            guard a.count == 1, let id = vid(0) else { return nil }
            return (t, .block(id))
        case .cast:
            guard a.count == 3, let id = vid(0), let seq = u64(1), let filler = int(2) else { return nil }
            return (t, .sent(.cast, id, seq: seq, filler: filler, destination: nil))
        case .send:
            guard a.count == 4, let id = vid(0), let seq = u64(1), let filler = int(2), let d = ep(3) else { return nil }
            return (t, .sent(.send, id, seq: seq, filler: filler, destination: d))
        case .recv:
            guard a.count >= 4, let k = msgKind(0), let id = vid(1), let from = ep(2) else { return nil }
            if a.count == 4 && a[3] == "invalid" { return (t, .received(k, id, from: from, message: nil)) }
            guard a.count == 8, let o = int(3), let inc = u64(4), let mk = msgKind(5), let seq = u64(6), let filler = int(7) else { return nil }
            let m = TestMessage(origin: o, incarnation: inc, kind: mk, seq: seq, fillerLength: filler)
            return (t, .received(k, id, from: from, message: m))
        case .leave:
            return a.isEmpty ? (t, .leave) : nil
        case .exit:
            return a.isEmpty ? (t, .exit) : nil
        case .xferStart:
            guard a.count == 1, let x = int(0) else { return nil }
            return (t, .xferStart(x))
        case .xferCancel:
            guard a.count == 1, let x = int(0) else { return nil }
            return (t, .xferCancel(x))
        case .xferProvide:
            guard a.count == 4, let j = ep(0), let x = int(1), let c = u64(3) else { return nil }
            return (t, .xferProvide(joiner: j, xfer: x, digest: String(a[2]), count: c))
        case .xferGot:
            guard a.count == 5, let p = ep(0), let x = int(1), let c = u64(4) else { return nil }
            return (t, .xferGot(provider: p, xfer: x, claimed: String(a[2]), computed: String(a[3]), count: c))
        case .final:
            guard a.count == 4, let c = u64(0), let s = u64(1) else { return nil }
            return (t, .final(count: c, sum: s, digest: String(a[2]), view: vid(3)))
        case .anomaly:
            return (t, .anomaly(a.joined(separator: " ")))
        case .kill:
            guard a.count >= 2, let m = int(0), let inc = u64(1) else { return nil }
            return (t, .kill(Recorder.Member(process: m, incarnation: inc), reason: a.count > 2 ? String(a[2]) : "killed"))
        case .note:
            return (t, .note(a.joined(separator: " ")))
        }
    }
}
