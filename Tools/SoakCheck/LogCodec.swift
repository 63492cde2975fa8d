import Ensemble

/// Text forms of the identifiers that appear in the soak logs, and their parsers. Parsers
/// return nil on anything malformed (a log line they cannot read is reported as a failed
/// check, never a crash).
///
/// - endpoint: `EndpointID.description`, `HOST:PORT/INCARNATION.COUNTER` (incarnation in hex);
/// - view id: `LTIME@ENDPOINT`;
/// - view: the view's wire encoding (`ViewState.encode`) in hex, so the checker gets the
///   exact `ViewState` every member installed (members, addresses, ltime, previous ids,
///   protocol, parameters).
public enum LogCodec {
    public static func endpoint(_ e: EndpointID) -> String { e.description }

    public static func parseEndpoint<S: StringProtocol>(_ text: S) -> EndpointID? {
        guard let slash = text.lastIndex(of: "/"), let address = Address(String(text[..<slash])) else { return nil }
        let rest = text[text.index(after: slash)...]
        guard let dot = rest.lastIndex(of: "."),
              let incarnation = UInt64(rest[..<dot], radix: 16),
              let counter = UInt16(rest[rest.index(after: dot)...]) else { return nil }
        return EndpointID(host: address.ip, port: address.port, counter: counter, incarnation: incarnation)
    }

    public static func viewID(_ v: ViewID) -> String { "\(v.ltime)@\(v.coordinator)" }

    public static func parseViewID<S: StringProtocol>(_ text: S) -> ViewID? {
        guard let at = text.firstIndex(of: "@"), let ltime = UInt64(text[..<at]),
              let coordinator = parseEndpoint(text[text.index(after: at)...]) else { return nil }
        return ViewID(ltime: ltime, coordinator: coordinator)
    }

    public static func view(_ v: ViewState) -> String {
        var w = WireWriter(capacity: v.encodedSizeBound)
        v.encode(into: &w)
        return hex(w.bytes)
    }

    public static func parseView<S: StringProtocol>(_ text: S) -> ViewState? {
        guard let bytes = unhex(text) else { return nil }
        return try? WireReader.decode(bytes) { (r: inout WireReader) throws(WireError) in try ViewState.decode(from: &r) }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func unhex<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48 ... 57: return c - 48
            case 97 ... 102: return c - 87
            case 65 ... 70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// A 64-bit digest as 16 hex digits.
    public static func digest(_ d: UInt64) -> String {
        let s = String(d, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
}
