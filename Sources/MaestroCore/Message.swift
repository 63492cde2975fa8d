import Ensemble

/// A stack-structured byte buffer: the Swift form of Maestro's `Maestro_Message`.
///
/// Pushes append at the end and pops read from the end, so values come back in the reverse
/// order they went in (push 1 then 2, pop 2 then 1). There are no type tags on the wire:
/// sender and receiver must agree on the sequence of pushes and pops, exactly as in Maestro.
///
/// The state transfer of the seed program reads the same as in C++:
///
/// ```swift
/// // askState: reply with the state.
/// var stateMsg = Message()
/// stateMsg << state
/// sendState(origin, xferID, stateMsg)
///
/// // gotState: restore it.
/// try stateMsg >> state
/// ```
///
/// Encodings (all integers big-endian; see ``MessageCodable`` for the full table):
/// fixed-width integers at their natural width (`Int` and `UInt` as 8 bytes), `Bool` as one
/// byte, `String` and `[UInt8]` as their bytes followed by a `UInt32` byte count, a nested
/// `Message` as its bytes, its `UInt32` length and the magic ``nestedMagic``.
///
/// `Message` is a value: a copy is an independent message (Maestro's alias and `<<=` copy are
/// both just assignment). Popping never copies the buffer, so popping from a copy is cheap;
/// the first push after pops drops the popped bytes (copying the buffer if it is shared).
/// Unlike Maestro, a message can be pushed to after it has been popped from: the push lands
/// on top of the unread part.
///
/// Every pop checks its bounds and contents and throws `WireError` on bad input; it never
/// traps, and a failed pop leaves the message unchanged.
public struct Message: Sendable {
    /// `storage[0 ..< end]` is the unread part; bytes above `end` have been popped and are
    /// dropped by the next push. Invariant: `0 <= end <= storage.count`.
    @usableFromInline internal var storage: [UInt8]
    @usableFromInline internal var end: Int

    /// The magic number that closes a nested message (Maestro's `0xABDFBABC`).
    public static let nestedMagic: UInt32 = 0xABDF_BABC

    /// An empty message, ready for pushes.
    @inlinable public init() {
        storage = []
        end = 0
    }

    /// A message as received from the wire: `bytes` are its unread part, ready to pop.
    @inlinable public init(bytes: [UInt8]) {
        storage = bytes
        end = bytes.count
    }

    /// A message holding a copy of `raw` (for example a datagram's payload), ready to pop.
    @inlinable public init(copying raw: UnsafeRawBufferPointer) {
        storage = Array(raw)
        end = raw.count
    }

    /// A copy of `other` (messages are values: this is the same as `let m = other`).
    @inlinable public init(_ other: Message) {
        self = other
    }

    /// The number of unread bytes.
    @inlinable public var count: Int { end }

    /// Whether every byte has been popped (or none was pushed).
    @inlinable public var isEmpty: Bool { end == 0 }

    /// The unread bytes: the wire form of the message, from which `init(bytes:)` rebuilds it.
    @inlinable public var bytes: [UInt8] {
        end == storage.count ? storage : Array(storage[..<end])
    }

    /// Calls `body` with the unread bytes, without copying them.
    @inlinable public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = storage.withUnsafeBytes { raw in
            do throws(E) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: raw[..<end])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Empties the message and makes it ready for pushes (Maestro's `reset()`), keeping its
    /// capacity.
    @inlinable public mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        end = 0
    }

    /// Makes room for at least `minimumCapacity` bytes in total, so that pushes up to that size
    /// do not reallocate.
    @inlinable public mutating func reserveCapacity(_ minimumCapacity: Int) {
        dropPopped()
        storage.reserveCapacity(minimumCapacity)
    }

    // MARK: Generic push and pop

    /// Pushes `value` on top of the message.
    @inlinable public mutating func push<T: MessageCodable>(_ value: T) {
        value.push(onto: &self)
    }

    /// Pops a value of type `T` from the top of the message.
    ///
    /// ```swift
    /// let n: Int32 = try msg.pop()
    /// let name = try msg.pop(String.self)
    /// ```
    ///
    /// Atomic: if it throws, the message is unchanged.
    @inlinable public mutating func pop<T: MessageCodable>(_ type: T.Type = T.self) throws(WireError) -> T {
        let saved = end
        do throws(WireError) {
            return try T.pop(from: &self)
        } catch {
            end = saved
            throw error
        }
    }

    // MARK: Raw bytes (Maestro_Buffer)

    /// Pushes `raw` as is, without a length: the receiver must know how many bytes to pop.
    @inlinable public mutating func push(raw: some Collection<UInt8>) {
        dropPopped()
        storage.append(contentsOf: raw)
        end = storage.count
    }

    /// Pops exactly `rawCount` bytes pushed with `push(raw:)`, in their original order.
    public mutating func pop(rawCount: Int) throws(WireError) -> [UInt8] {
        guard rawCount >= 0, rawCount <= end else { throw .truncated(needed: rawCount, available: end) }
        let start = end - rawCount
        let result = Array(storage[start ..< end])
        end = start
        return result
    }

