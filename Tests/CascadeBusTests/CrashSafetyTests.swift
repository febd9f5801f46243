import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// The real `cascade bus` binary against an in-process broker: no event's invalidations may
/// be missing after a SIGKILL or a broker outage (duplicates are fine).
@Suite("Crash safety: every event's invalidations arrive", .serialized)
struct CrashSafetyTests {
    static let eventCount = 10_000

    @Test("SIGKILL mid-stream, restart: nothing missing")
    func killAndRestart() async throws {
        try await runStream { kafka, bus in
            bus.signal(SIGKILL)
            _ = try? await bus.awaitExit()
            return try await startBus(kafka)
        }
    }

    @Test("broker down for a few seconds mid-stream: nothing missing")
    func brokerDown() async throws {
        try await runStream { kafka, bus in
            kafka.setBrokerDown(1)
            try await Task.sleep(for: .seconds(3))  // the outage itself, not synchronisation
            kafka.setBrokerUp(1)
            return bus
        }
    }

    private func startBus(_ kafka: EmbeddedKafka) async throws -> ChildProcess {
        let bus = try ChildProcess.cascade([
            "bus", "--graph", CascadeBinary.packageRoot.appendingPathComponent("graph").path, "--kafka", kafka.bootstrapServers,
            "--admin-port", "0", "--group", "crash-test", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
            "--log-level", "warning",
        ])
        _ = try await bus.awaitLine(timeout: .seconds(60)) { $0.hasPrefix("cascade bus ready") }
        return bus
    }

    /// Streams the events through the batch path, disrupts once the bus has sent a third of
    /// their invalidations (so it is mid-stream), then waits for every one to be there.
    private func runStream(disrupt: @escaping @Sendable (EmbeddedKafka, ChildProcess) async throws -> ChildProcess) async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        let topics = Topics()
        for topic in [topics.events, topics.deps, topics.ledger, topics.invalidations(service: "product-service")] {
            try kafka.createTopic(topic, partitions: 4)
        }
        let bus = try await startBus(kafka)
        // Every event's primary key must be on product-service's topic.
        let expected = Set((0..<Self.eventCount).map { "product:p-\($0)" })
        let seen = SeenKeys()
        let reader = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers),
            subscription: .allPartitions(topics: [topics.invalidations(service: "product-service")], from: .beginning))
        let reading = Task {
            for await event in reader.events {
                guard case .messages(let batch) = event else { continue }
                for message in batch {
                    guard let bytes = message.valueBytes, let decoded = try? InvalidationBatch.decode(bytes) else { continue }
                    seen.insert(decoded.flatMap(\.keys).map(\.key).filter(expected.contains))
                }
            }
        }
        let failures = Counter()
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)) { deliveries in
            for delivery in deliveries { if case .failure = delivery.result { failures.add() } }
        }
        for index in 0..<Self.eventCount {
            let event = DomainEvent(
                ref: EntityRef(entity: "Product", id: "p-\(index)"), op: .update, version: 1, origin: "product-service",
                attrs: ["category": "c\(index % 10)"], eventID: "e-\(index)")
            try await producer.produce(
                topic: topics.events, key: Array(event.kafkaKey.utf8), value: JSONEventEncoder.encode(event), token: UInt64(index))
        }
        #expect(try await eventually(timeout: .seconds(120)) { seen.count >= Self.eventCount / 3 })
        let current = try await disrupt(kafka, bus)
        #expect(await producer.flush(timeout: .seconds(60)), "every event reached the broker")
        await producer.shutdown()
        #expect(failures.value == 0)

        _ = try await eventually(timeout: .seconds(180)) { seen.missing(from: expected).isEmpty }
        await reader.shutdown()
        await reading.value
        current.signal(SIGTERM)
        _ = try? await current.awaitExit()
        let missing = seen.missing(from: expected)
        #expect(missing.isEmpty, "\(missing.count) events have no invalidation, e.g. \(missing.prefix(5))")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// Keys read so far from an invalidation topic, shared between the reader task and the test.
final class SeenKeys: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: Set<String> = []

    func insert(_ batch: [String]) { lock.withLock { keys.formUnion(batch) } }
    var count: Int { lock.withLock { keys.count } }
    func contains(_ key: String) -> Bool { lock.withLock { keys.contains(key) } }
    func missing(from expected: Set<String>) -> Set<String> { lock.withLock { expected.subtracting(keys) } }
}
