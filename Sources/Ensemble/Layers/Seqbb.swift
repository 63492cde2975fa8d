import DequeModule

/// Seqbb: total order of the application's casts by a sequencer, "broadcast-broadcast"
/// (Ensemble's `seqbb.ml`; the stack string may also call it `Total`).
///
/// Every cast travels once: its sender multicasts it (through Mnak, which gives reliable FIFO
/// per origin), and every member holds it until its place in the order is known. The
/// sequencer, rank 0 of the view, decides the order in which it receives the casts (its own
/// at once) and delivers them in that order (its own, and what follows them, at the end of the
/// loop turn: never inside the application's call to cast); at the end of the turn it also
/// multicasts what it decided, as runs of (origin, count): "the next 3 of rank 2, then the next 1 of rank 0, ...".
/// The others deliver the held casts in the order of those runs. Every member delivers its own
/// casts too, at their ordered place (with Seqbb the application's `receiveCast(from:)` sees its
/// own rank). Casts of the layers above Top_appl (flagged without `.application`) and all sends
/// pass through unordered.
///
/// The view's end. Top_appl's flush counts are replaced by Seqbb's: what it has *received*
/// (held or delivered) from each origin, where the sequencer's slot counts its decisions too,
/// in the one FIFO stream it sent them in with its own casts (Seqbb sends `.applCounts` up just
/// before each `.block` and `.fail`, and Top_appl reports those). The flush's `.syncInfo` then
/// says how many items of every origin's stream some survivor received; Seqbb holds it until it
/// has received as many (Mnak fetches them from that survivor), so every survivor then holds the
/// same casts and the same decisions. It then delivers, identically everywhere: the held casts in
/// the order of the decisions (skipping an entry whose cast no survivor has), then the casts no
/// decision covers, by origin rank and then in FIFO order; and passes `.syncInfo` up rewritten
/// to the counts it delivered. The sequencer stops deciding once it is blocked, so its stream
/// (and its report) no longer grows; a failure not yet known when `.syncInfo` arrived voids it
/// (the flush computes a new one, from new reports).
///
/// What is agreed: members that go from a view to the same next view deliver the same casts of
/// it in the same order. Two sides of a partition each finish the view on their own: a side
/// that missed the sequencer's last decisions orders the casts they covered by the rule above,
/// so the two sides may disagree on those (as with seqbb.ml); every decision both saw, they
/// both follow.
///
/// Deviations from seqbb.ml:
/// - decisions are batched (one message per loop turn, at most `seqbb_max_runs` runs) instead
///   of one accept message per cast;
/// - the sequencer's own casts and everybody's self-delivery go through the order (seqbb.ml
///   delivered one's own cast only at the sequencer at once, and not at all elsewhere);
/// - the view's end is tied to the flush (above) instead of `Up EView`, by which time Top_appl
///   here has long needed its counts; seqbb.ml ordered the leftovers by rank only and did not
///   make survivors agree on which decisions of a failed sequencer count;
/// - sends to oneself are refused by Top_appl, not delivered locally.
public final class Seqbb: Layer {
    /// "The next `count` casts of `origin`".
    struct Run: Equatable {
        var origin: Rank
        var count: Int
    }

    /// On casts only; sends carry no Seqbb header at all.
    enum Header: LayerHeader {
        /// An application cast, to be ordered.
        case data
        /// The sequencer's decisions since its previous one.
        case order([Run])

        static var carriers: MessageKinds { [.cast] }
        var encodedSizeBound: Int {
            switch self {
            case .data: 1
            case let .order(runs): 1 + 10 + runs.count * 20
            }
        }
        func encode<W: WireWriting>(into w: inout W) {
            switch self {
            case .data: w.write(UInt8(1))
            case let .order(runs):
                w.write(UInt8(2))
                w.writeCount(runs.count)
                for r in runs {
                    w.writeCount(r.origin)
                    w.writeCount(r.count)
                }
            }
        }
        static func decode(tag: UInt8, from r: inout WireReader, members: Int) throws(WireError) -> Header {
            switch tag {
            case 1: return .data
            case 2:
                let n = try r.readCount(limit: Seqbb.maxRunsOnWire)
                var runs: [Run] = []
                runs.reserveCapacity(n)
                for _ in 0 ..< n {
                    let origin = try r.readCount(limit: members - 1)
                    let count = try r.readCount(limit: Seqbb.maxRunLength)
                    guard count > 0 else { throw .invalidValue(field: "Seqbb run", value: 0) }
                    runs.append(Run(origin: origin, count: count))
                }
                return .order(runs)
            default: throw .invalidValue(field: "Seqbb header", value: UInt64(tag))
            }
        }
    }

