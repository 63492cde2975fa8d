/// Round-trip estimates per peer, and the retransmission timeout they give (RFC 6298):
/// RTO = SRTT + 4·RTTVAR, clamped to [`rto_min`, the layer's sweep], doubled on each
/// unanswered retransmission (backoff) and reset by the next sample. Samples come from Pt2pt
/// (a send and the ack that first covers it, never from a retransmitted one: Karn's rule). The
/// estimates belong to the endpoint, not to one view, so a new view's stack starts with what
/// the previous one learnt; a peer never measured gets `rto_initial`.
public struct RoundTripEstimator: Sendable, Equatable {
    public private(set) var smoothed: Time?
    public private(set) var variation: Time = .zero
    public private(set) var samples = 0

    public init() {}

    public mutating func sample(_ r: Time) {
        let r = max(r, .zero)
        samples += 1
        guard let s = smoothed else {
            smoothed = r
            variation = Time(nanoseconds: r.nanoseconds / 2)
            return
        }
        let err = Time(nanoseconds: abs(s.nanoseconds - r.nanoseconds))
        variation = Time(nanoseconds: (3 * variation.nanoseconds + err.nanoseconds) / 4)
        smoothed = Time(nanoseconds: (7 * s.nanoseconds + r.nanoseconds) / 8)
    }

    /// The timeout, before backoff and clamping: SRTT + 4·RTTVAR (at least a millisecond of
    /// variation, the loop's granularity), or `initial` before any sample.
    public func timeout(initial: Time) -> Time {
        guard let s = smoothed else { return initial }
        return s + max(.milliseconds(1), variation * 4)
    }
}

/// The estimates of every peer of an endpoint, and the timeout policy the layers share.
public final class RoundTrips {
    public var minimum: Time = RoundTrips.defaultMinimum
    public var initial: Time = RoundTrips.defaultInitial
    private var peers: [EndpointID: RoundTripEstimator] = [:]

    /// 10 ms: below, a busy loop turn alone would trigger spurious retransmissions.
    public static let defaultMinimum = Time.milliseconds(10)
    /// 50 ms: a LAN's answer is long back by then; a slower network raises it with samples.
    public static let defaultInitial = Time.milliseconds(50)

    public init() {}

    public func sample(_ peer: EndpointID, _ r: Time) { peers[peer, default: RoundTripEstimator()].sample(r) }

    public func estimate(_ peer: EndpointID) -> RoundTripEstimator? { peers[peer] }

    /// The retransmission timeout toward `peer` after `backoff` doublings, within
    /// [`minimum`, `ceiling`].
    public func rto(_ peer: EndpointID, backoff: Int = 0, ceiling: Time) -> Time {
        let base = max(minimum, peers[peer]?.timeout(initial: initial) ?? initial)
        let doubled = base * Int64(1 << min(max(backoff, 0), 20))
        return min(max(doubled, minimum), max(ceiling, minimum))
    }

    /// Forgets peers that are not in `members` (called at each new view).
    public func keep(only members: [EndpointID]) {
        guard peers.count > members.count else { return }
        let keep = Set(members)
        peers = peers.filter { keep.contains($0.key) }
    }
}
