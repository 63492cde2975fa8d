import Ensemble
import Foundation

/// Leaving cleanly: on SIGTERM or SIGINT (under `start()`, or after
/// `installTerminationHandler()`), or when asked with `terminate()`, every joined member
/// leaves; the process exits once every member has exited, or after `exitTimeout`.
extension Runtime {
    /// Every joined member leaves. `done` runs once all of them have exited (`true`), or after
    /// `timeout` (`false`); always from the loop, after the member callbacks of the moment
    /// (never inside this call or inside a member's exit callback).
    public func leaveAll(within timeout: Duration, then done: @escaping (_ allExited: Bool) -> Void) {
        var finished = false
        var deadline: LoopTimer?
        let finish: (Bool) -> Void = { [unowned reactor] all in
            guard !finished else { return }
            finished = true
            deadline?.cancel()
            deadline = nil  // (the deadline's closure refers to this one)
            reactor.after(.zero, label: "members left") { done(all) }
        }
        deadline = reactor.after(Time(timeout), label: "deadline of the members' leave") { finish(false) }
        let leaving = registry.members
        for m in leaving where m.isJoined { m.leave() }
        registry.whenEmpty { finish(true) }
    }

    /// Every member leaves, then the process exits with `status`: once they have all exited,
    /// or after `exitTimeout`. A second call (a second signal) exits at once.
    public func terminate(status: Int32 = 0) {
        if terminating {
            logger.notice("terminating again: exiting without waiting for the members")
            Runtime.exitProcess(status)
        }
        terminating = true
        let count = registry.members.count
        logger.notice("terminating: \(count) member\(count == 1 ? "" : "s") leaving (at most \(exitTimeout))")
        let timeout = exitTimeout
        leaveAll(within: timeout) { [logger] all in
            if !all {
                let left = self.registry.members.map(\.label)
                logger.warning("\(left.count) member(s) had not exited \(timeout) after leaving (\(left.joined(separator: ", "))); exiting anyway")
            }
            Runtime.exitProcess(status)
        }
    }

    /// Installs the SIGTERM/SIGINT handler (`start()` does it; programs that run the loop
    /// with `run(for:)` or `run(until:timeout:)` may call it themselves). Idempotent.
    public func installTerminationHandler() {
        guard signals.isEmpty else { return }
        signals = reactor.onTerminationSignals { [unowned self] signal in
            if let handler = self.onTermination {
                handler(signal)
            } else {
                self.terminate(status: 0)
            }
        }
    }

    static func exitProcess(_ status: Int32) -> Never {
        fflush(nil)
        exit(status)
    }
}