    /// Decoding limits: far above what an honest sequencer sends.
    static let maxRunsOnWire = 1 << 16
    static let maxRunLength = 1 << 30
    /// The sequencer's rank.
    static let sequencer: Rank = 0

    private let port: LayerPort
    private unowned(unsafe) let services: StackServices  // the host owns its stack
    private let rank: Rank
    private let count: Int
    private let maxRuns: Int
    private var isSequencer: Bool { rank == Seqbb.sequencer }

    // Unchecked exclusivity: never re-entered (see Mnak).
    /// Casts received (or, mine, sent) and not yet delivered, per origin, in FIFO order.
    @exclusivity(unchecked) private var held: [Deque<Packet>]
    /// Decisions received and not yet carried out (at the sequencer: its own casts and what it
    /// decided after them in this turn, delivered at the end of the turn).
    @exclusivity(unchecked) private var orders: Deque<Run> = []
    /// Casts received per origin (mine: sent).
    @exclusivity(unchecked) public private(set) var received: [Int]
    /// Casts delivered per origin (mine included).
    @exclusivity(unchecked) public private(set) var delivered: [Int]
    /// Decision messages received from the sequencer (at the sequencer: sent).
    public private(set) var ordersCounted = 0
    /// The sequencer's decisions of this loop turn, not yet sent.
    @exclusivity(unchecked) private var pending: [Run] = []
    /// Asks for the up `.timer` that ends this loop turn (decisions sent, own casts delivered).
    private var endOfTurn = EndOfTurn()
    /// The sequencer no longer decides (it is blocked: its report must not grow).
    private var frozen = false
    private var failed = RankSet()
    /// The flush's numbers, held until every item they count has arrived.
    private var expected: (casts: [Int], sends: [Int])?
    /// The view's remaining casts have been delivered (the order is over).
    private var finished = false

    public init(_ setup: LayerSetup, _ port: LayerPort, _ services: StackServices) throws(ParameterError) {
        self.port = port
        self.services = services
        rank = setup.rank
        count = setup.count
        maxRuns = try setup.params.int("seqbb_max_runs", default: 256)
        guard maxRuns > 0 else { throw ParameterError("seqbb_max_runs must be positive") }
        held = Array(repeating: Deque(), count: setup.count)
        received = Array(repeating: 0, count: setup.count)
        delivered = Array(repeating: 0, count: setup.count)
    }

    // MARK: Down

    public func down(_ event: consuming Event) {
        switch consume event {
        case .cast(let p, let peer, let flags) where flags.contains(.application):
            var q = p
            q.push(Header.data)
            received[rank] += 1
            port.down(.cast(q, peer: peer, flags: flags))
            held[rank].append(p)
            if isSequencer && !frozen {
                // Decided now, delivered at the end of the turn: never inside the
                // application's own call to cast.
                decide(rank)
                appendRun(rank, to: &orders)
                endOfTurn.request(port, now: services.now)
            }
        case let other:
            port.passDown(other, Header.self)
        }
    }

    // MARK: Up

    public func up(_ event: consuming Event) {
        switch consume event {
        case .cast(var p, let o, let flags):
            guard let h = port.receive(Header.self, &p, .cast, from: o, flags: flags, members: count) else { return }
            guard o != rank else { return }  // Mnak never gives me my own
            switch h {
            case .data: receivedData(p, from: o)
            case let .order(runs): receivedOrder(runs, from: o)
            }
        case let .timer(now):
            endOfTurn.fired()
            if isSequencer && !finished && !orders.isEmpty { deliverOrdered() }
            if !pending.isEmpty { sendOrder() }
            port.up(.timer(now))
        case .block:
            if isSequencer {
                if !orders.isEmpty { deliverOrdered() }
                if !pending.isEmpty { sendOrder() }
                frozen = true
            }
            port.up(counts)
            port.up(.block)
        case let .fail(f):
            if !f.isSubset(of: failed) {
                failed.formUnion(f)
                expected = nil  // the flush starts over with new reports
            }
            port.up(counts)
            port.up(.fail(f))
        case let .syncInfo(casts, sends):
            guard casts.count == count else { port.up(.syncInfo(casts: casts, sends: sends)); return }
            expected = (casts, sends)
            finishIfComplete()
        case .exit:
            held = held.map { _ in Deque() }
            orders = []
            pending = []
            port.up(.exit)
        case let other:
            port.up(other)
        }
    }

