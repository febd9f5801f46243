@testable import CascadeBus
import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Logging
import Testing

/// Reading back from the invalidation topics what the bus instances invalidated since a moment,
/// into the race check's memory, through the embedded broker.
@Suite("Invalidation tail")
struct InvalidationTailTests {
    static func message(_ keys: [String]) -> [UInt8] {
        let cause = InvalidationMessage.Cause(eventID: "e", entity: "Product", id: "p-1", version: 2, atMillis: Timestamps.nowMillis())
        let invalidation = InvalidationMessage(
            kind: .invalidate, cause: cause, keys: keys.map { .init(key: $0, depth: 1) }, tags: [], fences: [])
        return InvalidationBatch.encode([invalidation])
    }

    @Test("keys invalidated at or after the moment are remembered at their message's time; older ones are not")
    func readsBackWhatWasInvalidatedSinceAMoment() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 2)
        defer { kafka.shutdown() }
        let topics = Topics()
        for service in ["catalog", "storefront"] { try kafka.createTopic(topics.invalidations(service: service), partitions: 2) }
        let configuration = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: configuration)
        try await producer.send(topic: topics.invalidations(service: "catalog"), key: "a", value: Self.message(["old:1"]), partition: 0)
        // The moment: after the old message's timestamp, clock slack included.
        let sentOld = Timestamps.nowMillis()
        while Timestamps.nowMillis() <= sentOld + 2 * InvalidationTail.clockSlackMillis { await Task.yield() }
        let since = Timestamps.nowMillis()
        try await producer.send(topic: topics.invalidations(service: "catalog"), key: "b", value: Self.message(["new:1", "new:2"]), partition: 0)
        try await producer.send(topic: topics.invalidations(service: "storefront"), key: "c", value: Self.message(["page:1"]), partition: 1)
        await producer.shutdown()

        let memory = RecentInvalidations(retentionMillis: 60_000, startMillis: since - 10_000)
        let tail = InvalidationTail(
            kafka: configuration, topics: topics, services: ["catalog", "storefront"], logger: Logger(label: "test"))
        let read = try await tail.read(sinceMillis: since, into: memory, timeout: .seconds(10))
        // The embedded broker finds no offset by time: the tail reads back its fallback depth,
        // the old message too, at its own time; coverage is from the moment on all the same.
        #expect(read.messages >= 2 && read.keys >= 3 && read.coveredSinceMillis == since, "\(read)")
        for key in ["catalog/new:1", "catalog/new:2", "storefront/page:1"] {
            let at = memory.lastInvalidated(RecentInvalidations.hash(key))
            #expect(at.map { $0 >= since && $0 <= Timestamps.nowMillis() + InvalidationTail.clockSlackMillis } == true, "\(key) remembered at its message time: \(String(describing: at)), since \(since), old sent \(sentOld)")
        }
        let old = memory.lastInvalidated(RecentInvalidations.hash("catalog/old:1"))
        #expect(old.map { $0 < since } ?? true, "a message before the moment, if read back, keeps its own time")
    }

    @Test("nothing written at all: an empty read that returns at once")
    func nothingSince() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 2)
        defer { kafka.shutdown() }
        let topics = Topics()
        try kafka.createTopic(topics.invalidations(service: "catalog"), partitions: 2)
        let memory = RecentInvalidations(retentionMillis: 60_000, startMillis: 0)
        let tail = InvalidationTail(
            kafka: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers), topics: topics, services: ["catalog"],
            logger: Logger(label: "test"))
        let since = Timestamps.nowMillis()
        #expect(try await tail.read(sinceMillis: since, into: memory, timeout: .seconds(10)) == InvalidationTail.Outcome(coveredSinceMillis: since))
    }

    @Test("a partition read back only from its fallback depth is covered from its first message read on")
    func truncatedReadCoversLess() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 1)
        defer { kafka.shutdown() }
        let topics = Topics()
        try kafka.createTopic(topics.invalidations(service: "catalog"), partitions: 1)
        let configuration = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let since = Timestamps.nowMillis()
        let producer = try KafkaProducer(configuration: configuration)
        for key in ["k:1", "k:2", "k:3"] {
            try await producer.send(topic: topics.invalidations(service: "catalog"), key: key, value: Self.message([key]), partition: 0)
        }
        await producer.shutdown()
        var tail = InvalidationTail(kafka: configuration, topics: topics, services: ["catalog"], logger: Logger(label: "test"))
        tail.fallbackDepth = 1
        let memory = RecentInvalidations(retentionMillis: 60_000, startMillis: since - 10_000)
        let read = try await tail.read(sinceMillis: since, into: memory, timeout: .seconds(10))
        let last = try #require(memory.lastInvalidated(RecentInvalidations.hash("catalog/k:3")))
        #expect(read.messages == 1 && read.coveredSinceMillis == last, "only the last message is read, and coverage starts there: \(read)")
        #expect(memory.lastInvalidated(RecentInvalidations.hash("catalog/k:1")) == nil)
    }

    @Test("a memory that holds nothing yet can be made to cover from earlier; one that holds something cannot")
    func aFreshMemoryCoversFromTheTailsStart() {
        let memory = RecentInvalidations(retentionMillis: 60_000, startMillis: 100_000)
        #expect(memory.coverageStartMillis == 100_000)
        #expect(memory.coverFrom(90_000))
        #expect(memory.coverageStartMillis == 90_000)
        memory.record([7], atMillis: 95_000)
        #expect(memory.lastInvalidated(7) == 95_000, "remembered at its own time, not clamped to the start")
        #expect(!memory.coverFrom(80_000), "not once something is remembered")
        #expect(memory.coverageStartMillis == 90_000)
    }
}
