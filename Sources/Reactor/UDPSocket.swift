import CLibev
import CNetShim
import Ensemble
import Logging
#if canImport(Glibc)
import Glibc
#endif

private func socketReadable(_ loop: OpaquePointer?, _ w: UnsafeMutablePointer<ev_io>?, _ revents: Int32) {
    // One retain per wake-up (not per datagram): a datagram's handler may close the socket
    // and drop the last other reference to it (a member that exits).
    guard let socket = watcherOwner(w?.pointee.data, as: UDPSocket.self) else { return }
    socket.drain()
    socket.reactor.measured(.datagramReceive, socket.label)
}

/// Why a socket could not be opened.
public struct SocketError: Error, CustomStringConvertible {
    public let operation: String
    public let errno: Int32
    public let address: Address?
    public var description: String {
        let reason = String(cString: strerror(errno))
        if let address { return "\(operation) \(address) failed: \(reason)" }
        return "\(operation) failed: \(reason)"
    }
}

/// A non-blocking IPv4 UDP socket on a reactor.
///
/// Every wake-up drains the socket queue with `recvmmsg` into buffers allocated once, and
/// hands each datagram to `onDatagram` as a borrowed buffer (valid only during the call): no
/// heap allocation per datagram. Sends go out at once with `sendto`; when the socket's send
/// buffer is full, datagrams wait in order in a queue (up to `sendQueueLimit` bytes, beyond
/// which they are dropped and counted) and leave as soon as the socket is writable again, so
/// a burst larger than the kernel buffer is delayed, not lost.
///
/// A send that fails is counted by reason (`sendFailuresByReason`) and logged once per
/// destination and reason, at warning level, with the system's error text.
public final class UDPSocket {
    public let fd: Int32
    public let localAddress: Address
    /// Largest datagram received intact; longer ones are dropped and counted as truncated.
    public let maxDatagram: Int

    fileprivate unowned(unsafe) let reactor: Reactor  // a reactor outlives its watchers
    private let watcher: UnsafeMutablePointer<ev_io>
    private let batch: OpaquePointer
    private let slots: UnsafeMutablePointer<cnet_slot>
    private let batchSize: Int32
    private let onDatagram: (UnsafeRawBufferPointer, Address) -> Void
    private var closed = false
    private var queue: [(bytes: [UInt8], to: Address)] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var writeWatcher: IOWatcher?
    /// Most bytes waiting for the socket to become writable.
    public var sendQueueLimit = 64 << 20
    /// Datagrams that had to wait for the socket buffer.
    public private(set) var sendsQueued: UInt64 = 0

    /// Counters, for status dumps and tests.
    public private(set) var datagramsReceived: UInt64 = 0
    public private(set) var datagramsSent: UInt64 = 0
    public private(set) var sendFailures: UInt64 = 0
    /// Send failures by reason: an errno, or `UDPSocket.queueOverflow`.
    public private(set) var sendFailuresByReason: [Int32: UInt64] = [:]
    /// (destination, reason) pairs already logged: each is logged once.
    private var loggedFailures: Set<LoggedFailure> = []
    /// Names the socket in logs and slow-callback reports (whose it is).
    public var label: String
    public var logger = Logger(label: "reactor.udp")
    public private(set) var truncatedDrops: UInt64 = 0
    public private(set) var receiveErrors: UInt64 = 0

    /// Most datagrams handled per wake-up before yielding to other watchers (the loop calls
    /// again at once if more are queued).
    public var drainLimit = 4096

