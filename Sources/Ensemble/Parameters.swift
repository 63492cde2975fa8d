/// A protocol parameter value, typed as Ensemble types them.
public enum ParameterValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case time(Time)

    public var description: String {
        switch self {
        case let .int(v): "\(v):int"
        case let .float(v): "\(v):float"
        case let .bool(v): "\(v):bool"
        case let .string(v): "\(v):string"
        case let .time(v): "\(v.seconds):time"
        }
    }
}

/// Why a parameter string or value was rejected.
public struct ParameterError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Protocol parameters by Ensemble name (`pt2pt_sweep`, `suspect_max_idle`, ...).
///
/// Overrides come from code (`params["suspect_sweep"] = .time(.milliseconds(100))`) or from
/// an Ensemble-style string, `name=value:type;name=value:type`, with types `int`, `float`,
/// `bool`, `string` and `time` (seconds). A layer asks for a value with its default; a value
/// of the wrong type is an error, reported when the stack is built.
public struct Parameters: Hashable, Sendable, CustomStringConvertible {
    public private(set) var values: [String: ParameterValue] = [:]

    public init() {}

    public init(_ values: [String: ParameterValue]) { self.values = values }

    /// Parses `name=value:type;name=value:type` (`;` or `,` separated; whitespace ignored).
    /// A bare profile name (`fast`, `ensemble`, `default`) stands for that profile's
    /// parameters; later items override it (`fast;suspect_max_idle=5:int`). A name that no
    /// layer reads is an error listing the known ones (`ParameterCatalog`), unless
    /// `checkingNames` is false.
    public init(parsing text: String, checkingNames: Bool = true) throws(ParameterError) {
        for item in text.split(whereSeparator: { $0 == ";" || $0 == "," }) {
            let entry = item.trimmingSpaces
            if entry.isEmpty { continue }
            if let profile = Parameters.profiles[entry.lowercased()] {
                for (k, v) in profile.values { values[k] = v }
                continue
            }
            guard let eq = entry.firstIndex(of: "=") else {
                throw ParameterError("parameter '\(entry)' is not of the form name=value:type (or a profile: \(Parameters.profiles.keys.sorted().joined(separator: ", ")))")
            }
            let name = String(entry[..<eq]).trimmingSpaces
            let rest = entry[entry.index(after: eq)...]
            guard let colon = rest.lastIndex(of: ":") else {
                throw ParameterError("parameter '\(entry)' has no type (add :int, :float, :bool, :string or :time)")
            }
            let value = String(rest[..<colon]).trimmingSpaces
            let type = String(rest[rest.index(after: colon)...]).trimmingSpaces.lowercased()
            guard !name.isEmpty else { throw ParameterError("parameter '\(entry)' has an empty name") }
            if checkingNames && ParameterCatalog.entry(name) == nil { throw ParameterCatalog.unknown(name) }
            values[name] = try ParameterValue.parse(value, type: type, name: name)
        }
    }

    /// Named sets of parameters:
    /// - `default`: none (the defaults: failure detection in about 1.0–1.4 s, repairs on round trips);
    /// - `fast`: failure detection in about 0.2–0.3 s (a ping every 50 ms, suspicion after 5
    ///   unanswered), gossip every second, merges re-sent every 300 ms and given up after 2 s,
    ///   every repair timer at most 200 ms (for a LAN whose members answer within milliseconds);
    /// - `ensemble`: Ensemble's own timers (a ping a second, suspicion after 15 unanswered).
    public static let profiles: [String: Parameters] = [
        "default": Parameters(),
        "fast": Parameters([
            "suspect_sweep": .time(.milliseconds(50)), "suspect_max_idle": .int(5),
            "top_sweep": .time(.seconds(1)), "merge_sweep": .time(.milliseconds(300)), "merge_timeout": .time(.seconds(2)),
            "pt2pt_sweep": .time(.milliseconds(200)), "stable_sweep": .time(.milliseconds(200)),
        ]),
        "ensemble": Parameters(["suspect_sweep": .time(.seconds(1)), "suspect_max_idle": .int(15)]),
    ]

    public subscript(name: String) -> ParameterValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Overrides from `other` win.
    public func merging(_ other: Parameters) -> Parameters {
        var p = self
        for (k, v) in other.values { p.values[k] = v }
        return p
    }

