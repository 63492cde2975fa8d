import Ensemble
import Foundation
import Simulation

/// One partition of a run with the Primary layer (`note partition SIDES` in soak.log, one side
/// number per process, until the next `note heal`), timed from the merged logs.
public struct SplitTiming: Sendable {
    /// Seconds into the run.
    public var at: Double
    public var healedAt: Double?
    /// Each process's side.
    public var sides: [Int]
    /// The members on each side (processes × members per process), largest side first.
    public var sizes: [Int]
    /// The side holding more than half of the expected members, if one does.
    public var majority: Int?
    /// From the split until every member of the majority side (there since before the split,
    /// still there at the heal) was told a view of its side alone is primary; nil if one never was.
    public var majorityPrimaryAfter: Double?
    /// From the heal until every live member (at the end) was told a view spanning the sides
    /// is primary; nil if one never was.
    public var primaryAfterHeal: Double?
    /// State transfers completed after the heal, and those whose provider held the majority's
    /// state: a server of the majority side, or one that had taken its state since the heal
    /// from such a provider (the merged group's servers may be either).
    public var transfersAfterHeal = 0
    public var transfersFromMajority = 0
    /// What went wrong (the check's details).
    public var problems: [String] = []
}

/// The primary partition across splits: no side without a majority of the expected members
/// ever has a view of its own confirmed primary (always checked with the Primary layer and no
/// leaves, which lower the expected membership). In a split scenario (`RunFacts.splitScenario`)
/// also: the majority side is confirmed primary during the split, every live member is in a
/// confirmed primary view spanning the sides after the heal, and every state transfer after
/// the heal was provided by a server holding the majority's state (one of the majority side,
/// or one that took its state from such a server after the heal), which every member of the
/// other sides took its state from.
public enum PrimarySplits {
    public static func measure(_ h: History, facts: RunFacts) -> [SplitTiming] {
        guard let expected = facts.primaryExpected else { return [] }
        let k = max(1, facts.membersPerProcess)
        // The partitions, each with its heal.
        var splits: [(t: Int64, sides: [Int], heal: Int64?)] = []
        var gone: [Recorder.Member: Int64] = [:]
        for (t, e) in h.soakLog.events {
            switch e {
            case let .note(text) where text.hasPrefix("partition "):
                let sides = text.dropFirst("partition ".count).split(separator: ",").compactMap { Int($0) }
                splits.append((t, sides, nil))
            case .note("heal"):
                if let last = splits.indices.last, splits[last].heal == nil { splits[last].heal = t }
            case let .kill(m, _):
                if gone[m] == nil { gone[m] = t }
            default: break
            }
        }
        struct Member {
            var id: Recorder.Member
            var started: Int64
            var views: [ViewID: (t: Int64, members: [EndpointID])] = [:]
            var confirmations: [(t: Int64, view: ViewID)] = []
            var transfers: [(t: Int64, provider: EndpointID)] = []
        }
        var members: [Member] = []
        for log in h.logs {
            guard let id = log.member else { continue }
            var m = Member(id: id, started: log.events.first?.micros ?? 0)
            for (t, e) in log.events {
                switch e {
                case let .view(v, _): if m.views[v.id] == nil { m.views[v.id] = (t, v.members) }
                case let .primary(v, true): m.confirmations.append((t, v))
                case let .xferGot(provider, _, _, _, _): m.transfers.append((t, provider))
                case .leave, .exit: if gone[id] == nil { gone[id] = t }
                default: break
                }
            }
            members.append(m)
        }
        func seconds(_ t: Int64) -> Double { Double(t) / 1e6 }
        func interval(_ a: Int64, _ b: Int64) -> String { String(format: "%.3f–%.3f s", seconds(a), seconds(b)) }

        var out: [SplitTiming] = []
        for split in splits {
            let sideOf: (Recorder.Member) -> Int? = { m in
                let p = m.process / k
                return split.sides.indices.contains(p) ? split.sides[p] : nil
            }
            let endpointSide: (EndpointID) -> Int? = { e in h.recorder.member(of: e).flatMap(sideOf) }
            var count: [Int: Int] = [:]
            for s in split.sides { count[s, default: 0] += k }
            let majority = count.first { 2 * $0.value > expected }?.key
            let end = split.heal ?? Int64.max
            var timing = SplitTiming(at: seconds(split.t), healedAt: split.heal.map(seconds), sides: split.sides,
                                     sizes: count.values.sorted(by: >), majority: majority)
            let where_ = "the split at \(interval(split.t, split.heal ?? split.t))"
            // A view of one side alone, installed during the split, whose confirmation a member logged.
            func ownSide(_ m: Member, _ side: Int, _ c: (t: Int64, view: ViewID)) -> Bool {
                guard let v = m.views[c.view], v.t > split.t, v.t <= end else { return false }
                return v.members.allSatisfy { endpointSide($0) == side }
            }
            for m in members {
                guard let side = sideOf(m.id), side != majority else { continue }
                for c in m.confirmations where ownSide(m, side, c) {
                    timing.problems.append(String(format: "%@ (a side of %d of the %d expected members) was told view %@ is primary at %.3f s, during %@",
                                                  "\(m.id)", count[side] ?? 0, expected, LogCodec.viewID(c.view), seconds(c.t), where_))
                }
            }
            if facts.splitScenario, let majority {
                var worst: Int64?
                var missing = false
                for m in members where sideOf(m.id) == majority && m.started < split.t && (gone[m.id] ?? Int64.max) > end {
                    if let c = m.confirmations.first(where: { ownSide(m, majority, $0) && $0.t <= end }) {
                        worst = max(worst ?? 0, c.t - split.t)
                    } else {
                        missing = true
                        timing.problems.append("\(m.id) (majority side) was never told a view of its side is primary during \(where_)")
                    }
                }
                timing.majorityPrimaryAfter = missing ? nil : worst.map(seconds)
            }
            if facts.splitScenario, let heal = split.heal {
                var worst: Int64?
                var missing = false
                for m in members where facts.live.contains(m.id) {
                    let merged = m.confirmations.first { c in
                        guard let v = m.views[c.view], v.t > heal else { return false }
                        return Set(v.members.compactMap(endpointSide)).count > 1
                    }
                    if let c = merged {
                        worst = max(worst ?? 0, c.t - heal)
                    } else {
                        missing = true
                        timing.problems.append("\(m.id) was never told a view spanning the sides is primary after the heal at \(String(format: "%.3f", seconds(heal))) s")
                    }
                }
                timing.primaryAfterHeal = missing ? nil : worst.map(seconds)
                let next = splits.first { $0.t > split.t }?.t ?? Int64.max
                // In time order: whoever takes the state from a holder of the majority's state
                // holds it too.
                var holders = Set(members.filter { sideOf($0.id) == majority }.map(\.id))
                var tookIt: Set<Recorder.Member> = []
                let after = members.flatMap { m in m.transfers.filter { $0.t > heal && $0.t < next }.map { (m.id, $0) } }
                    .sorted { $0.1.t < $1.1.t }
                for (receiver, x) in after {
                    timing.transfersAfterHeal += 1
                    let provider = h.recorder.member(of: x.provider)
                    if majority != nil, let p = provider, holders.contains(p) {
                        timing.transfersFromMajority += 1
                        holders.insert(receiver)
                        tookIt.insert(receiver)
                    } else {
                        let from = provider.map { "\($0)" } ?? x.provider.description
                        timing.problems.append(String(format: "%@ took the state from %@, which held no state of the majority side, at %.3f s after the heal",
                                                      "\(receiver)", from, seconds(x.t)))
                    }
                }
                for m in members {
                    if let majority, let side = sideOf(m.id), side != majority, facts.live.contains(m.id), m.started < split.t, !tookIt.contains(m.id) {
                        timing.problems.append("\(m.id) (minority side) took no state from the majority after the heal")
                    }
                }
            }
            out.append(timing)
        }
        return out
    }

    /// The check; its name carries the figures.
    public static func check(_ splits: [SplitTiming], facts: RunFacts) -> CheckResult {
        func f(_ d: Double?) -> String { d.map { String(format: "%.3f s", $0) } ?? "never" }
        let name: String
        if splits.isEmpty {
            name = "primary at the split (no partition)"
        } else if facts.splitScenario {
            let parts = splits.map { s in
                "\(s.sizes.map(String.init).joined(separator: "+")): majority primary after \(f(s.majorityPrimaryAfter)), "
                    + "others never; primary again \(f(s.primaryAfterHeal)) after the heal; "
                    + "\(s.transfersFromMajority) of \(s.transfersAfterHeal) transfers after it of the majority's state"
            }
            name = "primary at the split (\(parts.joined(separator: "; ")))"
        } else {
            name = "primary at partitions (no side without a majority primary, over \(splits.count))"
        }
        var details = splits.flatMap(\.problems)
        if facts.splitScenario && splits.isEmpty { details.append("the split never happened") }
        return CheckResult(name: name, details: details)
    }
}
