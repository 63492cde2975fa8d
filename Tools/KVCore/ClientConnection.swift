// One client's TCP connection on the reactor: partial reads, pipelining with replies kept in
// request order (a write's reply waits for its delivery; later replies queue behind it),
// reads that wait for the connection's own writes, output backpressure, and close after a
// protocol error once the error is sent.

import DequeModule
import Reactor
#if canImport(Glibc)
import Glibc
#endif

/// What the connection does after a command.
public enum CommandOutcome {
    /// Its reply was given (or a slot reserved for it); go on.
    case done
    /// It reads the store while this connection's writes are in flight: run it again once
    /// they are applied (read-your-writes), and parse nothing after it until then.
    case wait
    /// Reply given; close once the output is sent (QUIT).
    case close
}

/// Bounds on one connection (see `ClientListener`).
public struct ConnectionLimits: Sendable {
    /// Stop reading a client whose unsent replies exceed this (resume below a quarter of it).
    public var outputHighWater = 1 << 20
    /// Stop reading requests while this many of the client's writes are in flight.
    public var maxInFlightWrites = 10_000
    /// While parsing is stopped, stop reading once this much unparsed input is buffered.
    public var maxBufferedInput = 1 << 20
    public var resp = RESPLimits()
    public init() {}
}

public final class ClientConnection {
    public let id: UInt64
    let fd: Int32
    unowned let listener: ClientListener
    private var watcher: IOWatcher?
    private var input: [UInt8] = []
    private var inputPosition = 0
    private var parser: RESPParser
    private var output: [UInt8] = []
    private var outputPosition = 0
    /// Replies waiting behind a write's reply: nil while the write is in flight.
    private var slots = Deque<[UInt8]?>()
    private var firstSlot: UInt64 = 0
    /// Writes of this connection cast and not yet applied (or failed).
    public private(set) var inFlightWrites = 0
    /// A command that waits for this connection's writes.
    private var held: [[UInt8]]?
    /// Close once the output is sent (after QUIT or a protocol error).
    private(set) var closing = false
    public private(set) var closed = false
    /// The socket refused the last write: wait until it is writable.
    private var writeBlocked = false
    private var watching: IOWatcher.Events = []
    let limits: ConnectionLimits
    /// Commands run (for INFO).
    var commands: UInt64 = 0
    /// In the listener's list of connections to flush at the end of the turn.
    var queuedForFlush = false

    init(id: UInt64, fd: Int32, listener: ClientListener, reactor: Reactor, limits: ConnectionLimits) {
        self.id = id
        self.fd = fd
        self.listener = listener
        self.limits = limits
        parser = RESPParser(limits: limits.resp)
        watcher = IOWatcher(reactor, fd: fd, events: .read, label: "kv client \(id)") { [unowned self] events in
            self.ready(events)
        }
        watching = .read
        watcher?.start()
    }

    deinit {
        if !closed { Glibc.close(fd) }
    }

    // MARK: Replies

    /// Appends a reply in order: straight to the output if nothing waits before it.
    public func reply(_ write: (inout [UInt8]) -> Void) {
        guard !closed else { return }
        if slots.isEmpty {
            write(&output)
        } else {
            var b: [UInt8] = []
            write(&b)
            slots.append(b)
        }
        listener.markDirty(self)
    }

    public func reply(_ r: KVReply) { reply { r.encode(into: &$0) } }

    /// Reserves the place of a write's reply; `resolve` fills it.
    public func reserveWriteSlot() -> UInt64 {
        slots.append(nil)
        inFlightWrites += 1
        return firstSlot + UInt64(slots.count - 1)
    }

    /// The reply of the write in `slot` (applied, refused or failed).
    public func resolve(_ slot: UInt64, _ r: KVReply) {
        guard slot >= firstSlot, Int(slot - firstSlot) < slots.count else { return }
        inFlightWrites -= 1
        guard !closed else { return }
        slots[Int(slot - firstSlot)] = r.encoded
        while let first = slots.first, let bytes = first {
            output.append(contentsOf: bytes)
            slots.removeFirst()
            firstSlot += 1
        }
        listener.markDirty(self)
        if inFlightWrites == 0 || inFlightWrites < limits.maxInFlightWrites / 2 {
            resume()
        }
    }

