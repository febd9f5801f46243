import CRdKafka

enum RDKafkaOffsets {
    /// The first offset and the end (the next offset to be written) of every partition of
    /// `topics`, asked of the partitions' leaders: a metadata request per topic (which also
    /// creates a missing topic where the cluster auto-creates), then one ListOffsets round trip
    /// per leader for the starts and one for the ends, each bounded by `timeoutMs`. Blocking: call
    /// from a dedicated thread.
    static func watermarks(_ handle: RDHandle, topics: [String], timeoutMs: Int32) -> Result<[PartitionWatermarks], KafkaError> {
        var partitions: [TopicPartition] = []
        for topic in topics {
            guard let count = RDKafkaMetadata.partitionCount(handle, topic: topic, timeoutMs: timeoutMs), count > 0 else {
                return .failure(KafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, context: "topic \(topic) has no partitions yet"))
            }
            partitions += (0..<Int32(count)).map { TopicPartition(topic: topic, partition: $0) }
        }
        return watermarks(handle, partitions: partitions, timeoutMs: timeoutMs)
    }

    /// The first offset and the end of each of `partitions`. Blocking.
    static func watermarks(_ handle: RDHandle, partitions: [TopicPartition], timeoutMs: Int32) -> Result<[PartitionWatermarks], KafkaError> {
        guard !partitions.isEmpty else { return .success([]) }
        let lows: [TopicPartition]
        let highs: [TopicPartition]
        switch (listOffsets(handle, partitions, at: KafkaOffset.beginning, timeoutMs: timeoutMs),
                listOffsets(handle, partitions, at: KafkaOffset.end, timeoutMs: timeoutMs)) {
        case (.success(let starts), .success(let ends)):
            lows = starts
            highs = ends
        case (.failure(let error), _), (_, .failure(let error)):
            return .failure(error)
        }
        var low: [TopicPartition: Int64] = [:]
        for start in lows { low[TopicPartition(topic: start.topic, partition: start.partition)] = start.offset }
        return .success(highs.map { end in
            let start = low[TopicPartition(topic: end.topic, partition: end.partition)] ?? 0
            return PartitionWatermarks(topic: end.topic, partition: end.partition, low: min(start, end.offset), high: end.offset)
        })
    }

    /// `rd_kafka_offsets_for_times` with a logical offset for a timestamp: -2 asks for each
    /// partition's first offset, -1 for its end.
    private static func listOffsets(
        _ handle: RDHandle, _ partitions: [TopicPartition], at logical: Int64, timeoutMs: Int32
    ) -> Result<[TopicPartition], KafkaError> {
        let list = RDKafkaPartitionList.make(partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition, offset: logical) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_offsets_for_times(handle.pointer, list, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(code, context: "list offsets")) }
        if let error = RDKafkaPartitionList.firstError(list) { return .failure(error) }
        let offsets = RDKafkaPartitionList.read(list)
        if let unknown = offsets.first(where: { $0.offset < 0 }) {
            return .failure(KafkaError(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, context: "no offset for \(unknown.topic)[\(unknown.partition)]"))
        }
        return .success(offsets)
    }
}
