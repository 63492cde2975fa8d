import ArgumentParser
import Ensemble
import Foundation
import Maestro
import ToolSupport

/// `maestro-perf xfer`: a joining server process pulls a large state, streamed in chunks,
/// from a group of two servers in this process; reports MB/s and the largest heartbeat gap.
struct Xfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "State transfer throughput between two processes, and the largest heartbeat gap during it.")

    @Option(help: "Bytes of state.")
    var stateBytes = 256 << 20

    @Option(help: "Heartbeat period of every member, in milliseconds.")
    var heartbeatMs = 100

    @Option(help: "Largest chunk of the streamed state, in bytes.")
    var chunkBytes = 64 << 10

    @Flag(help: "End with one JSON object on the last line.")
    var json = false

    @Option(help: "(internal) Run the joining member through this rendezvous.")
    var join: String?

    @Option(help: "(internal) Group name.")
    var group = "maestro-perf-xfer"

    @OptionGroup var common: GroupOptions

    func options() -> CSXOptions {
        var ops = CSXOptions()
        ops.groupName = group
        ops.heartbeatRate = .milliseconds(heartbeatMs)
        ops.xferType = .atomic
        ops.params = common.params
        ops.properties = common.properties
        ops.stateChunkBytes = chunkBytes
        ops.key = try? common.key.secret()
        ops.encrypt = common.key.encrypt
        return ops
    }

    func run() throws {
        common.log.bootstrap()
        let runtime = Runtime.current
        if let join {
            guard let a = Address(join) else { throw ValidationError("--join needs HOST:PORT") }
            var ops = options()
            ops.gossip = [a.description]
            let member = try XferMember(ops, runtime: runtime, blob: [])
            member.expectedBytes = stateBytes
            runtime.installTerminationHandler()  // SIGTERM from the parent: leave, then exit
            guard runtime.run(until: { member.finished != nil }, timeout: .seconds(600)) else {
                print("xfer incomplete: \(member.received) bytes")
                throw ExitCode(1)
            }
            let seconds = member.finished ?? 0
            print(String(format: "xfer-result %d %.6f %.3f %@", member.received, seconds, member.maxGap(during: member.window) * 1000,
                         member.checksumOK ? "ok" : "bad"))
            fflush(nil)
            runtime.run(for: .milliseconds(200))  // let the XFER_DONE view go out
            return
        }
        let progress = Progress()
        progress.update("building \(stateBytes) bytes of state")
        let blob = XferMember.makeBlob(stateBytes)
        // The two providers have the state already: no transfer between them.
        // A fresh group name per run: two runs on one machine never merge into each other.
        var ops = options()
        ops.groupName = "\(group)-\(UInt32.random(in: 0 ... .max))"
        ops.xferType = .noXfer
        _ = try runtime.rendezvous()
        let a = try XferMember(ops, runtime: runtime, blob: blob)
        let b = try XferMember(ops, runtime: runtime, blob: blob)
        guard runtime.run(until: { a.servers == 2 || b.servers == 2 }, timeout: .seconds(60)) else {
            throw ChildError("the two providers never formed one group in 60 s")
        }
        progress.update("transferring \(stateBytes) bytes to a joining process")
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-perf-xfer-\(getpid()).err").path
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let child = try ChildProcess("maestro-perf", ["xfer", "--join", try runtime.rendezvous().description, "--group", ops.groupName,
                                                      "--state-bytes", String(stateBytes), "--heartbeat-ms", String(heartbeatMs),
                                                      "--chunk-bytes", String(chunkBytes), "--params", common.params] + common.memberArguments,
                                     stderrPath: errPath)
        // SIGTERM/SIGINT: the joining process leaves too, then the providers leave and this one exits.
        runtime.onTermination = { _ in
            child.kill(SIGTERM)
            runtime.terminate()
        }
        runtime.installTerminationHandler()
        var result: String?
        let start = runtime.now
        let finished = runtime.run(until: {
            child.pollLines()
            result = child.lines.first { $0.hasPrefix("xfer-result") }
            return result != nil || !child.isRunning
        }, timeout: .seconds(600))
        guard let line = result else {
            // The child may have printed its result and exited between two polls: read to the end.
            if child.isRunning { child.kill(SIGKILL) }
            child.process.waitUntilExit()
            child.pollLines()
            if let late = child.lines.first(where: { $0.hasPrefix("xfer-result") }) {
                return try report(late, start: start, end: runtime.now, a: a, b: b, progress: progress, child: child)
            }
            let errors = ((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
                .split(whereSeparator: \.isNewline).suffix(3).joined(separator: " | ")
            throw ChildError("the joining process did not finish the transfer (\(finished ? "exit \(child.process.terminationStatus)" : "timed out after 600 s")); its last output: \(child.lines.suffix(2).joined(separator: " | ")) \(errors)")
        }
        try report(line, start: start, end: runtime.now, a: a, b: b, progress: progress, child: child)
    }

    private func report(_ line: String, start: Time, end: Time, a: XferMember, b: XferMember, progress: ToolSupport.Progress, child: ChildProcess) throws {
        progress.finish()
        // "xfer-result <bytes> <seconds> <joiner gap ms> ok|bad"
        let f = line.split(separator: " ").map(String.init)
        guard f.count == 5, let bytes = Double(f[1]), let seconds = Double(f[2]), let joinerGap = Double(f[3]) else {
            throw ChildError("the joining process printed a malformed result: \(line)")
        }
        let providerGap = max(a.maxGap(during: start ... end), b.maxGap(during: start ... end)) * 1000
        let mbps = seconds > 0 ? bytes / seconds / 1e6 : 0
        print(String(format: "xfer %.0f MB in %.3f s: %.1f MB/s; largest heartbeat gap %.0f ms at the joiner, %.0f ms at the providers (rate %d ms); checksum %@",
                     bytes / 1e6, seconds, mbps, joinerGap, providerGap, heartbeatMs, f[4]))
        guard f[4] == "ok" else { throw ChildError("the transferred state differs from the provider's (checksum mismatch)") }
        if json {
            print(jsonLine(["benchmark": "xfer", "state_bytes": stateBytes, "seconds": seconds, "mb_per_sec": mbps,
                            "max_heartbeat_gap_ms": max(joinerGap, providerGap), "heartbeat_ms": heartbeatMs]))
        }
        child.kill(SIGTERM)
        withExtendedLifetime((a, b)) {}
    }
}

final class XferMember: CSX {
    let blob: [UInt8]
    var received = 0
    var servers = 0
    var beats: [Time] = []
    var startedAt: Time?
    var finished: Double?
    var window: ClosedRange<Time> = .zero ... .zero
    /// The state size the joiner expects (--state-bytes).
    var expectedBytes = 0
    /// Bytes received that differ from the provider's state at their offsets.
    var mismatches = 0
    /// Every byte arrived as sent (and nothing else).
    var checksumOK = false

    let runtime: Runtime

    init(_ ops: CSXOptions, runtime: Runtime, blob: [UInt8]) throws {
        self.blob = blob
        self.runtime = runtime
        super.init(ops, shell: runtime)
        try join()
    }

    @inline(__always) static func blobByte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (i &* 2654435761) >> 11) }

    static func makeBlob(_ n: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: n)
        b.withUnsafeMutableBytes { raw in
            for i in 0 ..< n { raw[i] = blobByte(i) }
        }
        return b
    }

    override func csxAcceptedViewCallback(_ viewData: CSXViewData, _ msg: inout Message) { servers = viewData.servers.count }
    override func csxHeartbeatCallback(_ elapsed: Duration) { beats.append(runtime.now) }

    override func stateTransferCallback(_ xferID: XferID) {
        received = 0
        mismatches = 0
        startedAt = runtime.now
        _ = try? getState(xferID, Message())
    }

    override func askStateCallback(_ origin: EndpID, _ xferID: XferID, _ requestMsg: inout Message) {
        var offset = 0
        let b = blob
        sendState(to: origin, xferID: xferID) { max in
            guard offset < b.count else { return nil }
            var m = Message()
            m.push(raw: b[offset ..< min(b.count, offset + max)])
            offset += max
            return m
        }
    }

    override func gotStateChunkCallback(_ xferID: XferID, _ chunk: inout Message, index: Int, isLast: Bool) {
        if index == 0 {
            received = 0
            mismatches = 0
        }
        // Checked chunk by chunk against the expected bytes: no callback ever does more than
        // one chunk's work (the whole state checked at the end held the loop for a second).
        chunk.withUnsafeBytes { raw in
            var bad = 0
            var offset = received
            for x in raw {
                if x != XferMember.blobByte(offset) { bad += 1 }
                offset += 1
            }
            mismatches += bad
            received = offset
        }
        if isLast {
            runtime.reactor.updateNow()
            let now = runtime.now
            window = (startedAt ?? now) ... now
            finished = (now - (startedAt ?? now)).seconds
            checksumOK = mismatches == 0 && received == expectedBytes
            xferDone(xferID)
        }
    }

    /// The largest gap between heartbeats inside `window` (including its edges).
    func maxGap(during window: ClosedRange<Time>) -> Double {
        let inside = beats.filter { window.contains($0) }
        guard let first = inside.first, let last = inside.last else { return (window.upperBound - window.lowerBound).seconds }
        var gaps = zip(inside, inside.dropFirst()).map { ($1 - $0).seconds }
        gaps.append((first - window.lowerBound).seconds)
        gaps.append((window.upperBound - last).seconds)
        return gaps.max() ?? 0
    }
}
