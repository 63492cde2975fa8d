import Foundation
import Testing
import ToolSupport

/// Three lapa processes (one CSX server each) form one group over real UDP through an
/// external rendezvous, survive kill -9 of one of them, and take a restarted one back with a
/// state transfer.
@Suite(.serialized) struct LapaProcessTests {
    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;top_sweep=0.5:time"

    func lapa(_ gossip: String) throws -> ChildProcess {
        try ChildProcess("lapa", ["--members", "1", "--gossip", gossip, "--group", "itest-lapa-\(ProcessInfo.processInfo.processIdentifier)",
                                  "--heartbeat-ms", "100", "--params", Self.fast])
    }

    /// Every line the processes printed while waited for (a transfer may be reported before
    /// the view that ends it).
    final class Seen { var lines: [String] = [] }

    /// Waits until one of `procs` prints a coordinator line with `n` members, all servers.
    func waitForComplete(_ procs: [ChildProcess], members n: Int, timeout: Double, seen: Seen = Seen()) -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        let wanted = ": \(n) members, \(n) servers, 0 xfer-servers, 0 clients"
        while Date() < deadline {
            for (i, p) in procs.enumerated() where p.isRunning {
                let lines = p.takeLines()
                seen.lines += lines
                if lines.contains(where: { $0.hasSuffix(wanted) }) { return i }
            }
            usleep(20_000)
        }
        return nil
    }

    @Test func threeLapaProcessesSurviveKillAndTransferState() throws {
        let gossip = try ChildProcess("maestro-gossip", ["--port", "0"])
        let announced = try #require(gossip.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
        let rendezvous = String(announced.split(separator: " ").last ?? "")
        var procs = try (0 ..< 3).map { _ in try lapa(rendezvous) }
        let coordinator = try #require(waitForComplete(procs, members: 3, timeout: 30), "three lapa processes never became three servers")

        // kill -9 one that is not the coordinator, then the coordinator too would be fine;
        // the survivors must install a view of two servers.
        let victim = (coordinator + 1) % 3
        procs[victim].kill(SIGKILL)
        let survivors = procs.enumerated().filter { $0.offset != victim }.map(\.element)
        #expect(waitForComplete(survivors, members: 2, timeout: 30) != nil, "the survivors never formed a view of two servers")

        // A restarted process joins and pulls the state.
        let again = try lapa(rendezvous)
        procs[victim] = again
        let seen = Seen()
        #expect(waitForComplete(survivors + [again], members: 3, timeout: 30, seen: seen) != nil, "the restarted process never became a server")
        let transferred = seen.lines.first { $0.hasPrefix("(Asynchronous) Xfer Successful") }
            ?? again.waitForLine(timeout: 10) { $0.hasPrefix("(Asynchronous) Xfer Successful") }
        #expect(transferred != nil, "no state transfer was reported")
        for p in procs where p.isRunning { p.kill(SIGTERM) }
        gossip.kill(SIGTERM)
    }
}
