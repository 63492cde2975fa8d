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
        let a = MaestroScenario(c).run()
        let b = MaestroScenario(c).run()
        #expect(a.history == b.history)
        #expect(a.history.count > 100)
    }

    /// Open bug (see the README's known issues): servers of one final view may hold different
    /// replicated states after partitions during transfers. Seed 5 with 5 members shows it.
    @Test func knownIssueReplicasCanDivergeAfterPartitionsDuringTransfers() {
        var c = MaestroScenario.Config(seed: 5, members: 5, faults: .all)
        c.params = Parameters.profiles["fast"] ?? Parameters()
        c.settleTime = .seconds(12)
        c.maxStateBytes = 65536
        let r = MaestroScenario(c).run()
        #expect(r.violations.allSatisfy { $0.property == "replicas" }, "\(r.violations)")
        withKnownIssue("replicas diverge (seed 5): a Maestro/CSX transfer bug under partitions, open in issue 12") {
            #expect(r.violations.isEmpty, "\(r.violations)")
        }
    }
}
