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
        group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [bus], logger: logger).bounded())
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
/// same consumer, producer, acknowledgements and commits (`AcknowledgedCommits`) as the bus.
// @unchecked Sendable: the tasks are set by `start` and read by `stop`, which the harness
// calls one after the other; everything else is immutable references to thread-safe parts.
final class BenchPassThrough: BenchBusTarget, @unchecked Sendable {
    let eventsTopic: String
    private let outputTopic: String
    private let consumer: KafkaConsumer
    private let commits: AcknowledgedCommits
    private var consuming: Task<Void, Never>?
    private var committing: Task<Void, Never>?

    init(kafka: KafkaConfiguration, eventsTopic: String, outputTopic: String, group: String, batch: Int, recorder: BenchBusRecorder, logger: Logger) throws {
        self.eventsTopic = eventsTopic
        self.outputTopic = outputTopic
        commits = try AcknowledgedCommits(kafka: kafka, logger: logger) { done in
            recorder.eventsAcknowledged(partition: done.key.partition, offsets: done.offsets, count: done.events)
        }
        consumer = try KafkaConsumer(
            configuration: kafka, subscription: .group(id: group, topics: [eventsTopic]), logger: logger, maxBatch: batch)
    }

    func start() async throws {
        consuming = Task { await self.consume() }
        committing = Task { await self.commitPeriodically() }
    }

    private func consume() async {
        for await event in consumer.events {
            switch event {
            case .messages(let batch):
                for message in batch {
                    let sequence = commits.tracker.begin(.init(topic: message.topic, partition: message.partition), offset: message.offset, messages: 1)
                    try? await commits.producer.produce(
                        topic: outputTopic, key: message.keyBytes, value: message.valueBytes,
                        token: AcknowledgedCommits.token(sequence: sequence, position: 0))
                }
            case .assigned(let partitions), .revoked(let partitions):
                commits.tracker.forget(partitions.map { .init(topic: $0.topic, partition: $0.partition) })
            case .error, .woken:
                break
            }
        }
    }

    private func commitPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            await commits.commitAcknowledged(consumer)
        }
    }

    func stop() async {
        committing?.cancel()
        await consumer.shutdown()
        await consuming?.value
        await committing?.value
        await commits.producer.shutdown()
    }
}
