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
        var specs: [KafkaAdmin.TopicSpec] = [
            .init(name: topics.events, partitions: partitions),
            .compacted(topics.deps, partitions: partitions),
            .compacted(topics.ledger, partitions: partitions),
            .init(name: topics.conflicts, partitions: partitions),
            .init(name: topics.dlq, partitions: partitions),
            .compacted(topics.nodes, partitions: 1),
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

    /// The key of the sync markers earlier versions wrote to every state partition at start;
    /// never an `Entity#id` nor a real `service/key` of a node. Still skipped where read.
    static let markerPrefix = "cascade-bus/sync-marker-"
}
