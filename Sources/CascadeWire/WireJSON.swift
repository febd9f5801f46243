import Foundation

/// The JSON codec every wire message shares: sorted keys so equal messages are equal bytes.
enum WireJSON {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and integers cannot fail.
        return (try? encoder.encode(value)).map { [UInt8]($0) } ?? []
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// JSON's insignificant whitespace (RFC 8259): space, tab, line feed, carriage return.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Whether a document is an array: its first byte past whitespace is `[` (a batch of hops
    /// or of credits, where one alone is a bare object).
    static func isArray(_ bytes: [UInt8]) -> Bool {
        bytes.first(where: { !isWhitespace($0) }) == UInt8(ascii: "[")
    }
}
