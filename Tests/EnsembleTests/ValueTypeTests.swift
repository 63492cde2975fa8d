import Testing
import Foundation
@testable import Ensemble

@Suite struct ValueTypeTests {
    @Test func addressesParseAndPrint() {
        #expect(Address("127.0.0.1:6793") == Address(ip: 0x7F00_0001, port: 6793))
        #expect(Address("localhost:1") == .loopback(port: 1))
        #expect(Address("10.1.2.3:65535")?.description == "10.1.2.3:65535")
        for bad in ["", "1.2.3:4", "1.2.3.4", "1.2.3.256:1", "1.2.3.4:70000", "a.b.c.d:1", "1.2.3.4:"] {
            #expect(Address(bad) == nil, "\(bad)")
        }
    }

    @Test func timeArithmeticSaturates() {
        #expect(Time.never + .seconds(1) == .never)
        #expect(Time.seconds(1.5).milliseconds == 1500)
        #expect(Time.milliseconds(1) + .microseconds(500) == .microseconds(1500))
        #expect(Time.seconds(2.25).description == "2.250000s")
        #expect(Time(nanoseconds: -1_500_000).description == "-0.001500s")
    }

    @Test func rankSetsBehaveAsSets() {
        var s = RankSet([0, 3, 70])
        #expect(s.contains(3) && s.contains(70) && !s.contains(4))
        #expect(Array(s) == [0, 3, 70])
        s.remove(70)
        #expect(s == RankSet([3, 0]))
        #expect(s.count == 2)
        #expect(RankSet([1, 2]).isSubset(of: RankSet.all(4)))
        #expect(RankSet([0, 1]).lowestAbsent(below: 4) == 2)
        #expect(RankSet([0, 1, 2]).union(RankSet([5])).subtracting(RankSet([0])) == RankSet([1, 2, 5]))
        #expect(RankSet([64]).subtracting(RankSet([64])).isEmpty)
    }

    @Test func parametersParseTheEnsembleWay() throws {
        let p = try Parameters(parsing: "suspect_max_idle=3:int;suspect_sweep=0.100:time; top_gossip = false:bool,name=x y:string", checkingNames: false)
        #expect(try p.int("suspect_max_idle", default: 15) == 3)
        #expect(try p.time("suspect_sweep", default: .seconds(1)) == .milliseconds(100))
        #expect(try p.bool("top_gossip", default: true) == false)
        #expect(try p.string("name", default: "") == "x y")
        #expect(try p.int("pt2pt_window", default: 42) == 42)
        #expect(throws: ParameterError.self) { try p.bool("suspect_max_idle", default: false) }
        #expect(try p.time("suspect_max_idle", default: .zero) == .seconds(3))
        #expect(throws: ParameterError.self) { _ = try Parameters(parsing: "x=1") }
        #expect(throws: ParameterError.self) { _ = try Parameters(parsing: "x=1:integer", checkingNames: false) }
        #expect(throws: ParameterError.self) { _ = try Parameters(parsing: "x=abc:int", checkingNames: false) }
    }

    @Test func unknownParameterNamesAreErrorsListingTheKnownOnes() throws {
        do {
            _ = try Parameters(parsing: "fast;pt2pt_windw=1024:int")
            Issue.record("a misspelled name was accepted")
        } catch {
            #expect(error.message.contains("unknown parameter 'pt2pt_windw'"))
            #expect(error.message.contains("did you mean pt2pt_window"))
            #expect(error.message.contains("suspect_sweep (time, default 0.2)"))
            #expect(error.message.contains("profiles: default, ensemble, fast"))
        }
        var p = try Parameters(parsing: "pt2pt_window=1024:int")
        try p.checkNames()
        p["bogus"] = .int(1)
        #expect(throws: ParameterError.self) { try p.checkNames() }
    }

    /// The catalog lists exactly the names the sources read (`params.int("name", default: …)`).
    @Test func parameterCatalogMatchesTheSources() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources/Ensemble")
        var read = Set<String>()
        let pattern = try Regex(#"\.(int|time|bool|float|string)\("([a-z0-9_]+)", default:"#)
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift", let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            for m in text.matches(of: pattern) { if let name = m.output[2].substring { read.insert(String(name)) } }
        }
        let listed = Set(ParameterCatalog.entries.map(\.name))
        #expect(!read.isEmpty)
        #expect(read.subtracting(listed).sorted() == [], "read by the sources but not in ParameterCatalog")
        #expect(listed.subtracting(read).sorted() == [], "in ParameterCatalog but read nowhere")
    }

    @Test func parametersRoundTripOnTheWire() throws {
        var p = try Parameters(parsing: "a=1:int;b=2.5:float;c=true:bool;d=hi:string;e=0.25:time", checkingNames: false)
        p["f"] = .int(-7)
        var w = WireWriter()
        p.encode(into: &w)
        let back = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in try Parameters.decode(from: &r) }
        #expect(back == p)
    }

    @Test func groupIDsHashByName() {
        #expect(GroupID("lapa").hash == GroupID("lapa").hash)
        #expect(GroupID("lapa").hash != GroupID("lapb").hash)
    }

    @Test func viewsFailAndMergeAsEnsemble() {
        func ep(_ i: UInt32) -> EndpointID { EndpointID(host: i, port: 1, counter: 0, incarnation: 9) }
        let g = GroupID("g")
        let a = ViewState(group: g, protocolStack: "P", ltime: 5, members: [ep(1), ep(2), ep(3)],
                          addresses: [.loopback(port: 1), .loopback(port: 2), .loopback(port: 3)])
        let b = ViewState(group: g, protocolStack: "P", ltime: 7, members: [ep(4)], addresses: [.loopback(port: 4)])
        let failed = a.removing(RankSet([1]))
        #expect(failed.members == [ep(1), ep(3)] && failed.addresses.map(\.port) == [1, 3])
        let merged = ViewState.merge([failed, b])
        #expect(merged?.members == [ep(1), ep(3), ep(4)])
        #expect(merged?.ltime == 8)
        #expect(merged?.previousIDs == [failed.id, b.id])
        #expect(merged?.coordinator == ep(1))
    }
}
