import CLibev
import Ensemble
#if canImport(Glibc)
import Glibc
#endif

/// libev calls this instead of `ev_invoke_pending` for every batch of ready callbacks: the
/// batch's start is the first callback's start (libev has just waited, or run its prepare
/// watchers), so each callback then costs one clock read, at its end.
func invokePending(_ loop: OpaquePointer?) {
    guard let loop, let ctx = ev_userdata(loop) else { return }
    Unmanaged<Reactor>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.dispatchMark = monotonicNanoseconds() }
    ev_invoke_pending(loop)
}

func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

/// What kind of watcher ran a callback.
public enum CallbackKind: String, Sendable {
    case datagramReceive = "datagram receive"
    case socketWritable = "socket writable"
    case timer
    case idleFlush = "idle flush"
    case io = "I/O"
    case signal
}

/// A callback that held the loop longer than `Reactor.slowCallbackThreshold`.
public struct SlowCallback: Sendable, CustomStringConvertible {
    public var kind: CallbackKind
    /// The watcher's label: whose it is (a member and its group, a tool's timer...).
    public var label: String
    public var duration: Time
    public var threshold: Time

    public var description: String {
        let who = label.isEmpty ? kind.rawValue : "\(kind.rawValue) (\(label))"
        return String(format: "slow callback: %@ held the loop %.3f s (threshold %.3f s). Nothing else in this process ran meanwhile: "
                      + "pings went unanswered and timers fired late, so other members may suspect this one. "
                      + "Split long work into steps (per chunk, or on a timer).", who, duration.seconds, threshold.seconds)
    }
}

extension Reactor {
    /// 500 ms: a quarter of a 2 s suspicion time.
    public static let defaultSlowCallbackThreshold = Time.milliseconds(500)

    /// A callback (datagram receive, timer, idle flush, I/O, signal) that holds the loop longer
    /// than this is reported (`onSlowCallback`, by default a warning naming the watcher). Keep
    /// it well under the group's suspicion time; nil turns the watch off.
    public var slowCallbackThreshold: Time? {
        get { slowThresholdNanos == .max ? nil : Time(nanoseconds: slowThresholdNanos) }
        set { slowThresholdNanos = newValue.map { max(0, $0.nanoseconds) } ?? .max }
    }

    /// Lowers the threshold to `threshold` if it is higher (members with fast failure
    /// detection call this; the threshold is never raised behind the owner's back).
    public func lowerSlowCallbackThreshold(to threshold: Time) {
        let n = max(0, threshold.nanoseconds)
        if n < slowThresholdNanos { slowThresholdNanos = n }
    }

    /// Ends the measure of one callback: one clock read. Returns how long it ran if that is
    /// over the threshold, else 0 (then the caller reports it, with its label).
    @inline(__always)
    func callbackEnded() -> Int64 {
        let t = monotonicNanoseconds()
        let elapsed = t &- dispatchMark
        dispatchMark = t
        return elapsed > slowThresholdNanos ? elapsed : 0
    }

    /// Reports a slow callback (the cold path).
    @inline(never)
    func reportSlow(_ nanoseconds: Int64, _ kind: CallbackKind, _ label: String) {
        let slow = SlowCallback(kind: kind, label: label, duration: Time(nanoseconds: nanoseconds),
                                threshold: Time(nanoseconds: slowThresholdNanos))
        slowCallbacks &+= 1
        if nanoseconds > longestSlowCallback?.duration.nanoseconds ?? 0 { longestSlowCallback = slow }
        if let onSlowCallback { onSlowCallback(slow) } else { logger.warning("\(slow)") }
    }

    /// Measures the end of a callback of `kind` run for the watcher labelled `label`.
    @inline(__always)
    func measured(_ kind: CallbackKind, _ label: @autoclosure () -> String) {
        let e = callbackEnded()
        if e > 0 { reportSlow(e, kind, label()) }
    }
}
