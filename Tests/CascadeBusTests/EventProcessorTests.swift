import CascadeBus
import CascadeTestSupport
import CascadeWire
import Testing

@Suite("The pipeline core: events in, messages out, no broker")
struct EventProcessorTests {
    @Test("a Product event invalidates primary, secondary and bound keys, nothing for unrelated services")
    func exampleGraphFanOut() throws {
        let fixture = try PipelineFixture()
        let result = fixture.process(PipelineFixture.event("Product", "p-17", version: 42, attrs: ["category": "shoes"]))
        #expect(result.outcome == .invalidated)
        let messages = try PipelineFixture.invalidations(result)
        #expect(Set(messages.keys) == ["product-service", "analytics-service", "order-service"])
        #expect(messages["user-service"] == nil, "user-service caches nothing that depends on Product")
        let product = try #require(messages["product-service"]?.first)
        #expect(Set(product.keys.map(\.key)) == ["product:p-17", "product:p-17:page", "category:shoes:listing"])
        #expect(product.keys.first { $0.key == "product:p-17:page" }?.depth == 2)
        #expect(product.tags == ["Product#p-17"])
        #expect(product.fences == [.init(ref: "Product#p-17", version: 42)])
        let analytics = try #require(messages["analytics-service"]?.first)
        #expect(Set(analytics.keys.map(\.key)) == ["stats:product:p-17", "report:category:shoes"])
        // order-service depends on Product through tags only: the tag, no keys yet.
        #expect(messages["order-service"]?.first?.keys == [])
        #expect(result.messages.contains { $0.topic == "cascade.ledger" })
    }

    @Test("through the user/order cycle: each key once, at its shortest depth")
    func throughTheCycle() throws {
        let fixture = try PipelineFixture()
        let index = fixture.processor.index
        index.register(CacheKeyRef(service: "order-service", key: "order:9:summary"), dependencies: [.key(CacheKeyRef(service: "user-service", key: "user:u-3:profile"))])
        index.register(CacheKeyRef(service: "order-service", key: "user:u-3:orders"), dependencies: [.key(CacheKeyRef(service: "order-service", key: "order:9:summary"))])
        let result = fixture.process(PipelineFixture.event("User", "u-3", version: 2, origin: "user-service", attrs: ["country": "fr"]))
        #expect(result.throughCycle)
        let messages = try PipelineFixture.invalidations(result)
        let user = try #require(messages["user-service"]?.first).keys.map(\.key)
        let order = try #require(messages["order-service"]?.first).keys.map(\.key)
        #expect(Set(user) == ["user:u-3:profile", "session:u-3", "users:country:fr"])
        #expect(Set(order) == ["order:9:summary", "user:u-3:orders"])
        #expect(user.count == Set(user).count && order.count == Set(order).count, "each key once")
        #expect(messages["product-service"] == nil && messages["analytics-service"] == nil)
    }

    @Test("a family that depends on itself is a cycle too: the cascade counts as through one")
    func selfDependentFamilyIsACycle() throws {
        let graph = try TempDirectory([
            "owner.yaml": """
                service: owner
                tier: standard
                owns:
                  A: {}
                caches: {}
                """,
            "tree.yaml": """
                service: tree
                tier: standard
                caches:
                  subtree:
                    key: "subtree:{aId}"
                    ttl: 1m
                    depends_on:
                      - entity: A
                        bind: {aId: id}
                      - cache: subtree
                        via: tags
                """,
        ])
        defer { graph.remove() }
        let fixture = try PipelineFixture(directory: graph.directory)
        let result = fixture.process(PipelineFixture.event("A", "a-1", version: 1, origin: "owner"))
        #expect(result.outcome == .invalidated)
        #expect(result.throughCycle)
    }

    @Test("a registration cycle across three services terminates with each key once")
    func registrationCycle() throws {
        let fixture = try PipelineFixture()
        let index = fixture.processor.index
        let a = CacheKeyRef(service: "order-service", key: "order:1:summary")
        let b = CacheKeyRef(service: "analytics-service", key: "top-products")
        let c = CacheKeyRef(service: "user-service", key: "user:u-1:profile")
        index.register(a, dependencies: [.entity(EntityRef(entity: "Product", id: "p-1"), version: nil), .key(c)])
        index.register(b, dependencies: [.key(a)])
        index.register(c, dependencies: [.key(b)])
        let result = fixture.process(PipelineFixture.event("Product", "p-1", version: 1, attrs: ["category": "c"]))
        let all = try PipelineFixture.invalidations(result).flatMap { service, messages in messages.flatMap { $0.keys.map { "\(service)/\($0.key)" } } }
        #expect(all.count == Set(all).count)
        #expect(Set(all).isSuperset(of: [a.description, b.description, c.description]))
    }

