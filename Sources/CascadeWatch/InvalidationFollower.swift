import CascadeKafka
import CascadeWire
import Foundation
import Logging
import ServiceLifecycle

/// Reads the invalidation topics from their end, as a node does (every partition, no group, so
/// it takes nothing from the nodes), and queues a check for each sampled key.
final class InvalidationFollower: Service {
    private let consumer: KafkaConsumer
    private let services: [String: String]
    private let configuration: WatchConfiguration
    private let pending: PendingChecks
    private let metrics: WatchMetrics
    private let logger: Logger
    private let onReady: @Sendable ([String]) -> Void

    /// `services`: the service of each topic followed.
    init(
        topics services: [String: String], configuration: WatchConfiguration, pending: PendingChecks, metrics: WatchMetrics,
        logger: Logger, onReady: @escaping @Sendable ([String]) -> Void
    ) throws(KafkaError) {
        self.services = services
        self.configuration = configuration
        self.pending = pending
        self.metrics = metrics
        self.logger = logger
        self.onReady = onReady
        consumer = try KafkaConsumer(
            configuration: configuration.kafka, subscription: .allPartitions(topics: services.keys.sorted(), from: .end), logger: logger)
    }

    func run() async throws {
        await consumer.follow("invalidation consumer", logger: logger) { _ in
            onReady(services.values.sorted())
        } onBatch: { batch in
            for message in batch { read(message) }
        }
    }

    private func read(_ message: KafkaMessage) {
        guard let service = services[message.topic], let bytes = message.valueBytes else { return }
        let invalidations: [InvalidationMessage]
        do {
            invalidations = try InvalidationBatch.read(bytes).invalidations
        } catch {
            logger.warning(
                "skipping an invalidation message that does not decode",
                metadata: ["topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)"])
            return
        }
        // The bus's clock when it sent the message; the watcher's own only if the message has none.
        let sentAt = message.timestampMillis ?? Timestamps.nowMillis()
        // Read now, checked a window after now: at least a window after it was sent.
        let due = ContinuousClock.now + .milliseconds(configuration.windowMillis)
        var keys = 0
        var sampled = 0
        var late = 0
        for invalidation in invalidations {
            keys += invalidation.keys.count
            // Sent more than the window after the event happened (on its origin's clock): the
            // delay is the bus's or the broker's, which the node's check cannot see.
            let isLate = !invalidation.cause.entity.isEmpty && invalidation.cause.atMillis > 0
                && sentAt - invalidation.cause.atMillis > Int64(configuration.windowMillis)
            for target in invalidation.keys where configuration.sampler.samples(service: service, key: target.key) {
                sampled += 1
                if isLate { late += 1 }
                let check = PendingCheck(
                    service: service, key: target.key, invalidatedAtMillis: sentAt, cause: Self.cause(invalidation.cause), due: due)
                if !pending.add(check) { metrics.unchecked(.queueFull) }
            }
        }
        metrics.read(keys: keys, sampled: sampled)
        if late > 0 { metrics.late(service, count: late) }
    }

    static func cause(_ cause: InvalidationMessage.Cause) -> String {
        // A race-check invalidation has no event: its cause is the key the value came from.
        cause.entity.isEmpty ? cause.id : "\(cause.entity)#\(cause.id)@\(cause.version)"
    }
}
