import Ensemble
import Foundation
import Testing

import Maestro
@testable import MaestroCore

// MARK: Helpers

/// SplitMix64: a tiny deterministic generator, so a failing seed replays exactly.
struct SplitMix64: RandomNumberGenerator {
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

/// A user type with several fields, as an application would marshal its state.
struct Account: MessageCodable, Equatable {
    var owner: String
    var balance: Int64
    var frozen: Bool

    func push(onto message: inout Message) {
        message << owner
        message << balance
        message << frozen
    }

    static func pop(from message: inout Message) throws(WireError) -> Account {
        let frozen: Bool = try message.pop()
        let balance: Int64 = try message.pop()
        let owner: String = try message.pop()
        return Account(owner: owner, balance: balance, frozen: frozen)
    }
}

let endpointA = EndpointID(host: 0x7F00_0001, port: 6000, counter: 3, incarnation: 0xDEAD_BEEF_0123_4567)
let endpointB = EndpointID(host: 0x0A00_0002, port: 1, counter: 0xFFFF, incarnation: .max)

func roundTrip<T: MessageCodable & Equatable>(_ value: T) throws -> T {
    var msg = Message()
    msg << value
    var copy = Message(bytes: msg.bytes)  // as received from the wire
    let back: T = try copy.pop()
    #expect(copy.isEmpty)
    return back
}

func expectRoundTrip<T: MessageCodable & Equatable>(
    _ values: [T], sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for v in values {
        #expect(try roundTrip(v) == v, sourceLocation: sourceLocation)
    }
    // All at once, popped in reverse.
    var msg = Message()
    for v in values { msg.push(v) }
    for v in values.reversed() {
        #expect(try msg.pop(T.self) == v, sourceLocation: sourceLocation)
    }
    #expect(msg.isEmpty, sourceLocation: sourceLocation)
}

func intExtremes<T: FixedWidthInteger>(_: T.Type) -> [T] {
    [T.min, T.max, 0, 1, T.max / 2, T.min / 2, T(truncatingIfNeeded: 0x1234_5678_9ABC_DEF0)]
}

// MARK: Basics

@Test func smallTestIsLIFO() throws {
    // Maestro's small_test: push 1 then 2, pop 2 then 1.
    var msg = Message()
    msg << Int32(1)
    msg << Int32(2)
    #expect(msg.count == 8)
    var x: Int32 = 0
    try msg >> x
    #expect(x == 2)
    try msg >> x
    #expect(x == 1)
    #expect(msg.isEmpty)
}

@Test func lifoAcrossMixedTypes() throws {
    var msg = Message()
    msg << Int8(-5)
    msg << "hello"
    msg << true
    msg << UInt64.max
    msg << [Int16(1), -2, 3]
    msg << endpointA
    msg << 2.5
    #expect(try msg.pop(Double.self) == 2.5)
    #expect(try msg.pop(EndpointID.self) == endpointA)
    #expect(try msg.pop([Int16].self) == [1, -2, 3])
    #expect(try msg.pop(UInt64.self) == .max)
    #expect(try msg.pop(Bool.self) == true)
    #expect(try msg.pop(String.self) == "hello")
    #expect(try msg.pop(Int8.self) == -5)
    #expect(msg.isEmpty)
}

@Test func seedProgramStateTransfer() throws {
    // askState_Callback / gotState_Callback of the seed program.
    var state = 42
    var stateMsg = Message()
    stateMsg << state
    state = 0
    try stateMsg >> state  // no `&`: operators take inout operands as they are
    #expect(state == 42)

    var account = Account(owner: "nobody", balance: 0, frozen: true)
    var msg = Message()
    msg << Account(owner: "Zoë", balance: -7, frozen: false)
    try msg >> account
    #expect(account == Account(owner: "Zoë", balance: -7, frozen: false))
}

@Test func popStyles() throws {
    var msg = Message()
    msg.push(Int32(7))
    msg.push(Int32(8))
    msg << Int32(9)
    let a: Int32 = try msg.pop()
    let b = try msg.pop(Int32.self)
    var c: Int32 = 0
    try msg >> c
    #expect([a, b, c] == [9, 8, 7])
}

// MARK: Round trips

@Test func integersRoundTrip() throws {
    try expectRoundTrip(intExtremes(Int8.self))
    try expectRoundTrip(intExtremes(Int16.self))
    try expectRoundTrip(intExtremes(Int32.self))
    try expectRoundTrip(intExtremes(Int64.self))
    try expectRoundTrip(intExtremes(Int.self))
    try expectRoundTrip(intExtremes(UInt8.self))
    try expectRoundTrip(intExtremes(UInt16.self))
    try expectRoundTrip(intExtremes(UInt32.self))
    try expectRoundTrip(intExtremes(UInt64.self))
    try expectRoundTrip(intExtremes(UInt.self))
}

@Test func integerWidthsAndByteOrder() {
    func encoded<T: MessageCodable>(_ v: T) -> [UInt8] {
        var m = Message()
        m << v
        return m.bytes
    }
    #expect(encoded(Int8(-2)) == [0xFE])
    #expect(encoded(UInt16(0x0102)) == [1, 2])
    #expect(encoded(Int32(0x0102_0304)) == [1, 2, 3, 4])
    #expect(encoded(Int64.min) == [0x80, 0, 0, 0, 0, 0, 0, 0])
    #expect(encoded(1) == [0, 0, 0, 0, 0, 0, 0, 1])  // Int: 8 bytes
    #expect(encoded(UInt(5)) == [0, 0, 0, 0, 0, 0, 0, 5])
    #expect(encoded(true) == [1])
    #expect(encoded(false) == [0])
    #expect(encoded(1.0) == [0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
    #expect(encoded(Float(1)) == [0x3F, 0x80, 0, 0])
    #expect(encoded("hé") == [0x68, 0xC3, 0xA9, 0, 0, 0, 3])
    #expect(encoded([UInt8]([9, 8])) == [9, 8, 0, 0, 0, 2])
    #expect(encoded([Int16(1), 2]) == [0, 1, 0, 2, 0, 0, 0, 2])
    var none = Message()
    none.push(optional: Int32?.none)
    #expect(none.bytes == [0])
    var some = Message()
    some.push(optional: Int8(3))
    #expect(some.bytes == [3, 1])
}

@Test func boolsAndFloatsRoundTrip() throws {
    try expectRoundTrip([true, false, true])
    try expectRoundTrip([0.0, -0.0, 1.5, -1e300, .infinity, -.infinity, .leastNonzeroMagnitude, .pi])
    try expectRoundTrip([Float(0), -1.25, .greatestFiniteMagnitude])
    let nan = Double(bitPattern: 0x7FF8_0000_0000_1234)
    #expect(try roundTrip(nan).bitPattern == nan.bitPattern)
    #expect(try roundTrip(-0.0).sign == .minus)
}

@Test func stringsRoundTrip() throws {
    try expectRoundTrip([
        "", "a", "hello, world", "Zoë", "日本語のテキスト", "🇨🇭👩‍👩‍👧", "nul\u{0}inside", "\u{FFFD}",
        String(repeating: "x", count: 70_000),
    ])
}

@Test func byteArraysRoundTrip() throws {
    var rng = SplitMix64(seed: 7)
    let big = (0 ..< 1 << 20).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    try expectRoundTrip([[UInt8]([]), [0], [1, 2, 3], big])
    try expectRoundTrip([[Int8](), [-128, 0, 127]])

    var msg = Message()
    msg << big
    #expect(msg.count == big.count + 4)
    #expect(try msg.pop([UInt8].self) == big)
}

@Test func rawBytesRoundTrip() throws {
    var msg = Message()
    msg << Int32(1)
    msg.push(raw: [1, 2, 3])
    msg.push(raw: [UInt8]())
    msg.push(raw: "abc".utf8)
    #expect(try msg.pop(rawCount: 3) == Array("abc".utf8))
    #expect(try msg.pop(rawCount: 0) == [])
    #expect(try msg.pop(rawCount: 3) == [1, 2, 3])
    #expect(try msg.pop(Int32.self) == 1)
    #expect(throws: WireError.truncated(needed: 1, available: 0)) { try msg.pop(rawCount: 1) }
    #expect(throws: WireError.truncated(needed: -1, available: 0)) { try msg.pop(rawCount: -1) }
}

@Test func nestedMessagesRoundTrip() throws {
    var inner = Message()
    inner << Int32(5)
    inner << "inner"

    var middle = Message()
    middle << "before"
    middle << inner
    middle << UInt16(9)

    var outer = Message()
    outer << true
    outer << middle
    outer << Int64.min

    // Wire form survives.
    var received = Message(bytes: outer.bytes)
    #expect(try received.pop(Int64.self) == .min)
    var middleBack = try received.pop(Message.self)
    #expect(middleBack == middle)
    #expect(try received.pop(Bool.self) == true)
    #expect(received.isEmpty)

    #expect(try middleBack.pop(UInt16.self) == 9)
    var innerBack = Message()
    try middleBack >> innerBack
    #expect(try middleBack.pop(String.self) == "before")
    #expect(middleBack.isEmpty)
    #expect(try innerBack.pop(String.self) == "inner")
    #expect(try innerBack.pop(Int32.self) == 5)

    // Only the unread part of a message is nested.
    var partly = Message()
    partly << Int32(1)
    partly << Int32(2)
    _ = try partly.pop(Int32.self)
    var holder = Message()
    holder << partly
    #expect(holder.bytes == [0, 0, 0, 1, 0, 0, 0, 4, 0xAB, 0xDF, 0xBA, 0xBC])

    // Empty nested message.
    try expectRoundTrip([Message(), Message(bytes: [1, 2, 3])])
}

@Test func largeNestedMessage() throws {
    var rng = SplitMix64(seed: 99)
    var inner = Message()
    for _ in 0 ..< 20_000 { inner << UInt32.random(in: .min ... .max, using: &rng) }
    #expect(inner.count > 64 * 1024)
    var outer = Message()
    outer << "header"
    outer << inner
    outer << "trailer"
    var received = Message(bytes: outer.bytes)
    #expect(try received.pop(String.self) == "trailer")
    #expect(try received.pop(Message.self) == inner)
    #expect(try received.pop(String.self) == "header")
}

@Test func identifiersRoundTrip() throws {
    try expectRoundTrip([endpointA, endpointB, EndpointID.none])
    let views = [ViewID(ltime: 0, coordinator: endpointA), ViewID(ltime: .max, coordinator: endpointB)]
    try expectRoundTrip(views)

    // The same bytes as Ensemble's fixed encoding.
    var w = WireWriter()
    endpointA.encode(into: &w)
    var msg = Message()
    msg << endpointA
    #expect(msg.bytes == w.bytes)
    #expect(msg.count == EndpointID.encodedSize)

    // A view id is ltime then coordinator, so it may be popped as coordinator then ltime.
    msg.reset()
    msg << views[1]
    #expect(msg.count == ViewID.encodedSize)
    #expect(try msg.pop(EndpointID.self) == endpointB)
    #expect(try msg.pop(UInt64.self) == .max)
    msg << UInt64(12)
    msg << endpointA
    #expect(try msg.pop(ViewID.self) == ViewID(ltime: 12, coordinator: endpointA))
}

@Test func arraysOfCodablesRoundTrip() throws {
    try expectRoundTrip([[Int32](), [1, -2, 3]])
    try expectRoundTrip([["a", "", "ü"], []])
    try expectRoundTrip([[endpointA, endpointB, .none]])
    try expectRoundTrip([[ViewID(ltime: 3, coordinator: endpointB)]])
    try expectRoundTrip([[[UInt8]]([[1], [], [2, 3]])])
    try expectRoundTrip([[[Int64]]([[.min], [], [.max, 0]])])
    try expectRoundTrip([[Account(owner: "a", balance: 1, frozen: true), Account(owner: "b", balance: -2, frozen: false)]])
    try expectRoundTrip([[Message(bytes: [1]), Message()]])
    try expectRoundTrip([[true, false, false]])
    let many = (0 ..< 10_000).map { Int32($0) }
    #expect(try roundTrip(many) == many)
}

@Test func optionalsRoundTrip() throws {
    var msg = Message()
    msg.push(optional: Int32?.none)
    msg.push(optional: Int32.min)
    msg.push(optional: "x")
    msg.push(optional: endpointA)
    #expect(try msg.popOptional(EndpointID.self) == endpointA)
    #expect(try msg.popOptional(String.self) == "x")
    #expect(try msg.popOptional(Int32.self) == .min)
    #expect(try msg.popOptional(Int32.self) == nil)
    #expect(msg.isEmpty)
    // A plain pop of an Int never takes an optional's presence flag.
    var m = Message()
    m << 7
    let seven: Int? = try? m.pop()
    #expect(seven == 7)
}

// MARK: Bad input

/// Expects `pop` to throw `error` and to leave the message as it was, both through
/// `Message.pop` and through the type's own `pop(from:)` (atomic for the built-in types).
func expectFailure<T: MessageCodable>(
    _ type: T.Type, from bytes: [UInt8], _ error: WireError,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var msg = Message(bytes: bytes)
    #expect(throws: error, sourceLocation: sourceLocation) { try msg.pop(type) }
    #expect(msg.bytes == bytes, sourceLocation: sourceLocation)
    #expect(throws: error, sourceLocation: sourceLocation) { try T.pop(from: &msg) }
    #expect(msg.bytes == bytes, sourceLocation: sourceLocation)
}

@Test func truncatedInput() {
    expectFailure(Int32.self, from: [1, 2], .truncated(needed: 4, available: 2))
    expectFailure(Int64.self, from: [], .truncated(needed: 8, available: 0))
    expectFailure(Int.self, from: [1, 2, 3, 4, 5, 6, 7], .truncated(needed: 8, available: 7))
    expectFailure(UInt8.self, from: [], .truncated(needed: 1, available: 0))
    expectFailure(Bool.self, from: [], .truncated(needed: 1, available: 0))
    expectFailure(Double.self, from: [0], .truncated(needed: 8, available: 1))
    expectFailure(String.self, from: [0, 0, 0], .truncated(needed: 4, available: 3))
    expectFailure(EndpointID.self, from: Array(repeating: 1, count: 15), .truncated(needed: 16, available: 15))
    expectFailure(ViewID.self, from: Array(repeating: 1, count: 23), .truncated(needed: 24, available: 23))
    expectFailure(Message.self, from: [0xAB, 0xDF, 0xBA], .truncated(needed: 4, available: 3))
    expectFailure(Message.self, from: [0, 0, 0xAB, 0xDF, 0xBA, 0xBC], .truncated(needed: 4, available: 2))
    // An array whose count is fine but whose elements run out.
    expectFailure([Int32].self, from: [0, 0, 0, 1, 0, 0, 0, 2], .truncated(needed: 4, available: 0))
    var truncatedOptional = Message(bytes: [0, 0, 1])
    #expect(throws: WireError.truncated(needed: 4, available: 2)) { try truncatedOptional.popOptional(Int32.self) }
    #expect(truncatedOptional.bytes == [0, 0, 1])
}

@Test func oversizedLengths() {
    expectFailure(String.self, from: [0x61, 0, 0, 0, 2], .lengthTooLarge(2, limit: 1))
    expectFailure(String.self, from: [0xFF, 0xFF, 0xFF, 0xFF], .lengthTooLarge(Int(UInt32.max), limit: 0))
    expectFailure([UInt8].self, from: [1, 2, 3, 0, 0, 1, 0], .lengthTooLarge(256, limit: 3))
    expectFailure([Int64].self, from: [0, 0, 0, 5], .lengthTooLarge(5, limit: 0))
    expectFailure(Message.self, from: [1, 0, 0, 0, 2, 0xAB, 0xDF, 0xBA, 0xBC], .lengthTooLarge(2, limit: 1))
}

@Test func wrongMagic() {
    expectFailure(Message.self, from: [0, 0, 0, 0, 0xAB, 0xDF, 0xBA, 0xBD], .invalidValue(field: "nested message magic", value: 0xABDF_BABD))
    expectFailure(Message.self, from: [0, 0, 0, 0], .invalidValue(field: "nested message magic", value: 0))
}

@Test func invalidUTF8AndBool() {
    expectFailure(String.self, from: [0xC3, 0, 0, 0, 1], .invalidUTF8)  // lone lead byte
    expectFailure(String.self, from: [0xED, 0xA0, 0x80, 0, 0, 0, 3], .invalidUTF8)  // surrogate
    expectFailure(String.self, from: [0xC0, 0xAF, 0, 0, 0, 2], .invalidUTF8)  // overlong
    expectFailure(String.self, from: [0xEF, 0xBF, 0x41, 0, 0, 0, 3], .invalidUTF8)
    expectFailure(String.self, from: [0xF4, 0x90, 0x80, 0x80, 0, 0, 0, 4], .invalidUTF8)  // above U+10FFFF
    expectFailure(Bool.self, from: [2], .invalidValue(field: "Bool", value: 2))
    expectFailure(Bool.self, from: [0xFF], .invalidValue(field: "Bool", value: 255))
    var badFlag = Message(bytes: [7])
    #expect(throws: WireError.invalidValue(field: "Bool", value: 7)) { try badFlag.popOptional(Int16.self) }
    expectFailure([Bool].self, from: [1, 0, 3, 0, 0, 0, 3], .invalidValue(field: "Bool", value: 3))
}

@Test func failedCompositePopLeavesMessageUnchanged() throws {
    // A user type that fails after popping two of its three fields.
    var msg = Message()
    msg << "owner"
    msg << Int64(10)
    msg << UInt8(9)  // not a Bool
    let before = msg
    #expect(throws: WireError.invalidValue(field: "Bool", value: 9)) { try msg.pop(Account.self) }
    #expect(msg == before)

    // An array whose last-popped element is bad.
    msg.reset()
    msg.push(raw: [0xFF, 0, 0, 0, 1])  // invalid string
    msg << Int64(1)
    msg << true
    msg << Account(owner: "ok", balance: 2, frozen: false)
    msg.pushLength(2)
    let before2 = msg
    #expect(throws: WireError.invalidUTF8) { try msg.pop([Account].self) }
    #expect(msg == before2)
    var accounts: [Account] = [Account(owner: "keep", balance: 0, frozen: false)]
    #expect(throws: WireError.invalidUTF8) { try msg >> accounts }
    #expect(accounts == [Account(owner: "keep", balance: 0, frozen: false)])
    #expect(msg == before2)
}

// MARK: Value semantics and housekeeping

@Test func copiesAreIndependent() throws {
    var a = Message()
    a << Int32(1)
    a << Int32(2)
    var b = a
    let c = Message(a)
    b << Int32(3)
    #expect(a.count == 8)
    #expect(b.count == 12)
    #expect(try a.pop(Int32.self) == 2)
    #expect(b.count == 12)
    #expect(try b.pop(Int32.self) == 3)
    #expect(try b.pop(Int32.self) == 2)
    #expect(try b.pop(Int32.self) == 1)
    #expect(c.bytes == [0, 0, 0, 1, 0, 0, 0, 2])

    // Pushing onto a popped copy must not disturb the original's popped-but-shared bytes.
    var d = Message()
    d << Int32(7)
    d << Int32(8)
    var e = d
    _ = try e.pop(Int32.self)
    e << Int32(9)
    #expect(try d.pop(Int32.self) == 8)
    #expect(try e.pop(Int32.self) == 9)
    #expect(try e.pop(Int32.self) == 7)

    // A nested message is a copy, not a view of the outer buffer.
    var outer = Message()
    outer << Message(bytes: [1, 2])
    var inner = try outer.pop(Message.self)
    outer << UInt8(0xEE)
    inner << UInt8(3)
    #expect(inner.bytes == [1, 2, 3])
    #expect(outer.bytes == [0xEE])
}

@Test func pushAfterPopLandsOnUnreadPart() throws {
    var msg = Message()
    msg << Int32(1)
    msg << Int64(2)
    _ = try msg.pop(Int64.self)
    msg << UInt8(3)
    #expect(msg.bytes == [0, 0, 0, 1, 3])
    #expect(try msg.pop(UInt8.self) == 3)
    #expect(try msg.pop(Int32.self) == 1)
}

@Test func housekeeping() throws {
    var msg = Message()
    #expect(msg.isEmpty && msg.count == 0 && msg.bytes == [])
    msg.reserveCapacity(1024)
    msg << "abc"
    #expect(msg.count == 7)
    #expect(msg.description == "Message(7 bytes: 61 62 63 00 00 00 03)")
    msg.reset()
    #expect(msg.isEmpty)
    msg << UInt8(1)
    #expect(msg.description == "Message(1 byte: 01)")
    #expect(Message().description == "Message(0 bytes)")
    #expect(Message(bytes: Array(repeating: 0, count: 40)).description.hasSuffix(" …)"))

    let raw: [UInt8] = [0, 0, 0, 42]
    let copied = raw.withUnsafeBytes { Message(copying: $0) }
    #expect(copied == Message(bytes: raw))
    var m2 = copied
    #expect(try m2.pop(Int32.self) == 42)
    #expect(m2 != copied)
    let sum = copied.withUnsafeBytes { $0.reduce(0, { $0 + Int($1) }) }
    #expect(sum == 42)
}

// MARK: Random input

/// One of the types the random tests push and pop.
enum Kind: CaseIterable {
    case int8, uint16, int32, int64, int, bool, double, string, bytes, int32s, strings,
        nested, endpoint, view, optional, raw, account
}

/// A value of one of `Kind`, so random sequences can be pushed and compared.
enum Sample: Equatable {
    case int8(Int8), uint16(UInt16), int32(Int32), int64(Int64), int(Int), bool(Bool)
    case double(UInt64)  // bit pattern, so NaN compares
    case string(String), bytes([UInt8]), int32s([Int32]), strings([String])
    case nested([Sample])
    case endpoint(EndpointID), view(ViewID), optional(Int16?), raw([UInt8]), account(Account)

