import Testing
@testable import Simulation

@Test func placeholderSimulation() { #expect(true) }
