import Testing
@testable import Ensemble

@Suite struct PacketTests {
    @Test func pushedHeadersPopInReverseOrder() throws {
        var scratch = WireWriter()
        var p = Packet(payload: [1, 2, 3])
        p.push(using: &scratch) { $0.write(UInt8(0xAA)) }
        p.push(using: &scratch) { $0.writeVarint(300) }
        #expect(p.bytes == [0xAC, 0x02, 0xAA, 1, 2, 3])
        let outer = try p.pop { (r: inout WireReader) throws(WireError) in try r.readVarint() as UInt64 }
        let inner = try p.pop { (r: inout WireReader) throws(WireError) in try r.read() as UInt8 }
        #expect(outer == 300 && inner == 0xAA && p.bytes == [1, 2, 3])
    }

    @Test func failedPopLeavesPacketUnchanged() {
        var p = Packet(payload: [1])
        #expect(throws: WireError.self) {
            _ = try p.pop { (r: inout WireReader) throws(WireError) in try r.read(UInt32.self) }
        }
        #expect(p.bytes == [1])
    }

    @Test func keptPacketIsUndisturbedByPushesOnACopy() {
        var scratch = WireWriter()
        var kept = Packet(payload: [7, 7])
        kept.push(using: &scratch) { $0.write(UInt8(1)) }
        var sent = kept
        sent.push(using: &scratch) { $0.write(UInt8(2)) }
        sent.push(using: &scratch) { $0.write(UInt32(0xFFFF_FFFF)) }
        #expect(kept.bytes == [1, 7, 7])
        #expect(sent.bytes == [0xFF, 0xFF, 0xFF, 0xFF, 2, 1, 7, 7])
    }

    @Test func pushingBeyondTheHeadroomMovesToABiggerBuffer() {
        var scratch = WireWriter()
        var p = Packet(payload: [5], headroom: 2)
        p.push(using: &scratch) { $0.writeRaw([UInt8](repeating: 9, count: 200)) }
        #expect(p.count == 201)
        #expect(p.bytes.last == 5)
    }

    @Test func slicesDoNotOverwriteEachOther() {
        var scratch = WireWriter()
        let whole = Packet(payload: Array(0 ..< 10 as Range<UInt8>))
        var first = whole.slice(0 ..< 5)
        var second = whole.slice(5 ..< 10)
        second.push(using: &scratch) { $0.write(UInt8(0xEE)) }
        first.push(using: &scratch) { $0.write(UInt8(0xDD)) }
        #expect(first.bytes == [0xDD, 0, 1, 2, 3, 4])
        #expect(second.bytes == [0xEE, 5, 6, 7, 8, 9])
        #expect(whole.bytes == Array(0 ..< 10))
    }
}

private struct TestHeader: HeaderEncodable {
    var tag: UInt8
    var seq: UInt64
    var encodedSizeBound: Int { 1 + 10 }
    func encode<W: WireWriting>(into w: inout W) {
        w.write(tag)
        w.writeVarint(seq)
    }
}

/// A header whose size bound is too small.
private struct UnderestimatedHeader: HeaderEncodable {
    var words: [UInt64]
    var encodedSizeBound: Int { 2 }
    func encode<W: WireWriting>(into w: inout W) {
        w.writeCount(words.count)
        for x in words { w.write(x) }
    }
}

@Suite struct PacketHeaderTests {
    /// A wrong bound costs a second encoding, never a trap nor a truncated header.
    @Test func headerPastItsBoundIsStillPushedWhole() throws {
        for headroom in [0, 3, 96] {
            var p = Packet(payload: [7], headroom: headroom)
            p.push(TestHeader(tag: 1, seq: 5))
            p.push(UnderestimatedHeader(words: [.max, 1, 2]))
            p.push(TestHeader(tag: 2, seq: 300))
            #expect(p.count == 3 + 25 + 2 + 1)
            let outer = try p.pop { (r: inout WireReader) throws(WireError) in (try r.read() as UInt8, try r.readVarint() as UInt64) }
            #expect(outer == (2, 300))
            let words = try p.pop { (r: inout WireReader) throws(WireError) in
                try (0 ..< r.readCount(limit: 3)).map { (_: Int) throws(WireError) in try r.read() as UInt64 }
            }
            #expect(words == [.max, 1, 2])
            #expect(p.bytes == [1, 5, 7])
        }
    }

    @Test func typedHeadersAreWrittenStraightIntoTheHeadroom() throws {
        var p = Packet(payload: [9])
        p.push(TestHeader(tag: 1, seq: 5))
        p.push(TestHeader(tag: 2, seq: 300))
        #expect(p.bytes == [2, 0xAC, 0x02, 1, 5, 9])
        let outer = try p.pop { (r: inout WireReader) throws(WireError) in (try r.read() as UInt8, try r.readVarint() as UInt64) }
        #expect(outer == (2, 300))
    }

    @Test func typedHeaderOnSliceOrFullHeadroomRegrows() {
        var p = Packet(payload: [1, 2], headroom: 3)
        p.push(TestHeader(tag: 7, seq: 1))  // bound 11 > headroom 3
        #expect(p.bytes == [7, 1, 1, 2])
        let whole = Packet(payload: [1, 2, 3, 4])
        var s = whole.slice(2 ..< 4)
        s.push(TestHeader(tag: 8, seq: 0))
        #expect(s.bytes == [8, 0, 3, 4])
        #expect(whole.bytes == [1, 2, 3, 4])
    }
}