    var kind: Kind {
        switch self {
        case .int8: .int8
        case .uint16: .uint16
        case .int32: .int32
        case .int64: .int64
        case .int: .int
        case .bool: .bool
        case .double: .double
        case .string: .string
        case .bytes: .bytes
        case .int32s: .int32s
        case .strings: .strings
        case .nested: .nested
        case .endpoint: .endpoint
        case .view: .view
        case .optional: .optional
        case .raw: .raw
        case .account: .account
        }
    }

    static func random(using rng: inout SplitMix64, depth: Int = 0) -> Sample {
        func int<T: FixedWidthInteger>(_: T.Type) -> T { T(truncatingIfNeeded: rng.next()) }
        func text() -> String {
            let pools: [ClosedRange<UInt32>] = [0x20 ... 0x7E, 0xA0 ... 0x2FF, 0x3040 ... 0x30FF, 0x1F600 ... 0x1F64F]
            var s = ""
            for _ in 0 ..< Int.random(in: 0 ... 6, using: &rng) {
                let pool = pools[Int.random(in: 0 ..< pools.count, using: &rng)]
                if let scalar = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { s.unicodeScalars.append(scalar) }
            }
            return s
        }
        func bytes() -> [UInt8] { (0 ..< Int.random(in: 0 ... 8, using: &rng)).map { _ in int(UInt8.self) } }
        func endpoint() -> EndpointID {
            EndpointID(host: int(UInt32.self), port: int(UInt16.self), counter: int(UInt16.self), incarnation: rng.next())
        }
        var kinds = Kind.allCases
        if depth >= 2 { kinds.removeAll { $0 == .nested } }
        switch kinds[Int.random(in: 0 ..< kinds.count, using: &rng)] {
        case .int8: return .int8(int(Int8.self))
        case .uint16: return .uint16(int(UInt16.self))
        case .int32: return .int32(int(Int32.self))
        case .int64: return .int64(int(Int64.self))
        case .int: return .int(int(Int.self))
        case .bool: return .bool(rng.next() & 1 == 0)
        case .double: return .double(rng.next())
        case .string: return .string(text())
        case .bytes: return .bytes(bytes())
        case .int32s: return .int32s((0 ..< Int.random(in: 0 ... 4, using: &rng)).map { _ in int(Int32.self) })
        case .strings: return .strings((0 ..< Int.random(in: 0 ... 3, using: &rng)).map { _ in text() })
        case .nested:
            return .nested((0 ..< Int.random(in: 0 ... 3, using: &rng)).map { _ in random(using: &rng, depth: depth + 1) })
        case .endpoint: return .endpoint(endpoint())
        case .view: return .view(ViewID(ltime: rng.next(), coordinator: endpoint()))
        case .optional: return .optional(rng.next() & 1 == 0 ? nil : int(Int16.self))
        case .raw: return .raw(bytes())
        case .account: return .account(Account(owner: text(), balance: int(Int64.self), frozen: rng.next() & 1 == 0))
        }
    }

