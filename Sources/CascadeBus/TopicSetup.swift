import CascadeKafka
import CascadeWire
import Logging

/// Creates the topics the bus needs.
enum TopicSetup {
    /// Creates missing topics (deps and ledger compacted). A cluster that refuses (the embedded
    /// mock does not implement CreateTopics) is logged: asking for a topic's metadata, as the
    /// state follower does, or producing to it, auto-creates it there.
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
        if configuration.partitionedState {
            // Hops are read once, within moments: a day is plenty.
            specs += [spec(topics.edges, partitions, compact), spec(topics.hops, partitions, ["retention.ms": "86400000"])]
        }
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
        if configuration.partitionedState && events != configuration.partitions {
            return "\(topics.events) has \(events) partitions and --partitions says \(configuration.partitions): with partitioned state "
                + "the bus places state by the partition count, so they must agree (start it with --partitions \(events))"
        }
        for state in [topics.deps, topics.ledger] + (configuration.partitionedState ? [topics.edges, topics.hops] : []) {
            if let count = counts[state], count != events {
                return "\(state) has \(count) partitions and \(topics.events) has \(events): state topics must have as many "
                    + "partitions as the events topic (recreate \(state) with \(events), or give the topics a new --topic-prefix)"
            }
        }
        return nil
    }

    /// The key of the sync markers earlier versions wrote to every state partition at start;
    /// never an `Entity#id` nor a real `service/key` of a node. Still skipped where read.
    static let markerPrefix = "cascade-bus/sync-marker-"
}
