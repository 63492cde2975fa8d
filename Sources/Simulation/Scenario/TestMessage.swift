import Ensemble

/// The payload of every message a simulated member sends: who sent it, which of its
/// messages it is, and filler bytes derived from both, so a receiver can tell a message that
/// was really sent from a corrupted or invented one.
///
/// Layout: magic (4) | origin (4) | incarnation (4) | kind (1) | seq (8) | filler length (4) | filler.
public struct TestMessage: Hashable, Sendable {
    public enum Kind: UInt8, Sendable { case cast = 1, send = 2 }

    public var origin: Int
    public var incarnation: UInt64
    public var kind: Kind
    public var seq: UInt64
    public var fillerLength: Int

    static let magic: UInt32 = 0x544D_5347  // "TMSG"
    public static let headerSize = 25

    public init(origin: Int, incarnation: UInt64, kind: Kind, seq: UInt64, fillerLength: Int) {
        self.origin = origin
        self.incarnation = incarnation
        self.kind = kind
        self.seq = seq
        self.fillerLength = fillerLength
    }

    @inline(__always) static func fillerByte(_ i: Int, seq: UInt64, origin: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: UInt64(i) &* 31 &+ seq &* 7 &+ UInt64(origin))
    }

    public func encode() -> [UInt8] {
        var w = WireWriter(capacity: TestMessage.headerSize + fillerLength)
        w.write(TestMessage.magic)
        w.write(UInt32(truncatingIfNeeded: origin))
        w.write(UInt32(truncatingIfNeeded: incarnation))
        w.write(kind.rawValue)
        w.write(seq)
        w.write(UInt32(fillerLength))
        w.bytes.reserveCapacity(TestMessage.headerSize + fillerLength)
        for i in 0 ..< fillerLength { w.bytes.append(TestMessage.fillerByte(i, seq: seq, origin: origin)) }
        return w.bytes
    }

    /// Decodes and verifies a payload; nil if it is not exactly what some member would send.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> TestMessage? {
        var r = WireReader(bytes)
        do throws(WireError) {
            guard try r.read(UInt32.self) == magic else { return nil }
            let origin = Int(try r.read(UInt32.self))
            let incarnation = UInt64(try r.read(UInt32.self))
            guard let kind = Kind(rawValue: try r.read()) else { return nil }
            let seq: UInt64 = try r.read()
            let n = Int(try r.read(UInt32.self))
            guard r.remaining == n else { return nil }
            let filler = try r.readRaw(n)
            for i in 0 ..< n where filler[i] != fillerByte(i, seq: seq, origin: origin) { return nil }
            return TestMessage(origin: origin, incarnation: incarnation, kind: kind, seq: seq, fillerLength: n)
        } catch {
            return nil
        }
    }
}
