extension Event: CustomStringConvertible {
    /// A one-line summary for logs and traces.
    public var description: String {
        switch self {
        case let .cast(p, peer, _): "cast(\(p.count)B, peer \(peer))"
        case let .send(p, peer, _): "send(\(p.count)B, peer \(peer))"
        case let .castUnreliable(p, peer): "castUnreliable(\(p.count)B, peer \(peer))"
        case let .sendUnreliable(p, peer): "sendUnreliable(\(p.count)B, peer \(peer))"
        case let .receive(p, peer): "receive(\(p.count)B, peer \(peer))"
        case let .flowControl(b, peer): "flowControl(\(b ? "blocked" : "open"), \(peer.map(String.init) ?? "casts"))"
        case let .initialize(t): "initialize(\(t))"
        case let .timer(t): "timer(\(t))"
        case .exit: "exit"
        case .leave: "leave"
        case .async: "async"
        case let .suspect(s, reason): "suspect(\(s), \(reason))"
        case .elect: "elect"
        case let .fail(s): "fail(\(s))"
        case .block: "block"
        case let .blockOk(c): c.map { "blockOk(contact \($0.endpoint))" } ?? "blockOk"
        case let .syncInfo(c, s): "syncInfo(casts \(c), sends \(s))"
        case let .applCounts(c, s): "applCounts(casts \(c), sends \(s))"
        case let .view(v): "view(\(v.ltime), \(v.count) members)"
        case .prompt: "prompt"
        case let .protocolSwitch(p): "protocolSwitch(\(p))"
        case let .stable(s, n): "stable(\(s), \(n))"
        case let .stableRequest(c): "stableRequest(\(c.map { "\($0)" } ?? "-"))"
        case let .gossip(g): "gossip(\(g.heal != nil ? "heal " : "")\(g.protocolSuggestion != nil ? "switch " : "")\(g.merge.map { "merge \($0.kind) #\($0.sequence)" } ?? ""))"
        case let .gossipDirect(g, a): "gossipDirect(to \(a), \(g.merge.map { "merge \($0.kind) #\($0.sequence)" } ?? "heal"))"
        case let .mergeTarget(c): "mergeTarget(\(c.endpoint))"
        case let .mergeRequest(c, v): "mergeRequest(\(c.endpoint), view \(v.ltime))"
        case let .mergeGranted(c, v): "mergeGranted(\(c.endpoint), view \(v.ltime))"
        case let .mergeDenied(c, v): "mergeDenied(\(c.endpoint), view \(v.ltime))"
        case .mergeFailed: "mergeFailed"
        case .account: "account"
        case .dump: "dump"
        }
    }
}
