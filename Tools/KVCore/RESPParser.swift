// The incremental RESP2 request parser: multibulk arrays of bulk strings and inline commands,
// as redis-cli and redis-benchmark send them, bounded by `RESPLimits`; never traps on bytes.

/// Bounds on one request (a client that exceeds one gets a protocol error and is closed).
/// Redis's own limits, except the bulk length (Redis: 512 MB).
public struct RESPLimits: Sendable {
    /// Arguments in one multibulk request (Redis: 1024 × 1024).
    public var maxArguments = 1 << 20
    /// Bytes of one bulk string (one argument).
    public var maxBulkBytes = 64 << 20
    /// Bytes of one inline command line, and of one `*N` or `$N` header line (Redis: 64 KiB).
    public var maxInlineBytes = 64 << 10
    /// Bytes of one whole request (every argument together).
    public var maxRequestBytes = 128 << 20

    public init() {}
}

/// What the parser found at the read position.
public enum RESPParseResult: Equatable, Sendable {
    /// The bytes so far end inside a request: read more.
    case needMore
    /// One whole request; its bytes are consumed.
    case command([[UInt8]])
    /// The bytes are not RESP (or exceed a limit): reply with this error and close.
    case protocolError(String)
}

/// Parses requests out of a growing input buffer. It keeps the request under way (the
/// arguments read so far), so bytes are looked at once however they are split across reads.
/// After `.protocolError` the stream is unusable: close the connection.
public struct RESPParser: Sendable {
    public var limits: RESPLimits
    /// Arguments the multibulk under way announced (-1: no multibulk under way).
    private var expected = -1
    private var args: [[UInt8]] = []
    /// Length of the bulk string whose body comes next (-1: a `$N` header comes next).
    private var bulkLength = -1
    private var requestBytes = 0

    public init(limits: RESPLimits = RESPLimits()) { self.limits = limits }

    /// Whether a request is partly read.
    public var inRequest: Bool { expected >= 0 }

    /// The next request in `buffer[position...]`; advances `position` past what it consumed.
    public mutating func next(_ buffer: [UInt8], _ position: inout Int) -> RESPParseResult {
        while true {
            if expected < 0 {
                guard position < buffer.count else { return .needMore }
                if buffer[position] == UInt8(ascii: "*") {
                    guard let line = Self.line(buffer, from: position + 1, limit: limits.maxInlineBytes) else {
                        return buffer.count - position > limits.maxInlineBytes
                            ? .protocolError("Protocol error: too big mbulk count string") : .needMore
                    }
                    guard let n = Self.integer(buffer, line.start, line.end), n <= Int64(limits.maxArguments) else {
                        return .protocolError("Protocol error: invalid multibulk length")
                    }
                    position = line.next
                    if n <= 0 { continue }  // *0 and *-1: nothing to run (as Redis)
                    expected = Int(n)
                    args = []
                    args.reserveCapacity(min(expected, 16))
                    bulkLength = -1
                    requestBytes = 0
                } else {
                    if let result = inline(buffer, &position) { return result }
                    continue  // an empty line: skipped
                }
            }
            // Inside a multibulk: `$N` headers and bodies until every argument is in.
            while args.count < expected {
                if bulkLength < 0 {
                    guard position < buffer.count else { return .needMore }
                    guard buffer[position] == UInt8(ascii: "$") else {
                        return .protocolError("Protocol error: expected '$', got '\(Self.shown(buffer[position]))'")
                    }
                    guard let line = Self.line(buffer, from: position + 1, limit: limits.maxInlineBytes) else {
                        return buffer.count - position > limits.maxInlineBytes
                            ? .protocolError("Protocol error: too big bulk count string") : .needMore
                    }
                    guard let n = Self.integer(buffer, line.start, line.end), n >= 0, n <= Int64(limits.maxBulkBytes),
                          requestBytes + Int(n) <= limits.maxRequestBytes else {
                        return .protocolError("Protocol error: invalid bulk length")
                    }
                    bulkLength = Int(n)
                    position = line.next
                }
                // The body and its CRLF.
                guard buffer.count - position >= bulkLength + 2 else { return .needMore }
                let end = position + bulkLength
                guard buffer[end] == 13, buffer[end + 1] == 10 else {
                    return .protocolError("Protocol error: bulk string not terminated by CRLF")
                }
                args.append(Array(buffer[position ..< end]))
                requestBytes += bulkLength
                position = end + 2
                bulkLength = -1
            }
            let done = args
            args = []
            expected = -1
            return .command(done)
        }
    }

    /// An inline command: one line of words separated by blanks, with Redis's quoting; nil
    /// for an empty line (consumed and skipped, as Redis does).
    private func inline(_ buffer: [UInt8], _ position: inout Int) -> RESPParseResult? {
        var end = position
        let limit = min(buffer.count, position + limits.maxInlineBytes + 1)
        while end < limit && buffer[end] != 10 { end += 1 }
        guard end < limit else {
            return end - position > limits.maxInlineBytes ? .protocolError("Protocol error: too big inline request") : .needMore
        }
        let next = end + 1
        if end > position && buffer[end - 1] == 13 { end -= 1 }
        let words = InlineSplitter.split(buffer[position ..< end])
        position = next
        guard let words else { return .protocolError("Protocol error: unbalanced quotes in request") }
        return words.isEmpty ? nil : .command(words)
    }

    /// The line starting at `from`, ended by CRLF (`end`: before the CR; `next`: after the LF),
    /// or nil if no CRLF comes within `limit` bytes.
    private static func line(_ b: [UInt8], from: Int, limit: Int) -> (start: Int, end: Int, next: Int)? {
        var i = from
        while i + 1 < b.count && i - from <= limit {
            if b[i] == 13 && b[i + 1] == 10 { return (from, i, i + 2) }
            i += 1
        }
        return nil
    }

    /// A decimal integer (optional '-', at most 18 digits), or nil.
    static func integer(_ b: [UInt8], _ start: Int, _ end: Int) -> Int64? {
        var i = start
        var negative = false
        if i < end && b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        guard i < end, end - i <= 18 else { return nil }
        var v: Int64 = 0
        while i < end {
            let d = b[i] &- 48
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
            i += 1
        }
        return negative ? -v : v
    }

    private static func shown(_ byte: UInt8) -> String {
        byte >= 32 && byte < 127 ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}
