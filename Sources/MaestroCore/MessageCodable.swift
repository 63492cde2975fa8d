import Ensemble

/// A type that can be pushed onto and popped from a ``Message``: Maestro's push-self and
/// pop-self hooks (`operator>>(Message&)` / `operator<<(Message&)` of `Maestro_Base`).
///
/// A conforming type pushes its fields in some order and pops them in the reverse order:
///
/// ```swift
/// struct Account: MessageCodable {
///     var owner: String
///     var balance: Int64
///
///     func push(onto message: inout Message) {
///         message << owner
///         message << balance
///     }
///
///     static func pop(from message: inout Message) throws(WireError) -> Account {
///         let balance: Int64 = try message.pop()
///         let owner: String = try message.pop()
///         return Account(owner: owner, balance: balance)
///     }
/// }
/// ```
///
/// `pop(from:)` must only pop (never push). Call it through ``Message/pop(_:)`` or `>>`, which
/// restore the message if it throws; a failure half-way through a conformance's own pops is
/// then invisible to the caller.
///
/// Encodings of the built-in conformances (integers big-endian):
///
/// | type | bytes, in push order |
/// |---|---|
/// | `Int8` … `Int64`, `UInt8` … `UInt64` | natural width |
/// | `Int`, `UInt` | 8 bytes |
/// | `Bool` | 1 byte, 0 or 1 |
/// | `Double`, `Float` | IEEE 754 bit pattern as `UInt64` / `UInt32` |
/// | `String` | UTF-8 bytes, then their count as `UInt32` |
/// | `[T]` (Maestro's `OrderedSet` marshal) | elements 0…n−1, then n as `UInt32` |
/// | `[UInt8]` | the bytes, then their count as `UInt32` (the same layout as `[T]`) |
/// | `T?` (with `push(optional:)` / `popOptional`) | the value then `true`, or just `false` |
/// | `Message` | its unread bytes, their count as `UInt32`, then ``Message/nestedMagic`` |
/// | `EndpointID` | its 16-byte `encode(into:)` form |
/// | `ViewID` | its 24-byte `encode(into:)` form: `ltime` (8 bytes), then the coordinator |
public protocol MessageCodable {
    /// Pushes `self` onto `message`.
    func push(onto message: inout Message)

    /// Pops a value pushed by `push(onto:)` from `message`.
    static func pop(from message: inout Message) throws(WireError) -> Self
}

// MARK: Integers

extension MessageCodable where Self: FixedWidthInteger {
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(self)
    }

    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Self {
        try message.popInteger(Self.self)
    }
}

extension Int8: MessageCodable {}
extension Int16: MessageCodable {}
extension Int32: MessageCodable {}
extension Int64: MessageCodable {}
extension UInt8: MessageCodable {}
extension UInt16: MessageCodable {}
extension UInt32: MessageCodable {}
extension UInt64: MessageCodable {}

extension Int: MessageCodable {
    /// Always 8 bytes, whatever the platform's word size.
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(Int64(self))
    }

    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Int {
        let wide = try message.integer(Int64.self, below: message.end)
        guard let value = Int(exactly: wide) else {
            throw .invalidValue(field: "Int", value: UInt64(bitPattern: wide))
        }
        message.end -= 8
        return value
    }
}

extension UInt: MessageCodable {
    /// Always 8 bytes, whatever the platform's word size.
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(UInt64(self))
    }

    @inlinable public static func pop(from message: inout Message) throws(WireError) -> UInt {
        let wide = try message.integer(UInt64.self, below: message.end)
        guard let value = UInt(exactly: wide) else { throw .invalidValue(field: "UInt", value: wide) }
        message.end -= 8
        return value
    }
}

// MARK: Bool and floating point

extension Bool: MessageCodable {
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(UInt8(self ? 1 : 0))
    }

    /// Rejects any byte other than 0 and 1.
    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Bool {
        let byte = try message.integer(UInt8.self, below: message.end)
        guard byte <= 1 else { throw .invalidValue(field: "Bool", value: UInt64(byte)) }
        message.end -= 1
        return byte == 1
    }
}

extension Double: MessageCodable {
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(bitPattern)
    }

    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Double {
        Double(bitPattern: try message.popInteger(UInt64.self))
    }
}

extension Float: MessageCodable {
    @inlinable public func push(onto message: inout Message) {
        message.pushInteger(bitPattern)
    }

    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Float {
        Float(bitPattern: try message.popInteger(UInt32.self))
    }
}

// MARK: Strings

extension String: MessageCodable {
    /// The UTF-8 bytes (no terminating NUL, unlike Maestro), then their count as `UInt32`.
    @inlinable public func push(onto message: inout Message) {
        message.pushLengthSuffixed(utf8)
    }

