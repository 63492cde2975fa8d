import Ensemble
import Testing
@testable import Simulation

@Suite struct MembershipSmokeTests {
    @Test func singletonsMerge() {
        var config = GroupScenario.Config(seed: 7, members: 3, faults: [])
        config.staticView = false
        config.protocolStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
        config.trafficTime = .seconds(5)
        config.settleTime = .seconds(10)
        let result = GroupScenario(config).run()
        print("violations:", result.violations.prefix(10))
        print("views:", result.finalViews)
        #expect(result.passed)
    }
}
