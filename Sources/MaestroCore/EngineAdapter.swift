import Ensemble

/// The engine's application interface (`GroupApplication`) for one `GroupMember`: the endpoint
/// calls this, and it hands each call to the member. The engine's callbacks so stay off the
/// member's public API (the C++ Maestro kept its dispatchers private too); a subclass sees only
/// the `grpMemb…Callback` methods.
///
/// The member owns its adapter; the endpoint holds it unowned, and a member that exits keeps
/// it alive until the loop comes round (see `GroupMember.detach`).
final class EngineAdapter: GroupApplication {
    unowned(unsafe) let member: GroupMember

    init(_ member: GroupMember) { self.member = member }

    func install(view: ViewState, rank: Rank) { member.engineInstall(view, rank: rank) }
    func receiveCast(from origin: Rank, _ payload: Packet) { member.engineReceiveCast(from: origin, payload) }
    func receiveSend(from origin: Rank, _ payload: Packet) { member.engineReceiveSend(from: origin, payload) }
    func block() { member.engineBlock() }
    func heartbeat(now: Time) { member.engineHeartbeat(now: now) }
    func writable(peer: Rank?) { member.engineWritable() }
    func exit() { member.engineExit() }
    func primaryConfirmed() { member.enginePrimaryConfirmed() }
}
