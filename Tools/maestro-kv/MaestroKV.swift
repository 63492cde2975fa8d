// The maestro-kv command line: options, start-up (client port, group member), and the clean
// leave on SIGTERM/SIGINT.

import ArgumentParser
import Ensemble
import Foundation
import KVCore
import Logging
import Maestro
import ToolSupport

struct MaestroKV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maestro-kv",
        abstract: "A replicated in-memory key-value store that speaks the Redis protocol (RESP2).",
        discussion: """
            Each process is one replica: a CSX server of the group, over a stack with total \
            order, self-delivery and the primary partition (Vsync:Total:Primary). Reads are \
            answered from the local store; writes are cast to the group in batches (one per loop \
            turn), applied by every replica in the one order, and answered when the replica that \
            took them delivers them. Replicas outside the primary partition (more than half of \
            --expected replicas, Corosync's expected_votes) refuse writes (READONLY) and reads \
            (CLUSTERDOWN; with --stale-reads they serve them). A replica that joins takes the \
            whole store from the group by state transfer, in chunks.

            Commands: PING ECHO GET SET (EX PX EXAT PXAT KEEPTTL NX XX GET) SETNX SETEX PSETEX \
            GETSET DEL EXISTS INCR DECR INCRBY DECRBY MGET MSET DBSIZE FLUSHALL FLUSHDB KEYS TTL \
            PTTL EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST TYPE STRLEN INFO KVDIGEST (DEBUG \
            DIGEST) CONFIG GET SELECT 0 CLIENT TIME QUIT; anything else gets an error. \
            KVDIGEST prints a digest of the whole store: equal on replicas that hold equal stores.

            Three replicas on one host:
              maestro-gossip --port 6000 &
              maestro-kv --port 7001 --gossip 127.0.0.1:6000 --expected 3 &
              maestro-kv --port 7002 --gossip 127.0.0.1:6000 --expected 3 &
              maestro-kv --port 7003 --gossip 127.0.0.1:6000 --expected 3 &
              redis-cli -p 7001 set greeting hello; redis-cli -p 7003 get greeting

            SIGTERM or SIGINT: the replica stops accepting clients, leaves the group and exits \
            (status 0) within 2 s.
            """)

    @Option(help: "TCP port for clients.")
    var port: UInt16 = 6379

    @Option(help: "Address the client port listens on (0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "The group's rendezvous, HOST:PORT (a maestro-gossip). Every replica must name the same one. Without it the replica stays alone (with --expected 1).")
    var gossip: String?

    @Option(help: "Replicas the group is expected to have (the primary partition needs more than half of them, and all of them at the first start). Required with --gossip; 1 without.")
    var expected: Int?

    @Option(help: "Group name (replicas of one store share it).")
    var group = "maestro-kv"

    @Flag(help: "Outside the primary partition, serve reads anyway (possibly stale) instead of refusing them.")
    var staleReads = false

    @Option(help: "Seconds a write waits for its delivery before its client gets an error.")
    var writeTimeout = 10.0

    @Option(help: "Most client connections at once.")
    var maxClients = 10_000

    @Option(help: "Heartbeat period in milliseconds.")
    var heartbeatMs = 1000

    @Flag(help: ArgumentHelp("Accept KVFAULT ISOLATE/HEAL (cut this replica off the group and back): for tests.", visibility: .hidden))
    var allowFaultInjection = false

    @OptionGroup var bind: BindOptions

    @OptionGroup var common: GroupOptions

    static let defaultProperties = "Vsync:Total:Primary"

    func validate() throws {
        if gossip != nil && expected == nil {
            throw ValidationError("--expected N is required with --gossip: the number of replicas of the group (the primary partition needs more than half of them)")
        }
        if let e = expected, e < 1 { throw ValidationError("--expected must be at least 1") }
        if gossip == nil, let e = expected, e > 1 {
            throw ValidationError("--expected \(e) needs --gossip HOST:PORT (a maestro-gossip every replica names): alone, a replica can never see \(e) replicas")
        }
        guard writeTimeout > 0 else { throw ValidationError("--write-timeout must be positive") }
        guard maxClients > 0 else { throw ValidationError("--max-clients must be positive") }
        guard heartbeatMs > 0 else { throw ValidationError("--heartbeat-ms must be positive") }
        if let p = common.properties {
            let props = try Properties(parsing: p)
            guard props.contains(.total), props.contains(.primary) else {
                throw ValidationError("--properties \(p): maestro-kv needs Total (one order of writes, delivered to their sender too) and Primary (the quorum), e.g. \(Self.defaultProperties)")
            }
        }
        do { try options().validate() } catch { throw ValidationError("\(error)") }
    }

    func options() throws -> CSXOptions {
        var ops = CSXOptions()
        ops.groupName = group
        ops.heartbeatRate = .milliseconds(heartbeatMs)
        ops.properties = common.properties ?? Self.defaultProperties
        ops.membershipType = .server
        ops.xferType = .atomic
        let quorum = "primary_expected=\(expected ?? 1):int"
        ops.params = common.params.isEmpty ? quorum : "\(common.params);\(quorum)"
        ops.gossip = gossip.map { [$0] } ?? []
        if let b = bind.address { ops.bind = b }
        ops.key = try common.key.secret()
        ops.encrypt = common.key.encrypt
        return ops
    }

    func run() throws {
        common.log.bootstrap()
        let ops = try options()
        let runtime = Runtime.current
        let service = KVService(reactor: runtime.reactor)
        service.writeTimeout = .seconds(writeTimeout)
        let listener: ClientListener
        do {
            listener = try ClientListener(reactor: runtime.reactor, host: host, port: port) { [unowned service] args, c in
                service.handle(args, c)
            }
        } catch {
            throw ValidationError("\(error)")
        }
        listener.maxClients = maxClients
        service.listener = listener
        service.port = listener.port

        let replica = KVReplica(ops, service: service, staleReads: staleReads, expected: expected ?? 1,
                                faultInjection: allowFaultInjection)
        if let g = gossip, let a = Address(g) { replica.rendezvous = a }
        do { try replica.join() } catch { throw ValidationError("cannot join the group: \(error)") }
        if replica.rendezvous == nil, let g = gossip { replica.rendezvous = Address(g) }

        // SIGTERM/SIGINT: no new clients, the replica leaves, the process exits.
        runtime.onTermination = { [unowned replica] _ in
            listener.stop()
            replica.leaving = true
            runtime.terminate()
        }
        print("maestro-kv listening on \(host):\(listener.port), group \(group), member \(replica.localAddress.map { "\($0)" } ?? "?")")
        fflush(nil)
        withExtendedLifetime((service, listener, replica)) { runtime.start() }
    }
}
