import Foundation
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// Network namespaces on one bridge, as hosts on one LAN: a hub namespace holds the bridge
/// (`br0`, 10.78.0.254/24) and each node namespace is joined to it by a veth pair (`eth0` in
/// the node, 10.78.0.<i+1>/24). Taking a node's `eth0` down cuts that node off; bringing it up
/// restores its address's route. Namespaces are named `mitest<PID>...`; `tearDown` deletes
/// them, and `init` deletes those left by earlier test processes that are gone.
final class BridgedNamespaces {
    static let hubIP = "10.78.0.254"
    let nodes: Int
    let prefix = "mitest\(getpid())x"
    let ip: IPRoute2

    var hub: String { "\(prefix)hub" }
    func node(_ i: Int) -> String { "\(prefix)n\(i)" }
    func nodeIP(_ i: Int) -> String { "10.78.0.\(i + 1)" }

    /// Why namespaces cannot be made here (nil: they can): root, `ip`, and a namespace that
    /// really gets created (a container may forbid it even to root).
    static let unavailable: String? = {
        if let why = IPRoute2.unavailableReason { return why }
        guard let ip = try? IPRoute2(purpose: "probe") else { return "iproute2 is unusable" }
        let probe = "mitestprobe\(getpid())"
        do {
            try ip.addNamespace(probe)
        } catch {
            return "cannot create a network namespace here: \(error)"
        }
        ip.tearDown()
        return nil
    }()

    init(nodes: Int) throws {
        self.nodes = nodes
        ip = try IPRoute2(purpose: "the namespace test")
        // Namespaces of earlier test processes that died before their cleanup.
        for stale in ip.list(prefix: "mitest") where !stale.hasPrefix("mitestprobe") {
            let digits = stale.dropFirst("mitest".count).prefix { $0.isNumber }
            if let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0 { try? ip.run(["netns", "delete", stale]) }
        }
    }

    func setUp() throws {
        try ip.addNamespace(hub)
        try ip.run(["-n", hub, "link", "add", "br0", "type", "bridge"])
        try ip.run(["-n", hub, "addr", "add", "\(BridgedNamespaces.hubIP)/24", "dev", "br0"])
        try ip.run(["-n", hub, "link", "set", "br0", "up"])
        for i in 0 ..< nodes {
            try ip.addNamespace(node(i))
            try ip.run(["link", "add", "eth0", "netns", node(i), "type", "veth", "peer", "name", "v\(i)", "netns", hub])
            try ip.run(["-n", hub, "link", "set", "v\(i)", "master", "br0"])
            try ip.run(["-n", hub, "link", "set", "v\(i)", "up"])
            try ip.run(["-n", node(i), "addr", "add", "\(nodeIP(i))/24", "dev", "eth0"])
            try ip.run(["-n", node(i), "link", "set", "eth0", "up"])
        }
    }

    /// Takes node i's link down (it is cut off from everyone) or up again.
    func setLink(_ i: Int, up: Bool) throws {
        try ip.run(["-n", node(i), "link", "set", "eth0", up ? "up" : "down"])
    }

    /// Starts one of the package's tools inside `namespace`.
    func launch(_ tool: String, _ arguments: [String], in namespace: String) throws -> ChildProcess {
        guard let exe = ChildProcess.executable(tool) else {
            throw ChildError("\(tool) was not found next to the test binary; build the package first (swift build)")
        }
        return try ChildProcess(executable: ip.ip, name: tool, ip.exec(in: namespace, exe.path, arguments))
    }

    func tearDown() { ip.tearDown() }
}
