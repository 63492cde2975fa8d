import Simulation
import SoakCheck
import Testing

/// What the soak measures on the merged logs: leave times (and their stragglers), failover
/// after a kill, transfers, traffic and the longest blocked interval.
@Suite struct LeaveTimesAndMetricsTests {
    typealias R = RecordedRun

    @Test func leaveIsTimedToItsLastSurvivor() throws {
        let h = R.leave.analyze(R.facts(live: [0, 1])).history
        let leaves = LeaveTimes.measure(h)
        let l = try #require(leaves.first)
        #expect(leaves.count == 1)
        #expect(l.leaver == R.member(2) && l.at == 0.003 && l.seconds == 0.0006 && l.stragglers.isEmpty)
    }

    @Test func survivorThatNeverExcludesTheLeaverIsAStraggler() throws {
        var r = R.leave
        r.remove("m1.1.log", at: 3600)
        r.remove("m1.1.log", at: 9100)
        let h = r.analyze(R.facts(live: [0, 1])).history
        let l = try #require(LeaveTimes.measure(h).first)
        #expect(l.seconds == 0.0004 && l.stragglers == [R.member(1)])
        let check = LeaveTimes.check([l], bound: 1)
        #expect(check.details == ["p2.1 left at 0.0 s; p1.1 never installed a view without it"])
    }

    @Test func survivorKilledBeforeTheLeaveIsNotWaitedFor() throws {
        var r = R.leave
        r.remove("m1.1.log", at: 3600)
        r.remove("m1.1.log", at: 9100)
        r.soak.insert("2900 kill 1 1 killed", at: 0)
        let h = r.analyze(R.facts(live: [0])).history
        let l = try #require(LeaveTimes.measure(h).first)
        #expect(l.seconds == 0.0004 && l.stragglers.isEmpty)
    }

    @Test func metricsOfTheCleanRun() throws {
        let m = R.clean.analyze().metrics
        #expect(m.casts == 3 && m.sends == 3 && m.deliveries == 8)
        #expect(m.viewsInstalled == 6 && m.distinctViews == 3)
        #expect(m.transfers == 1 && m.transferSeconds == [0.0001])
        #expect(m.failoverSeconds.isEmpty && m.sendsMovedUp == 0)
        let b = try #require(m.longestBlocked)
        #expect(b.seconds == 0.0011 && b.member == "p1.1" && b.at == 0.0041)
    }

    @Test func failoverIsTimedFromTheKillToTheLastSurvivorsView() {
        let m = R.crashed.analyze(R.facts(live: [0, 1])).metrics
        #expect(m.failoverSeconds == [0.0006])
    }

    @Test func medianOfOddEvenAndEmpty() {
        #expect(median([]) == nil)
        #expect(median([3, 1, 2]) == 2)
        #expect(median([4, 1, 3, 2]) == 2.5)
    }

    @Test func numbersAreFormattedShort() {
        #expect(fmt(1) == "1" && fmt(20) == "20" && fmt(0.0005) == "0.0005" && fmt(4.9) == "4.9" && fmt(1.23456) == "1.23")
    }
}
