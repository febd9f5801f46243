import CascadeGraph
import CascadeKafka
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

/// The bus as a Service: the Kafka shell around `EventProcessor`. Rebuilds the index and the
/// ledger, then consumes `cascade.events` as a group member, sends what each event causes,
/// and commits an event's offset only once all of it is acknowledged.
public final class BusService: ServiceLifecycle.Service, @unchecked Sendable {
    public let processor: EventProcessor
    public let metrics: BusMetrics
    let configuration: BusConfiguration
    let graph: CacheGraph
    private let producer: KafkaProducer
    private let tracker: OffsetTracker
    private let follower: StateFollower
    private let logger: Logger
    private let state = BusRunState()

    /// `onEventAcknowledged` hears each consumed event once every message it caused is
    /// acknowledged (from the producer's poll thread): for benchmarks and tests.
    public init(
        configuration: BusConfiguration, graph: CacheGraph, metrics: BusMetrics = BusMetrics(), logger: Logger,
        onEventAcknowledged: (@Sendable (SourcePosition) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        self.graph = graph
        self.metrics = metrics
        self.logger = logger
        let index = InstanceIndex(graph: graph)
        let ledger = Ledger()
        // Marks this instance's ledger records: it has them already, so the follower skips them.
        let writer = UUID().uuidString
        processor = EventProcessor(
            graph: graph, index: index, ledger: ledger, topics: configuration.topics,
            decoder: JSONEventDecoder(maxBytes: configuration.maxEventBytes), maxKeysPerMessage: configuration.maxKeysPerMessage,
            ledgerHeaders: [.init(StateFollower.writerHeader, writer)],
            cycleConflictWindowMillis: configuration.cycleConflictWindowMillis)
        let tracker = OffsetTracker()
        self.tracker = tracker
        var producerConfig = configuration.kafka
        // Never give up on a message: an event's offset waits for every ack, so a dropped
        // message would stall its partition. Shutdown bounds the wait instead.
        if producerConfig.properties["message.timeout.ms"] == nil { producerConfig.properties["message.timeout.ms"] = "0" }
        producer = try KafkaProducer(configuration: producerConfig, logger: logger) { deliveries in
            var acked: [UInt64] = []
            acked.reserveCapacity(deliveries.count)
            for delivery in deliveries {
                switch delivery.result {
                case .success: acked.append(delivery.token >> 16)
                case .failure(let error):
                    // The event stays unacknowledged: its offset is not committed, so it is
                    // processed again after a restart.
                    logger.error("message not delivered", metadata: ["error": "\(error)"])
                }
            }
            tracker.acknowledge(acked) { done in
                onEventAcknowledged?(SourcePosition(topic: done.key.topic, partition: done.key.partition, offset: done.offset))
            }
        }
        let producer = self.producer
        let raceCheck = RegistrationRaceCheck(
            ledger: ledger, index: index, planner: processor.planner, windowMillis: configuration.raceWindowMillis)
        follower = try StateFollower(
            configuration: configuration, index: index, ledger: ledger, raceCheck: raceCheck, metrics: metrics, writer: writer,
            logger: logger
        ) { messages in
            for message in messages {
                try? await producer.produce(topic: message.topic, key: message.key, value: message.value, headers: message.headers.kafka, token: 0)
            }
        }
    }

    /// True once the index and the ledger are rebuilt.
    public var isReady: Bool { follower.ready }

    /// Returns once the index and the ledger are rebuilt (or the bus is stopping).
    public func awaitReady() async { await follower.awaitReady() }

    public func run() async throws {
        await TopicSetup.createTopics(configuration, services: graph.serviceNames, logger: logger)
        let admin = try KafkaAdmin(configuration: configuration.kafka)
        let marker = TopicSetup.markerPrefix + UUID().uuidString
        var ends: [String: [Int32: Int64]] = [:]
        for topic in [configuration.topics.deps, configuration.topics.ledger] {
            ends[topic] = try await TopicSetup.markEnd(of: topic, producer: producer, admin: admin, marker: marker, logger: logger)
        }
        follower.expect(ends)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.follower.run() }
                group.addTask { await self.consumeEvents() }
                group.addTask { await self.commitPeriodically() }
            }
        } onGracefulShutdown: {
            Task { await self.stop() }
        }
        await producer.shutdown(timeout: .seconds(10))
        logger.info("bus stopped")
    }

    private func consumeEvents() async {
        await follower.awaitReady()
        guard !state.stopping else { return }
        logger.info("state rebuilt; consuming events", metadata: ["ledger": "\(processor.ledger.count)", "keys": "\(processor.index.statistics.registeredKeys)"])
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(
                configuration: configuration.consumerKafka,
                subscription: .group(id: configuration.groupID, topics: [configuration.topics.events]), logger: logger,
                maxBatch: configuration.consumerBatch)
        } catch {
            logger.critical("cannot start the events consumer", metadata: ["error": "\(error)"])
            return
        }
        state.setConsumer(consumer)
        if state.stopping { return }
        let clock = ContinuousClock()
        for await event in consumer.events {
            switch event {
            case .messages(let batch):
                guard state.enter() else { continue }
                for message in batch where !state.stopping {
                    let started = clock.now
                    let result = processor.process(
                        key: message.keyBytes, value: message.valueBytes,
                        source: SourcePosition(topic: message.topic, partition: message.partition, offset: message.offset),
                        nowMillis: Timestamps.nowMillis())
                    metrics.record(result, elapsed: clock.now - started)
                    let sequence = tracker.begin(
                        .init(topic: message.topic, partition: message.partition), offset: message.offset, messages: result.messages.count)
                    for (position, outbound) in result.messages.enumerated() {
                        do {
                            try await producer.produce(
                                topic: outbound.topic, key: outbound.key, value: outbound.value, headers: outbound.headers.kafka,
                                token: sequence << 16 | UInt64(position & 0xFFFF))
                        } catch {
                            logger.error("cannot enqueue message", metadata: ["topic": "\(outbound.topic)", "error": "\(error)"])
                        }
                    }
                }
                state.leave()
            case .assigned(let partitions), .revoked(let partitions):
                // A partition's history starts over with its (new) owner's committed offset.
                tracker.forget(partitions.map { .init(topic: $0.topic, partition: $0.partition) })
            case .error(let error):
                logger.warning("consumer error", metadata: ["error": "\(error)"])
            }
        }
    }

    private func commitPeriodically() async {
        while !state.stopping {
            try? await Task.sleep(for: .milliseconds(100))
            await commitAcknowledged()
            if let consumer = state.consumer { metrics.lag.set(Double(consumer.lag)) }
            metrics.inFlight.set(Double(tracker.inFlight))
        }
    }

    private func commitAcknowledged() async {
        guard let consumer = state.consumer else { return }
        let offsets = tracker.drainCommittable()
        guard !offsets.isEmpty else { return }
        consumer.store(offsets.map { TopicPartition(topic: $0.0.topic, partition: $0.0.partition, offset: $0.1) })
        do {
            try await consumer.commit()
        } catch {
            logger.warning("commit failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Finishes the event in hand, waits for its acknowledgements, commits, leaves the group.
    private func stop() async {
        state.beginStopping()
        follower.cancelWaiters()
        let deadline = ContinuousClock.now + .seconds(10)
        while state.busy && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        _ = await producer.flush(timeout: .seconds(10))
        while tracker.inFlight > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        await commitAcknowledged()
        await state.consumer?.shutdown()
        await follower.shutdown()
    }
}

extension [OutboundMessage.Header] {
    var kafka: [KafkaHeader] { map { KafkaHeader(name: $0.name, value: $0.value) } }
}
