import CascadeKafka
import Foundation
import Testing

@Suite("Consumer groups commit only what was processed")
struct ConsumerGroupTests {
    @Test("a new member resumes exactly after the committed offsets, losing nothing")
    func resumeAfterCommit() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 3)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<300 { try await producer.send(topic: topic, key: "k\(index)", value: Array("\(index)".utf8)) }
        await producer.shutdown()
        let group = "group-\(UUID().uuidString)"

        // First member: process (and mark) 120 messages, commit, leave.
        // The mock coordinator drops a departed member only when its session times out.
        let groupConfig = KafkaConfiguration(
            bootstrapServers: kafka.bootstrapServers,
            properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
        let first = try KafkaConsumer(configuration: groupConfig, subscription: .group(id: group, topics: [topic]))
        var processed: [KafkaMessage] = []
        for await event in first.events {
            guard case .messages(let batch) = event else { continue }
            for message in batch where processed.count < 120 {
                processed.append(message)
                first.markProcessed(message)
            }
            if processed.count >= 120 { break }
        }
        try await first.commit()
        let committed = try await first.committed((0..<3).map { TopicPartition(topic: topic, partition: $0) })
        await first.shutdown()

        // Committed offset = last processed offset + 1, per partition.
        var lastProcessed: [Int32: Int64] = [:]
        for message in processed { lastProcessed[message.partition] = max(lastProcessed[message.partition] ?? -1, message.offset) }
        for partition in committed {
            if let last = lastProcessed[partition.partition] {
                #expect(partition.offset == last + 1)
            }
        }

        // Second member: gets the rest, starting exactly at the committed offsets.
        let second = try KafkaConsumer(configuration: groupConfig, subscription: .group(id: group, topics: [topic]))
        let rest = try await collect(second, count: 180)
        await second.shutdown()
        #expect(rest.count == 180, "nothing processed is delivered again")
        var firstOffsetSeen: [Int32: Int64] = [:]
        for message in rest where firstOffsetSeen[message.partition] == nil { firstOffsetSeen[message.partition] = message.offset }
        for partition in committed where partition.offset >= 0 {
            if let seen = firstOffsetSeen[partition.partition] { #expect(seen == partition.offset) }
        }
        let all = Set((processed + rest).compactMap(\.keyString))
        #expect(all == Set((0..<300).map { "k\($0)" }), "nothing lost")
    }
}
