import CRdKafka
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// A Kafka consumer over librdkafka. A dedicated thread polls librdkafka in batches and hands
/// them to `events`; offsets are committed only when the caller says what it processed.
public final class KafkaConsumer: Sendable {
    public enum Subscription: Sendable, Hashable {
        /// A consumer-group member: partitions are shared with the group's other members.
        case group(id: String, topics: [String])
        /// No group: every partition of the topics is assigned to this consumer, as cache
        /// nodes need (each replica sees every invalidation). Nothing is committed.
        case allPartitions(topics: [String], from: StartOffset)
        /// No group membership: the owner adds and removes partitions itself (`add`, `remove`),
        /// and each starts at `commitGroup`'s committed offset. Nothing waits for a session
        /// timeout, so ownership can move as fast as the owner decides (the bus's failover).
        case manual(commitGroup: String)
    }

    public enum StartOffset: Sendable, Hashable {
        case beginning, end
    }

    /// Messages and rebalance events, in order.
    public let events: KafkaConsumerEvents

    private let handle: RDHandle
    private let context: ConsumerContext
    private let subscription: Subscription
    private let logger: Logger
    private let lifecycle: NIOLockedValueBox<Lifecycle>
    /// Where reading starts in partitions `add`ed, keyed with no offset, until one of their
    /// messages is consumed: librdkafka knows no position before that, and `lag` would count
    /// a partition's whole history where nothing new has come since it was added.
    private let startOffsets = NIOLockedValueBox<[TopicPartition: Int64]>([:])

    /// Polling on its thread until closed, by `shutdown` or `deinit`, whichever comes first.
    private enum Lifecycle {
        case polling(PollThread)
        case closed
    }

