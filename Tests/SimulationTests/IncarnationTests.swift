import Ensemble
import Simulation
import Testing

/// Records what an endpoint tells its application.
final class EndpointLog: GroupApplication {
    var views: [ViewState] = []
    var sends: [(from: Rank, bytes: [UInt8])] = []
    var casts: [(from: Rank, bytes: [UInt8])] = []
    var exits = 0
    var exited: Bool { exits > 0 }
    func install(view: ViewState, rank: Rank) { views.append(view) }
    func receiveCast(from origin: Rank, _ payload: Packet) { casts.append((origin, payload.bytes)) }
    func receiveSend(from origin: Rank, _ payload: Packet) { sends.append((origin, payload.bytes)) }
    func exit() { exits += 1 }
}

/// A process running one endpoint (kept in the process state, so a crash releases it).
final class EndpointProcess {
    let endpoint: GroupEndpoint
    let log = EndpointLog()
    init(_ p: SimProcess, stack: String, params: Parameters = Parameters(), gossip: [Address] = []) throws {
        let t = p.makeTransport(port: 6793)
        let id = EndpointID(host: p.ip, port: 6793, counter: 0, incarnation: p.random.next())
        endpoint = try GroupEndpoint(id: id, group: GroupID("g"), transport: t, protocolStack: stack, params: params,
                                     application: log, gossip: gossip)
        p.state = self
    }
    static func of(_ p: SimProcess) -> EndpointProcess? { p.state as? EndpointProcess }
}

/// A process that restarts on the address of a member it used to be is a new endpoint: it
/// never consumes what is sent to its previous incarnation, and the others learn at once that
/// the previous one is dead.
@Suite struct IncarnationTests {
    static let stack = GroupScenario.seedStack

    func group(_ world: SimWorld, _ n: Int) throws -> [SimProcess] {
        let ps = (0 ..< n).map { i in world.addProcess(name: "p\(i)") { p in _ = try? EndpointProcess(p, stack: Self.stack) } }
        let eps = ps.compactMap { EndpointProcess.of($0)?.endpoint }
        let view = ViewState(group: GroupID("g"), protocolStack: Self.stack, ltime: 1, members: eps.map(\.id),
                             addresses: ps.map { $0.address(port: 6793) })
        for e in eps { try e.join(view: view) }
        world.run(for: .milliseconds(50))
        return ps
    }

    /// A datagram addressed to the old incarnation's rank is dropped by the new one (which
    /// holds another rank of the same view), counted, and answered with a notice that makes
    /// the sender suspect the old incarnation.
    @Test func sendsToAnOldIncarnationAreNeverConsumed() throws {
        let world = SimWorld(seed: 1)
        let ps = (0 ..< 3).map { i in world.addProcess(name: "p\(i)") { p in _ = try? EndpointProcess(p, stack: Self.stack) } }
        let eps = ps.compactMap { EndpointProcess.of($0)?.endpoint }
        // A view in which rank 2 is a dead incarnation at p2's address and rank 3 the live one.
        let ghost = EndpointID(host: ps[2].ip, port: 6793, counter: 0, incarnation: 12345)
        let view = ViewState(group: GroupID("g"), protocolStack: Self.stack, ltime: 1,
                             members: [eps[0].id, eps[1].id, ghost, eps[2].id],
                             addresses: [ps[0].address(port: 6793), ps[1].address(port: 6793), ps[2].address(port: 6793), ps[2].address(port: 6793)])
        for e in eps { try e.join(view: view) }
        #expect(eps[1].send(to: 2, [1, 2, 3]) == .sent)  // to the ghost's rank
        #expect(eps[1].send(to: 3, [4, 5, 6]) == .sent)  // to the live one
        world.run(for: .milliseconds(20))
        let live = try #require(EndpointProcess.of(ps[2]))
        #expect(live.log.sends.map(\.bytes) == [[4, 5, 6]])
        #expect(live.endpoint.counters.misaddressed > 0)
        #expect(eps[1].counters.noticesReceived > 0)
        // The coordinator learns of the stale incarnation from the notices and drops it long
        // before any failure detector would (15 s with Ensemble's defaults).
        world.run(until: { EndpointProcess.of(ps[0])?.log.views.last?.members.contains(ghost) == false }, timeout: .seconds(1))
        let last = try #require(EndpointProcess.of(ps[0])?.log.views.last)
        #expect(!last.members.contains(ghost) && last.members.contains(eps[2].id), "final view \(last.members)")
        #expect(world.now < .seconds(1))
    }

