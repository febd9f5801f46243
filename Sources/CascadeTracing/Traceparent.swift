/// A W3C trace-context `traceparent` (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`),
/// checked: Cascade carries one from an event to everything it causes, so a malformed value is
/// dropped where it enters rather than passed on.
public struct Traceparent: Sendable, Hashable, CustomStringConvertible {
    /// The header's text, lower case as the specification requires.
    public let value: String

    /// Nil unless `text` is a traceparent of version 00 (or a later version, whose first four
    /// fields are read as 00's) with a trace id and parent id that are not all zeros.
    public init?(_ text: some StringProtocol) {
        guard let parsed = Self.parse(Array(text.utf8)) else { return nil }
        value = parsed
    }

    /// The same from a header's bytes.
    public init?(bytes: [UInt8]) {
        guard let parsed = Self.parse(bytes) else { return nil }
        value = parsed
    }

    public var description: String { value }

    /// The 32 hex digits that name the trace.
    public var traceID: Substring { value.dropFirst(3).prefix(32) }

    /// The 16 hex digits of the span this one continues.
    public var parentID: Substring { value.dropFirst(36).prefix(16) }

    /// Whether the caller recorded its part of the trace (flag 01): Cascade records its
    /// spans of a trace only then, as the specification's parent-based sampling does.
    public var sampled: Bool {
        let flags = value.utf8.dropFirst(53).prefix(2)
        guard let low = flags.last, let digit = Self.hexValue(low) else { return false }
        return digit & 1 == 1
    }

    private static func parse(_ bytes: [UInt8]) -> String? {
        // version(2) - trace id(32) - parent id(16) - flags(2); later versions may append fields.
        guard bytes.count >= 55, bytes[2] == 0x2D, bytes[35] == 0x2D, bytes[52] == 0x2D else { return nil }
        guard bytes.count == 55 || (bytes[55] == 0x2D && !(bytes[0] == 0x30 && bytes[1] == 0x30)) else { return nil }
        let fields = [0..<2, 3..<35, 36..<52, 53..<55]
        for range in fields {
            for index in range where hexValue(bytes[index]) == nil { return nil }
        }
        // Version ff is forbidden; all-zero ids are invalid.
        if bytes[0] == 0x66 && bytes[1] == 0x66 { return nil }
        if bytes[3..<35].allSatisfy({ $0 == 0x30 }) || bytes[36..<52].allSatisfy({ $0 == 0x30 }) { return nil }
        // The four fields of version 00 are what is carried on.
        return "00" + String(decoding: bytes[2..<55], as: UTF8.self)
    }

    /// Lower-case hex digits only, as the specification requires.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
