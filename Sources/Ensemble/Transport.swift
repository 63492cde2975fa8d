/// What the stack's Bottom needs from the outside world: a datagram socket and a clock.
///
/// The engine never does I/O itself. A shell implements this protocol (the libev reactor over
/// real UDP in `Reactor`, the simulator in `Simulation`) and calls the delegate when a datagram
/// arrives or a requested wake-up time is reached. Everything runs on one thread: delegate
/// calls never overlap, and a delegate may call back into the transport from inside them.
public protocol Transport: AnyObject {
    /// Where datagrams sent through this transport come from.
    var localAddress: Address { get }

    /// The current time on this transport's clock (monotonic within one run).
    var now: Time { get }

    /// Receives datagrams and wake-ups. The transport does not retain it: a delegate that goes
    /// away before its transport must set this to nil first.
    var delegate: (any TransportDelegate)? { get set }

    /// Sends one datagram. The bytes are copied before the call returns; the datagram leaves
    /// before the loop next waits. UDP semantics: it may be lost, duplicated or reordered.
    /// Returns false when it was dropped locally (e.g. the socket buffer is full).
    @discardableResult
    func send(_ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool

    /// Asks for one `transportWake` call at or after `time`, replacing any earlier request.
    /// `.never` cancels the request. A time in the past means "as soon as possible", but
    /// always from the loop, never from inside this call.
    func wake(at time: Time)

    /// Asks for one `transportWillIdle` call after the current batch of events, before the
    /// loop waits for more: the place to flush batched output.
    func requestIdleCallback()

    /// Stops delivering to the delegate and releases the socket. Idempotent.
    func close()
}

public protocol TransportDelegate: AnyObject {
    /// A datagram arrived. `datagram` is only valid during the call.
    func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address)
    /// The time requested with `wake(at:)` has come.
    func transportWake(_ transport: any Transport, now: Time)
    /// The loop is about to wait: flush anything batched (requested with `requestIdleCallback`).
    func transportWillIdle(_ transport: any Transport)
}
