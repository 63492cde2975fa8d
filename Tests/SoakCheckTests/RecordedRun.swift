import Ensemble
import Foundation
import Simulation
import SoakCheck
import Testing

/// Recorded soak runs written by hand in the member logs' format (`LogLine`), for the
/// checker tests: three members p0.1, p1.1 and p2.1 (process 0–2, incarnation 1, logs
/// `mP.1.log`) and the orchestrator's `soak.log`. Lines are edited by their timestamp, which
/// is unique within each log. A view line carries the whole `ViewState` in hex, which only
/// `LogCodec` writes: the views are built here and spliced into the lines.
struct RecordedRun {
    /// Log name -> its lines (each written with a newline).
    var logs: [String: [String]]
    /// Text after the last newline of a log: a line cut short by a kill.
    var tails: [String: String] = [:]
    var soak: [String]

    // MARK: Members and views

    static let e0 = "127.0.0.1:7000/00000000000000a0.0"
    static let e1 = "127.0.0.1:7001/00000000000000a1.0"
    static let e2 = "127.0.0.1:7002/00000000000000a2.0"
    static let ep0 = EndpointID(host: Address.loopbackIP, port: 7000, counter: 0, incarnation: 0xA0)
    static let ep1 = EndpointID(host: Address.loopbackIP, port: 7001, counter: 0, incarnation: 0xA1)
    static let ep2 = EndpointID(host: Address.loopbackIP, port: 7002, counter: 0, incarnation: 0xA2)

    static func member(_ p: Int) -> Recorder.Member { Recorder.Member(process: p, incarnation: 1) }

    static func view(_ ltime: UInt64, _ members: [EndpointID], previous: [ViewID] = []) -> ViewState {
        ViewState(group: GroupID("soak"), protocolStack: "Top:Pt2pt:Mnak:Bottom", ltime: ltime, members: members,
                  addresses: members.map { Address(ip: $0.host, port: $0.port) }, previousIDs: previous)
    }

    static func hex(_ v: ViewState) -> String { LogCodec.view(v) }

    /// p0 and p1 in view 1; p2 alone in its view 0; the three merged in view 2.
    static let v1 = view(1, [ep0, ep1])
    static let w0 = view(0, [ep2])
    static let v2 = view(2, [ep0, ep1, ep2], previous: [v1.id, w0.id])
    /// p0 and p1 after p2 is gone.
    static let v3 = view(3, [ep0, ep1], previous: [v2.id])

    // MARK: Runs

    /// Every check passes: p0 and p1 exchange a cast and a send in view 1; p2 joins in view 2
    /// and gets the state from p0 (transfer 1); in view 2 p0 casts #2 and #3 to both and sends
    /// #4 and #5 to p2; the three end with the same state.
    static var clean: RecordedRun {
        RecordedRun(logs: [
            "m0.1.log": [
                "1000 start 0 1 \(e0) 127.0.0.1:7000",
                "2000 view 1@\(e0) server \(hex(v1))",
                "3000 cast 1@\(e0) 0 10",
                "3050 send 1@\(e0) 1 4 \(e1)",
                "4000 block 1@\(e0)",
                "5000 view 2@\(e0) server \(hex(v2))",
                "5100 xfer-provide \(e2) 1 00000000000000aa 1",
                "6000 cast 2@\(e0) 2 20",
                "6100 cast 2@\(e0) 3 30",
                "6200 send 2@\(e0) 4 5 \(e2)",
                "6300 send 2@\(e0) 5 6 \(e2)",
                "9000 final 3 60 00000000000000bb 2@\(e0)",
            ],
            "m1.1.log": [
                "1100 start 1 1 \(e1) 127.0.0.1:7001",
                "2100 view 1@\(e0) server \(hex(v1))",
                "3100 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "3200 recv send 1@\(e0) \(e0) 0 1 send 1 4",
                "4100 block 1@\(e0)",
                "5200 view 2@\(e0) server \(hex(v2))",
                "6500 recv cast 2@\(e0) \(e0) 0 1 cast 2 20",
                "6600 recv cast 2@\(e0) \(e0) 0 1 cast 3 30",
                "9100 final 3 60 00000000000000bb 2@\(e0)",
            ],
            "m2.1.log": [
                "1200 start 2 1 \(e2) 127.0.0.1:7002",
                "2200 view 0@\(e2) joining \(hex(w0))",
                "4200 block 0@\(e2)",
                "5300 view 2@\(e0) xfer \(hex(v2))",
                "5400 xfer-start 1",
                "5500 xfer-got \(e0) 1 00000000000000aa 00000000000000aa 1",
                "6700 recv cast 2@\(e0) \(e0) 0 1 cast 2 20",
                "6800 recv cast 2@\(e0) \(e0) 0 1 cast 3 30",
                "6900 recv send 2@\(e0) \(e0) 0 1 send 4 5",
                "7000 recv send 2@\(e0) \(e0) 0 1 send 5 6",
                "9200 final 3 60 00000000000000bb 2@\(e0)",
            ],
        ], soak: ["8000 note quiet"])
    }

    /// The clean run, but p2's process is killed at 7.5 ms while it writes a line; p0 and p1
    /// move on to view 3 without it. Live: p0 and p1.
    static var crashed: RecordedRun {
        var r = clean
        r.remove("m2.1.log", at: 9200)
        r.tails["m2.1.log"] = "7400 recv cast 2@\(e0) \(e0) 0 1 ca"
        r.soak.insert("7500 kill 2 1 killed", at: 0)
        r.replace("m0.1.log", at: 9000, with: "9000 final 3 60 00000000000000bb 3@\(e0)")
        r.insert("m0.1.log", "7600 block 2@\(e0)")
        r.insert("m0.1.log", "8000 view 3@\(e0) server \(hex(v3))")
        r.replace("m1.1.log", at: 9100, with: "9100 final 3 60 00000000000000bb 3@\(e0)")
        r.insert("m1.1.log", "7700 block 2@\(e0)")
        r.insert("m1.1.log", "8100 view 3@\(e0) server \(hex(v3))")
        return r
    }

