/// The kinds of trouble a scenario may inject.
public struct FaultSet: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let loss = FaultSet(rawValue: 1 << 0)
    public static let dup = FaultSet(rawValue: 1 << 1)
    public static let reorder = FaultSet(rawValue: 1 << 2)
    public static let delay = FaultSet(rawValue: 1 << 3)
    public static let crash = FaultSet(rawValue: 1 << 4)
    public static let restart = FaultSet(rawValue: 1 << 5)
    public static let leave = FaultSet(rawValue: 1 << 6)
    public static let partition = FaultSet(rawValue: 1 << 7)
    public static let heal = FaultSet(rawValue: 1 << 8)
    /// kill -9 and restart on the same address within a second.
    public static let quickRestart = FaultSet(rawValue: 1 << 9)

    /// Network faults: what a static-view run may use.
    public static let network: FaultSet = [.loss, .dup, .reorder, .delay]
    /// Membership faults: processes crash, restart, leave; the network splits and heals.
    public static let membership: FaultSet = [.crash, .restart, .quickRestart, .leave, .partition, .heal]
    public static let all: FaultSet = network.union(membership)

    static let names: [(String, FaultSet)] = [
        ("loss", .loss), ("dup", .dup), ("reorder", .reorder), ("delay", .delay),
        ("crash", .crash), ("restart", .restart), ("quickrestart", .quickRestart), ("leave", .leave),
        ("partition", .partition), ("heal", .heal),
    ]

    /// Every single fault, in the order of their names (the order scenarios draw them in).
    public static let kinds: [FaultSet] = names.map(\.1)

    /// Parses "loss,dup,reorder,delay" (or "none", or "all").
    public init(parsing text: String) throws(ScenarioError) {
        var set: FaultSet = []
        for part in text.split(separator: ",").map({ $0.lowercased() }) where !part.isEmpty {
            if part == "none" { continue }
            if part == "all" { set.formUnion(.all); continue }
            if part == "network" { set.formUnion(.network); continue }
            guard let f = FaultSet.names.first(where: { $0.0 == part })?.1 else {
                throw ScenarioError("unknown fault '\(part)'; known: \(FaultSet.names.map(\.0).joined(separator: ",")), network, all, none")
            }
            set.insert(f)
        }
        self = set
    }

    public var description: String {
        let n = FaultSet.names.filter { contains($0.1) }.map(\.0)
        return n.isEmpty ? "none" : n.joined(separator: ",")
    }
}

public struct ScenarioError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
