import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// iproute2's `ip`, for network namespaces, veth links and bridges (maestro-soak --netns and
/// the namespace integration tests). Needs root. Every namespace made with `addNamespace` is
/// deleted by `tearDown` (which deletes its links too).
public final class IPRoute2 {
    public let ip: URL
    public private(set) var commandsRun = 0
    private var namespaces: [String] = []

    /// Why namespaces cannot be made here (nil: they can, as far as root and `ip` go).
    public static var unavailableReason: String? {
        if getuid() != 0 { return "network namespaces need root (CAP_NET_ADMIN); run as root" }
        if locate() == nil { return "iproute2's `ip` is missing (apt-get install iproute2)" }
        return nil
    }

    static func locate() -> URL? {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
            .map { URL(fileURLWithPath: $0) }
    }

    /// - Parameter purpose: what the namespaces are for, in the error when they cannot be made.
    public init(purpose: String) throws {
        if let why = IPRoute2.unavailableReason { throw NetnsError("\(purpose): \(why)") }
        ip = IPRoute2.locate() ?? URL(fileURLWithPath: "/usr/sbin/ip")
    }

    /// Creates namespace `name` with its loopback up; `tearDown` deletes it.
    public func addNamespace(_ name: String) throws {
        try run(["netns", "add", name])
        namespaces.append(name)
        try run(["-n", name, "link", "set", "lo", "up"])
    }

    /// The arguments of `ip` that run `executable` inside `namespace`.
    public func exec(in namespace: String, _ executable: String, _ arguments: [String]) -> [String] {
        ["netns", "exec", namespace, executable] + arguments
    }

    /// Deletes every namespace made here (errors are ignored: best effort).
    public func tearDown() {
        for ns in namespaces.reversed() { try? run(["netns", "delete", ns]) }
        namespaces.removeAll()
    }

    /// Namespaces whose name starts with `prefix` (left over by an earlier run).
    public func list(prefix: String) -> [String] {
        let p = Process()
        p.executableURL = ip
        p.arguments = ["netns", "list"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [] }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }.filter { $0.hasPrefix(prefix) }
    }

    /// Runs `ip ARGS` and waits; throws with ip's own message if it fails.
    public func run(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = ip
        p.arguments = arguments
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        commandsRun += 1
        if p.terminationStatus != 0 {
            let msg = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw NetnsError("`ip \(arguments.joined(separator: " "))` failed: \(msg)")
        }
    }
}

/// Namespaces or links could not be made, with what to do.
public struct NetnsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
