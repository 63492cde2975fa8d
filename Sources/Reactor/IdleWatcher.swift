import CLibev

private func prepareFired(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_prepare>?, _ revents: Int32) {
    guard let w = watcherOwner(w?.pointee.data, as: IdleWatcher.self) else { return }
    w.fired()
    w.reactor.measured(.idleFlush, w.label)
}

/// Calls its handler once, just before the loop next waits for events (libev's `ev_prepare`),
/// each time it is armed: the place to flush output batched during one loop turn.
public final class IdleWatcher {
    private let watcher: UnsafeMutablePointer<ev_prepare>
    fileprivate unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    private let handler: () -> Void
    /// Names the watcher in slow-callback reports.
    public var label: String

    public init(_ reactor: Reactor, label: String = "", _ handler: @escaping () -> Void) {
        self.reactor = reactor
        self.handler = handler
        self.label = label
        watcher = .watcher(ev_prepare())
        evs_prepare_init(watcher, prepareFired, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        ev_prepare_stop(reactor.loop, watcher)
        watcher.deallocate()
    }

    /// Arms the watcher (idempotent).
    @inline(__always) public func arm() {
        if evs_prepare_is_active(watcher) == 0 { ev_prepare_start(reactor.loop, watcher) }
    }

    public func disarm() { ev_prepare_stop(reactor.loop, watcher) }

    fileprivate func fired() {
        ev_prepare_stop(reactor.loop, watcher)
        handler()
    }
}
