import Foundation
import Testing
import ToolSupport

/// The getting-started daemon of the documentation (`Tools/kv-example`, the code of
/// Sources/Maestro/Maestro.docc/GettingStarted.md) does what the article says: three processes
/// replicate a dictionary through an external rendezvous or one process's embedded one, refuse
/// writes outside the primary partition, and a restarted process takes the table by transfer.
@Suite(.serialized) struct KVExampleTests {
    func server(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess("kv-example", ["--port", "0"] + arguments, stdin: true)
    }

    /// Waits until every one of `servers` printed a line for which `predicate` holds.
    func waitForAll(_ servers: [ChildProcess], timeout: Double = 20, _ predicate: (String) -> Bool) -> Bool {
        servers.allSatisfy { $0.waitForLine(timeout: timeout, predicate) != nil }
    }

    /// Waits until every one of `servers` printed all of `wanted`, in any order.
    func waitForAll(_ servers: [ChildProcess], lines wanted: Set<String>, timeout: Double = 20) -> Bool {
        servers.allSatisfy { s in
            var seen = Set<String>()
            return s.waitForLine(timeout: timeout) { seen.insert($0); return wanted.isSubset(of: seen) } != nil
        }
    }

    static func primaryOf3(_ line: String) -> Bool { line == "primary partition: 3 members" }


    @Test func threeProcessesReplicateThroughAnExternalRendezvous() throws {
        ChildProcess.ignoreBrokenPipes()
        let gossip = try ChildProcess("maestro-gossip", ["--port", "0"])
        defer { gossip.kill(SIGKILL) }
        let announced = try #require(gossip.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
        let rendezvous = String(announced.split(separator: " ").last ?? "")

        let lone = try server(["--gossip", rendezvous])
        try #require(lone.waitForLine(timeout: 10) { $0 == "view 0: 1 members" } != nil)
        lone.send("early=1")
        #expect(lone.waitForLine(timeout: 10) { $0 == "refused: not in the primary partition" } != nil,
                "a process alone is not the primary partition of three")
        var servers = [lone]
        for _ in 0 ..< 2 { servers.append(try server(["--gossip", rendezvous])) }
        defer { for s in servers where s.isRunning { s.kill(SIGKILL) } }
        try #require(waitForAll(servers, Self.primaryOf3), "the three processes never formed a primary view")

        servers[0].send("color=blue")
        servers[2].send("size=3")
        #expect(waitForAll(servers, lines: ["color = blue", "size = 3"]), "every server applies both writes")

        // kill -9 one of them and start it again: the new process takes the table by transfer.
        servers[1].kill(SIGKILL)
        #expect(waitForAll([servers[0], servers[2]]) { $0 == "primary partition: 2 members" },
                "two of three expected members are still the primary partition")
        servers[1] = try server(["--gossip", rendezvous])
        #expect(waitForAll([servers[1]], lines: ["state transferred: 2 keys", "primary partition: 3 members"]))
        try #require(waitForAll([servers[0], servers[2]], Self.primaryOf3))
        servers[1].send("dump")
        let dump = servers[1].waitForLine(timeout: 10) { $0.hasPrefix("[") }
        #expect(dump?.contains("\"color\": \"blue\"") == true && dump?.contains("\"size\": \"3\"") == true)

        // SIGTERM: the process leaves the group and exits with status 0.
        servers[2].kill(SIGTERM)
        servers[2].process.waitUntilExit()
        #expect(servers[2].process.terminationStatus == 0)
    }

    @Test func oneProcessServesTheRendezvous() throws {
        ChildProcess.ignoreBrokenPipes()
        let address = "127.0.0.1:\(try #require(freeLocalPort(udp: true), "no free UDP port on 127.0.0.1"))"
        var servers = [try server(["--gossip", address, "--rendezvous"])]
        defer { for s in servers where s.isRunning { s.kill(SIGKILL) } }
        try #require(servers[0].waitForLine(timeout: 10) { $0.hasPrefix("view 0:") } != nil)
        for _ in 0 ..< 2 { servers.append(try server(["--gossip", address])) }
        try #require(waitForAll(servers, Self.primaryOf3), "the three processes never formed a primary view")
        servers[1].send("greeting=hello")
        #expect(waitForAll(servers) { $0 == "greeting = hello" })
    }
}
