import Testing
@testable import Ensemble

/// Choosing a stack by properties (Ensemble's `Property.choose`).
@Suite struct PropertiesTests {
    static let seed = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    @Test func vsyncIsTheSeedProgramsStack() throws {
        #expect(try Properties(parsing: "Vsync").protocolStack() == Self.seed)
        #expect(try Properties(parsing: "gmp:sync:heal:switch:suspect:frag").protocolStack() == Self.seed, "names in any case")
        #expect(try Properties(parsing: "Vsync, Xfer, Flow").protocolStack() == Self.seed, "Xfer and Flow add no layer")
    }

    @Test func fewerPropertiesGiveSmallerStacks() throws {
        #expect(try Properties(parsing: "Frag").protocolStack() == "Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom")
        #expect(try Properties(parsing: "Gmp:Sync:Suspect").protocolStack()
            == "Top:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Stable:Mnak:Bottom")
    }

    @Test func privacyImpliesAuth() throws {
        let p = try Properties(parsing: "Vsync:Privacy")
        #expect(p.contains(.auth) && p.contains(.privacy))
        #expect(try p.protocolStack() == Self.seed)
    }

    /// Auth and Privacy are no layers: they ask for the key (and encryption).
    @Test func authAndPrivacyAskForTheKey() throws {
        let auth = try Properties(parsing: "Vsync:Auth"), privacy = try Properties(parsing: "Vsync:Privacy")
        #expect(throws: StackError.self) { try auth.checkSecurity(hasKey: false, encrypts: false, keyOption: "k", encryptOption: "e") }
        try auth.checkSecurity(hasKey: true, encrypts: false, keyOption: "k", encryptOption: "e")
        #expect(throws: StackError.self) { try privacy.checkSecurity(hasKey: true, encrypts: false, keyOption: "k", encryptOption: "e") }
        try privacy.checkSecurity(hasKey: true, encrypts: true, keyOption: "k", encryptOption: "e")
        try Properties(parsing: "Vsync").checkSecurity(hasKey: false, encrypts: false, keyOption: "k", encryptOption: "e")
    }

    @Test func unknownPropertiesAreErrorsListingTheKnownOnes() {
        do {
            _ = try Properties(parsing: "Vsync:Totl")
            Issue.record("accepted an unknown property")
        } catch {
            #expect(error.description.contains("unknown property 'Totl'"))
            #expect(error.description.contains("Total: every member delivers the casts of a view in one order"))
        }
    }

    @Test func membershipPropertiesNeedGmp() {
        #expect(throws: StackError.self) { try Properties(parsing: "Sync").protocolStack() }
        #expect(throws: StackError.self) { try Properties(parsing: "Gmp:Suspect").protocolStack() }
    }

    /// A property whose layer this build lacks says so (instead of an unknown-layer error).
    @Test func aMissingLayerIsNamed() {
        let registry = LayerRegistry(factories: [:])
        do {
            _ = try Properties(parsing: "Vsync").protocolStack(registry: registry)
            Issue.record("built a stack without factories")
        } catch {
            #expect(error.description.contains("which is not in this build"))
        }
    }
}
