import ArgumentParser
import Ensemble

/// `--params`, `--properties`, the group key (`--key-file`, `--encrypt`) and `--log-level`:
/// the options of every tool that runs group members.
public struct GroupOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Ensemble parameters: a profile (default, fast, ensemble) and/or name=value:type;... (types int, float, bool, string, time in seconds). An unknown name is an error that lists every known one with its default.",
        valueName: "params"))
    public var params = ""

    @Option(help: ArgumentHelp(
        "What the stack must guarantee, Ensemble's way: properties separated by colons (Vsync is the seed's stack; e.g. Vsync:Total). Used unless a --protocol-stack is given. An unknown property is an error that lists the known ones.",
        valueName: "properties"))
    public var properties: String?

    @OptionGroup public var key: KeyOptions

    @OptionGroup public var log: LogOptions

    public init() {}

    public func validate() throws {
        do { _ = try Parameters(parsing: params) } catch { throw ValidationError("--params: \(error)") }
        if let properties {
            do {
                let p = try Properties(parsing: properties)
                try p.checkSecurity(hasKey: key.keyFile != nil, encrypts: key.encrypt, keyOption: "--key-file", encryptOption: "--encrypt")
                _ = try p.protocolStack()
            } catch {
                throw ValidationError("--properties: \(error)")
            }
        }
    }

    /// The stack to run: `explicit` (a tool's --protocol-stack) if given, else what
    /// --properties choose, else `fallback` (the seed's stack unless the tool says otherwise).
    public func protocolStack(explicit: String?, fallback: String = GroupOptions.seedStack) throws -> String {
        if let explicit { return explicit }
        guard let properties else { return fallback }
        do { return try Properties(parsing: properties).protocolStack() } catch { throw ValidationError("--properties: \(error)") }
    }

    /// The seed program's stack.
    public static let seedStack = "Top:Heal:Switch:Leave:Inter:Intra:Elect:Merge:Sync:Suspect:Top_appl:Pt2pt:Frag:Stable:Mnak:Bottom"

    /// The parsed `--params`.
    public func parameters() throws -> Parameters { try Parameters(parsing: params) }

    /// The arguments that pass --properties (if given) and the key options to a child tool
    /// (its --params are the caller's business).
    public var memberArguments: [String] { (properties.map { ["--properties", $0] } ?? []) + key.childArguments }
}
