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
    private let host: RDHandle
    private let cluster: RDHandle
    private let destroyed = NIOLockedValueBox(false)

    /// Starts a cluster of `brokers` brokers, listening on loopback ports chosen by the system.
    public init(brokers: Int = 1, defaultPartitions: Int = 4) throws(KafkaError) {
        guard brokers >= 1 else { throw .config("a cluster needs at least one broker") }
        // The mock cluster lives inside a client instance, which must stay alive with it.
        let conf = try RDKafkaConfig.make(["client.id": "cascade-embedded-kafka"])
        let client = try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf)
        guard let cluster = rd_kafka_mock_cluster_new(client, Int32(brokers)) else {
            rd_kafka_destroy(client)
            throw .config("could not start the mock cluster")
        }
        self.host = RDHandle(pointer: client)
        self.cluster = RDHandle(pointer: cluster)
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
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
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        rd_kafka_destroy(host.pointer)
    }

    /// Creates a topic (the admin CreateTopics request does not work against the mock).
    public func createTopic(_ name: String, partitions: Int? = nil, replicationFactor: Int = 1) throws(KafkaError) {
        guard isValidTopicName(name) else { throw .invalidTopic(name) }
        let code = rd_kafka_mock_topic_create(
            cluster.pointer, name, Int32(partitions ?? defaultPartitions), Int32(min(replicationFactor, brokerCount)))
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else {
            throw KafkaError(code, context: "create topic \(name)")
        }
    }

    // MARK: - Fault injection

    /// Makes a broker (1-based id) drop its connections and refuse new ones.
    public func setBrokerDown(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_down(cluster.pointer, id)
    }

    public func setBrokerUp(_ id: Int32) {
        _ = rd_kafka_mock_broker_set_up(cluster.pointer, id)
    }

    /// Delays every response of a broker by `milliseconds`.
    public func setRoundTripTime(broker id: Int32, milliseconds: Int) {
        _ = rd_kafka_mock_broker_set_rtt(cluster.pointer, id, Int32(milliseconds))
    }

    /// The next requests of this API (Kafka ApiKey, e.g. 0 = Produce, 1 = Fetch) fail with
    /// these Kafka error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster.pointer, apiKey)
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
