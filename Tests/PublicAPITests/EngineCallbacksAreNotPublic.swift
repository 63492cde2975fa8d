import Ensemble
import Maestro
import Testing

// The engine's callback interface (`GroupApplication`) is not part of a member's public API:
// this subclass declares methods with the names and exact signatures the engine's callbacks
// and the old transfer overloads had, without `override`. If GroupMember, ClientServer or CSX
// still exposed any of them, this file would not compile ("overriding declaration requires
// an 'override' keyword", or "overriding non-open instance method outside of its defining
// module"): the build is the test.
final class OwnNames: CSX {
    var calls: [String] = []
    func install(view: ViewState, rank: Rank) { calls.append("install") }
    func receiveCast(from origin: Rank, _ payload: Packet) { calls.append("receiveCast") }
    func receiveSend(from origin: Rank, _ payload: Packet) { calls.append("receiveSend") }
    func block() { calls.append("block") }
    func heartbeat(now: Time) { calls.append("heartbeat") }
    func writable(peer: Rank?) { calls.append("writable") }
    func exit() { calls.append("exit") }
    func crash() { calls.append("crash") }
    func xferDone() { calls.append("xferDone()") }
    func xferDone(_ vd: inout ClSvViewData) { calls.append("xferDone(vd)") }
    func becomeServer(_ vd: inout ClSvViewData) { calls.append("becomeServer(vd)") }
    func askStateCallback(_ origin: EndpID, _ msg: inout Message) { calls.append("askStateCallback(origin, msg)") }
    func rcvStateCallback(_ origin: EndpID, _ msg: inout Message) { calls.append("rcvStateCallback") }
}

@Suite struct EngineCallbacksAreNotPublic {
    /// A subclass's own `exit()` is its own: nothing of the toolkit calls it.
    @Test func aSubclassOwnsTheseNames() {
        let m = OwnNames(CSXOptions())
        m.exit()
        m.block()
        #expect(m.calls == ["exit", "block"])
        #expect(m.clsvState == .initial)
    }
}
