import Ensemble
import Testing
@testable import Reactor

@Suite struct TimerTests {
    @Test func timersFireInDeadlineOrder() {
        let reactor = Reactor()
        var fired: [Int] = []
        // Scheduled out of order on purpose.
        let delays: [(Int, Int64)] = [(3, 30), (1, 10), (5, 50), (2, 20), (4, 40)]
        for (id, ms) in delays {
            reactor.after(.milliseconds(ms)) { fired.append(id) }
        }
        #expect(reactor.run(until: { fired.count == 5 }, timeout: .seconds(5)))
        #expect(fired == [1, 2, 3, 4, 5])
    }

    @Test func cancelledTimerNeverFires() {
        let reactor = Reactor()
        var cancelledFired = false
        var laterFired = false
        let t = reactor.after(.milliseconds(5)) { cancelledFired = true }
        t.cancel()
        #expect(!t.isScheduled)
        reactor.after(.milliseconds(30)) { laterFired = true }
        #expect(reactor.run(until: { laterFired }, timeout: .seconds(5)))
        #expect(!cancelledFired)
    }

    @Test func timerCancelledByAnEarlierTimerDoesNotFire() {
        let reactor = Reactor()
        var victimFired = false
        var done = false
        let victim = reactor.after(.milliseconds(20)) { victimFired = true }
        reactor.after(.milliseconds(5)) { victim.cancel() }
        reactor.after(.milliseconds(40)) { done = true }
        #expect(reactor.run(until: { done }, timeout: .seconds(5)))
        #expect(!victimFired)
    }

    @Test func repeatingTimerTicksUntilCancelled() {
        let reactor = Reactor()
        var ticks = 0
        var timer: LoopTimer?
        timer = reactor.every(.milliseconds(2)) {
            ticks += 1
            if ticks == 5 { timer?.cancel() }
        }
        #expect(reactor.run(until: { ticks == 5 && timer?.isScheduled == false }, timeout: .seconds(5)))
        reactor.run(for: .milliseconds(20))
        #expect(ticks == 5)
    }

    @Test func timerCanRescheduleItselfFromItsHandler() {
        let reactor = Reactor()
        var count = 0
        var timer: LoopTimer?
        timer = LoopTimer(reactor) {
            count += 1
            if count < 3 { timer?.schedule(after: .milliseconds(1)) }
        }
        timer?.schedule(after: .milliseconds(1))
        #expect(reactor.run(until: { count == 3 }, timeout: .seconds(5)))
        reactor.run(for: .milliseconds(10))
        #expect(count == 3)
    }

    @Test func runUntilReturnsWhenConditionHoldsAndFalseAtTimeout() {
        let reactor = Reactor()
        var flag = false
        reactor.after(.milliseconds(10)) { flag = true }
        #expect(reactor.run(until: { flag }, timeout: .seconds(5)))

        let before = reactor.now
        #expect(!reactor.run(until: { false }, timeout: .milliseconds(30)))
        reactor.updateNow()
        #expect(reactor.now - before >= .milliseconds(25))
    }

    @Test func stopEndsRunFromACallback() {
        let reactor = Reactor()
        let keepAlive = reactor.every(.seconds(10)) {}
        reactor.after(.milliseconds(5)) { reactor.stop() }
        reactor.run()  // returns only because of stop()
        keepAlive.cancel()
    }

    @Test func runForAdvancesTheClock() {
        let reactor = Reactor()
        let start = reactor.now
        reactor.run(for: .milliseconds(20))
        #expect(reactor.now - start >= .milliseconds(19))
    }

    @Test func idleWatcherRunsOncePerArming() {
        let reactor = Reactor()
        var idles = 0
        let idle = IdleWatcher(reactor) { idles += 1 }
        idle.arm()
        idle.arm()  // idempotent
        reactor.run(for: .milliseconds(10))
        #expect(idles == 1)
        idle.arm()
        reactor.run(for: .milliseconds(10))
        #expect(idles == 2)
    }
}
