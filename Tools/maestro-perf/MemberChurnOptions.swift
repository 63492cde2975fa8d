import ArgumentParser
import ToolSupport

/// The options `maestro-perf leave` and `restart` share: a group of member processes, one of
/// which leaves or restarts, measured over rounds.
struct MemberChurnOptions: ParsableArguments {
    @Option(help: "Member processes.")
    var members = 4

    @Option(help: "Which member: member (the last rank) or coordinator (rank 0).")
    var target = "member"

    @Option(help: "Rounds; the median is reported.")
    var rounds = 1

    @Flag(help: "Bare protocol endpoints as members instead of Maestro GroupMembers.")
    var bare = false

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @OptionGroup var common: GroupOptions

    func validate() throws {
        guard members >= 2 else { throw ValidationError("--members must be at least 2") }
        guard ["member", "coordinator"].contains(target) else { throw ValidationError("--target must be member or coordinator") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be positive") }
    }

    /// The member `target` names, given the addresses in view (rank) order.
    func pick(_ order: [String]) -> String { target == "coordinator" ? order[0] : order[order.count - 1] }

    /// Starts a rendezvous and the member processes, waits for one view of them all, and
    /// picks the target: the group (the formation's output consumed), the target's index and
    /// address.
    func formGroup(progress: Progress, round: Int) throws -> (group: ProcessGroup, index: Int, address: String) {
        progress.update("round \(round)/\(rounds): starting \(members) member processes")
        let g = try ProcessGroup(keyArguments: common.memberArguments, gossipArguments: common.key.childArguments, maestro: !bare)
        try g.startAndForm(members, params: common.params)
        let address = pick(g.lastView(0) ?? g.addresses)
        guard let index = g.addresses.firstIndex(of: address) else { throw ChildError("cannot find the member \(address) in the group") }
        for i in g.members.indices { _ = g.members[i].takeLines() }  // views of the formation
        return (g, index, address)
    }

    /// What the JSON line of either benchmark starts with.
    func jsonFields(_ benchmark: String) -> [(String, Any)] {
        [("benchmark", benchmark), ("members", members), ("params", common.params), ("target", target),
         ("members_api", bare ? "endpoint" : "maestro")]
    }
}
