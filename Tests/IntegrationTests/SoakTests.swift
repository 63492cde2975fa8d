import Foundation
import Testing
import ToolSupport

/// The soak tool end to end: a short soak of three CSX server processes with kill -9,
/// restarts and 2% datagram loss must pass every check (the simulation checkers' guarantees
/// on the merged logs, identical replicated state, intact state transfers, no unexpected
/// crash, convergence within the bound).
@Suite(.serialized) struct SoakTests {
    /// Runs `maestro-soak arguments` to its end, or for `within` seconds and then SIGTERM (the
    /// soak stops its processes and cleans up on it; SIGKILL 5 s later); the ended process, its
    /// output lines, and whether it ended by itself in time.
    static func run(_ arguments: [String], within seconds: Double) throws -> (soak: ChildProcess, lines: [String], finished: Bool) {
        let soak = try ChildProcess("maestro-soak", arguments)
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while soak.isRunning && Date() < deadline {
            lines += soak.takeLines()
            usleep(50_000)
        }
        let finished = !soak.isRunning
        if !finished {
            soak.kill(SIGTERM)
            let stop = Date().addingTimeInterval(5)
            while soak.isRunning && Date() < stop { usleep(50_000) }
            if soak.isRunning { soak.kill(SIGKILL) }
        }
        soak.process.waitUntilExit()
        lines += soak.takeLines()
        return (soak, lines, finished)
    }

    @Test func shortSoakWithKillsAndLossPasses() throws {
        let (soak, lines, finished) = try Self.run([
            "--processes", "3", "--seconds", "20", "--kill-every", "4", "--restart", "--loss", "0.02", "--seed", "7",
        ], within: 90)
        let output = lines.joined(separator: "\n")
        #expect(finished, "the soak did not finish within 90 s:\n\(output)")
        let last = lines.last ?? ""
        let counts = last.split(separator: " ")
        #expect(counts.count == 4 && counts[1] == "passed," && counts[2] == "0" && counts[3] == "failed",
                "the last line is not `N passed, 0 failed`:\n\(output)")
        #expect((Int(counts.first ?? "") ?? 0) >= 20, "fewer checks than expected:\n\(output)")
        #expect(soak.process.terminationReason == .exit && soak.process.terminationStatus == 0, "exit status \(soak.process.terminationStatus):\n\(output)")
    }

    /// The goal of the primary partition: five processes over Vsync:Total:Primary split into
    /// 3 + 2 and healed; only the 3-side is primary during the split, every server is primary
    /// again after the heal and the 2-side took the 3-side's state (the `primary at the split`
    /// check), with every other check passing.
    @Test func primarySplitThreeTwoPasses() throws {
        let (soak, lines, _) = try Self.run([
            "--processes", "5", "--seconds", "24", "--primary", "--split", "3,2", "--split-for", "5",
            "--rate", "10", "--seed", "11", "--json",
        ], within: 90)
        let output = lines.joined(separator: "\n")
        #expect((lines.last ?? "").hasSuffix(" passed, 0 failed"), "not every check passed:\n\(output)")
        let split = lines.first { $0.hasPrefix("  PASS primary at the split (3+2: majority primary after ") }
        #expect(split != nil, "no passing split check:\n\(output)")
        let json = try #require(lines.last { $0.hasPrefix("{") }, "no JSON line:\n\(output)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(((o["split_majority_primary_s"] as? Double) ?? 0) > 0)
        #expect(((o["split_primary_after_heal_s"] as? Double) ?? 0) > 0)
        #expect(((o["split_transfers_after_heal"] as? Int) ?? 0) >= 2)
        #expect(o["total_order"] as? Bool == true && o["primary_expected"] as? Int == 5)
        #expect(soak.process.terminationStatus == 0)
    }

    /// The leave check times every leave (to its exclusion by every survivor) against
    /// --leave-bound: with a bound no leave can meet, it fails and says by how much.
    @Test func leaveCheckTimesEveryLeaveAgainstTheBound() throws {
        let (soak, lines, _) = try Self.run([
            "--processes", "3", "--seconds", "16", "--leave-every", "3", "--seed", "3", "--leave-bound", "0.001", "--json",
        ], within: 60)
        let output = lines.joined(separator: "\n")
        let failed = lines.filter { $0.hasPrefix("  FAIL ") }
        #expect(failed.count == 1 && failed[0].hasPrefix("  FAIL leave bound (worst "), "expected only the leave bound to fail:\n\(output)")
        #expect(failed.first?.hasSuffix("bound 0.001 s)") == true)
        let json = try #require(lines.last { $0.hasPrefix("{") }, "no JSON line:\n\(output)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(((o["leaves_timed"] as? Int) ?? 0) >= 1, "no leave was timed:\n\(output)")
        #expect(((o["leave_s_max"] as? Double) ?? 0) > 0.001)
        #expect(soak.process.terminationStatus == 1)
    }
}
