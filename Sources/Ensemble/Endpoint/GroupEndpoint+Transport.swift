/// The endpoint's side of the transport: datagrams in (checked, then into the stack of their
/// view), datagrams out (batched by the stack hosts, sealed, sent), alarms and idle callbacks.
extension GroupEndpoint: TransportDelegate {
    // MARK: Output

    func messageQueued(flushNow: Bool) {
        if flushNow {
            for h in hosts { h.flushAll() }
        } else if !idleRequested {
            idleRequested = true
            transport.requestIdleCallback()
        }
    }

    /// Sends a datagram; in an authenticated group, it is sealed first (MAC appended, or
    /// encrypted; see `SealCache`).
    func sendDatagram(_ bytes: inout [UInt8], messages: Int, to address: Address) {
        if let key {
            sealCache.seal(&bytes, with: key)
            guard !bytes.isEmpty else {
                counters.sendFailures += 1  // sealing refused it (no frame header): never sent in clear
                return
            }
        }
        let ok = bytes.withUnsafeBytes { transport.send($0, to: address) }
        if ok {
            counters.datagramsSent += 1
            counters.bytesSent += UInt64(bytes.count)
            counters.messagesSent += UInt64(messages)
        } else {
            counters.sendFailures += 1
        }
    }

    func sendRaw(_ bytes: [UInt8], to address: Address) {
        if bytes.withUnsafeBytes({ transport.send($0, to: address) }) {
            counters.datagramsSent += 1
            counters.bytesSent += UInt64(bytes.count)
        } else {
            counters.sendFailures += 1
        }
    }

    func countOversized(_ length: Int) {
        counters.oversized += 1
        logger.error("dropped a \(length)-byte message: larger than one datagram (\(GroupEndpoint.maxDatagram) bytes); lower frag_max_len")
    }

    func transmitGossip(_ gossip: Gossip, to address: Address?) {
        gossipScratch.removeAll()
        Frame(kind: .gossip, authenticated: key != nil, group: group.hash, view: 0, sender: 0).encode(into: &gossipScratch)
        gossip.encode(into: &gossipScratch)
        key?.seal(&gossipScratch.bytes)
        let datagram = gossipScratch.bytes
        if let address {
            sendRaw(datagram, to: address)
        } else {
            for server in gossipServers { sendRaw(datagram, to: server) }
        }
    }

    func alarmsChanged() {
        let next = hosts.compactMap(\.alarms.first).min() ?? .never
        if next != wakeTime {
            wakeTime = next
            transport.wake(at: next)
        }
    }

    // MARK: Input

    public func transport(_ transport: any Transport, received datagram: UnsafeRawBufferPointer, from source: Address) {
        counters.datagramsReceived += 1
        counters.bytesReceived += UInt64(datagram.count)
        if let key {
            // Checked before anything else is read.
            guard key.open(datagram, { receiveDatagram($0, from: source) }) != nil else {
                counters.badMAC += 1
                return
            }
        } else {
            receiveDatagram(datagram, from: source)
        }
    }

    /// A datagram, opened if the group has a key: its frame is checked and its messages go
    /// up the stack of its view.
    func receiveDatagram(_ datagram: UnsafeRawBufferPointer, from source: Address) {
        var r = WireReader(datagram)
        guard let frame = try? Frame.decode(from: &r, maxRank: 1 << 16) else {
            counters.malformed += 1
            return
        }
        guard frame.authenticated == (key != nil) else {
            counters.badMAC += 1  // an authenticated group I have no key for, or a datagram without MAC
            return
        }
        guard frame.group == group.hash else {
            counters.foreignGroup += 1
            return
        }
        if frame.kind == .gossip {
            guard let g = try? Gossip.decode(from: &r), r.isAtEnd else {
                counters.malformed += 1
                return
            }
            hosts.last?.stack?.injectUp(.gossip(g))
            return
        }
        if frame.kind == .notice {
            receivedNotice(&r, view: frame.view, from: source)
            return
        }
        guard let host = hosts.first(where: { $0.viewHash == frame.view }), let stack = host.stack else {
            counters.unknownView += 1
            let now = transport.now
            early.forgetExpired(now: now)
            if !hasLeft { early.hold(datagram, view: frame.view, from: source, at: now) }
            sendNotice(view: frame.view, to: source)
            return
        }
        guard frame.sender < host.view.count, frame.sender != host.rank else {
            counters.badSender += 1
            return
        }
        guard frame.destination == host.rank else {
            // Meant for whoever had this address before me in that view (my previous
            // incarnation): never mine to consume. Tell the sender who answers here.
            counters.misaddressed += 1
            sendNotice(view: frame.view, to: source)
            return
        }
        // One copy of the datagram for all its messages: each message is a slice of it.
        let base = r.offset
        let body = Packet(payload: UnsafeRawBufferPointer(rebasing: datagram[base...]), headroom: 0)
        while !r.isAtEnd {
            guard let length = try? r.readCount(limit: r.remaining), (try? r.skip(length)) != nil else {
                counters.malformed += 1
                return
            }
            counters.messagesReceived += 1
            let end = r.offset - base
            stack.injectUp(.receive(body.slice(end - length ..< end), peer: frame.sender))
        }
    }

    public func transportWake(_ transport: any Transport, now: Time) {
        wakeTime = .never
        for h in hosts where h.takeDueAlarms(now) {
            h.stack?.injectUp(.timer(now))
        }
        alarmsChanged()
    }

    public func transportWillIdle(_ transport: any Transport) {
        idleRequested = false
        for h in hosts { h.flushAll() }
    }
}
