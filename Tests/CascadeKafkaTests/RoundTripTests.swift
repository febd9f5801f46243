import CascadeKafka
import Foundation
import Testing

@Suite("Produce and consume through the embedded broker")
struct RoundTripTests {
    @Test("every message comes back with its key, value, headers and tombstones")
    func roundTrip() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 3)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<100 {
            let value: [UInt8]? = index % 10 == 9 ? nil : Array("value-\(index)".utf8)
            let report = try await producer.send(
                topic: topic, key: "key-\(index)", value: value,
                headers: [KafkaHeader(name: "n", string: "\(index)")])
            #expect(report.topic == topic)
            #expect(report.offset >= 0)
        }
        await producer.shutdown()

        let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .beginning))
        let messages = try await collect(consumer, count: 100)
        await consumer.shutdown()

        #expect(messages.count == 100)
        let byKey = Dictionary(uniqueKeysWithValues: messages.map { ($0.keyString ?? "", $0) })
        for index in 0..<100 {
            let message = try #require(byKey["key-\(index)"])
            if index % 10 == 9 {
                #expect(message.value == nil, "a tombstone stays a tombstone")
            } else {
                #expect(message.valueString == "value-\(index)")
            }
            #expect(message.header("n") == Array("\(index)".utf8))
        }
    }

    @Test("a group-less consumer starting at the end reads only what comes after it is assigned")
    func startAtEnd() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 2)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        for index in 0..<10 { try await producer.send(topic: topic, key: "old-\(index)", value: [1]) }

        let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .end))
        let assigned = try await awaitAssignment(consumer)
        #expect(assigned.count == 2)
        for index in 0..<5 { try await producer.send(topic: topic, key: "new-\(index)", value: [2]) }
        let messages = try await collect(consumer, count: 5)
        #expect(Set(messages.compactMap(\.keyString)) == Set((0..<5).map { "new-\($0)" }))
        await consumer.shutdown()
        await producer.shutdown()
    }
}

@Suite("A consumer dropped without shutdown")
struct DroppedConsumerTests {
    /// Its poll thread leaves librdkafka before the handle is destroyed: dropping consumers
    /// that are mid-poll, again and again, neither crashes nor stops the next one reading
    /// (without the fix, this test hung).
    @Test(.timeLimit(.minutes(1))) func isStoppedBeforeItsHandleGoes() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 3)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers, properties: ["fetch.wait.max.ms": "1"])
        let producer = try KafkaProducer(configuration: config)
        try await producer.send(topic: topic, key: "k", value: Array("v".utf8))
        for _ in 0..<10 {
            var consumer: KafkaConsumer? = try KafkaConsumer(
                configuration: config, subscription: .allPartitions(topics: [topic], from: .beginning))
            #expect(try await collect(consumer!, count: 1).count == 1)
            consumer = nil
        }
        await producer.shutdown()
    }
}
