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
        try await runStream { kafka, bus, sent in
            #expect(try await eventually(timeout: .seconds(60)) { sent() >= Self.eventCount / 3 })
            bus.signal(SIGKILL)
            _ = try? await bus.awaitExit()
            return try await startBus(kafka)
        }
    }

    @Test("broker down for a few seconds mid-stream: nothing missing")
    func brokerDown() async throws {
        try await runStream { kafka, bus, sent in
            #expect(try await eventually(timeout: .seconds(60)) { sent() >= Self.eventCount / 3 })
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

    private func runStream(
        disrupt: @escaping @Sendable (EmbeddedKafka, ChildProcess, @escaping @Sendable () -> Int) async throws -> ChildProcess
    ) async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 4)
        defer { kafka.shutdown() }
        let topics = Topics()
        for topic in [topics.events, topics.deps, topics.ledger, topics.invalidations(service: "product-service")] {
            try kafka.createTopic(topic, partitions: 4)
        }
        let bus = try await startBus(kafka)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers))
        let sent = Counter()
        let streaming = Task {
            for index in 0..<Self.eventCount {
                let event = DomainEvent(
                    ref: EntityRef(entity: "Product", id: "p-\(index)"), op: .update, version: 1, origin: "product-service",
                    attrs: ["category": "c\(index % 10)"], eventID: "e-\(index)")
                try await producer.send(topic: topics.events, key: event.kafkaKey, value: JSONEventEncoder.encode(event))
                sent.add()
            }
        }
        let current = try await disrupt(kafka, bus, { sent.value })
        try await streaming.value
        await producer.shutdown()

        // Every event's primary key must be on product-service's topic.
        let reader = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers),
            subscription: .allPartitions(topics: [topics.invalidations(service: "product-service")], from: .beginning))
        var missing = Set((0..<Self.eventCount).map { "product:p-\($0)" })
        let deadline = ContinuousClock.now + .seconds(180)
        for await event in reader.events {
            if case .messages(let batch) = event {
                for message in batch {
                    guard let bytes = message.valueBytes, let decoded = try? InvalidationMessage.decode(bytes) else { continue }
                    for target in decoded.keys { missing.remove(target.key) }
                }
            }
            if missing.isEmpty || ContinuousClock.now > deadline { break }
        }
        await reader.shutdown()
        current.signal(SIGTERM)
        _ = try? await current.awaitExit()
        #expect(missing.isEmpty, "\(missing.count) events have no invalidation, e.g. \(missing.prefix(5))")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
