import Ensemble
@testable import Simulation

/// A delegate that logs everything it is told, with optional reactions.
final class DelegateRecorder: TransportDelegate {
    enum Event: Equatable, CustomStringConvertible {
        case received([UInt8], from: Address, at: Time)
        case wake(Time)
        case idle(Time)

        var description: String {
            switch self {
            case let .received(bytes, from, at): "recv \(bytes.count)B from \(from) at \(at)"
            case let .wake(at): "wake at \(at)"
            case let .idle(at): "idle at \(at)"
            }
        }
    }

    var events: [Event] = []
    var onReceive: ((any Transport, [UInt8], Address) -> Void)?
    var onWake: ((any Transport) -> Void)?
    var onIdle: ((any Transport) -> Void)?

    /// Payloads received, decoded as little-endian UInt64 sequence numbers, with sources.
    var receivedValues: [(value: UInt64, from: Address)] {
        events.compactMap {
            if case let .received(bytes, from, _) = $0 { return (decode(bytes), from) }
            return nil
        }
    }

    var wakeTimes: [Time] {
        events.compactMap { if case let .wake(t) = $0 { return t } else { return nil } }
    }

    var idleTimes: [Time] {
        events.compactMap { if case let .idle(t) = $0 { return t } else { return nil } }
    }

    func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        let bytes = Array(datagram)
        events.append(.received(bytes, from: source, at: transport.now))
        onReceive?(transport, bytes, source)
    }

    func transportWake(_ transport: any Transport, now: Time) {
        events.append(.wake(now))
        onWake?(transport)
    }

    func transportWillIdle(_ transport: any Transport) {
        events.append(.idle(transport.now))
        onIdle?(transport)
    }
}

/// What a process built at boot: one transport on `port` with a `DelegateRecorder`. Kept in the
/// process's `state`, so a crash releases it.
final class Host {
    let transport: SimTransport
    let recorder = DelegateRecorder()

    init(_ process: SimProcess, port: UInt16 = 7000) {
        transport = process.makeTransport(port: port)
        transport.delegate = recorder
        process.state = self
    }

    static func of(_ process: SimProcess) -> Host? { process.state as? Host }
}

/// Eight little-endian bytes.
func encode(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

func decode(_ bytes: [UInt8]) -> UInt64 {
    var v: UInt64 = 0
    for (i, b) in bytes.prefix(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    return v
}

/// A world of `count` processes named p0, p1, ..., each running a `Host` on port 7000.
func makeHosts(_ world: SimWorld, count: Int, port: UInt16 = 7000) -> [SimProcess] {
    (0..<count).map { i in world.addProcess(name: "p\(i)") { _ = Host($0, port: port) } }
}

/// Each process pings every other on a jittered periodic wake-up and answers pings with
/// pongs; used for determinism and speed checks.
final class PingNode: TransportDelegate {
    let process: SimProcess
    let transport: SimTransport
    let peers: [Address]
    let interval: Time
    let payload: Int
    var sequence: UInt64 = 0
    var received = 0

    init(_ process: SimProcess, processCount: Int, interval: Time, payload: Int = 24, port: UInt16 = 7000) {
        self.process = process
        self.interval = interval
        self.payload = max(payload, 10)
        transport = process.makeTransport(port: port)
        peers = (0..<processCount).filter { $0 != process.id }.map {
            Address(ip: SimWorld.ipBase + UInt32($0 + 1), port: port)
        }
        transport.delegate = self
        transport.wake(at: transport.now + Time(nanoseconds: Int64(process.random.int(in: 0..<Int(interval.nanoseconds)))))
        process.state = self
    }

    private var buffer: [UInt8] = []

    /// Fills `buffer` in place: kind, sender id, sequence number, then filler (no allocation).
    private func fillMessage(kind: UInt8) {
        sequence += 1
        if buffer.count != payload { buffer = (0..<payload).map { UInt8(truncatingIfNeeded: $0) } }
        buffer[0] = kind
        buffer[1] = UInt8(truncatingIfNeeded: process.id)
        for i in 0..<8 { buffer[2 + i] = UInt8(truncatingIfNeeded: sequence >> (8 * UInt64(i))) }
    }

    func transportWake(_ transport: any Transport, now: Time) {
        for peer in peers {
            fillMessage(kind: 1)
            self.transport.send(buffer, to: peer)
        }
        let jitter = Time(nanoseconds: Int64(process.random.int(in: 0..<Int(interval.nanoseconds / 10 + 1))))
        self.transport.wake(at: now + interval + jitter)
    }

    func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        received += 1
        if datagram.first == 1 {
            fillMessage(kind: 2)
            self.transport.send(buffer, to: source)
            self.transport.requestIdleCallback()
        }
    }

    func transportWillIdle(_ transport: any Transport) {}
}
