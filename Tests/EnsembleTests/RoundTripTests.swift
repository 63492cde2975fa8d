import Testing
@testable import Ensemble

@Suite struct RoundTripTests {
    let peer = EndpointID(host: 1, port: 2, counter: 0, incarnation: 3)

    @Test func theFirstSampleSetsTheEstimateAndLaterOnesSmoothIt() {
        var e = RoundTripEstimator()
        #expect(e.timeout(initial: .milliseconds(50)) == .milliseconds(50), "before any sample")
        e.sample(.milliseconds(8))
        #expect(e.smoothed == .milliseconds(8) && e.variation == .milliseconds(4))
        #expect(e.timeout(initial: .zero) == .milliseconds(24), "SRTT + 4 RTTVAR")
        e.sample(.milliseconds(16))
        #expect(e.smoothed == .milliseconds(9), "7/8 of 8 + 1/8 of 16")
        #expect(e.variation == .milliseconds(5), "3/4 of 4 + 1/4 of 8")
    }

    @Test func theTimeoutIsClampedAndBacksOffToTheCeiling() {
        let rt = RoundTrips()
        #expect(rt.rto(peer, ceiling: .seconds(1)) == RoundTrips.defaultInitial)
        rt.sample(peer, .microseconds(50))  // loopback: far below the floor
        #expect(rt.rto(peer, ceiling: .seconds(1)) == RoundTrips.defaultMinimum)
        #expect(rt.rto(peer, backoff: 1, ceiling: .seconds(1)) == .milliseconds(20))
        #expect(rt.rto(peer, backoff: 3, ceiling: .seconds(1)) == .milliseconds(80))
        #expect(rt.rto(peer, backoff: 30, ceiling: .seconds(1)) == .seconds(1), "never past the sweep")
        #expect(rt.rto(peer, backoff: 2, ceiling: .milliseconds(15)) == .milliseconds(15))
    }

    @Test func peersOutsideTheViewAreForgotten() {
        let rt = RoundTrips()
        let other = EndpointID(host: 1, port: 3, counter: 0, incarnation: 3)
        rt.sample(peer, .milliseconds(5))
        rt.sample(other, .milliseconds(5))
        rt.keep(only: [peer])
        #expect(rt.estimate(peer) != nil && rt.estimate(other) == nil)
    }
}
