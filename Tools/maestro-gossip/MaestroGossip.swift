import ArgumentParser
import Ensemble
import Foundation
import Reactor
import ToolSupport

/// `maestro-gossip`: the gossip rendezvous through which group members find each other.
@main
struct MaestroGossip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-gossip",
        abstract: "Run a gossip rendezvous for Ensemble groups over UDP.",
        discussion: """
            Remembers every address it hears gossip from (per group) for 20 seconds and relays \
            each gossip datagram to the other addresses of the same group; an identical datagram \
            is not relayed twice within 0.1 s. Members point at it with --gossip HOST:PORT. \
            Stops cleanly on SIGINT or SIGTERM.
            """)

    @Option(help: "UDP port to listen on.")
    var port: UInt16 = 6788

    @Option(help: "Address to bind (dotted quad; 0.0.0.0 for every interface).")
    var bind = "127.0.0.1"

    @Option(help: "Print relay statistics every this many seconds (0: never).")
    var statsEvery = 0.0

    @Option(help: "Most clients remembered (resource limit); the least recently heard is forgotten first.")
    var maxClients = 4096

    @OptionGroup var key: KeyOptions

    @OptionGroup var log: LogOptions

    func run() throws {
        log.bootstrap()
        guard let ip = Address.parseIP(bind) else {
            throw ValidationError("--bind must be a dotted quad such as 127.0.0.1, not '\(bind)'")
        }
        let reactor = Reactor()
        let server: GossipServer
        do {
            server = try GossipServer(reactor: reactor, bind: Address(ip: ip, port: port),
                                      key: try key.groupKey(), maxClients: maxClients)
        } catch {
            throw ValidationError("cannot listen on \(bind):\(port): \(error). Is another rendezvous running there? Try another --port.")
        }
        print("gossip rendezvous on \(server.address)")
        fflush(nil)
        let signals = reactor.stopOnTerminationSignals()
        var stats: LoopTimer?
        if statsEvery > 0 {
            stats = reactor.every(.seconds(statsEvery)) {
                let r = server.relay
                print("clients \(r.clientCount) received \(r.received) relayed \(r.relayed) duplicates \(r.duplicates) dropped \(r.dropped)")
                fflush(nil)
            }
        }
        withExtendedLifetime(signals) { reactor.run() }  // (`_ = signals` would not keep them)
        stats?.cancel()
        let r = server.relay
        print("stopped: received \(r.received), relayed \(r.relayed), dropped \(r.dropped)")
    }
}
