import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

/// What one run of `cascade bench bus` measures: something that consumes `eventsTopic` as a
/// group member and reports each event once everything it caused is acknowledged.
protocol BenchBusTarget: Sendable {
    var eventsTopic: String { get }
    func start() async throws
    func stop() async
}

/// The real bus core (`BusService`) in this process.
// @unchecked Sendable: its stored properties are immutable references to thread-safe parts.
final class BenchBusUnderTest: BenchBusTarget, @unchecked Sendable {
    let eventsTopic: String
    let bus: BusService
    private let group: ServiceGroup
    private var running: Task<Void, any Error>?

    init(configuration: BusConfiguration, graph: CacheGraph, recorder: BenchBusRecorder, logger: Logger) throws {
        eventsTopic = configuration.topics.events
        bus = try BusService(configuration: configuration, graph: graph, logger: logger) { span in
            recorder.eventsAcknowledged(partition: span.key.partition, offsets: span.offsets, count: span.events)
        }
        group = ServiceGroup(configuration: .init(services: [bus], logger: logger))
    }

    func start() async throws {
        let group = self.group
        running = Task { try await group.run() }
        // The index (from the registrations on the deps topic) and the ledger are rebuilt.
        await bus.awaitReady()
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running?.value
    }
}

/// The baseline: consume, produce one message, commit once acknowledged; no resolution. The
/// same consumer, producer, offset tracking and commit cadence as the bus.
// @unchecked Sendable: its stored properties are immutable references to thread-safe parts.
final class BenchPassThrough: BenchBusTarget, @unchecked Sendable {
    let eventsTopic: String
    private let outputTopic: String
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let tracker = OffsetTracker()
    private var tasks: [Task<Void, Never>] = []
    private let stopping = StopFlag()

    init(kafka: KafkaConfiguration, eventsTopic: String, outputTopic: String, group: String, batch: Int, recorder: BenchBusRecorder, logger: Logger) throws {
        self.eventsTopic = eventsTopic
        self.outputTopic = outputTopic
        let tracker = self.tracker
        var producerConfig = kafka
        producerConfig.properties["message.timeout.ms"] = "0"
        producer = try KafkaProducer(configuration: producerConfig, logger: logger) { deliveries in
            tracker.acknowledge(deliveries.lazy.filter { if case .success = $0.result { true } else { false } }.map(\.token)) { done in
                recorder.eventsAcknowledged(partition: done.key.partition, offsets: done.offsets, count: done.events)
            }
        }
        consumer = try KafkaConsumer(
            configuration: kafka, subscription: .group(id: group, topics: [eventsTopic]), logger: logger, maxBatch: batch)
    }

    func start() async throws {
        tasks.append(Task { await self.consume() })
        tasks.append(Task { await self.commitPeriodically() })
    }

    private func consume() async {
        for await event in consumer.events {
            switch event {
            case .messages(let batch):
                for message in batch {
                    let sequence = tracker.begin(.init(topic: message.topic, partition: message.partition), offset: message.offset, messages: 1)
                    try? await producer.produce(topic: outputTopic, key: message.keyBytes, value: message.valueBytes, token: sequence)
                }
            case .assigned(let partitions), .revoked(let partitions):
                tracker.forget(partitions.map { .init(topic: $0.topic, partition: $0.partition) })
            case .error:
                break
            }
        }
    }

    private func commitPeriodically() async {
        while !stopping.value {
            try? await Task.sleep(for: .milliseconds(100))
            let offsets = tracker.drainCommittable()
            guard !offsets.isEmpty else { continue }
            consumer.store(offsets.map { TopicPartition(topic: $0.0.topic, partition: $0.0.partition, offset: $0.1) })
            try? await consumer.commit()
        }
    }

    func stop() async {
        stopping.set()
        await consumer.shutdown()
        for task in tasks { await task.value }
        await producer.shutdown()
    }
}

// @unchecked Sendable: its stored properties are immutable references to thread-safe parts.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    var value: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }
}
