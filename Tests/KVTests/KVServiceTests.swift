// The service and its connections over real TCP on a reactor, with a loopback group:
// pipelining and reply order, read-your-writes, partial reads, batching, refusals, protocol
// errors that close only the offending client, and backpressure on a client that does not read.

import Ensemble
@testable import KVCore
import Reactor
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A blocking-free test client: bytes go out at once; replies are read while the loop runs.
final class RawClient {
    let fd: Int32
    var received: [UInt8] = []
    var closedByServer = false

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let r = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { throw KVFormatError("connect failed") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    func send(_ s: String) { send(Array(s.utf8)) }
    func send(_ b: [UInt8]) {
        var off = 0
        while off < b.count {
            let n = b[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n } else { usleep(100) }
        }
    }

    /// Reads what is there (non-blocking).
    func poll() {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { received += buf[0 ..< n] } else {
                if n == 0 { closedByServer = true }
                return
            }
        }
    }

    var text: String { String(decoding: received, as: UTF8.self) }
}

@Suite(.serialized) struct KVServiceTests {
    // (The reactor is declared last: it must outlive the watchers of the others.)
    let service: KVService
    let listener: ClientListener
    let group: LoopbackReplication
    let reactor: Reactor

    init() throws {
        let reactor = Reactor()
        self.reactor = reactor
        service = KVService(reactor: reactor)
        let s = service
        listener = try ClientListener(reactor: reactor, host: "127.0.0.1", port: 0) { args, c in s.handle(args, c) }
        service.listener = listener
        group = LoopbackReplication(reactor, service)
    }

    /// Runs the loop until `client` has received `expected` (or 5 s).
    func expectReply(_ client: RawClient, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        reactor.run(until: { client.poll(); return client.received.count >= expected.utf8.count || client.closedByServer }, timeout: .seconds(5))
        #expect(client.text == expected, sourceLocation: sourceLocation)
        client.received = []
    }

    @Test func pipelinedCommandsAnswerInOrderAndReadTheirWrites() throws {
        group.delay = .milliseconds(20)
        let c = try RawClient(port: listener.port)
        c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\nGET k\r\nINCR k\r\nPING\r\nINCR k\r\nGET k\r\nECHO done\r\n")
        expectReply(c, "+OK\r\n$1\r\n1\r\n:2\r\n+PONG\r\n:3\r\n$1\r\n3\r\n$4\r\ndone\r\n")
    }

    @Test func requestsSplitAcrossReadsAndBatchedWrites() throws {
        let c = try RawClient(port: listener.port)
        let request = Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n".utf8)
        for b in request {
            c.send([b])
            reactor.runOnce()
        }
        expectReply(c, "+OK\r\n")
        // Writes of one loop turn go out as one batch.
        let before = group.batches
        c.send(String(repeating: "INCR n\r\n", count: 100))
        expectReply(c, (1 ... 100).map { ":\($0)\r\n" }.joined())
        #expect(group.batches - before < 10)
        #expect(service.store.live(KVKey("key"), at: 0)?.value == Array("value".utf8))
    }

    @Test func everyCommandOfTheIssue() throws {
        let c = try RawClient(port: listener.port)
        c.send("MSET a 1 b 2 c 3\r\nMGET a b zz\r\nEXISTS a b zz\r\nDBSIZE\r\nDEL a zz\r\nINCRBY b 40\r\nDECR c\r\nSET e v PX 100000\r\nTTL e\r\nTTL b\r\n")
        expectReply(c, "+OK\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n:2\r\n:3\r\n:1\r\n:42\r\n:2\r\n+OK\r\n:100\r\n:-1\r\n")
        // (KEYS order is the dictionary's: checked as a set.)
        c.send("KEYS [bc]\r\n")
        reactor.run(until: { c.poll(); return c.text.hasPrefix("*2\r\n") && c.received.count >= 18 }, timeout: .seconds(5))
        #expect(Set(c.text.split(separator: "\r\n").dropFirst()) == ["$1", "b", "c"])
        c.received = []
        c.send("SET x 1 NX\r\nSET x 2 NX\r\nSET x 3 XX GET\r\nSET y 1 EX 0\r\nSET y 1 BOGUS\r\nFLUSHALL\r\nDBSIZE\r\nNOSUCH a\r\nGET\r\n")
        expectReply(c, "+OK\r\n$-1\r\n$1\r\n1\r\n-ERR invalid expire time in 'set' command\r\n-ERR syntax error\r\n+OK\r\n:0\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'a'\r\n-ERR wrong number of arguments for 'get' command\r\n")
        c.send("INFO replication\r\n")
        reactor.run(until: { c.poll(); return c.text.contains("role:loopback") }, timeout: .seconds(5))
        #expect(c.text.contains("# Replication\r\nrole:loopback"))
    }

