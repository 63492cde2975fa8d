/// Datagrams for a view not installed yet (its View message is on its way): held so that
/// they are replayed when it is, instead of waiting for a retransmission round. Bounded in
/// count (`limit`) and age (`maxAge`).
struct EarlyDatagrams {
    struct Held {
        var view: UInt64
        var bytes: [UInt8]
        var at: Time
        var source: Address
    }

    static let limit = 256
    static let maxAge = Time.seconds(2)

    private var held: [Held] = []

    /// Forgets the datagrams held longer than `maxAge` at `now`.
    mutating func forgetExpired(now: Time) {
        held.removeAll { now - $0.at > EarlyDatagrams.maxAge }
    }

    /// Holds a copy of `datagram`, for view hash `view`, if there is room.
    mutating func hold(_ datagram: UnsafeRawBufferPointer, view: UInt64, from source: Address, at now: Time) {
        if held.count < EarlyDatagrams.limit { held.append(Held(view: view, bytes: Array(datagram), at: now, source: source)) }
    }

    /// Removes and returns the datagrams held for view hash `view`, oldest first.
    mutating func take(view: UInt64) -> [Held] {
        let waiting = held.filter { $0.view == view }
        if !waiting.isEmpty { held.removeAll { $0.view == view } }
        return waiting
    }
}
