import Foundation

/// A number of seconds (or any quantity) as the soak prints it: whole numbers without a
/// fraction, others with three significant digits.
public func fmt(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(format: "%.3g", d)
}
