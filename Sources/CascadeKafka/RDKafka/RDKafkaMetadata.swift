import CRdKafka

enum RDKafkaMetadata {
    /// The number of partitions of `topic`, or nil when the cluster does not know it (yet).
    /// Blocking: call from a dedicated thread.
    static func partitionCount(_ handle: RDHandle, topic: String, timeoutMs: Int32) -> Int? {
        guard let topicHandle = rd_kafka_topic_new(handle.pointer, topic, nil) else { return nil }
        defer { rd_kafka_topic_destroy(topicHandle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        guard rd_kafka_metadata(handle.pointer, 0, topicHandle, &metadata, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR,
            let metadata
        else { return nil }
        defer { rd_kafka_metadata_destroy(metadata) }
        guard metadata.pointee.topic_cnt > 0 else { return nil }
        let entry = metadata.pointee.topics[0]
        guard entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return Int(entry.partition_cnt)
    }

    /// Every topic with its partition count. Blocking.
    static func topics(_ handle: RDHandle, timeoutMs: Int32) throws(KafkaError) -> [String: Int] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code, context: "metadata") }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let entry = metadata.pointee.topics[index]
            result[String(cString: entry.topic)] = Int(entry.partition_cnt)
        }
        return result
    }
}
