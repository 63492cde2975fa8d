import Testing
@testable import Reactor

@Test func placeholderReactor() { #expect(true) }
