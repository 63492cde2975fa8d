import Foundation
import Maestro

/// Prints a line at once, also into a pipe or a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

/// One server of a replicated dictionary: `key=value` on standard input sets a key at every
/// server, at the same place in one order; a line without `=` prints the table.
final class KVServer: CSX {
    var table: [String: String] = [:]

    func set(_ key: String, _ value: String) {
        guard isPrimary else { return say("refused: not in the primary partition") }
        var update = Message()
        update << key
        update << value
        cast(update)  // comes back to this server too, at its place in the order
    }

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        guard clsvViewData?.decidedPrimary == true else {  // not a primary view: applied nowhere
            if origin == myEndpID { say("refused: not in the primary partition") }
            return stateChanged()
        }
        guard let value: String = try? msg.pop(), let key: String = try? msg.pop() else { return }
        table[key] = value
        say("\(key) = \(value)")
    }

    override func stateTransferCallback(_ xferID: XferID) {
        table = [:]
        _ = try? getState(xferID, Message())  // asks the oldest server; the answer comes later
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        var state = Message()
        state << Array(table.keys)
        state << Array(table.values)
        sendState(origin, xferID, state)
    }

    override func gotStateCallback(_ xferID: XferID, _ stateMsg: inout Message) {
        if let values: [String] = try? stateMsg.pop(), let keys: [String] = try? stateMsg.pop() {
            table = Dictionary(uniqueKeysWithValues: zip(keys, values))
        }
        say("state transferred: \(table.count) keys")
        xferDone(xferID)
    }

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) {
        say("view \(viewData.viewID.ltime): \(viewData.nmembers) members")
    }

    override func csxPrimaryChangedCallback(_ viewData: CSXViewData) {
        say(viewData.primaryFlag ? "primary partition: \(viewData.nmembers) members" : "not the primary partition")
    }
}

// kv-example --port P --gossip IP:PORT [--rendezvous]
let args = CommandLine.arguments
func option(_ name: String) -> String? {
    args.firstIndex(of: name).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
}
var ops = CSXOptions()
ops.groupName = "kv-example"
ops.properties = "Vsync:Total:Primary"  // virtual synchrony, total order, primary partition
ops.params = "fast;primary_expected=3:int"
ops.xferType = .atomic
ops.port = option("--port").flatMap { UInt16($0) } ?? 0
ops.gossip = option("--gossip").map { [$0] } ?? []
let runtime = Runtime.current
if args.contains("--rendezvous"), let here = option("--gossip").flatMap({ Address($0) }) {
    try runtime.startRendezvous(at: here)  // this process serves the group's rendezvous
}
let server = KVServer(ops)
try server.join()

var pending: [UInt8] = []
var input: IOWatcher!
input = IOWatcher(runtime.reactor, fd: 0, events: .read, label: "standard input") { _ in
    var chunk = [UInt8](repeating: 0, count: 4096)
    let n = read(0, &chunk, chunk.count)  // never blocks: the descriptor is readable
    guard n > 0 else { return input.stop() }  // end of input: the server runs on
    pending += chunk.prefix(n)
    while let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: pending[..<end], as: UTF8.self)
        pending.removeSubrange(...end)
        let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { server.set(parts[0], parts[1]) } else { say("\(server.table)") }
    }
}
input.start()
withExtendedLifetime(input) { runtime.start() }  // never returns; SIGTERM: leave, then exit
