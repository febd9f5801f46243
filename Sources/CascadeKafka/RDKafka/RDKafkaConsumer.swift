import CRdKafka
import Foundation
import Logging

/// The consumer's C calls. Those marked blocking run on the client's `ClientWorker` (or its
/// poll thread); the rest return at once.
enum RDKafkaConsumer {
    /// A consumer client whose callbacks reach `context`; group members get the rebalance
    /// callback. Polling it also serves its main queue.
    static func make(conf: OpaquePointer, context: ConsumerContext, rebalancing: Bool) throws(KafkaError) -> RDClient {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        if rebalancing { rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback) }
        let pointer = try RDKafkaConfig.newClient(RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(pointer)
        return RDClient(pointer, opaque: context)
    }

    static func subscribe(_ client: RDClient, topics: [String]) throws(KafkaError) {
        let list = RDKafkaPartitionList.make(topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_subscribe(client.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, context: "subscribe to \(topics.joined(separator: ","))")
        }
    }

    static func store(_ client: RDClient, _ offsets: [TopicPartition]) {
        let list = RDKafkaPartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_offsets_store(client.pointer, list)
    }

    /// The group's committed offsets. Blocking.
    static func committed(_ client: RDClient, _ partitions: [TopicPartition], timeoutMs: Int32) -> Result<[TopicPartition], KafkaError> {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_committed(client.pointer, list, timeoutMs)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(code, context: "committed")) }
        return .success(RDKafkaPartitionList.read(list))
    }

    /// The end of each partition as its leader says now, nil when one does not answer. Blocking.
    static func endOffsets(_ client: RDClient, _ partitions: [TopicPartition], timeoutMs: Int32) -> [TopicPartition]? {
        // A timestamp of -1 (OFFSET_END) asks for the latest offset.
        let ends = offsets(client, partitions, atMillis: -1, timeoutMs: timeoutMs)
        return ends.flatMap { $0.allSatisfy({ $0.offset >= 0 }) ? $0 : nil }
    }

    /// Each partition's first offset whose timestamp is at or after `atMillis`; -1 where none is
    /// yet. Nil when a leader does not answer. Blocking.
    static func offsets(_ client: RDClient, _ partitions: [TopicPartition], atMillis: Int64, timeoutMs: Int32) -> [TopicPartition]? {
        let list = RDKafkaPartitionList.make(partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition, offset: atMillis) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard rd_kafka_offsets_for_times(client.pointer, list, timeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR,
              RDKafkaPartitionList.firstError(list) == nil
        else { return nil }
        return RDKafkaPartitionList.read(list)
    }

    static func incrementalAssign(_ client: RDClient, _ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_incremental_assign(client.pointer, list) { throw KafkaError(consuming: error) }
    }

    static func incrementalUnassign(_ client: RDClient, _ partitions: [TopicPartition]) throws(KafkaError) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_incremental_unassign(client.pointer, list) { throw KafkaError(consuming: error) }
    }

    static func pause(_ client: RDClient, _ partitions: [TopicPartition]) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_pause_partitions(client.pointer, list)
    }

    static func resume(_ client: RDClient, _ partitions: [TopicPartition]) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_resume_partitions(client.pointer, list)
    }

    /// Moves assigned partitions to their offsets. Blocking.
    static func seek(_ client: RDClient, _ partitions: [TopicPartition], timeoutMs: Int32) -> KafkaError? {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_seek_partitions(client.pointer, list, timeoutMs) { return KafkaError(consuming: error) }
        return RDKafkaPartitionList.firstError(list)
    }

    static func assignment(_ client: RDClient) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(client.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return RDKafkaPartitionList.read(list)
    }

    /// Messages between the position and the end of each assigned partition, from the
    /// watermarks librdkafka last fetched (no request); a partition with no position yet counts
    /// from `start(partition)`, else from its first offset.
    static func lag(_ client: RDClient, start: (TopicPartition) -> Int64?) -> Int64 {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(client.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return 0 }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_position(client.pointer, list)
        var total: Int64 = 0
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(client.pointer, element.topic, element.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                high >= 0
            else { continue }
            var position = element.offset
            if position < 0 {
                position = start(TopicPartition(topic: String(cString: element.topic), partition: element.partition)) ?? low
            }
            total += max(0, high - position)
        }
        return total
    }

    /// Leaves the group, committing on revoke. Blocking.
    static func close(_ client: RDClient) {
        _ = rd_kafka_consumer_close(client.pointer)
    }

    /// Assigns every partition of `topics` (group-less mode). Returns false to be retried while the
    /// topics do not exist yet. Blocking: called on the poll thread.
    static func assignAll(
        _ client: RDClient, topics: [String], start: KafkaConsumer.StartOffset, buffer: ConsumerEventBuffer, logger: Logger
    ) -> Bool {
        var partitions: [TopicPartition] = []
        for topic in topics {
            let counts = RDKafkaMetadata.partitionCount(client.handle, topic: topic, timeoutMs: 2000)
            guard let count = counts, count > 0 else {
                logger.debug("waiting for topic", metadata: ["topic": "\(topic)"])
                Thread.sleep(forTimeInterval: 0.1)
                return false
            }
            for partition in 0..<Int32(count) {
                // Resolve the end to a concrete offset now, so that "assigned" means every message
                // produced from here on will be read (a lazily resolved end could skip one).
                var low: Int64 = 0
                var high: Int64 = 0
                if start == .end {
                    let code = rd_kafka_query_watermark_offsets(client.pointer, topic, partition, &low, &high, 5000)
                    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        logger.debug("waiting for offsets", metadata: ["topic": "\(topic)", "error": "\(KafkaError(code))"])
                        return false
                    }
                }
                partitions.append(
                    TopicPartition(topic: topic, partition: partition, offset: start == .beginning ? KafkaOffset.beginning : high))
            }
        }
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_assign(client.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.error("assign failed", metadata: ["error": "\(KafkaError(code))"])
            return false
        }
        buffer.push(.assigned(partitions))
        return true
    }
}

