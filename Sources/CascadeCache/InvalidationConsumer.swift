import CascadeKafka
import CascadeTracing
import CascadeWire
import Logging
import ServiceLifecycle

/// Feeds the node from its service's invalidation topic. Every replica reads every partition
/// (no shared group), from the end: a new node's store is empty, so nothing older concerns it.
public final class InvalidationConsumer: Service {
    private let node: CacheNode
    private let consumer: KafkaConsumer
    private let logger: Logger
    private let onReady: @Sendable () -> Void
    private let onApplied: (@Sendable (InvalidationMessage) -> Void)?
    /// Nil when tracing is off: then nothing per message is looked at.
    private let tracing: SpanStarter?

    /// `onApplied` sees each message after the store applied it (benchmarks time cascades with it).
    public init(
        node: CacheNode, configuration: KafkaConfiguration, topics: Topics, logger: Logger,
        onReady: @escaping @Sendable () -> Void, onApplied: (@Sendable (InvalidationMessage) -> Void)? = nil
    ) throws(KafkaError) {
        self.node = node
        self.logger = logger
        self.onReady = onReady
        self.onApplied = onApplied
        self.tracing = node.configuration.tracing
        self.consumer = try KafkaConsumer(
            configuration: configuration,
            subscription: .allPartitions(topics: [topics.invalidations(service: node.service)], from: .end),
            logger: logger)
    }

    public func run() async throws {
        await consumer.follow("invalidation consumer", logger: logger) { partitions in
            logger.info("reading invalidations", metadata: ["partitions": "\(partitions.count)"])
            onReady()
        } onBatch: { batch in
            for message in batch { apply(message) }
            node.counters.lag = consumer.lag
        }
    }

    private func apply(_ message: KafkaMessage) {
        defer {
            node.counters.lastAppliedOffset = message.offset
            // What the bus's race check waits for before it trusts a value computed from a key.
            if let produced = message.timestampMillis { node.counters.noteApplied(producedAtMillis: produced, nowMillis: Timestamps.nowMillis()) }
        }
        guard let bytes = message.valueBytes else { return }
        do {
            let (invalidations, watermark) = try InvalidationBatch.read(bytes)
            for decoded in invalidations {
                if let tracing, let traceparent = decoded.cause.traceparent {
                    applyTraced(decoded, Traceparent(traceparent), tracing: tracing, position: message)
                } else {
                    node.apply(decoded)
                }
                onApplied?(decoded)
            }
            if let watermark { node.apply(watermark) }
        } catch {
            logger.error(
                "skipping an invalidation message that does not decode",
                metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
        }
    }

    /// Applies `invalidation` in a span that continues the event's trace (the bus's span of it).
    private func applyTraced(_ invalidation: InvalidationMessage, _ parent: Traceparent?, tracing: SpanStarter, position: KafkaMessage) {
        guard let parent, let span = tracing.start("cascade.node.apply", kind: .consumer, parent: parent) else {
            node.apply(invalidation)
            return
        }
        span.attributes["cascade.service"] = node.service
        span.attributes["cascade.event.id"] = invalidation.cause.eventID
        span.attributes["cascade.event.ref"] = invalidation.cause.entity + "#" + invalidation.cause.id
        span.attributes["cascade.keys"] = invalidation.keys.count
        span.attributes["cascade.tags"] = invalidation.tags.count
        span.attributes["messaging.kafka.partition"] = Int64(position.partition)
        span.attributes["messaging.kafka.offset"] = position.offset
        span.attributes["cascade.keys_removed"] = node.apply(invalidation).keysRemoved
        span.end()
    }
}
