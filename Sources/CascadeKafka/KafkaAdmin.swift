import Foundation
import Logging

/// Topic administration: create topics (with partitions, replication and config such as
/// `cleanup.policy=compact`) and list what exists.
public final class KafkaAdmin: Sendable {
    public struct TopicSpec: Sendable, Hashable {
        public var name: String
        public var partitions: Int
        public var replicationFactor: Int
        public var config: [String: String]

        public init(name: String, partitions: Int, replicationFactor: Int = 1, config: [String: String] = [:]) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.config = config
        }

        public static func compacted(_ name: String, partitions: Int, replicationFactor: Int = 1) -> TopicSpec {
            TopicSpec(name: name, partitions: partitions, replicationFactor: replicationFactor, config: ["cleanup.policy": "compact"])
        }
    }

    private let client: RDClient
    /// Requests, on one thread for the admin client's life.
    private let worker: ClientWorker

    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(configuration.merged(with: [:]))
        client = try RDKafkaAdmin.make(conf: conf)
        worker = ClientWorker(client: client, name: "cascade-admin-work")
    }

    deinit {
        worker.stop()
    }

    /// Topic names with their partition counts.
    public func listTopics(timeout: Duration = .seconds(10)) async throws(KafkaError) -> [String: Int] {
        let handle = client.handle
        let milliseconds = timeout.librdkafkaMilliseconds
        let result: Result<[String: Int], KafkaError> = try await worker.run {
            do throws(KafkaError) { return .success(try RDKafkaMetadata.topics(handle, timeoutMs: milliseconds)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Creates the topics; one that already exists is not an error. Returns the names created.
    @discardableResult
    public func createTopics(_ specs: [TopicSpec], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [String] {
        for spec in specs where !isValidTopicName(spec.name) { throw .invalidTopic(spec.name) }
        let handle = client.handle
        let milliseconds = timeout.librdkafkaMilliseconds
        return try await worker.run { RDKafkaAdmin.createTopics(handle, specs, timeoutMs: milliseconds) }.get()
    }
}
