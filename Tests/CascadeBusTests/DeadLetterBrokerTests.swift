import CascadeKafka
import CascadeTestSupport
import CascadeWire
import Foundation
import Testing

/// Bad events through the real broker and the real `cascade bus`: each lands on the dead-letter
/// topic with its reason, and a valid event behind them on the same partition still goes through.
@Suite("Dead letters through the broker")
struct DeadLetterBrokerTests {
    static let valid = #"{"entity":"Product","id":"p-after","op":"update","version":1,"origin":"product-service","attrs":{"category":"c1"}}"#

    /// Kafka key → (value, expected reason). A nil value is a tombstone.
    static let badEvents: [(key: String, value: String?, reason: String)] = [
        ("bad-json", "{not json", "bad-json"),
        ("not-object", "[1,2]", "not-object"),
        ("missing-field", #"{"id":"1","op":"update","version":1,"origin":"o"}"#, "missing-field"),
        ("wrong-type", #"{"entity":5,"id":"1","op":"update","version":1,"origin":"o"}"#, "wrong-type"),
        ("bad-op", #"{"entity":"Product","id":"1","op":"upsert","version":1,"origin":"o"}"#, "bad-op"),
        ("bad-version", #"{"entity":"Product","id":"1","op":"update","version":"7","origin":"o"}"#, "bad-version"),
        ("negative-version", #"{"entity":"Product","id":"1","op":"update","version":-1,"origin":"o"}"#, "bad-version"),
        ("unknown-entity", #"{"entity":"Ghost","id":"1","op":"update","version":1,"origin":"o"}"#, "unknown-entity"),
        ("bad-time", #"{"entity":"Product","id":"1","op":"update","version":1,"origin":"o","at":"yesterday"}"#, "bad-time"),
        ("oversize", String(repeating: " ", count: 70_000), "oversize"),
        ("empty", "", "empty"),
        ("tombstone", nil, "tombstone"),
    ]

    @Test("each kind of bad event ends on cascade.dlq with its reason; the event after them is processed")
    func badEventsThroughTheBroker() async throws {
        let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: 2)
        defer { kafka.shutdown() }
        let topics = Topics()
        for topic in [topics.events, topics.deps, topics.ledger, topics.dlq, topics.invalidations(service: "product-service")] {
            try kafka.createTopic(topic, partitions: 2)
        }
        let bus = try ChildProcess.cascade([
            "bus", "--graph", CascadeBinary.packageRoot.appendingPathComponent("graph").path, "--kafka", kafka.bootstrapServers,
            "--admin-port", "0", "--group", "dlq-test", "-X", "session.timeout.ms=6000", "--log-level", "warning",
        ])
        _ = try await bus.awaitLine(timeout: .seconds(60)) { $0.hasPrefix("cascade bus ready") }

        let config = KafkaConfiguration(bootstrapServers: kafka.bootstrapServers)
        let producer = try KafkaProducer(configuration: config)
        // One partition, bad events first: the valid one can only be processed past all of them.
        for bad in Self.badEvents {
            try await producer.send(topic: topics.events, key: bad.key, value: bad.value.map { Array($0.utf8) }, partition: 0)
        }
        try await producer.send(topic: topics.events, key: "Product#p-after", value: Array(Self.valid.utf8), partition: 0)
        await producer.shutdown()

        let reader = try KafkaConsumer(
            configuration: config,
            subscription: .allPartitions(topics: [topics.dlq, topics.invalidations(service: "product-service")], from: .beginning))
        let seen = DeadLetterLog(dlq: topics.dlq)
        let reading = Task {
            for await event in reader.events {
                if case .messages(let batch) = event { seen.record(batch) }
            }
        }
        _ = try await eventually(timeout: .seconds(60)) { seen.reasons.count == Self.badEvents.count && seen.validProcessed }
        await reader.shutdown()
        await reading.value
        bus.signal(SIGTERM)
        _ = try? await bus.awaitExit()

        let reasons = seen.reasons
        for bad in Self.badEvents {
            #expect(reasons[bad.key]?.reason == bad.reason, "\(bad.key) should be dead-lettered as \(bad.reason)")
            #expect(reasons[bad.key]?.hasDetail == true, "\(bad.key) has a readable detail")
            #expect(reasons[bad.key]?.value == bad.value.map { Array($0.utf8) }, "\(bad.key) keeps its original bytes")
        }
        #expect(seen.validProcessed, "the valid event after the bad ones was invalidated")
    }
}

/// What the reader saw: dead letters by key, and whether the valid event's invalidation came.
final class DeadLetterLog: @unchecked Sendable {
    struct Letter {
        var reason: String?
        var hasDetail: Bool
        var value: [UInt8]?
    }

    private let lock = NSLock()
    private let dlq: String
    private var letters: [String: Letter] = [:]
    private var valid = false

    init(dlq: String) {
        self.dlq = dlq
    }

    var reasons: [String: Letter] { lock.withLock { letters } }
    var validProcessed: Bool { lock.withLock { valid } }

    func record(_ batch: [KafkaMessage]) {
        lock.withLock {
            for message in batch {
                if message.topic == dlq, let key = message.keyString {
                    letters[key] = Letter(
                        reason: message.header("cascade-reason").map { String(decoding: $0, as: UTF8.self) },
                        hasDetail: message.header("cascade-detail")?.isEmpty == false, value: message.valueBytes)
                } else if let bytes = message.valueBytes, let decoded = try? InvalidationBatch.decode(bytes),
                          decoded.flatMap(\.keys).contains(where: { $0.key == "product:p-after" }) {
                    valid = true
                }
            }
        }
    }
}
