import Ensemble

/// A UDP socket of a simulated process: the `Transport` the protocol stack runs on inside a
/// `SimWorld`. Made by `SimProcess.makeTransport`.
///
/// Delegate calls come only from the world's event loop (`SimWorld.step` and the `run`
/// methods), never from inside a call to this transport. After `close` (or a crash of its
/// process) the delegate is never called again.
public final class SimTransport: Transport {
    /// 10.0.0.N and the bound port.
    public let localAddress: Address
    /// The owning process.
    public unowned let process: SimProcess
    /// Receives datagrams, wake-ups and idle callbacks. Not retained.
    /// Not retained, and not weak either (a weak reference would make every retain of the
    /// delegate slow): a delegate must clear it before it goes away, as `GroupEndpoint` does.
    public unowned(unsafe) var delegate: (any TransportDelegate)?
    /// False once closed, by `close` or by a crash of the process.
    public var isOpen: Bool { open }

    unowned let world: SimWorld
    // Unchecked for the reason given at SimWorld's stored properties.
    @exclusivity(unchecked) var open = true
    /// Index in the world's transport table while open.
    let slot: Int
    /// Sequence number of the queued wake-up event that is still wanted; 0 when none.
    @exclusivity(unchecked) var wakeSeq: UInt64 = 0
    @exclusivity(unchecked) var wakeTime: Time = .never
    /// Sequence number of the queued idle event; 0 when none (further requests coalesce).
    @exclusivity(unchecked) var idleSeq: UInt64 = 0

    init(world: SimWorld, process: SimProcess, port: UInt16, slot: Int) {
        self.world = world
        self.process = process
        self.slot = slot
        self.localAddress = process.address(port: port)
    }

    /// The world's virtual clock.
    public var now: Time { world.now }

    /// Copies the datagram and hands it to the simulated network, which applies the link's
    /// faults and the partition. Returns false only when refused locally: the transport is
    /// closed or the datagram exceeds `SimWorld.maxDatagramSize`.
    @discardableResult
    public func send(_ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool {
        world.send(from: self, datagram, to: destination)
    }

    /// Convenience for tests and drivers: sends the bytes of an array.
    @discardableResult
    public func send(_ bytes: [UInt8], to destination: Address) -> Bool {
        bytes.withUnsafeBytes { send($0, to: destination) }
    }

    /// One `transportWake` at `time` (or, for a time not after now, as soon as the loop gets
    /// to it: after the events already queued for the current instant), replacing any
    /// earlier request; `.never` cancels.
    public func wake(at time: Time) {
        guard open else { return }
        if time == .never {
            wakeSeq = 0
            wakeTime = .never
            return
        }
        let at = max(time, world.now)
        if wakeSeq != 0 && wakeTime == at { return }  // same request: keep the queued event
        wakeTime = at
        wakeSeq = world.queue.push(time: at, kind: .wake, ref: slot)
    }

    /// One `transportWillIdle` after the events already queued for the current instant.
    /// Requests made before it fires coalesce into that one call.
    public func requestIdleCallback() {
        guard open, idleSeq == 0 else { return }
        idleSeq = world.queue.push(time: world.now, kind: .idle, ref: slot)
    }

    /// Unbinds the port and drops pending wake-up and idle requests. Idempotent.
    public func close() {
        guard open else { return }
        open = false
        wakeSeq = 0
        wakeTime = .never
        idleSeq = 0
        world.closeTransport(self)
    }
}
