// A stand-in for the group in the service tests: every batch cast comes back to the same
// service after `delay` (in cast order), applied unless `primary` is false.

import Ensemble
@testable import KVCore
import Reactor

final class LoopbackReplication: KVReplication {
    let reactor: Reactor
    unowned let service: KVService
    var delay = Time.zero
    var primary = true
    var writeRefusal: String?
    var readRefusal: String?
    var readsAreStale: Bool { !primary }
    var castsTicks: Bool { true }
    var batches = 0
    private var queue: [[UInt8]] = []

    init(_ reactor: Reactor, _ service: KVService) {
        self.reactor = reactor
        self.service = service
        service.replication = self
    }

    func castBatch(_ batch: [UInt8]) -> Bool {
        batches += 1
        queue.append(batch)
        reactor.after(delay) { [self] in
            let b = queue.removeFirst()
            service.delivered(b, mine: true, applies: primary, refusal: "READONLY not primary")
        }
        return true
    }

    func infoLines() -> [(String, String)] { [("role", "loopback")] }
    func fault(_ args: [[UInt8]]) -> KVReply { .error("ERR no faults here") }
}
