import Foundation
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// A gossip rendezvous and member processes (`maestro-soak member`) for the benchmarks that
/// need real processes (failover, formation, leave, restart).
final class ProcessGroup {
    let gossip: ChildProcess
    let rendezvous: String
    let group = "perf-\(UInt32.random(in: 0 ... .max))"
    var members: [ChildProcess] = []
    var addresses: [String] = []
    var endpoints: [String] = []

    /// Arguments for every member (`--properties`, `--key-file`, ...), or none.
    let keyArguments: [String]
    /// Members are Maestro GroupMembers under Runtime.start() (`maestro-soak member --maestro`),
    /// not bare endpoints.
    let maestro: Bool

    /// `gossipArguments`: the rendezvous's (the key only: it takes no `--properties`);
    /// `keyArguments` when nil.
    init(keyArguments: [String] = [], gossipArguments: [String]? = nil, maestro: Bool = false) throws {
        self.keyArguments = keyArguments
        self.maestro = maestro
        gossip = try ChildProcess("maestro-gossip", ["--port", "0"] + (gossipArguments ?? keyArguments))
        guard let line = gossip.waitForLine(timeout: 10, { $0.hasPrefix("gossip rendezvous on ") }),
              let addr = line.split(separator: " ").last else {
            throw ChildError("maestro-gossip did not start")
        }
        rendezvous = String(addr)
    }

    deinit { stop() }

    /// Starts one member (at `index`, replacing the one there, or at the end); returns its
    /// index once it has printed its address.
    @discardableResult
    func start(params: String, extra: [String] = [], at index: Int? = nil) throws -> Int {
        let m = try ChildProcess("maestro-soak", ["member", "--gossip", rendezvous, "--group", group, "--params", params]
                                 + (maestro ? ["--maestro"] : []) + extra + keyArguments)
        guard let ready = m.waitForLine(timeout: 10, { $0.hasPrefix("ready ") }) else {
            throw ChildError("a member process did not start")
        }
        let parts = ready.split(separator: " ").map(String.init)
        guard parts.count >= 3 else { throw ChildError("a member process printed a malformed ready line: \(ready)") }
        if let i = index {
            members[i] = m
            addresses[i] = parts[1]
            endpoints[i] = parts[2]
            return i
        }
        members.append(m)
        addresses.append(parts[1])
        endpoints.append(parts[2])
        return members.count - 1
    }

    /// Starts `count` members and waits until every one has printed a view of all of them.
    func startAndForm(_ count: Int, params: String, extra: [String] = [], timeout: Double = 60) throws {
        for _ in 0 ..< count { try start(params: params, extra: extra) }
        let all = Set(addresses)
        for i in members.indices where waitForView(i, all, timeout: timeout) == nil {
            throw ChildError("the members never formed one view of \(count) in \(Int(timeout)) s")
        }
    }

    /// "view <ltime> <n> <addr>,<addr>,... [<endpoint>,...]" -> member addresses in rank order.
    static func view(_ line: String) -> [String]? {
        let parts = line.split(separator: " ")
        guard parts.count >= 4, parts[0] == "view" else { return nil }
        return parts[3].split(separator: ",").map(String.init)
    }

    /// The endpoints of a view line, in rank order (nil if the line has none).
    static func viewEndpoints(_ line: String) -> [String]? {
        let parts = line.split(separator: " ")
        guard parts.count >= 5, parts[0] == "view" else { return nil }
        return parts[4].split(separator: ",").map(String.init)
    }

    /// Member `i`'s latest view (addresses in rank order; rank 0 is the coordinator).
    func lastView(_ i: Int) -> [String]? {
        members[i].lines.last(where: { $0.hasPrefix("view ") }).flatMap(ProcessGroup.view)
    }

    /// Waits until member `i` prints a view of exactly `expected` (any order); returns when.
    func waitForView(_ i: Int, _ expected: Set<String>, timeout: Double) -> Date? {
        members[i].waitForLineWithTime(timeout: timeout) { ProcessGroup.view($0).map(Set.init) == expected }?.1
    }

    /// Polls every member in `which` (1 ms period) until each has printed a line that
    /// `predicate(member, line)` accepts, or `timeout`; returns when each did (the members
    /// that never did are missing). Lines read meanwhile are consumed. `poll` runs at every
    /// period (to watch something else at the same time).
    func waitForEach(_ which: [Int], timeout: Double, poll: () -> Void = {}, _ predicate: (Int, String) -> Bool) -> [Int: Date] {
        var seen: [Int: Date] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        while seen.count < which.count && Date() < deadline {
            poll()
            for i in which where seen[i] == nil {
                for (line, at) in members[i].takeLinesWithTimes() where predicate(i, line) {
                    seen[i] = at
                    break
                }
            }
            usleep(1000)
        }
        return seen
    }

    /// Waits (polling) until member `i`'s process has ended; returns when, or nil at `timeout`.
    func waitForEnd(_ i: Int, timeout: Double) -> Date? {
        let deadline = Date().addingTimeInterval(timeout)
        while members[i].isRunning {
            if Date() >= deadline { return nil }
            usleep(1000)
        }
        return Date()
    }

    /// The port of member `i` (from its address).
    func port(_ i: Int) -> String { String(addresses[i].split(separator: ":").last ?? "0") }

    func stop() {
        for m in members where m.isRunning { m.kill(SIGKILL) }
        if gossip.isRunning { gossip.kill(SIGKILL) }
    }
}