    @Test("out of order: version 5 after 7 is late and never regresses the fence")
    func outOfOrder() throws {
        let fixture = try PipelineFixture()
        _ = fixture.process(PipelineFixture.event("Product", "p-2", version: 7, attrs: ["category": "c"]))
        let late = fixture.process(PipelineFixture.event("Product", "p-2", version: 5, attrs: ["category": "c"]))
        #expect(late.outcome == .late)
        #expect(!late.messages.contains { $0.topic == "cascade.ledger" })
        for message in try PipelineFixture.invalidations(late).values.flatMap({ $0 }) {
            #expect(message.fences.allSatisfy { $0.version == 7 })
        }
        #expect(fixture.processor.ledger.entry("Product#p-2")?.record.version == 7)
    }

    @Test("a redelivered event is a duplicate: same cascade again, no conflict")
    func redelivery() throws {
        let fixture = try PipelineFixture()
        let event = PipelineFixture.event("Product", "p-3", version: 3, attrs: ["category": "c"])
        _ = fixture.process(event)
        let again = fixture.process(event)
        #expect(again.outcome == .duplicate)
        #expect(!again.messages.contains { $0.topic == "cascade.conflicts" })
    }

    @Test("conflict: the same winner whichever arrives first, a record, resolve messages")
    func conflictsAreDeterministic() throws {
        let first = PipelineFixture.event("Order", "o-1", version: 4, origin: "order-service", at: "2026-11-25T16:00:00.000Z", attrs: ["userId": "u-1"])
        let second = PipelineFixture.event("Order", "o-1", version: 4, origin: "backfill", at: "2026-11-25T16:00:01.000Z", attrs: ["userId": "u-2"])
        var winners: [String] = []
        for order in [[first, second], [second, first]] {
            let fixture = try PipelineFixture()
            _ = fixture.process(order[0])
            let result = fixture.process(order[1])
            #expect(result.outcome == .conflict)
            let record = try ConflictRecord.decode(try #require(result.messages.first { $0.topic == "cascade.conflicts" }?.value))
            #expect(record.policy == "highest-version")
            winners.append(record.winner.origin)
            let resolves = try PipelineFixture.invalidations(result).values.flatMap { $0 }
            #expect(!resolves.isEmpty && resolves.allSatisfy { $0.kind == .resolve && $0.cause.version == 4 })
            #expect(fixture.processor.ledger.entry("Order#o-1")?.record.origin == record.winner.origin)
        }
        #expect(winners == ["backfill", "backfill"], "latest `at` wins at equal versions")
    }

    @Test("bad input goes to the dead-letter topic with its reason", arguments: [
        ("{not json", "bad-json"), ("[1,2]", "not-object"), ("{\"id\":\"1\",\"op\":\"update\",\"version\":1,\"origin\":\"o\"}", "missing-field"),
        ("{\"entity\":5,\"id\":\"1\",\"op\":\"update\",\"version\":1,\"origin\":\"o\"}", "wrong-type"),
        ("{\"entity\":\"Product\",\"id\":\"1\",\"op\":\"upsert\",\"version\":1,\"origin\":\"o\"}", "bad-op"),
        ("{\"entity\":\"Product\",\"id\":\"1\",\"op\":\"update\",\"version\":\"7\",\"origin\":\"o\"}", "bad-version"),
        ("{\"entity\":\"Product\",\"id\":\"1\",\"op\":\"update\",\"version\":-1,\"origin\":\"o\"}", "bad-version"),
        ("{\"entity\":\"Ghost\",\"id\":\"1\",\"op\":\"update\",\"version\":1,\"origin\":\"o\"}", "unknown-entity"),
        ("{\"entity\":\"Product\",\"id\":\"1\",\"op\":\"update\",\"version\":1,\"origin\":\"o\",\"at\":\"yesterday\"}", "bad-time"),
        ("", "empty"), (String(repeating: " ", count: 70_000), "oversize"),
    ])
    func deadLetters(input: String, kind: String) throws {
        let fixture = try PipelineFixture()
        let result = fixture.process(Array(input.utf8), key: "the-key")
        #expect(result.outcome == .deadLetter(kind: kind))
        let message = try #require(result.messages.first)
        #expect(message.topic == "cascade.dlq" && message.keyString == "the-key" && message.value == Array(input.utf8))
        #expect(message.headers.contains { $0.name == "cascade-reason" && $0.value == Array(kind.utf8) })
        #expect(message.headers.contains { $0.name == "cascade-detail" && !$0.value.isEmpty })
    }

    @Test("a dead letter always fits a Kafka message: a 1 MB event is cut, and the headers say so")
    func oversizeDeadLetterIsCut() throws {
        let huge = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let result = try PipelineFixture().process(huge, key: String(repeating: "k", count: 100_000))
        #expect(result.outcome == .deadLetter(kind: "oversize"))
        let message = try #require(result.messages.first)
        let size = (message.value?.count ?? 0) + (message.key?.count ?? 0) + message.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.count }
        #expect(size < 1_000_000, "\(size) bytes with key and headers: below the default message.max.bytes")
        #expect(message.value == Array(huge.prefix(512 * 1024)))
        func header(_ name: String) -> String? {
            message.headers.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
        }
        #expect(header("cascade-original-bytes") == "1048576")
        #expect(header("cascade-original-key-bytes") == "100000")
        #expect(header("cascade-truncated") == "value,key")
        #expect(header("cascade-reason") == "oversize")
    }

