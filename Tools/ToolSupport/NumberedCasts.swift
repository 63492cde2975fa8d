import Ensemble
import Foundation
import Reactor

/// The application of every tool member that runs a bare protocol endpoint (the soak's
/// `member`, the benchmarks' processes and in-process groups): numbered casts with a checksum,
/// and a send time where there is room, checked on receipt.
///
/// A cast is `SEQ (8) | CHECK (8) | SENT-AT (8, monotonic ns; 0: none) | filler`, big-endian;
/// messages of 16 to 23 bytes carry no send time. Each sender numbers its casts from 0 for its
/// whole life (a new endpoint starts again). A receiver keeps the next number it expects from
/// each member across views and counts what comes back: `outOfOrder` (a number below the
/// expected one: reordered or duplicated), `gaps` (numbers skipped: lost, or missed while in
/// another partition), `corrupt` (wrong size or checksum). In a static lossless group the
/// three stay 0 (what the throughput benchmark checks).
public final class NumberedCasts: GroupApplication {
    public var endpoint: GroupEndpoint?
    public let size: Int
    /// Pump casts flat out (window permitting) while true.
    public var sending = false
    /// The most casts this member makes (a fixed amount of work: `throughput --messages`).
    public var limit = Int.max
    // The counters updated at every delivery have unchecked exclusivity: no access to them
    // ever overlaps another (one thread, no callback inside their updates), and the dynamic
    // checks were a tenth of the instructions a benchmark counts per delivered message.
    public private(set) var sent = 0
    @exclusivity(unchecked) public private(set) var received = 0
    @exclusivity(unchecked) public private(set) var outOfOrder = 0
    @exclusivity(unchecked) public private(set) var gaps = 0
    @exclusivity(unchecked) public private(set) var corrupt = 0
    /// Times the window was full while pumping.
    public private(set) var fullWaits = 0
    /// Monotonic seconds of the first and last arrival (with `timesArrivals`).
    public private(set) var firstArrival = 0.0
    @exclusivity(unchecked) public private(set) var lastArrival = 0.0
    /// One-way delays in microseconds of the casts that carried a send time.
    @exclusivity(unchecked) public private(set) var latencies: [Double] = []
    /// A running hash (FNV-1a style) of the sequence of casts delivered here, as (origin rank,
    /// number): members that deliver the same casts in the same order end with the same hash
    /// (what `maestro-perf throughput --total` compares).
    @exclusivity(unchecked) public private(set) var orderHash: UInt64 = 0xCBF2_9CE4_8422_2325
    /// Read the clock at every arrival (for rates measured at the receivers).
    public var timesArrivals = false
    public private(set) var view: ViewState?
    public private(set) var rank: Rank = 0
    public var onView: ((ViewState, Rank) -> Void)?
    public var onBlock: (() -> Void)?
    public var onExit: (() -> Void)?

    private var payload: [UInt8]
    @exclusivity(unchecked) private var nextFrom: [UInt64] = []
    private var blocked = false
    private let burst: Int
    private var continuation: LoopTimer?

    /// `reactor`: if given, a pump that stopped after `burst` casts (so receivers get the
    /// loop) resumes at the next loop turn by itself; without one, the caller calls `pump()`
    /// again (a timer of its own).
    public init(size: Int, reactor: Reactor? = nil, burst: Int = 256) {
        precondition(size >= 16, "numbered casts need at least 16 bytes")
        self.size = size
        self.burst = burst
        payload = [UInt8](repeating: 0, count: size)
        if let reactor {
            continuation = LoopTimer(reactor, label: "flat-out casts") { [unowned(unsafe) self] in self.pump() }
        }
    }

    public static func check(_ seq: UInt64) -> UInt64 { seq &* 0x9E37_79B9_7F4A_7C15 ^ 0x5EED_CA57 }

    // MARK: Sending

    private func fill(_ seq: UInt64, stamped: Bool) {
        let stamp = stamped && size >= 24 ? UInt64(monotonicNow() * 1e9) : 0
        payload.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: seq.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: NumberedCasts.check(seq).bigEndian, toByteOffset: 8, as: UInt64.self)
            if size >= 24 { raw.storeBytes(of: stamp.bigEndian, toByteOffset: 16, as: UInt64.self) }
        }
    }

    /// Casts the next numbered message; false if the endpoint did not take it.
    @discardableResult
    public func castOne(stamped: Bool = false) -> Bool {
        guard let endpoint, sent < limit else { return false }
        fill(UInt64(sent), stamped: stamped)
        switch payload.withUnsafeBytes({ endpoint.cast(Packet(payload: $0)) }) {
        case .sent:
            sent += 1
            return true
        case .full:
            blocked = true
            fullWaits += 1
            return false
        case .blocked, .rejected:
            return false
        }
    }

    /// Casts while `sending` until the window is full (`writable` resumes) or `burst` casts
    /// went out (the continuation, if any, resumes at the next loop turn).
    public func pump() {
        guard sending, !blocked else { return }
        for _ in 0 ..< burst {
            guard sending, castOne() else { return }
        }
        continuation?.schedule(after: .zero)
    }

    // MARK: Checking

    /// True when every other member's casts, numbered below `sent[rank]`, have arrived
    /// (ranks of a static view).
    public func caughtUp(_ sent: [Int]) -> Bool {
        sent.enumerated().allSatisfy { o, n in o == rank || o >= nextFrom.count || nextFrom[o] >= UInt64(n) }
    }

    /// How many of the casts numbered below `sent[rank]` of the other members never arrived.
    public func missing(_ sent: [Int]) -> Int {
        sent.enumerated().reduce(0) { acc, x in
            x.offset == rank || x.offset >= nextFrom.count ? acc : acc + max(0, x.element - Int(nextFrom[x.offset]))
        }
    }

    // MARK: GroupApplication

    public func install(view: ViewState, rank: Rank) {
        // Carry each member's next expected number over to its rank in the new view.
        var carried: [EndpointID: UInt64] = [:]
        if let old = self.view { for (r, id) in old.members.enumerated() where r < nextFrom.count { carried[id] = nextFrom[r] } }
        nextFrom = view.members.map { carried[$0] ?? 0 }
        self.view = view
        self.rank = rank
        blocked = false
        onView?(view, rank)
        if sending { pump() }
    }

    public func block() { onBlock?() }

    public func receiveCast(from origin: Rank, _ p: Packet) {
        p.withBytes { b in
            guard b.count == size, origin < nextFrom.count else {
                corrupt += 1
                return
            }
            let seq = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
            let check = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if check != NumberedCasts.check(seq) { corrupt += 1 }
            orderHash = (orderHash ^ (UInt64(origin) &<< 48 ^ seq)) &* 0x100_0000_01B3
            let expected = nextFrom[origin]
            if seq < expected { outOfOrder += 1 } else { gaps += Int(seq - expected) }
            nextFrom[origin] = max(expected, seq + 1)
            if b.count >= 24 {
                let stamp = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                if stamp != 0 { latencies.append((monotonicNow() - Double(stamp) / 1e9) * 1e6) }
            }
        }
        if timesArrivals {
            let now = monotonicNow()
            if received == 0 { firstArrival = now }
            lastArrival = now
        }
        received += 1
    }

    public func receiveSend(from origin: Rank, _ payload: Packet) {}

    public func writable(peer: Rank?) {
        guard peer == nil else { return }
        blocked = false
        pump()
    }

    public func exit() { onExit?() }
}

/// Seconds on the monotonic clock.
public func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
