// The replica's group side: a CSX server over a total-order stack with self-delivery and the
// primary partition. Batches of writes are cast and applied by every replica at delivery, in
// the one order; outside the primary partition writes are refused (and batches delivered there
// are not applied); a joining replica takes the whole store by state transfer, in chunks.

import Ensemble
import Foundation
import KVCore
import Logging
import Maestro

final class KVReplica: CSX, KVReplication {
    let service: KVService
    let staleReads: Bool
    let expected: Int
    let faultInjection: Bool
    /// The gossip rendezvous (never cut by KVFAULT ISOLATE).
    var rendezvous: Address?
    private var loader: SnapshotLoader?
    private var transferStarted: Date?
    /// Casts delivered while this replica was receiving the store (none with ATOMIC transfer).
    private(set) var droppedDuringTransfer = 0
    /// Set on SIGTERM: the exit that follows is the one asked for.
    var leaving = false
    let log = Logger(label: "kv.replica")

    init(_ options: CSXOptions, service: KVService, staleReads: Bool, expected: Int, faultInjection: Bool) {
        self.service = service
        self.staleReads = staleReads
        self.expected = expected
        self.faultInjection = faultInjection
        super.init(options)
        service.replication = self
    }

    /// In the primary partition: the view was decided primary and every replica in it has
    /// installed it (confirmed; false early in every view). Writes are taken only then.
    private var primary: Bool { clsvViewData?.primaryFlag ?? false }
    private var holdsStore: Bool { clsvState == .serverNormal || clsvState == .serverXferDone }

    private var partitionText: String {
        let n = clsvViewData?.nmembers ?? 0
        return "its view has \(n) of the \(expected) expected replicas"
    }

    // MARK: KVReplication

    var writeRefusal: String? {
        guard isJoined, clsvViewData != nil else { return "TRYAGAIN the replica is not in its group (starting or leaving); retry in a moment" }
        guard holdsStore else { return "LOADING the replica is receiving the store (state transfer); retry in a moment" }
        guard primary else {
            return "READONLY the replica is outside the primary partition (\(partitionText)): writes are refused; write to a replica of the primary partition"
        }
        return nil
    }

    var readRefusal: String? {
        guard clsvViewData != nil else { return "TRYAGAIN the replica is not in its group (starting or leaving); retry in a moment" }
        guard holdsStore else { return "LOADING the replica is receiving the store (state transfer); retry in a moment" }
        if !primary && !staleReads {
            return "CLUSTERDOWN the replica is outside the primary partition (\(partitionText)) and its data may be stale; read from the primary partition, or start replicas with --stale-reads"
        }
        return nil
    }

    var readsAreStale: Bool { !primary }

    var castsTicks: Bool { primary && clsvViewData?.myRank == 0 && holdsStore }

    func castBatch(_ batch: [UInt8]) -> Bool {
        guard isJoined else { return false }
        return cast(Message(bytes: batch)) != .unspecified
    }

    func infoLines() -> [(String, String)] {
        var lines: [(String, String)] = [("role", "master"), ("maestro_group", options.groupName)]
        lines.append(("maestro_endpoint", myEndpID.map { "\($0)" } ?? "none"))
        if let vd = clsvViewData {
            lines += [
                ("view_id", "\(vd.viewID.ltime):\(vd.coordinator)"),
                ("view_members", String(vd.nmembers)),
                ("expected_members", String(expected)),
                ("members", vd.members.map { "\($0)" }.joined(separator: ",")),
                ("rank", String(vd.myRank)),
                ("primary", vd.base.primaryFlag ? "1" : "0"),
                ("servers", String(vd.servers.count)),
                ("xfer_servers", String(vd.xferServers.count)),
            ]
        } else {
            lines += [("view_id", "none"), ("primary", "0")]
        }
        lines += [
            ("server_state", "\(clsvState)"),
            ("stale_reads_allowed", staleReads ? "1" : "0"),
            ("reads_stale", readsAreStale ? "1" : "0"),
            ("transfers_skipped", String(transfersSkipped)),
            ("dropped_during_transfer", String(droppedDuringTransfer)),
            ("store_clock_ms", String(service.store.clock)),
        ]
        return lines
    }

