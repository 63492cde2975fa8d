import Testing
@testable import Ensemble

@Suite struct WireTests {
    @Test func integersRoundTripBigEndian() throws {
        var w = WireWriter()
        w.writeFormatHeader()
        w.write(UInt8(0xAB))
        w.write(UInt16(0x0102))
        w.write(UInt32(0x0304_0506))
        w.write(UInt64.max)
        w.write(Int32.min)
        w.write(Int64(-2))
        w.write(true)
        #expect(Array(w.bytes[2 ..< 5]) == [0xAB, 0x01, 0x02])
        try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in
            try r.readFormatHeader()
            #expect(try r.read() as UInt8 == 0xAB)
            #expect(try r.read(UInt16.self) == 0x0102)
            #expect(try r.read(UInt32.self) == 0x0304_0506)
            #expect(try r.read(UInt64.self) == .max)
            #expect(try r.read(Int32.self) == .min)
            #expect(try r.read(Int64.self) == -2)
            #expect(try r.readBool())
        }
    }

    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), .max - 1, .max])
    func varintsRoundTrip(_ v: UInt64) throws {
        var w = WireWriter()
        w.writeVarint(v)
        #expect(w.count == max(1, (64 - v.leadingZeroBitCount + 6) / 7))
        let back = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in try r.readVarint() as UInt64 }
        #expect(back == v)
    }

    @Test(arguments: [Int64.min, -1, 0, 1, 63, -64, 64, .max])
    func signedVarintsRoundTrip(_ v: Int64) throws {
        var w = WireWriter()
        w.writeVarint(signed: v)
        let back = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in try r.readVarint(signed: ()) }
        #expect(back == v)
    }

    @Test func overlongAndOverflowingVarintsAreRejected() {
        let overflow: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        let tooLong: [UInt8] = Array(repeating: 0x80, count: 11) + [0x01]
        let unterminated: [UInt8] = [0x80, 0x80]
        for bytes in [overflow, tooLong] {
            #expect(throws: WireError.badVarint) {
                try WireReader.decode(bytes) { (r: inout WireReader) throws(WireError) in _ = try r.readVarint() as UInt64 }
            }
        }
        #expect(throws: WireError.truncated(needed: 1, available: 0)) {
            try WireReader.decode(unterminated) { (r: inout WireReader) throws(WireError) in _ = try r.readVarint() as UInt64 }
        }
    }

    @Test func truncationIsReportedNotTrapped() {
        #expect(throws: WireError.truncated(needed: 4, available: 3)) {
            try WireReader.decode([1, 2, 3]) { (r: inout WireReader) throws(WireError) in _ = try r.read(UInt32.self) }
        }
        #expect(throws: WireError.trailingBytes(1)) {
            try WireReader.decode([1, 2]) { (r: inout WireReader) throws(WireError) in _ = try r.read() as UInt8 }
        }
    }

    @Test func formatHeaderChecksMagicAndVersion() {
        #expect(throws: WireError.badMagic(0x00)) {
            try WireReader.decode([0x00, Wire.formatVersion]) { (r: inout WireReader) throws(WireError) in try r.readFormatHeader() }
        }
        #expect(throws: WireError.unsupportedVersion(99)) {
            try WireReader.decode([Wire.magic, 99]) { (r: inout WireReader) throws(WireError) in try r.readFormatHeader() }
        }
    }

    @Test func lengthPrefixedFieldsRespectLimits() throws {
        var w = WireWriter()
        w.writeLengthPrefixed([UInt8](repeating: 9, count: 300))
        w.write("héllo")
        let (bytes, text) = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in
            (try r.readLengthPrefixed(limit: 300), try r.readString())
        }
        #expect(bytes.count == 300 && text == "héllo")
        #expect(throws: WireError.lengthTooLarge(300, limit: 299)) {
            try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in
                _ = try r.readLengthPrefixed(limit: 299)
                _ = try r.readString()
            }
        }
        // A length that claims more than is there.
        #expect(throws: WireError.truncated(needed: 5, available: 1)) {
            try WireReader.decode([5, 1]) { (r: inout WireReader) throws(WireError) in _ = try r.readLengthPrefixed() }
        }
    }

    @Test func invalidUTF8AndBoolsAreRejected() {
        #expect(throws: WireError.invalidUTF8) {
            try WireReader.decode([2, 0xC3, 0x28]) { (r: inout WireReader) throws(WireError) in _ = try r.readString() }
        }
        #expect(throws: WireError.invalidValue(field: "bool", value: 2)) {
            try WireReader.decode([2]) { (r: inout WireReader) throws(WireError) in _ = try r.readBool() }
        }
    }

    @Test func identifiersRoundTrip() throws {
        let e = EndpointID(host: 0x0A00_0001, port: 6793, counter: 3, incarnation: 0xDEAD_BEEF_0123_4567)
        let v = ViewID(ltime: 42, coordinator: e)
        var w = WireWriter()
        e.encode(into: &w)
        v.encode(into: &w)
        #expect(w.count == EndpointID.encodedSize + ViewID.encodedSize)
        let (e2, v2) = try WireReader.decode(w.bytes) { (r: inout WireReader) throws(WireError) in
            (try EndpointID.decode(from: &r), try ViewID.decode(from: &r))
        }
        #expect(e2 == e && v2 == v)
        #expect(e.description == "10.0.0.1:6793/deadbeef01234567.3")
    }

    @Test func viewIDsOrderByLtimeThenCoordinator() {
        let a = EndpointID(host: 1, port: 1, counter: 0, incarnation: 1)
        let b = EndpointID(host: 2, port: 1, counter: 0, incarnation: 1)
        #expect(ViewID(ltime: 1, coordinator: b) < ViewID(ltime: 2, coordinator: a))
        #expect(ViewID(ltime: 2, coordinator: a) < ViewID(ltime: 2, coordinator: b))
        #expect(!(ViewID(ltime: 2, coordinator: a) < ViewID(ltime: 2, coordinator: a)))
    }

    /// 200,000 random byte strings fed to every decoder in random order: errors, never traps.
    @Test func randomBytesNeverTrapAnyDecoder() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var decoded = 0
        var failed = 0
        for _ in 0 ..< 200_000 {
            let n = Int(rng.next() % 40)
            let bytes = (0 ..< n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let choice = rng.next()
            let ok: Bool = bytes.withUnsafeBytes { raw in
                var r = WireReader(raw)
                do throws(WireError) {
                    for step in 0 ..< 6 {
                        switch (choice >> (step * 4)) & 0xF {
                        case 0: _ = try r.readVarint() as UInt64
                        case 1: _ = try r.readString(limit: 64)
                        case 2: _ = try r.readLengthPrefixed(limit: 64)
                        case 3: _ = try EndpointID.decode(from: &r)
                        case 4: _ = try ViewID.decode(from: &r)
                        case 5: _ = try r.readBool()
                        case 6: _ = try r.readFormatHeader()
                        case 7: _ = try RankSet.decode(from: &r, maxRank: 256)
                        case 8: _ = try Parameters.decode(from: &r)
                        case 9: _ = try r.readCount(limit: 10)
                        case 10: _ = try r.read(UInt64.self)
                        default: _ = try r.readVarint(signed: ())
                        }
                    }
                    return true
                } catch {
                    return false
                }
            }
            if ok { decoded += 1 } else { failed += 1 }
        }
        #expect(decoded + failed == 200_000)
        #expect(failed > 0, "seed 0x5EED0001: random input never failed, which is implausible")
    }
}

/// A tiny deterministic generator for tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
