import Ensemble

/// One copy of a datagram on its way.
struct InFlight {
    var bytes: [UInt8] = []
    var source = Address(ip: 0, port: 0)
    var destination = Address(ip: 0, port: 0)
    var id: UInt64 = 0
    var fromProcess: Int = 0
    var toProcess: Int = 0
    /// 0 for the original, 1 for the copy made by the `duplicate` fault.
    var copy: UInt64 = 0
}

/// A directed link between two processes.
struct LinkState {
    /// Faults for this link instead of `SimWorld.defaultFaults`.
    var faults: LinkFaults?
    /// Latest arrival time of a non-reordered copy: the FIFO clamp.
    var lastArrival: Time = .zero
}

/// Why a copy did not reach a delegate. Raw values go into the trace digest.
enum SimDropReason: UInt64, CustomStringConvertible {
    case loss = 1, partition, down, unbound, noDelegate, rejected

    var description: String {
        switch self {
        case .loss: "loss"
        case .partition: "partition"
        case .down: "down"
        case .unbound: "unbound"
        case .noDelegate: "nodelegate"
        case .rejected: "rejected"
        }
    }
}

extension SimWorld {
    // MARK: Faults

    /// Overrides the faults of the link from `sender` to `receiver` (one direction); nil
    /// returns the link to `defaultFaults`.
    public func setFaults(from sender: SimProcess, to receiver: SimProcess, _ faults: LinkFaults?) {
        links[sender.id][receiver.id].faults = faults
    }

    /// Overrides the faults of both directions between `a` and `b`.
    public func setFaults(between a: SimProcess, and b: SimProcess, _ faults: LinkFaults?) {
        setFaults(from: a, to: b, faults)
        setFaults(from: b, to: a, faults)
    }

    /// Ends every fault: heals any partition, and every link is perfect again.
    public func clearFaults() {
        heal()
        baseFaults = .none
        for a in processTable {
            for b in processTable where a !== b { setFaults(from: a, to: b, nil) }
        }
    }

    /// The faults in force from `sender` to `receiver`.
    public func faults(from sender: SimProcess, to receiver: SimProcess) -> LinkFaults {
        links[sender.id][receiver.id].faults ?? baseFaults
    }

    // MARK: Partitions

    /// Splits the network into `groups`: datagrams pass only between processes of the same
    /// group. Every process not listed is a group of its own (isolated). Replaces any earlier
    /// partition. A copy is dropped if its ends are in different groups when it is sent, or
    /// when it arrives (so a partition also cuts off what was in flight across it).
    public func partition(_ groups: [[SimProcess]]) {
        for process in processTable { process.partitionGroup = SimWorld.isolatedGroup(process.id) }
        for (index, group) in groups.enumerated() {
            for process in group {
                precondition(process.world === self, "SimWorld.partition: process of another world")
                precondition(process.partitionGroup < 0, "SimWorld.partition: \(process.name) listed twice")
                process.partitionGroup = index + 1
            }
        }
        partitioned = true
        // Groups in order of their first member's id, e.g. "{p0,p1} {p2,p3} {p4}".
        var labels: [Int] = []
        var members: [[String]] = []
        for process in processTable {
            if let index = labels.firstIndex(of: process.partitionGroup) {
                members[index].append("p\(process.id)")
            } else {
                labels.append(process.partitionGroup)
                members.append(["p\(process.id)"])
            }
        }
        let text = members.map { "{" + $0.joined(separator: ",") + "}" }.joined(separator: " ")
        let description = text
        record(.partition, text: description) { "partition " + description }
    }

    /// Removes the partition: every process can reach every other again.
    public func heal() {
        partitioned = false
        record(.heal) { "heal" }
    }

    /// True while a partition is installed.
    public var isPartitioned: Bool { partitioned }

    /// Whether datagrams currently pass from `a` to `b` (partition-wise).
    public func connected(_ a: SimProcess, _ b: SimProcess) -> Bool {
        connected(a.id, b.id)
    }

    func connected(_ a: Int, _ b: Int) -> Bool {
        !partitioned || processTable[a].partitionGroup == processTable[b].partitionGroup
    }

    /// The group label of a process in no listed group: unique and negative.
    static func isolatedGroup(_ id: Int) -> Int { -(id + 1) }

    // MARK: Sending

