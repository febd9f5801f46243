import CascadeKafka
import Testing

@Suite("Producer lanes")
struct ProducerLanesTests {
    @Test("each topic keeps one lane; topics take the lanes in turn, so a few never share one")
    func topicsTakeLanesInTurn() async throws {
        let lanes = try KafkaProducerLanes(count: 3, configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"))
        let first = ["ledger", "inval.a", "inval.b"].map { lanes.lane(for: $0) }
        #expect(Set(first) == [0, 1, 2], "three topics on three lanes")
        #expect(lanes.lane(for: "inval.a") == first[1], "a topic stays on its lane")
        #expect(lanes.lane(for: "inval.c") == first[0], "the fourth topic wraps around")
        await lanes.shutdown(timeout: .milliseconds(10))
    }

    @Test("every lane's reports reach the one handler, and each partition's messages stay in the order produced", .timeLimit(.minutes(1)))
    func reportsAndOrder() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topics = (0..<3).map { uniqueTopic("lanes\($0)") }
        for topic in topics { try kafka.createTopic(topic, partitions: 2) }
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let (reports, reported) = AsyncStream<[UInt64]>.makeStream()
        let lanes = try KafkaProducerLanes(count: 3, configuration: config) { deliveries in
            reported.yield(deliveries.compactMap { delivery in if case .success = delivery.result { delivery.token } else { nil } })
        }
        #expect(Set(topics.map { lanes.lane(for: $0) }).count == 3, "the topics are written by three producers")
        var token: UInt64 = 0
        for index in 0..<50 {
            for topic in topics {
                token += 1
                try await lanes.produce(topic: topic, key: Array("k\(index % 4)".utf8), value: Array("\(index)".utf8), token: token)
            }
        }
        // Reports arrive on each lane's poll thread, possibly after the flush returns.
        var delivered = Set<UInt64>()
        for await tokens in reports {
            delivered.formUnion(tokens)
            if delivered.count >= Int(token) { break }
        }
        #expect(delivered == Set(1...token))
        await lanes.shutdown()

        for topic in topics {
            let consumer = try KafkaConsumer(configuration: config, subscription: .allPartitions(topics: [topic], from: .beginning))
            let messages = try await collect(consumer, count: 50)
            await consumer.shutdown()
            #expect(messages.count == 50)
            // One producer writes each partition: its messages are in the order produced, whatever their keys.
            for partition in Set(messages.map(\.partition)) {
                let values = messages.filter { $0.partition == partition }.sorted { $0.offset < $1.offset }.compactMap { $0.valueString.flatMap { Int($0) } }
                #expect(values == values.sorted(), "\(topic) partition \(partition) in order")
            }
        }
    }
}
