import Logging
import ServiceLifecycle

extension KafkaConsumer {
    /// Reads a stream as a Service does until its graceful shutdown, which closes the consumer
    /// and so ends the reading: `onFirstAssignment` once, when partitions are first assigned;
    /// every batch to `onBatch`; errors logged as `name`'s (librdkafka retries them itself).
    public func follow(
        _ name: String, logger: Logger, onFirstAssignment: ([TopicPartition]) -> Void, onBatch: ([KafkaMessage]) -> Void
    ) async {
        await withGracefulShutdownHandler {
            var assigned = false
            for await event in events {
                switch event {
                case .assigned(let partitions):
                    if !assigned {
                        assigned = true
                        onFirstAssignment(partitions)
                    }
                case .messages(let batch):
                    onBatch(batch)
                case .revoked, .woken:
                    break
                case .error(let error):
                    logger.warning("\(name) error", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            Task { await self.shutdown() }
        }
    }
}
