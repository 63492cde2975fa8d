/// Stale incarnations: a process that crashed and restarted on the same address is a new
/// endpoint (a fresh incarnation in its id), yet the views of the others may still list its
/// previous incarnation. Datagrams for the old one then reach the new one, which has no stack
/// for their view (or holds another rank in it). It answers with a notice: "the endpoint at
/// this address is E and has no stack for view H" (Ensemble had no such message; beyond it).
/// A member that gets a notice naming an id other than the one its view lists at that address
/// knows the listed endpoint is dead, and suspects it at once instead of waiting for the
/// failure detector. A notice naming the listed endpoint itself (a member that simply has not
/// installed the view yet) changes nothing.
///
/// Notice frame: the frame header (kind `.notice`, the view hash of the datagram answered,
/// ranks 0), then the answering endpoint's id (16 bytes); sealed like any datagram.
extension GroupEndpoint {
    /// At most one notice per address per this interval: a notice answers a stream of
    /// datagrams, and must never amplify traffic.
    static let noticeInterval = Time.milliseconds(50)
    static let noticeMemory = 256

    /// Tells `address` that this endpoint has no stack for `view` (rate-limited).
    func sendNotice(view: UInt64, to address: Address) {
        guard !hasLeft, address != transport.localAddress else { return }
        let now = transport.now
        if let last = noticesSent[address], now - last < GroupEndpoint.noticeInterval { return }
        if noticesSent.count >= GroupEndpoint.noticeMemory {
            noticesSent = noticesSent.filter { now - $0.value < GroupEndpoint.noticeInterval }
            if noticesSent.count >= GroupEndpoint.noticeMemory { return }
        }
        noticesSent[address] = now
        gossipScratch.removeAll()
        Frame(kind: .notice, authenticated: key != nil, group: group.hash, view: view, sender: 0).encode(into: &gossipScratch)
        id.encode(into: &gossipScratch)
        key?.seal(&gossipScratch.bytes)
        counters.noticesSent += 1
        sendRaw(gossipScratch.bytes, to: address)
    }

    /// A notice from `source`: any member my views list at that address with another id is dead.
    func receivedNotice(_ r: inout WireReader, view: UInt64, from source: Address) {
        guard let answering = try? EndpointID.decode(from: &r), r.isAtEnd else {
            counters.malformed += 1
            return
        }
        counters.noticesReceived += 1
        staleIncarnation(at: source, current: answering, reason: "a new incarnation answers at \(source)")
    }

    /// Suspects, in every stack, a member listed at `address` whose id is not `current`: the
    /// process at that address has restarted, so the listed endpoint no longer exists.
    func staleIncarnation(at address: Address, current: EndpointID, reason: String) {
        for host in hosts where !host.exited {
            guard let stack = host.stack else { continue }
            var stale = RankSet()
            for (r, a) in host.view.addresses.enumerated() where a == address && r != host.rank && host.view.members[r] != current {
                stale.insert(r)
            }
            if stale.isEmpty { continue }
            counters.staleIncarnations += 1
            logger.info("view \(host.view.ltime): \(stale.map { host.view.members[$0] }) no longer exist(s): \(reason)")
            stack.injectUp(.suspect(stale, reason: reason))
        }
    }
}
