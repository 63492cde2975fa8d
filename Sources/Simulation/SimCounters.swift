/// What happened to the datagrams of a run. Every datagram accepted by `send` (`sent`) and
/// every extra copy (`duplicated`) ends in exactly one of: `delivered`, one of the `dropped…`
/// counters, or still in flight (`SimWorld.datagramsInFlight`).
public struct SimCounters: Equatable, Sendable {
    /// Datagrams accepted by `SimTransport.send` (calls that returned true).
    public var sent: UInt64 = 0
    /// Copies handed to a receiving delegate, duplicates included.
    public var delivered: UInt64 = 0
    /// Extra copies made by the `duplicate` fault.
    public var duplicated: UInt64 = 0
    /// Datagrams lost by the `drop` fault (before any duplication).
    public var droppedByLoss: UInt64 = 0
    /// Copies dropped because sender and receiver were in different partition groups, at send
    /// time or at arrival time.
    public var droppedByPartition: UInt64 = 0
    /// Copies that arrived while the destination process was down.
    public var droppedDestinationDown: UInt64 = 0
    /// Copies whose destination address had no transport bound: no process has that IP (found
    /// at send time), or nothing was bound to the port on arrival.
    public var droppedUnbound: UInt64 = 0
    /// Copies that arrived at a bound transport that had no delegate.
    public var droppedNoDelegate: UInt64 = 0
    /// `send` calls refused locally (returned false): the transport was closed or the
    /// datagram was larger than `SimWorld.maxDatagramSize`. Not included in `sent`.
    public var rejectedAtSender: UInt64 = 0

    /// All zero.
    public init() {}

    /// All copies dropped after `send` accepted them.
    public var dropped: UInt64 {
        droppedByLoss + droppedByPartition + droppedDestinationDown + droppedUnbound + droppedNoDelegate
    }
}
