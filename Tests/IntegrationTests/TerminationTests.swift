import Foundation
import Testing
import ToolSupport

/// SIGTERM makes every tool that runs members leave the group and exit with status 0 within
/// the bounded wait (2 s), and the others install a view without the members of the process.
@Suite(.serialized) struct TerminationTests {
    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;top_sweep=0.5:time"
    /// The runtime's wait for the members' exit (Runtime.exitTimeout), plus slack for the process.
    static let exitBound = 3.5

    func rendezvous() throws -> (ChildProcess, String) {
        let g = try ChildProcess("maestro-gossip", ["--port", "0"])
        let line = try #require(g.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
        return (g, String(line.split(separator: " ").last ?? ""))
    }

    /// Waits until `p` has ended; returns how long that took, or nil at `timeout`.
    func waitForEnd(_ p: ChildProcess, timeout: Double) -> Double? {
        let start = Date()
        while p.isRunning {
            if Date().timeIntervalSince(start) > timeout { return nil }
            usleep(5000)
        }
        return Date().timeIntervalSince(start)
    }

    /// lapa runs its servers under `Runtime.start()`: SIGTERM is the runtime's default handling.
    @Test func lapaUnderStartLeavesAndExitsZeroOnSIGTERM() throws {
        let (gossip, address) = try rendezvous()
        defer { gossip.kill(SIGKILL) }
        let group = "itest-term-\(UInt32.random(in: 0 ... .max))"
        func lapa(_ members: Int) throws -> ChildProcess {
            try ChildProcess("lapa", ["--members", "\(members)", "--gossip", address, "--group", group,
                                      "--heartbeat-ms", "100", "--params", Self.fast])
        }
        let observers = try [lapa(1), lapa(1)]
        let leaving = try lapa(2)
        defer { for p in observers + [leaving] where p.isRunning { p.kill(SIGKILL) } }
        let all = observers + [leaving]
        let complete = ": 4 members, 4 servers, 0 xfer-servers, 0 clients"
        let deadline = Date().addingTimeInterval(30)
        var formed = false
        while !formed && Date() < deadline {
            for p in all where p.takeLines().contains(where: { $0.hasSuffix(complete) }) { formed = true }
            usleep(20_000)
        }
        try #require(formed, "the four servers never formed one view")
        for p in observers { _ = p.takeLines() }

        let terminated = Date()
        leaving.kill(SIGTERM)
        // The other process's coordinator installs a view of the two that remain: watched while
        // the terminated process exits.
        let two = ": 2 members, 2 servers, 0 xfer-servers, 0 clients"
        var exclusion: Double?
        var took: Double?
        while Date().timeIntervalSince(terminated) < 20 && (exclusion == nil || took == nil) {
            for p in observers where exclusion == nil && p.takeLines().contains(where: { $0.hasSuffix(two) }) {
                exclusion = Date().timeIntervalSince(terminated)
            }
            if took == nil && !leaving.isRunning { took = Date().timeIntervalSince(terminated) }
            usleep(2000)
        }
        #expect(took != nil && took! < Self.exitBound, "the process took \(took.map { String($0) } ?? "more than 20") s to exit after SIGTERM")
        #expect(leaving.process.terminationReason == .exit && leaving.process.terminationStatus == 0,
                "exit status \(leaving.process.terminationStatus) (\(leaving.process.terminationReason == .exit ? "exit" : "signal"))")
        // A clean leave, not a suspicion (0.6 s with these parameters): within a few round trips
        // (milliseconds), plus the time lines take to come through the pipes.
        #expect(exclusion != nil, "the remaining processes never installed a view without the terminated one")
        #expect(exclusion.map { $0 < Self.leaveBound } ?? true, "the others installed the view without the leavers \(exclusion ?? 0) s after SIGTERM")
    }

    /// From SIGTERM to the others' view without the leavers: well below the suspicion time.
    static let leaveBound = 0.4

    /// Under `run(until:)` (--exit-when-complete) the handler is installed too.
    @Test func lapaWaitingForCompletionExitsZeroOnSIGTERM() throws {
        let p = try ChildProcess("lapa", ["--members", "2", "--group", "itest-wait-\(UInt32.random(in: 0 ... .max))",
                                          "--exit-when-complete", "--timeout", "60", "--params", Self.fast])
        defer { if p.isRunning { p.kill(SIGKILL) } }
        _ = p.waitForLine(timeout: 10) { $0.hasPrefix("view ") }
        p.kill(SIGTERM)
        let took = waitForEnd(p, timeout: 10)
        #expect(took != nil && took! < Self.exitBound)
        #expect(p.process.terminationReason == .exit && p.process.terminationStatus == 0)
    }

    @Test func soakNodeMembersLeaveOnSIGTERM() throws {
        let (gossip, address) = try rendezvous()
        defer { gossip.kill(SIGKILL) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("itest-node-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let node = try ChildProcess("maestro-soak", ["node", "--first-member", "0", "--incarnations", "1,1", "--gossip", address,
                                                     "--group", "itest-node-\(UInt32.random(in: 0 ... .max))", "--params", Self.fast,
                                                     "--log-dir", dir.path, "--rate", "5"], stdin: true)
        defer { if node.isRunning { node.kill(SIGKILL) } }
        #expect(node.waitForLine(timeout: 10) { $0.hasPrefix("ready 1 ") } != nil)
        node.kill(SIGTERM)
        let took = waitForEnd(node, timeout: 10)
        #expect(took != nil && took! < Self.exitBound)
        #expect(node.process.terminationReason == .exit && node.process.terminationStatus == 0)
        let out = node.takeLines()
        #expect(out.contains("exit 0") && out.contains("exit 1"), "the members did not leave: \(out)")
        #expect(out.contains("stopped"))
        let log = try String(contentsOf: dir.appendingPathComponent("m0.1.log"), encoding: .utf8)
        #expect(log.contains(" leave") && log.contains(" exit"), "m0.1.log has no leave and exit: \(log.suffix(300))")
    }

    @Test func perfNodeLeavesOnSIGTERM() throws {
        let (gossip, address) = try rendezvous()
        defer { gossip.kill(SIGKILL) }
        let node = try ChildProcess("maestro-perf", ["node", "--gossip", address, "--group", "itest-perf-\(UInt32.random(in: 0 ... .max))",
                                                     "--members", "2", "--params", Self.fast])
        defer { if node.isRunning { node.kill(SIGKILL) } }
        #expect(node.waitForLine(timeout: 10) { $0.hasPrefix("ready ") } != nil)
        node.kill(SIGTERM)  // while it waits for a view of two
        #expect(node.waitForLine(timeout: 5) { $0 == "exit" } != nil)
        let took = waitForEnd(node, timeout: 10)
        #expect(took != nil && took! < Self.exitBound)
        #expect(node.process.terminationReason == .exit && node.process.terminationStatus == 0)
    }
}
