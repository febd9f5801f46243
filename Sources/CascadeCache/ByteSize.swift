/// Sizes on the command line (`--max-memory`, `--client-query-buffer-limit`).
public enum ByteSize {
    /// `512mb`, `2gb`, `100kb` or plain bytes, as Redis's maxmemory accepts them; nil for
    /// anything else, zero, or a size that overflows.
    public static func parse(_ text: String) -> Int? {
        let lower = text.lowercased()
        let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let number = Int(lower.dropLast(suffix.count)), number > 0 else { return nil }
            return number.multipliedReportingOverflow(by: factor).overflow ? nil : number * factor
        }
        return Int(lower).flatMap { $0 > 0 ? $0 : nil }
    }
}
