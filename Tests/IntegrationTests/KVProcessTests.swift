// Three maestro-kv processes driven with the real redis-cli: every command, replication seen on
// every replica, kill -9 and restart with the store intact, a partition where the minority
// refuses writes and takes the majority's store at the heal, garbage from a client, and SIGTERM.
// Skipped (with a message) when redis-cli is not installed (Debian: apt-get install redis-tools).

import Foundation
import Testing
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct KVProcessTests {
    static let redisCLI = ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;top_sweep=0.5:time;merge_sweep=0.3:time;merge_timeout=2:time"


    /// Runs redis-cli against `port`; its output without the final newline.
    @discardableResult
    static func cli(_ port: UInt16, _ args: String...) -> String { cli(port, args) }

    static func cli(_ port: UInt16, _ args: [String], stdin: String? = nil) -> String {
        guard let path = redisCLI else { return "" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["-p", "\(port)"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let input = Pipe()
        p.standardInput = input
        guard (try? p.run()) != nil else { return "" }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(2000) }
        if p.isRunning { p.terminate() }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        var s = String(decoding: data, as: UTF8.self)
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    /// Polls until `condition` holds (true) or `timeout` seconds pass (false).
    static func eventually(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    static func info(_ port: UInt16) -> [String: String] {
        var d: [String: String] = [:]
        for line in cli(port, "info", "replication").split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { d[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespaces) }
        }
        return d
    }

    /// Whether the replica on `port` is a server in a primary view of `members`.
    static func ready(_ port: UInt16, members: Int) -> Bool {
        let i = info(port)
        return i["primary"] == "1" && i["view_members"] == "\(members)" && i["server_state"] == "serverNormal" && i["xfer_servers"] == "0"
    }

    final class Group {
        let gossip: ChildProcess
        let rendezvous: String
        let name = "itest-kv-\(UInt32.random(in: 0 ... .max))"
        var ports: [UInt16] = []
        var replicas: [ChildProcess] = []

        init(_ n: Int) throws {
            gossip = try ChildProcess("maestro-gossip", ["--port", "0"])
            let line = try #require(gossip.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
            rendezvous = String(line.split(separator: " ").last ?? "")
            for _ in 0 ..< n {
                ports.append(try #require(freeLocalPort(), "no free TCP port on 127.0.0.1"))
                replicas.append(try start(ports.count - 1))
            }
        }

        func start(_ i: Int, extra: [String] = []) throws -> ChildProcess {
            let p = try ChildProcess("maestro-kv", ["--port", "\(ports[i])", "--gossip", rendezvous, "--expected", "\(ports.count)",
                                                    "--group", name, "--params", KVProcessTests.fast, "--allow-fault-injection"] + extra)
            _ = p.waitForLine(timeout: 10) { $0.hasPrefix("maestro-kv listening") }
            return p
        }

        func restart(_ i: Int, extra: [String] = []) throws { replicas[i] = try start(i, extra: extra) }

        func allReady(_ timeout: Double = 30) -> Bool {
            KVProcessTests.eventually(timeout) { ports.allSatisfy { KVProcessTests.ready($0, members: ports.count) } }
        }

        func digests(_ which: [Int]? = nil) -> [String] { (which ?? Array(ports.indices)).map { KVProcessTests.cli(ports[$0], "kvdigest") } }

        func agree(_ which: [Int]? = nil, timeout: Double = 10) -> Bool {
            KVProcessTests.eventually(timeout) { Set(digests(which)).count == 1 }
        }

        deinit {
            for p in replicas where p.isRunning { p.kill(SIGKILL) }
            gossip.kill(SIGKILL)
        }
    }

    @Test func threeReplicasWithRedisCLI() throws {
        guard Self.redisCLI != nil else {
            print("KVProcessTests skipped: redis-cli is not installed (apt-get install redis-tools)")
            return
        }
        let g = try Group(3)
        try #require(g.allReady(), "the three replicas never formed one primary view: \(g.ports.map { Self.info($0) })")
        let (a, b, c) = (g.ports[0], g.ports[1], g.ports[2])

        // Every command of the issue, on different replicas.
        #expect(Self.cli(a, "ping") == "PONG")
        #expect(Self.cli(b, "echo", "hello world") == "hello world")
        #expect(Self.cli(a, "set", "k", "v1") == "OK")
        #expect(Self.cli(b, "get", "k") == "v1")
        #expect(Self.cli(c, "set", "t", "x", "EX", "100") == "OK")
        #expect(Self.cli(a, "ttl", "t") == "100")
        #expect(Self.cli(c, "set", "p", "x", "PX", "300") == "OK")
        #expect(Self.cli(b, "incr", "n") == "1")
        #expect(Self.cli(c, "incrby", "n", "41") == "42")
        #expect(Self.cli(a, "mset", "m1", "a", "m2", "b") == "OK")
        #expect(Self.cli(b, "mget", "m1", "m2", "nope") == "a\nb")
        #expect(Self.cli(c, "exists", "k", "m1", "nope") == "2")
        #expect(Self.cli(a, "del", "m2", "nope") == "1")
        #expect(Self.cli(b, "keys", "m*") == "m1")
        #expect(Self.eventually(5) { Self.cli(a, "get", "p") == "" }, "the PX 300 key never expired")
        #expect(Self.eventually(5) { g.ports.allSatisfy { Self.cli($0, "dbsize") == "4" } }, "dbsize: \(g.ports.map { Self.cli($0, "dbsize") })")
        #expect(Self.cli(a, "info").contains("primary:1"))
        #expect(Self.cli(a, "nosuchcommand").hasPrefix("ERR unknown command 'nosuchcommand'"))
        #expect(Self.cli(a, "get").hasPrefix("ERR wrong number of arguments"))
        #expect(Self.cli(b, "incr", "k").hasPrefix("ERR value is not an integer"))
        // A pipeline of 5000 writes through one connection (redis-cli --pipe, inline): 1 MB of
        // values, so the restarted replica below takes the store in several chunks.
        let pad = String(repeating: "x", count: 200)
        let pipeline = (0 ..< 5000).map { "SET key:\($0) value-\($0)-\(pad)\r\n" }.joined()
        _ = Self.cli(c, ["--pipe"], stdin: pipeline)
        #expect(Self.eventually(10) { g.ports.allSatisfy { Self.cli($0, "dbsize") == "5004" } })
        #expect(g.agree(), "digests differ: \(g.digests())")
        #expect(Self.cli(b, "get", "key:999") == "value-999-\(pad)")

        // A client that sends garbage gets an error and is closed; the others go on.
        let garbage = Self.cli(a, ["--pipe"], stdin: "*2\r\n$3\r\nGET\r\n!!junk\r\n")
        #expect(garbage.contains("Protocol error") || garbage.contains("errors: 1"), "redis-cli --pipe said: \(garbage)")
        #expect(Self.cli(a, "ping") == "PONG")

        // kill -9 of one replica: the two others stay primary and take writes; the restarted
        // one (now with --stale-reads) gets the whole store by state transfer.
        g.replicas[2].kill(SIGKILL)
        #expect(Self.eventually(15) { [a, b].allSatisfy { Self.ready($0, members: 2) } }, "the survivors never formed a primary view of two")
        #expect(Self.cli(a, "set", "during", "outage") == "OK")
        try g.restart(2, extra: ["--stale-reads"])
        #expect(g.allReady(), "the restarted replica never joined: \(Self.info(c))")
        #expect(Self.cli(c, "get", "during") == "outage")
        #expect(Self.cli(c, "get", "key:500") == "value-500-\(pad)")
        #expect(Self.cli(c, "dbsize") == "5005")
        let received = g.replicas[2].waitForLine(timeout: 5) { $0.hasPrefix("state received: 5005 keys in ") }
        let chunks = received.flatMap { Int($0.split(separator: " ")[5]) } ?? 0
        #expect(chunks > 1, "the store did not come in several chunks: \(received ?? "no line")")
        #expect(g.agree(), "digests differ after the restart: \(g.digests())")

        // A partition: the isolated replica is a minority of one and refuses writes (reads are
        // served, stale, with --stale-reads); the majority goes on; at the heal the minority takes
        // the majority's store.
        #expect(Self.cli(c, "kvfault", "isolate") == "OK")
        #expect(Self.eventually(15) { Self.info(c)["primary"] == "0" && Self.info(c)["view_members"] == "1" }, "the isolated replica never left the primary view")
        #expect(Self.eventually(15) { [a, b].allSatisfy { Self.ready($0, members: 2) } })
        #expect(Self.cli(c, "set", "minority", "write").hasPrefix("READONLY"))
        #expect(Self.cli(c, "get", "k") == "v1")
        #expect(Self.info(c)["reads_stale"] == "1")
        #expect(Self.cli(a, "set", "majority", "write") == "OK")
        #expect(Self.cli(c, "get", "majority") == "")  // stale indeed
        #expect(Self.cli(c, "kvfault", "heal") == "OK")
        #expect(g.allReady(), "the partition never healed: \(g.ports.map { Self.info($0) })")
        #expect(Self.cli(c, "get", "majority") == "write")
        #expect(Self.cli(c, "get", "minority") == "")
        #expect(g.agree(), "digests differ after the heal: \(g.digests())")

        // Without --stale-reads an isolated replica refuses reads too.
        #expect(Self.cli(b, "kvfault", "isolate") == "OK")
        #expect(Self.eventually(15) { Self.info(b)["primary"] == "0" }, "the isolated replica never left the primary view")
        #expect(Self.cli(b, "get", "k").hasPrefix("CLUSTERDOWN"))
        #expect(Self.cli(b, "incr", "n").hasPrefix("READONLY"))
        #expect(Self.cli(b, "kvfault", "heal") == "OK")
        #expect(g.allReady(), "the second partition never healed: \(g.ports.map { Self.info($0) })")
        #expect(Self.cli(a, "incr", "n") == "43")
        #expect(g.agree(), "digests differ after the second heal: \(g.digests())")

        // SIGTERM: each replica leaves and exits with status 0, quickly.
        for p in g.replicas { p.kill(SIGTERM) }
        #expect(Self.eventually(5) { g.replicas.allSatisfy { !$0.isRunning } })
        for p in g.replicas where !p.isRunning {
            #expect(p.process.terminationReason == .exit && p.process.terminationStatus == 0)
        }
    }
}
