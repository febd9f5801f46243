/// Hand-written JSON for the messages the bus writes once or more per event. Byte for byte
/// what `WireJSON` (JSONEncoder, sorted keys, unescaped slashes) writes, at a fraction of the
/// cost: no boxing into JSONEncoder's value tree, no key sorting, one growing byte array.
public struct WireJSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func string(_ text: String) {
        string(text[...])
    }

    mutating func string(_ text: Substring) {
        bytes.append(0x22)
        // Keys and ids rarely need escaping: then one copy of the whole string.
        let copied = text.utf8.withContiguousStorageIfAvailable { units -> Bool in
            for unit in units where unit < 0x20 || unit == 0x22 || unit == 0x5C { return false }
            bytes.append(contentsOf: units)
            return true
        }
        if copied == true {
            bytes.append(0x22)
            return
        }
        for unit in text.utf8 {
            switch unit {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x08: bytes.append(0x5C); bytes.append(0x62)
            case 0x0C: bytes.append(0x5C); bytes.append(0x66)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(unit >> 4)], hex[Int(unit & 0xF)]])
            default: bytes.append(unit)
            }
        }
        bytes.append(0x22)
    }

    mutating func integer<T: BinaryInteger>(_ value: T) {
        if value == 0 { bytes.append(0x30); return }
        if value < 0 { bytes.append(0x2D) }
        // Digits backwards, then reversed in place: no temporary array.
        let start = bytes.count
        var rest = value.magnitude
        while rest > 0 {
            bytes.append(UInt8(truncatingIfNeeded: rest % 10) + 0x30)
            rest /= 10
        }
        bytes[start...].reverse()
    }
}

extension InvalidationMessage {
    /// The same bytes as `encoded()`, written by hand (the bus's hot path).
    public func fastEncoded() -> [UInt8] {
        Self.fastEncoded(kind: kind, cause: cause, keys: keys.map { (Substring($0.key), $0.depth) }, tags: tags, fences: fences)
    }

    /// The bytes of a message with these fields, keys given as substrings (the bus writes them
    /// straight from a closure's `service/key` names, without a String per key).
    public static func fastEncoded(
        kind: Kind, cause: Cause, keys: [(key: Substring, depth: Int)], tags: [String], fences: [Fence]
    ) -> [UInt8] {
        var out = WireJSONWriter(capacity: 160 + keys.count * 48 + tags.count * 24 + fences.count * 40)
        out.raw("{\"cause\":{\"at_ms\":")
        out.integer(cause.atMillis)
        out.raw(",\"entity\":")
        out.string(cause.entity)
        out.raw(",\"event_id\":")
        out.string(cause.eventID)
        out.raw(",\"id\":")
        out.string(cause.id)
        out.raw(",\"version\":")
        out.integer(cause.version)
        out.raw("},\"fences\":[")
        for (index, fence) in fences.enumerated() {
            if index > 0 { out.byte(0x2C) }
            out.raw("{\"ref\":")
            out.string(fence.ref)
            out.raw(",\"version\":")
            out.integer(fence.version)
            out.byte(0x7D)
        }
        out.raw("],\"keys\":[")
        for (index, target) in keys.enumerated() {
            if index > 0 { out.byte(0x2C) }
            out.raw("{\"depth\":")
            out.integer(target.depth)
            out.raw(",\"key\":")
            out.string(target.key)
            out.byte(0x7D)
        }
        out.raw("],\"kind\":")
        out.string(kind.rawValue)
        out.raw(",\"tags\":[")
        for (index, tag) in tags.enumerated() {
            if index > 0 { out.byte(0x2C) }
            out.string(tag)
        }
        out.raw("]}")
        return out.bytes
    }
}

extension LedgerRecord {
    /// The same bytes as `encoded()`, written by hand (one record per event).
    public func fastEncoded() -> [UInt8] {
        var out = WireJSONWriter(capacity: 160)
        out.raw("{\"at_ms\":")
        out.integer(atMillis)
        out.raw(",\"digest\":")
        out.integer(digest)
        out.raw(",\"entity\":")
        out.string(entity)
        out.raw(",\"event_id\":")
        out.string(eventID)
        out.raw(",\"id\":")
        out.string(id)
        out.raw(",\"origin\":")
        out.string(origin)
        out.raw(",\"version\":")
        out.integer(version)
        out.byte(0x7D)
        return out.bytes
    }
}
