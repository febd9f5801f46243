#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A key template as bytes, matched against a key without making a String: a node classifies
/// every new key with it, the bus every name it interns. The rule is `KeyTemplate.match`'s: a
/// parameter takes the text up to the first occurrence of the literal after it, which must
/// not be empty; the last one takes the rest.
public struct TemplateBytes: Sendable {
    enum Part: Sendable {
        case literal([UInt8])
        case parameter
    }

    private let parts: [Part]

    public init(_ template: KeyTemplate) {
        parts = template.segments.map { segment in
            switch segment {
            case .literal(let text): .literal(Array(text.utf8))
            case .parameter: .parameter
            }
        }
    }

    /// Whether `key` fits.
    public func matches(_ key: UnsafeRawBufferPointer) -> Bool {
        walk(key) { _, _ in }
    }

    /// Walks `key` along the parts, handing each parameter's offset and length to `found`;
    /// false when the key does not fit.
    func walk(_ key: UnsafeRawBufferPointer, _ found: (_ start: Int, _ length: Int) -> Void) -> Bool {
        guard let base = key.baseAddress else { return parts.isEmpty }
        var position = 0
        let count = key.count
        var index = 0
        while index < parts.count {
            switch parts[index] {
            case .literal(let bytes):
                guard count - position >= bytes.count,
                      bytes.withUnsafeBytes({ memcmp(base + position, $0.baseAddress!, bytes.count) == 0 })
                else { return false }
                position += bytes.count
            case .parameter:
                if index + 1 < parts.count, case .literal(let next) = parts[index + 1] {
                    // The first occurrence, even where it leaves the parameter empty (then no fit).
                    guard let end = Self.find(next, in: base, from: position, count: count), end > position else { return false }
                    found(position, end - position)
                    position = end
                } else {
                    guard position < count else { return false }
                    found(position, count - position)
                    position = count
                }
            }
            index += 1
        }
        return position == count
    }

    private static func find(_ needle: [UInt8], in base: UnsafeRawPointer, from start: Int, count: Int) -> Int? {
        guard !needle.isEmpty, start + needle.count <= count else { return nil }
        let first = needle[0]
        return needle.withUnsafeBytes { needleBytes in
            var position = start
            while position + needle.count <= count {
                if base.load(fromByteOffset: position, as: UInt8.self) == first,
                   memcmp(base + position, needleBytes.baseAddress!, needle.count) == 0 {
                    return position
                }
                position += 1
            }
            return nil
        }
    }
}
