import CLibev

private func prepareFired(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_prepare>?, _ revents: Int32) {
    guard let w, let ctx = w.pointee.data else { return }
    Unmanaged<IdleWatcher>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.fired() }
}

/// Calls its handler once, just before the loop next waits for events (libev's `ev_prepare`),
/// each time it is armed: the place to flush output batched during one loop turn.
public final class IdleWatcher {
    private let watcher: UnsafeMutablePointer<ev_prepare>
    private unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    private let handler: () -> Void

    public init(_ reactor: Reactor, _ handler: @escaping () -> Void) {
        self.reactor = reactor
        self.handler = handler
        watcher = .allocate(capacity: 1)
        watcher.initialize(to: ev_prepare())
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
