import Ensemble

/// A member of a group, as Maestro names it (`Maestro_EndpID`).
public typealias EndpID = EndpointID

/// In which view a message was sent (`Maestro_MsgSendView`).
public enum SendView: Int32, Sendable {
    case unspecified = 0
    /// Sent in the current view.
    case currentView = 1
    /// Sent after `block`: it goes out in the next view.
    case nextView = 2
}

/// Maestro's thread modes. This runtime is single-threaded: one loop runs every member and
/// every callback, and `start()` never returns.
public enum ThreadMode: Sendable {
    case singleThreaded
    case multiThreaded
}

/// Requested role (`Maestro_MbrshipOption`).
public enum MembershipType: Int32, Sendable {
    case client = 0
    case server = 1
}

/// State-transfer protection (`Maestro_XferType`, also a view's type). A message may leave at
/// once iff its safety is at least the current view's type; otherwise it is held at the sender.
public enum XferType: Int32, Comparable, Sendable, CaseIterable {
    /// No transfer in progress.
    case noXfer = 0
    /// Everything may be sent during the transfer.
    case free = 1
    /// Only safe and xfer messages are sent during the transfer.
    case protected = 2
    /// Only xfer messages are sent during the transfer.
    case atomic = 3

    public static func < (a: XferType, b: XferType) -> Bool { a.rawValue < b.rawValue }
}

/// A message's state-transfer safety (`Maestro_MsgXferSafety`).
public enum MessageSafety: Int32, Sendable {
    case generic = 1
    case safe = 2
    case xfer = 3

    var level: XferType { XferType(rawValue: rawValue) ?? .free }
}

/// Per-message options of client/server members (`Maestro_ClSv_MsgOptions`).
public struct MessageOptions: Sendable {
    public var safety: MessageSafety
    /// Extra destinations of `scast` (clients), or all destinations of `lsend`.
    public var destinations: [EndpID]

    public init(safety: MessageSafety = .generic, destinations: [EndpID] = []) {
        self.safety = safety
        self.destinations = destinations
    }
}

/// A member's client/server state (`Maestro_ClSvState`).
public enum ClSvState: Int32, Sendable {
    case initial = 0
    case joining = 1
    case clientNormal = 2
    case becomingServer = 3
    case serverXfer = 4
    case serverXferDone = 5
    case serverNormal = 6
    case leaving = 7
}

/// Identifies one (re)start of a state transfer (`Maestro_XferID`). Calls with an older id
/// than the current one are stale: ignored, or answered with `.terminated`.
public struct XferID: Hashable, Comparable, Sendable, CustomStringConvertible, MessageCodable {
    public var value: Int32
    public init(_ value: Int32 = 0) { self.value = value }
    public static func < (a: XferID, b: XferID) -> Bool { a.value < b.value }
    public var description: String { "xfer#\(value)" }
    public func push(onto message: inout Message) { message << value }
    public static func pop(from message: inout Message) throws(WireError) -> XferID { XferID(try message.pop()) }
}

/// The outcome of `getState` (`Maestro_XferStatus`).
public enum XferStatus: Sendable {
    /// The request went out; `gotStateCallback` or `xferCanceledCallback` follows.
    case ok
    /// The transfer id is stale or the member is not receiving state: nothing was sent.
    case terminated
}

/// A misuse of the API (Maestro panics; here it is an error the caller can see).
public struct MaestroError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
