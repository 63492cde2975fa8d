import ArgumentParser
import Foundation
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The `--log-level` option every tool has.
public struct LogOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: Logger.Level = .warning

    public init() {}

    /// Sends log lines to stderr at the chosen level. Call once, at start-up.
    public func bootstrap() {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Progress lines on stderr, rewritten in place on a terminal and, otherwise (a log, CI), one
/// line every `interval` at most.
public final class Progress {
    private let interactive = isatty(STDERR_FILENO) != 0
    private let interval: TimeInterval
    private var last = Date.distantPast

    public init(interval: TimeInterval = 10) { self.interval = interval }

    public func update(_ line: String) {
        if interactive {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
        } else if Date().timeIntervalSince(last) >= interval {
            last = Date()
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    public func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Writes a flat JSON object on one line (keys in the given order).
public func jsonLine(_ fields: KeyValuePairs<String, Any>) -> String {
    jsonLine(fields.map { ($0.key, $0.value) })
}

/// Writes a flat JSON object on one line (keys in the given order).
public func jsonLine(_ fields: [(String, Any)]) -> String {
    var parts: [String] = []
    for (k, v) in fields {
        let value: String
        switch v {
        case let d as Double: value = d.isFinite ? String(format: "%.3f", d) : "null"
        case let i as Int: value = String(i)
        case let u as UInt64: value = String(u)
        case let b as Bool: value = b ? "true" : "false"
        case let s as String: value = "\"\(jsonEscape(s))\""
        default: value = "\"\(jsonEscape(String(describing: v)))\""
        }
        parts.append("\"\(jsonEscape(k))\":\(value)")
    }
    return "{" + parts.joined(separator: ",") + "}"
}

private func jsonEscape(_ s: String) -> String {
    var out = ""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if ch.value < 0x20 { out += String(format: "\\u%04x", ch.value) } else { out.unicodeScalars.append(ch) }
        }
    }
    return out
}
