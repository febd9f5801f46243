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

    /// Bytes already written as JSON, copied as they are.
    mutating func raw(bytes written: [UInt8]) { bytes.append(contentsOf: written) }

    mutating func string(_ text: String) {
        string(text[...])
    }

    mutating func string(_ text: Substring) {
        // Keys and ids rarely need escaping: then one copy of the whole string.
        let written = text.utf8.withContiguousStorageIfAvailable { string(bytes: $0) }
        if written == nil { string(bytes: Array(text.utf8)) }
    }

    mutating func string(bytes units: some Collection<UInt8>) {
        bytes.append(0x22)
        if !units.contains(where: Self.needsEscaping) {
            bytes.append(contentsOf: units)
            bytes.append(0x22)
            return
        }
        for unit in units {
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

    /// Whether a byte of a string must be escaped in JSON (a control character, `"` or `\`).
    static func needsEscaping(_ unit: UInt8) -> Bool { unit < 0x20 || unit == 0x22 || unit == 0x5C }

    mutating func integer<T: BinaryInteger>(_ value: T) {
        if value == 0 { bytes.append(0x30); return }
        if value < 0 { bytes.append(0x2D) }
        // Digits backwards, then swapped into place: no temporary array. (Reversing the
        // slice `bytes[start...]` copied it: two allocations per number in the profile.)
        var low = bytes.count
        var rest = value.magnitude
        while rest > 0 {
            bytes.append(UInt8(truncatingIfNeeded: rest % 10) + 0x30)
            rest /= 10
        }
        var high = bytes.count - 1
        while low < high {
            bytes.swapAt(low, high)
            low += 1
            high -= 1
        }
    }
}

extension InvalidationMessage {
    /// The same bytes as `encoded()`, written by hand (the bus's hot path).
    public func fastEncoded() -> [UInt8] {
        Self.fastEncoded(kind: kind, cause: cause, keys: keys.map { (Substring($0.key), $0.depth) }, tags: tags, fences: fences)
    }

    /// The bytes of a message with these fields, keys given as substrings.
    public static func fastEncoded(
        kind: Kind, cause: Cause, keys: [(key: Substring, depth: Int)], tags: [String], fences: [Fence]
    ) -> [UInt8] {
        let keyLength = keys.reduce(0) { $0 + $1.key.utf8.count }
        let head = Head(kind: kind, cause: cause, fences: fences)
        return encoded(head: head, keyCount: keys.count, keyLength: keyLength, tags: tags) { index, out in
            out.integer(keys[index].depth)
            out.raw(",\"key\":")
            out.string(keys[index].key)
        }
    }

    /// Where one key lies in a buffer of names, and its depth.
    public struct KeySpan: Sendable {
        public var start: Int32
        public var length: Int32
        public var depth: Int32

        public init(start: Int32, length: Int32, depth: Int32) {
            self.start = start
            self.length = length
            self.depth = depth
        }
    }

    /// What every message of one cascade starts with, written once for all of them: the
    /// cause and the fences (the fields before `keys`, in sorted order), and the kind.
    public struct Head: Sendable {
        let bytes: [UInt8]
        let kind: Kind

        public init(kind: Kind, cause: Cause, fences: [Fence]) {
            self = fences.withUnsafeBufferPointer { Head(kind: kind, cause: cause, fences: $0) }
        }

        /// `fences` in a buffer, which a caller can fill on the stack (no array per cascade).
        public init(kind: Kind, cause: Cause, fences: UnsafeBufferPointer<Fence>) {
            // Field names and punctuation, numbers at their widest, then the texts.
            var capacity = 110 + cause.entity.utf8.count + cause.eventID.utf8.count + cause.id.utf8.count
                + (cause.traceparent.map { 17 + $0.utf8.count } ?? 0)
            for fence in fences { capacity += 42 + fence.ref.utf8.count }
            var out = WireJSONWriter(capacity: capacity)
            out.raw("{\"cause\":{\"at_ms\":")
            out.integer(cause.atMillis)
            out.raw(",\"entity\":")
            out.string(cause.entity)
            out.raw(",\"event_id\":")
            out.string(cause.eventID)
            out.raw(",\"id\":")
            out.string(cause.id)
            if let traceparent = cause.traceparent {
                out.raw(",\"traceparent\":")
                out.string(traceparent)
            }
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
            self.bytes = out.bytes
            self.kind = kind
        }
    }

    /// A message of the cascade `head` starts, keys given as spans of `keyBytes` (the bus
    /// writes them straight from a closure's names, without a String per key), with at most
    /// one tag (the root's), so that no array is made for it.
    public static func fastEncoded(head: Head, keyBytes: [UInt8], keys: UnsafeBufferPointer<KeySpan>, tag: String?) -> [UInt8] {
        keyBytes.withUnsafeBufferPointer { names in
            if let plain = plainEncoded(head: head, names: names, keys: keys, tag: tag) { return plain }
            let keyLength = keys.reduce(0) { $0 + Int($1.length) }
            return encoded(head: head, keyCount: keys.count, keyLength: keyLength, tags: tag.map { [$0] } ?? []) { index, out in
                let span = keys[index]
                out.integer(span.depth)
                out.raw(",\"key\":")
                out.string(bytes: UnsafeBufferPointer(rebasing: names[Int(span.start)..<Int(span.start + span.length)]))
            }
        }
    }

    /// The message's JSON around its keys; `writeKey` writes the depth and key of one.
    /// `keyLength` is the keys' bytes together: the buffer is sized once, for the message
    /// as it will be unless something needs escaping.
    private static func encoded(
        head: Head, keyCount: Int, keyLength: Int, tags: [String], writeKey: (Int, inout WireJSONWriter) -> Void
    ) -> [UInt8] {
        // The head, then field names and punctuation, numbers at their widest, then the texts.
        var capacity = head.bytes.count + 40 + keyCount * 30 + keyLength
        for tag in tags { capacity += 3 + tag.utf8.count }
        var out = WireJSONWriter(capacity: capacity)
        out.raw(bytes: head.bytes)
        for index in 0..<keyCount {
            if index > 0 { out.byte(0x2C) }
            out.raw("{\"depth\":")
            writeKey(index, &out)
            out.byte(0x7D)
        }
        out.raw("],\"kind\":")
        out.string(head.kind.rawValue)
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
        // Field names and punctuation, numbers at their widest, then the texts.
        var out = WireJSONWriter(
            capacity: 140 + entity.utf8.count + eventID.utf8.count + id.utf8.count + origin.utf8.count)
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