    /// Throws `lengthTooLarge` if the count exceeds the bytes below it and `invalidUTF8` if the
    /// bytes are not well-formed UTF-8.
    @inlinable public static func pop(from message: inout Message) throws(WireError) -> String {
        let range = try message.lengthSuffixedBlock(below: message.end)
        let raw = message.storage[range]
        let text = String(decoding: raw, as: UTF8.self)
        // Decoding repairs ill-formed input with U+FFFD, which changes the bytes: the round trip
        // is exact if and only if the input was valid UTF-8.
        guard text.utf8.elementsEqual(raw) else { throw .invalidUTF8 }
        message.end = range.lowerBound
        return text
    }
}

// MARK: Collections

extension Array: MessageCodable where Element: MessageCodable {
    /// Maestro's `OrderedSet` marshal: elements 0…n−1, then the count n as `UInt32`.
    /// Arrays of bytes (`UInt8`, `Int8`) are copied as one block; the layout is the same.
    @inlinable public func push(onto message: inout Message) {
        if Element.self == UInt8.self || Element.self == Int8.self {
            withUnsafeBytes { message.push(raw: $0) }
        } else {
            for element in self { element.push(onto: &message) }
        }
        message.pushLength(count)
    }

    /// Pops the count, then elements n−1…0, preserving their order. Every element must take at
    /// least one byte: a count larger than the bytes below it throws `lengthTooLarge`.
    @inlinable public static func pop(from message: inout Message) throws(WireError) -> [Element] {
        let n = Int(try message.integer(UInt32.self, below: message.end))
        let below = message.end - 4
        guard n <= below else { throw .lengthTooLarge(n, limit: below) }
        if Element.self == UInt8.self || Element.self == Int8.self {
            let start = below - n
            let elements = message.storage.withUnsafeBytes { raw in
                [Element](unsafeUninitializedCapacity: n) { buffer, initialized in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start ..< below]))
                    initialized = n
                }
            }
            message.end = start
            return elements
        }
        let saved = message.end
        message.end = below
        var elements: [Element] = []
        elements.reserveCapacity(n)
        do throws(WireError) {
            for _ in 0 ..< n { elements.append(try Element.pop(from: &message)) }
        } catch {
            message.end = saved
            throw error
        }
        elements.reverse()
        return elements
    }
}

// Optionals are not `MessageCodable`: with that conformance, `let x: Int? = try? msg.pop()`
// would silently pop an optional (a presence flag first) instead of an `Int`. They have
// their own explicit calls instead.
extension Message {
    /// Pushes the value then `true`, or just `false`.
    public mutating func push<T: MessageCodable>(optional value: T?) {
        if let value {
            value.push(onto: &self)
            true.push(onto: &self)
        } else {
            false.push(onto: &self)
        }
    }

    /// Pops what `push(optional:)` pushed. Atomic: on error the message is unchanged.
    public mutating func popOptional<T: MessageCodable>(_ type: T.Type = T.self) throws(WireError) -> T? {
        let saved = end
        do throws(WireError) {
            guard try Bool.pop(from: &self) else { return nil }
            return try T.pop(from: &self)
        } catch {
            end = saved
            throw error
        }
    }
}

// MARK: Nested messages

extension Message: MessageCodable {
    /// Packs the unread part of `self` into `message`: its bytes, their count as `UInt32`,
    /// then ``Message/nestedMagic``.
    @inlinable public func push(onto message: inout Message) {
        message.pushLengthSuffixed(storage[..<end])
        message.pushInteger(Message.nestedMagic)
    }

    /// Unpacks one nested message. Throws `invalidValue(field: "nested message magic", …)` if
    /// the magic is wrong and `lengthTooLarge` if the length exceeds the bytes below it.
    @inlinable public static func pop(from message: inout Message) throws(WireError) -> Message {
        let magic = try message.integer(UInt32.self, below: message.end)
        guard magic == nestedMagic else {
            throw .invalidValue(field: "nested message magic", value: UInt64(magic))
        }
        let range = try message.lengthSuffixedBlock(below: message.end - 4)
        let nested = Message(bytes: Array(message.storage[range]))
        message.end = range.lowerBound
        return nested
    }
}

// MARK: Ensemble identifiers

/// An engine identifier pushed as its fixed-size wire encoding, as one block.
protocol FixedSizeMessageCodable: MessageCodable {
    static var encodedSize: Int { get }
    func encode<W: WireWriting>(into w: inout W)
    static func decode(from r: inout WireReader) throws(WireError) -> Self
}

extension FixedSizeMessageCodable {
    public func push(onto message: inout Message) {
        message.pushEncoded { encode(into: &$0) }
    }

    public static func pop(from message: inout Message) throws(WireError) -> Self {
        try message.popDecoded(byteCount: encodedSize) { (r: inout WireReader) throws(WireError) in try decode(from: &r) }
    }
}

/// Its fixed 16-byte encoding.
extension EndpointID: FixedSizeMessageCodable {}

/// Its fixed 24-byte encoding: `ltime` then the coordinator, as Maestro pushes them (so a
/// receiver may equally pop the coordinator, then `ltime`).
extension ViewID: FixedSizeMessageCodable {}
