import ArgumentParser
import Ensemble

/// `--params`, the group key (`--key-file`, `--encrypt`) and `--log-level`: the options of
/// every tool that runs group members.
public struct GroupOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Ensemble parameters: a profile (default, fast, ensemble) and/or name=value:type;... (types int, float, bool, string, time in seconds). An unknown name is an error that lists every known one with its default.",
        valueName: "params"))
    public var params = ""

    @OptionGroup public var key: KeyOptions

    @OptionGroup public var log: LogOptions

    public init() {}

    public func validate() throws {
        do { _ = try Parameters(parsing: params) } catch { throw ValidationError("--params: \(error)") }
    }

    /// The parsed `--params`.
    public func parameters() throws -> Parameters { try Parameters(parsing: params) }

    /// The arguments that pass the same options to a child tool (`--params` unless empty,
    /// the key options).
    public var childArguments: [String] { (params.isEmpty ? [] : ["--params", params]) + key.childArguments }
}
