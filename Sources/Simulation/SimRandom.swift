import Ensemble

/// A seeded pseudo-random generator for simulations: xoshiro256** seeded through SplitMix64.
///
/// Pure integer arithmetic on fixed-width values, so a seed yields the same stream on every
/// run, platform and compiler. Not cryptographic. A value type: copying it forks the stream
/// (both copies then produce the same numbers); use `split()` to derive an independent one.
///
/// It conforms to `RandomNumberGenerator` for convenience, but the standard library's
/// `random(in:using:)` algorithms are not promised to stay the same across Swift releases:
/// code that must replay exactly should use this type's own methods.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        s0 = SimRandom.splitMix64(&sm)
        s1 = SimRandom.splitMix64(&sm)
        s2 = SimRandom.splitMix64(&sm)
        s3 = SimRandom.splitMix64(&sm)
        // SplitMix64 never yields four zero words in a row, so the state is never all zero.
    }

    /// A generator for sub-stream `stream` of `seed`: streams of one seed are independent of
    /// each other and of `init(seed:)`. Used to give each component its own stable stream.
    public init(seed: UInt64, stream: UInt64) {
        var sm = stream &* 0xD1B5_4A32_D192_ED03 ^ 0x5851_F42D_4C95_7F2D
        let salt = SimRandom.splitMix64(&sm)
        self.init(seed: seed ^ salt)
    }

    /// One step of SplitMix64 (Steele, Lea, Flood), the recommended seeder for xoshiro.
    @inlinable
    public static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 uniformly distributed bits (xoshiro256**, Blackman and Vigna).
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// A uniformly distributed value in [0, 1) with 53 bits of precision.
    @inline(__always)
    public mutating func double() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniformly distributed value in `[0, bound)`, without modulo bias (Lemire's method).
    /// `bound` must be positive.
    public mutating func uint64(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "SimRandom.uint64(below:) needs a positive bound")
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold {
                m = next().multipliedFullWidth(by: bound)
            }
        }
        return m.high
    }

    /// A uniformly distributed value in `range`, which must not be empty.
    public mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "SimRandom.int(in:) needs a non-empty range")
        let span = UInt64(UInt(bitPattern: range.upperBound &- range.lowerBound))
        return range.lowerBound &+ Int(truncatingIfNeeded: uint64(below: span))
    }

    /// A uniformly distributed value in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(UInt(bitPattern: range.upperBound &- range.lowerBound))
        if span == .max { return Int(truncatingIfNeeded: next()) }
        return range.lowerBound &+ Int(truncatingIfNeeded: uint64(below: span &+ 1))
    }

    /// A uniformly distributed time in `range`, to the nanosecond. Draws nothing when the
    /// range holds a single value.
    public mutating func time(in range: ClosedRange<Time>) -> Time {
        let lo = range.lowerBound.nanoseconds
        let span = UInt64(bitPattern: range.upperBound.nanoseconds &- lo)
        if span == 0 { return range.lowerBound }
        if span == .max { return Time(nanoseconds: Int64(bitPattern: next())) }
        return Time(nanoseconds: lo &+ Int64(bitPattern: uint64(below: span &+ 1)))
    }

    /// True with probability `p`. Draws nothing when `p <= 0` (always false) or `p >= 1`
    /// (always true), so a fault that is switched off does not disturb the stream.
    @inline(__always)
    public mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return double() < p
    }

    /// A new generator seeded from this one's output: its stream is independent of the rest
    /// of this one's (which advances by one draw).
    public mutating func split() -> SimRandom {
        SimRandom(seed: next())
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }
}
