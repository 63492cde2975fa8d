import CLibev

private func ioReady(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_io>?, _ revents: Int32) {
    guard let w = watcherOwner(w?.pointee.data, as: IOWatcher.self) else { return }
    let events = IOWatcher.Events(rawValue: revents & Int32(EV_READ | EV_WRITE))
    w.handler(events)
    w.reactor.measured(w.kind, w.label)
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
    fileprivate unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    fileprivate let handler: (Events) -> Void
    /// Names the watcher in slow-callback reports.
    public var label: String
    /// How slow-callback reports describe this watcher's callback.
    public var kind = CallbackKind.io

    public init(_ reactor: Reactor, fd: Int32, events: Events, label: String = "", _ handler: @escaping (Events) -> Void) {
        self.reactor = reactor
        self.handler = handler
        self.label = label.isEmpty ? "fd \(fd)" : label
        watcher = .watcher(ev_io())
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