    // MARK: The order

    private func receivedData(_ p: Packet, from o: Rank) {
        received[o] += 1
        if finished {
            held[o].append(p)  // beyond what the flush counted: never delivered
        } else if isSequencer && !frozen {
            decide(o)
            if orders.isEmpty {
                deliver(p, from: o)
            } else {
                held[o].append(p)  // behind my own, decided before it
                appendRun(o, to: &orders)
            }
        } else {
            held[o].append(p)
            if !orders.isEmpty { deliverOrdered() }
        }
        if expected != nil { finishIfComplete() }
    }

    private func receivedOrder(_ runs: [Run], from o: Rank) {
        guard o == Seqbb.sequencer, !isSequencer else {
            port.drops.malformedHeaders &+= 1  // only the sequencer decides
            return
        }
        ordersCounted += 1
        orders.append(contentsOf: runs)
        if !finished { deliverOrdered() }
        if expected != nil { finishIfComplete() }
    }

    /// The sequencer: the next cast of `o` goes next in the order (told at the end of the turn).
    @inline(__always) private func decide(_ o: Rank) {
        guard count > 1 else { return }  // alone: nobody to tell
        if let last = pending.last, last.origin == o {
            pending[pending.count - 1].count += 1
            return
        }
        endOfTurn.request(port, now: services.now)
        pending.append(Run(origin: o, count: 1))
        if pending.count >= maxRuns { sendOrder() }
    }

    @inline(__always) private func appendRun<C: RangeReplaceableCollection & MutableCollection & BidirectionalCollection>(_ o: Rank, to runs: inout C) where C.Element == Run {
        if let last = runs.indices.last, runs[last].origin == o { runs[last].count += 1 } else { runs.append(Run(origin: o, count: 1)) }
    }

    private func sendOrder() {
        var p = Packet(headroom: 16 + pending.count * 20)
        p.push(Header.order(pending))
        pending.removeAll(keepingCapacity: true)
        ordersCounted += 1
        port.down(.cast(p, peer: rank, flags: []))
    }

    @inline(__always) private func deliver(_ p: Packet, from o: Rank) {
        delivered[o] += 1
        port.up(.cast(p, peer: o, flags: .application))
    }

    /// Delivers held casts in the order of the decisions, as far as they have arrived.
    private func deliverOrdered() {
        while let run = orders.first {
            var left = run.count
            while left > 0, let p = held[run.origin].popFirst() {
                deliver(p, from: run.origin)
                left -= 1
            }
            if left > 0 {
                orders[orders.startIndex].count = left
                return
            }
            orders.removeFirst()
        }
    }

    /// What Top_appl reports for the flush: casts received per origin, mine sent, and the
    /// sequencer's slot with its decisions (one FIFO stream).
    private var counts: Event {
        var casts = received
        casts[Seqbb.sequencer] += ordersCounted
        return .applCounts(casts: casts, sends: [])
    }

    /// Once every item the flush counts has arrived: delivers the rest of the view's casts in
    /// the one order every survivor computes, and lets Top_appl finish the flush.
    private func finishIfComplete() {
        guard let e = expected else { return }
        let items = counts
        guard case let .applCounts(have, _) = items else { return }
        for o in 0 ..< count where o != rank && have[o] < e.casts[o] { return }
        // How many casts of each origin the view delivers: the sequencer's slot also counts
        // its decisions (all of which are here).
        var limit = e.casts
        limit[rank] = received[rank]
        limit[Seqbb.sequencer] = max(0, limit[Seqbb.sequencer] - ordersCounted)
        finished = true
        while let run = orders.popFirst() {
            for _ in 0 ..< run.count where delivered[run.origin] < limit[run.origin] {
                guard let p = held[run.origin].popFirst() else { break }  // no survivor has it
                deliver(p, from: run.origin)
            }
        }
        for o in 0 ..< count {
            while delivered[o] < limit[o], let p = held[o].popFirst() { deliver(p, from: o) }
        }
        expected = nil
        port.up(.syncInfo(casts: delivered, sends: e.sends))
    }
}
