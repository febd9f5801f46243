import CRdKafka
import NIOCore

/// Reads batches from the consumer on the poll thread and turns each into one
/// `KafkaConsumerEvent`: keys and values are copied into one buffer per batch, so the C
/// messages can be freed at once and a batch costs a single allocation.
// @unchecked Sendable: used only by the consumer's poll thread.
final class BatchReader: @unchecked Sendable {
    private let client: RDClient
    private let buffer: ConsumerEventBuffer
    /// Where this thread waits while `buffer` is full.
    private let park: RDThreadPark
    private var slots: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var topicNames = TopicNameCache()
    private let allocator = ByteBufferAllocator()
    /// When set, batches go here, on the poll thread, instead of to `buffer`.
    private let observer: (@Sendable ([KafkaMessage]) -> Void)?
    /// Group-less consumers assign once the topics exist; only the poll thread touches this.
    var assigned = false

    init(client: RDClient, buffer: ConsumerEventBuffer, maxBatch: Int, observer: (@Sendable ([KafkaMessage]) -> Void)? = nil) {
        self.client = client
        self.buffer = buffer
        park = RDThreadPark(client: client)
        buffer.attach(park)
        self.observer = observer
        self.slots = Array(repeating: nil, count: maxBatch)
    }

    func readBatch(timeoutMs: Int32) {
        // Wait for the first message, then take what is already there without waiting.
        // (consume_batch_queue in librdkafka 2.0 stalls the fetcher under load; polling doesn't.)
        var count = 0
        while count < slots.count {
            guard let message = rd_kafka_consumer_poll(client.pointer, count == 0 ? timeoutMs : 0) else { break }
            slots[count] = message
            count += 1
        }
        guard count > 0 else { return }
        var bytes = 0
        for index in 0..<count {
            guard let message = slots[index] else { continue }
            bytes += message.pointee.key_len + message.pointee.len
        }
        // Copy every key and value first and slice afterwards: a slice taken while the buffer
        // is still being written would make each following write copy the whole buffer.
        var storage = allocator.buffer(capacity: bytes)
        var pending: [PendingMessage] = []
        pending.reserveCapacity(count)
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
            var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &type)
            pending.append(
                PendingMessage(
                    topic: topicNames.name(of: entry.rkt), partition: entry.partition, offset: entry.offset,
                    key: append(entry.key, entry.key_len, to: &storage),
                    value: append(entry.payload, entry.len, to: &storage),
                    headers: RDKafkaHeaders.read(message),
                    timestampMillis: type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
        }
        let messages = pending.map { message in
            KafkaMessage(
                topic: message.topic, partition: message.partition, offset: message.offset,
                key: message.key.map { storage.getSlice(at: $0.start, length: $0.length) ?? ByteBuffer() },
                value: message.value.map { storage.getSlice(at: $0.start, length: $0.length) ?? ByteBuffer() },
                headers: message.headers, timestampMillis: message.timestampMillis)
        }
        guard !messages.isEmpty else { return }
        if let observer { observer(messages) } else { buffer.push(.messages(messages)) }
    }

    private struct PendingMessage {
        var topic: String
        var partition: Int32
        var offset: Int64
        var key: (start: Int, length: Int)?
        var value: (start: Int, length: Int)?
        var headers: [KafkaHeader]
        var timestampMillis: Int64?
    }

    /// Appends the bytes and returns where they are; nil for a null pointer (no key, tombstone).
    private func append(_ pointer: UnsafeMutableRawPointer?, _ length: Int, to storage: inout ByteBuffer) -> (start: Int, length: Int)? {
        guard let pointer else { return nil }
        let start = storage.writerIndex
        storage.writeBytes(UnsafeRawBufferPointer(start: pointer, count: length))
        return (start, length)
    }
}
