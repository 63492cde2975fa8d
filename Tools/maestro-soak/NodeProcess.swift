import Ensemble
import Foundation
import Maestro
import MaestroSimulation
import Reactor
import Simulation
import SoakCheck
#if canImport(Glibc)
import Glibc
#endif

/// What a soak node needs to run its members.
struct NodeConfig {
    var firstMember: Int
    var incarnations: [UInt64]
    var group: String
    var gossip: Address
    /// --bind (nil: the address that routes to the rendezvous).
    var bind: Address?
    var params: String
    /// --properties (nil: the seed's stack).
    var properties: String?
    var logDir: String
    var epochMicros: Int64
    var seed: UInt64
    var rate: Double
    var sizeMax: Int
    var castFraction: Double
    var stateBytes: Int
    /// The group's secret (--key-file), or nil.
    var key: [UInt8]?
    /// --encrypt: ChaCha20-Poly1305 instead of a MAC only.
    var encrypt = false
}

/// One soak node process: K CSX servers on one Maestro runtime, their traffic, the fault
/// hook of their sockets (loss and partitions), and the commands the orchestrator writes on
/// stdin, read without ever blocking the loop:
///
///     loss FRACTION          drop this fraction of datagrams in and out (0: none)
///     partition ADDR,...     drop every datagram from or to these member addresses
///     heal                   forget the partition
///     traffic on|off         start or stop sending
///     leave SLOT             member SLOT leaves the group (voluntarily)
///     rejoin SLOT INC        member SLOT joins again as a new member of incarnation INC
///     stop                   report every member's final state and exit with status 0
///
/// End of file on stdin (the orchestrator is gone) stops the node the same way. SIGTERM or
/// SIGINT makes every member leave (each logs its leave), then stops the node once they have
/// left, or after the runtime's `exitTimeout`; a second signal exits at once.
final class NodeProcess {
    let config: NodeConfig
    let runtime = Runtime.current
    private var servers: [SoakServer?]
    private var loss = 0.0
    private var partitioned: Set<Address> = []
    private var lossRandom: SimRandom
    private var trafficRandom: SimRandom
    private var trafficOn = true
    private var trafficTimers: [LoopTimer] = []
    private var statsTimer: LoopTimer?
    private var stdinWatcher: IOWatcher?
    private var stdinPending: [UInt8] = []
    private var drops: UInt64 = 0
    /// Counters of members that are gone (left or replaced), so totals survive them.
    private var past = (casts: 0, sends: 0, delivered: 0, queued: 0, drops: DropCounts())
    private var stopping = false
    private var terminating = false

    init(_ config: NodeConfig) {
        self.config = config
        servers = Array(repeating: nil, count: config.incarnations.count)
        lossRandom = SimRandom(seed: config.seed, stream: 0xD0D0 &+ UInt64(config.firstMember))
        trafficRandom = SimRandom(seed: config.seed, stream: 0x7AF0 &+ UInt64(config.firstMember))
    }

    /// Prints one line for the orchestrator and flushes.
    func say(_ s: String) {
        print(s)
        fflush(nil)
    }

    func run() throws {
        // SIGTERM/SIGINT from now on: every member leaves, then the node stops.
        runtime.onTermination = { [unowned self] _ in self.terminate() }
        runtime.installTerminationHandler()
        runtime.dropIncoming = { [unowned self] a in self.drop(a) }
        runtime.dropOutgoing = { [unowned self] a in self.drop(a) }
        for slot in servers.indices { try startMember(slot, incarnation: config.incarnations[slot]) }
        watchStdin()
        for slot in servers.indices {
            let t = LoopTimer(runtime.reactor, label: "traffic of slot \(slot)") { [unowned self] in self.trafficTick(slot) }
            trafficTimers.append(t)
            scheduleTraffic(slot)
        }
        statsTimer = runtime.reactor.every(.seconds(1), label: "node statistics") { [unowned self] in self.reportStats() }
        runtime.reactor.run()
    }

    /// SIGTERM/SIGINT: every member leaves cleanly, then the node stops.
    private func terminate() {
        guard !terminating else {
            fflush(nil)
            exit(0)
        }
        terminating = true
        trafficOn = false
        for s in servers.compactMap({ $0 }) where s.isActive { s.soakLeave() }
        runtime.leaveAll(within: runtime.exitTimeout) { [unowned self] _ in self.stop() }
    }

    private func drop(_ a: Address) -> Bool {
        if partitioned.contains(a) || (loss > 0 && lossRandom.double() < loss) {
            drops &+= 1
            return true
        }
        return false
    }

