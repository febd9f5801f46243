import CascadeKafka
import Testing

/// `sendInOrder` puts a batch's messages on their partitions in the batch's order, also once
/// librdkafka's queue is full and the rest must wait for room.
@Suite("Send in order")
struct SendInOrderTests {
    @Test("one producer and three lanes: each partition holds the batch's messages in its order, reports in its order too",
          .timeLimit(.minutes(1)), arguments: [1, 3])
    func keepsTheOrder(lanes count: Int) async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topics = (0..<3).map { uniqueTopic("inorder\($0)") }
        for topic in topics { try kafka.createTopic(topic, partitions: 1) }
        // A queue of 16 messages: most of the 600 wait for room.
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        var small = config
        small.properties["queue.buffering.max.messages"] = "16"
        let lanes = try KafkaProducerLanes(count: count, configuration: small)
        let messages = (0..<600).map { ProducerMessage(topic: topics[$0 % 3], key: Array("k".utf8), value: Array("\($0)".utf8), partition: 0) }
        let reports = await lanes.sendInOrder(messages)
        await lanes.shutdown()

        #expect(reports.count == messages.count)
        for topic in topics {
            let offsets = zip(messages, reports).filter { $0.0.topic == topic }.compactMap { try? $0.1.get().offset }
            #expect(offsets == Array(0..<200).map(Int64.init), "\(topic): reports in the batch's order, every one delivered")
            let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .beginning))
            let read = try await collect(consumer, count: 200)
            await consumer.shutdown()
            let sent = messages.filter { $0.topic == topic }.map { String(decoding: $0.value ?? [], as: UTF8.self) }
            #expect(read.map { String(decoding: $0.valueBytes ?? [], as: UTF8.self) } == sent)
        }
    }
}
