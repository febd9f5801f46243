import CRdKafka
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

    private let handle: RDHandle

    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(configuration.merged(with: [:]))
        handle = RDHandle(pointer: try RDKafkaConfig.newClient(RD_KAFKA_PRODUCER, conf: conf))
    }

    deinit {
        rd_kafka_destroy(handle.pointer)
    }

    /// Topic names with their partition counts.
    public func listTopics(timeout: Duration = .seconds(10)) async throws(KafkaError) -> [String: Int] {
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let result: Result<[String: Int], KafkaError> = await runBlocking("cascade-admin-metadata") {
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
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let result: Result<[String], KafkaError> = await runBlocking("cascade-admin-create") {
            createTopicsBlocking(handle, specs, timeoutMs: milliseconds)
        }
        return try result.get()
    }
}

private func createTopicsBlocking(_ handle: RDHandle, _ specs: [KafkaAdmin.TopicSpec], timeoutMs: Int32) -> Result<[String], KafkaError> {
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
