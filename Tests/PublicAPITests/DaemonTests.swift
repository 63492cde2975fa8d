import Maestro
import Testing

// A daemon's view of the toolkit: this file imports `Maestro` and nothing else (no Ensemble,
// no @testable), so it compiles only against the public API and fails to build if a type a
// daemon needs is not reachable through `import Maestro`.

/// A replicated counter: the seed program's server, with a state transfer.
final class Counter: CSX {
    var value = 0
    var views: [CSXViewData] = []
    var elapsed: [Duration] = []
    var exited = false

    override func stateTransferCallback(_ xferID: XferID) { _ = try? getState(xferID, Message()) }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        var state = Message()
        state << value
        sendState(origin, xferID, state)
    }

    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        if let v: Int = try? stateMsg.pop() { value = v }
        xferDone(xferID)
    }

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if let d: Int = try? msg.pop() { value += d }
    }

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) { views.append(viewData) }
    override func csxHeartbeatCallback(_ elapsed: Duration) { self.elapsed.append(elapsed) }
    override func csxExitCallback() { exited = true }

    /// Applies `d` here and multicasts it (casts are not delivered to their sender).
    func add(_ d: Int) {
        value += d
        var m = Message()
        m << d
        cast(m, MessageOptions())
    }
}

@Suite(.serialized) struct DaemonTests {
    func options(_ runtime: Runtime) throws -> CSXOptions {
        var ops = CSXOptions()
        ops.groupName = "public-api-\(UInt32.random(in: 0 ... .max))"
        ops.heartbeatRate = .milliseconds(50)
        ops.xferType = .atomic
        ops.params = "fast"
        ops.properties = "Vsync"  // the seed's stack, chosen by what it guarantees
        ops.gossip = ["localhost:\(try runtime.rendezvous().port)"]
        return ops
    }

    @Test func twoServersJoinTransferAndReplicate() throws {
        let runtime = Runtime.current
        let ops = try options(runtime)
        let a = Counter(ops)
        try a.join()
        #expect(runtime.run(until: { a.clsvState == .serverNormal }, timeout: .seconds(10)))
        a.value = 5
        let b = Counter(ops)
        try b.join()
        // b starts as a group of its own and a server of it; when the two groups merge, the
        // side whose coordinator leads the merged view keeps its state and the other pulls it.
        #expect(runtime.run(until: {
            [a, b].allSatisfy { $0.clsvState == .serverNormal && $0.views.last?.nmembers == 2 }
        }, timeout: .seconds(20)))
        #expect(a.value == b.value, "one side took the other's state at the merge")
        let before = a.value
        a.add(3)
        #expect(runtime.run(until: { b.value == before + 3 }, timeout: .seconds(10)))
        #expect(a.value == before + 3)
        #expect(!a.elapsed.isEmpty && a.elapsed == a.elapsed.sorted(), "heartbeats carry the time since the first view")
        #expect(b.localAddress != nil && b.myEndpID != nil)
        a.leave()
        b.leave()
        #expect(runtime.run(until: { a.exited && b.exited }, timeout: .seconds(10)))
    }

    @Test func badOptionsAreErrorsThatSayWhatToDo() throws {
        let runtime = Runtime.current
        func joinError(_ change: (inout CSXOptions) -> Void) throws -> String {
            var ops = try options(runtime)
            change(&ops)
            do {
                try CSX(ops).join()
            } catch {
                return "\(error)"
            }
            Issue.record("join accepted bad options")
            return ""
        }
        let misspelled = try joinError { $0.params = "fast;pt2pt_windw=65536:int" }
        #expect(misspelled.contains("unknown parameter 'pt2pt_windw'") && misspelled.contains("did you mean pt2pt_window"))
        #expect(misspelled.contains("suspect_sweep (time, default 0.2)"), "the error lists the known names and defaults")
        #expect(try joinError { $0.gossip = ["10.0.0.5"] }.contains("is not host:port"))
        #expect(try joinError { $0.gossip = ["no-such-host.invalid:6000"] }.contains("cannot resolve host"))
        #expect(try joinError { $0.heartbeatRate = .zero }.contains("heartbeatRate"))
        #expect(ParameterCatalog.entries.contains { $0.name == "pt2pt_window" })
        #expect(try joinError { $0.properties = "Vsync:Totl" }.contains("unknown property 'Totl'"))
        #expect(try joinError { $0.properties = "Vsync:Auth" }.contains("need the group key"))
        #expect(try joinError { $0.protocolStack = "Top:Pt2pt:Bottom" }.contains("protocolStack"))
        var total = try options(runtime)
        total.properties = "Vsync:Total"  // client/server members join over total order now
        let sequenced = CSX(total)
        try sequenced.join()
        #expect(sequenced.selfDelivering, "a CSX over total order receives its own casts")
        sequenced.leave()
        var explicit = CSXOptions()
        explicit.properties = "Frag"
        explicit.protocolStack = MaestroOptions.defaultProtocol
        #expect(try explicit.stack() == MaestroOptions.defaultProtocol, "an explicit protocolStack wins")
    }
}
