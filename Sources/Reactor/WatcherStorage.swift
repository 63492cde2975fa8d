/// What every libev watcher wrapper (`LoopTimer`, `IOWatcher`, `IdleWatcher`, `SignalWatcher`,
/// `UDPSocket`) does the same way: its C struct lives at one address for the wrapper's whole
/// life (libev keeps the pointer), and its `data` field points back at the wrapper, unretained.

extension UnsafeMutablePointer {
    /// A watcher struct, initialised to `empty`, at an address that does not move. Freed with
    /// `deallocate()` in the wrapper's `deinit`, after the watcher is stopped.
    static func watcher(_ empty: Pointee) -> Self {
        let p = Self.allocate(capacity: 1)
        p.initialize(to: empty)
        return p
    }
}

/// The wrapper a libev callback fires for: `data` of its watcher (`w?.pointee.data`), set with
/// `Unmanaged.passUnretained(wrapper)`. A strong reference for the callback's duration: its
/// handler may drop the last other one.
@inline(__always)
func watcherOwner<T: AnyObject>(_ data: UnsafeMutableRawPointer?, as _: T.Type = T.self) -> T? {
    data.map { Unmanaged<T>.fromOpaque($0).takeUnretainedValue() }
}