    /// Three members in one view; p2 leaves at 3 ms and exits; p0 and p1 install a view
    /// without it 0.4 and 0.6 ms after its leave. Live: p0 and p1.
    static var leave: RecordedRun {
        let all = view(1, [ep0, ep1, ep2])
        let two = view(2, [ep0, ep1], previous: [all.id])
        return RecordedRun(logs: [
            "m0.1.log": [
                "1000 start 0 1 \(e0) 127.0.0.1:7000",
                "2000 view 1@\(e0) server \(hex(all))",
                "2500 cast 1@\(e0) 0 10",
                "3100 block 1@\(e0)",
                "3400 view 2@\(e0) server \(hex(two))",
                "9000 final 1 10 00000000000000cc 2@\(e0)",
            ],
            "m1.1.log": [
                "1100 start 1 1 \(e1) 127.0.0.1:7001",
                "2100 view 1@\(e0) server \(hex(all))",
                "2600 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "3150 block 1@\(e0)",
                "3600 view 2@\(e0) server \(hex(two))",
                "9100 final 1 10 00000000000000cc 2@\(e0)",
            ],
            "m2.1.log": [
                "1200 start 2 1 \(e2) 127.0.0.1:7002",
                "2200 view 1@\(e0) server \(hex(all))",
                "2700 recv cast 1@\(e0) \(e0) 0 1 cast 0 10",
                "3000 leave",
                "3050 block 1@\(e0)",
                "3500 exit",
            ],
        ], soak: ["8000 note quiet"])
    }

    // MARK: Facts

    /// What the orchestrator saw: by default a run that converged 1 s after the faults
    /// stopped (bound 4.9 s) and nothing went wrong outside the logs.
    static func facts(live: [Int] = [0, 1, 2], convergedAt: Double? = 11, leaveBound: Double = 1,
                      unexpectedExits: [String] = [], stopProblems: [String] = [], nodeErrors: [String] = []) -> RunFacts {
        RunFacts(live: Set(live.map(member)), unexpectedExits: unexpectedExits, stopProblems: stopProblems,
                 nodeErrors: nodeErrors, quietAt: 10, convergedAt: convergedAt, convergenceBound: 4.9, leaveBound: leaveBound)
    }

    // MARK: Analysis

    /// The logs' text, as the members wrote them.
    var texts: [String: String] {
        var out: [String: String] = [:]
        for (file, lines) in logs { out[file] = lines.map { $0 + "\n" }.joined() + (tails[file] ?? "") }
        return out
    }

    func analyze(_ facts: RunFacts = RecordedRun.facts()) -> SoakAnalysis {
        SoakAnalysis(soakLog: soak.map { $0 + "\n" }.joined(), memberLogs: texts, facts: facts)
    }

    // MARK: Editing

    /// The index of the line of `file` logged at `micros`; records an issue if there is not
    /// exactly one.
    private func index(_ file: String, _ micros: Int, sourceLocation: SourceLocation) -> Int? {
        let hits = (logs[file] ?? []).indices.filter { logs[file]?[$0].hasPrefix("\(micros) ") == true }
        guard hits.count == 1, let i = hits.first else {
            Issue.record("\(file) has \(hits.count) lines at \(micros)", sourceLocation: sourceLocation)
            return nil
        }
        return i
    }

    mutating func replace(_ file: String, at micros: Int, with line: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let i = index(file, micros, sourceLocation: sourceLocation) else { return }
        logs[file]?[i] = line
    }

    mutating func remove(_ file: String, at micros: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let i = index(file, micros, sourceLocation: sourceLocation) else { return }
        logs[file]?.remove(at: i)
    }

    /// Inserts `line` before the first line logged later than it.
    mutating func insert(_ file: String, _ line: String) {
        let t = Int(line.prefix { $0 != " " }) ?? 0
        let lines = logs[file] ?? []
        let i = lines.firstIndex { (Int($0.prefix { $0 != " " }) ?? 0) > t } ?? lines.count
        logs[file, default: []].insert(line, at: i)
    }

    /// Replaces `old` with `new` in every line of every member log.
    mutating func replaceEverywhere(_ old: String, with new: String) {
        for file in logs.keys { logs[file] = logs[file]?.map { $0.replacingOccurrences(of: old, with: new) } }
    }

    /// Exchanges what two lines of `file` say, keeping their times.
    mutating func swapContents(_ file: String, _ a: Int, _ b: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let i = index(file, a, sourceLocation: sourceLocation), let j = index(file, b, sourceLocation: sourceLocation),
              let la = logs[file]?[i], let lb = logs[file]?[j] else { return }
        logs[file]?[i] = "\(a)" + lb.drop { $0 != " " }
        logs[file]?[j] = "\(b)" + la.drop { $0 != " " }
    }
}

extension SoakAnalysis {
    /// The failed checks by name (the leave bound's name without its figures), with details.
    var failed: [String: [String]] {
        var out: [String: [String]] = [:]
        for c in checks where !c.passed { out[c.name.hasPrefix("leave bound") ? "leave bound" : c.name] = c.details }
        return out
    }

    /// The one failed check's details, recording an issue if others failed (or none).
    func onlyFailure(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        let f = failed
        #expect(Set(f.keys) == [name], "failed: \(f)", sourceLocation: sourceLocation)
        return f[name] ?? []
    }
}
