import Ensemble

extension SimWorld {
    /// Adds a process with the next address (10.0.0.1 for the first) and boots it now: `boot`
    /// runs before this returns, and again at every `restart`. Boot typically binds
    /// transports with `makeTransport`, builds the stack on them and keeps it in `state`.
    ///
    /// A process added while the network is partitioned is isolated until `heal` (or a new
    /// `partition` that lists it).
    @discardableResult
    public func addProcess(name: String, boot: @escaping (SimProcess) -> Void) -> SimProcess {
        let process = SimProcess(world: self, id: processTable.count, name: name, boot: boot)
        processTable.append(process)
        for i in links.indices { links[i].append(LinkState()) }
        links.append(Array(repeating: LinkState(), count: processTable.count))
        process.partitionGroup = SimWorld.isolatedGroup(process.id)
        start(process, kind: .boot)
        return process
    }

    /// Takes `process` down now: every transport it has is closed (no more delegate calls;
    /// pending wake-ups and idle callbacks are dropped), its `state` is released, and copies
    /// arriving for it while it is down are dropped. Datagrams it already sent stay in
    /// flight. Does nothing if the process is already down.
    public func crash(_ process: SimProcess) {
        precondition(process.world === self, "SimWorld.crash: process of another world")
        guard process.up else { return }
        process.up = false
        let name = process.name, id = process.id, incarnation = process.incarnation
        record(.crash, UInt64(id), incarnation, text: name) { "crash p\(id) \(name)" }
        for transport in process.bound { transport.close() }
        process.state = nil
    }

    /// Boots `process` again with `incarnation` one higher, calling its boot closure now.
    /// A process that is up is crashed first.
    public func restart(_ process: SimProcess) {
        precondition(process.world === self, "SimWorld.restart: process of another world")
        if process.up { crash(process) }
        process.incarnation += 1
        start(process, kind: .restart)
    }

    /// The process with address `ip`, if any.
    public func process(ip: UInt32) -> SimProcess? {
        let index = Int(ip &- SimWorld.ipBase) - 1
        return index >= 0 && index < processTable.count ? processTable[index] : nil
    }

    func start(_ process: SimProcess, kind: SimTraceKind) {
        process.up = true
        process.random = SimRandom(
            seed: seed, stream: SimWorld.processStream(id: process.id, incarnation: process.incarnation))
        let name = process.name, id = process.id, incarnation = process.incarnation
        let ip = Address.ipString(process.ip)
        record(kind, UInt64(id), incarnation, text: name) {
            "\(kind == .boot ? "boot" : "restart") p\(id) \(name) \(ip) inc=\(incarnation)"
        }
        process.boot(process)
    }

    /// The random stream of one incarnation of one process; never 1 or 2 (the world's own).
    static func processStream(id: Int, incarnation: UInt64) -> UInt64 {
        (UInt64(id) + 1) << 32 ^ incarnation
    }

    // MARK: Transports

    func openTransport(process: SimProcess, port: UInt16) -> SimTransport {
        let slot: Int
        if let free = freeTransportSlots.popLast() {
            slot = free
        } else {
            slot = transports.count
            transports.append(nil)
        }
        let transport = SimTransport(world: self, process: process, port: port, slot: slot)
        transports[slot] = transport
        let address = transport.localAddress
        record(.bind, address.traceKey) { "bind \(address)" }
        return transport
    }

    func closeTransport(_ transport: SimTransport) {
        transports[transport.slot] = nil
        freeTransportSlots.append(transport.slot)
        transport.process.unbind(transport)
        let address = transport.localAddress
        record(.close, address.traceKey) { "close \(address)" }
    }
}
