import Ensemble
import Foundation
import Maestro
import Reactor

/// `maestro-soak member --maestro`: the member is a Maestro `GroupMember` run by
/// `Runtime.start()`, so SIGTERM takes the runtime's own path (every member leaves, the
/// process exits once it has left or after the runtime's `exitTimeout`). It prints the same
/// lines as the bare endpoint member.
final class PrintingMember: GroupMember {
    let size: Int
    private(set) var sent = 0
    private(set) var received = 0
    private(set) var outOfOrder = 0
    private var nextFrom: [EndpID: UInt64] = [:]

    init(_ options: MaestroOptions, size: Int) {
        self.size = size
        super.init(options)
    }

    static func address(_ e: EndpID) -> String { Address(ip: e.host, port: e.port).description }

    private var announced = false

    /// `ready <address> <endpoint>`, once, before any view line (the first view comes
    /// inside `join`).
    func announce() {
        guard !announced, let me = myEndpID, let address = localAddress else { return }
        announced = true
        line("ready \(address) \(me)")
    }

    override func grpMembAcceptedViewCallback(_ viewData: GroupMemberViewData, _ msg: inout Message) {
        announce()
        let addresses = viewData.members.map(PrintingMember.address).joined(separator: ",")
        line("view \(viewData.viewID.ltime) \(viewData.nmembers) \(addresses) \(viewData.members.map(\.description).joined(separator: ","))")
    }

    override func grpMembBlockCallback() { line("block") }

    override func grpMembExitCallback() { line("exit") }

    func castOne() {
        guard isJoined else { return }
        var payload = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: UInt64(sent).bigEndian) { for i in 0 ..< 8 { payload[i] = $0[i] } }
        var m = Message()
        m.push(raw: payload[...])
        if cast(m) != .unspecified { sent += 1 }
    }

    override func grpMembReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        received += 1
        let seq: UInt64? = msg.withUnsafeBytes { raw in
            raw.count >= 8 ? UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)) : nil
        }
        guard let seq else { return }
        if let expected = nextFrom[origin], seq < expected { outOfOrder += 1 }
        nextFrom[origin] = seq + 1
    }
}

extension Member {
    /// Runs the member as a Maestro `GroupMember` under `Runtime.start()` (never returns).
    func runMaestro() throws -> Never {
        var ops = MaestroOptions()
        ops.groupName = group
        ops.gossip = gossip
        ops.bind = bindAddress
        ops.port = port
        ops.protocolStack = protocolStack
        ops.properties = common.properties
        ops.params = common.params
        ops.key = try common.key.secret()
        ops.encrypt = common.key.encrypt
        let runtime = Runtime.current
        runtime.exitTimeout = .seconds(leaveTimeout)
        runtime.installTerminationHandler()
        let m = PrintingMember(ops, size: size)
        try m.join()
        m.announce()
        var timers: [LoopTimer] = []
        if castRate > 0 {
            timers.append(runtime.reactor.every(.seconds(1 / castRate), label: "casts") { m.castOne() })
        }
        if statsEvery > 0 {
            timers.append(runtime.reactor.every(.seconds(statsEvery), label: "stats") {
                line("stats casts-sent \(m.sent) casts-received \(m.received) out-of-order \(m.outOfOrder)")
            })
        }
        withExtendedLifetime((m, timers)) { runtime.start() }
    }
}