    func send(from transport: SimTransport, _ datagram: UnsafeRawBufferPointer, to destination: Address) -> Bool {
        let source = transport.localAddress
        guard transport.isOpen, datagram.count <= SimWorld.maxDatagramSize else {
            stats.rejectedAtSender += 1
            traceDrop(id: 0, copy: 0, .rejected, source, destination)
            return false
        }
        lastDatagramID += 1
        let id = lastDatagramID
        stats.sent += 1
        if trace.isOn {
            let hash = FNV1a.hash(datagram)
            let length = datagram.count
            record(.send, id, source.traceKey, destination.traceKey, UInt64(length), hash) {
                "send #\(id) \(source)>\(destination) len=\(length) h=\(SimTrace.hex(hash))"
            }
        }

        guard let receiver = process(ip: destination.ip) else {
            stats.droppedUnbound += 1
            traceDrop(id: id, copy: 0, .unbound, source, destination)
            return true
        }
        let from = transport.process.id, to = receiver.id
        guard connected(from, to) else {
            stats.droppedByPartition += 1
            traceDrop(id: id, copy: 0, .partition, source, destination)
            return true
        }
        let faults = links[from][to].faults ?? baseFaults
        if netRandom.chance(faults.drop) {
            stats.droppedByLoss += 1
            traceDrop(id: id, copy: 0, .loss, source, destination)
            return true
        }

        var copy = InFlight(
            bytes: takeBuffer(copying: datagram), source: source, destination: destination,
            id: id, fromProcess: from, toProcess: to, copy: 0)
        enqueue(copy, at: arrivalTime(from: from, to: to, faults))
        if netRandom.chance(faults.duplicate) {
            stats.duplicated += 1
            copy.copy = 1
            let at = arrivalTime(from: from, to: to, faults)
            record(.duplicate, id, UInt64(bitPattern: at.nanoseconds)) {
                "dup #\(id) arrive=\(SimTrace.format(at))"
            }
            enqueue(copy, at: at)
        }
        return true
    }

    /// Draws the arrival time of one copy on a link (see `LinkFaults` for the rules).
    private func arrivalTime(from: Int, to: Int, _ faults: LinkFaults) -> Time {
        var at = max(now + netRandom.time(in: faults.delay), now)
        if netRandom.chance(faults.reorder) {
            let extra = max(faults.delay.upperBound * 3, .zero)
            return at + netRandom.time(in: .zero...extra)
        }
        let last = links[from][to].lastArrival
        if at < last { at = last }
        links[from][to].lastArrival = at
        return at
    }

    private func enqueue(_ copy: InFlight, at time: Time) {
        let slot: Int
        if let free = freeInFlightSlots.popLast() {
            slot = free
            inFlight[slot] = copy
        } else {
            slot = inFlight.count
            inFlight.append(copy)
        }
        inFlightCount += 1
        queue.push(time: time, kind: .delivery, ref: slot)
    }

    // MARK: Delivery

    func deliver(slot: Int) {
        var copy = InFlight()
        swap(&copy, &inFlight[slot])
        freeInFlightSlots.append(slot)
        inFlightCount -= 1
        defer { recycle(&copy.bytes) }

        let receiver = processTable[copy.toProcess]
        guard receiver.isUp else {
            stats.droppedDestinationDown += 1
            traceDrop(id: copy.id, copy: copy.copy, .down, copy.source, copy.destination)
            return
        }
        guard connected(copy.fromProcess, copy.toProcess) else {
            stats.droppedByPartition += 1
            traceDrop(id: copy.id, copy: copy.copy, .partition, copy.source, copy.destination)
            return
        }
        guard let transport = receiver.transport(port: copy.destination.port) else {
            stats.droppedUnbound += 1
            traceDrop(id: copy.id, copy: copy.copy, .unbound, copy.source, copy.destination)
            return
        }
        guard let delegate = transport.delegate else {
            stats.droppedNoDelegate += 1
            traceDrop(id: copy.id, copy: copy.copy, .noDelegate, copy.source, copy.destination)
            return
        }
        stats.delivered += 1
        let id = copy.id, n = copy.copy, source = copy.source, destination = copy.destination
        let length = copy.bytes.count
        record(.deliver, id, n, source.traceKey, destination.traceKey) {
            "deliver #\(id)\(n == 0 ? "" : "'") \(source)>\(destination) len=\(length)"
        }
        copy.bytes.withUnsafeBytes { delegate.transport(transport, received: $0, from: source) }
    }

    /// A buffer holding a copy of `datagram`, reusing a pooled one when there is one.
    private func takeBuffer(copying datagram: UnsafeRawBufferPointer) -> [UInt8] {
        var buffer = bufferPool.popLast() ?? []
        buffer.append(contentsOf: datagram)
        return buffer
    }

    /// Returns a delivered or dropped copy's buffer to the pool (small ones, up to a bound),
    /// so steady traffic allocates nothing. A buffer still shared with a duplicate in flight
    /// is copied on its next use, as arrays are.
    private func recycle(_ buffer: inout [UInt8]) {
        guard bufferPool.count < SimWorld.bufferPoolLimit,
              buffer.capacity <= SimWorld.pooledBufferMaxCapacity else { return }
        buffer.removeAll(keepingCapacity: true)
        bufferPool.append(buffer)
        buffer = []
    }

    private func traceDrop(id: UInt64, copy: UInt64, _ reason: SimDropReason, _ source: Address, _ destination: Address) {
        record(.drop, id, copy, reason.rawValue, source.traceKey, destination.traceKey) {
            "drop #\(id)\(copy == 0 ? "" : "'") \(reason) \(source)>\(destination)"
        }
    }
}