    func push(onto msg: inout Message) {
        switch self {
        case let .int8(v): msg << v
        case let .uint16(v): msg << v
        case let .int32(v): msg << v
        case let .int64(v): msg << v
        case let .int(v): msg << v
        case let .bool(v): msg << v
        case let .double(v): msg << Double(bitPattern: v)
        case let .string(v): msg << v
        case let .bytes(v): msg << v
        case let .int32s(v): msg << v
        case let .strings(v): msg << v
        case let .nested(samples):
            var inner = Message()
            for s in samples { s.push(onto: &inner) }
            msg << inner
        case let .endpoint(v): msg << v
        case let .view(v): msg << v
        case let .optional(v): msg.push(optional: v)
        case let .raw(v):
            msg.push(raw: v)
            msg << UInt8(v.count)  // raw bytes need their length known: carry it alongside
        case let .account(v): msg << v
        }
    }

    /// Pops a value of the given shape; a nested message is popped as `shape.inner`.
    static func pop(_ shape: Shape, from msg: inout Message) throws(WireError) -> Sample {
        switch shape.kind {
        case .int8: return .int8(try msg.pop())
        case .uint16: return .uint16(try msg.pop())
        case .int32: return .int32(try msg.pop())
        case .int64: return .int64(try msg.pop())
        case .int: return .int(try msg.pop())
        case .bool: return .bool(try msg.pop())
        case .double: return .double(try msg.pop(Double.self).bitPattern)
        case .string: return .string(try msg.pop())
        case .bytes: return .bytes(try msg.pop())
        case .int32s: return .int32s(try msg.pop())
        case .strings: return .strings(try msg.pop())
        case .nested:
            let saved = msg
            do throws(WireError) {
                var innerMsg: Message = try msg.pop()
                var samples: [Sample] = []
                for k in shape.inner.reversed() { samples.append(try pop(k, from: &innerMsg)) }
                if !innerMsg.isEmpty { throw .trailingBytes(innerMsg.count) }
                return .nested(samples.reversed())
            } catch {
                msg = saved
                throw error
            }
        case .endpoint: return .endpoint(try msg.pop())
        case .view: return .view(try msg.pop())
        case .optional: return .optional(try msg.popOptional(Int16.self))
        case .raw:
            let saved = msg
            do throws(WireError) {
                let n: UInt8 = try msg.pop()
                return .raw(try msg.pop(rawCount: Int(n)))
            } catch {
                msg = saved
                throw error
            }
        case .account: return .account(try msg.pop())
        }
    }

