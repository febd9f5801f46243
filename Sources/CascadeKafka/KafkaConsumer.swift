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

    private let client: RDClient
    /// Blocking calls and commit answers, on one thread for the consumer's life.
    private let worker: ClientWorker
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
        let isGroup = if case .group = subscription { true } else { false }
        let client = try RDKafkaConsumer.make(conf: conf, context: context, rebalancing: isGroup)
        if case .group(_, let topics) = subscription { try RDKafkaConsumer.subscribe(client, topics: topics) }
        self.client = client
        self.worker = ClientWorker(client: client, name: "cascade-consumer-work")
        self.context = context
        self.subscription = subscription
        self.logger = logger
        self.events = KafkaConsumerEvents(buffer: context.buffer)

        // The poll thread holds the client (through the reader), not the consumer: dropped
        // without `shutdown()`, the consumer stops it and the last of the two threads to let
        // go destroys the client.
        let reader = BatchReader(client: client, buffer: context.buffer, maxBatch: maxBatch, observer: observer)
        let thread = PollThread(name: "cascade-consumer-poll") { _ in
            if case .allPartitions(let topics, let start) = subscription, !reader.assigned {
                reader.assigned = RDKafkaConsumer.assignAll(client, topics: topics, start: start, buffer: context.buffer, logger: logger)
                return true
            }
            reader.readBatch(timeoutMs: 100)
            return true
        }
        self.lifecycle = NIOLockedValueBox(.polling(thread))
    }

    deinit {
        if let thread = close() {
            context.buffer.stopBlocking()
            thread.stop()
        }
        worker.stop()
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
        RDKafkaConsumer.store(client, offsets)
    }

    /// Records that `message` is processed.
    public func markProcessed(_ message: KafkaMessage) {
        store([TopicPartition(topic: message.topic, partition: message.partition, offset: message.offset + 1)])
    }

    /// Commits every stored offset and waits for the broker's answer. The commit is sent
    /// asynchronously: no thread waits for the answer.
    public func commit() async throws(KafkaError) {
        let code = await worker.commitStored(client)
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
        let client = self.client
        let milliseconds = timeout.librdkafkaMilliseconds
        return try await worker.run { RDKafkaConsumer.committed(client, partitions, timeoutMs: milliseconds) }.get()
    }

    /// The end of each partition as the brokers say it now (one round trip per leader), or
    /// nil when they cannot be asked within `timeout`. Each offset is the next one to be written.
    public func endOffsets(_ partitions: [TopicPartition], timeout: Duration = .seconds(1)) async -> [TopicPartition]? {
        guard !partitions.isEmpty else { return [] }
        let client = self.client
        let milliseconds = timeout.librdkafkaMilliseconds
        return (try? await worker.run { RDKafkaConsumer.endOffsets(client, partitions, timeoutMs: milliseconds) }) ?? nil
    }

    /// Each partition's first offset written at or after `atMillis` (message timestamps), -1
    /// where none is; nil when the brokers cannot be asked within `timeout`.
    public func offsets(atMillis: Int64, of partitions: [TopicPartition], timeout: Duration = .seconds(1)) async -> [TopicPartition]? {
        guard !partitions.isEmpty else { return [] }
        let client = self.client
        let milliseconds = timeout.librdkafkaMilliseconds
        return (try? await worker.run { RDKafkaConsumer.offsets(client, partitions, atMillis: max(0, atMillis), timeoutMs: milliseconds) }) ?? nil
    }

    // MARK: - Manual ownership

    /// Starts reading `partitions` (`.manual` consumers), each from the commit group's
    /// committed offset (else `auto.offset.reset`) unless an offset is given; `.assigned`
    /// follows in `events`, behind the messages already there.
    public func add(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        try RDKafkaConsumer.incrementalAssign(client, partitions)
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
        let handle = client.handle
        let milliseconds = timeout.librdkafkaMilliseconds
        let count = try? await worker.run { RDKafkaMetadata.partitionCount(handle, topic: topic, timeoutMs: milliseconds) }
        guard let count, count > 0 else { return nil }
        return (0..<Int32(count)).map { TopicPartition(topic: topic, partition: $0) }
    }

    /// Stops reading `partitions`; `.revoked` follows in `events`, behind the messages of
    /// theirs already handed over (their reader finishes or forgets those).
    public func remove(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        try RDKafkaConsumer.incrementalUnassign(client, partitions)
        context.buffer.pushControl(.revoked(partitions))
        startOffsets.withLockedValue { starts in
            for partition in partitions { starts[TopicPartition(topic: partition.topic, partition: partition.partition)] = nil }
        }
    }

    /// Where each partition of `topics` starts and ends now (see `watermarks(_:timeout:)`),
    /// after a metadata request per topic, which creates a missing topic where the cluster
    /// auto-creates. Throws when a topic has no partitions yet or a leader does not answer.
    public func watermarks(of topics: [String], timeout: Duration = .seconds(5)) async throws(KafkaError) -> [PartitionWatermarks] {
        let handle = client.handle
        let milliseconds = timeout.librdkafkaMilliseconds
        return try await worker.run { RDKafkaOffsets.watermarks(handle, topics: topics, timeoutMs: milliseconds) }.get()
    }

    /// The first offset and the end (the next offset to be written) of each partition, as the
    /// leaders say now: one ListOffsets round trip per leader for the starts and one for the
    /// ends, each bounded by `timeout`. Assigned or not.
    public func watermarks(_ partitions: [TopicPartition], timeout: Duration = .seconds(5)) async throws(KafkaError) -> [PartitionWatermarks] {
        let handle = client.handle
        let milliseconds = timeout.librdkafkaMilliseconds
        return try await worker.run { RDKafkaOffsets.watermarks(handle, partitions: partitions, timeoutMs: milliseconds) }.get()
    }

    // MARK: - Flow control

    /// Stops fetching these partitions until `resume`; for back-pressure.
    public func pause(_ partitions: [TopicPartition]) {
        RDKafkaConsumer.pause(client, partitions)
    }

    public func resume(_ partitions: [TopicPartition]) {
        RDKafkaConsumer.resume(client, partitions)
    }

    /// Moves assigned partitions to `offset` (`KafkaOffset.beginning`, `.end` or a number).
    public func seek(_ partitions: [TopicPartition]) async throws(KafkaError) {
        let client = self.client
        if let failure = try await worker.run({ RDKafkaConsumer.seek(client, partitions, timeoutMs: 10_000) }) { throw failure }
    }

    /// Hands the reader of `events` a `.woken` event if it waits with nothing to read (or
    /// the next time it asks, if nothing came meanwhile): for a reader that must look at its
    /// own state again when no message arrives. Never blocks.
    public func wake() {
        context.buffer.wake()
    }

    /// The partitions currently assigned to this consumer.
    public var assignment: [TopicPartition] {
        RDKafkaConsumer.assignment(client)
    }

    /// Messages between this consumer's position and the end of its partitions, from the
    /// watermarks librdkafka last fetched (no request). Before a partition's first message
    /// there is no position: it counts from where reading started when known (`add`), else
    /// from the beginning.
    public var lag: Int64 {
        let starts = startOffsets.withLockedValue { $0 }
        return RDKafkaConsumer.lag(client) { starts[$0] }
    }

    // MARK: - Shutdown

    /// Leaves the group (committing stored offsets as partitions are revoked) and closes.
    /// Bounded by `timeout`: a broker that never answers cannot make it hang.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        guard let thread = close() else { return }
        context.buffer.stopBlocking()
        thread.stop()
        await thread.join()
        let client = self.client
        let worker = self.worker
        let closed = await completesWithin(timeout) {
            _ = try? await worker.run { RDKafkaConsumer.close(client) }
        }
        if !closed { logger.warning("consumer close did not finish within \(timeout); carrying on") }
        worker.stop()
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
