import ArgumentParser
import Ensemble
import Foundation
import ToolSupport

/// `maestro-soak node`: one soak node process (started by the soak, not by hand).
struct Node: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one soak node: CSX servers with a replicated state (internal; started by maestro-soak).",
        discussion: """
            The node runs one CSX server (atomic state transfer) per --incarnations entry, in one Maestro runtime. Each \
            sends random casts and sends (--rate per second, up to --size-max bytes, 70% casts), applies \
            every cast to its replicated state, and logs views, sends, deliveries and transfers to \
            LOG-DIR/mMEMBER.INCARNATION.log. It prints `ready`, `view`, `exit`, `stats`, `final` and \
            `stopped` lines on stdout and obeys commands on stdin: `loss F`, `partition ADDR,...`, \
            `heal`, `traffic on|off`, `leave SLOT`, `rejoin SLOT INC`, `stop`. SIGTERM or SIGINT: every \
            member leaves (logged as a leave), then the node stops (status 0) once they have left, or \
            after 2 s.
            """)

    @Option(help: "Soak member index of the node's first member (slot 0).")
    var firstMember: Int

    @Option(help: "Incarnation of each member, comma separated (one per member slot).")
    var incarnations: String

    @Option(help: "Gossip rendezvous, HOST:PORT.")
    var gossip: String

    @Option(help: "Group name.")
    var group: String

    @OptionGroup var bind: BindOptions

    @Option(help: "Directory of the members' event logs.")
    var logDir: String

    @Option(help: "Microseconds since 1970 that log timestamps count from.")
    var epochMicros: Int64 = 0

    @Option(help: "Seed of the traffic and loss choices.")
    var seed: UInt64 = 1

    @Option(help: "Messages per second per member.")
    var rate = 20.0

    @Option(help: "Largest message in bytes.")
    var sizeMax = 16384

    @Option(help: "Fraction of messages that are casts (the rest are sends).")
    var castFraction = 0.7

    @Option(help: "Bytes of extra replicated state (streamed in chunks at each transfer).")
    var stateBytes = 0

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard firstMember >= 0 else { throw ValidationError("--first-member must be at least 0") }
        guard parsedIncarnations != nil else { throw ValidationError("--incarnations must be integers separated by commas") }
        guard Address(gossip) != nil else { throw ValidationError("--gossip must be HOST:PORT with a dotted-quad host, not '\(gossip)'") }
        guard rate >= 0, sizeMax >= TestMessageSize.header + 1, stateBytes >= 0, (0 ... 1).contains(castFraction) else {
            throw ValidationError("--rate, --size-max (at least \(TestMessageSize.header + 1)), --state-bytes and --cast-fraction are out of range")
        }
    }

    private var parsedIncarnations: [UInt64]? {
        let list = incarnations.split(separator: ",").map { UInt64($0) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else { return nil }
        return list.compactMap { $0 }
    }

    func run() throws {
        common.log.bootstrap()
        guard let incs = parsedIncarnations, let g = Address(gossip) else {
            throw ValidationError("invalid options")
        }
        let secret = try common.key.secret()
        let node = NodeProcess(NodeConfig(
            firstMember: firstMember, incarnations: incs, group: group, gossip: g, bind: bind.address, params: common.params, properties: common.properties,
            logDir: logDir, epochMicros: epochMicros, seed: seed, rate: rate, sizeMax: sizeMax,
            castFraction: castFraction, stateBytes: stateBytes, key: secret, encrypt: common.key.encrypt))
        do {
            try node.run()
        } catch {
            node.say("error \(error)")
            throw ExitCode(2)
        }
        fflush(nil)
        // Exit at once: the members' sockets and timers need no orderly teardown.
        Foundation.exit(0)
    }
}

import Simulation

/// Size limits of the test messages (`TestMessage`).
enum TestMessageSize {
    static let header = TestMessage.headerSize
}
