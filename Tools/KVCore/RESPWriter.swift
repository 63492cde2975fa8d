// The RESP2 reply encoder: simple strings, errors, integers, bulk strings, the null bulk and
// arrays, appended to a caller's reusable byte buffer (no allocation beyond its growth).

public enum RESP {
    public static let ok: [UInt8] = Array("+OK\r\n".utf8)
    public static let nullBulk: [UInt8] = Array("$-1\r\n".utf8)
    public static let nullArray: [UInt8] = Array("*-1\r\n".utf8)
    public static let pong: [UInt8] = Array("+PONG\r\n".utf8)

    /// `+text\r\n` (CR and LF in `text` become spaces: a simple string is one line).
    public static func simple(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "+"))
        appendLine(text, into: &out)
    }

    /// `-text\r\n`; by convention `text` starts with an upper-case code (`ERR`, `WRONGTYPE`).
    public static func error(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "-"))
        appendLine(text, into: &out)
    }

    /// `:n\r\n`.
    public static func integer(_ n: Int64, into out: inout [UInt8]) {
        out.append(UInt8(ascii: ":"))
        decimal(n, into: &out)
        out.append(13)
        out.append(10)
    }

    /// `$len\r\nbytes\r\n`.
    public static func bulk(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "$"))
        decimal(Int64(bytes.count), into: &out)
        out.append(13)
        out.append(10)
        out.append(contentsOf: bytes)
        out.append(13)
        out.append(10)
    }

    public static func bulk(_ text: String, into out: inout [UInt8]) { bulk(Array(text.utf8), into: &out) }

    /// A bulk string, or the null bulk for nil.
    public static func optionalBulk(_ bytes: [UInt8]?, into out: inout [UInt8]) {
        if let bytes { bulk(bytes, into: &out) } else { out.append(contentsOf: nullBulk) }
    }

    /// `*count\r\n`: the elements follow.
    public static func arrayHeader(_ count: Int, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "*"))
        decimal(Int64(count), into: &out)
        out.append(13)
        out.append(10)
    }

    /// The decimal digits of `n`, written in place (no temporary).
    public static func decimal(_ n: Int64, into out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        var width = 1
        var probe = v / 10
        while probe > 0 { width += 1; probe /= 10 }
        let first = out.count
        out.append(contentsOf: repeatElement(48, count: width))
        var i = first + width - 1
        repeat {
            out[i] = UInt8(truncatingIfNeeded: v % 10) + 48
            v /= 10
            i -= 1
        } while v > 0
    }

    private static func appendLine(_ text: String, into out: inout [UInt8]) {
        for b in text.utf8 { out.append(b == 13 || b == 10 ? 32 : b) }
        out.append(13)
        out.append(10)
    }
}
