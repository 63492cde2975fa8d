// The RESP2 parser: whole, split and pipelined requests, inline commands with quotes, every
// limit, and random and truncated bytes (it must never trap and never loop).

@testable import KVCore
import Testing

struct RESPParserTests {
    func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Every result of parsing `bytes` fed all at once.
    func parseAll(_ bytes: [UInt8], limits: RESPLimits = RESPLimits()) -> [RESPParseResult] {
        var p = RESPParser(limits: limits)
        var pos = 0
        var out: [RESPParseResult] = []
        while true {
            let r = p.next(bytes, &pos)
            out.append(r)
            if case .command = r { continue }
            return out
        }
    }

    @Test func multibulk() {
        let r = parseAll(b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"))
        #expect(r == [.command([b("SET"), b("k"), b("hello")]), .needMore])
    }

    @Test func pipelinedRequests() {
        let r = parseAll(b("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"))
        #expect(r == [.command([b("PING")]), .command([b("GET"), b("k")]), .command([b("PING")]), .needMore])
    }

    @Test func everySplitPointGivesTheSameCommands() {
        let whole = b("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\nECHO \"a b\"\r\n*0\r\n*1\r\n$4\r\nPING\r\n")
        let expected: [[[UInt8]]] = [[b("SET"), b("key"), []], [b("ECHO"), b("a b")], [b("PING")]]
        for cut in 0 ... whole.count {
            var p = RESPParser()
            var buffer: [UInt8] = []
            var pos = 0
            var got: [[[UInt8]]] = []
            for piece in [whole[..<cut], whole[cut...]] {
                buffer += piece
                loop: while true {
                    switch p.next(buffer, &pos) {
                    case let .command(a): got.append(a)
                    case .needMore: break loop
                    case let .protocolError(e): Issue.record("error \(e) at cut \(cut)"); return
                    }
                }
            }
            #expect(got == expected, "cut at \(cut)")
        }
    }

    @Test func inlineWithQuotes() {
        #expect(parseAll(b("set k \"a\\x41\\n\" 'it\\'s'\r\n")).first == .command([b("set"), b("k"), b("aA\n"), b("it's")]))
        #expect(parseAll(b("   \r\n\nPING\n")).first == .command([b("PING")]))
        #expect(parseAll(b("set k \"unbalanced\r\n")).first == .protocolError("Protocol error: unbalanced quotes in request"))
        #expect(parseAll(b("set k \"a\"b\r\n")).first == .protocolError("Protocol error: unbalanced quotes in request"))
    }

    @Test func malformedMultibulk() {
        #expect(parseAll(b("*x\r\n")).first == .protocolError("Protocol error: invalid multibulk length"))
        #expect(parseAll(b("*1\r\n+PING\r\n")).first == .protocolError("Protocol error: expected '$', got '+'"))
        #expect(parseAll(b("*1\r\n$-1\r\n")).first == .protocolError("Protocol error: invalid bulk length"))
        #expect(parseAll(b("*1\r\n$2\r\nabc\r\n")).first == .protocolError("Protocol error: bulk string not terminated by CRLF"))
        #expect(parseAll(b("*99999999999999999999\r\n")).first == .protocolError("Protocol error: invalid multibulk length"))
    }

    @Test func limits() {
        var l = RESPLimits()
        l.maxArguments = 2
        l.maxBulkBytes = 4
        l.maxInlineBytes = 16
        l.maxRequestBytes = 6
        #expect(parseAll(b("*3\r\n"), limits: l).first == .protocolError("Protocol error: invalid multibulk length"))
        #expect(parseAll(b("*1\r\n$5\r\n"), limits: l).first == .protocolError("Protocol error: invalid bulk length"))
        #expect(parseAll(b("*2\r\n$4\r\nabcd\r\n$4\r\n"), limits: l).first == .protocolError("Protocol error: invalid bulk length"))
        #expect(parseAll(b(String(repeating: "a", count: 40)), limits: l).first == .protocolError("Protocol error: too big inline request"))
        #expect(parseAll(b("*" + String(repeating: "1", count: 40)), limits: l).first == .protocolError("Protocol error: too big mbulk count string"))
        #expect(parseAll(b(String(repeating: "a", count: 10)), limits: l).first == .needMore)
    }

    @Test func manyEmptyLinesDoNotRecurse() {
        let r = parseAll([UInt8](repeating: 10, count: 1_000_000) + b("PING\r\n"))
        #expect(r == [.command([b("PING")]), .needMore])
    }

    /// Random bytes, random RESP-like bytes and truncations of valid requests, fed in random
    /// pieces: the parser returns, advances, and never reads outside the buffer.
    @Test func randomAndTruncatedInputNeverTraps() {
        var rng = SplitMix(seed: 0x5eed)
        let alphabet = b("*$\r\n-0123456789 \"'\\xPINGSET")
        let valid = b("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET key\r\n")
        var l = RESPLimits()
        l.maxInlineBytes = 64
        l.maxBulkBytes = 64
        for round in 0 ..< 3000 {
            var input: [UInt8]
            switch round % 3 {
            case 0: input = (0 ..< Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: input = (0 ..< Int(rng.next() % 200)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            default:
                input = Array(valid.prefix(Int(rng.next() % UInt64(valid.count + 1))))
                if !input.isEmpty && rng.next() % 2 == 0 { input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            var p = RESPParser(limits: l)
            var buffer: [UInt8] = []
            var pos = 0
            var fed = 0
            outer: while fed < input.count {
                let n = 1 + Int(rng.next() % 17)
                buffer += input[fed ..< min(input.count, fed + n)]
                fed = min(input.count, fed + n)
                var steps = 0
                while true {
                    steps += 1
                    #expect(steps < 10_000)
                    let before = pos
                    switch p.next(buffer, &pos) {
                    case .command: #expect(pos > before)
                    case .needMore: continue outer
                    case .protocolError: break outer
                    }
                    #expect(pos <= buffer.count)
                }
            }
        }
    }
}

/// A small deterministic generator for the randomized tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
