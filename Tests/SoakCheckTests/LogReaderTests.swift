import Foundation
import Simulation
import SoakCheck
import Testing

/// Whole logs: the reader keeps every good line, reports each bad one as `file:line: ...`
/// (never crashing), and tolerates a last line cut short only in the log of a killed member.
@Suite struct LogReaderTests {
    typealias R = RecordedRun
    static let start = "100 start 0 1 \(R.e0) 127.0.0.1:7000"

    @Test func startLineNamesTheMember() {
        var reader = LogReader()
        let log = reader.parse("\(Self.start)\n200 leave\n", file: "m0.1.log", killed: false)
        #expect(reader.problems.isEmpty)
        #expect(log.file == "m0.1.log" && log.member == R.member(0) && log.endpoint == R.ep0)
        #expect(log.events.map(\.micros) == [100, 200])
    }

    @Test func badLinesAreReportedWithTheirNumberAndTheRestIsKept() {
        var reader = LogReader()
        let long = "300 cast " + String(repeating: "x", count: 400)
        let text = "\(Self.start)\ngarbage\n\n\(long)\n400 exit\n\u{FFFD}\u{0}\n500 leave\n"
        let log = reader.parse(text, file: "m0.1.log", killed: false)
        #expect(log.events.map(\.micros) == [100, 400, 500])
        #expect(reader.problems == [
            "m0.1.log:2: cannot parse `garbage`",
            "m0.1.log:4: cannot parse `\(long.prefix(160))...`",
            "m0.1.log:6: cannot parse `\u{FFFD}\u{0}`",
        ])
    }

    @Test func problemsAccumulateOverLogs() {
        var reader = LogReader()
        _ = reader.parse("x\n", file: "m0.1.log", killed: false)
        _ = reader.parse("y\n", file: "m1.1.log", killed: false)
        #expect(reader.problems == ["m0.1.log:1: cannot parse `x`", "m1.1.log:1: cannot parse `y`"])
    }

    @Test func lastLineCutShortIsDroppedAndReportedUnlessKilled() {
        let text = "\(Self.start)\n200 leave\n300 fin"
        var killed = LogReader()
        let a = killed.parse(text, file: "m0.1.log", killed: true)
        #expect(killed.problems.isEmpty)
        #expect(a.events.count == 2)
        var alive = LogReader()
        let b = alive.parse(text, file: "m0.1.log", killed: false)
        #expect(alive.problems == ["m0.1.log: the last line is cut short, yet the member was not killed"])
        #expect(b.events.count == 2)
        // Killed while writing its first line: nothing at all.
        var first = LogReader()
        let c = first.parse("100 sta", file: "m0.1.log", killed: true)
        #expect(first.problems.isEmpty && c.events.isEmpty && c.member == nil)
    }

    @Test func emptyLogHasNoEventsAndNoProblem() {
        var reader = LogReader()
        let log = reader.parse("", file: "m0.1.log", killed: false)
        #expect(reader.problems.isEmpty && log.events.isEmpty && log.member == nil)
    }

    @Test func missingOrBinaryFileIsReportedNotFatal() throws {
        var reader = LogReader()
        let missing = reader.read("/nonexistent-dir/m9.1.log", killed: false)
        #expect(missing.file == "m9.1.log" && missing.events.isEmpty)
        #expect(reader.problems == ["m9.1.log: cannot be read"])

        let path = NSTemporaryDirectory() + "soakcheck-\(getpid())-\(UInt64.random(in: 0 ... .max)).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = Array("\(Self.start)\n".utf8)
        bytes += [0xFF, 0xFE, 0x20, 0xC3, 0x28, 0x0A]  // invalid UTF-8, then a newline
        bytes += Array("200 leave\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var r2 = LogReader()
        let log = r2.read(path, killed: false)
        #expect(log.events.map(\.micros) == [100, 200])
        #expect(r2.problems.count == 1 && r2.problems.first?.hasPrefix("\((path as NSString).lastPathComponent):2: cannot parse") == true)
    }

    /// Random bytes and random edits of good lines (seeded): the reader never crashes, and
    /// reports no more events and problems than there are lines.
    @Test func randomGarbageNeverCrashes() {
        let good = R.clean.texts["m2.1.log"] ?? ""
        var rng = SimRandom(seed: 12)
        for round in 0 ..< 200 {
            var bytes = Array(good.utf8)
            for _ in 0 ..< 1 + round % 8 {
                let i = Int.random(in: 0 ..< bytes.count, using: &rng)
                bytes[i] = UInt8.random(in: 0 ... 255, using: &rng)
            }
            if round % 5 == 0 { bytes = (0 ..< 300).map { _ in UInt8.random(in: 0 ... 255, using: &rng) } }
            let text = String(decoding: bytes, as: UTF8.self)
            var reader = LogReader()
            let log = reader.parse(text, file: "m2.1.log", killed: true)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true).count
            #expect(log.events.count + reader.problems.count <= lines)
        }
    }
}
