import CRdKafka

/// librdkafka's mock cluster and the client it lives in, which must stay alive with it.
/// `destroy` is called once, by its owner (`EmbeddedKafka` guards that).
final class RDMockCluster: Sendable {
    private let host: RDHandle
    private let cluster: RDHandle
    let bootstrapServers: String

    init(brokers: Int) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(["client.id": "cascade-embedded-kafka"])
        let host = try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf)
        guard let cluster = rd_kafka_mock_cluster_new(host, Int32(brokers)) else {
            rd_kafka_destroy(host)
            throw .config("could not start the mock cluster")
        }
        self.host = RDHandle(pointer: host)
        self.cluster = RDHandle(pointer: cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    /// Stops the brokers and destroys their host client. Call once.
    func destroy() {
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        rd_kafka_destroy(host.pointer)
    }

    func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32) -> rd_kafka_resp_err_t {
        rd_kafka_mock_topic_create(cluster.pointer, name, partitions, replicationFactor)
    }

    func setBrokerDown(_ id: Int32) { _ = rd_kafka_mock_broker_set_down(cluster.pointer, id) }

    func setBrokerUp(_ id: Int32) { _ = rd_kafka_mock_broker_set_up(cluster.pointer, id) }

    func setRoundTripTime(broker id: Int32, milliseconds: Int32) { _ = rd_kafka_mock_broker_set_rtt(cluster.pointer, id, milliseconds) }

    func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        var codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    func clearRequestErrors(apiKey: Int16) { rd_kafka_mock_clear_request_errors(cluster.pointer, apiKey) }
}
