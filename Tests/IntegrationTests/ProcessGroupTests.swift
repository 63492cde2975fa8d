import Foundation
import Testing
import ToolSupport

/// Real processes over real UDP: a rendezvous and three member processes form one view,
/// survive kill -9 of one (the survivors install a view without it), and merge again with
/// the restarted process.
@Suite(.serialized) struct ProcessGroupTests {
    static let fast = "suspect_sweep=0.1:time;suspect_max_idle=5:int;top_sweep=0.5:time"

    /// "view <ltime> <n> <addr>,<addr>,... <endpoint>,..." -> the member addresses.
    static func members(_ line: String) -> Set<String>? {
        let parts = line.split(separator: " ")
        guard parts.count >= 4, parts[0] == "view" else { return nil }
        return Set(parts[3].split(separator: ",").map(String.init))
    }

    func startMember(gossip: String, group: String) throws -> (ChildProcess, String) {
        let m = try ChildProcess("maestro-soak", ["member", "--gossip", gossip, "--group", group,
                                                  "--params", Self.fast, "--cast-rate", "50"])
        guard let ready = m.waitForLine(timeout: 10, { $0.hasPrefix("ready ") }) else {
            throw ChildError("a member did not start")
        }
        return (m, String(ready.split(separator: " ")[1]))
    }

    @Test func threeProcessesFormAViewSurviveKillAndRemerge() throws {
        let gossip = try ChildProcess("maestro-gossip", ["--port", "0"])
        let announced = try #require(gossip.waitForLine(timeout: 10) { $0.hasPrefix("gossip rendezvous on ") })
        let rendezvous = String(announced.split(separator: " ").last ?? "")
        let group = "itest-\(UInt32.random(in: 0 ... .max))"

        var procs: [ChildProcess] = []
        var addrs: [String] = []
        for _ in 0 ..< 3 {
            let (p, a) = try startMember(gossip: rendezvous, group: group)
            procs.append(p)
            addrs.append(a)
        }
        let all = Set(addrs)
        for p in procs {
            #expect(p.waitForLine(timeout: 20) { Self.members($0) == all } != nil, "the three processes never formed one view")
        }

        // kill -9 the second; the survivors must install a view without it.
        procs[1].kill(SIGKILL)
        let survivors = all.subtracting([addrs[1]])
        for i in [0, 2] {
            #expect(procs[i].waitForLine(timeout: 20) { Self.members($0) == survivors } != nil, "survivor \(i) never excluded the killed process")
        }

        // Restart it: a new process (new endpoint) that merges back.
        let (again, newAddr) = try startMember(gossip: rendezvous, group: group)
        let merged = survivors.union([newAddr])
        for p in [procs[0], procs[2], again] {
            #expect(p.waitForLine(timeout: 20) { Self.members($0) == merged } != nil, "the restarted process never merged back")
        }
        for p in [procs[0], procs[2], again] { p.kill(SIGTERM) }
        for p in [procs[0], procs[2], again] {
            #expect(p.waitForLine(timeout: 10) { $0 == "exit" } != nil, "a member did not leave cleanly on SIGTERM")
        }
        gossip.kill(SIGTERM)
    }
}
