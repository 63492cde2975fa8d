import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-soak member`: one group member in its own process. It joins alone, finds the
/// group through the rendezvous, optionally casts at a steady rate, and prints one line per
/// event on stdout (flushed at once, for the process driving it):
///
///     ready <address> <endpoint>
///     view <ltime> <n> <member address>,<member address>,... <endpoint>,<endpoint>,...
///     block
///     stats casts-sent <n> casts-received <n> out-of-order <n>
///     exit
///
/// SIGTERM or SIGINT: the member leaves the group and the process ends once it has (or after
/// --leave-timeout); kill -9 is the crash test.
struct Member: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one group member process (the unit of a soak test).",
        discussion: """
            Prints `ready <address> <endpoint>`, then `view <ltime> <n> <addresses> <endpoints>` \
            (both lists comma-separated, in rank order) at every view, `block`, `stats` lines \
            (--stats-every) and `exit` when it has left. SIGTERM or SIGINT makes it leave the group; \
            it exits once it has left, or after --leave-timeout. By default the member is a bare \
            protocol endpoint; with --maestro it is a Maestro GroupMember run by Runtime.start() \
            (the runtime's own SIGTERM handling), as applications run.
            """)

    @Option(help: "Group name.")
    var group = "maestro-soak"

    @Option(help: "Gossip rendezvous, HOST:PORT (repeatable).")
    var gossip: [String] = []

    @OptionGroup var bind: BindOptions

    @Option(help: "UDP port (0: any free port), unless --bind gives one.")
    var port: UInt16 = 0

    /// `--bind`, with `--port` when the bind address gives none.
    var bindAddress: Address? { bind.address.map { $0.port == 0 ? Address(ip: $0.ip, port: port) : $0 } }

    @Option(help: "On SIGTERM, the longest to wait for the leave to complete, in seconds.")
    var leaveTimeout = 2.0

    @Flag(help: "Run a Maestro GroupMember under Runtime.start() instead of a bare endpoint.")
    var maestro = false

    @Option(help: "Protocol stack, top layer first.")
    var protocolStack: String?

    @Option(help: "Casts per second (0: none).")
    var castRate = 0.0

    @Option(help: "Cast payload size in bytes (at least 16).")
    var size = 64

    @Option(help: "Print a stats line every this many seconds (0: never).")
    var statsEvery = 0.0

    @OptionGroup var common: GroupOptions

    func validate() throws {
        for g in gossip where Address(g) == nil {
            throw ValidationError("--gossip must be HOST:PORT with a dotted-quad host, not '\(g)'")
        }
        guard size >= 16 else { throw ValidationError("--size must be at least 16") }
        guard leaveTimeout > 0 else { throw ValidationError("--leave-timeout must be a positive number of seconds") }
    }

    func run() throws {
        common.log.bootstrap()
        if maestro { try runMaestro() }
        let reactor = Reactor()
        let app = NumberedCasts(size: size)
        let rendezvous = gossip.compactMap(Address.init)
        let member = try UDPMember(reactor: reactor, group: group, bind: bindAddress, port: port, rendezvous: rendezvous,
                                   protocolStack: try common.protocolStack(explicit: protocolStack), params: try Parameters(parsing: common.params), application: app,
                                   key: try common.key.groupKey(), batch: 16)
        let endpoint = member.endpoint
        app.endpoint = endpoint
        app.onView = { view, _ in
            line("view \(view.ltime) \(view.count) \(view.addresses.map(\.description).joined(separator: ",")) \(view.members.map(\.description).joined(separator: ","))")
        }
        app.onBlock = { line("block") }
        line("ready \(member.localAddress) \(endpoint.id)")
        try endpoint.join()

        var timers: [LoopTimer] = []
        if castRate > 0 {
            timers.append(reactor.every(.seconds(1 / castRate), label: "casts") { app.castOne() })
        }
        if statsEvery > 0 {
            timers.append(reactor.every(.seconds(statsEvery), label: "stats") {
                line("stats casts-sent \(app.sent) casts-received \(app.received) out-of-order \(app.outOfOrder)")
            })
        }
        // SIGINT/SIGTERM: leave the group cleanly, then stop (kill -9 is the crash test).
        let leaver = LeaveOnTermination(reactor: reactor, timeout: .seconds(leaveTimeout),
                                        leave: { endpoint.leave() }, finish: { reactor.stop() })
        app.onExit = { leaver.exited() }
        withExtendedLifetime((leaver, member)) { reactor.run() }
        for t in timers { t.cancel() }
        line("exit")
    }
}

/// Prints one line and flushes, so that a parent reading the pipe sees it at once.
func line(_ s: String) {
    print(s)
    fflush(nil)
}
