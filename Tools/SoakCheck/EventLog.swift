import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One member's compact event log: one line per event, each written with one `write(2)` as
/// it happens (no buffering), so a member killed with SIGKILL loses at most the line being
/// written. The soak parses every log at the end (`LogReader`) into one history for the
/// checkers.
///
/// Every line is `MICROS KIND FIELDS...`, MICROS being microseconds since the soak's epoch
/// (every process of a soak runs on one machine and reads the same clock). Endpoints, view
/// ids and views are written as `LogCodec` says. The kinds:
///
///     start MEMBER INCARNATION ENDPOINT ADDRESS    the member exists (first line)
///     view VIEWID ROLE VIEWHEX                     a view accepted, with its full ViewState
///     block VIEWID                                 block() in the current view
///     cast VIEWID SEQ FILLER                       a cast was sent in the view
///     send VIEWID SEQ FILLER DEST-ENDPOINT         a send was sent in the view
///     recv cast|send VIEWID FROM-ENDPOINT MEMBER INCARNATION KIND SEQ FILLER
///     recv cast|send VIEWID FROM-ENDPOINT invalid  a payload that is no test message
///     xfer-start XFERID                            state transfer (re)started: state reset
///     xfer-cancel XFERID                           the request was abandoned
///     xfer-provide JOINER-ENDPOINT XFERID DIGEST COUNT   this server answered a request
///     xfer-got PROVIDER-ENDPOINT XFERID DIGEST COMPUTED COUNT   state received and installed
///     leave                                        the member asked to leave
///     exit                                         the member's exit callback ran
///     final COUNT SUM DIGEST VIEWID                its state when the soak stopped it
///     anomaly TEXT...                              something the member found wrong
///
/// The orchestrator writes `soak.log` with the same timestamps: `kill MEMBER INCARNATION`
/// (one line per member of a killed process) and `note TEXT...` for the other faults.
public final class EventLog {
    public enum Kind: String, Sendable {
        case start, view, block, cast, send, recv, leave, exit, final, anomaly, kill, note
        case xferStart = "xfer-start"
        case xferCancel = "xfer-cancel"
        case xferProvide = "xfer-provide"
        case xferGot = "xfer-got"
    }

    private var fd: Int32
    private let epochMicros: Int64
    public let path: String

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
        var line = "\(EventLog.nowMicros() - epochMicros) \(kind.rawValue)"
        for f in fields {
            line += " "
            line += f
        }
        line += "\n"
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
