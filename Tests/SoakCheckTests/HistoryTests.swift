import Ensemble
import Simulation
import SoakCheck
import Testing

/// The merge of every log into one `Recorder` history: time order across logs, sends first
/// at equal times, and a send logged after a delivery of it moved up to just before it.
@Suite struct HistoryTests {
    typealias R = RecordedRun

    /// Where p0's cast #2 and p1's delivery of it are in the merged history.
    private func positions(_ h: History) -> (sent: Int?, delivered: Int?) {
        let entries = h.recorder.entries
        let sent = entries.firstIndex {
            if case let .sent(s) = $0 { s.origin == R.member(0) && s.seq == 2 } else { false }
        }
        let delivered = entries.firstIndex {
            if case let .delivered(d) = $0 { d.receiver == R.member(1) && d.message?.seq == 2 } else { false }
        }
        return (sent, delivered)
    }

    @Test func sendLoggedAfterItsDeliveryIsMovedUpBeforeIt() throws {
        var r = R.clean
        // p0's clock read came 60 µs after p1 logged the delivery (p1 at 6500, p2 at 6700).
        r.replace("m0.1.log", at: 6000, with: "6560 cast 2@\(R.e0) 2 20")
        let a = r.analyze()
        #expect(a.history.sendsMovedUp == 1)
        #expect(a.failed.isEmpty, "\(a.failed)")
        let (sent, delivered) = positions(a.history)
        let s = try #require(sent)
        let d = try #require(delivered)
        #expect(s + 1 == d)
        // Recorded once, not again at its own time.
        let casts = a.history.recorder.entries.filter { if case let .sent(x) = $0 { x.seq == 2 } else { false } }
        #expect(casts.count == 1)
    }

    @Test func sendAtTheSameMicrosecondAsItsDeliveryComesFirst() throws {
        var r = R.clean
        r.replace("m0.1.log", at: 6000, with: "6500 cast 2@\(R.e0) 2 20")
        let a = r.analyze()
        #expect(a.history.sendsMovedUp == 0)
        #expect(a.failed.isEmpty, "\(a.failed)")
        let (sent, delivered) = positions(a.history)
        let s = try #require(sent)
        let d = try #require(delivered)
        #expect(s < d)
    }

    @Test func entriesFollowTheTimestampsAcrossLogs() {
        let h = R.crashed.analyze(R.facts(live: [0, 1])).history
        let times = h.recorder.times.map(\.nanoseconds)
        #expect(times == times.sorted())
        // From p0's first view to p1's last (start and final lines are not history entries).
        #expect(times.first == 2_000_000 && times.last == 8_100_000)
        // The orchestrator's lines: the kill crashes p2, the other lines are notes.
        var crashed: [Recorder.Member] = []
        var notes: [String] = []
        for e in h.recorder.entries {
            if case let .crashed(m) = e { crashed.append(m) }
            if case let .note(n) = e { notes.append(n) }
        }
        #expect(crashed == [R.member(2)])
        #expect(notes == ["quiet"])
        #expect(h.recorder.member(of: R.ep2) == R.member(2))
    }

    @Test func sendDestinationsAndSendersAreMembers() throws {
        let h = R.clean.analyze().history
        let sends = h.recorder.entries.compactMap { e -> Recorder.Sent? in if case let .sent(s) = e, s.kind == .send { s } else { nil } }
        #expect(sends.map(\.destination) == [R.member(1), R.member(2), R.member(2)])
        let fromP0 = h.recorder.entries.compactMap { e -> Recorder.Member?? in if case let .delivered(d) = e { d.from } else { nil } }
        #expect(fromP0.count == 8 && fromP0.allSatisfy { $0 == R.member(0) })
    }
}
