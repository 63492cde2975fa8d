import Testing
@testable import Maestro

@Test func placeholderMaestro() { #expect(true) }
