// The service's counters, shown by INFO.

public struct KVStats: Sendable {
    public var commands: UInt64 = 0
    public var readsServed: UInt64 = 0
    public var readsRefused: UInt64 = 0
    public var writesSubmitted: UInt64 = 0
    public var writesRefused: UInt64 = 0
    public var batchesCast: UInt64 = 0
    public var castFailures: UInt64 = 0
    public var ticksCast: UInt64 = 0
    public var batchesApplied: UInt64 = 0
    public var writesApplied: UInt64 = 0
    /// Batches delivered in a view outside the primary partition: not applied.
    public var batchesNotApplied: UInt64 = 0
    public var writesTimedOut: UInt64 = 0
    public var writesFailed: UInt64 = 0
    public var malformedBatches: UInt64 = 0
    public var unknownCommands: UInt64 = 0
    public var stateTransfersIn: UInt64 = 0
    public var stateTransfersOut: UInt64 = 0

    public init() {}
}
