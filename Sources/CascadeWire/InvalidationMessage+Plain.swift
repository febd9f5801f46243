extension InvalidationMessage {
    /// The bytes of `fastEncoded(head:keyBytes:keys:tag:)` when no key or tag needs escaping
    /// (nearly always): measured first, then written through a pointer into a buffer of
    /// exactly that size, with none of the growing array's checks per piece. Nil when
    /// something needs escaping or a depth is negative: the general writer handles it.
    static func plainEncoded(
        head: Head, names: UnsafeBufferPointer<UInt8>, keys: UnsafeBufferPointer<KeySpan>, tag: String?
    ) -> [UInt8]? {
        let kind = head.kind.rawValue.utf8
        var size = head.bytes.count + keys.count * 20 + 22 + kind.count
        for span in keys {
            guard span.depth >= 0 else { return nil }
            let key = UnsafeBufferPointer(rebasing: names[Int(span.start)..<Int(span.start + span.length)])
            guard !key.contains(where: WireJSONWriter.needsEscaping) else { return nil }
            size += key.count + PlainCursor.digitCount(UInt32(span.depth))
        }
        if let tag {
            guard !tag.utf8.contains(where: WireJSONWriter.needsEscaping) else { return nil }
            size += 2 + tag.utf8.count
        }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, written in
            var out = PlainCursor(buffer)
            head.bytes.withUnsafeBufferPointer { out.write($0) }
            for (index, span) in keys.enumerated() {
                out.write(index == 0 ? "{\"depth\":" : ",{\"depth\":")
                out.write(digitsOf: UInt32(span.depth))
                out.write(",\"key\":\"")
                out.write(UnsafeBufferPointer(rebasing: names[Int(span.start)..<Int(span.start + span.length)]))
                out.write("\"}")
            }
            out.write("],\"kind\":\"")
            out.write(kind)
            out.write("\",\"tags\":[")
            if let tag {
                out.write("\"")
                out.write(tag.utf8)
                out.write("\"")
            }
            out.write("]}")
            written = out.position
        }
    }
}

/// Writes bytes into a buffer sized beforehand.
private struct PlainCursor {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    var position = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    static func digitCount(_ value: UInt32) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }

    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        (buffer.baseAddress! + position).initialize(from: source, count: bytes.count)
        position += bytes.count
    }

    mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write($0) }
    }

    mutating func write(_ text: String.UTF8View) {
        var text = String(text)
        text.withUTF8 { write($0) }
    }

    mutating func write(digitsOf value: UInt32) {
        let count = Self.digitCount(value)
        var rest = value
        for offset in stride(from: count - 1, through: 0, by: -1) {
            buffer[position + offset] = UInt8(truncatingIfNeeded: rest % 10) + 0x30
            rest /= 10
        }
        position += count
    }
}
