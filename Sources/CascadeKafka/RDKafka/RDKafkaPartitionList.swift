import CRdKafka

enum RDKafkaPartitionList {
    /// A new `rd_kafka_topic_partition_list_t`; the caller destroys it.
    static func make(_ partitions: [TopicPartition]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))!
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)
            element?.pointee.offset = partition.offset
        }
        return list
    }

    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        var partitions: [TopicPartition] = []
        partitions.reserveCapacity(Int(list.pointee.cnt))
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            partitions.append(
                TopicPartition(topic: String(cString: element.topic), partition: element.partition, offset: element.offset))
        }
        return partitions
    }

    /// The first per-partition error in a list, if any.
    static func firstError(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> KafkaError? {
        for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let element = list.pointee.elems[index]
            return KafkaError(element.err, context: "\(String(cString: element.topic))[\(element.partition)]")
        }
        return nil
    }
}
