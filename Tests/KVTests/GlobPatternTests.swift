// KEYS patterns, as Redis's stringmatchlen matches them.

@testable import KVCore
import Testing

struct GlobPatternTests {
    func m(_ p: String, _ s: String) -> Bool { GlobPattern(Array(p.utf8)).matches(Array(s.utf8)) }

    @Test func wildcards() {
        #expect(m("*", "") && m("*", "anything"))
        #expect(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"))
        #expect(m("h*llo", "hllo") && m("h*llo", "heeeello") && !m("h*llo", "hello!"))
        #expect(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxaxxcxxbxx"))
        #expect(m("key:*", "key:1") && !m("key:*", "ke"))
    }

    @Test func classesAndEscapes() {
        #expect(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"))
        #expect(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"))
        #expect(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo") && m("h[b-a]llo", "hallo"))
        #expect(m("a\\*b", "a*b") && !m("a\\*b", "axb"))
        #expect(m("[\\]]", "]") && m("x[", "x") == false)
        #expect(m("[abc", "a"))  // an unclosed class runs to the end of the pattern (as Redis)
    }

    @Test func noExponentialBlowUp() {
        let key = String(repeating: "a", count: 5000)
        let pattern = String(repeating: "*a", count: 50) + "b"
        #expect(!m(pattern, key))
    }
}
