// The client TCP port on the reactor: non-blocking accept, the open connections, and the
// end-of-turn flush that sends every reply made during one loop turn in one write per client.

import Logging
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// A failure to open the client port (the message says what to do).
public struct ListenError: Error, CustomStringConvertible {
    public let description: String
}

public final class ClientListener {
    public typealias Handler = (_ args: [[UInt8]], _ connection: ClientConnection) -> CommandOutcome

    let reactor: Reactor
    let fd: Int32
    /// The port actually bound (useful with port 0).
    public let port: UInt16
    private var acceptWatcher: IOWatcher?
    private var connections: [UInt64: ClientConnection] = [:]
    private var nextID: UInt64 = 1
    private var dirty: [ClientConnection] = []
    private var flushWatcher: IdleWatcher?
    /// Runs each request (set before the loop runs).
    var handler: Handler
    public var limits = ConnectionLimits()
    /// Most clients at once; the next ones get an error and are closed (as Redis's maxclients).
    public var maxClients = 10_000
    /// One receive buffer shared by every connection (one thread).
    let scratch: UnsafeMutableRawBufferPointer
    let logger = Logger(label: "kv.clients")

    public private(set) var acceptedTotal: UInt64 = 0
    public private(set) var rejectedTotal: UInt64 = 0
    var protocolErrors: UInt64 = 0
    var bytesIn: UInt64 = 0
    var bytesOut: UInt64 = 0
    public var protocolErrorCount: UInt64 { protocolErrors }
    public var inputBytes: UInt64 { bytesIn }
    public var outputBytes: UInt64 { bytesOut }
    public var connectedClients: Int { connections.count }
    /// The open connections (tests).
    var openConnections: [ClientConnection] { Array(connections.values) }

    /// Listens on `host:port` (port 0: any free port).
    public init(reactor: Reactor, host: String = "0.0.0.0", port: UInt16, handler: @escaping Handler) throws(ListenError) {
        self.reactor = reactor
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenError(description: "cannot open a TCP socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else {
            Glibc.close(fd)
            throw ListenError(description: "'\(host)' is not an IPv4 address; give a dotted quad such as 0.0.0.0 or 127.0.0.1")
        }
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            let hint = e == EADDRINUSE ? ": another process uses it; choose another --port (or stop that process)" : ""
            throw ListenError(description: "cannot listen on \(host):\(port): \(String(cString: strerror(e)))\(hint)")
        }
        guard listen(fd, 511) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw ListenError(description: "listen on \(host):\(port) failed: \(String(cString: strerror(e)))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = UInt16(bigEndian: sin.sin_port)
        scratch = .allocate(byteCount: 64 << 10, alignment: 16)
        acceptWatcher = IOWatcher(reactor, fd: fd, events: .read, label: "kv client port") { [unowned self] _ in self.acceptAll() }
        acceptWatcher?.start()
        flushWatcher = IdleWatcher(reactor, label: "kv client replies") { [unowned self] in self.flushDirty() }
    }

    deinit {
        stop()
        for c in connections.values { c.close() }
        scratch.deallocate()
    }

    /// Stops accepting (the open connections stay).
    public func stop() {
        guard let w = acceptWatcher else { return }
        w.stop()
        acceptWatcher = nil
        Glibc.close(fd)
    }

    private func acceptAll() {
        for _ in 0 ..< 256 {
            // (accept4 needs _GNU_SOURCE, which Glibc's module does not expose: accept, then fcntl.)
            let c = accept(fd, nil, nil)
            if c >= 0 {
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            }
            if c < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { logger.warning("accept failed: \(String(cString: strerror(errno)))") }
                return
            }
            if connections.count >= maxClients {
                rejectedTotal += 1
                let msg = Array("-ERR max number of clients reached\r\n".utf8)
                _ = msg.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                Glibc.close(c)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            acceptedTotal += 1
            let id = nextID
            nextID += 1
            connections[id] = ClientConnection(id: id, fd: c, listener: self, reactor: reactor, limits: limits)
        }
    }

    /// A connection has replies to send: flushed just before the loop waits again.
    func markDirty(_ c: ClientConnection) {
        guard !c.queuedForFlush else { return }
        c.queuedForFlush = true
        dirty.append(c)
        flushWatcher?.arm()
    }

    private func flushDirty() {
        let list = dirty
        dirty.removeAll(keepingCapacity: true)
        for c in list {
            c.queuedForFlush = false
            if !c.closed && (c.unsentBytes > 0 || c.closing) { c.flush() }
        }
    }

    func closed(_ c: ClientConnection) {
        connections[c.id] = nil
        // Keep it alive until the loop comes round: this may run inside its own callback.
        reactor.after(.zero, label: "release of a closed kv client") { withExtendedLifetime(c) {} }
    }

    /// Closes every client (at exit).
    public func closeAll() {
        for c in Array(connections.values) { c.close() }
    }
}
