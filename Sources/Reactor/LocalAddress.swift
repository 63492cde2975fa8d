import Ensemble
#if canImport(Glibc)
import Glibc
#endif

/// Which local address a member binds and advertises.
///
/// The address others reach a member at comes from its socket (the endpoint id's host and the
/// address in every view). A member bound to 127.0.0.1 cannot talk to another host (every
/// send fails with EINVAL), and one bound to 0.0.0.0 has no address to give. So by default a
/// member binds the address that routes to its rendezvous (what the kernel would pick as the
/// source, found with a UDP `connect` and `getsockname`: no packet is sent), and 127.0.0.1 when
/// the rendezvous is on this host.
public enum LocalAddress {
    /// The local IP the kernel uses as the source of datagrams to `destination`.
    public static func route(toward destination: Address) throws(SocketError) -> UInt32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno, address: nil) }
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = (destination.port == 0 ? 9 : destination.port).bigEndian
        sin.sin_addr.s_addr = destination.ip.bigEndian
        let connected = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(operation: "finding the route to", errno: errno, address: destination) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else { throw SocketError(operation: "getsockname after routing to", errno: errno, address: destination) }
        return UInt32(bigEndian: sin.sin_addr.s_addr)
    }

    /// The source address of the default route, or 127.0.0.1 without one (no packet is sent).
    public static func defaultRouteSource() -> UInt32 {
        (try? route(toward: Address(ip: 0x0808_0808, port: 53))) ?? Address.loopbackIP
    }

    /// Whether `ip` is a loopback address (127.0.0.0/8).
    public static func isLoopback(_ ip: UInt32) -> Bool { ip >> 24 == 127 }

    /// The address a member binds and the IP it advertises.
    /// - Parameters:
    ///   - bind: an explicit address (wins); 0.0.0.0 binds every interface and advertises the
    ///     address that routes to the rendezvous. Nil: bind that address.
    ///   - port: the port when `bind` is nil (0: any free port).
    ///   - rendezvous: the gossip servers. The first one on another host decides the route;
    ///     if all are on this host (or there are none), 127.0.0.1.
    public static func forMember(bind: Address?, port: UInt16 = 0, rendezvous: [Address]) throws(SocketError) -> (bind: Address, advertise: UInt32) {
        if let bind, bind.ip != 0 { return (bind, bind.ip) }
        var routed = Address.loopbackIP
        if let remote = rendezvous.first(where: { !isLoopback($0.ip) }) {
            routed = try route(toward: remote)
        }
        if let bind { return (bind, routed) }  // 0.0.0.0: every interface, advertise the route
        return (Address(ip: routed, port: port), routed)
    }
}
