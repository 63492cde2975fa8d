import Ensemble
import Foundation
import Simulation
import SoakCheck
import Testing

/// One log line, without files: `LogLine.format` writes what `LogLine.parse` reads, every
/// kind of line parses to its event, and a malformed line parses to nil. `EventLog` writes
/// the same lines to its file.
@Suite struct LogLineTests {
    typealias R = RecordedRun
    static let e0 = R.e0
    static let e2 = R.e2

    @Test func formatJoinsTimeKindAndFields() {
        #expect(LogLine.format(micros: 12, .send, ["2@x", "7", "0", "y"]) == "12 send 2@x 7 0 y")
        #expect(LogLine.format(micros: -3, .leave, []) == "-3 leave")
        #expect(LogLine.format(micros: 5, .xferGot, ["a"]) == "5 xfer-got a")
    }

    /// Every kind the members and the orchestrator write, as they write it.
    static let lines: [(LogLine.Kind, [String])] = [
        (.start, ["0", "1", R.e0, "127.0.0.1:7000"]),
        (.view, ["2@\(R.e0)", "server", R.hex(R.v2)]),
        (.block, ["2@\(R.e0)"]),
        (.cast, ["2@\(R.e0)", "3", "30"]),
        (.send, ["2@\(R.e0)", "4", "5", R.e2]),
        (.recv, ["send", "2@\(R.e0)", R.e0, "0", "1", "send", "4", "5"]),
        (.recv, ["cast", "2@\(R.e0)", R.e0, "invalid"]),
        (.xferStart, ["1"]),
        (.xferCancel, ["1"]),
        (.xferProvide, [R.e2, "1", "00000000000000aa", "1"]),
        (.xferGot, [R.e0, "1", "00000000000000aa", "00000000000000ab", "1"]),
        (.leave, []),
        (.exit, []),
        (.final, ["3", "60", "00000000000000bb", "2@\(R.e0)"]),
        (.final, ["0", "0", "0000000000000000", "-"]),
        (.anomaly, ["getState(3)", "answered", "terminated"]),
        (.kill, ["2", "1", "killed"]),
        (.kill, ["2", "1"]),
        (.note, ["partition", "0,1"]),
    ]

    @Test func everyKindParsesToItsEvent() throws {
        var parsed: [LogEvent] = []
        for (i, (kind, fields)) in Self.lines.enumerated() {
            let line = LogLine.format(micros: Int64(100 + i), kind, fields)
            let p = try #require(LogLine.parse(line), "\(line)")
            #expect(p.micros == Int64(100 + i))
            parsed.append(p.event)
        }
        let v2 = ViewID(ltime: 2, coordinator: R.ep0)
        guard parsed.count == 19,
              case let .start(m, endpoint) = parsed[0],
              case let .view(v, role) = parsed[1],
              case let .block(b) = parsed[2],
              case let .sent(.cast, cv, 3, 30, nil) = parsed[3],
              case let .sent(.send, sv, 4, 5, dest) = parsed[4],
              case let .received(.send, rv, from, msg) = parsed[5],
              case .received(.cast, _, _, nil) = parsed[6],
              case .xferStart(1) = parsed[7],
              case .xferCancel(1) = parsed[8],
              case let .xferProvide(joiner, 1, pd, 1) = parsed[9],
              case let .xferGot(provider, 1, claimed, computed, 1) = parsed[10],
              case .leave = parsed[11],
              case .exit = parsed[12],
              case let .final(3, 60, fd, fv) = parsed[13],
              case .final(0, 0, _, nil) = parsed[14],
              case let .anomaly(text) = parsed[15],
              case let .kill(km, reason) = parsed[16],
              case let .kill(_, defaultReason) = parsed[17],
              case let .note(note) = parsed[18]
        else {
            Issue.record("unexpected events: \(parsed)")
            return
        }
        #expect(m == R.member(0) && endpoint == R.ep0)
        #expect(v == R.v2 && role == "server")
        #expect(b == v2 && cv == v2 && sv == v2 && rv == v2 && fv == v2)
        #expect(dest == R.ep2 && from == R.ep0 && joiner == R.ep2 && provider == R.ep0)
        #expect(msg == TestMessage(origin: 0, incarnation: 1, kind: .send, seq: 4, fillerLength: 5))
        #expect(pd == "00000000000000aa" && claimed == "00000000000000aa" && computed == "00000000000000ab")
        #expect(fd == "00000000000000bb")
        #expect(text == "getState(3) answered terminated")
        #expect(km == R.member(2) && reason == "killed" && defaultReason == "killed")
        #expect(note == "partition 0,1")
    }