    /// kill -9 and restart on the same port: the group drops the old incarnation within a
    /// ping, not a suspicion timeout.
    @Test func aRestartedProcessRevealsItsDeadIncarnation() throws {
        let world = SimWorld(seed: 2)
        let ps = try group(world, 3)
        let old = try #require(EndpointProcess.of(ps[2])?.endpoint.id)
        world.restart(ps[2])
        let fresh = try #require(EndpointProcess.of(ps[2])?.endpoint)
        try fresh.join()
        #expect(fresh.id != old)
        let restartedAt = world.now
        let dropped = world.run(until: {
            EndpointProcess.of(ps[0])?.log.views.last.map { !$0.members.contains(old) } ?? false
        }, timeout: .seconds(10))
        #expect(dropped)
        #expect(world.now - restartedAt < .seconds(2), "the old incarnation was dropped after \(world.now - restartedAt)")
        #expect((EndpointProcess.of(ps[0])?.endpoint.counters.noticesReceived ?? 0) > 0)
    }
}

/// Members that leave together (SIGTERM to a process that runs several) are all excluded
/// within a few round trips, whichever ranks they hold, the coordinator's included.
@Suite struct SimultaneousLeaveTests {
    @Test(arguments: [[0, 1], [2, 3], [0, 3], [1, 2]])
    func membersLeavingTogetherAreExcludedAtOnce(leavers: [Int]) throws {
        let world = SimWorld(seed: 7)
        let stack = GroupScenario.seedStack
        let ps = (0 ..< 4).map { i in world.addProcess(name: "p\(i)") { p in _ = try? EndpointProcess(p, stack: stack, params: try! Parameters(parsing: "fast")) } }
        let eps = ps.compactMap { EndpointProcess.of($0)?.endpoint }
        let view = ViewState(group: GroupID("g"), protocolStack: stack, ltime: 1, members: eps.map(\.id),
                             addresses: ps.map { $0.address(port: 6793) })
        for e in eps { try e.join(view: view) }
        world.run(for: .milliseconds(200))
        let start = world.now
        for i in leavers { eps[i].leave() }
        let stayers = (0 ..< 4).filter { !leavers.contains($0) }
        let done = world.run(until: {
            stayers.allSatisfy { i in
                EndpointProcess.of(ps[i])?.log.views.last.map { v in leavers.allSatisfy { !v.members.contains(eps[$0].id) } } ?? false
            }
        }, timeout: .seconds(5))
        #expect(done)
        #expect(world.now - start < .milliseconds(100), "excluded after \(world.now - start)")
        world.run(for: .seconds(2))
        for i in leavers { #expect(EndpointProcess.of(ps[i])?.log.exits == 1, "exit() exactly once") }
    }
}

extension SimultaneousLeaveTests {
    /// A leaver whose older stack still lingers (a member never reported the last view) hears
    /// of its exit once, not once per stack.
    @Test func exitIsCalledOnceWhileOldStacksLinger() throws {
        let world = SimWorld(seed: 9)
        let stack = GroupScenario.seedStack
        let ps = (0 ..< 3).map { i in world.addProcess(name: "p\(i)") { p in _ = try? EndpointProcess(p, stack: stack) } }
        let eps = ps.compactMap { EndpointProcess.of($0)?.endpoint }
        let view = ViewState(group: GroupID("g"), protocolStack: stack, ltime: 1, members: eps.map(\.id),
                             addresses: ps.map { $0.address(port: 6793) })
        for e in eps { try e.join(view: view) }
        world.run(for: .milliseconds(50))
        // Member 2 goes silent right after the next view: the old stacks wait for its report.
        eps[0].prompt()
        world.run(until: { EndpointProcess.of(ps[1])?.log.views.count == 2 }, timeout: .seconds(1))
        world.crash(ps[2])
        world.run(for: .milliseconds(20))
        eps[1].leave()
        world.run(for: .seconds(5))
        #expect(EndpointProcess.of(ps[1])?.log.exits == 1, "exit() exactly once")
    }
}
