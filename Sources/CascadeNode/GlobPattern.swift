/// Redis's glob matching for KEYS, SCAN MATCH and CONFIG GET: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
enum GlobPattern {
    static func matches(_ pattern: UnsafeRawBufferPointer, _ text: UnsafeRawBufferPointer) -> Bool {
        matches(pattern, 0, text, 0)
    }

    private static func matches(_ p: UnsafeRawBufferPointer, _ pi: Int, _ s: UnsafeRawBufferPointer, _ si: Int) -> Bool {
        var pi = pi
        var si = si
        while pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
                if pi + 1 == p.count { return true }
                for start in si...s.count where matches(p, pi + 1, s, start) { return true }
                return false
            case UInt8(ascii: "?"):
                guard si < s.count else { return false }
                si += 1
                pi += 1
            case UInt8(ascii: "["):
                guard si < s.count else { return false }
                var index = pi + 1
                let negate = index < p.count && p[index] == UInt8(ascii: "^")
                if negate { index += 1 }
                var matched = false
                while index < p.count && p[index] != UInt8(ascii: "]") {
                    if p[index] == UInt8(ascii: "\\") && index + 1 < p.count {
                        index += 1
                        if p[index] == s[si] { matched = true }
                    } else if index + 2 < p.count && p[index + 1] == UInt8(ascii: "-") && p[index + 2] != UInt8(ascii: "]") {
                        let low = min(p[index], p[index + 2])
                        let high = max(p[index], p[index + 2])
                        if s[si] >= low && s[si] <= high { matched = true }
                        index += 2
                    } else if p[index] == s[si] {
                        matched = true
                    }
                    index += 1
                }
                guard matched != negate else { return false }
                pi = min(index + 1, p.count)
                si += 1
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                guard si < s.count, p[pi + 1] == s[si] else { return false }
                pi += 2
                si += 1
            default:
                guard si < s.count, p[pi] == s[si] else { return false }
                pi += 1
                si += 1
            }
        }
        return si == s.count
    }

    static func matches(_ pattern: String, _ text: String) -> Bool {
        var pattern = pattern
        var text = text
        return pattern.withUTF8 { p in text.withUTF8 { t in matches(UnsafeRawBufferPointer(p), UnsafeRawBufferPointer(t)) } }
    }
}
