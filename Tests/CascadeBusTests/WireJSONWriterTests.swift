import CascadeWire
import Testing

/// The hand-written encoders must write exactly what the Codable form writes, so nodes and
/// tools that decode either never see a difference.
@Suite("Hand-written wire JSON")
struct WireJSONWriterTests {
    static let awkward = ["plain", "", "quote \" and \\ back", "slash / ok", "tab\t nl\n cr\r bs\u{8} ff\u{C}", "ctl \u{1} \u{1F}", "ünï ☃ 🎉", "\u{2028}"]

    @Test("invalidation messages: same bytes as JSONEncoder", arguments: awkward)
    func invalidation(text: String) {
        let message = InvalidationMessage(
            kind: .resolve,
            cause: .init(eventID: text, entity: "Product", id: text, version: UInt64.max, atMillis: -1_700_000_000_123),
            keys: [.init(key: text, depth: 0), .init(key: "k:2", depth: 12)], tags: [text, "Product#p-1"],
            fences: [.init(ref: text, version: 0), .init(ref: "a", version: 42)])
        #expect(message.fastEncoded() == message.encoded(), "\(String(decoding: message.encoded(), as: UTF8.self))")
        let empty = InvalidationMessage(kind: .invalidate, cause: message.cause, keys: [], tags: [], fences: [])
        #expect(empty.fastEncoded() == empty.encoded())
        // With the event's trace: in its sorted place, between `id` and `version`.
        var traced = message
        traced.cause.traceparent = text
        #expect(traced.fastEncoded() == traced.encoded(), "\(String(decoding: traced.encoded(), as: UTF8.self))")
    }

    /// The bus's path: keys as spans of one buffer of names, written through a pointer when
    /// nothing needs escaping, else by the general writer.
    @Test("invalidation messages from key spans: same bytes as JSONEncoder", arguments: awkward)
    func invalidationFromSpans(text: String) {
        let cause = InvalidationMessage.Cause(eventID: "e-1", entity: "Product", id: "p-1", version: 3, atMillis: 1_700_000_000_123)
        let keys: [(String, Int)] = [("k:1", 0), (text, 7), ("order:9/x", 10), ("", 123_456), ("last", 4_294_967)]
        var names: [UInt8] = Array("billing/".utf8)
        var spans: [InvalidationMessage.KeySpan] = []
        for (key, depth) in keys {
            spans.append(.init(start: Int32(names.count), length: Int32(key.utf8.count), depth: Int32(depth)))
            names.append(contentsOf: key.utf8)
        }
        // No fence (a hop's), the cascade's one, a cycle conflict's two; the root's tag or none.
        let fenceSets = [[], [InvalidationMessage.Fence(ref: "Product#p-1", version: 3)], [
            InvalidationMessage.Fence(ref: "Product#p-1", version: 3), InvalidationMessage.Fence(ref: text, version: 9),
        ]]
        for fences in fenceSets {
            for tag in [nil, "Product#p-1", text] {
                for kind in [InvalidationMessage.Kind.invalidate, .resolve] {
                    let expected = InvalidationMessage(
                        kind: kind, cause: cause, keys: keys.map { .init(key: $0.0, depth: $0.1) }, tags: tag.map { [$0] } ?? [],
                        fences: fences
                    ).encoded()
                    let written = spans.withUnsafeBufferPointer {
                        InvalidationMessage.fastEncoded(
                            head: .init(kind: kind, cause: cause, fences: fences), keyBytes: names, keys: $0, tag: tag)
                    }
                    #expect(written == expected, "\(String(decoding: expected, as: UTF8.self))")
                }
            }
        }
    }

    @Test("ledger records: same bytes as JSONEncoder", arguments: awkward)
    func ledger(text: String) {
        let record = LedgerRecord(entity: "Order", id: text, version: 7, origin: text, atMillis: 0, eventID: text, digest: UInt64.max - 1)
        #expect(record.fastEncoded() == record.encoded(), "\(String(decoding: record.encoded(), as: UTF8.self))")
    }
}
