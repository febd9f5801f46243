import CascadeKafka
import Foundation
import Testing

@Suite("Manual consumers: partitions added and removed by their owner")
struct ManualConsumerTests {
    /// A bus instance that takes over partitions where nothing new arrives must not report
    /// their whole history as lag (`cascade_bus_consumer_lag`): it reads from the committed
    /// offset, and nothing lies beyond it.
    @Test("lag counts from the committed offset before a partition's first message, not from its beginning")
    func lagFromCommittedOffset() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 2)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<60 {
            try await producer.send(topic: topic, key: "k\(index)", value: Array("\(index)".utf8), partition: Int32(index % 2))
        }
        let group = "group-\(UUID().uuidString)"
        let partitions = (0..<2).map { TopicPartition(topic: topic, partition: Int32($0)) }

        // The first owner reads and commits everything, then goes.
        let first = try KafkaConsumer(configuration: config, subscription: .manual(commitGroup: group))
        try first.add(partitions)
        let read = try await collect(first, count: 60)
        try await first.commit(partitions.map { partition in
            TopicPartition(topic: topic, partition: partition.partition, offset: 1 + (read.filter { $0.partition == partition.partition }.map(\.offset).max() ?? -1))
        })
        await first.shutdown()

        // The next owner: one new message on partition 0 only, so partition 1 never yields one.
        let second = try KafkaConsumer(configuration: config, subscription: .manual(commitGroup: group))
        try second.add(partitions)
        try await producer.send(topic: topic, key: "new", value: Array("new".utf8), partition: 0)
        let next = try await collect(second, count: 1)
        #expect(next.map(\.keyString) == ["new"], "it starts at the committed offsets")
        await producer.shutdown()
        // Lag is read from what librdkafka last fetched: nothing to await but its value.
        let deadline = ContinuousClock.now + .seconds(10)
        while second.lag != 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(second.lag == 0, "partition 1's 30 committed messages are not lag")
        await second.shutdown()
    }
}
