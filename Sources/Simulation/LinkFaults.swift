import Ensemble

/// How the simulated network treats datagrams on one directed link (sender process to
/// receiver process). Probabilities are per datagram, in [0, 1].
///
/// Order of decisions for each datagram sent on a link: it is `drop`ped (whole, no copies),
/// or it is scheduled with a delay drawn uniformly from `delay`; with probability `reorder` it
/// gets an extra delay (uniform in 0...3 × `delay.upperBound`) and is exempt from the FIFO
/// rule, so others can overtake it and it can overtake others; otherwise its arrival is
/// clamped to be no earlier than the previous non-reordered arrival on the link, so the link
/// is FIFO. With probability `duplicate` a second copy is scheduled the same way, with its
/// own independently drawn delay (and its own reorder draw). Without reordering, a receiver
/// therefore sees each link's datagrams in send order, copies included.
public struct LinkFaults: Equatable, Sendable, CustomStringConvertible {
    /// Probability that a datagram is lost.
    public var drop: Double
    /// Probability that a datagram that is not lost is delivered twice.
    public var duplicate: Double
    /// Probability that a datagram is delayed further and may be overtaken.
    public var reorder: Double
    /// One-way latency, drawn uniformly to the nanosecond for each datagram.
    public var delay: ClosedRange<Time>

    /// Faults with the given probabilities (none by default) and delay (a LAN's by default).
    public init(
        drop: Double = 0, duplicate: Double = 0, reorder: Double = 0,
        delay: ClosedRange<Time> = LinkFaults.defaultDelay
    ) {
        self.drop = drop
        self.duplicate = duplicate
        self.reorder = reorder
        self.delay = delay
    }

    /// 100 µs to 200 µs: a LAN.
    public static let defaultDelay: ClosedRange<Time> = Time.microseconds(100)...Time.microseconds(200)

    /// A perfect LAN: no loss, duplication or reordering, the default delay.
    public static let none = LinkFaults()

    public var description: String {
        "drop=\(drop) dup=\(duplicate) reorder=\(reorder) delay=\(delay.lowerBound)...\(delay.upperBound)"
    }
}

extension LinkFaults {
    /// Per-link, per-direction fault rates drawn from `rng` for the network faults in
    /// `faults`: up to 20% loss, 10% duplication, 20% reordering, 0.2 to 20 ms of delay.
    public static func random(for faults: FaultSet, rng r: inout SimRandom, processes: [SimProcess]) -> [(SimProcess, SimProcess, LinkFaults)] {
        var out: [(SimProcess, SimProcess, LinkFaults)] = []
        for a in processes {
            for b in processes where a !== b {
                var f = LinkFaults.none
                if faults.contains(.loss) { f.drop = r.double() * 0.2 }
                if faults.contains(.dup) { f.duplicate = r.double() * 0.1 }
                if faults.contains(.reorder) { f.reorder = r.double() * 0.2 }
                if faults.contains(.delay) {
                    f.delay = .microseconds(100) ... .microseconds(Int64(200 + r.double() * 20_000))
                }
                out.append((a, b, f))
            }
        }
        return out
    }
}
