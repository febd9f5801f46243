@testable import CascadeBus
import CascadeWire
import Testing

@Suite("Event spans: many events' invalidations, one batch per service")
struct EventSpanTests {
    private let partition = OffsetTracker.PartitionKey(topic: "cascade.events", partition: 3)

    @Test("a span of Product events: one batch per service holding every event's message in order; ledger records as they are")
    func batchesPerService() throws {
        let fixture = try PipelineFixture()
        var span = EventSpan(partition: partition, maxBatchBytes: 1 << 20)
        for n in 0..<5 {
            span.add(offset: Int64(10 + n), fixture.process(PipelineFixture.event("Product", "p-\(n)", version: 1, attrs: ["category": "c\(n)"])).messages)
        }
        #expect(span.firstOffset == 10 && span.lastOffset == 14 && span.events == 5)
        let outbound = span.finish()
        let ledger = outbound.filter { $0.topic == "cascade.ledger" }
        #expect(ledger.map(\.keyString) == (0..<5).map { "Product#p-\($0)" })
        let batches = outbound.filter { $0.topic.hasPrefix("cascade.inval.") }
        #expect(Set(batches.map(\.topic)) == ["cascade.inval.product-service", "cascade.inval.analytics-service", "cascade.inval.order-service"])
        #expect(batches.count == 3, "one message per service for the whole span")
        #expect(batches.allSatisfy { $0.keyString == "cascade.events/3" }, "one key per source partition keeps per-entity order")
        let product = try InvalidationBatch.decode(try #require(batches.first { $0.topic == "cascade.inval.product-service" }?.value))
        #expect(product.map(\.cause.id) == (0..<5).map { "p-\($0)" })
        #expect(product[2].keys.map(\.key).contains("product:p-2"))
        #expect(span.finish().isEmpty, "finish empties the span")
    }

    @Test("a batch is sealed before it would pass the byte cap, and nothing is lost")
    func byteCap() throws {
        let fixture = try PipelineFixture()
        let one = fixture.process(PipelineFixture.event("Product", "p-0", version: 1, attrs: ["category": "c"])).messages
        let size = try #require(one.first { $0.topic == "cascade.inval.product-service" }?.value).count
        // The envelope `{"invalidations":[` + `]}` is 20 bytes, plus two commas: room for three.
        let cap = 20 + size * 3 + 2
        var span = EventSpan(partition: partition, maxBatchBytes: cap + 1)
        for n in 0..<10 {
            span.add(offset: Int64(n), fixture.process(PipelineFixture.event("Product", "p-\(n)", version: 1, attrs: ["category": "c"])).messages)
        }
        let product = span.finish().filter { $0.topic == "cascade.inval.product-service" }
        #expect(product.count == 4, "3 + 3 + 3 + 1")
        #expect(product.allSatisfy { ($0.value?.count ?? .max) <= cap + 1 })
        let ids = try product.flatMap { try InvalidationBatch.decode($0.value ?? []) }.map(\.cause.id)
        #expect(ids == (0..<10).map { "p-\($0)" })
    }

    @Test("the batch form decodes to its messages; a bare message decodes as a batch of one; garbage throws")
    func batchWireForm() throws {
        let cause = InvalidationMessage.Cause(eventID: "e", entity: "X", id: "1", version: 2, atMillis: 3)
        let a = InvalidationMessage(kind: .invalidate, cause: cause, keys: [.init(key: "k", depth: 1)], tags: ["X#1"], fences: [.init(ref: "X#1", version: 2)])
        let b = InvalidationMessage(kind: .resolve, cause: cause, keys: [], tags: [], fences: [])
        #expect(try InvalidationBatch.decode(InvalidationBatch.encode([a, b])) == [a, b])
        #expect(try InvalidationBatch.decode(InvalidationBatch.encode([])) == [])
        #expect(try InvalidationBatch.decode(a.encoded()) == [a])
        #expect(throws: (any Error).self) { try InvalidationBatch.decode(Array("{\"invalidations\":".utf8)) }
    }
}
