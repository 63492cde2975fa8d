/// The identity of one group member, unique per process and per join (a member that leaves
/// and joins again gets a new one). As in Ensemble, it carries no routing information: the
/// host and port only make it unique and readable; addresses travel separately in the view.
public struct EndpointID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var host: UInt32
    public var port: UInt16
    /// Distinguishes endpoints created by the same process.
    public var counter: UInt16
    /// Random per process start, so a restarted process never reuses an old id.
    public var incarnation: UInt64

    public init(host: UInt32, port: UInt16, counter: UInt16, incarnation: UInt64) {
        self.host = host
        self.port = port
        self.counter = counter
        self.incarnation = incarnation
    }

    /// Fixed size on the wire.
    public static let encodedSize = 16

    /// An id that no real endpoint has ("unset", as Maestro's default-constructed EndpID).
    public static let none = EndpointID(host: 0, port: 0, counter: 0, incarnation: 0)

    public func encode<W: WireWriting>(into w: inout W) {
        w.write(host)
        w.write(port)
        w.write(counter)
        w.write(incarnation)
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> EndpointID {
        EndpointID(host: try r.read(), port: try r.read(), counter: try r.read(), incarnation: try r.read())
    }

    @inlinable public static func < (a: EndpointID, b: EndpointID) -> Bool {
        (a.host, a.port, a.incarnation, a.counter) < (b.host, b.port, b.incarnation, b.counter)
    }

    public var description: String {
        let inc = String(incarnation, radix: 16)
        return "\(Address.ipString(host)):\(port)/\(String(repeating: "0", count: max(0, 16 - inc.count)) + inc).\(counter)"
    }
}

/// A named group. Members with the same name find each other. On the wire a group is known by
/// a 64-bit hash of its name (FNV-1a), so every datagram can be routed without the name.
public struct GroupID: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let hash: UInt64

    public init(_ name: String) {
        self.name = name
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        hash = h
    }

    public var description: String { name }
}

/// A view id: the view's logical time and its coordinator. Totally ordered, ltime first.
/// Two partitions may share an ltime but never a coordinator, so ids never collide.
public struct ViewID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var ltime: UInt64
    public var coordinator: EndpointID

    public init(ltime: UInt64, coordinator: EndpointID) {
        self.ltime = ltime
        self.coordinator = coordinator
    }

    public static let encodedSize = 8 + EndpointID.encodedSize

    public func encode<W: WireWriting>(into w: inout W) {
        w.write(ltime)
        coordinator.encode(into: &w)
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> ViewID {
        ViewID(ltime: try r.read(), coordinator: try EndpointID.decode(from: &r))
    }

    @inlinable public static func < (a: ViewID, b: ViewID) -> Bool {
        a.ltime != b.ltime ? a.ltime < b.ltime : a.coordinator < b.coordinator
    }

    public var description: String { "[\(ltime),\(coordinator)]" }
}
