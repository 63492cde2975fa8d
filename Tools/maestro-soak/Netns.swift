import Foundation
import ToolSupport
#if canImport(Glibc)
import Glibc
#endif

/// `--netns`: every node process in a network namespace of its own, joined to every other
/// by a veth pair (a full mesh), and to a hub namespace, where the gossip rendezvous runs, by
/// one more veth pair that partitions never touch.
///
/// Node i has the address 10.77.x.y (`nodeIP`) on its loopback device and a /32 route to
/// every other node over their mesh link; the hub has 10.77.255.1. There is no forwarding
/// anywhere, so a node whose mesh link to another is down cannot reach it at all. A
/// partition takes the links between the two sides down (and the nodes' fault hooks drop
/// the same traffic); heal brings them up and restores the routes.
///
/// Needs root (CAP_NET_ADMIN) and iproute2 (`IPRoute2`, shared with the namespace tests).
/// Namespaces are named `msoak<PID>n<i>` and `msoak<PID>hub`; `tearDown` deletes them (which
/// deletes their links).
final class NetnsTopology {
    let processes: Int
    let prefix: String
    private let ipRoute: IPRoute2
    var ip: URL { ipRoute.ip }
    var commandsRun: Int { ipRoute.commandsRun }

    static let hubIP = "10.77.255.1"

    init(processes: Int) throws {
        do {
            ipRoute = try IPRoute2(purpose: "--netns (network namespaces with veth links)")
        } catch {
            throw SoakError("\(error); or drop --netns")
        }
        guard processes <= 250 * 250 else { throw SoakError("--netns supports at most 62500 processes") }
        self.processes = processes
        prefix = "msoak\(getpid())"
    }

    func node(_ i: Int) -> String { "\(prefix)n\(i)" }
    var hub: String { "\(prefix)hub" }
    func nodeIP(_ i: Int) -> String { "10.77.\(i / 250).\(i % 250 + 1)" }

    /// Creates the namespaces, addresses, links and routes.
    func setUp() throws {
        try addNamespace(hub, address: NetnsTopology.hubIP)
        for i in 0 ..< processes {
            try addNamespace(node(i), address: nodeIP(i))
            // The link to the hub (gossip): never taken down.
            try run(["link", "add", "g\(i)", "netns", hub, "type", "veth", "peer", "name", "hub", "netns", node(i)])
            try run(["-n", hub, "link", "set", "g\(i)", "up"])
            try run(["-n", node(i), "link", "set", "hub", "up"])
            try run(["-n", hub, "route", "add", "\(nodeIP(i))/32", "dev", "g\(i)"])
            try run(["-n", node(i), "route", "add", "\(NetnsTopology.hubIP)/32", "dev", "hub", "src", nodeIP(i)])
        }
        for i in 0 ..< processes {
            for j in i + 1 ..< processes {
                try run(["link", "add", "m\(j)", "netns", node(i), "type", "veth", "peer", "name", "m\(i)", "netns", node(j)])
                try setMesh(i, j, up: true)
            }
        }
    }

    private func addNamespace(_ name: String, address: String) throws {
        try ipRoute.addNamespace(name)
        try run(["-n", name, "addr", "add", "\(address)/32", "dev", "lo"])
    }

    /// Brings the mesh link between nodes i and j up (with its routes) or down.
    func setMesh(_ i: Int, _ j: Int, up: Bool) throws {
        for (a, b) in [(i, j), (j, i)] {
            try run(["-n", node(a), "link", "set", "m\(b)", up ? "up" : "down"])
        }
        guard up else { return }  // the kernel drops the routes of a device that goes down
        for (a, b) in [(i, j), (j, i)] {
            try run(["-n", node(a), "route", "replace", "\(nodeIP(b))/32", "dev", "m\(b)", "src", nodeIP(a)])
        }
    }

    /// The arguments that run `command` inside node i's namespace.
    func exec(in namespace: String, _ executable: String, _ arguments: [String]) -> [String] {
        ipRoute.exec(in: namespace, executable, arguments)
    }

    /// Deletes every namespace this run created (errors are ignored: best effort).
    func tearDown() { ipRoute.tearDown() }

    /// Runs `ip ARGS` and waits; throws with ip's own message if it fails.
    func run(_ arguments: [String]) throws {
        do { try ipRoute.run(arguments) } catch { throw SoakError("\(error)") }
    }
}

/// An error that ends the soak before its checks (setup problems), with what to do.
struct SoakError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
