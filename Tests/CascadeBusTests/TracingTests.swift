import CascadeBus
import CascadeGraph
import CascadeTestSupport
@testable import CascadeTracing
import CascadeWire
import Foundation
import Testing
import Tracing

@Suite("W3C traceparent: what is accepted")
struct TraceparentTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidOneIsKeptWithItsParts() throws {
        let parsed = try #require(Traceparent(Self.valid))
        #expect(parsed.value == Self.valid)
        #expect(parsed.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(parsed.parentID == "00f067aa0ba902b7")
        #expect(parsed.sampled)
        #expect(Traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        #expect(Traceparent(bytes: Array(Self.valid.utf8)) == parsed)
    }

    @Test func aLaterVersionIsReadAsVersionZero() {
        #expect(Traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")?.value == Self.valid)
    }

    @Test(arguments: [
        "", "garbage", "00", String(valid.dropLast()), valid + "0", valid + "-more",
        valid.uppercased(), "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7\u{0}01",
        "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
    ])
    func malformedOnesAreRefused(text: String) {
        #expect(Traceparent(text) == nil)
    }

    @Test func randomBytesNeverCrashIt() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef-".utf8) + [0, 0xFF, 0x41]
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 50...60, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            if let parsed = Traceparent(bytes: bytes) { #expect(Traceparent(parsed.value) == parsed) }
        }
    }
}

@Suite("Traces through the bus's pipeline")
struct PipelineTracingTests {
    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    private func fixture(tracing: SpanStarter?) throws -> (EventProcessor, Topics) {
        let loaded = try GraphLoader.load(directory: CascadeBinary.packageRoot.appendingPathComponent("graph").path)
        let graph = try #require(loaded.graph)
        let topics = Topics()
        let processor = EventProcessor(
            graph: graph, index: InstanceIndex(graph: graph), ledger: Ledger(), topics: topics,
            sourceDecoders: ["shop.cloudevents": CloudEventsDecoder(entities: graph.entityNames)], tracing: tracing)
        return (processor, topics)
    }

    private func process(
        _ processor: EventProcessor, id: String, version: UInt64, headers: [SourceMessage.Header] = [], topic: String = "cascade.events",
        value: [UInt8]? = nil
    ) -> ProcessingResult {
        processor.process(
            key: nil, value: value ?? PipelineFixture.event("Product", id, version: version), headers: headers,
            source: SourcePosition(topic: topic, partition: 2, offset: 41), nowMillis: 1000)
    }

    /// The causes of the invalidation messages of a result, read back as a node reads them.
    private func causes(_ result: ProcessingResult) throws -> [InvalidationMessage.Cause] {
        try result.messages.filter { $0.topic.hasPrefix("cascade.inval.") }.map { try InvalidationBatch.decode($0.value ?? []) }
            .flatMap { $0.map(\.cause) }
    }

    @Test("A sampled traceparent header: a resolve span, child of it, whose context every invalidation carries")
    func sampledHeaderMakesAChildSpan() throws {
        let tracer = W3CTestTracer()
        let (processor, _) = try fixture(tracing: SpanStarter(tracer: tracer, samplingRatio: 0))
        let result = process(processor, id: "p-1", version: 1, headers: [.init("traceparent", Array(Self.parent.utf8))])
        #expect(result.outcome == .invalidated)
        let span = try #require(tracer.spans.only)
        #expect(span.name == "cascade.bus.resolve")
        #expect(span.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.parentSpanID == "00f067aa0ba902b7")
        #expect(span.attributes["cascade.event.ref"]?.toSpanAttribute() == .string("Product#p-1"))
        #expect(span.attributes["messaging.kafka.offset"]?.toSpanAttribute() == .int64(41))
        let keys = result.fanOut.reduce(0) { $0 + $1.keys }
        #expect(keys > 0)
        #expect(span.attributes["cascade.keys"]?.toSpanAttribute() == .int64(Int64(keys)))
        #expect(span.attributes["cascade.services"]?.toSpanAttribute() == .stringArray(result.fanOut.map(\.service)))
        let carried = try causes(result)
        #expect(!carried.isEmpty)
        #expect(carried.allSatisfy { $0.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-\(span.spanID)-01" })
    }

