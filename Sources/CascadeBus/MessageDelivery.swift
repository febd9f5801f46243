import CascadeKafka
import Logging

/// What sends messages in order and waits for their delivery: a producer, or its lanes.
protocol MessageSender: Sendable {
    func sendInOrder(_ messages: [ProducerMessage]) async -> [Result<DeliveryReport, KafkaError>]
}

extension KafkaProducer: MessageSender {}
extension KafkaProducerLanes: MessageSender {}

extension MessageSender {
    /// Sends every message (an invalidation in its batch form) in their order, so that two for
    /// one partition (a key's edge records) never swap, and returns once each is delivered or
    /// has failed; a failure is logged as `failure`, with the topic.
    func deliver(_ messages: [OutboundMessage], logger: Logger, failure: Logger.Message) async {
        let batch = messages.map(\.asBatch)
        let reports = await sendInOrder(batch.map {
            ProducerMessage(topic: $0.topic, key: $0.key, value: $0.value, headers: $0.headers.kafka, partition: $0.partition)
        })
        for (message, report) in zip(batch, reports) {
            if case .failure(let error) = report { logger.error(failure, metadata: ["topic": "\(message.topic)", "error": "\(error)"]) }
        }
    }
}