    /// Opens and binds a socket. Port 0 picks an ephemeral port.
    /// - Parameters:
    ///   - bufferBytes: requested kernel send and receive buffer sizes.
    ///   - maxDatagram: size of each receive buffer.
    ///   - batch: datagrams read per `recvmmsg` call.
    public init(
        reactor: Reactor,
        bind address: Address = .loopback(port: 0),
        bufferBytes: Int = 4 << 20,
        maxDatagram: Int = 65536,
        batch: Int = 16,
        onDatagram: @escaping (UnsafeRawBufferPointer, Address) -> Void
    ) throws(SocketError) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno, address: nil) }
        var size = Int32(clamping: bufferBytes)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))

        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = address.port.bigEndian
        sin.sin_addr.s_addr = address.ip.bigEndian
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError(operation: "bind", errno: e, address: address)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else {
            let e = errno
            Glibc.close(fd)
            throw SocketError(operation: "getsockname", errno: e, address: address)
        }
        guard let batch = cnet_batch_new(Int32(clamping: batch), UInt32(clamping: maxDatagram)) else {
            Glibc.close(fd)
            throw SocketError(operation: "allocating receive buffers", errno: ENOMEM, address: address)
        }

        self.fd = fd
        self.reactor = reactor
        self.localAddress = Address(ip: UInt32(bigEndian: sin.sin_addr.s_addr), port: UInt16(bigEndian: sin.sin_port))
        self.maxDatagram = maxDatagram
        self.batch = batch
        self.slots = cnet_batch_slots(batch)
        self.batchSize = cnet_batch_capacity(batch)
        self.onDatagram = onDatagram
        label = "UDP \(self.localAddress)"
        watcher = .watcher(ev_io())
        evs_io_init(watcher, socketReadable, fd, Int32(EV_READ), Unmanaged.passUnretained(self).toOpaque())
        ev_io_start(reactor.loop, watcher)
    }

    deinit {
        close()
        watcher.deallocate()
        cnet_batch_free(batch)
    }

    /// Stops receiving and closes the descriptor. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        ev_io_stop(reactor.loop, watcher)
        writeWatcher?.stop()
        writeWatcher = nil
        queue.removeAll()
        Glibc.close(fd)
    }

    /// Sends one datagram without blocking: at once, or after the datagrams already waiting
    /// for the socket. Returns false if it was dropped (socket closed, queue full, or an error
    /// other than a full buffer).
    @discardableResult
    public func send(_ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool {
        guard !closed else { return false }
        if queueHead == queue.count {
            let r = cnet_sendto(fd, datagram.baseAddress, datagram.count, destination.ip, destination.port)
            if r == 0 {
                datagramsSent &+= 1
                return true
            }
            guard r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS else {
                failed(-r, to: destination)
                return false
            }
        }
        guard queuedBytes + datagram.count <= sendQueueLimit else {
            failed(UDPSocket.queueOverflow, to: destination)
            return false
        }
        queue.append((Array(datagram), destination))
        queuedBytes += datagram.count
        sendsQueued &+= 1
        if writeWatcher == nil {
            let w = IOWatcher(reactor, fd: fd, events: .write, label: label) { [unowned self] _ in self.flushQueue() }
            w.kind = .socketWritable
            writeWatcher = w
        }
        if writeWatcher?.isActive == false { writeWatcher?.start() }
        return true
    }

    /// Sends waiting datagrams until the buffer is full again or none is left.
    private func flushQueue() {
        while queueHead < queue.count && !closed {
            let (bytes, to) = queue[queueHead]
            let r = bytes.withUnsafeBytes { cnet_sendto(fd, $0.baseAddress, $0.count, to.ip, to.port) }
            if r == -EAGAIN || r == -EWOULDBLOCK || r == -ENOBUFS { return }
            if r == 0 { datagramsSent &+= 1 } else { failed(-r, to: to) }
            queuedBytes -= bytes.count
            queueHead += 1
        }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
        writeWatcher?.stop()
    }

    /// Datagrams waiting for the socket to become writable.
    public var waitingDatagrams: Int { queue.count - queueHead }

    @discardableResult
    public func send(_ datagram: [UInt8], to destination: Address) -> Bool {
        datagram.withUnsafeBytes { send($0, to: destination) }
    }

    fileprivate func drain() {
        var handled = 0
        while !closed && handled < drainLimit {
            let got = cnet_batch_recv(fd, batch)
            if got <= 0 {
                if got < 0 { receiveErrors &+= 1 }
                return
            }
            for i in 0 ..< Int(got) {
                let slot = slots[i]
                if slot.truncated != 0 {
                    truncatedDrops &+= 1
                    continue
                }
                datagramsReceived &+= 1
                onDatagram(UnsafeRawBufferPointer(start: slot.buf, count: Int(slot.len)),
                           Address(ip: slot.addr, port: slot.port))
                if closed { return }
            }
            handled += Int(got)
            if got < batchSize { return }
        }
    }
}

// MARK: Send failures

extension UDPSocket {
    /// The reason code of a datagram dropped because the send queue was over its limit.
    public static let queueOverflow: Int32 = -1

    /// What a reason code means ("Invalid argument (errno 22)", "send queue full").
    public static func describe(reason: Int32) -> String {
        reason == queueOverflow ? "send queue full" : "\(String(cString: strerror(reason))) (errno \(reason))"
    }

    /// The failures by reason on one line ("none" if there were none).
    public var sendFailureSummary: String {
        guard !sendFailuresByReason.isEmpty else { return "none" }
        return sendFailuresByReason.sorted { $0.key < $1.key }
            .map { "\(UDPSocket.describe(reason: $0.key)) \($0.value)" }.joined(separator: ", ")
    }

    /// Counts a failed send and logs the first of each (destination, reason).
    @inline(never)
    fileprivate func failed(_ reason: Int32, to destination: Address) {
        sendFailures &+= 1
        sendFailuresByReason[reason, default: 0] &+= 1
        let key = LoggedFailure(destination: destination, reason: reason)
        guard !loggedFailures.contains(key) else { return }
        if loggedFailures.count >= UDPSocket.loggedFailureLimit {
            if loggedFailures.count == UDPSocket.loggedFailureLimit {
                loggedFailures.insert(LoggedFailure(destination: Address(ip: 0, port: 0), reason: 0))
                logger.warning("\(label): send failures to more than \(UDPSocket.loggedFailureLimit) destinations; further ones are only counted (see the status dump)")
            }
            return
        }
        loggedFailures.insert(key)
        var hint = ""
        if reason == EINVAL && LocalAddress.isLoopback(localAddress.ip) && !LocalAddress.isLoopback(destination.ip) {
            hint = ": this socket is bound to \(Address.ipString(localAddress.ip)), which cannot reach another host; bind an address that routes there (MaestroOptions.bind, --bind) or leave the default (the address that routes to the rendezvous)"
        } else if reason == ENETUNREACH || reason == EHOSTUNREACH {
            hint = ": no route to that host from here (is the network interface down?)"
        } else if reason == UDPSocket.queueOverflow {
            hint = ": more than \(sendQueueLimit) bytes were waiting for the socket"
        }
        logger.warning("\(label): cannot send to \(destination): \(UDPSocket.describe(reason: reason))\(hint). Later failures of this kind to this destination are counted in the status dump, not logged.")
    }

    static let loggedFailureLimit = 1024
}

struct LoggedFailure: Hashable {
    var destination: Address
    var reason: Int32
}
