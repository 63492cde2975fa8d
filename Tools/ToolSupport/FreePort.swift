// A port on 127.0.0.1 that was free a moment ago, for tools and tests that start processes on
// fixed ports (a client port, an embedded rendezvous).

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Binds port 0 on 127.0.0.1 (TCP, or UDP with `udp`), reads the port the kernel chose and
/// releases it; nil if the socket could not be bound.
public func freeLocalPort(udp: Bool = false) -> UInt16? {
    let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    return bound ? UInt16(bigEndian: sin.sin_port) : nil
}
