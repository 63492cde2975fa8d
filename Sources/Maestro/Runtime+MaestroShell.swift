import Ensemble
import MaestroCore
import Reactor
import CMaestroStartup

/// The libev runtime as Maestro's shell: members created without a shell run on the runtime
/// of the thread that creates them (`Runtime.current`).
extension Runtime: MaestroShell {
    public func openTransport(bind: Address?, port: UInt16, rendezvous: [Address], label: String) throws -> any Transport {
        try openMemberTransport(bind: bind, port: port, rendezvous: rendezvous, label: label)
    }

    public func schedule(after delay: Time, label: String, _ action: @escaping () -> Void) {
        reactor.after(delay, label: label, action)
    }

    public func memberJoined(_ member: GroupMember) { track(member) }
    public func memberGone(_ member: GroupMember) { untrack(member) }
    public func suspicionTime(_ suspicion: Time) { membersSuspect(after: suspicion) }
    public func name(_ transport: any Transport, _ label: String) { (transport as? UDPTransport)?.label = label }

    public func resolve(host: String) throws -> UInt32 { try HostResolver.ipv4(host) }

    public func transportStatus(_ transport: any Transport) -> String? {
        guard let s = (transport as? UDPTransport)?.udpSocket else { return nil }
        return "socket \(s.localAddress): sent \(s.datagramsSent) datagrams (\(s.sendsQueued) waited for the buffer), received \(s.datagramsReceived), truncated \(s.truncatedDrops), receive errors \(s.receiveErrors); send failures: \(s.sendFailureSummary)"
    }
}

extension GroupMember: RuntimeMember {}

/// Called once at load time (CMaestroStartup): the libev runtime becomes the default shell.
@_cdecl("maestro_install_libev_shell")
public func maestroInstallLibevShell() {
    DefaultShell.make = { Runtime.current }
}
