import CLibev

private func ioReady(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_io>?, _ revents: Int32) {
    guard let w, let ctx = w.pointee.data else { return }
    let events = IOWatcher.Events(rawValue: revents & Int32(EV_READ | EV_WRITE))
    Unmanaged<IOWatcher>.fromOpaque(ctx)._withUnsafeGuaranteedRef { $0.handler(events) }
}

/// Calls its handler whenever a file descriptor is readable and/or writable.
public final class IOWatcher {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let read = Events(rawValue: Int32(EV_READ))
        public static let write = Events(rawValue: Int32(EV_WRITE))
    }

    private let watcher: UnsafeMutablePointer<ev_io>
    private unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    fileprivate let handler: (Events) -> Void

    public init(_ reactor: Reactor, fd: Int32, events: Events, _ handler: @escaping (Events) -> Void) {
        self.reactor = reactor
        self.handler = handler
        watcher = .allocate(capacity: 1)
        watcher.initialize(to: ev_io())
        evs_io_init(watcher, ioReady, fd, events.rawValue, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        ev_io_stop(reactor.loop, watcher)
        watcher.deallocate()
    }

    public var isActive: Bool { evs_io_is_active(watcher) != 0 }
    public func start() { ev_io_start(reactor.loop, watcher) }
    public func stop() { ev_io_stop(reactor.loop, watcher) }
    /// Changes the events watched (keeps the watcher running if it was).
    public func set(events: Events) { evs_io_set_events(reactor.loop, watcher, events.rawValue) }
}
