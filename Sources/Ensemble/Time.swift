/// A point on a clock, or a span between two points, in nanoseconds.
///
/// The engine never reads a clock itself: the shell (the libev reactor or the simulator)
/// stamps every event with the current `Time`. One type serves for instants and spans, as in
/// Ensemble's `Time.t`; integer nanoseconds keep simulated runs exact and reproducible.
public struct Time: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Time(nanoseconds: 0)
    /// Later than any time a run will reach; "never" for deadlines.
    public static let never = Time(nanoseconds: .max)

    @inlinable public static func seconds(_ s: Double) -> Time {
        Time(nanoseconds: Int64((s * 1e9).rounded()))
    }
    @inlinable public static func milliseconds(_ ms: Int64) -> Time { Time(nanoseconds: ms &* 1_000_000) }
    @inlinable public static func microseconds(_ us: Int64) -> Time { Time(nanoseconds: us &* 1_000) }

    /// A span given as a Swift `Duration` (saturating beyond ±292 years).
    public init(_ duration: Duration) {
        let (s, atto) = duration.components
        let (ns, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
        let (sum, o2) = ns.addingReportingOverflow(atto / 1_000_000_000)
        nanoseconds = o1 || o2 ? (s < 0 ? .min : .max) : sum
    }

    /// This span as a Swift `Duration`.
    public var duration: Duration { .nanoseconds(nanoseconds) }

    @inlinable public var seconds: Double { Double(nanoseconds) / 1e9 }
    @inlinable public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    @inlinable public static func < (a: Time, b: Time) -> Bool { a.nanoseconds < b.nanoseconds }
    /// Saturating, so that `now + span` never traps near `.never`.
    @inlinable public static func + (a: Time, b: Time) -> Time {
        let (r, o) = a.nanoseconds.addingReportingOverflow(b.nanoseconds)
        return Time(nanoseconds: o ? (b.nanoseconds > 0 ? .max : .min) : r)
    }
    @inlinable public static func - (a: Time, b: Time) -> Time {
        let (r, o) = a.nanoseconds.subtractingReportingOverflow(b.nanoseconds)
        return Time(nanoseconds: o ? (b.nanoseconds < 0 ? .max : .min) : r)
    }
    @inlinable public static func += (a: inout Time, b: Time) { a = a + b }
    @inlinable public static func * (a: Time, k: Int64) -> Time { Time(nanoseconds: a.nanoseconds &* k) }

    public var description: String {
        if self == .never { return "never" }
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        let micros = String(magnitude % 1_000_000_000 / 1_000)
        return "\(sign)\(magnitude / 1_000_000_000).\(String(repeating: "0", count: 6 - micros.count))\(micros)s"
    }
}
