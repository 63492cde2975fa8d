/// Choosing a stack by what it must guarantee (Ensemble's `Property.choose`): a list of
/// properties such as `Vsync:Total` becomes a protocol string.
///
/// The properties and the layers each adds, top first (the canonical order of
/// `LayerRegistry`):
///
///     Top
///      Heal? Switch? Primary?             -- Heal, Switch, Primary
///      Leave:Inter:Intra:Elect:Merge?     -- Gmp
///      Sync? Suspect?                     -- Sync, Suspect
///      Top_appl                           -- always
///      Seqbb | Local ?                    -- Total (which delivers own casts in its order) or Local
///      Pt2pt Frag? Stable Mnak Bottom     -- Frag; the rest always
///
/// `Vsync` stands for Gmp, Sync, Heal, Switch, Frag, Suspect and Flow, and gives exactly the
/// seed program's stack. Differences from Ensemble: `Flow` is always on (Pt2pt's and Mnak's
/// windows), so it adds nothing; `Xfer` is Maestro's (CSX), not a layer; `Auth` and `Privacy`
/// are the group key and encryption (`MaestroOptions.key`/`encrypt`, `--key-file`/`--encrypt`),
/// not layers, and ask for them; Frag sits below Pt2pt as in the seed's string (the registry
/// moves it just above); properties that need membership without `Gmp` are an error instead
/// of a stack that hangs.
public struct Properties: Equatable, Sendable, CustomStringConvertible {
    public enum Property: String, CaseIterable, Sendable {
        case vsync = "Vsync", gmp = "Gmp", sync = "Sync", heal = "Heal", `switch` = "Switch", suspect = "Suspect"
        case frag = "Frag", flow = "Flow", total = "Total", local = "Local", primary = "Primary", xfer = "Xfer"
        case auth = "Auth", privacy = "Privacy"

        var meaning: String {
            switch self {
            case .vsync: "virtual synchrony: Gmp, Sync, Heal, Switch, Frag, Suspect, Flow"
            case .gmp: "group membership (Leave, Inter, Intra, Elect, Merge)"
            case .sync: "views change only once every member is blocked (Sync)"
            case .heal: "partitions merge when they find each other (Heal)"
            case .switch: "the stack may change at a view (Switch)"
            case .suspect: "failure detection (Suspect)"
            case .frag: "messages larger than a datagram (Frag)"
            case .flow: "flow control (always on: Pt2pt's and Mnak's windows)"
            case .total: "every member delivers the casts of a view in one order, its own included (Seqbb)"
            case .local: "a member's own casts are delivered to it (Local)"
            case .primary: "primary partition by quorum (Primary)"
            case .xfer: "state transfer (Maestro's CSX; no layer)"
            case .auth: "every datagram authenticated (needs the group key)"
            case .privacy: "every datagram encrypted (needs the group key; implies Auth)"
            }
        }
    }

    public private(set) var set: Set<Property>

    public init(_ properties: some Sequence<Property>) {
        set = Set(properties)
        if set.contains(.vsync) { set.formUnion(Properties.vsyncMembers) }
        if set.contains(.privacy) { set.insert(.auth) }
    }

    /// Parses `Vsync:Total` (`:`, `,` or spaces between names; any case).
    public init(parsing text: String) throws(StackError) {
        var found: [Property] = []
        for item in text.split(whereSeparator: { $0 == ":" || $0 == "," || $0 == " " }) {
            guard let p = Property.allCases.first(where: { $0.rawValue.lowercased() == item.lowercased() }) else {
                throw .unknownProperty(String(item), known: Properties.listing)
            }
            found.append(p)
        }
        guard !found.isEmpty else { throw .unknownProperty("", known: Properties.listing) }
        self.init(found)
    }

    public func contains(_ p: Property) -> Bool { set.contains(p) }

    /// What Vsync stands for.
    static let vsyncMembers: Set<Property> = [.gmp, .sync, .heal, .switch, .frag, .suspect, .flow]

    /// `Vsync:Total` (what Vsync stands for is not spelled out).
    public var description: String {
        let shown = set.contains(.vsync) ? set.subtracting(Properties.vsyncMembers) : set
        return Property.allCases.filter(shown.contains).map(\.rawValue).joined(separator: ":")
    }

    /// One line per property: `Name: meaning`.
    public static var listing: String {
        Property.allCases.map { "  \($0.rawValue): \($0.meaning)" }.joined(separator: "\n")
    }

    /// Auth and Privacy are not layers: they ask the member for a group key (and, Privacy, for
    /// encryption). Throws, saying what to set, when they are missing.
    public func checkSecurity(hasKey: Bool, encrypts: Bool, keyOption: String, encryptOption: String) throws(StackError) {
        if set.contains(.auth) && !hasKey {
            throw .propertyConflict("properties \(description): Auth and Privacy need the group key (\(keyOption))")
        }
        if set.contains(.privacy) && !encrypts {
            throw .propertyConflict("properties \(description): Privacy needs every datagram encrypted (\(encryptOption))")
        }
    }

    /// The protocol string these properties choose, checked against `registry` (a property
    /// whose layer this build lacks is an error that says so).
    public func protocolStack(registry: LayerRegistry = .standard) throws(StackError) -> String {
        let needsGmp: [Property] = [.sync, .heal, .switch, .suspect, .primary]
        if !set.contains(.gmp), let p = needsGmp.first(where: set.contains) {
            throw .propertyConflict("\(p.rawValue) needs Gmp (group membership): add Gmp, or use Vsync")
        }
        if set.contains(.gmp) && !set.contains(.sync) {
            throw .propertyConflict("Gmp needs Sync: without it a view change does not wait for the old view's messages (use Vsync)")
        }
        var layers = ["Top"]
        if set.contains(.heal) { layers.append("Heal") }
        if set.contains(.switch) { layers.append("Switch") }
        if set.contains(.primary) { layers.append("Primary") }
        if set.contains(.gmp) { layers += ["Leave", "Inter", "Intra", "Elect", "Merge"] }
        if set.contains(.sync) { layers.append("Sync") }
        if set.contains(.suspect) { layers.append("Suspect") }
        layers.append("Top_appl")
        if set.contains(.total) { layers.append("Seqbb") } else if set.contains(.local) { layers.append("Local") }
        layers.append("Pt2pt")
        if set.contains(.frag) { layers.append("Frag") }
        layers += ["Stable", "Mnak", "Bottom"]
        let stack = layers.joined(separator: ":")
        do {
            _ = try registry.validate(stack)
        } catch let .notImplemented(layer) {
            throw .propertyConflict("properties \(description) need layer \(layer), which is not in this build")
        } catch let .unknownLayer(layer, _) {
            throw .propertyConflict("properties \(description) need layer \(layer), which is not in this build")
        }
        return stack
    }
}
