import CascadeGraph
import CascadeWire

/// Consecutive events of one partition whose messages go out, and are acknowledged, together.
/// Direct messages (ledger records, conflict records, dead letters) go as they are; the
/// invalidations are merged per service into batches, so a span of a thousand events costs a
/// few messages per service instead of a thousand. Every batch of a partition carries the same
/// key, so one entity's invalidations stay in order on one partition of each service topic.
/// Hops (partitioned state) are merged likewise, per partition of the hops topic (`HopBatch`).
struct EventSpan {
    let partition: OffsetTracker.PartitionKey
    private(set) var firstOffset: Int64 = -1
    private(set) var lastOffset: Int64 = -1
    private(set) var events = 0
    private let batchKey: [UInt8]
    private let maxBatchBytes: Int
    private var messages: [OutboundMessage] = []
    /// Open batches by topic, and the topics in the order first seen, with their services.
    private var batches: [String: InvalidationBatch.Writer] = [:]
    private var batchOrder: [(topic: String, service: String)] = []
    /// Open batches of hops, in the order their partitions were first handed one; nil without
    /// partitioned state.
    private let hopsTopic: String?
    private var hopBatches: [HopBatch] = []
    /// The events' ids, kept only for an observer (`BusConfiguration.onEventSent`).
    private(set) var eventIDs: [String] = []
    /// The span's cascades, for the bus's memory once sent, and when the span was sent and
    /// acknowledged, which they share.
    private(set) var cascades: [CascadeMemory.Cascade] = []
    let times = SpanTimes()
    /// Partitioned state: the span's events whose hops carry credit, and the credit it returns
    /// for the hops it consumed, once acknowledged (`HopCredits`).
    private(set) var owed: [HopCredit.Origin] = []
    private(set) var returns: [HopCredit] = []

    mutating func credit(owed origin: HopCredit.Origin?, returning credit: HopCredit?) {
        if let origin { owed.append(origin) }
        if let credit { returns.append(credit) }
    }

    init(partition: OffsetTracker.PartitionKey, maxBatchBytes: Int, hopsTopic: String? = nil) {
        self.partition = partition
        self.maxBatchBytes = maxBatchBytes
        self.hopsTopic = hopsTopic
        batchKey = Self.batchKey(topic: partition.topic, partition: partition.partition)
    }

    /// Adds the messages one event caused. Events must come in offset order; a message read
    /// once that stands for several (a batch of hops) adds each part at the same offset.
    mutating func add(
        offset: Int64, _ caused: [OutboundMessage], eventID: String? = nil, cascade: (root: CascadeMemory.Root, closure: InstanceClosure)? = nil
    ) {
        if let eventID { eventIDs.append(eventID) }
        if let cascade, !cascade.closure.slots.isEmpty {
            cascades.append(.init(cause: cascade.root, closure: cascade.closure, times: times))
        }
        if events == 0 { firstOffset = offset }
        if events == 0 || offset != lastOffset { events += 1 }
        lastOffset = offset
        for message in caused {
            if message.topic == hopsTopic, let hopPartition = message.partition, message.headers.isEmpty, let value = message.value {
                addHop(value, partition: hopPartition)
                continue
            }
            guard message.service != nil, let value = message.value else {
                messages.append(message)
                continue
            }
            if var writer = batches.removeValue(forKey: message.topic) {
                // Taken out while it grows, so its buffer is uniquely referenced (no copy).
                // A comma before the message and `]}` after it: the value stays within the cap
                // (unless one message alone is larger).
                if writer.byteCount + 1 + value.count + 2 > maxBatchBytes {
                    messages.append(seal(topic: message.topic, &writer))
                }
                writer.append(encodedMessage: value)
                batches[message.topic] = writer
            } else {
                var writer = InvalidationBatch.Writer()
                writer.append(encodedMessage: value)
                batches[message.topic] = writer
                batchOrder.append((message.topic, message.service ?? ""))
            }
        }
    }

    private mutating func addHop(_ value: [UInt8], partition hopPartition: Int32) {
        var batch = HopBatch(partition: hopPartition)
        guard let index = hopBatches.firstIndex(where: { $0.partition == hopPartition }) else {
            batch.append(encodedHop: value)
            hopBatches.append(batch)
            return
        }
        // Taken out while it grows, so its buffer is uniquely referenced (no copy).
        swap(&batch, &hopBatches[index])
        // A comma and the hop: the batch stays within the cap (unless one hop alone is larger).
        if batch.byteCount + 1 + value.count > maxBatchBytes {
            messages.append(seal(consume batch))
            batch = HopBatch(partition: hopPartition)
        }
        batch.append(encodedHop: value)
        swap(&batch, &hopBatches[index])
    }

    private func seal(_ batch: consuming HopBatch) -> OutboundMessage {
        let partition = batch.partition
        return OutboundMessage(topic: hopsTopic ?? "", key: batchKey, value: batch.finish(), partition: partition)
    }

    /// The services that get a batch from this span.
    var services: [String] { batchOrder.map(\.service) }

    /// Everything to send for the span, the batches last; the last batch of each service
    /// carries `watermark` (the span's last offset), earlier ones do not: the node has not
    /// applied the whole span until it has the last.
    mutating func finish(watermark: SourceWatermark? = nil) -> [OutboundMessage] {
        // Hops first: the shares they go to have work to do before their invalidations exist.
        for batch in hopBatches { messages.append(seal(batch)) }
        hopBatches = []
        for (topic, _) in batchOrder {
            guard var writer = batches.removeValue(forKey: topic) else { continue }
            messages.append(seal(topic: topic, &writer, watermark: watermark))
        }
        batchOrder = []
        defer { messages = [] }
        return messages
    }

    private func seal(topic: String, _ writer: inout InvalidationBatch.Writer, watermark: SourceWatermark? = nil) -> OutboundMessage {
        OutboundMessage(topic: topic, key: batchKey, value: writer.finish(watermark: watermark))
    }

    /// The key every batch of a source partition carries, so all land on one partition of
    /// each service topic; watermarks for that source partition must use it too.
    static func batchKey(topic: String, partition: Int32) -> [UInt8] { Array("\(topic)/\(partition)".utf8) }
}

extension OutboundMessage {
    /// An invalidation message on its own, as a batch of one: every value the bus writes on an
    /// invalidation topic has the batch form. Other messages are returned as they are.
    var asBatch: OutboundMessage {
        guard service != nil, let value else { return self }
        var writer = InvalidationBatch.Writer()
        writer.append(encodedMessage: value)
        var batch = self
        batch.value = writer.finish()
        return batch
    }
}
