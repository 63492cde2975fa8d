/// What an endpoint sent, received and dropped: for status dumps, tools and tests.
public struct EndpointCounters: Sendable, Equatable {
    public var datagramsSent: UInt64 = 0
    public var datagramsReceived: UInt64 = 0
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var messagesSent: UInt64 = 0
    public var messagesReceived: UInt64 = 0
    /// Datagrams the local socket refused (buffer full).
    public var sendFailures: UInt64 = 0
    /// Datagrams that could not be decoded.
    public var malformed: UInt64 = 0
    /// Datagrams for another group.
    public var foreignGroup: UInt64 = 0
    /// Datagrams for a view this endpoint has no stack for (too old or not yet installed).
    public var unknownView: UInt64 = 0
    /// Datagrams whose sender rank is not a member of the view, or is mine.
    public var badSender: UInt64 = 0
    /// Datagrams whose MAC is wrong or missing (or that carry one when this member has no key).
    public var badMAC: UInt64 = 0
    /// Datagrams addressed to another rank of the view they name (sent to a previous
    /// incarnation of this process, whose address this endpoint now has).
    public var misaddressed: UInt64 = 0
    /// Notices sent (a datagram came for a view this endpoint has no stack for, or for another
    /// rank) and received (and, of those, the ones that proved a member dead).
    public var noticesSent: UInt64 = 0
    public var noticesReceived: UInt64 = 0
    public var staleIncarnations: UInt64 = 0
    /// Messages too large for one datagram (a local error; logged).
    public var oversized: UInt64 = 0

    public init() {}
}