    var shape: Shape {
        if case let .nested(samples) = self { Shape(kind: .nested, inner: samples.map(\.shape)) } else { Shape(kind: kind) }
    }
}

/// What to pop: a kind and, for a nested message, the shapes of its contents in push order.
struct Shape {
    var kind: Kind
    var inner: [Shape] = []

    static func random(using rng: inout SplitMix64, depth: Int = 0) -> Shape {
        let kind = Kind.allCases[Int.random(in: 0 ..< Kind.allCases.count, using: &rng)]
        guard kind == .nested, depth < 2 else { return Shape(kind: kind == .nested ? .int32 : kind) }
        return Shape(kind: kind, inner: (0 ..< Int.random(in: 0 ... 3, using: &rng)).map { _ in random(using: &rng, depth: depth + 1) })
    }
}

@Test func randomValuesRoundTrip() throws {
    let seed: UInt64 = 0x5EED_0001
    var rng = SplitMix64(seed: seed)
    for _ in 0 ..< 2_000 {
        let samples = (0 ..< Int.random(in: 0 ... 8, using: &rng)).map { _ in Sample.random(using: &rng) }
        var msg = Message()
        for s in samples { s.push(onto: &msg) }
        var received = Message(bytes: msg.bytes)
        for s in samples.reversed() {
            let back = try Sample.pop(s.shape, from: &received)
            #expect(back == s, "seed \(seed)")
        }
        #expect(received.isEmpty)
    }
}

func name(of error: WireError) -> String {
    switch error {
    case .truncated: "truncated"
    case .badMagic: "badMagic"
    case .unsupportedVersion: "unsupportedVersion"
    case .badVarint: "badVarint"
    case .lengthTooLarge: "lengthTooLarge"
    case let .invalidValue(field, _): "invalidValue(\(field))"
    case .invalidUTF8: "invalidUTF8"
    case .trailingBytes: "trailingBytes"
    }
}

/// Random bytes and mutated valid encodings, popped with random types: never a trap, and a
/// failed pop never changes the message.
@Test func randomBytesNeverTrap() {
    let seed = ProcessInfo.processInfo.environment["MESSAGE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0xC0FF_EE00_2024
    print("MessageTests.randomBytesNeverTrap: seed \(seed) (set MESSAGE_FUZZ_SEED to replay another)")
    var rng = SplitMix64(seed: seed)
    let inputs = 100_000
    var successes = 0
    var errors = 0
    var emptied = 0
    var notAtomic = 0
    var errorKinds: [String: Int] = [:]

    for i in 0 ..< inputs {
        var bytes: [UInt8]
        var planned: [Shape]? = nil
        if i % 2 == 0 {
            bytes = (0 ..< Int.random(in: 0 ... 64, using: &rng)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        } else {
            let samples = (0 ..< Int.random(in: 1 ... 6, using: &rng)).map { _ in Sample.random(using: &rng) }
            var msg = Message()
            for s in samples { s.push(onto: &msg) }
            bytes = msg.bytes
            if rng.next() % 2 == 0 {
                planned = samples.reversed().map(\.shape)
            }
            for _ in 0 ..< Int.random(in: 1 ... 3, using: &rng) {
                switch rng.next() % 6 {
                case 0 where !bytes.isEmpty:  // flip one bit
                    let at = Int.random(in: 0 ..< bytes.count, using: &rng)
                    bytes[at] ^= 1 << UInt8(rng.next() % 8)
                case 1 where !bytes.isEmpty:  // replace a byte
                    bytes[Int.random(in: 0 ..< bytes.count, using: &rng)] = UInt8(truncatingIfNeeded: rng.next())
                case 2:  // drop a prefix: deep pops see truncation
                    bytes.removeFirst(Int.random(in: 0 ... bytes.count, using: &rng))
                case 3:  // drop a suffix
                    bytes.removeLast(Int.random(in: 0 ... min(bytes.count, 8), using: &rng))
                case 4:  // insert a byte
                    bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int.random(in: 0 ... bytes.count, using: &rng))
                default:  // an extreme length-like value at the end
                    bytes.append(contentsOf: [0xFF, 0xFF, 0xFF, UInt8(truncatingIfNeeded: rng.next())].suffix(Int.random(in: 1 ... 4, using: &rng)))
                }
            }
        }

        var msg = Message(bytes: bytes)
        var step = 0
        while true {
            if msg.isEmpty {
                emptied += 1
                break
            }
            let shape: Shape
            if let planned, step < planned.count {
                shape = planned[step]
            } else {
                shape = Shape.random(using: &rng)
            }
            step += 1
            let before = msg
            do throws(WireError) {
                _ = try Sample.pop(shape, from: &msg)
                successes += 1
            } catch {
                errors += 1
                errorKinds[name(of: error), default: 0] += 1
                if msg != before || msg.bytes != before.bytes { notAtomic += 1 }
                break
            }
        }
    }
    print("MessageTests.randomBytesNeverTrap: \(inputs) inputs, \(successes) pops succeeded, \(errors) failed, \(emptied) emptied; errors by kind: \(errorKinds.sorted { $0.key < $1.key })")
    #expect(notAtomic == 0)
    #expect(successes > 10_000)
    #expect(errors > 10_000)
}
