import Testing
@testable import Ensemble

/// Does nothing; enough to build a stack.
final class NullApp: GroupApplication {
    var installs = 0
    var casts: [(Rank, [UInt8])] = []
    var heartbeats = 0
    var writable: [Rank?] = []
    func install(view: ViewState, rank: Rank) { installs += 1 }
    func receiveCast(from origin: Rank, _ payload: Packet) { casts.append((origin, payload.bytes)) }
    func receiveSend(from origin: Rank, _ payload: Packet) {}
    func heartbeat(now: Time) { heartbeats += 1 }
    func writable(peer: Rank?) { writable.append(peer) }
}

@Suite struct StackBuildingTests {
    let registry = LayerRegistry.standard

    @Test func acceptsTheDataStackInAnyCase() throws {
        let entries = try registry.validate("top:TOP_APPL:Frag:Pt2pt:Stable:Mnak:Bottom")
        #expect(entries.map(\.canonicalName) == ["Top", "Top_appl", "Frag", "Pt2pt", "Stable", "Mnak", "Bottom"])
        // Frag below Pt2pt (the seed's string) is moved above it: each fragment is then
        // repaired on its own instead of the whole send.
        let moved = try registry.validate("Top:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom")
        #expect(moved.map(\.canonicalName) == ["Top", "Top_appl", "Frag", "Pt2pt", "Stable", "Mnak", "Bottom"])
    }

    @Test func unknownLayerErrorListsTheKnownLayers() {
        #expect(throws: StackError.self) { try registry.validate("Top:Top_appl:Bogus:Bottom") }
        do {
            _ = try registry.validate("Top:Top_appl:Bogus:Bottom")
        } catch {
            #expect(error.description.contains("unknown layer 'Bogus'"))
            #expect(error.description.contains("Top:Heal:Switch:Primary:Leave:Inter:Intra:Elect:Merge:Sync:Suspect"))
        }
    }

    @Test func misplacedMissingAndDuplicateLayersAreRejected() {
        func error(_ s: String) -> StackError? {
            do { _ = try registry.validate(s); return nil } catch { return error }
        }
        #expect(error("Top:Top_appl:Mnak:Stable:Bottom") == .misplacedLayer("Stable", reason: "it must be above Mnak", known: LayerRegistry.canonicalOrder))
        #expect(error("Top_appl:Top:Bottom")?.description.contains("misplaced") == true)
        #expect(error("Top:Top_appl:Bottom:Mnak")?.description.contains("Mnak") == true)
        #expect(error("Top:Top_appl:Pt2pt:Stable:Mnak:Frag:Bottom")?.description.contains("it must be above Mnak") == true)
        #expect(error("Top:Top_appl") == .missingLayer("Bottom"))
        #expect(error("Top:Bottom") == .missingLayer("Top_appl"))
        #expect(error("Top:Top_appl:Mnak:Bottom") == .missingLayer("Stable"))
        #expect(error("Top:Top_appl:Top_appl:Bottom") == .duplicateLayer("Top_appl"))
        #expect(error("") == .emptyProtocol)
    }

    @Test func badParameterValuesFailTheBuild() throws {
        let ids = [EndpointID(host: 1, port: 1, counter: 0, incarnation: 1)]
        let view = ViewState(group: GroupID("g"), protocolStack: "Top:Top_appl:Bottom", ltime: 0, members: ids,
                             addresses: [.loopback(port: 1)])
        let setup = LayerSetup(view: view, rank: 0, params: try Parameters(parsing: "heartbeat_rate=fast:string"), now: .zero)
        let services = try LayerHarness(members: 1) { s, p, x in Bottom(s, p, x) }
        #expect(throws: StackError.self) {
            _ = try Stack(protocolStack: view.protocolStack, setup: setup, services: services) { _ in }
        }
    }
}

@Suite struct TopApplTests {
    func topAppl(_ app: NullApp, members: Int = 3, params: String = "") throws -> LayerHarness {
        try LayerHarness(members: members, rank: 0, params: params, application: app) {
            s, p, x throws(ParameterError) in try TopAppl(s, p, x)
        }
    }

    @Test func installsOnInitAndRunsTheHeartbeat() throws {
        let app = NullApp()
        let h = try topAppl(app, params: "heartbeat_rate=0.5:time")
        h.fromBelow(.initialize(.zero))
        #expect(app.installs == 1)
        #expect(h.takeDown().map(\.name) == ["timer"])
        h.fromBelow(.timer(.zero))
        h.fromBelow(.timer(.milliseconds(100)))  // not due yet
        h.fromBelow(.timer(.milliseconds(500)))
        #expect(app.heartbeats == 2)
    }

    @Test func applicationMessagesAreTaggedCountedAndDelivered() throws {
        let app = NullApp()
        let h = try topAppl(app)
        let layer = try #require(h.stack.layer(TopAppl.self))
        #expect(layer.applicationCast(Packet(payload: [1])) == .sent)
        #expect(layer.applicationSend(Packet(payload: [2]), to: 0) == .rejected("a member cannot send to itself"))
        #expect(layer.applicationSend(Packet(payload: [2]), to: 5) == .rejected("rank 5 is not in the view of 3"))
        let down = h.takeDown()
        #expect(down.first?.packet?.bytes == [1, 1])
        #expect(layer.castsSent == 1)
        // From a peer: application tag (1) -> application; pass-through tag (0) -> up.
        h.fromBelow(.cast(Packet(payload: [1, 7]), peer: 2, flags: []))
        h.fromBelow(.cast(Packet(payload: [0, 8]), peer: 2, flags: []))
        #expect(app.casts.map(\.1) == [[7]])
        #expect(layer.castsReceived == [0, 0, 1])
        #expect(h.takeUp().compactMap(\.packet).map(\.bytes) == [[8]])
    }

    @Test func windowFullIsReportedAndWritableFollows() throws {
        let app = NullApp()
        let h = try topAppl(app)
        let layer = try #require(h.stack.layer(TopAppl.self))
        h.fromBelow(.flowControl(blocked: true, peer: nil))
        #expect(layer.applicationCast(Packet(payload: [1])) == .full)
        h.fromBelow(.flowControl(blocked: true, peer: 1))
        #expect(layer.applicationSend(Packet(payload: [1]), to: 1) == .full)
        #expect(layer.applicationSend(Packet(payload: [1]), to: 2) == .sent)
        h.fromBelow(.flowControl(blocked: false, peer: nil))
        h.fromBelow(.flowControl(blocked: false, peer: 1))
        #expect(app.writable == [nil, 1])
        #expect(layer.applicationCast(Packet(payload: [1])) == .sent)
    }
}
