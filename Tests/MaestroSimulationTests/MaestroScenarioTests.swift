import Ensemble
import MaestroSimulation
import Simulation
import Testing

/// Maestro's members on the simulator: a few seeds in the debug build (CI runs hundreds in
/// release with `maestro-sim --maestro`).
@Suite struct MaestroScenarioTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func csxServersAndClientsPassEveryCheckUnderAllFaults(seed: UInt64) {
        var c = MaestroScenario.Config(seed: seed, members: 4, faults: .all)
        c.params = Parameters.profiles["fast"] ?? Parameters()
        c.settleTime = .seconds(12)
        c.maxStateBytes = 256 << 10
        let r = MaestroScenario(c).run()
        #expect(r.violations.isEmpty, "\(r.violations.prefix(5))")
        #expect(r.views > 0)
    }
}

extension MaestroScenarioTests {
    @Test func aSeedReplaysExactly() {
        var c = MaestroScenario.Config(seed: 7, members: 4, faults: .all)
        c.params = Parameters.profiles["fast"] ?? Parameters()
        c.settleTime = .seconds(8)
        c.maxStateBytes = 64 << 10
        c.keepHistory = true
        let a = MaestroScenario(c).run()
        let b = MaestroScenario(c).run()
        #expect(a.history == b.history)
        #expect(a.history.count > 100)
    }

    /// Seeds that found the replica divergence: servers merged under a coordinator whose side
    /// had no server (60079: both became servers, each with its own state), and every server
    /// gone while transfers ran (5: the transfer servers all became servers, with and without
    /// a state). Now one holder becomes the server and the others take the state from it.
    @Test(arguments: [(UInt64(60079), 4, 262_144), (5, 5, 65536), (1090, 6, 262_144)])
    func replicasAgreeWhenNoServerIsLeft(seed: UInt64, members: Int, maxState: Int) {
        var c = MaestroScenario.Config(seed: seed, members: members, faults: .all)
        c.params = Parameters.profiles["fast"] ?? Parameters()
        c.settleTime = .seconds(12)
        c.maxStateBytes = maxState
        let r = MaestroScenario(c).run()
        #expect(r.violations.isEmpty, "\(r.violations.prefix(5))")
    }
}
