// The code samples of the articles in Sources/Maestro/Maestro.docc, compiled: every ```swift
// block of an article must appear here (or in Tools/kv-example/main.swift, the getting-started
// daemon) line for line, which DocumentationSamplesTests checks; some of them also run there.
// This file imports `Maestro` (and Foundation) only, as a daemon would.
import Foundation
import Maestro

// Maestro.md
final class SharedCounter: CSX {
    var value = 0
    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if let d: Int = try? msg.pop() { value += d }
    }
}

// ConnectingProcesses.md
func joinWithEmbeddedRendezvous() throws -> CSX {
    let here = Address("10.0.0.5:6788")!  // an address of this host that the others reach
    try Runtime.current.startRendezvous(at: here)
    var ops = CSXOptions()
    ops.groupName = "inventory"
    ops.gossip = ["10.0.0.5:6788"]  // the same string in every process
    let member = CSX(ops)
    try member.join()
    return member
}

// Guarantees.md
final class Tally: CSX {
    var total = 0

    func add(_ n: Int) {
        var m = Message()
        m << n
        cast(m)
        if !selfDelivering { total += n }  // otherwise it comes back, and is applied then
    }

    override func csxReceiveCastCallback(_ origin: EndpID, _ msg: inout Message) {
        if let n: Int = try? msg.pop() { total += n }
    }
}

// YourOwnIOAndTimers.md
func scheduleHousekeeping(_ member: GroupMember) -> LoopTimer {
    let reactor = Runtime.current.reactor
    reactor.after(.milliseconds(200), label: "first report") {
        print(member.status)
    }
    return reactor.every(.seconds(10), label: "status report") {
        print(member.dropCounts)
    }
}

// YourOwnIOAndTimers.md
/// Lines from a file descriptor (a pipe, a socket, a terminal), on the loop.
final class LineReader {
    private var watcher: IOWatcher?
    private var pending: [UInt8] = []

    init(fd: Int32, onLine: @escaping (String) -> Void) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        watcher = IOWatcher(Runtime.current.reactor, fd: fd, events: .read, label: "lines from fd \(fd)") { [unowned self] _ in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n == 0 { self.watcher?.stop(); break }  // end of file
                if n < 0 { break }  // EAGAIN: all read for now (or an error)
                self.pending += chunk.prefix(n)
            }
            while let end = self.pending.firstIndex(of: UInt8(ascii: "\n")) {
                onLine(String(decoding: self.pending[..<end], as: UTF8.self))
                self.pending.removeSubrange(...end)
            }
        }
        watcher?.start()
    }
}

// YourOwnIOAndTimers.md
func applyInPieces(_ updates: ArraySlice<Int>, to apply: @escaping (Int) -> Void) {
    for u in updates.prefix(1000) { apply(u) }
    let rest = updates.dropFirst(1000)
    guard !rest.isEmpty else { return }
    Runtime.current.reactor.after(.zero, label: "apply updates") {
        applyInPieces(rest, to: apply)
    }
}

// YourOwnIOAndTimers.md
/// Closures posted from any thread, run on the loop (a self-pipe).
final class LoopInbox: @unchecked Sendable {
    private let lock = NSLock()
    private var posted: [@Sendable () -> Void] = []
    private let fds: [Int32]
    private var watcher: IOWatcher?

    init() {
        var p: [Int32] = [0, 0]
        precondition(pipe(&p) == 0, "pipe: \(errno)")
        fds = p
        _ = fcntl(p[0], F_SETFL, O_NONBLOCK)
        watcher = IOWatcher(Runtime.current.reactor, fd: p[0], events: .read, label: "inbox") { [unowned self] _ in
            var buffer = [UInt8](repeating: 0, count: 512)
            while read(self.fds[0], &buffer, buffer.count) > 0 {}
            self.lock.lock()
            let work = self.posted
            self.posted.removeAll()
            self.lock.unlock()
            for w in work { w() }
        }
        watcher?.start()
    }

    /// From any thread: `work` runs on the loop, soon.
    func post(_ work: @escaping @Sendable () -> Void) {
        lock.lock()
        posted.append(work)
        lock.unlock()
        var byte: UInt8 = 1
        _ = write(fds[1], &byte, 1)
    }
}

// YourOwnIOAndTimers.md
func waitForGroup(of n: Int, _ member: CSX) -> Bool {
    Runtime.current.run(until: { member.clsvViewData?.nmembers == n }, timeout: .seconds(10))
}

// SignalsAndShutdown.md
func installShutdown(journal: FileHandle) {
    let runtime = Runtime.current
    runtime.onTermination = { signal in
        try? journal.synchronize()  // the daemon's own work, on the loop thread
        runtime.leaveAll(within: .seconds(2)) { allExited in
            print(allExited ? "left the group" : "some members had not exited after 2 s")
            exit(0)
        }
    }
}

// SignalsAndShutdown.md
func dumpStatusOnSIGUSR1(_ member: GroupMember) -> SignalWatcher {
    SignalWatcher(Runtime.current.reactor, signal: SIGUSR1) {
        print(member.status)
    }
}

// SignalsAndShutdown.md
final class OneShot: CSX {
    override func csxExitCallback() {
        exit(0)  // this daemon's only member has left
    }
}

// ParametersAndProfiles.md
func tunedOptions() throws -> MaestroOptions {
    var ops = MaestroOptions()
    ops.groupName = "inventory"
    ops.params = "fast;suspect_max_idle=8:int;pt2pt_window=1048576:int"
    try ops.validate()  // what join would reject, checked up front
    return ops
}

// ParametersAndProfiles.md
func printKnownParameters() {
    for entry in ParameterCatalog.entries {
        print("\(entry.name) (\(entry.type), default \(entry.defaultValue)): \(entry.meaning)")
    }
}

// Security.md
/// The group key from a file only its owner may read (the tools' --key-file does the same).
func groupKey(fromFile path: String) throws -> [UInt8] {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
        throw MaestroError("\(path) is accessible to others; make it private: chmod 600 \(path)")
    }
    var key = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    while key.last == 10 || key.last == 13 { key.removeLast() }  // a trailing newline is not secret
    guard key.count >= 16 else { throw MaestroError("\(path): a group key needs at least 16 bytes") }
    return key
}

func securedOptions(keyFile: String) throws -> CSXOptions {
    var ops = CSXOptions()
    ops.groupName = "inventory"
    ops.properties = "Vsync:Total:Privacy"  // Privacy: refuse to join without key and encryption
    ops.key = try groupKey(fromFile: keyFile)
    ops.encrypt = true
    return ops
}
