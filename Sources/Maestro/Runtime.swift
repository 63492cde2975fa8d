import Ensemble
import Foundation
import Logging
import Reactor

/// The single-threaded Maestro runtime: one libev loop that runs every member created on this
/// thread, their UDP sockets, timers and callbacks, plus an embedded gossip rendezvous so a
/// group living in one process needs no external server.
///
/// Members use the runtime of the thread that creates them (made on first use). Production
/// code creates its members and calls `start()`, which never returns; tests use `run(for:)`
/// and `run(until:timeout:)`.
///
/// Under `start()`, SIGTERM and SIGINT make every joined member leave; the process exits
/// (status 0) once they all have exited, or after `exitTimeout` (Termination.swift).
public final class Runtime {
    public let reactor: Reactor
    private var embedded: GossipServer?
    private var nextCounter: UInt16 = 0
    var signals: [SignalWatcher] = []
    /// Joined members (weakly held).
    let registry = MemberRegistry()
    /// Set once a termination (SIGTERM, SIGINT, `terminate`) is under way.
    var terminating = false
    let logger = Logger(label: "maestro.runtime")

    /// The longest a termination waits for the members to exit after they were told to leave.
    public var exitTimeout = Time.seconds(2)
    /// Replaces the default reaction to SIGTERM and SIGINT (every member leaves, then the
    /// process exits): called with the signal number on the loop thread. The handler may do
    /// its own work and then call `terminate()` (or `leaveAll(within:then:)`) itself.
    public var onTermination: ((Int32) -> Void)?
    /// Whether `start()` installs the SIGTERM/SIGINT handler. Turn it off to watch the signals
    /// yourself (`SignalWatcher`s on `reactor`): two watchers of one signal would both run.
    public var handlesTerminationSignals = true

    /// Fault injection for soak tests, applied to every member socket of this runtime:
    /// datagrams from (incoming) or to (outgoing) an address for which these return true are
    /// dropped, as a lossy or partitioned network would.
    public var dropIncoming: ((Address) -> Bool)?
    public var dropOutgoing: ((Address) -> Bool)?

    public init() {
        reactor = Reactor()
    }

    deinit {
        // The signal watchers stop themselves on the reactor's loop in their deinit, and the
        // stored properties go in declaration order, the reactor first: release them before.
        signals.removeAll()
    }

    /// The runtime of the calling thread.
    public static var current: Runtime {
        let key = "maestro.runtime"
        if let r = Thread.current.threadDictionary[key] as? Runtime { return r }
        let r = Runtime()
        Thread.current.threadDictionary[key] = r
        return r
    }

    /// Makes `runtime` the one used by members created on this thread from now on.
    public static func setCurrent(_ runtime: Runtime) {
        Thread.current.threadDictionary["maestro.runtime"] = runtime
    }

    /// The embedded rendezvous (started on first use, on an ephemeral loopback port unless
    /// `startRendezvous(at:)` chose one).
    public func rendezvous() throws -> Address {
        if let e = embedded { return e.address }
        return try startRendezvous(at: .loopback(port: 0))
    }

    @discardableResult
    public func startRendezvous(at address: Address) throws -> Address {
        if let e = embedded { return e.address }
        let e = try GossipServer(reactor: reactor, bind: address)
        embedded = e
        return e.address
    }

    func nextEndpointCounter() -> UInt16 {
        nextCounter &+= 1
        return nextCounter
    }

    /// Runs the loop forever. SIGINT and SIGTERM make every member leave, then the process
    /// exits with status 0 (see `handlesTerminationSignals`, `onTermination`).
    public func start() -> Never {
        if handlesTerminationSignals { installTerminationHandler() }
        reactor.start()
    }

    /// The members that have joined and not exited yet.
    public var joinedMembers: [GroupMember] { registry.members }

    func register(_ member: GroupMember) { registry.add(member) }
    func unregister(_ member: GroupMember) { registry.remove(member) }

    public func run(for duration: Time) { reactor.run(for: duration) }

    @discardableResult
    public func run(until condition: () -> Bool, timeout: Time) -> Bool {
        reactor.run(until: condition, timeout: timeout)
    }

    public var now: Time { reactor.now }
}
