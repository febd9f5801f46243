import CascadeKafka
import CascadeSync
import Logging
import NIOConcurrencyHelpers

/// The at-least-once half of a consume-process-produce loop, shared by the bus and the
/// benchmark's pass-through baseline so that the baseline measures the same commit path: a
/// producer whose delivery reports acknowledge the consumed events that caused the messages,
/// and commits of each partition up to its first event not yet fully acknowledged. A message
/// is never given up on (`message.timeout.ms` 0 unless configured): its event's offset waits,
/// so a restart processes that event again rather than losing it.
public final class AcknowledgedCommits: Sendable {
    public let tracker = OffsetTracker()
    /// Each topic written by one lane of its own (`KafkaProducerLanes`).
    public let producer: KafkaProducerLanes
    private let logger: Logger
    private let onAcknowledged: (@Sendable (OffsetTracker.Completed) -> Void)?
    private let deliveredHook = Hook<UInt64, Void>()

    /// Hears the span sequence of each message delivered, before it counts (from the
    /// producer's poll thread).
    public func onDelivered(_ hook: @escaping @Sendable (UInt64) -> Void) {
        deliveredHook.install(hook)
    }

    /// `lanes`: producer connections (`BusConfiguration.producerLanes`). `onAcknowledged` hears
    /// each span of events once every message it caused is acknowledged, on a producer's poll thread.
    public init(
        kafka: KafkaConfiguration, logger: Logger, lanes: Int = 1,
        onAcknowledged: (@Sendable (OffsetTracker.Completed) -> Void)? = nil
    ) throws(KafkaError) {
        var configuration = kafka
        if configuration.properties["message.timeout.ms"] == nil { configuration.properties["message.timeout.ms"] = "0" }
        let tracker = self.tracker
        let deliveredHook = self.deliveredHook
        producer = try KafkaProducerLanes(count: lanes, configuration: configuration, logger: logger) { deliveries in
            var acknowledged: [UInt64] = []
            acknowledged.reserveCapacity(deliveries.count)
            for delivery in deliveries {
                switch delivery.result {
                case .success:
                    let sequence = Self.sequence(of: delivery.token)
                    deliveredHook(sequence)
                    acknowledged.append(sequence)
                case .failure(let error):
                    // The event stays unacknowledged: its offset is not committed.
                    logger.error("message not delivered", metadata: ["error": "\(error)"])
                }
            }
            tracker.acknowledge(acknowledged) { onAcknowledged?($0) }
        }
        self.logger = logger
        self.onAcknowledged = onAcknowledged
    }

    /// Acknowledges a unit of span `sequence` that is no message (the credit of its hops came
    /// back, `HopCredits`).
    public func acknowledge(sequence: UInt64) {
        tracker.acknowledge(CollectionOfOne(sequence)) { onAcknowledged?($0) }
    }

    /// The producer token of message `position` of the span `tracker.begin` numbered `sequence`.
    public static func token(sequence: UInt64, position: Int) -> UInt64 { sequence << 20 | UInt64(position) }

    static func sequence(of token: UInt64) -> UInt64 { token >> 20 }

    /// Commits every offset whose events are acknowledged. A failed commit is retried by the
    /// next call: the offsets stay stored in the consumer.
    public func commitAcknowledged(_ consumer: KafkaConsumer) async {
        let offsets = tracker.drainCommittable()
        guard !offsets.isEmpty else { return }
        consumer.store(offsets.map { TopicPartition(topic: $0.0.topic, partition: $0.0.partition, offset: $0.1) })
        do {
            try await consumer.commit()
        } catch {
            logger.warning("commit failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Waits, for at most `timeout` each, until librdkafka has sent everything and every
    /// event is acknowledged, then commits.
    public func drain(_ consumer: KafkaConsumer?, timeout: Duration) async {
        let tracker = self.tracker
        _ = await producer.flush(timeout: timeout)
        _ = await tracker.awaitDrained(until: .now + timeout)
        if let consumer { await commitAcknowledged(consumer) }
    }
}
