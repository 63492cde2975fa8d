/// What the runtime needs of a group member to end it cleanly (Maestro's `GroupMember`
/// conforms in the `Maestro` module).
public protocol RuntimeMember: AnyObject {
    /// Between join and exit.
    var isJoined: Bool { get }
    /// Starts a clean leave; the member reports its exit with `Runtime.untrack`.
    func leave()
    /// Names the member in logs ("member <endpoint> of group <name>").
    var label: String { get }
}

/// The members of one runtime between `join` and their exit (or crash), held weakly: the
/// runtime never keeps a member alive. The runtime uses it to make every member leave on
/// SIGTERM and to know when they all have exited.
final class MemberRegistry {
    private struct Entry {
        weak var member: (any RuntimeMember)?
    }

    private var entries: [Entry] = []
    private var emptyWaiters: [() -> Void] = []

    func add(_ member: any RuntimeMember) {
        entries.removeAll { $0.member == nil || $0.member === member }
        entries.append(Entry(member: member))
    }

    func remove(_ member: any RuntimeMember) {
        entries.removeAll { $0.member == nil || $0.member === member }
        if entries.isEmpty { fireEmpty() }
    }

    /// The joined members still alive, in join order.
    var members: [any RuntimeMember] { entries.compactMap(\.member) }

    /// Runs `waiter` once no member is left: at once if none is, else at the last removal.
    func whenEmpty(_ waiter: @escaping () -> Void) {
        entries.removeAll { $0.member == nil }
        emptyWaiters.append(waiter)
        if entries.isEmpty { fireEmpty() }
    }

    private func fireEmpty() {
        let waiters = emptyWaiters
        emptyWaiters.removeAll()
        for w in waiters { w() }
    }
}
