import Ensemble
import Testing
@testable import Maestro

/// The order of a member's view and block callbacks when the stack's events and the
/// coordinator's view message interleave, driven event by event (no network): every accepted
/// view is followed by exactly one block before the next accepted view.
@Suite struct BlockDisciplineTests {
    final class Recorder: GroupMember {
        var events: [String] = []
        override func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {
            events.append("view \(viewData.viewID.ltime)")
        }
        override func grpMembBlockCallback() { events.append("block") }
    }

    let ids = (0 ..< 3).map { EndpointID(host: 0x7F00_0001, port: UInt16(2000 + $0), counter: 0, incarnation: 7) }

    func view(_ ltime: UInt64, coordinator: Int) -> ViewState {
        let members = [ids[coordinator]] + ids.enumerated().filter { $0.offset != coordinator }.map(\.element)
        return ViewState(group: GroupID("blocks"), protocolStack: MaestroOptions.defaultProtocol, ltime: ltime,
                         members: members, addresses: members.map { Address.loopback(port: $0.port) })
    }

    /// The coordinator's view message for `v`, as it arrives in a cast.
    func viewMessage(_ v: ViewState) -> Packet {
        var m = Message()
        m << v.id
        m << v.members[0]
        m << GroupMember.MessageType.view.rawValue
        return m.bytes.withUnsafeBytes { Packet(payload: $0) }
    }

    /// The stack blocks view 2 before its view message arrives (it comes in the flush); then
    /// view 3 is installed with this member as coordinator. The block belongs to view 2: the
    /// application sees view 2, then its block, then view 3, never two blocks in view 1.
    @Test func aBlockBeforeTheViewMessageIsReportedInThatView() {
        let m = Recorder(MaestroOptions())
        m.install(view: view(1, coordinator: 2), rank: 2)
        m.receiveCast(from: 0, viewMessage(view(1, coordinator: 2)))
        m.block()
        m.install(view: view(2, coordinator: 1), rank: 2)
        m.block()  // view 2 blocks before its view message came
        m.receiveCast(from: 0, viewMessage(view(2, coordinator: 1)))
        m.install(view: view(3, coordinator: 0), rank: 0)
        #expect(m.events == ["view 1", "block", "view 2", "block", "view 3"])
    }

    /// A view whose view message never came is skipped, and so is its block: the application
    /// goes from view 1 (blocked once) straight to view 3.
    @Test func aSkippedViewTakesItsBlockWithIt() {
        let m = Recorder(MaestroOptions())
        m.install(view: view(1, coordinator: 2), rank: 2)
        m.receiveCast(from: 0, viewMessage(view(1, coordinator: 2)))
        m.block()
        m.install(view: view(2, coordinator: 1), rank: 2)
        m.block()
        m.install(view: view(3, coordinator: 0), rank: 0)
        #expect(m.events == ["view 1", "block", "view 3"])
        #expect(m.skippedViews == 1)
    }
}
