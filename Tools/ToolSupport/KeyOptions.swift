import ArgumentParser
import Ensemble
import Foundation

/// The `--key-file` and `--encrypt` options: the group's shared secret, for authenticated
/// (or encrypted) groups.
public struct KeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "File holding the group's secret (at least 16 bytes; readable by its owner only, e.g. chmod 600). Every datagram is then authenticated; members without the same file cannot join or disturb the group.",
        valueName: "path"))
    public var keyFile: String?

    @Flag(help: "With --key-file: encrypt every datagram (ChaCha20-Poly1305), not only authenticate it. Every member must agree.")
    public var encrypt = false

    public init() {}

    public func validate() throws {
        if encrypt && keyFile == nil { throw ValidationError("--encrypt needs --key-file") }
    }

    /// The group key, or nil without --key-file.
    public func groupKey() throws -> GroupKey? {
        try secret().map { s throws(KeyError) in try GroupKey(secret: s, protection: protection) }
    }

    /// The protection the options ask for.
    public var protection: GroupKey.Protection { encrypt ? .encryption : .mac }

    /// The secret, or nil without --key-file. Refuses a file others can read or write.
    public func secret() throws -> [UInt8]? {
        guard let path = keyFile else { return nil }
        let attrs: [FileAttributeKey: Any]
        do {
            attrs = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw ValidationError("cannot read the key file \(path): \(error.localizedDescription)")
        }
        if let mode = (attrs[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw ValidationError("the key file \(path) is accessible to others (mode \(String(mode, radix: 8))); make it private with: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the key file \(path)")
        }
        var bytes = [UInt8](data)
        while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }  // a trailing newline is not secret
        guard bytes.count >= 16 else {
            throw ValidationError("the key file \(path) holds \(bytes.count) bytes; a key needs at least 16 (e.g. head -c 32 /dev/urandom > \(path))")
        }
        return bytes
    }

    /// The arguments that pass the same key to a child tool.
    public var childArguments: [String] { (keyFile.map { ["--key-file", $0] } ?? []) + (encrypt ? ["--encrypt"] : []) }
}
