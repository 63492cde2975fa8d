import Ensemble
import Testing
import Maestro
@_spi(Engine) @testable import MaestroCore

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
        m.engineInterface.install(view: view(1, coordinator: 2), rank: 2)
        m.engineInterface.receiveCast(from: 0, viewMessage(view(1, coordinator: 2)))
        m.engineInterface.block()
        m.engineInterface.install(view: view(2, coordinator: 1), rank: 2)
        m.engineInterface.block()  // view 2 blocks before its view message came
        m.engineInterface.receiveCast(from: 0, viewMessage(view(2, coordinator: 1)))
        m.engineInterface.install(view: view(3, coordinator: 0), rank: 0)
        #expect(m.events == ["view 1", "block", "view 2", "block", "view 3"])
    }

    /// A view whose view message never came is skipped, and so is its block: the application
    /// goes from view 1 (blocked once) straight to view 3.
    @Test func aSkippedViewTakesItsBlockWithIt() {
        let m = Recorder(MaestroOptions())
        m.engineInterface.install(view: view(1, coordinator: 2), rank: 2)
        m.engineInterface.receiveCast(from: 0, viewMessage(view(1, coordinator: 2)))
        m.engineInterface.block()
        m.engineInterface.install(view: view(2, coordinator: 1), rank: 2)
        m.engineInterface.block()
        m.engineInterface.install(view: view(3, coordinator: 0), rank: 0)
        #expect(m.events == ["view 1", "block", "view 3"])
        #expect(m.skippedViews == 1)
    }

    /// A data cast or send of view `view`, numbered `n`, as Maestro frames it (casts carry a
    /// message type, sends do not).
    func dataMessage(view: UInt64, n: Int, cast: Bool) -> Packet {
        var m = Message()
        m << Int32(n)
        m << Int32(view)
        if cast { m << GroupMember.MessageType.data.rawValue }
        return m.bytes.withUnsafeBytes { Packet(payload: $0) }
    }

    final class Checker: GroupMember {
        var events: [String] = []
        var current: UInt64?
        override func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {
            current = viewData.viewID.ltime
            events.append("view \(viewData.viewID.ltime)")
        }
        override func grpMembBlockCallback() { events.append("block") }
        override func grpMembReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) { record(&msg) }
        override func grpMembReceiveSendCallback(_ origin: EndpID, _ msg: inout Message) { record(&msg) }
        func record(_ msg: inout Message) {
            let v = (try? msg.pop(Int32.self)) ?? -1, n = (try? msg.pop(Int32.self)) ?? -1
            events.append("data \(v).\(n)")
        }
    }

    /// Random interleavings of what the stack can hand a member in a run of views: each view is
    /// installed, then its members' casts and sends, its coordinator's view message (first among
    /// the coordinator's messages; sometimes lost, when the view ends before it), and one block,
    /// in any order. Whatever the order, the application sees each accepted view, then exactly
    /// the messages of that view in arrival order, and exactly one block before the next view;
    /// a view whose message never came is skipped with all of its messages.
    @Test func randomInterleavingsKeepViewsMessagesAndBlocksInOrder() {
        for seed in UInt64(1) ... 2000 {
            var state = seed &* 0x9E37_79B9_7F4A_7C15
            func next(_ n: Int) -> Int {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return Int((z ^ (z >> 31)) % UInt64(n))
            }
            let m = Checker(MaestroOptions())
            var expected: [String] = []
            var skipped = 0
            let last = UInt64(2 + next(6))
            for ltime in UInt64(1) ... last {
                let coordinator = next(3), v = view(ltime, coordinator: coordinator)
                let me = ids.count - 1, myRank = v.members.firstIndex(of: ids[me]) ?? 0
                // Messages from the other ranks (the coordinator's after its view message).
                enum Item { case data(Rank, Int, Bool), viewMessage, block }
                var items: [Item] = [.block]
                let viewMessageComes = myRank == 0 || next(8) != 0
                if myRank != 0 && viewMessageComes { items.append(.viewMessage) }
                for n in 0 ..< next(6) {
                    let from = (myRank + 1 + next(2)) % 3
                    if from == 0 && !viewMessageComes { continue }  // would follow the lost view message
                    items.append(.data(from, n, next(3) == 0))
                }
                for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, next(i + 1)) }
                // FIFO from the coordinator: its view message before its data.
                if let vm = items.firstIndex(where: { if case .viewMessage = $0 { return true }; return false }),
                   let first = items.firstIndex(where: { if case let .data(r, _, _) = $0 { return r == 0 }; return false }), first < vm {
                    items.swapAt(first, vm)
                }
                m.engineInterface.install(view: v, rank: myRank)
                if viewMessageComes {
                    expected.append("view \(ltime)")
                    expected += items.compactMap { if case let .data(_, n, _) = $0 { return "data \(ltime).\(n)" }; return nil }
                } else if ltime < last {
                    skipped += 1  // counted when the next view comes
                }
                for item in items {
                    switch item {
                    case let .data(r, n, isSend):
                        if isSend { m.engineInterface.receiveSend(from: r, dataMessage(view: ltime, n: n, cast: false)) } else { m.engineInterface.receiveCast(from: r, dataMessage(view: ltime, n: n, cast: true)) }
                    case .viewMessage: m.engineInterface.receiveCast(from: 0, viewMessage(v))
                    case .block: m.engineInterface.block()
                    }
                }
            }
            // Deliveries: exactly those of the accepted views, in arrival order, each in its view.
            #expect(m.events.filter { $0 != "block" } == expected, "seed \(seed)")
            #expect(m.skippedViews == skipped, "seed \(seed)")
            // Blocks: exactly one after each accepted view, before the next.
            var blocks = 0, views = 0
            for e in m.events {
                if e.hasPrefix("view") {
                    if views > 0 { #expect(blocks == 1, "seed \(seed): \(blocks) blocks before \(e) in \(m.events)") }
                    views += 1
                    blocks = 0
                } else if e == "block" {
                    #expect(views > 0, "seed \(seed): a block before any view")
                    blocks += 1
                }
            }
            #expect(blocks == 1, "seed \(seed): the last view's block")
            // Every message is delivered in the view it was sent in.
            var inView: UInt64 = 0
            for e in m.events {
                if e.hasPrefix("view ") { inView = UInt64(e.dropFirst(5)) ?? 0 }
                if e.hasPrefix("data "), let dot = e.firstIndex(of: ".") {
                    #expect(UInt64(e[e.index(e.startIndex, offsetBy: 5) ..< dot]) == inView, "seed \(seed): \(e) in view \(inView)")
                }
            }
        }
    }
}
