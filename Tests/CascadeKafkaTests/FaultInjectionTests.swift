import CascadeKafka
import CascadeTestSupport
import Foundation
import Testing

@Suite("Faults: brokers that go away or never answer")
struct FaultInjectionTests {
    @Test("with the broker down the producer keeps messages and delivers them when it is back")
    func brokerDownThenUp() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 1)
        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        try await producer.send(topic: topic, key: "warm-up", value: [0])

        kafka.setBrokerDown(1)
        let sends = Task {
            try await withThrowingTaskGroup(of: DeliveryReport.self) { group in
                for index in 0..<50 {
                    group.addTask { try await producer.send(topic: topic, key: "k\(index)", value: [1]) }
                }
                var reports: [DeliveryReport] = []
                for try await report in group { reports.append(report) }
                return reports
            }
        }
        // All 50 are held by the producer while the broker is down.
        #expect(try await eventually(timeout: .seconds(10)) { producer.outstanding >= 50 })
        kafka.setBrokerUp(1)
        let reports = try await sends.value
        #expect(reports.count == 50)
        #expect(Set(reports.map(\.offset)).count == 50, "each message stored once")
        await producer.shutdown()
    }

    @Test("a broker that never answers ends in a typed timeout error, not a hang")
    func neverAnswers() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 1)
        kafka.setRoundTripTime(broker: 1, milliseconds: 60_000)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: kafka.bootstrapServers, properties: ["message.timeout.ms": "1000"]))
        let start = ContinuousClock.now
        await #expect {
            try await producer.send(topic: topic, key: "k", value: [1])
        } throws: { error in
            (error as? KafkaError)?.isTimeout == true
        }
        // Well before the broker's 60 s round trip, even on a loaded machine (the whole suite
        // runs at once): it timed out rather than waited for an answer.
        #expect(ContinuousClock.now - start < .seconds(30))
        await producer.shutdown(timeout: .milliseconds(100))
    }

    @Test("an invalid topic name is a typed error at once")
    func invalidTopic() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers))
        await #expect {
            try await producer.send(topic: "not a topic!", key: "k", value: [1])
        } throws: { error in
            (error as? KafkaError)?.name == "INVALID_TOPIC"
        }
        await producer.shutdown()
    }

    @Test("request errors injected on Produce are retried and the message still lands once")
    func injectedProduceErrors() async throws {
        let kafka = try EmbeddedKafka(brokers: 1)
        defer { kafka.shutdown() }
        let topic = uniqueTopic()
        try kafka.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: kafka.bootstrapServers))
        try await producer.send(topic: topic, key: "warm-up", value: [0])
        // NOT_LEADER_OR_FOLLOWER (6) twice: retriable.
        kafka.pushRequestErrors(apiKey: EmbeddedKafka.APIKey.produce, errors: [6, 6])
        let report = try await producer.send(topic: topic, key: "k", value: [1])
        #expect(report.offset == 1)
        await producer.shutdown()
    }
}
