import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// The real `cascade node` wired to a broker: invalidations arrive through Kafka, registrations
/// leave through Kafka, and redis-cli sees the effect.
@Suite("cascade node with Kafka")
struct NodeKafkaTests {
    let kafka: EmbeddedKafka
    let topics = Topics()

    init() throws {
        kafka = try EmbeddedKafka(brokers: 1)
        try kafka.createTopic(topics.invalidations(service: "shop"), partitions: 2)
        try kafka.createTopic(topics.deps, partitions: 2)
    }

    func startNode() async throws -> RunningNode {
        let node = try await RunningNode.start(["--kafka", kafka.bootstrapServers])
        _ = try await node.process.awaitLine { $0.contains("ready") }
        return node
    }

    func invalidate(keys: [String] = [], tags: [String] = [], fence: (String, UInt64)? = nil) async throws {
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers))
        let cause = InvalidationMessage.Cause(eventID: UUID().uuidString, entity: "X", id: "1", version: fence?.1 ?? 1, atMillis: Timestamps.nowMillis())
        let message = InvalidationMessage(
            kind: .invalidate, cause: cause, keys: keys.map { .init(key: $0, depth: 1) }, tags: tags,
            fences: fence.map { [.init(ref: $0.0, version: $0.1)] } ?? [])
        try await producer.send(topic: topics.invalidations(service: "shop"), key: "X#1", value: message.encoded())
        await producer.shutdown()
    }

    func appliedCount(_ node: RunningNode) async throws -> Int {
        let info = try await node.cli("INFO", "cascade")
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("invalidations_applied:") } ?? ""
        return Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }

    @Test("a lease voided by an invalidation through Kafka refuses the stale set")
    func staleSetRace() async throws {
        defer { kafka.shutdown() }
        let node = try await startNode()
        defer { node.process.signal(SIGKILL) }
        let miss = try await node.cli("LEASE.GET", "product:1", "DEPS", "Product#1")
        let token = try #require(miss.split(separator: "\n").last.map(String.init))
        try await invalidate(tags: ["Product#1"])
        #expect(try await eventually { try await appliedCount(node) >= 1 })
        let refused = try await node.cli("LEASE.SET", "product:1", token, "old-value")
        #expect(refused.hasPrefix("STALE"), "got \(refused)")
        #expect(try await node.cli("GET", "product:1") == "")
    }

    @Test("a SET computed from a version below the fence applied through Kafka is refused")
    func fenceRefusesOldVersion() async throws {
        defer { kafka.shutdown() }
        let node = try await startNode()
        defer { node.process.signal(SIGKILL) }
        try await invalidate(tags: ["X#1"], fence: ("X#1", 7))
        #expect(try await eventually { try await appliedCount(node) >= 1 })
        let refused = try await node.cli("SET", "k", "v", "DEPS", "X#1@5")
        #expect(refused.hasPrefix("STALE"), "got \(refused)")
        #expect(try await node.cli("SET", "k", "v", "DEPS", "X#1@7") == "OK")
    }

    @Test("three keys under one tag go with one invalidation, and registrations reach cascade.deps")
    func tagsAndRegistrations() async throws {
        defer { kafka.shutdown() }
        let node = try await startNode()
        defer { node.process.signal(SIGKILL) }
        for key in ["a", "b", "c"] { #expect(try await node.cli("SET", key, "v", "DEPS", "Order#9") == "OK") }
        #expect(try await node.cli("SET", "other", "v", "DEPS", "Order#10") == "OK")
        try await invalidate(tags: ["Order#9"])
        #expect(try await eventually { try await node.cli("DBSIZE") == "1" })
        #expect(try await node.cli("GET", "other") == "v")

        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers),
            subscription: .allPartitions(topics: [topics.deps], from: .beginning))
        var registered: Set<String> = []
        var tombstoned: Set<String> = []
        for await event in consumer.events {
            guard case .messages(let batch) = event else { continue }
            for message in batch {
                guard let key = message.keyString else { continue }
                if message.value == nil { tombstoned.insert(key) } else { registered.insert(key) }
            }
            if registered.count >= 4 && tombstoned.count >= 3 { break }
        }
        await consumer.shutdown()
        #expect(registered == ["shop/a", "shop/b", "shop/c", "shop/other"])
        #expect(tombstoned == ["shop/a", "shop/b", "shop/c"], "invalidated keys are unregistered")
    }
}