/// State the C callbacks reach through librdkafka's opaque pointer.
final class ConsumerContext: Sendable {
    let logger: Logger
    let buffer: ConsumerEventBuffer

    init(logger: Logger, buffer: ConsumerEventBuffer) {
        self.logger = logger
        self.buffer = buffer
    }

    func rebalance(_ client: OpaquePointer, _ code: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        let list = RDKafkaPartitionList.read(partitions)
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let error = rd_kafka_incremental_assign(client, partitions) {
                    logger.error("incremental assign failed", metadata: ["error": "\(KafkaError(consuming: error))"])
                }
            } else {
                _ = rd_kafka_assign(client, partitions)
            }
            logger.info("partitions assigned", metadata: ["partitions": "\(list)"])
            buffer.push(.assigned(list))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Commit what the caller marked processed before the partitions move, so the next
            // owner does not redo it. Synchronous: the callback must not return before it is done.
            let commit = rd_kafka_commit(client, nil, 0)
            if commit != RD_KAFKA_RESP_ERR_NO_ERROR && commit != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warning("commit on revoke failed", metadata: ["error": "\(KafkaError(commit))"])
            }
            buffer.push(.revoked(list))
            if cooperative {
                if let error = rd_kafka_incremental_unassign(client, partitions) {
                    logger.error("incremental unassign failed", metadata: ["error": "\(KafkaError(consuming: error))"])
                }
            } else {
                _ = rd_kafka_assign(client, nil)
            }
            logger.info("partitions revoked", metadata: ["partitions": "\(list)"])
        default:
            logger.error("rebalance failed", metadata: ["error": "\(KafkaError(code))"])
            _ = rd_kafka_assign(client, nil)
        }
    }
}

private func consumerRebalanceCallback(
    _ client: OpaquePointer?, _ code: rd_kafka_resp_err_t,
    _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ opaque: UnsafeMutableRawPointer?
) {
    guard let client, let partitions, let opaque else { return }
    Unmanaged<ConsumerContext>.fromOpaque(opaque).takeUnretainedValue().rebalance(client, code, partitions)
}
