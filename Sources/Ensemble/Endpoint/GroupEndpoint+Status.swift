extension GroupEndpoint {
    /// A status dump: identity, view, stacks, and every counter (what was sent and received,
    /// and everything dropped, by reason).
    public var status: String {
        let c = counters
        var lines = ["endpoint \(id) group \(group) \(key.map { $0.protection == .mac ? "authenticated" : "encrypted" } ?? "unauthenticated")"]
        if let v = view, let r = rank {
            lines.append("view \(v.ltime) coordinator \(v.coordinator) rank \(r) of \(v.count); stacks \(hosts.count)")
        } else {
            lines.append(hasLeft ? "left the group" : "not joined")
        }
        lines.append("sent \(c.datagramsSent) datagrams (\(c.bytesSent) bytes, \(c.messagesSent) messages), received \(c.datagramsReceived) datagrams (\(c.bytesReceived) bytes, \(c.messagesReceived) messages)")
        lines.append("dropped: malformed \(c.malformed), bad MAC \(c.badMAC), foreign group \(c.foreignGroup), stale or unknown view \(c.unknownView), bad sender \(c.badSender), misaddressed \(c.misaddressed), malformed headers \(drops.malformedHeaders), over limit \(drops.overLimit); oversized local messages \(c.oversized), send failures \(c.sendFailures)")
        lines.append("notices: sent \(c.noticesSent), received \(c.noticesReceived), stale incarnations found \(c.staleIncarnations)")
        return lines.joined(separator: "\n")
    }
}
