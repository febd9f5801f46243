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

    @Test("ledger records: same bytes as JSONEncoder", arguments: awkward)
    func ledger(text: String) {
        let record = LedgerRecord(entity: "Order", id: text, version: 7, origin: text, atMillis: 0, eventID: text, digest: UInt64.max - 1)
        #expect(record.fastEncoded() == record.encoded(), "\(String(decoding: record.encoded(), as: UTF8.self))")
    }
}
