import Foundation

/// Reads the soak's log files into `ParsedLog`s. Every malformed line becomes a problem
/// (`file:line: what`); an unterminated last line is expected of a member killed while
/// writing and is skipped.
public struct LogReader {
    public private(set) var problems: [String] = []

    public init() {}

    /// Reads the file at `path` (a problem if it cannot be read); `killed`: its member was
    /// killed, so its last line may be cut short.
    public mutating func read(_ path: String, killed: Bool) -> ParsedLog {
        let file = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            problems.append("\(file): cannot be read")
            return ParsedLog(file: file)
        }
        return parse(String(decoding: data, as: UTF8.self), file: file, killed: killed)
    }

    /// Parses a whole log's text; `file` names it in the problems.
    public mutating func parse(_ contents: String, file: String, killed: Bool) -> ParsedLog {
        var log = ParsedLog(file: file)
        var text = contents
        if !text.isEmpty && !text.hasSuffix("\n") {
            if !killed { problems.append("\(log.file): the last line is cut short, yet the member was not killed") }
            if let nl = text.lastIndex(of: "\n") { text = String(text[...nl]) } else { text = "" }
        }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            if let (t, e) = LogLine.parse(line) {
                if case let .start(m, endpoint) = e {
                    log.member = m
                    log.endpoint = endpoint
                }
                log.events.append((t, e))
            } else {
                let shown = line.count > 160 ? line.prefix(160) + "..." : line
                problems.append("\(log.file):\(i + 1): cannot parse `\(shown)`")
            }
        }
        return log
    }
}
