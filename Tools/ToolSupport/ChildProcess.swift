import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tool of this package run as a child process, whose stdout is read line by line with
/// `poll(2)` and a deadline: no sleeping, no threads. Used by the tools that drive member
/// processes (maestro-perf, maestro-soak) and by the integration tests.
public final class ChildProcess {
    public let name: String
    public let process = Process()
    private let output = Pipe()
    private var pending: [UInt8] = []
    /// The child closed its output (it exited): no more lines will come.
    public private(set) var atEnd = false
    public private(set) var lines: [String] = []
    /// When each line was read (parallel to `lines`).
    public private(set) var lineTimes: [Date] = []
    private var consumed = 0

    /// Where the package's executables were built: next to the running test binary.
    public static func executable(_ name: String) -> URL? {
        var dirs: [URL] = []
        if let me = Bundle.main.executableURL { dirs.append(me.deletingLastPathComponent()) }
        dirs.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        dirs += [cwd.appendingPathComponent(".build/debug"), cwd.appendingPathComponent(".build/release")]
        for d in dirs {
            var u = d
            // Inside an .xctest bundle directory on some platforms: climb out of it.
            while u.pathComponents.count > 1 && u.path.contains(".xctest") { u.deleteLastPathComponent() }
            let candidate = u.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// The pipe to the child's stdin, when it was started with `stdin: true`.
    private let input: Pipe?

    /// Starts the package's executable `name` (found by `executable(_:)`).
    /// - Parameters:
    ///   - stdin: give the child a pipe on stdin, written with `send(_:)` (otherwise it
    ///     inherits this process's stdin).
    ///   - stderrPath: append the child's stderr to this file (otherwise it is discarded).
    public convenience init(_ name: String, _ arguments: [String], stdin: Bool = false, stderrPath: String? = nil) throws {
        guard let url = ChildProcess.executable(name) else {
            let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
            throw ChildError("\(name) was not found next to this program (\(here)) nor in .build/debug or .build/release; build it there first (make build, or swift build -c release --product \(name))")
        }
        try self.init(executable: url, name: name, arguments, stdin: stdin, stderrPath: stderrPath)
    }

    /// Starts any executable (for instance `ip netns exec ...`); `name` is for messages only.
    public init(executable url: URL, name: String, _ arguments: [String], stdin: Bool = false, stderrPath: String? = nil) throws {
        self.name = name
        process.executableURL = url
        process.arguments = arguments
        process.standardOutput = output
        if let stderrPath {
            if !FileManager.default.fileExists(atPath: stderrPath) {
                _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            }
            guard let h = FileHandle(forWritingAtPath: stderrPath) else {
                throw ChildError("cannot open \(stderrPath) for \(name)'s stderr")
            }
            h.seekToEndOfFile()
            process.standardError = h
        } else {
            process.standardError = FileHandle.nullDevice
        }
        input = stdin ? Pipe() : nil
        if let input { process.standardInput = input }
        try process.run()
    }

    /// Writes one line to the child's stdin (started with `stdin: true`). Returns false if
    /// the child has no stdin pipe or is gone (the caller must ignore SIGPIPE, see
    /// `ignoreBrokenPipes()`).
    @discardableResult
    public func send(_ line: String) -> Bool {
        guard let input else { return false }
        let bytes = Array((line + "\n").utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(input.fileHandleForWriting.fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// Closes the child's stdin (it reads end-of-file).
    public func closeInput() {
        try? input?.fileHandleForWriting.close()
    }

    /// Makes writes to a dead child's pipe fail with EPIPE instead of killing this process.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        if process.isRunning { kill(SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func kill(_ signal: Int32) {
        _ = Glibc.kill(process.processIdentifier, signal)
    }

    /// Waits for the next line (after those already consumed) that satisfies `predicate`.
    public func waitForLine(timeout: Double, _ predicate: (String) -> Bool) -> String? {
        waitForLineWithTime(timeout: timeout, predicate)?.0
    }

    /// The same, with the time the line was read.
    public func waitForLineWithTime(timeout: Double, _ predicate: (String) -> Bool) -> (String, Date)? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while consumed < lines.count {
                let l = lines[consumed]
                let t = lineTimes[consumed]
                consumed += 1
                if predicate(l) { return (l, t) }
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || atEnd { return nil }
            var pfd = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, Int32(min(left, 1) * 1000) + 1)
            if r < 0 && errno != EINTR { return nil }
            if r > 0 { readAvailable() }
        }
    }

    /// Reads whatever output is ready, without waiting (for callers that run their own loop).
    public func pollLines() {
        var pfd = pollfd(fd: output.fileHandleForReading.fileDescriptor, events: Int16(POLLIN), revents: 0)
        while !atEnd && poll(&pfd, 1, 0) > 0 && pfd.revents & Int16(POLLIN | POLLHUP) != 0 {
            let before = pending.count + lines.count
            readAvailable()
            if pending.count + lines.count == before { break }
        }
    }

    /// Reads whatever output is ready, without waiting, and returns every line not consumed yet
    /// (for callers that run their own loop over several children).
    public func takeLines() -> [String] {
        pollLines()
        let new = Array(lines[consumed...])
        consumed = lines.count
        return new
    }

    /// The same, with the time each line was read (callers polling several children at a
    /// short period get each line's time within that period).
    public func takeLinesWithTimes() -> [(line: String, at: Date)] {
        pollLines()
        let new = (consumed ..< lines.count).map { (lines[$0], lineTimes[$0]) }
        consumed = lines.count
        return new
    }

    private func readAvailable() {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(output.fileHandleForReading.fileDescriptor, &buf, buf.count)
        if n == 0 { atEnd = true }
        guard n > 0 else { return }
        pending.append(contentsOf: buf[0 ..< n])
        let now = Date()
        while let nl = pending.firstIndex(of: 10) {
            lines.append(String(decoding: pending[..<nl], as: UTF8.self))
            lineTimes.append(now)
            pending.removeSubrange(...nl)
        }
    }
}

/// What went wrong with a child process (a `ToolError`).
public typealias ChildError = ToolError
