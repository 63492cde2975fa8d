/// An IPv4 UDP address. Simulated processes use the same type, so the engine cannot tell the
/// two worlds apart.
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// IPv4 address in host byte order (127.0.0.1 is 0x7F00_0001).
    public var ip: UInt32
    public var port: UInt16

    @inlinable public init(ip: UInt32, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    public static let loopbackIP: UInt32 = 0x7F00_0001
    public static func loopback(port: UInt16) -> Address { Address(ip: loopbackIP, port: port) }

    /// Parses a dotted quad ("10.0.0.1"); "localhost" means 127.0.0.1. No name lookups.
    public static func parseIP(_ text: String) -> UInt32? {
        if text == "localhost" { return loopbackIP }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var ip: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, let v = UInt8(p) else { return nil }
            ip = ip << 8 | UInt32(v)
        }
        return ip
    }

    /// Parses "HOST:PORT" where HOST is a dotted quad or "localhost".
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"),
              let ip = Address.parseIP(String(text[..<colon])),
              let port = UInt16(text[text.index(after: colon)...])
        else { return nil }
        self.init(ip: ip, port: port)
    }

    public static func ipString(_ ip: UInt32) -> String {
        "\(ip >> 24).\((ip >> 16) & 0xFF).\((ip >> 8) & 0xFF).\(ip & 0xFF)"
    }

    public var description: String { "\(Address.ipString(ip)):\(port)" }

    @inlinable public static func < (a: Address, b: Address) -> Bool {
        (a.ip, a.port) < (b.ip, b.port)
    }
}
