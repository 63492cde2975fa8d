import Ensemble

/// Identifies a closure queued with `SimWorld.schedule`, for `SimWorld.cancel`.
public struct SimEventToken: Hashable, Sendable, CustomStringConvertible {
    let slot: Int
    /// The event's sequence number: unique in its world, in scheduling order.
    public let sequence: UInt64

    public var description: String { "#\(sequence)" }
}

/// A deterministic discrete-event simulation of processes on a UDP network.
///
/// The world owns a virtual clock (`now`), a queue of pending events ordered by (time,
/// scheduling order), the simulated processes and their transports, and the network between
/// them (per-link faults, partitions). Nothing happens between calls: time moves only inside
/// `step` and the `run` methods, which execute queued events one at a time, setting `now` to
/// each event's time. Given the same seed and the same driver calls, a run is identical —
/// event for event and trace line for trace line — in any process on any platform.
///
/// Single-threaded and not reentrant: drivers call `step`/`run` from outside any event.
/// Objects created by the world (processes, transports) refer back to it without retaining
/// it: keep the world alive while they are used.
public final class SimWorld {
    /// The seed everything random in this world derives from.
    public let seed: UInt64
    /// The virtual clock: the time of the event being executed, or of the last one.
    public var now: Time { clock }
    /// A random stream for drivers and tests (fault injection schedules, workloads). The
    /// network draws from its own stream, so using this one does not perturb it.
    public var random: SimRandom
    /// Faults for every link without an override (see `setFaults`).
    public var defaultFaults: LinkFaults {
        get { baseFaults }
        set { baseFaults = newValue }
    }
    /// Datagram statistics since the world was made.
    public var counters: SimCounters { stats }
    /// Events executed so far (stale wake-ups and cancelled closures are not counted).
    public var eventsExecuted: UInt64 { executed }
    /// All processes ever added, by `id`.
    public var processes: [SimProcess] { processTable }
    /// Copies scheduled for delivery that have not arrived yet.
    public var datagramsInFlight: Int { inFlightCount }

    /// Larger datagrams are refused by `send`, as UDP over IPv4 refuses them.
    public static let maxDatagramSize = 65_507
    /// Process addresses are `ipBase + id + 1`: 10.0.0.1, 10.0.0.2, ...
    public static let ipBase: UInt32 = 0x0A00_0000

    // Mutable state, behind the public read-only views above. The world runs on one thread
    // and never calls out (to delegates, closures, or deinitialisers that could run user
    // code) while one of these properties is being modified, so accesses to them cannot
    // overlap; `@exclusivity(unchecked)` drops the runtime's dynamic exclusivity checks,
    // which otherwise cost a third to a half of the simulator's time in optimised builds.
    // Keep that invariant: move closures and objects out of a property before releasing
    // or calling them.
    @exclusivity(unchecked) var clock: Time = .zero
    @exclusivity(unchecked) var baseFaults: LinkFaults = .none
    @exclusivity(unchecked) var stats = SimCounters()
    @exclusivity(unchecked) var executed: UInt64 = 0
    @exclusivity(unchecked) var processTable: [SimProcess] = []
    @exclusivity(unchecked) var inFlightCount = 0
    @exclusivity(unchecked) var queue = SimEventQueue()
    @exclusivity(unchecked) var trace: SimTrace
    @exclusivity(unchecked) var netRandom: SimRandom

    /// Open transports by slot; a closed transport's slot is reused. Queued wake and idle
    /// events name a slot and are checked against the transport's current sequence number.
    @exclusivity(unchecked) var transports: [SimTransport?] = []
    @exclusivity(unchecked) var freeTransportSlots: [Int] = []

    /// Datagram copies in flight by slot, with reusable slots.
    @exclusivity(unchecked) var inFlight: [InFlight] = []
    @exclusivity(unchecked) var freeInFlightSlots: [Int] = []
    @exclusivity(unchecked) var lastDatagramID: UInt64 = 0
    /// Emptied datagram buffers kept for reuse.
    @exclusivity(unchecked) var bufferPool: [[UInt8]] = []
    static let bufferPoolLimit = 4_096
    static let pooledBufferMaxCapacity = 2_048

