import CLibev
import Ensemble

private func timerFired(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_timer>?, _ revents: Int32) {
    // (A one-shot timer may release its self-retain inside `fired()`.)
    guard let timer = watcherOwner(w?.pointee.data, as: LoopTimer.self) else { return }
    timer.fired()
    timer.reactor.measured(.timer, timer.label)
}

/// A one-shot or repeating timer on a reactor.
///
/// A scheduled timer keeps itself alive until it fires (one-shot) or is cancelled, so
/// fire-and-forget use is safe: `reactor.after(.milliseconds(10)) { ... }`.
/// The handler runs on the loop thread. Rescheduling from inside the handler is allowed.
public final class LoopTimer {
    private let watcher: UnsafeMutablePointer<ev_timer>
    fileprivate unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    private let handler: () -> Void
    private var selfRetained = false
    /// Names the timer in slow-callback reports (whose it is, what it does).
    public var label: String

    public init(_ reactor: Reactor, label: String = "", _ handler: @escaping () -> Void) {
        self.reactor = reactor
        self.handler = handler
        self.label = label
        watcher = .watcher(ev_timer())
        evs_timer_init(watcher, timerFired, 0, 0, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        ev_timer_stop(reactor.loop, watcher)
        watcher.deallocate()
    }

    /// Whether the timer is scheduled.
    public var isScheduled: Bool { evs_timer_is_active(watcher) != 0 }

    /// (Re)schedules the timer `delay` from now, then every `interval` if that is positive.
    public func schedule(after delay: Time, every interval: Time = .zero) {
        ev_timer_stop(reactor.loop, watcher)
        evs_timer_set(watcher, max(0, delay.seconds), max(0, interval.seconds))
        ev_timer_start(reactor.loop, watcher)
        retainWhileScheduled()
    }

    /// (Re)schedules the timer for the reactor time `deadline` (at once if it has passed).
    public func schedule(at deadline: Time) {
        schedule(after: deadline - reactor.now)
    }

    /// Cancels the timer; its handler will not run until it is scheduled again.
    public func cancel() {
        ev_timer_stop(reactor.loop, watcher)
        releaseIfIdle()
    }

    fileprivate func fired() {
        handler()
        releaseIfIdle()
    }

    private func retainWhileScheduled() {
        if !selfRetained {
            selfRetained = true
            _ = Unmanaged.passUnretained(self).retain()
        }
    }

    private func releaseIfIdle() {
        if selfRetained && evs_timer_is_active(watcher) == 0 {
            selfRetained = false
            Unmanaged.passUnretained(self).release()
        }
    }
}

extension Reactor {
    /// Runs `handler` once, `delay` from now. Keep the result to cancel it.
    @discardableResult
    public func after(_ delay: Time, label: String = "", _ handler: @escaping () -> Void) -> LoopTimer {
        let t = LoopTimer(self, label: label, handler)
        t.schedule(after: delay)
        return t
    }

    /// Runs `handler` every `interval`, the first time `interval` from now.
    @discardableResult
    public func every(_ interval: Time, label: String = "", _ handler: @escaping () -> Void) -> LoopTimer {
        let t = LoopTimer(self, label: label, handler)
        t.schedule(after: interval, every: interval)
        return t
    }
}
