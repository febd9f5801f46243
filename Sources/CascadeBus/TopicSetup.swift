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
        let compact = ["cleanup.policy": "compact"]
        var specs: [KafkaAdmin.TopicSpec] = [
            spec(topics.events, partitions),
            spec(topics.deps, partitions, compact),
            spec(topics.ledger, partitions, compact),
            spec(topics.conflicts, partitions),
            spec(topics.dlq, partitions),
            spec(topics.nodes, 1, compact),
            // Beacons are read from the end only: a short retention is all they need.
            spec(topics.buses, 1, ["retention.ms": "60000"]),
        ]
        specs += services.map { spec(topics.invalidations(service: $0), partitions) }
        func spec(_ name: String, _ partitions: Int, _ config: [String: String] = [:]) -> KafkaAdmin.TopicSpec {
            var config = config
            let replicas = configuration.replicationFactor ?? -1
            if replicas > 1 { config["min.insync.replicas"] = String(replicas - 1) }
            return KafkaAdmin.TopicSpec(name: name, partitions: partitions, replicationFactor: replicas, config: config)
        }
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

    /// The ledger and the registrations are keyed like the events (`Entity#id`, `service/key`)
    /// and read back per partition of the events topic as its state: a different partition
    /// count would put an entity's events and its state in unrelated partitions. Nil when
    /// they agree (or a topic does not exist yet), else the sentence to stop with.
    static func partitionMismatch(_ configuration: BusConfiguration, admin: KafkaAdmin) async -> String? {
        guard let counts = try? await admin.listTopics(timeout: .seconds(5)) else { return nil }
        let topics = configuration.topics
        guard let events = counts[topics.events] else { return nil }
        for state in [topics.deps, topics.ledger] {
            if let count = counts[state], count != events {
                return "\(state) has \(count) partitions and \(topics.events) has \(events): state topics must have as many "
                    + "partitions as the events topic (recreate \(state) with \(events), or give the topics a new --topic-prefix)"
            }
        }
        return nil
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
