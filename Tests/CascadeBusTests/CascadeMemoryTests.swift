@testable import CascadeBus
import CascadeGraph
import CascadeWire
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The bus's bounded memory of recent cascades, which `cascade why` reads through `GET /why`.
@Suite("Memory of cascades: bounded bytes, oldest forgotten, last invalidations newest first, paths")
struct CascadeMemoryTests {
    /// Product#p-1 ← product-service/a ← order-service/b ← analytics-service/c: a depth-3 chain of registrations.
    private func chain() throws -> PipelineFixture {
        let fixture = try PipelineFixture()
        let index = fixture.processor.index
        let a = CacheKeyRef(service: "product-service", key: "a")
        let b = CacheKeyRef(service: "order-service", key: "b")
        index.register(a, dependencies: [.entity(EntityRef(entity: "Product", id: "p-1"), version: 1)])
        index.register(b, dependencies: [.key(a)])
        index.register(CacheKeyRef(service: "analytics-service", key: "c"), dependencies: [.key(b)])
        return fixture
    }

    private func root(version: UInt64, offset: Int64 = 0, at: Int64 = 1000) -> CascadeMemory.Root {
        .init(entity: "Product", id: "p-1", version: version, eventID: "e-\(version)", topic: "cascade.events", partition: 0,
              offset: offset, consumedMillis: at)
    }

    @Test func namesTheRootAndEveryHopOfADepthThreeChain() throws {
        let fixture = try chain()
        let memory = CascadeMemory()
        let closure = fixture.processor.index.closure(of: EntityRef(entity: "Product", id: "p-1"))
        memory.remember(root(version: 2), closure: closure)
        let found = memory.invalidations(of: "analytics-service/c")
        #expect(found.count == 1)
        let invalidation = try #require(found.first)
        #expect(invalidation.cause.eventID == "e-2" && invalidation.cause.version == 2)
        #expect(invalidation.depth == 3)
        #expect(invalidation.path.map(\.key) == ["product-service/a", "order-service/b", "analytics-service/c"])
        #expect(invalidation.path.map(\.depth) == [1, 2, 3])
        #expect(invalidation.path.allSatisfy { $0.reason == "registered" || $0.reason == "undeclared" })
        #expect(memory.invalidations(of: "analytics-service/nothing").isEmpty)
    }

    @Test func givesTheLastFiveNewestFirst() throws {
        let fixture = try chain()
        let memory = CascadeMemory()
        for version in 1...7 as ClosedRange<UInt64> {
            memory.remember(root(version: version, offset: Int64(version)), closure: fixture.processor.index.closure(of: EntityRef(entity: "Product", id: "p-1")))
        }
        #expect(memory.invalidations(of: "order-service/b").map(\.cause.version) == [7, 6, 5, 4, 3])
        #expect(memory.invalidations(of: "order-service/b", limit: 10).map(\.cause.version) == [7, 6, 5, 4, 3, 2, 1])
    }

    @Test func staysWithinItsBoundForgettingTheOldestFirst() throws {
        let fixture = try chain()
        let closure = fixture.processor.index.closure(of: EntityRef(entity: "Product", id: "p-1"))
        let cost = CascadeMemory.cost(of: closure)
        // Room for ten cascades and a half.
        let memory = CascadeMemory(maxBytes: cost * 21 / 2)
        for version in 1...100 as ClosedRange<UInt64> {
            memory.remember(root(version: version, offset: Int64(version)), closure: closure)
            #expect(memory.bytes <= memory.maxBytes)
        }
        // Ten fit; one fewer where a record would wrap the ring's end and starts over at its start.
        #expect((9...10).contains(memory.count))
        let remembered = memory.invalidations(of: "product-service/a", limit: 100).map(\.cause.version)
        #expect(remembered == Array((UInt64(101 - memory.count)...100).reversed()))
        // A cascade larger than the whole bound is not kept (and forgets nothing).
        let tiny = CascadeMemory(maxBytes: cost - 1)
        tiny.remember(root(version: 1), closure: closure)
        #expect(tiny.count == 0 && tiny.bytes == 0)
    }

    @Test func keepsTheLastDeadLettersByKey() {
        let memory = CascadeMemory(maxDeadLetters: 3)
        for offset in 0..<5 as Range<Int64> {
            memory.rememberDeadLetter(.init(
                key: offset % 2 == 0 ? "Product#p-1" : "Product#p-2", reason: "bad-json", topic: "cascade.events", partition: 0,
                offset: offset, atMillis: 1000 + offset))
        }
        #expect(memory.deadLetters(keyedBy: ["Product#p-1"]).map(\.offset) == [4, 2])
        #expect(memory.deadLetters(keyedBy: ["Product#p-2"]).map(\.offset) == [3])
    }

    @Test func readsTheTraceIDOfATraceparent() {
        let valid = Array("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".utf8)
        #expect(CascadeMemory.traceID(traceparent: valid) == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(CascadeMemory.traceID(traceparent: Array("00-00000000000000000000000000000000-00f067aa0ba902b7-01".utf8)) == nil)
        #expect(CascadeMemory.traceID(traceparent: Array("not a traceparent".utf8)) == nil)
        #expect(CascadeMemory.traceID(traceparent: Array("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".utf8)) == nil)
    }

    @Test func whyServesTheMemoryAndRefusesAMalformedKey() async throws {
        let fixture = try chain()
        fixture.processor.cascades.remember(root(version: 2), closure: fixture.processor.index.closure(of: EntityRef(entity: "Product", id: "p-1")))
        let app = Application(router: buildRouter(AdminContextSource(processor: fixture.processor, metrics: BusMetrics(), isReady: { true })))
        try await app.test(.router) { client in
            try await client.execute(uri: "/why?key=analytics-service/c", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(body?["service"] as? String == "analytics-service" && body?["key"] as? String == "c")
                #expect(body?["deps"] as? [String] == ["order-service/b"])
                let invalidations = body?["invalidations"] as? [[String: Any]]
                #expect(invalidations?.count == 1)
                #expect((invalidations?.first?["path"] as? [[String: Any]])?.count == 3)
            }
            for bad in ["/why", "/why?key=nokey", "/why?key=/k", "/why?key=svc/", "/why?key=a/b&limit=0"] {
                try await client.execute(uri: bad, method: .get) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                }
            }
        }
    }
}
