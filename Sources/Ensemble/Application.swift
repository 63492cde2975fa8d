/// The application above a group endpoint (Ensemble's `Appl_intf`, one level below Maestro).
///
/// All calls come from the loop thread. During any of them the application may call back
/// into its `GroupEndpoint` (cast, send, leave, ...); those calls take effect after the
/// callback returns, in order.
public protocol GroupApplication: AnyObject {
    /// A view is installed: the first (often a singleton) and every later one.
    func install(view: ViewState, rank: Rank)
    /// A multicast from `origin`: never one's own, except under total order (Seqbb), where
    /// every member receives each of its own casts too, at its place in the order.
    func receiveCast(from origin: Rank, _ payload: Packet)
    /// A point-to-point message from `origin`.
    func receiveSend(from origin: Rank, _ payload: Packet)
    /// The view is about to change: after this returns, sends go to the next view.
    func block()
    /// Called every heartbeat period while not blocked.
    func heartbeat(now: Time)
    /// Casts (`peer` nil) or sends to `peer` are possible again after a `.full` result.
    func writable(peer: Rank?)
    /// The endpoint has left the group; no more calls follow.
    func exit()
    /// The current view, decided primary by the Primary layer (`view.primary`), is confirmed:
    /// every member installed it. Only from then on is this member in the primary partition
    /// (at most one confirmed primary view exists at any moment). Not called without Primary.
    func primaryConfirmed()
}

extension GroupApplication {
    public func block() {}
    public func heartbeat(now: Time) {}
    public func writable(peer: Rank?) {}
    public func exit() {}
    public func primaryConfirmed() {}
}

/// What became of a cast or send the application asked for.
public enum SendResult: Equatable, Sendable {
    /// Accepted in the current view.
    case sent
    /// The sender's window is full: nothing was sent; `writable` will be called.
    case full
    /// The view is changing (after `block`): nothing was sent; send again after `install`.
    case blocked
    /// Not possible: not joined, left, a bad destination, or sending to oneself.
    case rejected(String)
}
