import ArgumentParser
import Ensemble
import Foundation
import Maestro
import ToolSupport

/// The lapa demo group: the seed program of Maestro's asynchronous state transfer
/// (`async-xfer-example`), in Swift. See MyServer.swift for the port of the seed's class.
struct Lapa: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lapa",
        abstract: "Run the lapa demo group: CSX servers with asynchronous state transfer.",
        discussion: """
            With no arguments it runs the seed program as written: 10 CSX servers in this \
            process, group "lapa", the seed's protocol string, UDP on 127.0.0.1 with an \
            embedded gossip rendezvous, ATOMIC transfer, single-threaded; start() never returns \
            (Ctrl-C ends it). Every joining server pulls the state of the oldest server and \
            prints "(Asynchronous) Xfer Successful, got state: N"; the coordinator prints one \
            line per view: "view <ltime>: <n> members, <s> servers, <x> xfer-servers, <c> clients".

            SIGTERM or SIGINT makes every server of the process leave the group; the process \
            exits (status 0) once they all have left, or after 2 s. Members bind the address that \
            routes to the rendezvous (127.0.0.1 for the embedded one or one on this host); \
            --bind chooses another.
            """)

    @Option(help: "Servers in this process.")
    var members = 10

    @Option(help: "Use an external rendezvous (HOST:PORT; a dotted quad, localhost or a host name), so several lapa processes form one group.")
    var gossip: String?

    @Option(help: "UDP port of the first member (the next ones use the following ports; 0: any free port). Also given as --bind IP:PORT.")
    var port: UInt16 = 0

    @OptionGroup var bind: BindOptions

    @Option(help: "Heartbeat period in milliseconds (the seed's is 1000).")
    var heartbeatMs = 1000

    @Option(help: "Bytes of state per server besides the seed's integer, streamed in chunks during transfers.")
    var stateBytes = 0

    @Option(help: "Group name.")
    var group = "lapa"

    @Flag(help: "Exit (status 0) once this process's coordinator sees every member a server with no transfer left; for tests and timing.")
    var exitWhenComplete = false

    @Option(help: "With --exit-when-complete: give up (status 1) after this many seconds.")
    var timeout = 120.0

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard members >= 1 else { throw ValidationError("--members must be at least 1") }
        guard heartbeatMs > 0 else { throw ValidationError("--heartbeat-ms must be positive") }
        guard stateBytes >= 0 else { throw ValidationError("--state-bytes cannot be negative") }
        if let b = bind.address, b.port != 0, port != 0 {
            throw ValidationError("give the port once: --bind \(bind.bind ?? "") already has one, drop --port (or give --bind without a port)")
        }
        if Int(firstPort) + members - 1 > Int(UInt16.max), firstPort != 0 {
            throw ValidationError("ports \(firstPort) to \(Int(firstPort) + members - 1) do not all exist; choose a lower --port")
        }
        do { try options().validate() } catch { throw ValidationError("\(error)") }
    }

    /// The first member's port (--port, or the port of --bind IP:PORT; 0: any).
    var firstPort: UInt16 { port != 0 ? port : bind.address?.port ?? 0 }

    /// The seed program's options, with this command line's settings.
    func options() throws -> CSXOptions {
        var ops = CSXOptions()
        ops.heartbeatRate = .milliseconds(heartbeatMs)
        ops.groupName = group
        // The seed program names its stack; --properties chooses one instead.
        ops.protocolStack = common.properties == nil ? "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom" : nil
        ops.properties = common.properties
        ops.transports = "UDP"
        ops.threadMode = .singleThreaded
        ops.membershipType = .server
        ops.xferType = .atomic
        ops.params = common.params
        ops.gossip = gossip.map { [$0] } ?? []
        ops.key = try common.key.secret()
        ops.encrypt = common.key.encrypt
        return ops
    }

    func run() throws {
        common.log.bootstrap()
        let ops = try options()

        // SIGTERM/SIGINT from now on: every server leaves, then the process exits (status 0).
        let runtime = Runtime.current
        runtime.installTerminationHandler()
        let started = Date()
        let watch = CompletionWatch(expected: members, enabled: exitWhenComplete, started: started)
        let blob = MyServer.makeBlob(stateBytes)  // one copy, shared by every server
        var svr: [MyServer] = []
        for i in 0 ..< members {
            var o = ops
            let p = firstPort == 0 ? 0 : firstPort + UInt16(i)
            if let b = bind.address { o.bind = Address(ip: b.ip, port: p) } else { o.port = p }
            svr.append(try MyServer(i, o, blob: blob, watch: watch))
        }
        if exitWhenComplete {
            let done = runtime.run(until: { watch.complete }, timeout: .seconds(timeout))
            print(done ? String(format: "complete: %d servers in one view after %.3f s", watch.servers, watch.elapsed)
                       : "incomplete after \(timeout) s")
            withExtendedLifetime(svr) {}
            throw ExitCode(done ? 0 : 1)
        }
        // Start Ensemble in the current thread: never returns.
        withExtendedLifetime(svr) { runtime.start() }
    }
}

/// Notices when the coordinator has seen a view where every member is a full server.
final class CompletionWatch {
    let expected: Int
    let enabled: Bool
    let started: Date
    var complete = false
    var servers = 0
    var elapsed = 0.0
    init(expected: Int, enabled: Bool, started: Date) {
        self.expected = expected
        self.enabled = enabled
        self.started = started
    }
    func saw(_ vd: CSXViewData) {
        guard !complete, vd.nmembers >= expected, vd.servers.count == vd.nmembers, vd.xferServers.isEmpty else { return }
        complete = true
        servers = vd.servers.count
        elapsed = Date().timeIntervalSince(started)
    }
}

Lapa.main()
