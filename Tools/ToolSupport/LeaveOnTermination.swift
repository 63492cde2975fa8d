import Ensemble
import Reactor

/// SIGTERM and SIGINT for a tool that runs bare `GroupEndpoint`s (Maestro members have the
/// runtime's own handling, `Runtime.installTerminationHandler`): `leave` runs on the first
/// signal; `finish` runs once the tool calls `exited()` (its endpoints have left) or after
/// `timeout`, from the loop. A second signal finishes at once. Keep the object alive while
/// the loop runs (`withExtendedLifetime`).
public final class LeaveOnTermination {
    private let reactor: Reactor
    private let timeout: Time
    private let leave: () -> Void
    private let finish: () -> Void
    private var watchers: [SignalWatcher] = []
    private var deadline: LoopTimer?
    private var finished = false
    /// A signal came: the endpoints are leaving.
    public private(set) var requested = false

    public init(reactor: Reactor, timeout: Time = .seconds(2), leave: @escaping () -> Void, finish: @escaping () -> Void) {
        self.reactor = reactor
        self.timeout = timeout
        self.leave = leave
        self.finish = finish
        watchers = reactor.onTerminationSignals { [unowned self] _ in self.signalled() }
    }

    private func signalled() {
        if requested { return complete() }
        requested = true
        deadline = reactor.after(timeout, label: "deadline of the leave on SIGTERM") { [unowned self] in self.complete() }
        leave()
    }

    /// The endpoints have left (their `exit` came): `finish` runs now, from the loop.
    public func exited() { complete() }

    private func complete() {
        guard !finished else { return }
        finished = true
        deadline?.cancel()
        deadline = nil
        reactor.after(.zero, label: "end after leaving") { [finish] in finish() }
    }
}
