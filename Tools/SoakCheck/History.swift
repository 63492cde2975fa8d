import Ensemble
import Foundation
import Simulation

/// Every log of a soak run merged into one `Recorder` history, in time order, for the
/// simulation's checkers.
///
/// Each member's events stay in the order it logged them. Across members, events are
/// ordered by their timestamps; at equal times sends come first. A sender logs a message
/// just after handing it to the stack, before the datagram leaves at the end of the loop
/// turn, but clocks are read microseconds apart: if a delivery still comes out ahead of its
/// send, the send is moved up to just before it (counted in `sendsMovedUp`).
public struct History {
    public let recorder = Recorder()
    public private(set) var logs: [ParsedLog] = []
    private(set) var soakLog: ParsedLog
    public private(set) var sendsMovedUp = 0

    public init(memberLogs: [ParsedLog], soakLog: ParsedLog) {
        logs = memberLogs
        self.soakLog = soakLog
        for log in memberLogs {
            if let m = log.member, let e = log.endpoint { recorder.register(m, endpoint: e) }
        }
        var now: Int64 = 0
        recorder.clock = { Time(nanoseconds: now * 1000) }

        // K-way merge: the head of every log, smallest (time, sends first) next.
        let all = memberLogs + [soakLog]
        var heads = Array(repeating: 0, count: all.count)
        var merged: [(micros: Int64, member: Recorder.Member?, event: LogEvent)] = []
        func priority(_ e: LogEvent) -> Int { if case .sent = e { return 0 } else { return 1 } }
        while true {
            var best: Int?
            for i in all.indices where heads[i] < all[i].events.count {
                let e = all[i].events[heads[i]]
                if let b = best {
                    let be = all[b].events[heads[b]]
                    if (e.micros, priority(e.event)) < (be.micros, priority(be.event)) { best = i }
                } else {
                    best = i
                }
            }
            guard let b = best else { break }
            let e = all[b].events[heads[b]]
            merged.append((e.micros, all[b].member, e.event))
            heads[b] += 1
        }

        struct Key: Hashable { var origin: Recorder.Member; var kind: TestMessage.Kind; var seq: UInt64 }
        var sendIndex: [Key: Int] = [:]
        for (i, e) in merged.enumerated() {
            if case let .sent(kind, _, seq, _, _) = e.event, let m = e.member { sendIndex[Key(origin: m, kind: kind, seq: seq)] = i }
        }
        var movedUp: Set<Key> = []
        for (i, e) in merged.enumerated() {
            now = e.micros
            switch e.event {
            case let .received(_, _, _, message):
                if let msg = message {
                    let k = Key(origin: Recorder.Member(process: msg.origin, incarnation: msg.incarnation), kind: msg.kind, seq: msg.seq)
                    if let si = sendIndex[k], si > i, !movedUp.contains(k) {
                        movedUp.insert(k)
                        record(merged[si].member, merged[si].event)
                    }
                }
                record(e.member, e.event)
            case let .sent(kind, _, seq, _, _):
                if let m = e.member, movedUp.contains(Key(origin: m, kind: kind, seq: seq)) { continue }
                record(e.member, e.event)
            default:
                record(e.member, e.event)
            }
        }
        sendsMovedUp = movedUp.count
    }

    private func record(_ member: Recorder.Member?, _ event: LogEvent) {
        switch event {
        case let .kill(m, _):
            recorder.record(.crashed(m))
            return
        case let .note(text):
            recorder.note(text)
            return
        default:
            break
        }
        guard let m = member else { return }
        switch event {
        case let .view(v, _):
            recorder.record(.installed(m, v))
        case let .block(id):
            recorder.record(.blocked(m, id))
        case let .primary(id, true):
            recorder.record(.primaryConfirmed(m, id))
        case let .sent(kind, view, seq, _, destination):
            let d = destination.flatMap { recorder.member(of: $0) }
            recorder.record(.sent(Recorder.Sent(origin: m, view: view, kind: kind, seq: seq, destination: d)))
        case let .received(kind, view, from, message):
            recorder.record(.delivered(Recorder.Delivery(receiver: m, view: view, from: recorder.member(of: from), message: message, kind: kind)))
        case .leave:
            recorder.record(.leaveRequested(m))
        case .exit:
            recorder.record(.left(m))
        default:
            break
        }
    }
}
