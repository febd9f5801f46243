import Foundation
import Testing

@testable import CascadeWire

@Suite("Invalidation batches read without JSONDecoder, exactly as the Codable path reads them")
struct InvalidationBatchReaderTests {
    /// The Codable reading, for comparison.
    private struct Envelope: Codable, Equatable {
        var invalidations: [InvalidationMessage]
        var watermark: SourceWatermark?
    }

    private func codable(_ bytes: [UInt8]) throws -> Envelope { try WireJSON.decode(Envelope.self, bytes) }

    @Test func batchesTheBusWritesTakeTheFastPathAndMatch() throws {
        var random = SystemRandomNumberGenerator()
        let odd = ["plain", "quote\"d", "back\\slash", "tab\tnew\nline", "ünïcødé/✓", "ctl\u{01}", ""]
        for round in 0..<300 {
            let messages = (0..<Int.random(in: 0...4, using: &random)).map { index in
                InvalidationMessage(
                    kind: index % 2 == 0 ? .invalidate : .resolve,
                    cause: .init(
                        eventID: odd.randomElement()!, entity: "E\(round)", id: odd.randomElement()!,
                        version: UInt64.random(in: 0...UInt64(Int64.max), using: &random),
                        atMillis: Int64.random(in: Int64.min...Int64.max, using: &random),
                        // The trace is optional: a bus without one writes none, older nodes skip it.
                        traceparent: round % 3 == 1 ? nil : odd.randomElement()!),
                    keys: (0..<Int.random(in: 0...5, using: &random)).map { .init(key: odd.randomElement()! + "\($0)", depth: $0) },
                    tags: (0..<Int.random(in: 0...2, using: &random)).map { _ in odd.randomElement()! },
                    fences: (0..<Int.random(in: 0...2, using: &random)).map { .init(ref: odd.randomElement()!, version: UInt64($0)) })
            }
            let watermark = round % 3 == 0 ? nil : SourceWatermark(partition: Int32(round), through: Int64(round) * 7, atMillis: -1)
            let bytes = InvalidationBatch.encode(messages, watermark: watermark)
            let fast = try #require(InvalidationBatchReader.read(bytes), "round \(round): \(String(decoding: bytes, as: UTF8.self))")
            #expect(fast.invalidations == messages && fast.watermark == watermark)
            #expect(try codable(bytes) == Envelope(invalidations: fast.invalidations, watermark: fast.watermark))
        }
    }

    @Test(arguments: [
        // Space, another field order, unknown fields and a null watermark.
        #" { "watermark" : null , "invalidations" : [ { "tags" : [ "T#1" ] , "extra" : { "a" : [1, 2] } , "kind" : "resolve" , "fences" : [ { "version" : 4 , "ref" : "T#1" } ] , "keys" : [ { "key" : "k\u00e9" , "depth" : 2 } ] , "cause" : { "version" : 4 , "id" : "1" , "entity" : "T" , "event_id" : "e" , "at_ms" : -5 , "more" : true } } ] } "#,
        #"{"invalidations":[],"watermark":{"at_ms":1,"through":2,"partition":3}}"#,
    ])
    func otherSpellingsOfTheSameShapeMatch(text: String) throws {
        let bytes = Array(text.utf8)
        let fast = try #require(InvalidationBatchReader.read(bytes))
        #expect(try codable(bytes) == Envelope(invalidations: fast.invalidations, watermark: fast.watermark))
    }

    @Test(arguments: [
        // What the fast path leaves to Codable: a bare message, a version past Int64, a float
        // depth, a missing field, a string where a number goes, and broken JSON.
        #"{"cause":{"at_ms":1,"entity":"E","event_id":"e","id":"1","version":1},"fences":[],"keys":[],"kind":"invalidate","tags":[]}"#,
        #"{"invalidations":[{"cause":{"at_ms":1,"entity":"E","event_id":"e","id":"1","version":18446744073709551615},"fences":[],"keys":[],"kind":"invalidate","tags":[]}]}"#,
        #"{"invalidations":[{"cause":{"at_ms":1,"entity":"E","event_id":"e","id":"1","version":1},"fences":[],"keys":[{"key":"k","depth":1.0}],"kind":"invalidate","tags":[]}]}"#,
        #"{"invalidations":[{"cause":{"at_ms":1,"entity":"E","event_id":"e","id":"1"},"fences":[],"keys":[],"kind":"invalidate","tags":[]}]}"#,
        #"{"invalidations":[{"cause":{"at_ms":"1","entity":"E","event_id":"e","id":"1","version":1},"fences":[],"keys":[],"kind":"invalidate","tags":[]}]}"#,
        #"{"invalidations":[{"cause":"#,
    ])
    func anythingElseIsLeftToCodable(text: String) throws {
        let bytes = Array(text.utf8)
        #expect(InvalidationBatchReader.read(bytes) == nil)
        // And the public reading still answers as before: the Codable result or its error.
        let viaPublic = Result { try InvalidationBatch.read(bytes) }
        let viaCodable = Result { try codable(bytes) }
        switch (viaPublic, viaCodable) {
        case (.success(let read), .success(let envelope)):
            #expect(read.invalidations == envelope.invalidations && read.watermark == envelope.watermark)
        case (.success(let read), .failure):
            // A bare message.
            #expect(read.invalidations.count == 1 && read.watermark == nil)
        case (.failure, .failure): break
        case (.failure(let error), .success): Issue.record("the fast path lost a batch Codable reads: \(error)")
        }
    }
}