    // MARK: Building blocks for conformances

    /// Forgets the popped bytes above `end`, so that the next append lands on the unread part.
    @inlinable internal mutating func dropPopped() {
        if end != storage.count { storage.removeLast(storage.count - end) }
    }

    @inlinable internal mutating func pushInteger<T: FixedWidthInteger>(_ value: T) {
        dropPopped()
        Swift.withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) }
        end = storage.count
    }

    /// The big-endian integer stored just below `position`, without popping it.
    @inlinable internal func integer<T: FixedWidthInteger>(
        _: T.Type, below position: Int
    ) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        guard position >= size, position <= storage.count else {
            throw .truncated(needed: size, available: max(0, min(position, storage.count)))
        }
        let raw = storage.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position - size, as: T.self) }
        return T(bigEndian: raw)
    }

    @inlinable internal mutating func popInteger<T: FixedWidthInteger>(_ type: T.Type) throws(WireError) -> T {
        let value = try integer(type, below: end)
        end -= MemoryLayout<T>.size
        return value
    }

    /// Pushes a length or count field. Lengths above `UInt32.max` cannot be represented and
    /// are a programming error.
    @inlinable internal mutating func pushLength(_ n: Int) {
        precondition(n >= 0 && n <= Int(UInt32.max), "Message: length \(n) does not fit the UInt32 length field")
        pushInteger(UInt32(truncatingIfNeeded: n))
    }

    /// The range of a block of bytes followed by a `UInt32` byte count that ends at `position`.
    /// Does not pop anything.
    @inlinable internal func lengthSuffixedBlock(below position: Int) throws(WireError) -> Range<Int> {
        let n = Int(try integer(UInt32.self, below: position))
        let blockEnd = position - 4
        guard n <= blockEnd else { throw .lengthTooLarge(n, limit: blockEnd) }
        return blockEnd - n ..< blockEnd
    }

    /// Pushes bytes followed by their `UInt32` count.
    @inlinable internal mutating func pushLengthSuffixed(_ raw: some Collection<UInt8>) {
        let n = raw.count
        push(raw: raw)
        pushLength(n)
    }

    /// Pops a block pushed by `pushLengthSuffixed`, atomically.
    @inlinable internal mutating func popLengthSuffixed() throws(WireError) -> ArraySlice<UInt8> {
        let range = try lengthSuffixedBlock(below: end)
        end = range.lowerBound
        return storage[range]
    }

    /// Pushes the bytes a `WireWriter` encoder produces, appending directly to the storage.
    internal mutating func pushEncoded(_ encode: (inout WireWriter) -> Void) {
        dropPopped()
        var writer = WireWriter(capacity: 0)
        swap(&writer.bytes, &storage)
        encode(&writer)
        swap(&writer.bytes, &storage)
        end = storage.count
    }

    /// Pops the top `byteCount` bytes and decodes them with a `WireReader` decoder, which must
    /// consume all of them. Atomic.
    internal mutating func popDecoded<T>(
        byteCount: Int, _ decode: (inout WireReader) throws(WireError) -> T
    ) throws(WireError) -> T {
        guard byteCount >= 0, byteCount <= end, end <= storage.count else {
            throw .truncated(needed: byteCount, available: end)
        }
        let start = end - byteCount
        let result: Result<T, WireError> = storage.withUnsafeBytes { raw in
            do throws(WireError) {
                var reader = WireReader(UnsafeRawBufferPointer(rebasing: raw[start ..< start + byteCount]))
                let value = try decode(&reader)
                try reader.expectEnd()
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        let value = try result.get()
        end = start
        return value
    }
}

// MARK: Operators

extension Message {
    /// Pushes `value` onto `message`: `msg << state`, as in Maestro.
    @inlinable public static func << <T: MessageCodable>(message: inout Message, value: T) {
        value.push(onto: &message)
    }

    /// Pops from `message` into `value`: `try msg >> state`, as in Maestro. Operators take
    /// `inout` operands without `&`. If it throws, neither `message` nor `value` changes.
    @inlinable public static func >> <T: MessageCodable>(message: inout Message, value: inout T) throws(WireError) {
        value = try message.pop(T.self)
    }
}

// MARK: Equality and printing

extension Message: Equatable {
    /// Two messages are equal when their unread bytes are. (Maestro's `operator==` always
    /// answers false; Swift values compare by contents.)
    @inlinable public static func == (a: Message, b: Message) -> Bool {
        a.storage[..<a.end] == b.storage[..<b.end]
    }
}

extension Message: CustomStringConvertible {
    /// The size and, for short messages, the bytes in hex: `Message(3 bytes: 01 02 03)`.
    public var description: String {
        let shown = 32
        var text = "Message(\(end) byte\(end == 1 ? "" : "s")"
        if end > 0 {
            text += ":"
            for b in storage[..<min(end, shown)] {
                text += b < 16 ? " 0" : " "
                text += String(b, radix: 16)
            }
            if end > shown { text += " …" }
        }
        return text + ")"
    }
}
