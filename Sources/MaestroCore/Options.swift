import Ensemble

/// Options of a group member (Maestro's `Maestro_GrpMemb_Options`, `Maestro_ClSv_Options`
/// and `Maestro_CSX_Options`, which are one struct here).
///
/// ```swift
/// var ops = CSXOptions()
/// ops.heartbeatRate = 1000
/// ops.groupName = "lapa"
/// ops.protocolStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"
/// ops.transports = "UDP"
/// ops.threadMode = .singleThreaded
/// ops.membershipType = .server
/// ops.xferType = .atomic
/// ```
public struct MaestroOptions: Sendable {
    /// Period of the heartbeat callback, in milliseconds.
    public var heartbeatRate: Int = 5000
    public var groupName = "Maestro-default-group"
    /// The protocol stack, top layer first. Unlike the original (which ignored it), it is used.
    public var protocolStack = MaestroOptions.defaultProtocol
    /// Only "UDP" is supported.
    public var transports = "UDP"
    /// Ensemble parameters, `name=value:type;name=value:type`.
    public var params = ""
    /// Only `.singleThreaded` is supported: asking for `.multiThreaded` is an error at join.
    public var threadMode = ThreadMode.singleThreaded
    /// Role requested (servers hold the replicated state; clients do not).
    public var membershipType = MembershipType.server
    /// Protection this server wants while it receives the state.
    public var xferType = XferType.noXfer
    /// Gossip rendezvous addresses. Empty: the runtime's embedded rendezvous.
    public var gossip: [Address] = []
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

    /// The seed program's stack.
    public static let defaultProtocol = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    func validate() throws {
        if threadMode == .multiThreaded {
            throw MaestroError("Maestro here is single-threaded: one loop runs every member and every callback. Set threadMode = .singleThreaded (the multi-threaded mode does not exist in this runtime)")
        }
        if transports.uppercased() != "UDP" {
            throw MaestroError("transport '\(transports)' is not supported; use \"UDP\"")
        }
        if heartbeatRate <= 0 { throw MaestroError("heartbeatRate must be positive (milliseconds)") }
        if stateChunkBytes < 1024 { throw MaestroError("stateChunkBytes must be at least 1024") }
        do { _ = try LayerRegistry.standard.validate(protocolStack) } catch { throw MaestroError("protocol: \(error)") }
        do { _ = try Parameters(parsing: params) } catch { throw MaestroError("params: \(error)") }
        if let key, key.count < 16 { throw MaestroError("the group key needs at least 16 bytes") }
        if encrypt && key == nil { throw MaestroError("encrypt needs a group key (key)") }
    }
}

public typealias GroupMemberOptions = MaestroOptions
public typealias ClSvOptions = MaestroOptions
public typealias CSXOptions = MaestroOptions