    @Test("an event whose message key is not its Entity#id goes to the dead-letter topic; its own key or none is fine")
    func keyMustNameTheEvent() throws {
        let fixture = try PipelineFixture()
        let event = PipelineFixture.event("Product", "p-1", version: 1)
        #expect(fixture.process(event, key: "Product#p-2").outcome == .deadLetter(kind: "key-mismatch"))
        #expect(fixture.process(event, key: "Product#p-1").outcome == .invalidated)
        #expect(fixture.process(PipelineFixture.event("Product", "p-1", version: 2)).outcome == .invalidated)
    }

    @Test("a tombstone goes to the dead-letter topic")
    func tombstone() throws {
        let result = try PipelineFixture().process(nil)
        #expect(result.outcome == .deadLetter(kind: "tombstone"))
    }
}

@Suite("Late events that carry news")
struct LateConflictTests {
    @Test("version 5 from another origin after 7 is a conflict: recorded, resolved, fence stays at 7")
    func lateFromAnotherOrigin() throws {
        let fixture = try PipelineFixture()
        _ = fixture.process(PipelineFixture.event("Product", "p-8", version: 7, origin: "product-service", attrs: ["category": "c"]))
        let late = fixture.process(PipelineFixture.event("Product", "p-8", version: 5, origin: "import-job", attrs: ["category": "c"]))
        #expect(late.outcome == .lateConflict)
        #expect(late.messages.contains { $0.topic == "cascade.conflicts" })
        #expect(!late.messages.contains { $0.topic == "cascade.ledger" }, "the ledger never goes back")
        let messages = try PipelineFixture.invalidations(late).values.flatMap { $0 }
        #expect(!messages.isEmpty)
        for message in messages {
            #expect(message.kind == .resolve)
            #expect(message.fences.allSatisfy { $0.version == 7 })
        }
        #expect(fixture.processor.ledger.entry("Product#p-8")?.record.version == 7)
    }

    @Test("a late redelivery from the same origin, written no later, stays a plain late event")
    func lateFromSameOrigin() throws {
        let fixture = try PipelineFixture()
        _ = fixture.process(PipelineFixture.event("Product", "p-9", version: 7, at: "2026-11-25T16:00:02Z", attrs: ["category": "c"]))
        let late = fixture.process(PipelineFixture.event("Product", "p-9", version: 5, at: "2026-11-25T16:00:01Z", attrs: ["category": "c"]))
        #expect(late.outcome == .late)
        #expect(!late.messages.contains { $0.topic == "cascade.conflicts" })
    }
}