    // MARK: Input

    private func ready(_ events: IOWatcher.Events) {
        if events.contains(.write) {
            writeBlocked = false
            flush()
        }
        if events.contains(.read) && !closed { readAvailable() }
    }

    private func readAvailable() {
        let scratch = listener.scratch
        let n = recv(fd, scratch.baseAddress, scratch.count, 0)
        if n > 0 {
            input.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0 ..< n]))
            listener.bytesIn += UInt64(n)
            process()
        } else if n == 0 {
            close()  // the client closed its end
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            close()
        }
    }

    /// Whether parsing is stopped (a held read, too many writes in flight, replies piling up
    /// unsent, closing).
    private var parsingStopped: Bool {
        held != nil || closing || inFlightWrites >= limits.maxInFlightWrites || unsentBytes > limits.outputHighWater
    }

    /// Runs every whole request buffered, in order, until one has to wait.
    private func process() {
        while !closed && !parsingStopped {
            switch parser.next(input, &inputPosition) {
            case .needMore:
                compactInput()
                updateInterest()
                return
            case let .command(args):
                run(args)
            case let .protocolError(message):
                listener.protocolErrors += 1
                reply(.error("ERR \(message)"))
                closing = true
                input = []
                inputPosition = 0
            }
        }
        compactInput()
        updateInterest()
    }

    private func run(_ args: [[UInt8]]) {
        commands += 1
        switch listener.handler(args, self) {
        case .done: break
        case .wait: held = args
        case .close: closing = true
        }
    }

    /// The connection's writes are done (or fewer): run what waited, then the rest.
    private func resume() {
        guard !closed else { return }
        if let h = held, inFlightWrites == 0 {
            held = nil
            run(h)
        }
        if !parsingStopped { process() } else { updateInterest() }
    }

    private func compactInput() {
        if inputPosition == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 1 << 20)
            inputPosition = 0
        } else if inputPosition > 1 << 16 {
            input.removeFirst(inputPosition)
            inputPosition = 0
        }
    }

    // MARK: Output

    var unsentBytes: Int { output.count - outputPosition }

    /// Sends what the socket takes now (the listener calls it at the end of the loop turn).
    func flush() {
        guard !closed else { return }
        while outputPosition < output.count && !writeBlocked {
            let from = outputPosition
            let n = output.withUnsafeBytes { b -> Int in
                guard let base = b.baseAddress else { return 0 }
                return send(fd, base + from, b.count - from, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outputPosition += n
                listener.bytesOut += UInt64(n)
            } else if n < 0 && errno == EINTR {
                continue
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                writeBlocked = true
            } else {
                close()  // the peer is gone
                return
            }
        }
        if outputPosition == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
            outputPosition = 0
            if closing && slots.isEmpty {
                close()
                return
            }
        } else if outputPosition > 1 << 16 {
            output.removeFirst(outputPosition)
            outputPosition = 0
        }
        // The client took its replies: go on with the requests it sent meanwhile.
        if unsentBytes <= limits.outputHighWater / 4 && inputPosition < input.count && !parsingStopped {
            process()
        } else {
            updateInterest()
        }
    }

    private func updateInterest() {
        guard !closed else { return }
        var want: IOWatcher.Events = []
        let unparsed = input.count - inputPosition
        let readPaused = closing || unsentBytes > limits.outputHighWater
            || (parsingStopped && unparsed > limits.maxBufferedInput)
            || (readWasPaused && unsentBytes > limits.outputHighWater / 4)
        readWasPaused = readPaused
        if !readPaused { want.insert(.read) }
        if writeBlocked { want.insert(.write) }
        if want != watching {
            watching = want
            if want.isEmpty { watcher?.stop() } else {
                watcher?.set(events: want)
                if !(watcher?.isActive ?? true) { watcher?.start() }
            }
        }
    }

    private var readWasPaused = false

    /// Closes the socket at once; replies still due are dropped.
    public func close() {
        guard !closed else { return }
        closed = true
        watcher?.stop()
        watcher = nil
        Glibc.close(fd)
        output = []
        slots.removeAll()
        held = nil
        listener.closed(self)
    }
}
