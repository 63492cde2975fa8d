// A command's result, before it is encoded as RESP: what a write's application returns to the
// origin's client, and what a read computes.

public enum KVReply: Equatable, Sendable {
    case ok
    case null
    case integer(Int64)
    case bulk([UInt8])
    case simple(String)
    case error(String)
    case array([KVReply])

    /// Appends the RESP2 encoding.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .ok: out.append(contentsOf: RESP.ok)
        case .null: out.append(contentsOf: RESP.nullBulk)
        case let .integer(n): RESP.integer(n, into: &out)
        case let .bulk(b): RESP.bulk(b, into: &out)
        case let .simple(s): RESP.simple(s, into: &out)
        case let .error(e): RESP.error(e, into: &out)
        case let .array(items):
            RESP.arrayHeader(items.count, into: &out)
            for i in items { i.encode(into: &out) }
        }
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    static let notInteger = KVReply.error("ERR value is not an integer or out of range")
    static let overflow = KVReply.error("ERR increment or decrement would overflow")
}
