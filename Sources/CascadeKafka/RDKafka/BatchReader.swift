import CRdKafka
import NIOCore

/// Reads batches from librdkafka's consumer queue on the poll thread and turns each into one
/// `KafkaConsumerEvent`: keys and values are copied into one buffer per batch, so the C
/// messages can be freed at once and a batch costs a single allocation.
final class BatchReader: @unchecked Sendable {
    private let handle: RDHandle
    private let queue: RDHandle
    private let buffer: ConsumerEventBuffer
    private var slots: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var topicNames = TopicNameCache()
    private let allocator = ByteBufferAllocator()
    /// Group-less consumers assign once the topics exist; only the poll thread touches this.
    var assigned = false

    init(handle: RDHandle, queue: RDHandle, buffer: ConsumerEventBuffer, maxBatch: Int) {
        self.handle = handle
        self.queue = queue
        self.buffer = buffer
        self.slots = Array(repeating: nil, count: maxBatch)
    }

    func readBatch(timeoutMs: Int32) {
        let count = slots.withUnsafeMutableBufferPointer { pointer in
            rd_kafka_consume_batch_queue(queue.pointer, timeoutMs, pointer.baseAddress, pointer.count)
        }
        guard count > 0 else { return }
        var bytes = 0
        for index in 0..<count {
            guard let message = slots[index] else { continue }
            bytes += message.pointee.key_len + message.pointee.len
        }
        var storage = allocator.buffer(capacity: bytes)
        var messages: [KafkaMessage] = []
        messages.reserveCapacity(count)
        for index in 0..<count {
            guard let message = slots[index] else { continue }
            defer { rd_kafka_message_destroy(message) }
            let entry = message.pointee
            if entry.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if entry.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    buffer.push(.error(KafkaError(entry.err, context: "consume")))
                }
                continue
            }
            let key = copy(entry.key, entry.key_len, into: &storage)
            let value = copy(entry.payload, entry.len, into: &storage)
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &type)
            messages.append(
                KafkaMessage(
                    topic: topicNames.name(of: entry.rkt), partition: entry.partition, offset: entry.offset,
                    key: key, value: value, headers: RDKafkaHeaders.read(message),
                    timestampMillis: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
        }
        if !messages.isEmpty { buffer.push(.messages(messages)) }
    }

    private func copy(_ pointer: UnsafeMutableRawPointer?, _ length: Int, into storage: inout ByteBuffer) -> ByteBuffer? {
        guard let pointer else { return nil }
        let start = storage.writerIndex
        storage.writeBytes(UnsafeRawBufferPointer(start: pointer, count: length))
        return storage.getSlice(at: start, length: length)
    }
}
