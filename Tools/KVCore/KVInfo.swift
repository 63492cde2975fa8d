// INFO: Redis's sections (server, clients, stats, keyspace) with maestro-kv's own counters, and
// the replication section from the group (view, rank, primary flag, members).

import Foundation

extension KVService {
    /// The text of INFO for `sections` (empty, "all", "default" or "everything": every one).
    public func info(sections: [String]) -> String {
        let all = sections.isEmpty || sections.contains { $0 == "all" || $0 == "default" || $0 == "everything" }
        func wanted(_ s: String) -> Bool { all || sections.contains(s) }
        var out = ""
        func section(_ name: String, _ lines: [(String, String)]) {
            guard wanted(name.lowercased()) else { return }
            if !out.isEmpty { out += "\r\n" }
            out += "# \(name)\r\n"
            for (k, v) in lines { out += "\(k):\(v)\r\n" }
        }
        section("Server", [
            ("redis_version", "7.0.0"),
            ("maestro_kv_version", "1"),
            ("redis_mode", "standalone"),
            ("process_id", String(ProcessInfo.processInfo.processIdentifier)),
            ("tcp_port", String(port)),
            ("uptime_in_seconds", String(Int(Date().timeIntervalSince(startedAt)))),
        ])
        section("Clients", [
            ("connected_clients", String(listener?.connectedClients ?? 0)),
            ("maxclients", String(listener?.maxClients ?? 0)),
        ])
        let s = stats
        section("Stats", [
            ("total_connections_received", String(listener?.acceptedTotal ?? 0)),
            ("rejected_connections", String(listener?.rejectedTotal ?? 0)),
            ("total_commands_processed", String(s.commands)),
            ("total_net_input_bytes", String(listener?.inputBytes ?? 0)),
            ("total_net_output_bytes", String(listener?.outputBytes ?? 0)),
            ("protocol_errors", String(listener?.protocolErrorCount ?? 0)),
            ("unknown_commands", String(s.unknownCommands)),
            ("reads_served", String(s.readsServed)),
            ("reads_refused", String(s.readsRefused)),
            ("writes_submitted", String(s.writesSubmitted)),
            ("writes_refused", String(s.writesRefused)),
            ("writes_in_flight", String(writesInFlight)),
            ("batches_cast", String(s.batchesCast)),
            ("cast_failures", String(s.castFailures)),
            ("ticks_cast", String(s.ticksCast)),
            ("batches_applied", String(s.batchesApplied)),
            ("writes_applied", String(s.writesApplied)),
            ("batches_not_applied", String(s.batchesNotApplied)),
            ("writes_timed_out", String(s.writesTimedOut)),
            ("writes_failed", String(s.writesFailed)),
            ("malformed_batches", String(s.malformedBatches)),
            ("state_transfers_in", String(s.stateTransfersIn)),
            ("state_transfers_out", String(s.stateTransfersOut)),
        ])
        section("Replication", replication?.infoLines() ?? [("role", "none")])
        section("Keyspace", store.count == 0 ? [] : [("db0", "keys=\(store.count),expires=\(store.volatileCount),avg_ttl=0")])
        return out
    }
}
