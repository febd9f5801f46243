import CascadeKafka
import Foundation
import Testing

/// Where partitions start and end, asked of the broker; and waking a consumer's reader.
@Suite("Watermarks and waking the reader")
struct WatermarksTests {
    @Test("each partition's first offset and end, for topics by name (a missing one created) or partitions by number")
    func watermarksOfTopicsAndPartitions() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 2)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 3)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<7 { try await producer.send(topic: topic, key: "k\(index)", value: [1], partition: index < 5 ? 0 : 2) }
        await producer.shutdown()

        let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .end))
        defer { Task { await consumer.shutdown() } }
        let missing = uniqueTopic()
        let marks = try await consumer.watermarks(of: [topic, missing])
        #expect(marks.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }.filter { $0.topic == topic } == [
            PartitionWatermarks(topic: topic, partition: 0, low: 0, high: 5),
            PartitionWatermarks(topic: topic, partition: 1, low: 0, high: 0),
            PartitionWatermarks(topic: topic, partition: 2, low: 0, high: 2),
        ])
        // Asking auto-created the missing topic, empty.
        let created = marks.filter { $0.topic == missing }
        #expect(!created.isEmpty && created.allSatisfy { $0.low == 0 && $0.high == 0 }, "\(created)")
        let some = try await consumer.watermarks([TopicPartition(topic: topic, partition: 2)])
        #expect(some == [PartitionWatermarks(topic: topic, partition: 2, low: 0, high: 2)])
    }

    @Test("a reader with nothing to read is woken: at its next call when woken before, at once when it waits")
    func wakeTheReader() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 1)
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers), subscription: .allPartitions(topics: [topic], from: .end))
        _ = try await awaitAssignment(consumer)
        var events = consumer.events.makeAsyncIterator()
        // Woken (twice) before it asks: the next `next()` says so at once.
        consumer.wake()
        consumer.wake()
        let first = await events.next()
        guard case .woken? = first else {
            Issue.record("expected .woken, got \(String(describing: first))")
            return
        }
        // Waiting, then woken.
        let waiting = Task { await events.next() }
        try await Task.sleep(for: .milliseconds(100))
        consumer.wake()
        let second = await waiting.value
        guard case .woken? = second else {
            Issue.record("expected .woken, got \(String(describing: second))")
            return
        }
        await consumer.shutdown()
    }
}
