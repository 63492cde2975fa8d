/// A layer's request to run once more when the current loop turn's events are handled: an up
/// `.timer` for now, asked for at most once per turn. Seqbb and Local deliver a member's own
/// casts there, never inside the application's call to cast.
struct EndOfTurn {
    private(set) var due = false

    /// Asks for the up `.timer` (once until it comes).
    @inline(__always) mutating func request(_ port: LayerPort, now: Time) {
        guard !due else { return }
        due = true
        port.down(.timer(now))
    }

    /// The up `.timer` came.
    @inline(__always) mutating func fired() { due = false }
}
