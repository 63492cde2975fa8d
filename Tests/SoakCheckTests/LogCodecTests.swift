import Ensemble
import SoakCheck
import Testing

/// The text forms of endpoints, view ids, views and digests in the logs: each parses back
/// to what was written, and anything malformed parses to nil.
@Suite struct LogCodecTests {
    static let endpoints = [
        RecordedRun.ep0,
        EndpointID(host: 0x0A00_0001, port: 1, counter: 65535, incarnation: 0),
        EndpointID(host: 0xFFFF_FFFF, port: 65535, counter: 0, incarnation: .max),
        EndpointID(host: 0, port: 0, counter: 7, incarnation: 0x0123_4567_89AB_CDEF),
    ]

    @Test func endpointIsItsDescriptionAndParsesBack() {
        #expect(LogCodec.endpoint(RecordedRun.ep0) == RecordedRun.e0)
        for e in Self.endpoints {
            #expect(LogCodec.endpoint(e) == e.description)
            #expect(LogCodec.parseEndpoint(LogCodec.endpoint(e)) == e)
        }
    }

    @Test func viewIDParsesBack() {
        #expect(LogCodec.viewID(ViewID(ltime: 2, coordinator: RecordedRun.ep0)) == "2@\(RecordedRun.e0)")
        for e in Self.endpoints {
            for ltime in [UInt64(0), 1, .max] {
                let id = ViewID(ltime: ltime, coordinator: e)
                #expect(LogCodec.parseViewID(LogCodec.viewID(id)) == id)
            }
        }
    }

    @Test func viewStateParsesBackWhole() throws {
        var params = Parameters()
        params["top_sweep"] = .time(.milliseconds(500))
        let v = ViewState(
            group: GroupID("soak group"), protocolStack: "Top:Heal:Pt2pt:Mnak:Bottom", ltime: 42,
            members: [RecordedRun.ep0, RecordedRun.ep1, RecordedRun.ep2],
            addresses: [.loopback(port: 7000), .loopback(port: 7001), Address(ip: 0x0A00_0002, port: 9)],
            clients: [false, true, false], previousIDs: [RecordedRun.v1.id, RecordedRun.w0.id],
            params: params, primary: false, uptime: Time(nanoseconds: 123_456_789))
        let text = LogCodec.view(v)
        #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(try #require(LogCodec.parseView(text)) == v)
        #expect(LogCodec.parseView(text.uppercased()) == v)
    }

    @Test func digestIsSixteenHexDigits() {
        #expect(LogCodec.digest(0) == "0000000000000000")
        #expect(LogCodec.digest(0xAB) == "00000000000000ab")
        #expect(LogCodec.digest(.max) == "ffffffffffffffff")
    }

    @Test func hexRoundTripsAndRejectsNonHex() {
        let bytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]
        #expect(LogCodec.hex(bytes) == "00017f80feff")
        #expect(LogCodec.unhex("00017f80feff") == bytes)
        #expect(LogCodec.unhex("00017F80FEFF") == bytes)
        #expect(LogCodec.unhex("") == [])
        for bad in ["0", "abc", "0g", "zz", " 00", "0x00", "é0"] { #expect(LogCodec.unhex(bad) == nil, "\(bad)") }
    }

    @Test(arguments: [
        "", "/", ".", "127.0.0.1:7000", "127.0.0.1:7000/", "127.0.0.1:7000/a0", "127.0.0.1:7000/a0.",
        "127.0.0.1:7000/.0", "127.0.0.1/a0.0", "127.0.0.1:70000/a0.0", "127.0.0.256:7000/a0.0",
        "127.0.0.1:7000/zz.0", "127.0.0.1:7000/a0.65536", "127.0.0.1:7000/a0.-1",
        "127.0.0.1:7000/10000000000000000.0", "host:7000/a0.0", "127.0.0.1:7000/a0.0/a0.0",
    ])
    func malformedEndpointIsNil(text: String) {
        #expect(LogCodec.parseEndpoint(text) == nil)
    }

    @Test(arguments: [
        "", "@", "2@", "@\(RecordedRun.e0)", "x@\(RecordedRun.e0)", "-1@\(RecordedRun.e0)", "2\(RecordedRun.e0)",
        "2@2@\(RecordedRun.e0)", "18446744073709551616@\(RecordedRun.e0)",
    ])
    func malformedViewIDIsNil(text: String) {
        #expect(LogCodec.parseViewID(text) == nil)
    }

    @Test func malformedViewIsNil() {
        let good = LogCodec.view(RecordedRun.v2)
        #expect(LogCodec.parseView("") == nil)
        #expect(LogCodec.parseView("zz") == nil)
        #expect(LogCodec.parseView(good.dropLast()) == nil)        // odd length
        #expect(LogCodec.parseView(good.dropLast(2)) == nil)       // one byte short
        #expect(LogCodec.parseView(good + "00") == nil)            // a byte too many
        // Every prefix, and the view with each byte flipped, parse to nil or to some view:
        // never a crash.
        var i = good.startIndex
        while i < good.endIndex {
            _ = LogCodec.parseView(good[..<i])
            i = good.index(after: i)
        }
        let bytes = LogCodec.unhex(good) ?? []
        for k in bytes.indices {
            var b = bytes
            b[k] ^= 0xFF
            _ = LogCodec.parseView(LogCodec.hex(b))
        }
    }
}