    static let defaults: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "enable.partition.eof": "false",
        "fetch.wait.max.ms": "10",
        "allow.auto.create.topics": "true",
    ]

    /// `commitGroup`: with `.allPartitions`, the group whose offsets `commit` and `committed`
    /// keep (the consumer never joins it); without one, a throwaway id.
    /// `observer`: messages go to it on the poll thread, the moment they are read, instead of
    /// to `events` (which then carries errors and rebalances only). For readers whose timing
    /// must not depend on the cooperative pool being free, such as liveness beacons; it must
    /// return quickly.
    public init(
        configuration: KafkaConfiguration, subscription: Subscription,
        logger: Logger = Logger(label: "cascade.kafka.consumer"), maxBatch: Int = 4096, bufferedBatches: Int = 4,
        commitGroup: String? = nil, observer: (@Sendable ([KafkaMessage]) -> Void)? = nil
    ) throws(KafkaError) {
        var defaults = Self.defaults
        switch subscription {
        case .group(let id, _):
            defaults["group.id"] = id
        case .allPartitions:
            // assign() needs a group id for librdkafka's consumer queue; it never joins it.
            defaults["group.id"] = commitGroup ?? "cascade-standalone-\(UUID().uuidString)"
        case .manual(let group):
            // Never joined either: commits from an assign-only client carry no generation,
            // which brokers accept for a group without members.
            defaults["group.id"] = group
        }
        let conf = try RDKafkaConfig.make(configuration.merged(with: defaults))
        let context = ConsumerContext(logger: logger, buffer: ConsumerEventBuffer(capacity: bufferedBatches))
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        if case .group = subscription {
            rd_kafka_conf_set_rebalance_cb(conf, consumerRebalanceCallback)
        }
        let client = try RDKafkaConfig.newClient(RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(client)
        self.handle = RDHandle(pointer: client)
        self.context = context
        self.subscription = subscription
        self.logger = logger
        self.events = KafkaConsumerEvents(buffer: context.buffer)

        if case .group(_, let topics) = subscription {
            let list = RDKafkaPartitionList.make(topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let code = rd_kafka_subscribe(client, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                rd_kafka_destroy(client)
                throw KafkaError(code, context: "subscribe to \(topics.joined(separator: ","))")
            }
        }
        let reader = BatchReader(handle: handle, buffer: context.buffer, maxBatch: maxBatch, observer: observer)
        let subscriptionCopy = subscription
        let handleCopy = handle
        let logger = logger
        let thread = PollThread(name: "cascade-consumer-poll") { thread in
            if case .allPartitions(let topics, let start) = subscriptionCopy, !reader.assigned {
                reader.assigned = assignAll(handleCopy, topics: topics, start: start, buffer: context.buffer, logger: logger)
                return true
            }
            reader.readBatch(timeoutMs: 100)
            return true
        }
        self.lifecycle = NIOLockedValueBox(.polling(thread))
    }

    deinit {
        // Dropped without `shutdown()`: the poll thread holds the handle, not the consumer, so
        // it must leave librdkafka before the handle is destroyed under it.
        if let thread = close() {
            context.buffer.stopBlocking()
            thread.stop()
            thread.join()
        }
        rd_kafka_destroy(handle.pointer)
    }

    /// Closes, once: the poll thread to stop, to the first caller only.
    private func close() -> PollThread? {
        lifecycle.withLockedValue { lifecycle in
            guard case .polling(let thread) = lifecycle else { return nil }
            lifecycle = .closed
            return thread
        }
    }

    // MARK: - Offsets

    /// Records that everything before each partition's `offset` is processed (offset is the
    /// next one to read). Cheap; `commit()` sends what was stored.
    public func store(_ offsets: [TopicPartition]) {
        guard !offsets.isEmpty else { return }
        let list = RDKafkaPartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_offsets_store(handle.pointer, list)
    }

    /// Records that `message` is processed.
    public func markProcessed(_ message: KafkaMessage) {
        store([TopicPartition(topic: message.topic, partition: message.partition, offset: message.offset + 1)])
    }

    /// Commits every stored offset and waits for the broker's answer.
    public func commit() async throws(KafkaError) {
        let handle = self.handle
        let code = await runBlocking("cascade-consumer-commit") { rd_kafka_commit(handle.pointer, nil, 0) }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__NO_OFFSET else {
            throw KafkaError(code, context: "commit")
        }
    }

    /// Commits exactly these offsets (each the next offset to read) and waits for the answer.
    public func commit(_ offsets: [TopicPartition]) async throws(KafkaError) {
        store(offsets)
        try await commit()
    }

    /// The group's committed offsets for these partitions.
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [TopicPartition] {
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let result: Result<[TopicPartition], KafkaError> = await runBlocking("cascade-consumer-committed") {
            let list = RDKafkaPartitionList.make(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let code = rd_kafka_committed(handle.pointer, list, milliseconds)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(code, context: "committed")) }
            return .success(RDKafkaPartitionList.read(list))
        }
        return try result.get()
    }

    /// The end of each partition as the brokers say it now (one round trip per leader), or
    /// nil when they cannot be asked within `timeout`. Each offset is the next one to be written.
    public func endOffsets(_ partitions: [TopicPartition], timeout: Duration = .seconds(1)) async -> [TopicPartition]? {
        guard !partitions.isEmpty else { return [] }
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return await runBlocking("cascade-consumer-ends") {
            // A timestamp of -1 (OFFSET_END) asks for the latest offset.
            let list = RDKafkaPartitionList.make(partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition, offset: -1) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            guard rd_kafka_offsets_for_times(handle.pointer, list, milliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
            let ends = RDKafkaPartitionList.read(list)
            return ends.allSatisfy({ $0.offset >= 0 }) ? ends : nil
        }
    }

    // MARK: - Manual ownership

    /// Starts reading `partitions` (`.manual` consumers), each from the commit group's
    /// committed offset (else `auto.offset.reset`) unless an offset is given; `.assigned`
    /// follows in `events`, behind the messages already there.
    public func add(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_incremental_assign(handle.pointer, list) { throw KafkaError(consuming: error) }
        context.buffer.pushControl(.assigned(partitions))
        learnStartOffsets(partitions)
    }

    /// Records where `partitions` start: the offset given, else the commit group's committed
    /// one, asked off the caller's path (librdkafka asks for it too, to start fetching). A
    /// partition with no committed offset starts at the beginning, which `lag` assumes anyway.
    private func learnStartOffsets(_ partitions: [TopicPartition]) {
        let given = partitions.filter { $0.offset >= 0 }
        startOffsets.withLockedValue { starts in
            for partition in partitions { starts[TopicPartition(topic: partition.topic, partition: partition.partition)] = nil }
            for partition in given { starts[TopicPartition(topic: partition.topic, partition: partition.partition)] = partition.offset }
        }
        let unknown = partitions.filter { $0.offset < 0 }.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
        guard !unknown.isEmpty else { return }
        Task { [self] in
            guard let committed = try? await committed(unknown, timeout: .seconds(5)) else { return }
            let assigned = Set(assignment.map { TopicPartition(topic: $0.topic, partition: $0.partition) })
            startOffsets.withLockedValue { starts in
                for partition in committed where partition.offset >= 0 {
                    let key = TopicPartition(topic: partition.topic, partition: partition.partition)
                    if assigned.contains(key) { starts[key] = partition.offset }
                }
            }
        }
    }

    /// The partitions of `topic` as the cluster knows it now, nil while it does not exist (asking
    /// creates it where the cluster auto-creates topics).
    public func partitions(of topic: String, timeout: Duration = .seconds(2)) async -> [TopicPartition]? {
        let handle = self.handle
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000)
        let count = await runBlocking("cascade-consumer-metadata") {
            RDKafkaMetadata.partitionCount(handle, topic: topic, timeoutMs: milliseconds)
        }
        guard let count, count > 0 else { return nil }
        return (0..<Int32(count)).map { TopicPartition(topic: topic, partition: $0) }
    }

    /// Stops reading `partitions`; `.revoked` follows in `events`, behind the messages of
    /// theirs already handed over (their reader finishes or forgets those).
    public func remove(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_incremental_unassign(handle.pointer, list) { throw KafkaError(consuming: error) }
        context.buffer.pushControl(.revoked(partitions))
        startOffsets.withLockedValue { starts in
            for partition in partitions { starts[TopicPartition(topic: partition.topic, partition: partition.partition)] = nil }
        }
    }

    /// Where each partition of `topics` starts and ends now (see `watermarks(_:timeout:)`),
    /// after a metadata request per topic, which creates a missing topic where the cluster
    /// auto-creates. Throws when a topic has no partitions yet or a leader does not answer.
    public func watermarks(of topics: [String], timeout: Duration = .seconds(5)) async throws(KafkaError) -> [PartitionWatermarks] {
        let milliseconds = Self.milliseconds(timeout)
        // `self`, not only the handle: the consumer, and so its handle, outlives the call.
        let result = await runBlocking("cascade-consumer-watermarks") { [self] in
            RDKafkaOffsets.watermarks(handle, topics: topics, timeoutMs: milliseconds)
        }
        return try result.get()
    }

    /// The first offset and the end (the next offset to be written) of each partition, as the
    /// leaders say now: one ListOffsets round trip per leader for the starts and one for the
    /// ends, each bounded by `timeout`. Assigned or not.
    public func watermarks(_ partitions: [TopicPartition], timeout: Duration = .seconds(5)) async throws(KafkaError) -> [PartitionWatermarks] {
        let milliseconds = Self.milliseconds(timeout)
        let result = await runBlocking("cascade-consumer-watermarks") { [self] in
            RDKafkaOffsets.watermarks(handle, partitions: partitions, timeoutMs: milliseconds)
        }
        return try result.get()
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: - Flow control

    /// Stops fetching these partitions until `resume`; for back-pressure.
    public func pause(_ partitions: [TopicPartition]) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_pause_partitions(handle.pointer, list)
    }

    public func resume(_ partitions: [TopicPartition]) {
        let list = RDKafkaPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_resume_partitions(handle.pointer, list)
    }

    /// Moves assigned partitions to `offset` (`KafkaOffset.beginning`, `.end` or a number).
    public func seek(_ partitions: [TopicPartition]) async throws(KafkaError) {
        let handle = self.handle
        let failure: KafkaError? = await runBlocking("cascade-consumer-seek") {
            let list = RDKafkaPartitionList.make(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_seek_partitions(handle.pointer, list, 10_000) { return KafkaError(consuming: error) }
            return RDKafkaPartitionList.firstError(list)
        }
        if let failure { throw failure }
    }

    /// Hands the reader of `events` a `.woken` event if it waits with nothing to read (or
    /// the next time it asks, if nothing came meanwhile): for a reader that must look at its
    /// own state again when no message arrives. Never blocks.
    public func wake() {
        context.buffer.wake()
    }

    /// The partitions currently assigned to this consumer.
    public var assignment: [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return RDKafkaPartitionList.read(list)
    }

    /// Messages between this consumer's position and the end of its partitions, from the
    /// watermarks librdkafka last fetched (no request). Before a partition's first message
    /// there is no position: it counts from where reading started when known (`add`), else
    /// from the beginning.
    public var lag: Int64 {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return 0 }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_position(handle.pointer, list)
        let starts = startOffsets.withLockedValue { $0 }
        var total: Int64 = 0
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_get_watermark_offsets(handle.pointer, element.topic, element.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                high >= 0
            else { continue }
            var position = element.offset
            if position < 0 {
                let key = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
                position = starts[key] ?? low
            }
            total += max(0, high - position)
        }
        return total
    }

    // MARK: - Shutdown

    /// Leaves the group (committing stored offsets as partitions are revoked) and closes.
    /// Bounded by `timeout`: a broker that never answers cannot make it hang.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        guard let thread = close() else { return }
        context.buffer.stopBlocking()
        thread.stop()
        await runBlocking("cascade-consumer-join") { thread.join() }
        let handle = self.handle
        let closed = await completesWithin(timeout) {
            _ = await runBlocking("cascade-consumer-close") { rd_kafka_consumer_close(handle.pointer) }
        }
        if !closed { logger.warning("consumer close did not finish within \(timeout); carrying on") }
        context.buffer.finish()
    }
}

extension KafkaConsumer: Service {
    /// Runs until graceful shutdown, then leaves the group and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

/// State the C callbacks reach through librdkafka's opaque pointer.
// @unchecked Sendable: its parts are immutable or thread-safe (the buffer locks itself).
final class ConsumerContext: @unchecked Sendable {
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
            // owner does not redo it.
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

/// Assigns every partition of `topics` (group-less mode). Returns false to be retried while the
/// topics do not exist yet.
private func assignAll(
    _ handle: RDHandle, topics: [String], start: KafkaConsumer.StartOffset, buffer: ConsumerEventBuffer, logger: Logger
) -> Bool {
    var partitions: [TopicPartition] = []
    for topic in topics {
        let counts = RDKafkaMetadata.partitionCount(handle, topic: topic, timeoutMs: 2000)
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
                let code = rd_kafka_query_watermark_offsets(handle.pointer, topic, partition, &low, &high, 5000)
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
    let code = rd_kafka_assign(handle.pointer, list)
    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
        logger.error("assign failed", metadata: ["error": "\(KafkaError(code))"])
        return false
    }
    buffer.push(.assigned(partitions))
    return true
}