    /// The value of `name` as `extract` reads it (nil: the wrong type), or `d` if unset.
    private func value<T>(_ name: String, _ type: String, default d: T,
                          _ extract: (ParameterValue) -> T?) throws(ParameterError) -> T {
        guard let v = values[name] else { return d }
        guard let x = extract(v) else { throw ParameterError("parameter \(name) must be \(type), got \(v)") }
        return x
    }

    public func int(_ name: String, default d: Int) throws(ParameterError) -> Int {
        try value(name, "an int", default: d) { if case let .int(v) = $0 { v } else { nil } }
    }

    public func bool(_ name: String, default d: Bool) throws(ParameterError) -> Bool {
        try value(name, "a bool", default: d) { if case let .bool(v) = $0 { v } else { nil } }
    }

    /// An `int` value is accepted too.
    public func float(_ name: String, default d: Double) throws(ParameterError) -> Double {
        try value(name, "a float", default: d) { $0.number }
    }

    public func string(_ name: String, default d: String) throws(ParameterError) -> String {
        try value(name, "a string", default: d) { if case let .string(v) = $0 { v } else { nil } }
    }

    /// A time in seconds; an `int` or `float` value is accepted as seconds too.
    public func time(_ name: String, default d: Time) throws(ParameterError) -> Time {
        try value(name, "a time", default: d) { if case let .time(v) = $0 { v } else { $0.number.map(Time.seconds) } }
    }

    /// The Ensemble string form, sorted by name.
    public var description: String {
        values.keys.sorted().compactMap { k in values[k].map { "\(k)=\($0)" } }.joined(separator: ";")
    }

    /// Sorted by name, so the encoding is the same at every member.
    public func encode<W: WireWriting>(into w: inout W) {
        let keys = values.keys.sorted()
        w.writeVarint(UInt64(keys.count))
        for k in keys {
            guard let v = values[k] else { continue }
            w.write(k)
            switch v {
            case let .int(x): w.write(UInt8(0)); w.writeVarint(signed: Int64(x))
            case let .float(x): w.write(UInt8(1)); w.write(x.bitPattern)
            case let .bool(x): w.write(UInt8(2)); w.write(x)
            case let .string(x): w.write(UInt8(3)); w.write(x)
            case let .time(x): w.write(UInt8(4)); w.writeVarint(signed: x.nanoseconds)
            }
        }
    }

    public static func decode(from r: inout WireReader) throws(WireError) -> Parameters {
        var p = Parameters()
        let n = try r.readCount(limit: 256)
        for _ in 0 ..< n {
            let k = try r.readString(limit: 256)
            let tag: UInt8 = try r.read()
            switch tag {
            case 0: p.values[k] = .int(Int(truncatingIfNeeded: try r.readVarint(signed: ())))
            case 1: p.values[k] = .float(Double(bitPattern: try r.read()))
            case 2: p.values[k] = .bool(try r.readBool())
            case 3: p.values[k] = .string(try r.readString(limit: 4096))
            case 4: p.values[k] = .time(Time(nanoseconds: try r.readVarint(signed: ())))
            default: throw .invalidValue(field: "parameter type", value: UInt64(tag))
            }
        }
        return p
    }
}

extension ParameterValue {
    /// A `float` or `int` value as a number.
    var number: Double? {
        switch self {
        case let .float(v): v
        case let .int(v): Double(v)
        default: nil
        }
    }

    static func parse(_ text: String, type: String, name: String) throws(ParameterError) -> ParameterValue {
        switch type {
        case "int":
            guard let v = Int(text) else { throw ParameterError("parameter \(name): '\(text)' is not an int") }
            return .int(v)
        case "float":
            guard let v = Double(text) else { throw ParameterError("parameter \(name): '\(text)' is not a float") }
            return .float(v)
        case "bool":
            switch text.lowercased() {
            case "true", "t", "1", "yes": return .bool(true)
            case "false", "f", "0", "no": return .bool(false)
            default: throw ParameterError("parameter \(name): '\(text)' is not a bool (true or false)")
            }
        case "string": return .string(text)
        case "time":
            guard let v = Double(text), v >= 0 else {
                throw ParameterError("parameter \(name): '\(text)' is not a time in seconds")
            }
            return .time(.seconds(v))
        default:
            throw ParameterError("parameter \(name): unknown type '\(type)' (use int, float, bool, string or time)")
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
