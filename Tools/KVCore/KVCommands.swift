// Each client request, checked and run: reads answered from the local store, writes turned
// into `WriteCommand`s (expiries made absolute here, at the origin) and queued for the batch,
// and Redis's error texts for everything else.

extension KVService {
    /// Runs one request of `c` (the listener's handler).
    public func handle(_ args: [[UInt8]], _ c: ClientConnection) -> CommandOutcome {
        countCommand()
        guard let first = args.first else { return .done }
        guard let kind = CommandKind.lookup(first) else {
            countUnknown()
            c.reply(.error(Self.unknownCommand(args)))
            return .done
        }
        let arity = kind.arity
        if (arity > 0 && args.count != arity) || (arity < 0 && args.count < -arity) {
            c.reply(.error("ERR wrong number of arguments for '\(kind.lowercasedName)' command"))
            return .done
        }
        if kind.readsStore {
            if c.inFlightWrites > 0 { return .wait }  // read your own writes
            if let refusal = replication?.readRefusal {
                countRead(refused: true)
                c.reply(.error(refusal))
                return .done
            }
            countRead(refused: false)
        }
        if kind.writes {
            switch write(kind, args) {
            case let .success(command): submit(command, from: c)
            case let .failure(error): c.reply(error.reply)
            }
            return .done
        }
        return read(kind, args, c)
    }

    struct ReplyError: Error {
        let reply: KVReply
        init(_ text: String) { reply = .error(text) }
    }

    static let syntaxError = ReplyError("ERR syntax error")
    static let notInteger = ReplyError("ERR value is not an integer or out of range")

    static func unknownCommand(_ args: [[UInt8]]) -> String {
        func shown(_ b: [UInt8]) -> String { String(decoding: b.prefix(128), as: UTF8.self).replacingNewlines() }
        let rest = args.dropFirst().prefix(8).map { "'\(shown($0))'" }.joined(separator: " ")
        return "ERR unknown command '\(shown(args[0]))', with args beginning with: \(rest)"
    }

    private func integer(_ b: [UInt8]) -> Result<Int64, ReplyError> {
        KVStore.parseInteger(b).map { .success($0) } ?? .failure(Self.notInteger)
    }

    // MARK: Writes

    private func write(_ kind: CommandKind, _ args: [[UInt8]]) -> Result<WriteCommand, ReplyError> {
        let now = wallClock()
        switch kind {
        case .set:
            return parseSet(args, now: now)
        case .setnx:
            return .success(.set(key: args[1], value: args[2], expiry: .none, condition: .ifAbsent, returnOld: false))
        case .setex, .psetex:
            guard let n = KVStore.parseInteger(args[2]) else { return .failure(Self.notInteger) }
            guard n > 0, let at = Self.absolute(n, unit: kind == .setex ? 1000 : 1, now: now) else {
                return .failure(ReplyError("ERR invalid expire time in '\(kind.lowercasedName)' command"))
            }
            return .success(.set(key: args[1], value: args[3], expiry: .at(at), condition: .always, returnOld: false))
        case .getset:
            return .success(.set(key: args[1], value: args[2], expiry: .none, condition: .always, returnOld: true))
        case .del:
            return .success(.delete(Array(args.dropFirst())))
        case .incr, .decr:
            return .success(.incrBy(key: args[1], delta: kind == .incr ? 1 : -1))
        case .incrby, .decrby:
            return integer(args[2]).flatMap { d in
                if kind == .decrby && d == Int64.min { return .failure(ReplyError("ERR decrement would overflow")) }
                return .success(.incrBy(key: args[1], delta: kind == .incrby ? d : -d))
            }
        case .mset:
            guard args.count % 2 == 1 else { return .failure(ReplyError("ERR wrong number of arguments for 'mset' command")) }
            return .success(.mset(pairs: Array(args.dropFirst())))
        case .flushall, .flushdb:
            // FLUSHALL [ASYNC|SYNC]: both the same here.
            if args.count > 2 { return .failure(Self.syntaxError) }
            if args.count == 2 {
                let mode = String(decoding: args[1], as: UTF8.self).uppercased()
                guard mode == "ASYNC" || mode == "SYNC" else { return .failure(Self.syntaxError) }
            }
            return .success(.flushAll)
        case .expire, .pexpire, .expireat, .pexpireat:
            guard args.count == 3 else {
                return .failure(ReplyError("ERR options of '\(kind.lowercasedName)' (NX, XX, GT, LT) are not supported"))
            }
            guard let n = KVStore.parseInteger(args[2]) else { return .failure(Self.notInteger) }
            let at: Int64?
            switch kind {
            case .expire: at = Self.absolute(n, unit: 1000, now: now)
            case .pexpire: at = Self.absolute(n, unit: 1, now: now)
            case .expireat: at = n.multipliedReportingOverflow(by: 1000).overflow ? nil : n * 1000
            default: at = n
            }
            guard let at else { return .failure(ReplyError("ERR invalid expire time in '\(kind.lowercasedName)' command")) }
            return .success(.expireAt(key: args[1], at: at))
        case .persist:
            return .success(.persist(key: args[1]))
        default:
            return .failure(ReplyError("ERR internal: \(kind.lowercasedName) is not a write"))
        }
    }

