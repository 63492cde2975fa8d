// The command service of one replica: runs each client request, serves reads from the local
// store, gathers the writes of one loop turn into one batch cast to the group, and when a
// batch is delivered applies it and, for its own batches, answers the clients that wait.

import Ensemble
import Foundation
import Logging
import Reactor

public final class KVService {
    public let store = KVStore()
    public weak var replication: (any KVReplication)?
    let reactor: Reactor
    let logger = Logger(label: "kv.service")
    public private(set) var stats = KVStats()
    /// The clients' port (INFO).
    public var port: UInt16 = 0
    public var listener: ClientListener?
    let startedAt = Date()

    /// The wall clock in Unix milliseconds (replaceable by tests).
    public var wallClock: () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
    /// A write not delivered back within this time is answered with an error (it may still be
    /// applied later: its outcome is unknown).
    public var writeTimeout = Time.seconds(10)
    /// A batch is cast at the end of the loop turn, or earlier once it holds this many bytes.
    public var maxBatchBytes = 1 << 20

    private struct Ticket {
        let connection: ClientConnection
        let slot: UInt64
    }

    private struct InFlight {
        let tickets: [Ticket]
        let since: Time
    }

    private var building = BatchBuilder()
    private var buildingTickets: [Ticket] = []
    private var inFlight: [UInt64: InFlight] = [:]
    private var nextSequence: UInt64 = 1
    private var castTimer: LoopTimer?
    /// Inside `delivered`: clients resumed there may submit writes, which never cast from
    /// inside the group's delivery callback (they wait for the zero timer).
    private var delivering = false
    private var housekeeping: LoopTimer?

    public init(reactor: Reactor) {
        self.reactor = reactor
        castTimer = LoopTimer(reactor, label: "kv batch cast") { [unowned self] in self.castPending() }
        housekeeping = reactor.every(.milliseconds(250), label: "kv timeouts and ticks") { [unowned self] in self.housekeep() }
    }

    deinit {
        castTimer?.cancel()
        housekeeping?.cancel()
    }

    /// Writes cast and not yet delivered back.
    public var writesInFlight: Int { inFlight.values.reduce(0) { $0 + $1.tickets.count } + buildingTickets.count }

    // MARK: Writes

    /// Queues a write of `connection` for this turn's batch; its reply comes at delivery.
    func submit(_ command: WriteCommand, from connection: ClientConnection) {
        if let refusal = replication?.writeRefusal ?? (replication == nil ? "ERR no group" : nil) {
            stats.writesRefused += 1
            connection.reply(.error(refusal))
            return
        }
        stats.writesSubmitted += 1
        building.add(command)
        buildingTickets.append(Ticket(connection: connection, slot: connection.reserveWriteSlot()))
        if building.byteCount >= maxBatchBytes && !delivering {
            castPending()
        } else if castTimer?.isScheduled == false {
            // After this turn's reads (the zero timer runs once the loop has polled again).
            castTimer?.schedule(after: .zero)
        }
    }

    /// Casts what this turn gathered.
    private func castPending() {
        guard !building.isEmpty else { return }
        let sequence = nextSequence
        nextSequence += 1
        let bytes = building.take(sequence: sequence, time: wallClock())
        let tickets = buildingTickets
        buildingTickets = []
        guard let replication, replication.writeRefusal == nil else {
            fail(tickets, "\(replication?.writeRefusal ?? "ERR no group")")
            return
        }
        inFlight[sequence] = InFlight(tickets: tickets, since: reactor.now)
        if replication.castBatch(bytes) {
            stats.batchesCast += 1
        } else {
            stats.castFailures += 1
            inFlight[sequence] = nil
            fail(tickets, "ERR the write could not be cast to the group (the replica is leaving or not joined); retry")
        }
    }

    private func fail(_ tickets: [Ticket], _ error: String) {
        stats.writesFailed += UInt64(tickets.count)
        for t in tickets { t.connection.resolve(t.slot, .error(error)) }
    }

    /// A batch was delivered (in the group's total order). `applies`: the view it was delivered
    /// in is primary (otherwise nobody applies it and its clients get `refusal`).
    public func delivered(_ bytes: [UInt8], mine: Bool, applies: Bool, refusal: String) {
        let batch: WriteBatch
        do { batch = try WriteBatch(decoding: bytes) } catch {
            stats.malformedBatches += 1
            if stats.malformedBatches & (stats.malformedBatches - 1) == 0 {
                logger.warning("dropped a malformed write batch (\(error)); \(stats.malformedBatches) so far")
            }
            return
        }
        let waiting = mine ? inFlight.removeValue(forKey: batch.sequence)?.tickets : nil
        guard applies else {
            stats.batchesNotApplied += 1
            delivering = true
            defer { delivering = false }
            if let waiting { fail(waiting, refusal) }
            return
        }
        let replies = store.apply(batch)
        stats.batchesApplied += 1
        stats.writesApplied += UInt64(batch.commands.count)
        delivering = true
        defer { delivering = false }
        if let waiting {
            for (t, r) in zip(waiting, replies) { t.connection.resolve(t.slot, r) }
        }
    }

    /// Every write waiting for its delivery fails with `reason` (the replica left the group).
    public func failInFlight(_ reason: String) {
        let all = inFlight.values.sorted { $0.since < $1.since }
        inFlight.removeAll()
        for f in all { fail(f.tickets, reason) }
    }

    private func housekeep() {
        let now = reactor.now
        let late = inFlight.filter { now - $0.value.since > writeTimeout }
        for (seq, f) in late.sorted(by: { $0.key < $1.key }) {
            inFlight[seq] = nil
            stats.writesTimedOut += UInt64(f.tickets.count)
            for t in f.tickets {
                t.connection.resolve(t.slot, .error("TIMEOUT the write was not delivered back within \(writeTimeout.seconds) s (a view change or partition?); it may or may not be applied"))
            }
        }
        // The clock tick: keys expire even when nobody writes.
        if let r = replication, r.castsTicks, store.volatileCount > 0, building.isEmpty,
           wallClock() - store.clock >= 1000, r.writeRefusal == nil {
            let tick = WriteBatch(sequence: 0, time: wallClock(), commands: []).encoded()
            if r.castBatch(tick) { stats.ticksCast += 1 }
        }
    }

    // MARK: State

    /// Empties the store (a state transfer begins).
    public func resetStore() { store.reset() }

    /// Counts a state sent to a joiner, or received.
    public func noteTransfer(outgoing: Bool) {
        if outgoing { stats.stateTransfersOut += 1 } else { stats.stateTransfersIn += 1 }
    }

    func countCommand() { stats.commands += 1 }
    func countRead(refused: Bool) { if refused { stats.readsRefused += 1 } else { stats.readsServed += 1 } }
    func countUnknown() { stats.unknownCommands += 1 }
}
