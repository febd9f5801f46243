import ArgumentParser
import CascadeBus
import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// What one run of `cascade bench bus` measures: something that consumes `eventsTopic` as a
/// group member and reports each event once everything it caused is acknowledged.
protocol BenchBusTarget: Sendable {
    var eventsTopic: String { get }
    func start() async throws
    func stop() async
}

/// The real bus core (`BusService`) in this process.
final class BenchBusUnderTest: BenchBusTarget, Sendable {
    let eventsTopic: String
    let bus: BusService
    private let group: ServiceGroup
    private let running = NIOLockedValueBox<Task<Void, any Error>?>(nil)

    init(configuration: BusConfiguration, graph: CacheGraph, recorder: BenchBusRecorder, logger: Logger) throws {
        eventsTopic = configuration.topics.events
        bus = try BusService(configuration: configuration, graph: graph, logger: logger) { span in
            recorder.eventsAcknowledged(partition: span.key.partition, offsets: span.offsets, count: span.events)
        }
        group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [bus], logger: logger).bounded())
    }

    func start() async throws {
        let group = self.group
        running.withLockedValue { $0 = Task { try await group.run() } }
        // The index (from the registrations on the deps topic) and the ledger are rebuilt.
        await bus.awaitReady()
        guard bus.isReady else {
            // It stopped before it was ready: its own error says why.
            try await running.withLockedValue({ $0 })?.value
            throw ValidationError("the bus stopped before it was ready")
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await running.withLockedValue({ $0 })?.value
    }
}

/// The baseline: consume, produce one message, commit once acknowledged; no resolution. The
/// same consumer, producer, acknowledgements and commits (`AcknowledgedCommits`) as the bus.
final class BenchPassThrough: BenchBusTarget, Sendable {
    let eventsTopic: String
    private let outputTopic: String
    private let consumer: KafkaConsumer
    private let commits: AcknowledgedCommits
    /// Set by `start`, awaited by `stop`.
    private let tasks = NIOLockedValueBox<(consuming: Task<Void, Never>?, committing: Task<Void, Never>?)>((nil, nil))

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
        tasks.withLockedValue { $0 = (Task { await self.consume() }, Task { await self.commitPeriodically() }) }
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
        let (consuming, committing) = tasks.withLockedValue { $0 }
        committing?.cancel()
        await consumer.shutdown()
        await consuming?.value
        await committing?.value
        await commits.producer.shutdown()
    }
}