    /// `now + n × unit` ms, or nil on overflow.
    static func absolute(_ n: Int64, unit: Int64, now: Int64) -> Int64? {
        let (ms, o1) = n.multipliedReportingOverflow(by: unit)
        let (at, o2) = now.addingReportingOverflow(ms)
        return o1 || o2 ? nil : at
    }

    /// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL].
    private func parseSet(_ args: [[UInt8]], now: Int64) -> Result<WriteCommand, ReplyError> {
        var condition = WriteCommand.SetCondition.always
        var expiry = WriteCommand.SetExpiry.none
        var returnOld = false
        var expirySet = false
        var i = 3
        while i < args.count {
            let option = String(decoding: args[i], as: UTF8.self).uppercased()
            switch option {
            case "NX", "XX":
                guard condition == .always else { return .failure(Self.syntaxError) }
                condition = option == "NX" ? .ifAbsent : .ifPresent
            case "GET":
                returnOld = true
            case "KEEPTTL":
                guard !expirySet else { return .failure(Self.syntaxError) }
                expirySet = true
                expiry = .keep
            case "EX", "PX", "EXAT", "PXAT":
                guard !expirySet, i + 1 < args.count else { return .failure(Self.syntaxError) }
                expirySet = true
                guard let n = KVStore.parseInteger(args[i + 1]) else { return .failure(Self.notInteger) }
                let at: Int64?
                switch option {
                case "EX": at = n > 0 ? Self.absolute(n, unit: 1000, now: now) : nil
                case "PX": at = n > 0 ? Self.absolute(n, unit: 1, now: now) : nil
                case "EXAT": at = n > 0 && !n.multipliedReportingOverflow(by: 1000).overflow ? n * 1000 : nil
                default: at = n > 0 ? n : nil
                }
                guard let at else { return .failure(ReplyError("ERR invalid expire time in 'set' command")) }
                expiry = .at(at)
                i += 1
            default:
                return .failure(Self.syntaxError)
            }
            i += 1
        }
        return .success(.set(key: args[1], value: args[2], expiry: expiry, condition: condition, returnOld: returnOld))
    }

    // MARK: Reads and the rest

