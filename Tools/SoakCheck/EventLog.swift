import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One member's compact event log file (the format is `LogLine`'s): one line per event,
/// each written with one `write(2)` as it happens (no buffering), so a member killed with
/// SIGKILL loses at most the line being written. The soak parses every log at the end
/// (`LogReader`) into one history for the checkers.
public final class EventLog {
    public typealias Kind = LogLine.Kind

    private var fd: Int32
    private let epochMicros: Int64
    let path: String

    public init(path: String, epochMicros: Int64) throws {
        self.path = path
        self.epochMicros = epochMicros
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EventLogError("cannot create the log \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    /// Writes `MICROS KIND FIELDS...` as one line.
    public func write(_ kind: Kind, _ fields: String...) {
        guard fd >= 0 else { return }
        let line = LogLine.format(micros: EventLog.nowMicros() - epochMicros, kind, fields) + "\n"
        var bytes = Array(line.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            off += n
        }
    }

    /// Wall-clock microseconds (CLOCK_REALTIME: the one clock every process shares).
    public static func nowMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

public struct EventLogError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
