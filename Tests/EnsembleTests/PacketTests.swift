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
