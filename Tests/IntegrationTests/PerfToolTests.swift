import Foundation
import Testing
import ToolSupport

/// Every maestro-perf benchmark runs once, briefly, and ends with its JSON line: proof that
/// they work, with no threshold on the figures (benchmarks are not tests).
@Suite(.serialized) struct PerfToolTests {
    /// Runs `maestro-perf args --json`; returns the last line, which must be a JSON object.
    func json(_ args: [String], timeout: Double = 120) throws -> [String: Any] {
        let p = try ChildProcess("maestro-perf", args + ["--json"])
        var last: String?
        while let l = p.waitForLine(timeout: timeout, { _ in true }) { last = l }
        p.process.waitUntilExit()
        #expect(p.process.terminationStatus == 0, "maestro-perf \(args.joined(separator: " ")) failed")
        let line = try #require(last)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try #require(object, "the last line is not a JSON object: \(line)")
    }

    @Test func suiteRunsEveryStandardBenchmark() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UInt32.random(in: 0 ... .max)).json")
        let p = try ChildProcess("maestro-perf", ["suite", "--quick", "--out", out.path])
        var lines: [String] = []
        while let l = p.waitForLine(timeout: 600, { _ in true }) { lines.append(l) }
        p.process.waitUntilExit()
        #expect(p.process.terminationStatus == 0, "suite output: \(lines)")
        let data = try Data(contentsOf: out)
        let results = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(Set(results.compactMap { $0["benchmark"] as? String }) == ["throughput", "latency", "rpc", "failover", "leave", "restart", "xfer"])
        let throughput = results.filter { $0["benchmark"] as? String == "throughput" }
        #expect(throughput.allSatisfy { ($0["lost"] as? Int) == 0 && ($0["out_of_order"] as? Int) == 0 })
        for key in ["msgs_per_sec", "mb_per_sec"] { #expect(throughput.allSatisfy { $0[key] != nil }) }
        try? FileManager.default.removeItem(at: out)
    }

    @Test func theOtherBenchmarksRun() throws {
        let udp = try json(["udp", "--seconds", "0.3"])
        #expect(udp["datagrams_per_sec"] != nil && udp["mb_per_sec"] != nil)
        let local = try json(["throughput", "--in-process", "--seconds", "0.5"])
        #expect((local["lost"] as? Int) == 0)
        // Total order, 2 senders of 3 member processes: one delivery sequence everywhere.
        let total = try json(["throughput", "--total", "--members", "3", "--senders", "2", "--seconds", "0.5"])
        #expect((total["lost"] as? Int) == 0)
        #expect((total["order_identical"] as? Bool) == true)
        _ = try json(["formation", "--rounds", "1"])
        _ = try json(["merge", "--size", "2", "--rounds", "1", "--params", "top_sweep=0.2:time", "--partition-seconds", "0.5", "--jitter", "0.2"])
        let memory = try json(["memory", "--members", "4"])
        #expect(memory["bytes_per_member"] != nil)
    }

    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;merge_timeout=2:time;top_sweep=0.5:time"

    /// Figures, not assertions on them: the fields exist.
    @Test func leaveAndRestartReportTheirTimes() throws {
        let leave = try json(["leave", "--members", "3", "--params", Self.fast])
        for key in ["seconds", "members", "rounds", "leaver_exit_seconds"] { #expect(leave[key] != nil, "leave: no \(key)") }
        #expect((leave["members"] as? Int) == 3)
        #expect((leave["leaver_exit_status"] as? Int) == 0, "the leaver did not exit with status 0 on SIGTERM")
        let restart = try json(["restart", "--members", "3", "--params", Self.fast])
        for key in ["seconds", "members", "rounds"] { #expect(restart[key] != nil, "restart: no \(key)") }
    }
}
