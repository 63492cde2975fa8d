/// Every protocol parameter a layer or the endpoint reads, with its type, default and meaning:
/// what `Parameters(parsing:)` and `Parameters.checkNames()` check names against, so that a
/// misspelled name (`pt2pt_windw`) is an error that lists the right ones instead of a value
/// silently ignored. Ensemble itself ignored unknown names.
///
/// The defaults live with the code that reads them (`params.int("pt2pt_window", default: …)`);
/// `ParameterCatalogTests` reads the sources and fails when a name read there is missing here,
/// or listed here and read nowhere.
public enum ParameterCatalog {
    public struct Entry: Sendable {
        public let name: String
        /// `int`, `float`, `bool`, `string` or `time` (seconds), as in a parameter string.
        public let type: String
        /// The default, as a person would write it.
        public let defaultValue: String
        public let meaning: String
    }

    public static let entries: [Entry] = [
        Entry(name: "batch_max_bytes", type: "int", defaultValue: "8192", meaning: "largest datagram the endpoint batches messages into"),
        Entry(name: "batching", type: "bool", defaultValue: "true", meaning: "batch the messages of one loop turn into datagrams"),
        Entry(name: "frag_max_len", type: "int", defaultValue: "6192", meaning: "largest fragment of a message (bytes)"),
        Entry(name: "frag_max_partial", type: "int", defaultValue: "8", meaning: "partly received messages kept per sender"),
        Entry(name: "frag_max_pending", type: "int", defaultValue: "max_message + 4 × frag_max_len", meaning: "bytes of partly received messages kept per sender"),
        Entry(name: "heartbeat_rate", type: "time", defaultValue: "1 (Maestro: its heartbeatRate)", meaning: "period of the application's heartbeat"),
        Entry(name: "leave_linger", type: "time", defaultValue: "3 × max(stable_sweep, pt2pt_sweep)", meaning: "how long a leaving member keeps serving retransmissions"),
        Entry(name: "leave_timeout", type: "time", defaultValue: "1", meaning: "how long a leave waits for the coordinator's acknowledgement"),
        Entry(name: "max_members", type: "int", defaultValue: "256", meaning: "largest group a merge may form"),
        Entry(name: "max_message", type: "int", defaultValue: "67108864 (64 MiB)", meaning: "largest application message (bytes)"),
        Entry(name: "merge_max_unacked", type: "int", defaultValue: "5", meaning: "merge requests sent without an answer before the contact is given up"),
        Entry(name: "merge_rto", type: "time", defaultValue: "0.05", meaning: "first resend of an unanswered merge request"),
        Entry(name: "merge_sweep", type: "time", defaultValue: "1", meaning: "longest wait between merge request resends"),
        Entry(name: "merge_timeout", type: "time", defaultValue: "15", meaning: "when a merge in progress is given up"),
        Entry(name: "mnak_max_buffer", type: "int", defaultValue: "4 × mnak_window", meaning: "bytes of out-of-order multicasts buffered per sender"),
        Entry(name: "mnak_max_gap", type: "int", defaultValue: "131072", meaning: "largest sequence gap a receiver NAKs"),
        Entry(name: "mnak_window", type: "int", defaultValue: "4194304 (4 MiB)", meaning: "unstable multicast bytes a sender may have outstanding"),
        Entry(name: "primary_expected", type: "int", defaultValue: "0 (required with the Primary layer)", meaning: "expected number of members: a primary view needs more than half (Primary)"),
        Entry(name: "pt2pt_ack_bytes", type: "int", defaultValue: "pt2pt_window / 4", meaning: "bytes received before an acknowledgement is sent"),
        Entry(name: "pt2pt_ack_rate", type: "int", defaultValue: "64", meaning: "messages received before an acknowledgement is sent"),
        Entry(name: "pt2pt_max_early", type: "int", defaultValue: "65536", meaning: "out-of-order point-to-point messages buffered per sender"),
        Entry(name: "pt2pt_sweep", type: "time", defaultValue: "1", meaning: "longest retransmission timeout of point-to-point messages"),
        Entry(name: "pt2pt_window", type: "int", defaultValue: "4194304 (4 MiB)", meaning: "unacknowledged point-to-point bytes per destination"),
        Entry(name: "rto_initial", type: "time", defaultValue: "0.05", meaning: "retransmission timeout before any round trip is measured"),
        Entry(name: "rto_min", type: "time", defaultValue: "0.01", meaning: "shortest retransmission timeout"),
        Entry(name: "seqbb_max_runs", type: "int", defaultValue: "256", meaning: "most runs of (origin, count) in one ordering message of the sequencer"),
        Entry(name: "stable_sweep", type: "time", defaultValue: "1", meaning: "period of stability gossip and multicast repair"),
        Entry(name: "stable_trigger_bytes", type: "int", defaultValue: "524288 (512 KiB)", meaning: "multicast bytes that trigger a stability round early"),
        Entry(name: "suspect_core", type: "int", defaultValue: "3", meaning: "lowest live ranks that ping everyone; the others ping only them (0: everyone pings everyone)"),
        Entry(name: "suspect_max_idle", type: "int", defaultValue: "6", meaning: "unanswered pings before a member is suspected"),
        Entry(name: "suspect_sweep", type: "time", defaultValue: "0.2", meaning: "period of the failure detector's pings"),
        Entry(name: "top_gossip", type: "bool", defaultValue: "true", meaning: "announce the group to the gossip rendezvous"),
        Entry(name: "top_sweep", type: "time", defaultValue: "5", meaning: "period of gossip announcements"),
    ]

    private static let byName: [String: Entry] = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })

    public static func entry(_ name: String) -> Entry? { byName[name] }

    /// One line per parameter: `name (type, default D): meaning`, and the profiles.
    public static var listing: String {
        var lines = entries.map { "  \($0.name) (\($0.type), default \($0.defaultValue)): \($0.meaning)" }
        lines.append("  profiles: \(Parameters.profiles.keys.sorted().joined(separator: ", ")) (e.g. fast;pt2pt_window=1048576:int)")
        return lines.joined(separator: "\n")
    }

    /// The error for an unknown name: the closest known names first, then the whole list.
    static func unknown(_ name: String) -> ParameterError {
        let close = entries.map(\.name).filter { editDistance($0, name) <= 2 || $0.hasPrefix(name) }
        let hint = close.isEmpty ? "" : " (did you mean \(close.joined(separator: " or "))?)"
        return ParameterError("unknown parameter '\(name)'\(hint); the known parameters are:\n\(listing)")
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard !x.isEmpty else { return y.count }
        var row = Array(0 ... y.count)
        for i in 1 ... x.count {
            var diagonal = row[0]
            row[0] = i
            for j in stride(from: 1, through: y.count, by: 1) {
                let above = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (x[i - 1] == y[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[y.count]
    }
}

extension Parameters {
    /// Throws for the first name that no layer reads (see `ParameterCatalog`).
    public func checkNames() throws(ParameterError) {
        for name in values.keys.sorted() where ParameterCatalog.entry(name) == nil {
            throw ParameterCatalog.unknown(name)
        }
    }
}