    /// Directed link state, `links[from][to]` by process id.
    @exclusivity(unchecked) var links: [[LinkState]] = []
    @exclusivity(unchecked) var partitioned = false

    /// Driver closures by slot; a slot is freed when its event runs or is cancelled.
    @exclusivity(unchecked) var drivers: [DriverSlot] = []
    @exclusivity(unchecked) var freeDriverSlots: [Int] = []

    private var isRunning = false

    /// A world at time zero with no processes.
    /// - Parameters:
    ///   - seed: determines every random choice of the run.
    ///   - trace: how much of the trace to keep; `.digestOnly` for bulk runs.
    public init(seed: UInt64, trace: TraceMode = .full) {
        self.seed = seed
        self.trace = SimTrace(mode: trace)
        self.random = SimRandom(seed: seed, stream: 1)
        self.netRandom = SimRandom(seed: seed, stream: 2)
    }

    // MARK: Trace

    /// The trace mode given at creation.
    public var traceMode: TraceMode { trace.mode }
    /// Running FNV-1a digest of every trace record so far: equal digests mean (with
    /// overwhelming probability) identical runs. The same in `.full` and `.digestOnly`
    /// modes; stays `FNV1a.offsetBasis` in `.off` mode.
    public var traceDigest: UInt64 { trace.digest }
    /// One line per trace record, in `.full` mode only (empty otherwise).
    public var traceLines: [String] { trace.lines }

    /// Records one trace event at `now`: folds the kind, time, fields and text into the
    /// digest, and in `.full` mode appends the line `line` builds (never called otherwise).
    @inline(__always)
    func record(
        _ kind: SimTraceKind,
        _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0, _ e: UInt64 = 0,
        text: String? = nil,
        line: () -> String
    ) {
        switch trace.mode {
        case .off:
            return
        case .digestOnly:
            trace.fold(kind, at: now, a, b, c, d, e, text: text)
        case .full:
            trace.fold(kind, at: now, a, b, c, d, e, text: text)
            let text = line()
            trace.append(line: text, at: now)
        }
    }

    /// Adds a free-form line to the trace (and its text to the digest): for drivers and
    /// checkers to mark what they did.
    public func note(_ text: String) {
        record(.note, text: text) { "note " + text }
    }

    // MARK: Driver events

    /// Queues `action` to run at `time` (at `now` if `time` is earlier), after every event
    /// already queued for that time. `label` appears in the trace.
    @discardableResult
    public func schedule(at time: Time, label: String = "", _ action: @escaping () -> Void) -> SimEventToken {
        let slot: Int
        if let free = freeDriverSlots.popLast() {
            slot = free
        } else {
            slot = drivers.count
            drivers.append(DriverSlot())
        }
        let seq = queue.push(time: max(time, now), kind: .driver, ref: slot)
        drivers[slot] = DriverSlot(seq: seq, action: action, label: label)
        return SimEventToken(slot: slot, sequence: seq)
    }

    /// Queues `action` to run `delay` after `now`.
    @discardableResult
    public func schedule(after delay: Time, label: String = "", _ action: @escaping () -> Void) -> SimEventToken {
        schedule(at: now + delay, label: label, action)
    }

    /// Removes a queued closure. Returns false if it already ran or was cancelled.
    @discardableResult
    public func cancel(_ token: SimEventToken) -> Bool {
        guard token.slot < drivers.count, drivers[token.slot].seq == token.sequence else { return false }
        var removed = DriverSlot()
        swap(&removed, &drivers[token.slot])  // the closure is released after the access ends
        freeDriverSlots.append(token.slot)
        return true
    }

    // MARK: Running

    /// The time of the next event that will run, or nil when nothing is queued.
    public var nextEventTime: Time? {
        while let top = queue.first {
            if isLive(top) { return Time(nanoseconds: top.time) }
            _ = queue.popFirst()
        }
        return nil
    }

    /// Runs the next event. Returns false (and changes nothing) when none is queued.
    @discardableResult
    public func step() -> Bool {
        enter()
        defer { isRunning = false }
        return runNext(notAfter: .max)
    }

