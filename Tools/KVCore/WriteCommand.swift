// The writes a replica casts, as every replica applies them: compact binary commands with
// everything decided at the origin (absolute expiry times), so each replica computes the same
// result from the same store.

/// One write, ready to apply.
public enum WriteCommand: Equatable, Sendable {
    /// SET: `expiry` absolute (Unix ms) or kept; NX/XX condition; `returnOld`: SET ... GET.
    case set(key: [UInt8], value: [UInt8], expiry: SetExpiry, condition: SetCondition, returnOld: Bool)
    /// DEL key...
    case delete([[UInt8]])
    /// INCR/DECR/INCRBY/DECRBY.
    case incrBy(key: [UInt8], delta: Int64)
    /// MSET key value ...: `pairs` alternates keys and values.
    case mset(pairs: [[UInt8]])
    /// FLUSHALL / FLUSHDB.
    case flushAll
    /// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT, as an absolute time in Unix ms.
    case expireAt(key: [UInt8], at: Int64)
    /// PERSIST.
    case persist(key: [UInt8])

    public enum SetExpiry: Equatable, Sendable {
        case none
        case at(Int64)
        case keep
    }

    public enum SetCondition: UInt8, Sendable {
        case always = 0, ifAbsent = 1, ifPresent = 2
    }

    private enum Op: UInt8 { case set = 1, delete = 2, incrBy = 3, mset = 4, flushAll = 5, expireAt = 6, persist = 7 }

    /// Appends the command's binary form.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case let .set(key, value, expiry, condition, returnOld):
            out.append(Op.set.rawValue)
            out.appendString(key)
            out.appendString(value)
            var flags = condition.rawValue
            if returnOld { flags |= 4 }
            switch expiry {
            case .none: break
            case .keep: flags |= 8
            case .at: flags |= 16
            }
            out.append(flags)
            if case let .at(t) = expiry { out.appendSigned(t) }
        case let .delete(keys):
            out.append(Op.delete.rawValue)
            out.appendVarint(UInt64(keys.count))
            for k in keys { out.appendString(k) }
        case let .incrBy(key, delta):
            out.append(Op.incrBy.rawValue)
            out.appendString(key)
            out.appendSigned(delta)
        case let .mset(pairs):
            out.append(Op.mset.rawValue)
            out.appendVarint(UInt64(pairs.count))
            for p in pairs { out.appendString(p) }
        case .flushAll:
            out.append(Op.flushAll.rawValue)
        case let .expireAt(key, at):
            out.append(Op.expireAt.rawValue)
            out.appendString(key)
            out.appendSigned(at)
        case let .persist(key):
            out.append(Op.persist.rawValue)
            out.appendString(key)
        }
    }

    /// Reads one command written by `encode`.
    static func decode(_ r: inout ByteReader) throws(KVFormatError) -> WriteCommand {
        let raw = try r.byte()
        guard let op = Op(rawValue: raw) else { throw KVFormatError("unknown write operation \(raw)") }
        switch op {
        case .set:
            let key = try r.string()
            let value = try r.string()
            let flags = try r.byte()
            guard flags & ~0x1f == 0, let condition = SetCondition(rawValue: flags & 3) else { throw KVFormatError("bad SET flags \(flags)") }
            let expiry: SetExpiry
            switch flags & 24 {
            case 0: expiry = .none
            case 8: expiry = .keep
            case 16: expiry = .at(try r.signed())
            default: throw KVFormatError("bad SET flags \(flags)")
            }
            return .set(key: key, value: value, expiry: expiry, condition: condition, returnOld: flags & 4 != 0)
        case .delete:
            let n = try r.count()
            var keys: [[UInt8]] = []
            keys.reserveCapacity(n)
            for _ in 0 ..< n { keys.append(try r.string()) }
            return .delete(keys)
        case .incrBy:
            return .incrBy(key: try r.string(), delta: try r.signed())
        case .mset:
            let n = try r.count()
            guard n % 2 == 0 else { throw KVFormatError("MSET with an odd number of strings") }
            var pairs: [[UInt8]] = []
            pairs.reserveCapacity(n)
            for _ in 0 ..< n { pairs.append(try r.string()) }
            return .mset(pairs: pairs)
        case .flushAll:
            return .flushAll
        case .expireAt:
            return .expireAt(key: try r.string(), at: try r.signed())
        case .persist:
            return .persist(key: try r.string())
        }
    }
}

/// A batch of writes cast as one message: every write of one loop turn at one replica.
///
///     u8 version (1) | varint origin sequence | zigzag time (origin's Unix ms) | varint count | commands
///
/// The sequence lets the origin match its own batch, when delivered, with the clients waiting
/// for its replies; the time is the origin's clock, from which every replica derives the same
/// group clock (`KVStore.clock`). A batch of no command is a tick: it only advances the clock.
public struct WriteBatch: Equatable, Sendable {
    public static let version: UInt8 = 1
    public var sequence: UInt64
    public var time: Int64
    public var commands: [WriteCommand]

    public init(sequence: UInt64, time: Int64, commands: [WriteCommand]) {
        self.sequence = sequence
        self.time = time
        self.commands = commands
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        out.append(Self.version)
        out.appendVarint(sequence)
        out.appendSigned(time)
        out.appendVarint(UInt64(commands.count))
        for c in commands { c.encode(into: &out) }
        return out
    }

    public init(decoding bytes: [UInt8]) throws(KVFormatError) {
        var r = ByteReader(bytes)
        let v = try r.byte()
        guard v == Self.version else { throw KVFormatError("write batch version \(v), expected \(Self.version)") }
        sequence = try r.varint()
        time = try r.signed()
        let n = try r.count()
        var cs: [WriteCommand] = []
        cs.reserveCapacity(n)
        for _ in 0 ..< n { cs.append(try WriteCommand.decode(&r)) }
        guard r.atEnd else { throw KVFormatError("\(r.remaining) stray bytes after a write batch") }
        commands = cs
    }
}

/// Builds a batch's bytes incrementally (the header is written when the batch is taken).
public struct BatchBuilder {
    private var body: [UInt8] = []
    public private(set) var count = 0
    public var byteCount: Int { body.count }
    public var isEmpty: Bool { count == 0 }

    public init() {}

    public mutating func add(_ command: WriteCommand) {
        command.encode(into: &body)
        count += 1
    }

    /// The batch's bytes, and an empty builder.
    public mutating func take(sequence: UInt64, time: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 24)
        out.append(WriteBatch.version)
        out.appendVarint(sequence)
        out.appendSigned(time)
        out.appendVarint(UInt64(count))
        out.append(contentsOf: body)
        body.removeAll(keepingCapacity: true)
        count = 0
        return out
    }
}
