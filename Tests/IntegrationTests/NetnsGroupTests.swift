import Foundation
import Testing
import ToolSupport

/// lapa on three "hosts" (network namespaces on one bridge) with the rendezvous on a fourth:
/// the members bind the address that routes to the rendezvous (not 127.0.0.1), form one
/// group, split when one host's link goes down and merge when it comes back.
@Suite(.serialized) struct NetnsGroupTests {
    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;merge_timeout=2:time;top_sweep=0.5:time"

    /// Waits until one of `procs` prints a coordinator line of `n` members, all servers.
    func waitForView(of n: Int, _ procs: [ChildProcess], timeout: Double) -> Bool {
        let wanted = ": \(n) members, \(n) servers, 0 xfer-servers, 0 clients"
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for p in procs where p.takeLines().contains(where: { $0.hasSuffix(wanted) }) { return true }
            usleep(20_000)
        }
        return false
    }

    @Test(.enabled(if: BridgedNamespaces.unavailable == nil,
                   Comment(rawValue: "skipped: \(BridgedNamespaces.unavailable ?? "")")))
    func threeHostsFormSplitAndMergeOverABridge() throws {
        let net = try BridgedNamespaces(nodes: 3)
        var procs: [ChildProcess] = []
        defer {
            for p in procs where p.isRunning { p.kill(SIGKILL) }
            for p in procs { p.process.waitUntilExit() }  // (a namespace with processes in it lingers)
            net.tearDown()
        }
        try net.setUp()
        let gossip = try net.launch("maestro-gossip", ["--bind", BridgedNamespaces.hubIP, "--port", "0"], in: net.hub)
        procs.append(gossip)
        let announced = try #require(gossip.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
        let rendezvous = String(announced.split(separator: " ").last ?? "")
        #expect(rendezvous.hasPrefix(BridgedNamespaces.hubIP + ":"))

        let group = "itest-netns-\(UInt32.random(in: 0 ... .max))"
        let lapas = try (0 ..< 3).map { i in
            try net.launch("lapa", ["--members", "1", "--gossip", rendezvous, "--group", group, "--heartbeat-ms", "100",
                                    "--params", Self.fast], in: net.node(i))
        }
        procs += lapas
        try #require(waitForView(of: 3, lapas, timeout: 30), "the three hosts never formed one view (members bound to the wrong address?)")

        // Host 2 is cut off: the other two install a view of two.
        try net.setLink(2, up: false)
        #expect(waitForView(of: 2, [lapas[0], lapas[1]], timeout: 20), "no split: hosts 0 and 1 never installed a view without host 2")

        // Its link comes back: one view of three again.
        try net.setLink(2, up: true)
        #expect(waitForView(of: 3, lapas, timeout: 30), "no merge: the three hosts never formed one view again")
        for p in lapas { #expect(p.isRunning, "a lapa process ended") }
    }
}
