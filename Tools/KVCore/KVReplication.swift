// What the command service needs of the group: whether writes and reads are allowed now, a
// way to cast a batch of writes to every replica (itself included, in one total order), and
// lines for INFO. The Maestro replica implements it; tests use a loopback.

public protocol KVReplication: AnyObject {
    /// Nil when writes may be cast now; otherwise the error to reply (a Redis error text,
    /// starting with its code).
    var writeRefusal: String? { get }
    /// Nil when reads may be served now; otherwise the error to reply.
    var readRefusal: String? { get }
    /// Whether reads served now may be stale (outside the primary partition, allowed).
    var readsAreStale: Bool { get }
    /// Whether this replica casts the clock ticks (the coordinator of a primary view).
    var castsTicks: Bool { get }
    /// Casts one encoded `WriteBatch` to every replica, this one included; its delivery comes
    /// back through `KVService.delivered`. False if it cannot go out.
    func castBatch(_ batch: [UInt8]) -> Bool
    /// The `# Replication` section of INFO (name, value).
    func infoLines() -> [(String, String)]
    /// KVFAULT (tests only: the daemon refuses it unless started to allow it).
    func fault(_ args: [[UInt8]]) -> KVReply
}