    @Test("Tracing off: the event's traceparent is carried on unchanged, no span")
    func offCarriesTheEventsOwn() throws {
        let (processor, _) = try fixture(tracing: nil)
        let result = process(processor, id: "p-1", version: 1, headers: [.init("traceparent", Array(Self.parent.utf8))])
        let carried = try causes(result)
        #expect(!carried.isEmpty && carried.allSatisfy { $0.traceparent == Self.parent })
        // And without one, none.
        let plain = process(processor, id: "p-2", version: 1)
        #expect(try causes(plain).allSatisfy { $0.traceparent == nil })
    }

    @Test("A malformed or unsampled traceparent: the event is processed as without one; sampling 0 starts no span",
          arguments: ["garbage", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"])
    func malformedIsIgnored(header: String) throws {
        let tracer = W3CTestTracer()
        let (processor, _) = try fixture(tracing: SpanStarter(tracer: tracer, samplingRatio: 0))
        let result = process(processor, id: "p-1", version: 1, headers: [.init("traceparent", Array(header.utf8)), .init("other", nil)])
        #expect(result.outcome == .invalidated)
        #expect(tracer.spans.isEmpty)
        let unsampled = header.hasSuffix("-00")
        #expect(try causes(result).allSatisfy { $0.traceparent == (unsampled ? header : nil) })
    }

    @Test("Events without a trace are traced at the sampling ratio: all at 1, as root spans")
    func samplingRatioOne() throws {
        let tracer = W3CTestTracer()
        let (processor, _) = try fixture(tracing: SpanStarter(tracer: tracer, samplingRatio: 1))
        for index in 0..<5 { _ = process(processor, id: "p-\(index)", version: 1) }
        #expect(tracer.spans.count == 5)
        #expect(tracer.spans.allSatisfy { $0.parentSpanID == nil })
    }

    @Test("CloudEvents: the traceparent extension (structured) and ce_traceparent (binary) are continued")
    func cloudEventsExtension() throws {
        let tracer = W3CTestTracer()
        let (processor, _) = try fixture(tracing: SpanStarter(tracer: tracer, samplingRatio: 0))
        let structured = #"{"specversion":"1.0","type":"com.shop.product.updated","source":"/s","id":"ce-1","subject":"p-3","sequence":"7","traceparent":"\#(Self.parent)","data":{}}"#
        _ = process(processor, id: "p-3", version: 7, topic: "shop.cloudevents", value: Array(structured.utf8))
        _ = process(
            processor, id: "p-4", version: 1,
            headers: [
                .init("ce_specversion", Array("1.0".utf8)), .init("ce_type", Array("com.shop.product.updated".utf8)),
                .init("ce_source", Array("/s".utf8)), .init("ce_id", Array("ce-2".utf8)), .init("ce_subject", Array("p-4".utf8)),
                .init("ce_sequence", Array("1".utf8)), .init("ce_traceparent", Array(Self.parent.utf8)),
            ],
            topic: "shop.cloudevents", value: Array("{}".utf8))
        // A traceparent of another type in a structured event is no reason to dead-letter it.
        let odd = #"{"specversion":"1.0","type":"com.shop.product.updated","source":"/s","id":"ce-3","subject":"p-5","sequence":"1","traceparent":42}"#
        let oddResult = process(processor, id: "p-5", version: 1, topic: "shop.cloudevents", value: Array(odd.utf8))
        #expect(oddResult.outcome == .invalidated)
        #expect(tracer.spans.count == 2)
        #expect(tracer.spans.allSatisfy { $0.parentSpanID == "00f067aa0ba902b7" && $0.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" })
    }
}

extension Array {
    fileprivate var only: Element? { count == 1 ? first : nil }
}

@Suite("Sampling draws")
struct SamplingDrawsTests {
    @Test("uniform in [0, 1): a 1% ratio samples about 1% of 100,000 draws, from any seed")
    func onePercentIsAboutOnePercent() {
        for seed: UInt64 in [0, 1, 0xdead_beef, .max] {
            let draws = SamplingDraws(seed: seed)
            var sampled = 0
            var lowest = 1.0
            var highest = 0.0
            for _ in 0..<100_000 {
                let draw = draws.next()
                if draw < 0.01 { sampled += 1 }
                lowest = min(lowest, draw)
                highest = max(highest, draw)
            }
            #expect((800...1200).contains(sampled), "seed \(seed): \(sampled) of 100,000 below 0.01")
            #expect(lowest >= 0 && lowest < 0.001 && highest < 1 && highest > 0.999)
        }
    }
}