    @Test func refusedWritesAndReadsKeepTheOrder() throws {
        group.delay = .milliseconds(10)
        let c = try RawClient(port: listener.port)
        c.send("SET a 1\r\n")
        expectReply(c, "+OK\r\n")
        group.writeRefusal = "READONLY not primary"
        group.readRefusal = "CLUSTERDOWN not primary"
        c.send("SET b 2\r\nGET a\r\nPING\r\n")
        expectReply(c, "-READONLY not primary\r\n-CLUSTERDOWN not primary\r\n+PONG\r\n")
        // A batch delivered outside the primary partition is not applied: its client is told.
        group.writeRefusal = nil
        group.primary = false
        c.send("SET c 3\r\n")
        expectReply(c, "-READONLY not primary\r\n")
        #expect(service.store.live(KVKey("c"), at: 0) == nil)
    }

    @Test func garbageClosesOnlyItsClient() throws {
        let good = try RawClient(port: listener.port)
        let bad = try RawClient(port: listener.port)
        good.send("SET k v\r\n")
        expectReply(good, "+OK\r\n")
        bad.send("*2\r\n$3\r\nGET\r\n!!!!garbage\r\n")
        reactor.run(until: { bad.poll(); return bad.closedByServer }, timeout: .seconds(5))
        #expect(bad.closedByServer)
        #expect(bad.text == "-ERR Protocol error: expected '$', got '!'\r\n")
        good.send("GET k\r\n")
        expectReply(good, "$1\r\nv\r\n")
        #expect(listener.protocolErrorCount == 1)
        // Random bytes from many clients: each gets closed or answered, the loop goes on.
        var rng = SplitMix(seed: 11)
        for _ in 0 ..< 20 {
            let junk = try RawClient(port: listener.port)
            junk.send((0 ..< 300).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            reactor.run(for: .milliseconds(5))
        }
        good.send("PING\r\n")
        expectReply(good, "+PONG\r\n")
    }

    @Test func aClientThatDoesNotReadIsNotReadEither() throws {
        let c = try RawClient(port: listener.port)
        let value = String(repeating: "x", count: 10_000)
        c.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$10000\r\n\(value)\r\n")
        expectReply(c, "+OK\r\n")
        // 2000 GETs: 20 MB of replies, which the client does not read for now.
        let requests = Array(String(repeating: "GET big\r\n", count: 2000).utf8)
        var sent = 0
        reactor.run(until: {
            let n = requests[sent...].withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n > 0 { sent += n }
            return sent == requests.count
        }, timeout: .seconds(2))
        reactor.run(for: .milliseconds(200))
        let unsent = listener.openConnections.map(\.unsentBytes).max() ?? 0
        #expect(unsent < 3 << 20, "the server buffered \(unsent) bytes for a client that does not read")
        // Now it reads: every reply comes, in order.
        let reply = "$10000\r\n\(value)\r\n"
        var got = 0
        reactor.run(until: {
            c.poll()
            while c.received.count >= reply.utf8.count {
                got += 1
                c.received.removeFirst(reply.utf8.count)
            }
            if sent < requests.count {
                let n = requests[sent...].withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n > 0 { sent += n }
            }
            return got == 2000
        }, timeout: .seconds(30))
        #expect(got == 2000)
    }
}
