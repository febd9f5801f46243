import CascadeKafka
import Foundation

/// Where a benchmark's Kafka traffic goes: the embedded broker (the default), or a broker the
/// user names with `--bootstrap`. On a named broker every topic gets a prefix of the run's
/// own, so runs never read each other's messages or an earlier run's registrations.
final class BenchBroker: Sendable {
    let bootstrapServers: String
    /// Put before every topic name: empty on the embedded broker, which is new for each run.
    let prefix: String
    private let embedded: EmbeddedKafka?

    init(bootstrap: String?, partitions: Int) throws {
        if let bootstrap {
            bootstrapServers = bootstrap
            prefix = "bench-\(UUID().uuidString.prefix(8).lowercased())."
            embedded = nil
        } else {
            let kafka = try EmbeddedKafka(brokers: 1, defaultPartitions: partitions)
            bootstrapServers = kafka.bootstrapServers
            prefix = ""
            embedded = kafka
        }
    }

    /// "embedded broker", or "broker at HOST:PORT": for the benchmark's first line.
    var label: String { embedded == nil ? "broker at \(bootstrapServers)" : "embedded broker" }

    /// Creates the topics (names as given: the caller applies `prefix`), with the broker's
    /// default replication on a named broker.
    func createTopics(_ names: [String], partitions: Int) async throws {
        if let embedded {
            for name in names { try embedded.createTopic(name, partitions: partitions) }
            return
        }
        let admin = try KafkaAdmin(configuration: KafkaConfiguration(bootstrapServers: bootstrapServers))
        let existing = try await admin.listTopics(timeout: .seconds(10))
        let missing = names.filter { existing[$0] == nil }
        guard !missing.isEmpty else { return }
        do {
            _ = try await admin.createTopics(
                missing.map { KafkaAdmin.TopicSpec(name: $0, partitions: partitions, replicationFactor: -1) }, timeout: .seconds(30))
        } catch {
            // Some brokers (librdkafka's mock cluster) refuse CreateTopics but create topics on
            // first use, with their default partition count.
            FileHandle.standardError.write(Data("note: the broker refused to create the topics (\(error)); relying on its auto-creation\n".utf8))
        }
    }

    func shutdown() { embedded?.shutdown() }
}
