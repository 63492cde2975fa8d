#if canImport(Glibc)
import Glibc
#endif

/// The replicated state's blob: bytes with copy-on-write value semantics whose zeros cost
/// nothing up front (`calloc`: the kernel hands out zeroed pages when they are first touched),
/// so making or dropping a blob of any size never holds the loop. (An array of zeros is
/// written byte by byte: half a second for 256 MB.)
public struct Blob {
    private final class Storage {
        let bytes: UnsafeMutableRawPointer
        let count: Int

        init(zeros count: Int) {
            self.count = count
            guard let p = calloc(max(1, count), 1) else { fatalError("cannot allocate a \(count)-byte state blob") }
            bytes = p
        }

        func copy() -> Storage {
            let s = Storage(zeros: count)
            s.bytes.copyMemory(from: bytes, byteCount: count)
            return s
        }

        deinit { free(bytes) }
    }

    private var storage: Storage

    public init(zeros count: Int) { storage = Storage(zeros: count) }

    public var count: Int { storage.count }

    public subscript(i: Int) -> UInt8 {
        get {
            precondition(i >= 0 && i < storage.count)
            return storage.bytes.load(fromByteOffset: i, as: UInt8.self)
        }
        set {
            precondition(i >= 0 && i < storage.count)
            unique()
            storage.bytes.storeBytes(of: newValue, toByteOffset: i, as: UInt8.self)
        }
    }

    /// Copies `source` in at `offset` (which must fit).
    public mutating func write(_ source: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + source.count <= storage.count)
        guard let base = source.baseAddress, source.count > 0 else { return }
        unique()
        (storage.bytes + offset).copyMemory(from: base, byteCount: source.count)
    }

    /// Calls `body` with the bytes of `range` (no copy).
    public func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count)
        return try body(UnsafeRawBufferPointer(start: storage.bytes + range.lowerBound, count: range.count))
    }

    private mutating func unique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }
}
