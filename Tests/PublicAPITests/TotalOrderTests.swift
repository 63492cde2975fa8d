import Maestro
import Testing

/// A group member over a totally ordered stack (`properties = "Vsync:Total"`): every member,
/// the sender included, delivers the casts of a view in one order.
final class Sequenced: GroupMember {
    var delivered: [String] = []
    var members = 0

    override func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) { members = viewData.nmembers }

    override func grpMembReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if let n: Int = try? msg.pop() { delivered.append("\(origin):\(n)") }
    }
}

@Suite(.serialized) struct TotalOrderTests {
    @Test func everyMemberDeliversTheSameSequenceItsOwnCastsIncluded() throws {
        let runtime = Runtime.current
        var ops = MaestroOptions()
        ops.groupName = "total-\(UInt32.random(in: 0 ... .max))"
        ops.params = "fast"
        ops.properties = "Vsync:Total"
        ops.gossip = ["localhost:\(try runtime.rendezvous().port)"]
        let group = (0 ..< 3).map { _ in Sequenced(ops) }
        for m in group { try m.join() }
        #expect(runtime.run(until: { group.allSatisfy { $0.members == 3 } }, timeout: .seconds(20)))
        for n in 0 ..< 20 {
            for m in group {
                var msg = Message()
                msg << n
                m.cast(msg)
            }
        }
        #expect(runtime.run(until: { group.allSatisfy { $0.delivered.count == 60 } }, timeout: .seconds(20)))
        #expect(group[1].delivered == group[0].delivered && group[2].delivered == group[0].delivered)
        for m in group { m.leave() }
        _ = runtime.run(until: { group.allSatisfy { !$0.isJoined } }, timeout: .seconds(5))
    }
}
