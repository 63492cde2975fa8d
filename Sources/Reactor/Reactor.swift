import CLibev
import Ensemble
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One libev event loop, run on the thread that created it.
///
/// Everything (UDP sockets, timers, the protocol stacks of every member in the process)
/// runs from this loop's callbacks, one at a time. A reactor must outlive its watchers
/// (sockets, timers, transports): they refer to it without retaining it. The reactor is deliberately not
/// `Sendable`: it belongs to one thread. Production code calls `start()`, which never
/// returns; tests and tools use `run(for:)`, `run(until:timeout:)` and `stop()`.
public final class Reactor {
    /// The libev loop (`struct ev_loop *`).
    public let loop: OpaquePointer
    private let epoch: Double
    /// Exit status used by `start()` when the loop is stopped.
    public var exitStatus: Int32 = 0

    // The slow-callback watch (SlowCallbacks.swift): when the current batch of callbacks
    // started or the last one ended, and the threshold, in monotonic nanoseconds.
    var dispatchMark: Int64 = 0
    var slowThresholdNanos: Int64 = Reactor.defaultSlowCallbackThreshold.nanoseconds
    /// Called for each callback that held the loop longer than `slowCallbackThreshold`
    /// (default: a warning in the log).
    public var onSlowCallback: ((SlowCallback) -> Void)?
    /// Callbacks that held the loop longer than `slowCallbackThreshold`.
    public internal(set) var slowCallbacks: UInt64 = 0
    /// The longest callback seen over the threshold.
    public internal(set) var longestSlowCallback: SlowCallback?
    let logger = Logger(label: "reactor")

    /// Creates a new loop (never libev's default loop, so several reactors can live on
    /// several threads, as parallel tests do).
    public init() {
        guard let loop = ev_loop_new(UInt32(EVFLAG_AUTO)) else {
            fatalError("libev could not create an event loop (ev_loop_new failed)")
        }
        self.loop = loop
        ev_now_update(loop)
        epoch = ev_now(loop)
        dispatchMark = monotonicNanoseconds()
        // Every batch of callbacks goes through `invokePending`, which marks its start.
        ev_set_userdata(loop, Unmanaged.passUnretained(self).toOpaque())
        ev_set_invoke_pending_cb(loop, invokePending)
    }

    deinit { ev_loop_destroy(loop) }

    /// Time since the reactor was created, as cached by libev at the start of the current
    /// loop iteration (so every event handled in one iteration sees the same time).
    @inlinable public var now: Time { Time(nanoseconds: nowNanoseconds) }

    @usableFromInline var nowNanoseconds: Int64 {
        Int64(((ev_now(loop) - epoch) * 1e9).rounded())
    }

    /// Refreshes the cached time (after a long computation inside a callback).
    public func updateNow() { ev_now_update(loop) }

    /// Runs the loop forever: the production entry point. If `stop()` is ever called (for
    /// instance by a SIGTERM handler) the process exits with `exitStatus`.
    public func start() -> Never {
        ev_run(loop, 0)
        exit(exitStatus)
    }

    /// Runs until `stop()` is called or no watcher is active.
    public func run() { ev_run(loop, 0) }

    /// Breaks out of the innermost `run`, `run(for:)` or `start()`.
    public func stop() { ev_break(loop, Int32(EVBREAK_ALL)) }

    /// Runs for `duration`, or until `stop()`.
    public func run(for duration: Time) {
        let timer = LoopTimer(self) { [unowned self] in ev_break(self.loop, Int32(EVBREAK_ONE)) }
        timer.schedule(after: duration)
        ev_run(loop, 0)
        timer.cancel()
    }

    /// Runs until `condition` holds (checked after every loop iteration) or `timeout` has
    /// passed. Returns whether the condition held.
    @discardableResult
    public func run(until condition: () -> Bool, timeout: Time) -> Bool {
        if condition() { return true }
        updateNow()
        let deadline = now + timeout
        // Bounds each blocking wait, so the deadline is checked even if nothing happens.
        let guardTimer = LoopTimer(self) {}
        guardTimer.schedule(after: timeout)
        defer { guardTimer.cancel() }
        while !condition() {
            if now >= deadline { return condition() }
            ev_run(loop, Int32(EVRUN_ONCE))
        }
        return true
    }

    /// One loop iteration. With `wait`, blocks until at least one event arrives.
    @discardableResult
    public func runOnce(wait: Bool = false) -> Bool {
        ev_run(loop, Int32(wait ? EVRUN_ONCE : EVRUN_NOWAIT)) != 0
    }

    /// Number of loop iterations so far (for progress output and tests).
    public var iterations: UInt32 { ev_iteration(loop) }
}
