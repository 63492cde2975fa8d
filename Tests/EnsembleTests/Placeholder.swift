import Testing
@testable import Ensemble

@Test func placeholderEnsemble() { #expect(true) }
