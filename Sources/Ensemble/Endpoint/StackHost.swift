/// Runs one view's stack for an endpoint: carries its messages out in batched datagrams and
/// keeps its alarms. Old stacks keep running (to serve retransmissions) until they exit.
final class StackHost: StackServices {
    unowned(unsafe) let endpoint: GroupEndpoint  // the endpoint owns its hosts
    let view: ViewState
    let rank: Rank
    let viewHash: UInt64
    /// Set right after init (the stack needs this host as its services).
    private(set) var stack: Stack?
    private(set) var topAppl: TopAppl?
    /// Requested alarm times, ascending, without duplicates.
    private(set) var alarms: [Time] = []
    // Unchecked exclusivity: only this host touches its batches, one call at a time.
    @exclusivity(unchecked) private var batches: [OutBatch]
    private var dirty: [Rank] = []
    /// The frame header up to the destination rank, which each batch appends.
    private var frameHeader: [UInt8] = []
    var exited = false
    /// Installed while leaving: the application hears nothing of this view.
    var silent = false

    init(endpoint: GroupEndpoint, view: ViewState, rank: Rank) {
        self.endpoint = endpoint
        self.view = view
        self.rank = rank
        viewHash = Frame.hash(view.id)
        batches = Array(repeating: OutBatch(), count: view.count)
        var w = WireWriter(capacity: 24)
        Frame(kind: .data, authenticated: endpoint.key != nil, group: view.group.hash, view: viewHash, sender: rank,
              destination: 0).encode(into: &w)
        frameHeader = w.bytes.dropLast()  // destination 0 is one byte; each batch writes its own
    }

    func build(setup: LayerSetup, registry: LayerRegistry) throws(StackError) {
        let s = try Stack(protocolStack: view.protocolStack, setup: setup, services: self, registry: registry) {
            [unowned self] event in self.endpoint.stackEmitted(event, from: self)
        }
        stack = s
        topAppl = s.layer(TopAppl.self)
    }

    // MARK: StackServices

    var application: (any GroupApplication)? { exited || silent ? nil : endpoint.application }

    var now: Time { endpoint.transport.now }

    func transmit(_ packet: Packet, to destination: Rank?) {
        if let d = destination {
            append(packet, to: d)
        } else {
            for d in 0 ..< view.count where d != rank { append(packet, to: d) }
        }
    }

    func transmitGossip(_ gossip: Gossip, to address: Address?) {
        endpoint.transmitGossip(gossip, to: address)
    }

    func requestAlarm(at time: Time) {
        var lo = 0
        var hi = alarms.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if alarms[mid] < time { lo = mid + 1 } else { hi = mid }
        }
        if lo < alarms.count && alarms[lo] == time { return }
        alarms.insert(time, at: lo)
        if lo == 0 { endpoint.alarmsChanged() }
    }

    /// Removes the alarms due at `now`; true if there were any.
    func takeDueAlarms(_ now: Time) -> Bool {
        var k = 0
        while k < alarms.count && alarms[k] <= now { k += 1 }
        if k == 0 { return false }
        alarms.removeFirst(k)
        return true
    }

    // MARK: Batching

    private func append(_ packet: Packet, to d: Rank) {
        let limit = endpoint.batchBytes
        let length = packet.count
        let need = varintSize(UInt64(length)) + length
        if frameHeader.count + 3 + need + GroupKey.maxOverhead > Swift.max(limit, GroupEndpoint.maxDatagram) {
            endpoint.countOversized(length)
            return
        }
        if !batches[d].isEmpty && batches[d].bytes.count + need + GroupKey.maxOverhead > limit { flush(d) }
        if batches[d].isEmpty {
            batches[d].bytes.append(contentsOf: frameHeader)
            batches[d].bytes.writeVarintAppend(UInt64(d))
            dirty.append(d)
        }
        batches[d].bytes.writeVarintAppend(UInt64(length))
        packet.withBytes { batches[d].bytes.append(contentsOf: $0) }
        batches[d].messages += 1
        endpoint.messageQueued(flushNow: !endpoint.batching)
    }

    private func flush(_ d: Rank) {
        guard !batches[d].isEmpty else { return }
        endpoint.sendDatagram(&batches[d].bytes, messages: batches[d].messages, to: view.addresses[d])
        batches[d].reset()
    }

    /// Sends every datagram being filled.
    func flushAll() {
        for d in dirty { flush(d) }
        dirty.removeAll(keepingCapacity: true)
    }
}

extension Array where Element == UInt8 {
    mutating func writeVarintAppend(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }
}
