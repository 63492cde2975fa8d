// `maestro-perf kv`: redis-benchmark against one maestro-kv replica of three and against a
// plain redis-server in the same run, with requests/s and p50/p99 latency for each.

import ArgumentParser
import Foundation
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

struct KVBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv",
        abstract: "redis-benchmark against one maestro-kv replica of three, next to a plain redis-server.",
        discussion: """
            Starts a rendezvous and --replicas maestro-kv processes (one group), waits for one \
            primary view of all of them, starts redis-server (no persistence) on a free port, then \
            runs `redis-benchmark -t TESTS -n N -c C --csv` against replica 0 and against \
            redis-server, --rounds times each, alternating, and prints requests/s and p50/p99 (ms) \
            for each test (the best round by requests/s), with the ratio maestro-kv / redis-server. \
            Afterwards it checks that every replica holds the same store (KVDIGEST). Needs \
            redis-server, redis-benchmark and redis-cli (Debian: apt-get install redis-server \
            redis-tools). With --json the last line is one JSON object.
            """)

    @Option(help: "Tests for redis-benchmark -t.")
    var tests = "set,get,incr"

    @Option(name: .customLong("requests"), help: "Requests per test (redis-benchmark -n).")
    var requests = 100_000

    @Option(help: "Parallel connections (redis-benchmark -c).")
    var clients = 50

    @Option(help: "Pipelined requests per connection (redis-benchmark -P).")
    var pipeline = 1

    @Option(help: "Random keys out of this many (redis-benchmark -r); 0: one key.")
    var keyspace = 0

    @Option(help: "maestro-kv replicas in the group.")
    var replicas = 3

    @Option(help: "Benchmark the replica of this rank in the view (0 is the coordinator, which is also the total order's sequencer).")
    var targetRank = 1

    @Option(help: "Rounds per server; the best is reported.")
    var rounds = 1

    @Option(help: "Ensemble parameters of the replicas (--params of maestro-kv).")
    var params = ""

    @Flag(help: "Print one JSON object as the last line.")
    var json = false

    func validate() throws {
        guard requests > 0, clients > 0, pipeline > 0, replicas >= 1, rounds >= 1 else {
            throw ValidationError("--requests, --clients, --pipeline, --replicas and --rounds must be positive")
        }
        guard targetRank >= 0 && targetRank < replicas else { throw ValidationError("--target-rank must be below --replicas") }
    }

    static func tool(_ name: String) throws -> URL {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
            let u = URL(fileURLWithPath: dir).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw ChildError("\(name) is not installed; install it (Debian: apt-get install redis-server redis-tools) and run again")
    }


    /// One line of `redis-benchmark --csv`.
    struct Result {
        var test: String
        var rps: Double
        var p50: Double
        var p99: Double
    }

    func benchmark(port: UInt16) throws -> [Result] {
        var args = ["-h", "127.0.0.1", "-p", "\(port)", "-t", tests, "-n", "\(requests)", "-c", "\(clients)", "-P", "\(pipeline)", "--csv"]
        if keyspace > 0 { args += ["-r", "\(keyspace)"] }
        let p = try ChildProcess(executable: try Self.tool("redis-benchmark"), name: "redis-benchmark", args)
        var results: [Result] = []
        while let line = p.waitForLine(timeout: 600, { _ in true }) {
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            guard f.count >= 7, let rps = Double(f[1]), let p50 = Double(f[4]), let p99 = Double(f[6]) else { continue }
            results.append(Result(test: f[0], rps: rps, p50: p50, p99: p99))
        }
        p.process.waitUntilExit()
        guard !results.isEmpty else { throw ChildError("redis-benchmark against port \(port) printed no result") }
        return results
    }

    static func cli(_ port: UInt16, _ args: [String]) throws -> String {
        let p = try ChildProcess(executable: try tool("redis-cli"), name: "redis-cli", ["-p", "\(port)"] + args)
        var out: [String] = []
        while let l = p.waitForLine(timeout: 10, { _ in true }) { out.append(l) }
        return out.joined(separator: "\n")
    }

    func run() throws {
        let progress = Progress()
        _ = try Self.tool("redis-benchmark")
        let redisServer = try Self.tool("redis-server")

        // The group: a rendezvous and the replicas, until one primary view of all of them.
        let gossip = try ChildProcess("maestro-gossip", ["--port", "0"])
        defer { gossip.kill(SIGTERM) }
        guard let line = gossip.waitForLine(timeout: 10, { $0.hasPrefix("gossip rendezvous on ") }), let rendezvous = line.split(separator: " ").last else {
            throw ChildError("maestro-gossip did not start")
        }
        var ports: [UInt16] = []
        var kv: [ChildProcess] = []
        defer { for p in kv where p.isRunning { p.kill(SIGTERM) } }
        let group = "bench-kv-\(UInt32.random(in: 0 ... .max))"
        for _ in 0 ..< replicas {
            guard let port = freeLocalPort() else { throw ChildError("no free TCP port on 127.0.0.1") }
            ports.append(port)
            var args = ["--port", "\(port)", "--gossip", String(rendezvous), "--expected", "\(replicas)", "--group", group]
            if !params.isEmpty { args += ["--params", params] }
            kv.append(try ChildProcess("maestro-kv", args))
        }
        progress.update("waiting for one primary view of \(replicas) replicas")
        let complete = ": \(replicas) members, primary 1,"
        var target = 0
        for (i, p) in kv.enumerated() {
            guard let l = p.waitForLine(timeout: 60, { $0.contains(complete) && $0.contains("\(replicas) servers, 0 xfer-servers") }) else {
                throw ChildError("replica \(i) never saw one primary view of \(replicas) replicas in 60 s")
            }
            if let r = l.components(separatedBy: ", rank ").last?.split(separator: ",").first, Int(r) == targetRank { target = i }
        }
        let rank = targetRank

        // The plain Redis, without persistence.
        guard let redisPort = freeLocalPort() else { throw ChildError("no free TCP port on 127.0.0.1") }
        let redis = try ChildProcess(executable: redisServer, name: "redis-server",
                                     ["--port", "\(redisPort)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        defer { redis.kill(SIGTERM) }
        guard (0 ..< 100).contains(where: { _ in usleep(50_000); return (try? Self.cli(redisPort, ["ping"])) == "PONG" }) else {
            throw ChildError("redis-server did not start on port \(redisPort)")
        }

        var best: [String: (kv: Result?, redis: Result?)] = [:]
        var order: [String] = []
        for round in 1 ... rounds {
            for (name, port) in [("maestro-kv", ports[target]), ("redis-server", redisPort)] {
                progress.update("round \(round)/\(rounds): redis-benchmark against \(name)")
                for r in try benchmark(port: port) {
                    if best[r.test] == nil { order.append(r.test) }
                    var e = best[r.test] ?? (nil, nil)
                    if name == "maestro-kv" { if (e.kv?.rps ?? 0) < r.rps { e.kv = r } } else if (e.redis?.rps ?? 0) < r.rps { e.redis = r }
                    best[r.test] = e
                }
            }
        }
        progress.finish()
        let digests = try ports.map { try Self.cli($0, ["kvdigest"]) }
        let agree = Set(digests).count == 1

        print("redis-benchmark -t \(tests) -n \(requests) -c \(clients)\(pipeline > 1 ? " -P \(pipeline)" : "")\(keyspace > 0 ? " -r \(keyspace)" : ""); maestro-kv: replica of rank \(rank) in a group of \(replicas); best of \(rounds)")
        print("test        maestro-kv req/s  p50 ms  p99 ms   redis-server req/s  p50 ms  p99 ms   ratio")
        var fields: [(String, Any)] = [("benchmark", "kv"), ("replicas", replicas), ("clients", clients), ("requests", requests),
                                       ("pipeline", pipeline), ("target_rank", rank), ("replicas_agree", agree)]
        for t in order {
            guard let k = best[t]?.kv, let r = best[t]?.redis else { continue }
            let ratio = k.rps / r.rps
            let name = t.padding(toLength: 10, withPad: " ", startingAt: 0)
            print(name + String(format: " %17.0f %7.3f %7.3f   %18.0f %7.3f %7.3f   %5.2f", k.rps, k.p50, k.p99, r.rps, r.p50, r.p99, ratio))
            let key = t.lowercased().replacingOccurrences(of: " ", with: "_")
            fields += [("\(key)_kv_rps", k.rps), ("\(key)_kv_p50_ms", k.p50), ("\(key)_kv_p99_ms", k.p99),
                       ("\(key)_redis_rps", r.rps), ("\(key)_redis_p50_ms", r.p50), ("\(key)_redis_p99_ms", r.p99), ("\(key)_ratio", ratio)]
        }
        print("replicas agree afterwards (KVDIGEST): \(agree ? "yes" : "NO: \(digests)")")
        if json { print(jsonLine(fields)) }
        if !agree { throw ExitCode(1) }
    }
}
