import CLibev
#if canImport(Glibc)
import Glibc
#endif

private func signalFired(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_signal>?, _ revents: Int32) {
    guard let w = watcherOwner(w?.pointee.data, as: SignalWatcher.self) else { return }
    w.handler()
    w.reactor.measured(.signal, "signal \(w.signal)")
}

/// Runs a handler on the loop thread when a Unix signal arrives (libev turns the signal
/// into a loop event, so the handler may do anything a callback may do).
public final class SignalWatcher {
    private let watcher: UnsafeMutablePointer<ev_signal>
    fileprivate unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    fileprivate let handler: () -> Void
    public let signal: Int32

    public init(_ reactor: Reactor, signal: Int32, _ handler: @escaping () -> Void) {
        self.reactor = reactor
        self.handler = handler
        self.signal = signal
        watcher = .watcher(ev_signal())
        // A process started with the signal ignored or blocked (inherited across exec, as some
        // process launchers leave it) would never see it: restore the default first.
        Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        evs_signal_init(watcher, signalFired, signal, Unmanaged.passUnretained(self).toOpaque())
        ev_signal_start(reactor.loop, watcher)
        // A signal watcher should not keep `run()` alive on its own.
        ev_unref(reactor.loop)
    }

    deinit {
        ev_ref(reactor.loop)
        ev_signal_stop(reactor.loop, watcher)
        watcher.deallocate()
    }
}

extension Reactor {
    /// Stops the loop on SIGINT and SIGTERM (after running `handler`, if given), so a tool
    /// can print its summary and exit cleanly. Keep the returned watchers alive for as long as
    /// the loop runs (`withExtendedLifetime`: an optimized build may release a value after its
    /// last use, and `_ = watchers` is no use).
    public func stopOnTerminationSignals(_ handler: (() -> Void)? = nil) -> [SignalWatcher] {
        onTerminationSignals { [unowned self] _ in
            handler?()
            self.stop()
        }
    }

    /// Runs `handler` with the signal number on SIGINT and SIGTERM. Keep the returned
    /// watchers alive (see `stopOnTerminationSignals`).
    public func onTerminationSignals(_ handler: @escaping (Int32) -> Void) -> [SignalWatcher] {
        [SIGINT, SIGTERM].map { sig in SignalWatcher(self, signal: sig) { handler(sig) } }
    }
}
