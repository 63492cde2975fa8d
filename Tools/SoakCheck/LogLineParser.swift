import Ensemble
import Simulation

/// Reads one log line back into its time and event: nil for anything that is not exactly a
/// line `LogLine.format` could have written (wrong field count, a number, endpoint, view id
/// or view that does not parse, a view whose id is not the one logged with it).
extension LogLine {
    /// `line` without its newline.
    public static func parse<S: StringProtocol>(_ line: S) -> (micros: Int64, event: LogEvent)? where S.SubSequence == Substring {
        let f = line.split(separator: " ", omittingEmptySubsequences: false)
        guard f.count >= 2, let t = Int64(f[0]), let kind = Kind(rawValue: String(f[1])) else { return nil }
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
            return (t, .start(Recorder.Member(process: m, incarnation: inc), endpoint: e))
        case .view:
            guard a.count == 3, let id = vid(0), let v = LogCodec.parseView(a[2]), v.id == id else { return nil }
            return (t, .view(v, role: String(a[1])))
        case .block:
            guard a.count == 1, let id = vid(0) else { return nil }
            return (t, .block(id))
        case .primary:
            guard a.count == 2, let id = vid(0), a[1] == "1" || a[1] == "0" else { return nil }
            return (t, .primary(id, a[1] == "1"))
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
