import Ensemble

/// Everything a Maestro member needs from the world outside the protocol: a clock, a datagram
/// transport, the gossip rendezvous, fresh endpoint ids and calls deferred to the loop.
///
/// Maestro never does I/O itself and never reads a clock: the classes a daemon programs
/// against (`GroupMember`, `ClientServer`, `CSX`) run on whatever shell they are given. The
/// libev runtime (`Runtime` in `Reactor`, the default when a program imports `Maestro`) runs
/// them over real UDP sockets; the simulator's shell (`MaestroSimulation`) runs them in
/// virtual time, replayably, under injected faults.
///
/// Single-threaded: every call comes from, and every callback runs on, the shell's one loop.
public protocol MaestroShell: AnyObject {
    /// The loop's clock (monotonic).
    var now: Time { get }

    /// The embedded gossip rendezvous, used when a member's options name none (started on
    /// first use).
    func rendezvous() throws -> Address

    /// Opens the datagram transport of a new member: bound to `bind` if given (port 0: any
    /// free port), else to the local address that reaches `rendezvous` with `port`. `label`
    /// names the member in logs. The errors say what could not be opened and why.
    func openTransport(bind: Address?, port: UInt16, rendezvous: [Address], label: String) throws -> any Transport

    /// A new endpoint id for a member whose transport is at `address`: never one this shell
    /// handed out before, and never one of an earlier run of the same process.
    func newEndpointID(at address: Address) -> EndpointID

    /// Runs `action` on the loop after `delay` (`.zero`: once the current callbacks are done,
    /// never inside this call). `label` names it in logs.
    func schedule(after delay: Time, label: String, _ action: @escaping () -> Void)

    /// A member joined (`join`) or is gone (exit or crash): the shell may make every joined
    /// member leave on termination. Held weakly.
    func memberJoined(_ member: GroupMember)
    func memberGone(_ member: GroupMember)

    /// The member's failure detector suspects a member silent for `suspicion`: a shell that
    /// times callbacks may warn about those that hold the loop for a good part of that.
    func suspicionTime(_ suspicion: Time)

    /// Names the member's transport in logs, once its endpoint id is known.
    func name(_ transport: any Transport, _ label: String)

    /// 64 random bits (CSX names the lineage of a new state with them). Default: the system's
    /// generator; a simulator draws from its seed, so that a run replays exactly.
    func randomBits() -> UInt64

    /// The IPv4 address of a host name (`MaestroOptions.gossip`). Dotted quads and
    /// "localhost" never get here. Default: an error (no name service).
    func resolve(host: String) throws -> UInt32

    /// One line on the transport's own counters for the member's status dump (nil: nothing
    /// more than the endpoint's counters).
    func transportStatus(_ transport: any Transport) -> String?
}

extension MaestroShell {
    public func suspicionTime(_ suspicion: Time) {}
    public func transportStatus(_ transport: any Transport) -> String? { nil }
    public func name(_ transport: any Transport, _ label: String) {}
    public func randomBits() -> UInt64 { UInt64.random(in: .min ... .max) }
    public func resolve(host: String) throws -> UInt32 {
        throw MaestroError("this shell cannot resolve host names: give the address as a dotted quad")
    }
}

/// The shell of members created without one: set by the `Maestro` module (to the calling
/// thread's libev `Runtime`) when it is linked into the program. A program that uses
/// `MaestroCore` alone passes a shell to every member.
public enum DefaultShell {
    nonisolated(unsafe) public static var make: (() -> any MaestroShell)?

    /// The default shell, or a stand-in whose `openTransport` says what is missing (so
    /// `join` fails with that error).
    static func resolve() -> any MaestroShell { make?() ?? MissingShell() }
}

/// Stands for the shell of a member created with none while no default exists.
final class MissingShell: MaestroShell {
    var now: Time { .zero }
    func rendezvous() throws -> Address { throw MissingShell.error }
    func openTransport(bind: Address?, port: UInt16, rendezvous: [Address], label: String) throws -> any Transport {
        throw MissingShell.error
    }
    func newEndpointID(at address: Address) -> EndpointID { EndpointID(host: address.ip, port: address.port, counter: 0, incarnation: 0) }
    func schedule(after delay: Time, label: String, _ action: @escaping () -> Void) {}
    func memberJoined(_ member: GroupMember) {}
    func memberGone(_ member: GroupMember) {}

    static let error = MaestroError("no shell: this program links MaestroCore without Maestro's libev runtime; pass a shell to the member's initialiser (shell:), or link and import Maestro")
}
