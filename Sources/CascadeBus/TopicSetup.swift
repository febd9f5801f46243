import CascadeKafka
import CascadeWire
import Logging

/// Creates the topics the bus needs, and marks the end of the state topics at start.
enum TopicSetup {
    /// Creates missing topics (deps and ledger compacted). A cluster that refuses (the embedded
    /// mock does not implement CreateTopics) is logged: producing auto-creates topics there.
    static func createTopics(_ configuration: BusConfiguration, services: [String], logger: Logger) async {
        let topics = configuration.topics
        let partitions = configuration.partitions
        var specs: [KafkaAdmin.TopicSpec] = [
            .init(name: topics.events, partitions: partitions),
            .compacted(topics.deps, partitions: partitions),
            .compacted(topics.ledger, partitions: partitions),
            .init(name: topics.conflicts, partitions: partitions),
            .init(name: topics.dlq, partitions: partitions),
            .compacted(topics.nodes, partitions: 1),
            // Beacons are read from the end only: a short retention is all they need.
            .init(name: topics.buses, partitions: 1, config: ["retention.ms": "60000"]),
        ]
        specs += services.map { .init(name: topics.invalidations(service: $0), partitions: partitions) }
        do {
            let admin = try KafkaAdmin(configuration: configuration.kafka)
            let existing = try await admin.listTopics(timeout: .seconds(5))
            let missing = specs.filter { existing[$0.name] == nil }
            guard !missing.isEmpty else { return }
            let created = try await admin.createTopics(missing, timeout: .seconds(2))
            logger.info("created topics", metadata: ["topics": "\(created)"])
        } catch {
            logger.notice("could not create topics; relying on auto-creation", metadata: ["error": "\(error)"])
        }
    }

    /// The key of the sync markers; never an `Entity#id` nor a real `service/key` of a node.
    static let markerPrefix = "cascade-bus/sync-marker-"

    /// Writes a tombstone marker to every partition of `topic` and returns the offsets they
    /// landed at: having read past them means having read everything written before start.
    static func markEnd(of topic: String, producer: KafkaProducer, admin: KafkaAdmin, marker: String, logger: Logger) async throws -> [Int32: Int64] {
        var partitions = (try? await admin.listTopics())?[topic] ?? 0
        if partitions == 0 {
            // Auto-create by producing, then ask again.
            try await producer.send(topic: topic, key: marker, value: nil)
            for _ in 0..<100 where partitions == 0 {
                partitions = (try? await admin.listTopics())?[topic] ?? 0
                if partitions == 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
        }
        guard partitions > 0 else { throw KafkaError(code: 0, name: "UNKNOWN_TOPIC", message: "topic \(topic) does not exist") }
        var ends: [Int32: Int64] = [:]
        for partition in 0..<Int32(partitions) {
            let report = try await producer.send(topic: topic, key: marker, value: nil, partition: partition)
            ends[partition] = report.offset
        }
        logger.debug("marked end of topic", metadata: ["topic": "\(topic)", "ends": "\(ends)"])
        return ends
    }
}
