/// Parses TTLs such as `30s`, `10m`, `1h`, `2d`, `500ms` or `1h30m` into milliseconds.
public enum TTLDuration {
    public static func milliseconds(_ text: String) -> Int64? {
        var total: Int64 = 0
        var digits: Int64 = -1
        var chars = Array(text.utf8)[...]
        guard !chars.isEmpty else { return nil }
        while let c = chars.first {
            if c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                digits = (digits < 0 ? 0 : digits) &* 10 &+ Int64(c - UInt8(ascii: "0"))
                guard digits < 1_000_000_000 else { return nil }
                chars = chars.dropFirst()
                continue
            }
            guard digits >= 0 else { return nil }
            let unit: Int64
            if c == UInt8(ascii: "m"), chars.dropFirst().first == UInt8(ascii: "s") {
                unit = 1
                chars = chars.dropFirst(2)
            } else {
                switch c {
                case UInt8(ascii: "s"): unit = 1000
                case UInt8(ascii: "m"): unit = 60_000
                case UInt8(ascii: "h"): unit = 3_600_000
                case UInt8(ascii: "d"): unit = 86_400_000
                default: return nil
                }
                chars = chars.dropFirst()
            }
            total += digits * unit
            digits = -1
        }
        // A trailing number without a unit is ambiguous (seconds? minutes?), so it is refused.
        guard digits < 0, total > 0 else { return nil }
        return total
    }

    /// The shortest text that parses back to the same value, e.g. `90000` → `1m30s`.
    public static func format(milliseconds: Int64) -> String {
        var rest = milliseconds
        var text = ""
        for (unit, name) in [(Int64(86_400_000), "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")] {
            if rest >= unit {
                text += "\(rest / unit)\(name)"
                rest %= unit
            }
        }
        return text.isEmpty ? "0s" : text
    }
}
