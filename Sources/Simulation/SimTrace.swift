import Ensemble

/// How much of a run's trace a `SimWorld` keeps.
public enum TraceMode: Sendable {
    /// One text line per event (`SimWorld.traceLines`) and the running digest.
    case full
    /// Only the running 64-bit digest (`SimWorld.traceDigest`): no strings are built, so this
    /// is the mode for many seeded runs. The digest equals the one `.full` computes.
    case digestOnly
    /// Nothing: the digest stays at its initial value.
    case off
}

/// 64-bit FNV-1a, the hash of the trace digest and of datagram contents in the trace.
public enum FNV1a {
    /// The FNV-1a 64-bit offset basis: the hash of no bytes.
    public static let offsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    /// The FNV-1a 64-bit prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// Folds `bytes` into `hash`.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, into hash: inout UInt64) {
        var h = hash
        for b in bytes {
            h = (h ^ UInt64(b)) &* prime
        }
        hash = h
    }

    /// Folds the eight bytes of `value`, least significant first, into `hash`.
    @inlinable
    public static func hash(_ value: UInt64, into hash: inout UInt64) {
        var h = hash
        var v = value
        for _ in 0..<8 {
            h = (h ^ (v & 0xFF)) &* prime
            v >>= 8
        }
        hash = h
    }

    /// The hash of `bytes` alone.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = offsetBasis
        hash(bytes, into: &h)
        return h
    }
}

/// What a trace record is about. The raw value is folded into the digest, so changing it
/// changes every digest.
enum SimTraceKind: UInt64 {
    case boot = 1, crash, restart, bind, close
    case send, deliver, drop, duplicate
    case wake, idle, event, partition, heal, note
}

/// The trace of one run: the digest always (unless `.off`), text lines in `.full` mode.
///
/// A record is a kind, the time and up to five integer fields, plus optionally one string;
/// the digest folds exactly those, so it does not depend on how the text line is worded and
/// `.full` and `.digestOnly` agree.
struct SimTrace {
    let mode: TraceMode
    private(set) var digest: UInt64 = FNV1a.offsetBasis
    private(set) var lines: [String] = []

    init(mode: TraceMode) { self.mode = mode }

    var isOn: Bool { mode != .off }

    /// Folds one record into the digest. Called through `SimWorld.record`, which builds the
    /// text line (only in `.full` mode) outside this mutation.
    @inline(__always)
    mutating func fold(
        _ kind: SimTraceKind, at time: Time,
        _ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, text: String?
    ) {
        var h = digest
        FNV1a.hash(kind.rawValue, into: &h)
        FNV1a.hash(UInt64(bitPattern: time.nanoseconds), into: &h)
        FNV1a.hash(a, into: &h)
        FNV1a.hash(b, into: &h)
        FNV1a.hash(c, into: &h)
        FNV1a.hash(d, into: &h)
        FNV1a.hash(e, into: &h)
        if let text {
            FNV1a.hash(UInt64(text.utf8.count), into: &h)
            for byte in text.utf8 { h = (h ^ UInt64(byte)) &* FNV1a.prime }
        }
        digest = h
    }

    mutating func append(line: String, at time: Time) {
        lines.append(SimTrace.format(time) + " " + line)
    }

    /// Seconds with all nine decimals, so a line shows the exact nanosecond.
    static func format(_ time: Time) -> String {
        if time == .never { return "never" }
        let ns = time.nanoseconds
        let sign = ns < 0 ? "-" : ""
        let magnitude = ns.magnitude
        let fraction = String(magnitude % 1_000_000_000)
        return "\(sign)\(magnitude / 1_000_000_000).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"
    }

    /// Sixteen lowercase hex digits.
    static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension Address {
    /// The address packed into one integer for the trace digest.
    var traceKey: UInt64 { UInt64(ip) << 16 | UInt64(port) }
}
