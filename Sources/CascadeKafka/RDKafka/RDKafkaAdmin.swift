import CRdKafka

/// The admin client's C calls.
enum RDKafkaAdmin {
    static func make(conf: OpaquePointer) throws(KafkaError) -> RDClient {
        RDClient(try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf))
    }

    /// Creates the topics and waits for the answer; one that already exists is not an error.
    /// Blocking.
    static func createTopics(_ handle: RDHandle, _ specs: [KafkaAdmin.TopicSpec], timeoutMs: Int32) -> Result<[String], KafkaError> {
        var message = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for spec in specs {
            guard let topic = rd_kafka_NewTopic_new(spec.name, Int32(spec.partitions), Int32(spec.replicationFactor), &message, message.count) else {
                return .failure(.config("topic \(spec.name): \(cString(message))"))
            }
            for (key, value) in spec.config { _ = rd_kafka_NewTopic_set_config(topic, key, value) }
            newTopics.append(topic)
        }
        guard let queue = rd_kafka_queue_new(handle.pointer) else { return .failure(.config("cannot create a result queue")) }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &message, message.count)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &message, message.count)
        newTopics.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle.pointer, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
            return .failure(KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, context: "create topics"))
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(code: code.rawValue, name: String(cString: rd_kafka_err2name(code)), message: String(cString: rd_kafka_event_error_string(event))))
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return .success([]) }
        var count = 0
        guard let topics = rd_kafka_CreateTopics_result_topics(result, &count) else { return .success([]) }
        var created: [String] = []
        for index in 0..<count {
            guard let topic = topics[index] else { continue }
            let name = String(cString: rd_kafka_topic_result_name(topic))
            let error = rd_kafka_topic_result_error(topic)
            if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                created.append(name)
            } else if error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                let text = rd_kafka_topic_result_error_string(topic).map { String(cString: $0) } ?? ""
                return .failure(KafkaError(code: error.rawValue, name: String(cString: rd_kafka_err2name(error)), message: "\(name): \(text)"))
            }
        }
        return .success(created)
    }
}
