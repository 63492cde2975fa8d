import Ensemble

/// Options of a group member (Maestro's `Maestro_GrpMemb_Options`, `Maestro_ClSv_Options`
/// and `Maestro_CSX_Options`, which are one struct here).
///
/// ```swift
/// var ops = CSXOptions()
/// ops.heartbeatRate = .seconds(1)
/// ops.groupName = "lapa"
/// ops.gossip = ["10.0.0.5:6000"]
/// ops.protocolStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
/// ops.transports = "UDP"
/// ops.threadMode = .singleThreaded
/// ops.membershipType = .server
/// ops.xferType = .atomic
/// ```
public struct MaestroOptions: Sendable {
    /// Period of the heartbeat callback (Maestro's `heartbeatRate`, 5000 ms). Also the stack's
    /// `heartbeat_rate` unless `params` sets that.
    public var heartbeatRate: Duration = .seconds(5)
    public var groupName = "Maestro-default-group"
    /// The protocol stack, top layer first. Unlike the original (which ignored it), it is used.
    /// Nil (the default): the stack `properties` choose, or the seed program's stack
    /// (`defaultProtocol`) if none are given. Set, it wins over `properties`.
    public var protocolStack: String?
    /// What the stack must guarantee, Ensemble's way (`"Vsync:Total"`; `Properties`): used
    /// when `protocolStack` is nil. Nil: `defaultProtocol`. An unknown property is an error at
    /// `join` that lists the known ones. `Auth` and `Privacy` ask for `key` (and `encrypt`).
    public var properties: String?
    /// Only "UDP" is supported.
    public var transports = "UDP"
    /// Ensemble parameters, `name=value:type;name=value:type`, or a profile (`fast`) followed
    /// by overrides. A name no layer reads is an error at `join` that lists the known ones
    /// (`ParameterCatalog`).
    public var params = ""
    /// Only `.singleThreaded` is supported: asking for `.multiThreaded` is an error at join.
    public var threadMode = ThreadMode.singleThreaded
    /// Role requested (servers hold the replicated state; clients do not).
    public var membershipType = MembershipType.server
    /// Protection this server wants while it receives the state.
    public var xferType = XferType.noXfer
    /// Gossip rendezvous addresses, `"host:port"` (`"10.0.0.5:6000"`, `"localhost:6000"`, or a
    /// host name the shell resolves at `join`). Every process of a group must name the same
    /// rendezvous (a `maestro-gossip` server, or a member's embedded one). Empty: this runtime's
    /// embedded rendezvous on a random port, which members of other processes never find.
    public var gossip: [String] = []
    /// Address to bind the member's UDP socket to (port 0: any free port). Nil (the default):
    /// the local address that routes to the rendezvous (`gossip`), or 127.0.0.1 when the
    /// rendezvous is on this host or embedded, with `port`. 0.0.0.0 binds every interface and
    /// advertises the address that routes to the rendezvous (the address the others use: the
    /// endpoint id and the view carry it).
    public var bind: Address?
    /// The UDP port when `bind` is nil (0: any free port).
    public var port: UInt16 = 0
    /// Largest chunk of a streamed state (`sendState(to:xferID:chunks:)`).
    public var stateChunkBytes = 64 << 10
    /// Resource limit: the most state bytes the default chunk handler collects before calling
    /// `gotStateCallback` (a larger state is canceled; override `gotStateChunkCallback` to
    /// consume a state of any size chunk by chunk).
    public var maxPendingStateBytes = 1 << 30
    /// The group's shared secret (at least 16 bytes): every datagram is then authenticated,
    /// and members without the same secret can neither join nor disturb the group.
    public var key: [UInt8]?
    /// With a key: encrypt every datagram (ChaCha20-Poly1305) instead of only authenticating
    /// it. Every member of the group must agree.
    public var encrypt = false

    public init() {}

    /// The stack a member of these options runs (`protocolStack`, or what `properties`
    /// choose, or `defaultProtocol`), checked; throws saying what is wrong.
    public func stack() throws -> String {
        if let protocolStack {
            do { _ = try LayerRegistry.standard.validate(protocolStack) } catch { throw MaestroError("protocolStack: \(error)") }
            return protocolStack
        }
        guard let properties else { return MaestroOptions.defaultProtocol }
        do {
            let p = try Properties(parsing: properties)
            try p.checkSecurity(hasKey: key != nil, encrypts: encrypt, keyOption: "key", encryptOption: "encrypt = true")
            return try p.protocolStack()
        } catch {
            throw MaestroError("properties: \(error)")
        }
    }

    /// The seed program's stack.
    public static let defaultProtocol = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    /// Throws, saying what is wrong and what to do, for options `join` would reject: a
    /// command-line tool calls it while it checks its arguments.
    public func validate() throws {
        if threadMode == .multiThreaded {
            throw MaestroError("Maestro here is single-threaded: one loop runs every member and every callback. Set threadMode = .singleThreaded (the multi-threaded mode does not exist in this runtime)")
        }
        if transports.uppercased() != "UDP" {
            throw MaestroError("transport '\(transports)' is not supported; use \"UDP\"")
        }
        if heartbeatRate < .milliseconds(1) { throw MaestroError("heartbeatRate must be at least a millisecond (got \(heartbeatRate))") }
        for g in gossip { _ = try GossipAddress(parsing: g) }
        if stateChunkBytes < 1024 { throw MaestroError("stateChunkBytes must be at least 1024") }
        _ = try stack()
        do { _ = try Parameters(parsing: params) } catch { throw MaestroError("params '\(params)': \(error)") }
        if let key, key.count < 16 { throw MaestroError("the group key needs at least 16 bytes") }
        if encrypt && key == nil { throw MaestroError("encrypt needs a group key (key)") }
    }
}

public typealias GroupMemberOptions = MaestroOptions
public typealias ClSvOptions = MaestroOptions
public typealias CSXOptions = MaestroOptions

/// One `"host:port"` entry of `MaestroOptions.gossip`, parsed.
struct GossipAddress {
    var host: String
    var port: UInt16

    init(parsing text: String) throws {
        let entry = String(text.filter { $0 != " " && $0 != "\t" })
        guard let colon = entry.lastIndex(of: ":"), colon != entry.startIndex,
              let port = UInt16(entry[entry.index(after: colon)...]), port != 0 else {
            throw MaestroError("gossip address '\(text)' is not host:port (for example \"10.0.0.5:6000\" or \"localhost:6000\")")
        }
        host = String(entry[..<colon])
        self.port = port
    }

    /// The address, the host resolved by `shell` unless it is a dotted quad or localhost.
    func resolve(with shell: any MaestroShell) throws -> Address {
        if let ip = Address.parseIP(host) { return Address(ip: ip, port: port) }
        do { return Address(ip: try shell.resolve(host: host), port: port) } catch {
            throw MaestroError("gossip address '\(host):\(port)': \(error)")
        }
    }
}
