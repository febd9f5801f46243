import CRdKafka
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// An in-process Kafka-protocol broker: librdkafka's mock cluster. Other processes and clients
/// (kcat, any Kafka client) reach it at `bootstrapServers`. It keeps about 5 MB per partition,
/// ignores topic configs such as compaction, and can inject faults for tests.
public final class EmbeddedKafka: Sendable {
    public let bootstrapServers: String
    public let brokerCount: Int
    private let cluster: RDMockCluster
    private let destroyed = NIOLockedValueBox(false)

    /// Starts a cluster of `brokers` brokers, listening on loopback ports chosen by the system.
    public init(brokers: Int = 1, defaultPartitions: Int = 4) throws(KafkaError) {
        guard brokers >= 1 else { throw .config("a cluster needs at least one broker") }
        let cluster = try RDMockCluster(brokers: brokers)
        self.cluster = cluster
        self.brokerCount = brokers
        self.bootstrapServers = cluster.bootstrapServers
        self.defaultPartitions = defaultPartitions
    }

    /// Partitions for topics created without a count.
    public let defaultPartitions: Int

    deinit {
        shutdown()
    }

    /// Stops the brokers. Idempotent.
    public func shutdown() {
        let wasDestroyed = destroyed.withLockedValue { done -> Bool in
            defer { done = true }
            return done
        }
        guard !wasDestroyed else { return }
        cluster.destroy()
    }

    /// Creates a topic (the admin CreateTopics request does not work against the mock).
    public func createTopic(_ name: String, partitions: Int? = nil, replicationFactor: Int = 1) throws(KafkaError) {
        guard isValidTopicName(name) else { throw .invalidTopic(name) }
        let code = cluster.createTopic(
            name, partitions: Int32(partitions ?? defaultPartitions), replicationFactor: Int32(min(replicationFactor, brokerCount)))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
            throw KafkaError(code, context: "create topic \(name)")
        }
    }

    // MARK: - Fault injection

    /// Makes a broker (1-based id) drop its connections and refuse new ones.
    public func setBrokerDown(_ id: Int32) {
        cluster.setBrokerDown(id)
    }

    public func setBrokerUp(_ id: Int32) {
        cluster.setBrokerUp(id)
    }

    /// Delays every response of a broker by `milliseconds`.
    public func setRoundTripTime(broker id: Int32, milliseconds: Int) {
        cluster.setRoundTripTime(broker: id, milliseconds: Int32(milliseconds))
    }

    /// The next requests of this API (Kafka ApiKey, e.g. 0 = Produce, 1 = Fetch) fail with
    /// these Kafka error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        cluster.pushRequestErrors(apiKey: apiKey, errors: errors)
    }

    public func clearRequestErrors(apiKey: Int16) {
        cluster.clearRequestErrors(apiKey: apiKey)
    }

    /// Kafka API keys for `pushRequestErrors`.
    public enum APIKey {
        public static let produce: Int16 = 0
        public static let fetch: Int16 = 1
        public static let offsetCommit: Int16 = 8
    }
}

extension EmbeddedKafka: Service {
    /// Serves until graceful shutdown, then stops the brokers.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }
}
