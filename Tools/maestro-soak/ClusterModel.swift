import Foundation
import Maestro
import ToolSupport

/// Counters a node reports on its `stats` lines.
struct NodeStats {
    var casts = 0
    var sends = 0
    var delivered = 0
    var drops = 0
    var queued = 0
    /// What the members dropped, by reason.
    var memberDrops = DropCounts()

    static func + (a: NodeStats, b: NodeStats) -> NodeStats {
        NodeStats(casts: a.casts + b.casts, sends: a.sends + b.sends, delivered: a.delivered + b.delivered,
                  drops: a.drops + b.drops, queued: a.queued + b.queued, memberDrops: a.memberDrops + b.memberDrops)
    }
}

/// A view as a member reported it on stdout (`view MEMBER VIEWID ROLE SERVERS XFER MEMBERS`,
/// endpoint lists comma separated, `-` for an empty list).
struct ReportedView: Equatable {
    var id: String
    var role: String
    var servers: [String]
    var xfer: [String]
    var members: [String]

    init?(_ parts: [Substring]) {
        guard parts.count == 7 else { return nil }
        func list(_ s: Substring) -> [String] { s == "-" ? [] : s.split(separator: ",").map(String.init) }
        id = String(parts[2])
        role = String(parts[3])
        servers = list(parts[4])
        xfer = list(parts[5])
        members = list(parts[6])
    }

    /// Every member is a server: no transfer going on or pending.
    var settled: Bool { xfer.isEmpty && Set(servers) == Set(members) }
}

/// The orchestrator's picture of one node process.
final class NodeHandle {
    enum Status: String { case running, killed, stopped, crashed }

    let index: Int
    var child: ChildProcess?
    /// Restarts so far (each restart is a new process: new endpoints, new incarnations).
    var generation = 0
    var status = Status.running
    /// The latest counters of the current process, and the totals of the previous ones.
    var stats = NodeStats()
    var pastStats = NodeStats()
    var saidStopped = false
    /// How the process ended, when it did on its own.
    var exitDescription: String?

    init(index: Int) { self.index = index }

    var totalStats: NodeStats { pastStats + stats }
}

/// The orchestrator's picture of one member (one CSX server; a node runs K of them).
final class MemberSlot {
    enum Status: String { case starting, active, leaving, left, dead }

    /// The member index in the checkers' history: process × K + slot.
    let index: Int
    let process: Int
    let slot: Int
    var incarnation: UInt64 = 0
    var status = Status.starting
    var endpoint: String?
    var address: String?
    var view: ReportedView?
    /// The view it was last told is primary (`primary MEMBER VIEWID 1`; the line may come
    /// just before the view's own), nil once told it is not.
    var primaryView: String?
    /// When it last asked to leave (a rejoin waits for its exit).
    var leftAt: Double?

    init(index: Int, process: Int, slot: Int) {
        self.index = index
        self.process = process
        self.slot = slot
    }

    /// Alive and in the group (or about to be).
    var inGroup: Bool { status == .active || status == .starting }
}