    /// Runs every event with a time not after `time`, including those they queue, then sets
    /// `now` to `time` (unless `time` is `.never` or already past).
    public func run(until time: Time) {
        enter()
        defer { isRunning = false }
        while runNext(notAfter: time.nanoseconds) {}
        if time != .never && time > clock { clock = time }
    }

    /// Runs events for `span` of virtual time: `run(until: now + span)`.
    public func run(for span: Time) {
        run(until: now + span)
    }

    /// Runs events until `condition` holds (checked before the first event and after each
    /// one) or `timeout` of virtual time has passed. Returns whether the condition held; on
    /// timeout, `now` is the deadline and the condition is checked once more there.
    @discardableResult
    public func run(until condition: () -> Bool, timeout: Time) -> Bool {
        enter()
        defer { isRunning = false }
        if condition() { return true }
        let deadline = now + timeout
        while runNext(notAfter: deadline.nanoseconds) {
            if condition() { return true }
        }
        if deadline != .never && deadline > clock { clock = deadline }
        return condition()
    }

    /// Runs events until none is left or `limit` events have run. Returns true when the
    /// queue drained. A periodic timer keeps the queue from ever draining: use the limit.
    @discardableResult
    public func runUntilIdle(limit: Int = .max) -> Bool {
        enter()
        defer { isRunning = false }
        var remaining = limit
        while remaining > 0 {
            guard runNext(notAfter: .max) else { return true }
            remaining -= 1
        }
        return nextEventTime == nil
    }

    private func enter() {
        precondition(!isRunning, "SimWorld: step/run called from inside an event")
        isRunning = true
    }

    /// Pops events until one with a time not after `limit` runs; skips stale entries.
    private func runNext(notAfter limit: Int64) -> Bool {
        while let top = queue.first, top.time <= limit {
            _ = queue.popFirst()
            if execute(top) {
                executed &+= 1
                return true
            }
        }
        return false
    }

    /// Whether a queued entry still stands for something to do.
    private func isLive(_ e: SimEventQueue.Entry) -> Bool {
        switch e.kind {
        case .delivery: return true
        case .wake: return transports[Int(e.ref)]?.wakeSeq == e.seq
        case .idle: return transports[Int(e.ref)]?.idleSeq == e.seq
        case .driver: return drivers[Int(e.ref)].seq == e.seq
        }
    }

    /// Runs one popped entry; returns false for a stale one (which leaves `now` alone).
    private func execute(_ e: SimEventQueue.Entry) -> Bool {
        let slot = Int(e.ref)
        switch e.kind {
        case .delivery:
            clock = Time(nanoseconds: e.time)
            deliver(slot: slot)
            return true

        case .wake:
            guard let t = transports[slot], t.wakeSeq == e.seq else { return false }
            clock = Time(nanoseconds: e.time)
            t.wakeSeq = 0
            t.wakeTime = .never
            let address = t.localAddress
            record(.wake, address.traceKey) { "wake \(address)" }
            t.delegate?.transportWake(t, now: now)
            return true

        case .idle:
            guard let t = transports[slot], t.idleSeq == e.seq else { return false }
            clock = Time(nanoseconds: e.time)
            t.idleSeq = 0
            let address = t.localAddress
            record(.idle, address.traceKey) { "idle \(address)" }
            t.delegate?.transportWillIdle(t)
            return true

        case .driver:
            guard drivers[slot].seq == e.seq else { return false }
            var taken = DriverSlot()
            swap(&taken, &drivers[slot])
            freeDriverSlots.append(slot)
            guard let action = taken.action else { return false }
            let label = taken.label
            clock = Time(nanoseconds: e.time)
            record(.event, e.seq, text: label) {
                label.isEmpty ? "event #\(e.seq)" : "event #\(e.seq) \(label)"
            }
            action()
            return true
        }
    }
}

/// A queued driver closure (or a free slot: `seq` 0, no action).
struct DriverSlot {
    var seq: UInt64 = 0
    var action: (() -> Void)?
    var label: String = ""
}
