// The commands maestro-kv knows: their names (matched without case and without allocating),
// their arity (Redis's convention: n exactly, -n at least n, counting the name) and whether
// they write.

/// A command name of up to 16 bytes, upper-cased and packed into two words.
struct CommandName: Hashable {
    let a: UInt64, b: UInt64

    init?(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, bytes.count <= 16 else { return nil }
        var a: UInt64 = 0, b: UInt64 = 0
        for (i, c) in bytes.enumerated() {
            let u = c >= 97 && c <= 122 ? c - 32 : c
            if i < 8 { a |= UInt64(u) << UInt64(i * 8) } else { b |= UInt64(u) << UInt64((i - 8) * 8) }
        }
        self.a = a
        self.b = b
    }

    init(_ text: StaticString) {
        // Table entries: always valid.
        let bytes = text.withUTF8Buffer { Array($0) }
        var a: UInt64 = 0, b: UInt64 = 0
        for (i, c) in bytes.prefix(16).enumerated() {
            if i < 8 { a |= UInt64(c) << UInt64(i * 8) } else { b |= UInt64(c) << UInt64((i - 8) * 8) }
        }
        self.a = a
        self.b = b
    }
}

enum CommandKind: CaseIterable {
    case ping, echo, get, set, setnx, setex, psetex, getset, del, exists, incr, decr, incrby, decrby, mget, mset
    case dbsize, flushall, flushdb, keys, info, ttl, pttl, expire, pexpire, expireat, pexpireat, persist, type, strlen
    case kvdigest, debug, config, command, select, quit, client, time, hello, kvfault

    var name: StaticString {
        switch self {
        case .ping: "PING"
        case .echo: "ECHO"
        case .get: "GET"
        case .set: "SET"
        case .setnx: "SETNX"
        case .setex: "SETEX"
        case .psetex: "PSETEX"
        case .getset: "GETSET"
        case .del: "DEL"
        case .exists: "EXISTS"
        case .incr: "INCR"
        case .decr: "DECR"
        case .incrby: "INCRBY"
        case .decrby: "DECRBY"
        case .mget: "MGET"
        case .mset: "MSET"
        case .dbsize: "DBSIZE"
        case .flushall: "FLUSHALL"
        case .flushdb: "FLUSHDB"
        case .keys: "KEYS"
        case .info: "INFO"
        case .ttl: "TTL"
        case .pttl: "PTTL"
        case .expire: "EXPIRE"
        case .pexpire: "PEXPIRE"
        case .expireat: "EXPIREAT"
        case .pexpireat: "PEXPIREAT"
        case .persist: "PERSIST"
        case .type: "TYPE"
        case .strlen: "STRLEN"
        case .kvdigest: "KVDIGEST"
        case .debug: "DEBUG"
        case .config: "CONFIG"
        case .command: "COMMAND"
        case .select: "SELECT"
        case .quit: "QUIT"
        case .client: "CLIENT"
        case .time: "TIME"
        case .hello: "HELLO"
        case .kvfault: "KVFAULT"
        }
    }

    /// Redis's arity: n exactly, -n at least n (the name included).
    var arity: Int {
        switch self {
        case .ping: -1
        case .echo: 2
        case .get: 2
        case .set: -3
        case .setnx: 3
        case .setex, .psetex: 4
        case .getset: 3
        case .del, .exists: -2
        case .incr, .decr: 2
        case .incrby, .decrby: 3
        case .mget: -2
        case .mset: -3
        case .dbsize: 1
        case .flushall, .flushdb: -1
        case .keys: 2
        case .info: -1
        case .ttl, .pttl: 2
        case .expire, .pexpire, .expireat, .pexpireat: -3
        case .persist, .type, .strlen: 2
        case .kvdigest: 1
        case .debug: -2
        case .config: -2
        case .command: -1
        case .select: 2
        case .quit: -1
        case .client: -2
        case .time: 1
        case .hello: -1
        case .kvfault: -2
        }
    }

    /// Whether the command changes the store (cast to the group).
    var writes: Bool {
        switch self {
        case .set, .setnx, .setex, .psetex, .getset, .del, .incr, .decr, .incrby, .decrby, .mset, .flushall, .flushdb,
             .expire, .pexpire, .expireat, .pexpireat, .persist: true
        default: false
        }
    }

    /// Whether the command reads the store (it waits for the connection's earlier writes, and
    /// is refused outside the primary partition unless stale reads are allowed).
    var readsStore: Bool {
        switch self {
        case .get, .exists, .mget, .dbsize, .keys, .ttl, .pttl, .type, .strlen, .kvdigest, .debug: true
        default: false
        }
    }

    static let table: [CommandName: CommandKind] = {
        var t: [CommandName: CommandKind] = [:]
        for k in CommandKind.allCases { t[CommandName(k.name)] = k }
        return t
    }()

    static func lookup(_ bytes: [UInt8]) -> CommandKind? {
        guard let n = CommandName(bytes) else { return nil }
        return table[n]
    }

    var lowercasedName: String { "\(name)".lowercased() }
}
