import Ensemble

/// What one member dropped, by reason: the endpoint's datagram checks, the layers' header and
/// limit checks, and Maestro's own message decoding. For status lines and soak summaries.
public struct DropCounts: Sendable, Equatable {
    public var malformed: UInt64 = 0
    public var badMAC: UInt64 = 0
    public var foreignGroup: UInt64 = 0
    public var staleView: UInt64 = 0
    public var badSender: UInt64 = 0
    public var malformedHeaders: UInt64 = 0
    public var overLimit: UInt64 = 0
    public var maestroMalformed: UInt64 = 0

    public init() {}

    /// (name, count) in a fixed order; the names are the soak tool's JSON keys.
    public var fields: [(name: String, count: UInt64)] {
        [("malformed", malformed), ("bad_mac", badMAC), ("foreign_group", foreignGroup), ("stale_view", staleView),
         ("bad_sender", badSender), ("malformed_headers", malformedHeaders), ("over_limit", overLimit),
         ("maestro_malformed", maestroMalformed)]
    }

    public init?(counts: [UInt64]) {
        guard counts.count == 8 else { return nil }
        (malformed, badMAC, foreignGroup, staleView) = (counts[0], counts[1], counts[2], counts[3])
        (badSender, malformedHeaders, overLimit, maestroMalformed) = (counts[4], counts[5], counts[6], counts[7])
    }

    public static func + (a: DropCounts, b: DropCounts) -> DropCounts {
        DropCounts(counts: zip(a.fields, b.fields).map { $0.count &+ $1.count }) ?? a
    }
}
