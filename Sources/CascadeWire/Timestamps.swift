import Foundation

/// RFC 3339 timestamps with milliseconds, as events carry them in `at`.
public enum Timestamps {
    /// Parses without a date formatter: Foundation's (ICU's) crashed the process with a
    /// floating-point exception on a fraction of forty digits, found by the fuzzer
    /// (Fuzz/corpus/events/crash-long-fraction-at), and it is slow besides.
    public static func parseMillis(_ text: String) -> Int64? {
        RFC3339.parseMillis(text)
    }

    public static func format(millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    public static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
