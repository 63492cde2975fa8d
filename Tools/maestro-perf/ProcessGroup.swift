import Foundation
import ToolSupport

/// A gossip rendezvous and member processes (`maestro-soak member`) for the benchmarks that
/// need real processes.
final class ProcessGroup {
    let gossip: ChildProcess
    let rendezvous: String
    let group = "perf-\(UInt32.random(in: 0 ... .max))"
    var members: [ChildProcess] = []
    var addresses: [String] = []

    /// `--key-file` arguments for every child (an authenticated group), or none.
    let keyArguments: [String]

    init(keyArguments: [String] = []) throws {
        self.keyArguments = keyArguments
        gossip = try ChildProcess("maestro-gossip", ["--port", "0"] + keyArguments)
        guard let line = gossip.waitForLine(timeout: 10, { $0.hasPrefix("gossip rendezvous on ") }),
              let addr = line.split(separator: " ").last else {
            throw ChildError("maestro-gossip did not start")
        }
        rendezvous = String(addr)
    }

    deinit { stop() }

    /// Starts one member; returns its index once it has printed its address.
    @discardableResult
    func start(params: String, extra: [String] = []) throws -> Int {
        let m = try ChildProcess("maestro-soak", ["member", "--gossip", rendezvous, "--group", group, "--params", params] + extra + keyArguments)
        guard let ready = m.waitForLine(timeout: 10, { $0.hasPrefix("ready ") }) else {
            throw ChildError("a member process did not start")
        }
        members.append(m)
        addresses.append(String(ready.split(separator: " ")[1]))
        return members.count - 1
    }

    /// "view <ltime> <n> <addr>,<addr>,..." -> member addresses in rank order.
    static func view(_ line: String) -> [String]? {
        let parts = line.split(separator: " ")
        guard parts.count == 4, parts[0] == "view" else { return nil }
        return parts[3].split(separator: ",").map(String.init)
    }

    /// Waits until member `i` prints a view of exactly `expected` (any order); returns when.
    func waitForView(_ i: Int, _ expected: Set<String>, timeout: Double) -> Date? {
        members[i].waitForLineWithTime(timeout: timeout) { ProcessGroup.view($0).map(Set.init) == expected }?.1
    }

    func stop() {
        for m in members where m.isRunning { m.kill(SIGKILL) }
        if gossip.isRunning { gossip.kill(SIGKILL) }
    }
}