    func fault(_ args: [[UInt8]]) -> KVReply {
        guard faultInjection else { return .error("ERR KVFAULT is for tests: start the replica with --allow-fault-injection") }
        let sub = String(decoding: args[1], as: UTF8.self).uppercased()
        let runtime = Runtime.current
        switch sub {
        case "ISOLATE":
            // Every datagram to or from another member is lost; the rendezvous still answers,
            // so the sides keep trying to merge (and fail) until HEAL.
            let r = rendezvous
            runtime.dropIncoming = { a in a != r }
            runtime.dropOutgoing = { a in a != r }
            return .ok
        case "HEAL":
            runtime.dropIncoming = nil
            runtime.dropOutgoing = nil
            return .ok
        default:
            return .error("ERR KVFAULT ISOLATE or KVFAULT HEAL")
        }
    }

    // MARK: Deliveries

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        guard clsvState != .serverXfer else {
            // Receiving the store: the provider's snapshot has everything before the transfer,
            // and ATOMIC transfer holds every write until it ends.
            droppedDuringTransfer += 1
            return
        }
        // Applied whatever this replica's role now (also while it waits to be a server again
        // after a merge): CSX skips the transfer when its digest says it holds the group's store.
        // Whether to apply is decided by the view's decision (the same at every replica of the
        // view), not by the confirmation, which replicas learn at different moments.
        let applies = clsvViewData?.decidedPrimary ?? false
        service.delivered(msg.bytes, mine: origin == myEndpID, applies: applies,
                          refusal: "READONLY the write was delivered outside the primary partition (\(partitionText)) and not applied; retry on a replica of the primary partition")
        if !applies { stateChanged() }  // a message ignored: this state is its own lineage now
    }

    override func csxAcceptedViewCallback(_ vd: CSXViewData, _ msg: inout Message) { printStatus(vd) }

    /// Confirmed primary (every replica of the view installed it), or no longer: the status
    /// line again, with the new flag (tools wait for `: N members, primary 1,`).
    override func csxPrimaryChangedCallback(_ vd: CSXViewData) {
        log.notice("\(vd.primaryFlag ? "in" : "outside") the primary partition (\(vd.nmembers) of \(expected) expected replicas)")
        printStatus(vd)
    }

    /// One line on stdout per accepted view and per change of the primary flag.
    private func printStatus(_ vd: CSXViewData) {
        print("view \(vd.viewID.ltime): \(vd.nmembers) members, primary \(vd.primaryFlag ? 1 : 0), rank \(vd.myRank), \(vd.servers.count) servers, \(vd.xferServers.count) xfer-servers, state \(clsvState)")
        fflush(nil)
    }

    override func csxExitCallback() {
        service.failInFlight("TRYAGAIN the replica left its group before the write was delivered; it may or may not be applied")
        if !leaving {
            log.error("the replica left its group unexpectedly; exiting")
            fflush(nil)
            exit(1)
        }
    }

    // MARK: State transfer

    override func stateTransferCallback(_ xferID: XferID) {
        service.resetStore()
        loader = SnapshotLoader()
        transferStarted = Date()
        do { try getState(xferID, Message()) } catch { log.error("state request failed: \(error)") }
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        var writer = SnapshotWriter(service.store)
        let count = service.store.count
        service.noteTransfer(outgoing: true)
        log.info("sending the store (\(count) keys) to \(origin)")
        sendState(to: origin, xferID: xferID) { maxBytes in
            writer.next(maxBytes: maxBytes).map { chunk in
                var m = Message()
                m.push(raw: chunk)
                return m
            }
        }
    }

    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 { loader = SnapshotLoader() }  // (again after a change of provider)
        do {
            try loader?.feed(chunk.bytes)
            guard isLast else { return }
            guard let (entries, clock) = try loader?.finish() else { return }
            loader = nil
            service.store.install(entries: entries, clock: clock)
            service.noteTransfer(outgoing: false)
            let took = transferStarted.map { String(format: "%.3f s", Date().timeIntervalSince($0)) } ?? "?"
            print("state received: \(entries.count) keys in \(index + 1) chunks (\(took))")
            fflush(nil)
            xferDone(xferID)
        } catch {
            // Only a replica of another version (or a bug) sends this: never serve a store
            // that is not the group's.
            log.critical("the store received by state transfer is malformed (\(error)); leaving the group and exiting")
            loader = nil
            service.resetStore()
            leaving = true
            leave()
            Runtime.current.reactor.after(.seconds(2)) { exit(1) }
        }
    }

    override func xferCanceledCallback(_ xferID: XferID) {
        loader = nil
        log.info("state transfer canceled; it restarts with the next provider")
    }
}
