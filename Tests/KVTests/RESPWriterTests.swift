// The reply encoder: every RESP2 type, byte for byte.

@testable import KVCore
import Testing

struct RESPWriterTests {
    func s(_ r: KVReply) -> String { String(decoding: r.encoded, as: UTF8.self) }

    @Test func everyType() {
        #expect(s(.ok) == "+OK\r\n")
        #expect(s(.simple("a\r\nb")) == "+a  b\r\n")
        #expect(s(.error("ERR x")) == "-ERR x\r\n")
        #expect(s(.integer(0)) == ":0\r\n")
        #expect(s(.integer(-42)) == ":-42\r\n")
        #expect(s(.integer(Int64.min)) == ":-9223372036854775808\r\n")
        #expect(s(.integer(Int64.max)) == ":9223372036854775807\r\n")
        #expect(s(.bulk(Array("hi".utf8))) == "$2\r\nhi\r\n")
        #expect(s(.bulk([])) == "$0\r\n\r\n")
        #expect(s(.null) == "$-1\r\n")
        #expect(s(.array([.integer(1), .null, .bulk([65])])) == "*3\r\n:1\r\n$-1\r\n$1\r\nA\r\n")
        #expect(s(.array([])) == "*0\r\n")
    }

    @Test func appendsToAReusedBuffer() {
        var out = Array("x".utf8)
        RESP.integer(1234567890, into: &out)
        RESP.bulk(Array("v".utf8), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x:1234567890\r\n$1\r\nv\r\n")
    }
}
