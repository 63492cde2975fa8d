import Ensemble
#if canImport(Glibc)
import Glibc
#endif

/// Host names to IPv4 addresses, through the system resolver (`getaddrinfo`: /etc/hosts,
/// DNS). Blocking: for start-up (a member's `join`), never on the loop's hot path.
public enum HostResolver {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The first IPv4 address of `host` (a dotted quad is returned as it is).
    public static func ipv4(_ host: String) throws(Failure) -> UInt32 {
        if let ip = Address.parseIP(host) { return ip }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        defer { if let result { freeaddrinfo(result) } }
        guard rc == 0 else {
            throw Failure(description: "cannot resolve host '\(host)': \(String(cString: gai_strerror(rc)))")
        }
        var next = result
        while let info = next {
            if info.pointee.ai_family == AF_INET, let sa = info.pointee.ai_addr {
                let ip = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                return ip
            }
            next = info.pointee.ai_next
        }
        throw Failure(description: "host '\(host)' has no IPv4 address")
    }
}
