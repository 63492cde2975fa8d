import Ensemble
import Foundation
import Logging

/// The single-threaded Maestro runtime: one libev loop that runs every member created on this
/// thread, their UDP sockets, timers and callbacks, plus an embedded gossip rendezvous so a
/// group living in one process needs no external server. It is Maestro's default shell
/// (`MaestroShell`, conformed in the `Maestro` module).
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
    public var exitTimeout: Duration = .seconds(2)
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

    /// A new endpoint id at `address`: a fresh incarnation, and a counter that differs for
    /// every member this runtime makes.
    public func newEndpointID(at address: Address) -> EndpointID {
        nextCounter &+= 1
        return .fresh(at: address, counter: nextCounter)
    }

    /// Opens a member's UDP transport on this runtime's loop, with the runtime's fault hooks.
    /// `bind` nil: the local address that routes to `rendezvous`, with `port`.
    public func openMemberTransport(bind: Address?, port: UInt16, rendezvous: [Address], label: String) throws(RuntimeError) -> UDPTransport {
        let local: (bind: Address, advertise: UInt32)
        do {
            local = try LocalAddress.forMember(bind: bind, port: port, rendezvous: rendezvous)
        } catch {
            throw RuntimeError("cannot choose the member's address: \(error). Check the rendezvous address (gossip), or set bind to the local address to use")
        }
        let t: UDPTransport
        do {
            t = try UDPTransport(reactor: reactor, bind: local.bind, advertise: local.advertise, maxDatagram: 65536, batch: 16, label: label)
        } catch {
            throw RuntimeError("cannot open the member's UDP socket on \(local.bind): \(error)")
        }
        t.dropIncoming = { [unowned self] a in self.dropIncoming?(a) ?? false }
        t.dropOutgoing = { [unowned self] a in self.dropOutgoing?(a) ?? false }
        return t
    }

    /// Slow callbacks are reported from a quarter of the suspicion time of the members (a
    /// callback that holds the loop longer may get its member suspected by the others).
    public func membersSuspect(after suspicion: Time) {
        reactor.lowerSlowCallbackThreshold(to: Time(nanoseconds: suspicion.nanoseconds / 4))
    }

    /// Runs the loop forever. SIGINT and SIGTERM make every member leave, then the process
    /// exits with status 0 (see `handlesTerminationSignals`, `onTermination`).
    public func start() -> Never {
        if handlesTerminationSignals { installTerminationHandler() }
        reactor.start()
    }

    /// The members that have joined and not exited yet.
    public var joinedMembers: [any RuntimeMember] { registry.members }

    /// A member joined: it leaves on termination. Held weakly.
    public func track(_ member: any RuntimeMember) { registry.add(member) }
    /// A member exited (or crashed).
    public func untrack(_ member: any RuntimeMember) { registry.remove(member) }

    /// Runs the loop for `duration` (tests and tools; a daemon calls `start()`).
    public func run(for duration: Duration) { reactor.run(for: Time(duration)) }
    /// Runs the loop until `condition` holds (true) or `timeout` passes (false).
    @discardableResult
    public func run(until condition: () -> Bool, timeout: Duration) -> Bool {
        reactor.run(until: condition, timeout: Time(timeout))
    }

    public var now: Time { reactor.now }
}

/// A runtime operation that failed (the message says what and what to do).
public struct RuntimeError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
