/// The layers a protocol string may name, in the one order they may appear (top first),
/// and how to build each.
public struct LayerRegistry: Sendable {
    public struct Entry {
        public let canonicalName: String
        public let factory: LayerFactory
    }

    /// Every layer name this implementation knows, top to bottom.
    public static let canonicalOrder = [
        "Top", "Heal", "Switch", "Primary", "Leave", "Inter", "Intra", "Elect", "Merge", "Sync", "Suspect",
        "Vsync", "Top_appl", "Local", "Seqbb", "Pt2pt", "Frag", "Stable", "Mnak", "Bottom",
    ]

    /// Other names a protocol string may use for a layer (Ensemble's property names).
    public static let aliases = ["Total": "Seqbb"]

    /// Every name a protocol string may use, lowercased, to its canonical name (an alias wins).
    private static let canonicalByLowercase: [String: String] = {
        var d: [String: String] = [:]
        for n in canonicalOrder { d[n.lowercased()] = n }
        for (a, n) in aliases { d[a.lowercased()] = n }
        return d
    }()

    /// Whether a protocol string orders the casts of each view totally (it names Seqbb, or
    /// Total): then every member also receives its own casts.
    public static func totallyOrders(_ protocolStack: String) -> Bool {
        protocolStack.split(separator: ":").contains { n in
            let n = String(n).trimmingSpaces.lowercased()
            return n == "seqbb" || aliases.contains { $0.key.lowercased() == n && $0.value == "Seqbb" }
        }
    }

    /// Whether a member running `protocolStack` receives its own casts (Local, or total order).
    public static func selfDelivers(_ protocolStack: String) -> Bool {
        totallyOrders(protocolStack) || protocolStack.split(separator: ":").contains { String($0).trimmingSpaces.lowercased() == "local" }
    }

    private let factories: [String: LayerFactory]

    public init(factories: [String: LayerFactory]) {
        var byLowercase: [String: LayerFactory] = [:]
        for (k, v) in factories { byLowercase[k.lowercased()] = v }
        self.factories = byLowercase
    }

    /// Splits and checks a protocol string: every name known (case-insensitive), none twice,
    /// in canonical order (Frag may sit anywhere between Top_appl, or Seqbb, and Mnak: it is
    /// correct above or below Pt2pt), Top first, Bottom last, Top_appl present, Stable with Mnak.
    ///
    /// A stack with Sync but no Vsync gets Vsync inserted directly above Top_appl: without the
    /// flush agreement Top_appl never releases `.blockOk` and the first view change hangs (the
    /// seed's string, reference §0 problem A). Frag below Pt2pt (the seed's string again,
    /// problem B) is moved directly above it.
    public func validate(_ protocolStack: String) throws(StackError) -> [Entry] {
        let known = LayerRegistry.canonicalOrder
        let raw = protocolStack.split(separator: ":").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
        guard !raw.isEmpty else { throw .emptyProtocol }
        var names: [String] = []
        for r in raw {
            guard let name = LayerRegistry.canonicalByLowercase[r.lowercased()] else { throw .unknownLayer(r, known: known) }
            if names.contains(name) { throw .duplicateLayer(name) }
            names.append(name)
        }
        if names.contains("Sync") && !names.contains("Vsync"), let appl = names.firstIndex(of: "Top_appl") {
            names.insert("Vsync", at: appl)
        }
        func position(_ n: String) -> Int { known.firstIndex(of: n) ?? 0 }
        let ordered = names.filter { $0 != "Frag" }
        for (a, b) in zip(ordered, ordered.dropFirst()) where position(a) > position(b) {
            throw .misplacedLayer(b, reason: "it must be above \(a)", known: known)
        }
        if let frag = names.firstIndex(of: "Frag") {
            if let appl = names.firstIndex(of: "Top_appl"), frag < appl {
                throw .misplacedLayer("Frag", reason: "it must be below Top_appl", known: known)
            }
            if let seqbb = names.firstIndex(of: "Seqbb"), frag < seqbb {
                // Seqbb orders and counts whole messages, as Top_appl does.
                throw .misplacedLayer("Frag", reason: "it must be below Seqbb", known: known)
            }
            if let mnak = names.firstIndex(of: "Mnak"), frag > mnak {
                throw .misplacedLayer("Frag", reason: "it must be above Mnak", known: known)
            }
        }
        if names.first != "Top" { throw names.contains("Top") ? .misplacedLayer("Top", reason: "it must be first", known: known) : .missingLayer("Top") }
        if names.last != "Bottom" { throw names.contains("Bottom") ? .misplacedLayer("Bottom", reason: "it must be last", known: known) : .missingLayer("Bottom") }
        if !names.contains("Top_appl") { throw .missingLayer("Top_appl") }
        if names.contains("Mnak") && !names.contains("Stable") { throw .missingLayer("Stable") }
        if let frag = names.firstIndex(of: "Frag"), let pt2pt = names.firstIndex(of: "Pt2pt"), frag > pt2pt {
            // Below Pt2pt, a send that lost one fragment is re-sent whole: under loss a large
            // send needs every fragment of one attempt to arrive (10 fragments at 20% loss:
            // one attempt in ten). Above it, each fragment is repaired on its own, as in every
            // stack Ensemble's Property.choose built (reference §0, problem B).
            names.remove(at: frag)
            names.insert("Frag", at: pt2pt)
        }
        var entries: [Entry] = []
        for n in names {
            guard let f = factories[n.lowercased()] else { throw .notImplemented(n) }
            entries.append(Entry(canonicalName: n, factory: f))
        }
        return entries
    }
}