    private func read(_ kind: CommandKind, _ args: [[UInt8]], _ c: ClientConnection) -> CommandOutcome {
        let now = store.readTime(wallClock: wallClock())
        switch kind {
        case .ping:
            if args.count > 2 {
                c.reply(.error("ERR wrong number of arguments for 'ping' command"))
            } else if args.count == 2 {
                c.reply(.bulk(args[1]))
            } else {
                c.reply { $0.append(contentsOf: RESP.pong) }
            }
        case .echo:
            c.reply(.bulk(args[1]))
        case .get:
            let e = store.live(KVKey(args[1]), at: now)
            c.reply { RESP.optionalBulk(e?.value, into: &$0) }
        case .mget:
            c.reply { out in
                RESP.arrayHeader(args.count - 1, into: &out)
                for k in args.dropFirst() { RESP.optionalBulk(self.store.live(KVKey(k), at: now)?.value, into: &out) }
            }
        case .exists:
            let n = args.dropFirst().reduce(Int64(0)) { $0 + (store.live(KVKey($1), at: now) != nil ? 1 : 0) }
            c.reply(.integer(n))
        case .dbsize:
            c.reply(.integer(Int64(store.count)))
        case .keys:
            let keys = store.keys(matching: args[1], at: now)
            c.reply { out in
                RESP.arrayHeader(keys.count, into: &out)
                for k in keys { RESP.bulk(k, into: &out) }
            }
        case .ttl, .pttl:
            guard let e = store.live(KVKey(args[1]), at: now) else { c.reply(.integer(-2)); break }
            guard let t = e.expiresAt else { c.reply(.integer(-1)); break }
            let ms = t - now
            c.reply(.integer(kind == .pttl ? ms : (ms + 500) / 1000))
        case .type:
            c.reply(.simple(store.live(KVKey(args[1]), at: now) == nil ? "none" : "string"))
        case .strlen:
            c.reply(.integer(Int64(store.live(KVKey(args[1]), at: now)?.value.count ?? 0)))
        case .kvdigest:
            c.reply(.bulk(Array(store.digest.utf8)))
        case .debug:
            let sub = String(decoding: args[1], as: UTF8.self).uppercased()
            if sub == "DIGEST" && args.count == 2 {
                c.reply(.bulk(Array(store.digest.utf8)))
            } else {
                c.reply(.error("ERR DEBUG subcommand not supported here; only DEBUG DIGEST"))
            }
        case .info:
            c.reply(.bulk(Array(info(sections: args.dropFirst().map { String(decoding: $0, as: UTF8.self).lowercased() }).utf8)))
        case .config:
            config(args, c)
        case .command:
            // redis-cli asks for COMMAND DOCS at start-up: an empty answer is enough.
            let sub = args.count > 1 ? String(decoding: args[1], as: UTF8.self).uppercased() : ""
            if sub == "COUNT" { c.reply(.integer(Int64(CommandKind.allCases.count))) } else { c.reply(.array([])) }
        case .select:
            c.reply(args[1] == [48] ? .ok : .error("ERR DB index is out of range (maestro-kv has database 0 only)"))
        case .quit:
            c.reply(.ok)
            return .close
        case .client:
            let sub = String(decoding: args[1], as: UTF8.self).uppercased()
            switch sub {
            case "SETNAME", "SETINFO": c.reply(.ok)
            case "GETNAME": c.reply(.null)
            case "ID": c.reply(.integer(Int64(c.id)))
            default: c.reply(.error("ERR CLIENT \(sub.replacingNewlines()) is not supported here"))
            }
        case .time:
            let ms = wallClock()
            c.reply(.array([.bulk(Array(String(ms / 1000).utf8)), .bulk(Array(String((ms % 1000) * 1000).utf8))]))
        case .kvfault:
            c.reply(replication?.fault(args) ?? .error("ERR no group"))
        case .hello:
            c.reply(.error("NOPROTO maestro-kv speaks RESP2 only; do not use HELLO 3 (redis-cli -2)"))
        default:
            c.reply(.error("ERR internal: \(kind.lowercasedName) is not a read"))
        }
        return .done
    }

    /// CONFIG GET answers the few settings clients ask for (redis-benchmark: save, appendonly).
    private func config(_ args: [[UInt8]], _ c: ClientConnection) {
        let sub = String(decoding: args[1], as: UTF8.self).uppercased()
        guard sub == "GET", args.count >= 3 else {
            c.reply(.error("ERR CONFIG \(sub.replacingNewlines()) is not supported; only CONFIG GET"))
            return
        }
        let known: [(String, String)] = [("save", ""), ("appendonly", "no"), ("databases", "1"), ("maxmemory", "0")]
        var items: [KVReply] = []
        for p in args.dropFirst(2) {
            let pattern = GlobPattern(Array(String(decoding: p, as: UTF8.self).lowercased().utf8))
            for (k, v) in known where pattern.matches(Array(k.utf8)) {
                items.append(.bulk(Array(k.utf8)))
                items.append(.bulk(Array(v.utf8)))
            }
        }
        c.reply(.array(items))
    }
}

extension String {
    /// CR and LF replaced by spaces (an error or simple string is one line).
    func replacingNewlines() -> String {
        String(unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : Character($0) })
    }
}
