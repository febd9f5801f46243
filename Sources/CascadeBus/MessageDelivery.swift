import CascadeKafka
import Logging

/// What sends a message and waits for its delivery: a producer, or its lanes.
protocol MessageSender: Sendable {
    func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader], partition: Int32?
    ) async throws(KafkaError) -> DeliveryReport
}

extension KafkaProducer: MessageSender {}
extension KafkaProducerLanes: MessageSender {}

extension MessageSender {
    /// Sends every message at once (an invalidation in its batch form) and returns once each is
    /// delivered or has failed; a failure is logged as `failure`, with the topic.
    func deliver(_ messages: [OutboundMessage], logger: Logger, failure: Logger.Message) async {
        await withTaskGroup(of: Void.self) { group in
            for message in messages.map(\.asBatch) {
                group.addTask {
                    do throws(KafkaError) {
                        _ = try await send(
                            topic: message.topic, key: message.key, value: message.value, headers: message.headers.kafka,
                            partition: message.partition)
                    } catch {
                        logger.error(failure, metadata: ["topic": "\(message.topic)", "error": "\(error)"])
                    }
                }
            }
        }
    }
}
