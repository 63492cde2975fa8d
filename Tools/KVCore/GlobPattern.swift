// KEYS patterns, as Redis matches them: `*` any run of bytes, `?` one byte, `[abc]`, `[^a-z]`
// classes (ranges, `\` escapes inside), `\x` the byte x. Compiled once, matched in
// O(pattern × key) at worst (one backtracking point: the last star), never exponentially.

struct GlobPattern {
    enum Token {
        case star
        case any
        case byte(UInt8)
        case set(ByteSet, negated: Bool)
    }

    /// 256 bits.
    struct ByteSet {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        mutating func insert(_ b: UInt8) {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }
        func contains(_ b: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: return words.0 & bit != 0
            case 1: return words.1 & bit != 0
            case 2: return words.2 & bit != 0
            default: return words.3 & bit != 0
            }
        }
    }

    let tokens: [Token]
    /// `*` alone: every key (the common KEYS *), without looking.
    let matchesEverything: Bool

    init(_ pattern: [UInt8]) {
        var t: [Token] = []
        var i = 0
        while i < pattern.count {
            let c = pattern[i]
            switch c {
            case UInt8(ascii: "*"):
                if case .star? = t.last {} else { t.append(.star) }  // ** is *
                i += 1
            case UInt8(ascii: "?"):
                t.append(.any)
                i += 1
            case UInt8(ascii: "\\") where i + 1 < pattern.count:
                t.append(.byte(pattern[i + 1]))
                i += 2
            case UInt8(ascii: "["):
                i += 1
                var negated = false
                if i < pattern.count && pattern[i] == UInt8(ascii: "^") { negated = true; i += 1 }
                var set = ByteSet()
                // Up to the closing bracket (or the end of the pattern, as Redis).
                while i < pattern.count && pattern[i] != UInt8(ascii: "]") {
                    if pattern[i] == UInt8(ascii: "\\") && i + 1 < pattern.count {
                        set.insert(pattern[i + 1])
                        i += 2
                    } else if i + 2 < pattern.count && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                        var lo = pattern[i], hi = pattern[i + 2]
                        if lo > hi { swap(&lo, &hi) }
                        for b in lo ... hi { set.insert(b) }
                        i += 3
                    } else {
                        set.insert(pattern[i])
                        i += 1
                    }
                }
                i += 1  // the ']'
                t.append(.set(set, negated: negated))
            default:
                t.append(.byte(c))
                i += 1
            }
        }
        tokens = t
        if t.count == 1, case .star = t[0] { matchesEverything = true } else { matchesEverything = false }
    }

    func matches(_ s: [UInt8]) -> Bool {
        if matchesEverything { return true }
        var p = 0, k = 0
        var starP = -1, starK = 0
        while k < s.count {
            if p < tokens.count {
                switch tokens[p] {
                case .star:
                    starP = p
                    starK = k
                    p += 1
                    continue
                case .any:
                    p += 1; k += 1
                    continue
                case let .byte(b) where b == s[k]:
                    p += 1; k += 1
                    continue
                case let .set(set, negated) where set.contains(s[k]) != negated:
                    p += 1; k += 1
                    continue
                default: break
                }
            }
            // Mismatch: let the last star take one more byte, or fail.
            guard starP >= 0 else { return false }
            starK += 1
            k = starK
            p = starP + 1
        }
        while p < tokens.count, case .star = tokens[p] { p += 1 }
        return p == tokens.count
    }
}