    /// Lines that are not exactly what a member writes: each parses to nil, none crashes.
    @Test(arguments: [
        "", " ", "x", "100", "100 ", "abc start", "1.5 leave", "100 frobnicate", "100 START 0 1 \(e0) 127.0.0.1:7000",
        " 100 leave", "100  leave", "100 leave ", "100 leave now", "100 exit 0",
        "100 start 0 1 \(e0)", "100 start x 1 \(e0) a", "100 start 0 1 nowhere 127.0.0.1:7000",
        "100 start 0 -1 \(e0) 127.0.0.1:7000", "100 start 0 1 \(e0) 127.0.0.1:7000 extra",
        "100 view 2@\(e0) server", "100 view 2@\(e0) server zz", "100 view 3@\(e0) server \(R.hex(R.v2))",
        "100 view 2@\(e2) server \(R.hex(R.v2))", "100 view 2@\(e0)  \(R.hex(R.v2)) x",
        "100 block", "100 block 2@", "100 block 2@\(e0) 2@\(e0)",
        "100 cast 2@\(e0) 3", "100 cast 2@\(e0) -3 30", "100 cast 2@\(e0) 3 30 \(e2)", "100 cast - 3 30",
        "100 send 2@\(e0) 4 5", "100 send 2@\(e0) 4 5 nobody",
        "100 recv", "100 recv cast", "100 recv both 2@\(e0) \(e0) invalid", "100 recv cast 2@\(e0) \(e0)",
        "100 recv cast 2@\(e0) \(e0) valid", "100 recv cast 2@\(e0) \(e0) 0 1 cast 3",
        "100 recv cast 2@\(e0) \(e0) 0 1 cast 3 30 x", "100 recv cast 2@\(e0) \(e0) 0 1 other 3 30",
        "100 recv cast - \(e0) 0 1 cast 3 30", "100 recv cast 2@\(e0) \(e0) 0 1 cast 3 -",
        "100 xfer-start", "100 xfer-start one", "100 xfer-cancel 1 2",
        "100 xfer-provide \(e2) 1 aa", "100 xfer-provide \(e2) x aa 1", "100 xfer-provide - 1 aa 1",
        "100 xfer-got \(e0) 1 aa aa", "100 xfer-got \(e0) 1 aa aa -1",
        "100 final 3 60 bb", "100 final 3 -60 bb 2@\(e0)", "100 final 3 60 bb 2@\(e0) x",
        "100 kill", "100 kill 2", "100 kill two 1",
        "99999999999999999999 leave", "100 recv cast 2@\(e0) \(e0) 0 1 cast 99999999999999999999 3",
        "100 le\u{0}ave", "100 leave\r", "100 view 2@\(e0) server \(R.hex(R.v2).dropLast(2))",
    ])
    func malformedLineIsNil(line: String) {
        #expect(LogLine.parse(line) == nil, "\(line)")
    }

    @Test func eventLogFileReadsBackThroughLogReader() throws {
        let path = NSTemporaryDirectory() + "soakcheck-\(getpid())-\(UInt64.random(in: 0 ... .max)).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let epoch = EventLog.nowMicros()
        let log = try EventLog(path: path, epochMicros: epoch)
        // As SoakServer writes them: no field at all, or the fields as one.
        for (kind, fields) in Self.lines {
            if fields.isEmpty { log.write(kind) } else { log.write(kind, fields.joined(separator: " ")) }
        }
        log.close()
        log.write(.leave)  // closed: ignored
        var reader = LogReader()
        let parsed = reader.read(path, killed: false)
        #expect(reader.problems.isEmpty, "\(reader.problems)")
        #expect(parsed.file == (path as NSString).lastPathComponent)
        #expect(parsed.events.count == Self.lines.count)
        #expect(parsed.member == R.member(0) && parsed.endpoint == R.ep0)
        let times = parsed.events.map(\.micros)
        #expect(times == times.sorted() && (times.first ?? -1) >= 0 && (times.last ?? .max) < 60_000_000)
    }

    @Test func eventLogThatCannotBeCreatedThrows() {
        #expect(throws: EventLogError.self) { try EventLog(path: "/nonexistent-dir/x.log", epochMicros: 0) }
    }
}
