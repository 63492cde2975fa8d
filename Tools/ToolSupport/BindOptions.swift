import ArgumentParser
import Ensemble

/// The `--bind IP[:PORT]` option of every tool that runs members.
public struct BindOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Local address of the members' UDP sockets, IP or IP:PORT. Default: the address that routes to the rendezvous (127.0.0.1 if the rendezvous is on this host). 0.0.0.0 binds every interface and advertises the routed address.",
        valueName: "ip[:port]"))
    public var bind: String?

    public init() {}

    public func validate() throws {
        if let b = bind, BindOptions.parse(b) == nil {
            throw ValidationError("--bind must be IP or IP:PORT with a dotted-quad IP (0.0.0.0: every interface), not '\(b)'")
        }
    }

    /// The address asked for (port 0 if none was given), or nil for the default.
    public var address: Address? { bind.flatMap(BindOptions.parse) }

    /// "10.0.0.1" (port 0) or "10.0.0.1:5000".
    public static func parse(_ text: String) -> Address? {
        if let a = Address(text) { return a }
        return Address.parseIP(text).map { Address(ip: $0, port: 0) }
    }

    /// The arguments that pass the same option to a child tool.
    public var childArguments: [String] { bind.map { ["--bind", $0] } ?? [] }
}