    private func startMember(_ slot: Int, incarnation: UInt64) throws {
        let member = config.firstMember + slot
        let log = try EventLog(path: "\(config.logDir)/m\(member).\(incarnation).log", epochMicros: config.epochMicros)
        var ops = CSXOptions()
        ops.groupName = config.group
        ops.params = config.params
        ops.properties = config.properties
        ops.gossip = [config.gossip.description]
        ops.bind = config.bind
        ops.membershipType = .server
        ops.xferType = .atomic
        ops.heartbeatRate = .seconds(1)
        ops.key = config.key
        ops.encrypt = config.encrypt
        let s = try SoakServer(member: member, incarnation: incarnation, options: ops, log: log, seed: config.seed,
                               sizeMax: config.sizeMax, castFraction: config.castFraction,
                               stateBytes: config.stateBytes) { [unowned self] line in self.say(line) }
        if let old = servers[slot] { retire(old) }
        servers[slot] = s
        say("ready \(slot) \(member) \(incarnation) \(s.address?.description ?? "?") \(s.myEndpID.map(LogCodec.endpoint) ?? "?")")
    }

    private func retire(_ s: SoakServer) {
        past.casts += s.castsSent
        past.sends += s.sendsSent
        past.delivered += s.delivered
        past.queued += s.queuedByMaestro
        past.drops = past.drops + s.dropCounts
    }

    // MARK: Traffic

    private func scheduleTraffic(_ slot: Int) {
        guard config.rate > 0 else { return }
        let gap = trafficRandom.double() * 2 / config.rate
        trafficTimers[slot].schedule(after: .seconds(max(0.001, gap)))
    }

    private func trafficTick(_ slot: Int) {
        if trafficOn, let s = servers[slot] { s.sendOne() }
        scheduleTraffic(slot)
    }

    private func reportStats() {
        let live = servers.compactMap { $0 }
        let casts = past.casts + live.reduce(0) { $0 + $1.castsSent }
        let sends = past.sends + live.reduce(0) { $0 + $1.sendsSent }
        let delivered = past.delivered + live.reduce(0) { $0 + $1.delivered }
        let queued = past.queued + live.reduce(0) { $0 + $1.queuedByMaestro }
        let memberDrops = live.reduce(past.drops) { $0 + $1.dropCounts }
        say("stats \(casts) \(sends) \(delivered) \(drops) \(queued) " + memberDrops.fields.map { String($0.count) }.joined(separator: " "))
    }

    // MARK: Commands

    private func watchStdin() {
        let flags = fcntl(0, F_GETFL)
        _ = fcntl(0, F_SETFL, flags | O_NONBLOCK)
        let w = IOWatcher(runtime.reactor, fd: 0, events: .read, label: "commands on stdin") { [unowned self] _ in self.readStdin() }
        w.start()
        stdinWatcher = w
    }

    private func readStdin() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n > 0 {
                stdinPending.append(contentsOf: buf[0 ..< n])
                while let nl = stdinPending.firstIndex(of: 10) {
                    let line = String(decoding: stdinPending[..<nl], as: UTF8.self)
                    stdinPending.removeSubrange(...nl)
                    command(line)
                }
                continue
            }
            if n == 0 {  // the orchestrator is gone
                stdinWatcher?.stop()
                stop()
            }
            return  // EAGAIN (or an error): wait for the next wake-up
        }
    }

    func command(_ line: String) {
        let parts = line.split(separator: " ").map(String.init)
        guard let verb = parts.first else { return }
        switch verb {
        case "loss":
            guard parts.count == 2, let f = Double(parts[1]), f >= 0, f < 1 else { return bad(line) }
            loss = f
        case "partition":
            let list = parts.count > 1 ? parts[1].split(separator: ",").compactMap { Address(String($0)) } : []
            partitioned = Set(list)
        case "heal":
            partitioned = []
        case "traffic":
            guard parts.count == 2, parts[1] == "on" || parts[1] == "off" else { return bad(line) }
            trafficOn = parts[1] == "on"
        case "leave":
            guard parts.count == 2, let slot = Int(parts[1]), servers.indices.contains(slot) else { return bad(line) }
            servers[slot]?.soakLeave()
        case "rejoin":
            guard parts.count == 3, let slot = Int(parts[1]), servers.indices.contains(slot), let inc = UInt64(parts[2]) else {
                return bad(line)
            }
            if let s = servers[slot], !s.exited {
                say("error rejoin \(slot): the member has not left the group yet")
                return
            }
            do { try startMember(slot, incarnation: inc) } catch { say("error rejoin \(slot): \(error)") }
        case "stop":
            stop()
        default:
            bad(line)
        }
    }

    private func bad(_ line: String) { say("error unknown or malformed command: \(line)") }

    /// Reports every active member's final state, then ends the loop.
    func stop() {
        guard !stopping else { return }
        stopping = true
        trafficOn = false
        for s in servers.compactMap({ $0 }) where s.isActive { s.finish() }
        reportStats()
        say("stopped")
        runtime.reactor.stop()
    }
}
