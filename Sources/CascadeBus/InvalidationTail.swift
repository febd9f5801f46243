import CascadeGraph
import CascadeKafka
import CascadeWire
import Logging

/// What every bus instance invalidated lately, read back from the invalidation topics into
/// the race check's memory (`RecentInvalidations`).
///
/// Each instance remembers only the keys it invalidated itself. When it takes partitions over
/// from an instance that went silent, what that one invalidated in its last moments is not in
/// its memory, but it is on the invalidation topics: every cascade that reached the nodes went
/// there. Reading the topics from a little before the silence up to their end gives the memory
/// back, so the taker need not treat every `service/key` dependency as stale meanwhile; a
/// restarted instance reads them back the same way before it is ready. A message is remembered at its timestamp (when its bus produced it), which is no earlier than
/// when that bus remembered it: a later time only errs towards stale.
struct InvalidationTail: Sendable {
    let kafka: KafkaConfiguration
    let topics: Topics
    /// The graph's services; the invalidation topics of others (keys registered by services the
    /// graph does not name) are found by listing the cluster's topics.
    let services: [String]
    let logger: Logger

    struct Unread: Error, CustomStringConvertible {
        var description: String
    }

    /// What a read found.
    struct Outcome: Sendable, Equatable {
        var messages = 0
        var keys = 0
        /// From when the memory now holds every invalidation on the topics: `sinceMillis`, or
        /// later where a partition could not be read back that far (`fallbackDepth`).
        var coveredSinceMillis: Int64
    }

    /// Added to a message's timestamp: librdkafka's clock can read a millisecond or two behind.
    static let clockSlackMillis: Int64 = 5

    /// Messages read back per partition where the broker cannot find an offset by time
    /// (librdkafka's mock cluster answers -1 to any timestamp): a few seconds of any traffic
    /// the bus produces, batched as it is.
    var fallbackDepth: Int64 = 1000

    /// Remembers, in `memory`, every key invalidated on the topics at or after `sinceMillis`, up
    /// to the topics' end when the read started. Throws when the brokers cannot say where that
    /// is or the read does not finish within `timeout`: the caller then keeps claiming nothing.
    func read(sinceMillis: Int64, into memory: RecentInvalidations, timeout: Duration = .seconds(3)) async throws -> Outcome {
        var configuration = kafka
        configuration.properties["fetch.wait.max.ms"] = "10"
        let consumer = try KafkaConsumer(
            configuration: configuration, subscription: .manual(commitGroup: "cascade-invalidation-tail"), logger: logger)
        defer { Task { await consumer.shutdown(timeout: .seconds(1)) } }
        let deadline = ContinuousClock.now + timeout
        let bounds = try await bounds(consumer, sinceMillis: sinceMillis, timeout: timeout)
        var remaining: [TopicPartition: Int64] = [:]
        /// Partitions read from a fallback depth rather than from the time: covered only from
        /// their first message's time on.
        var truncated: Set<TopicPartition> = []
        var reading: [TopicPartition] = []
        for (partition, range) in bounds {
            var start = range.atTime
            if start < 0 {
                start = max(range.low, range.end - fallbackDepth)
                if start > range.low { truncated.insert(partition) }
            }
            guard start < range.end else { continue }
            remaining[partition] = range.end
            reading.append(TopicPartition(topic: partition.topic, partition: partition.partition, offset: start))
        }
        var outcome = Outcome(coveredSinceMillis: sinceMillis)
        guard !reading.isEmpty else { return outcome }
        try consumer.add(reading)
        let prefix = topics.invalidations(service: "")
        let timer = Task {
            try await Task.sleep(until: deadline)
            consumer.wake()
        }
        defer { timer.cancel() }
        for await event in consumer.events {
            if case .messages(let batch) = event {
                for message in batch {
                    let partition = TopicPartition(topic: message.topic, partition: message.partition)
                    guard let end = remaining[partition], message.offset < end else { continue }
                    if message.offset + 1 >= end { remaining[partition] = nil }
                    // librdkafka's clock can read a millisecond or two behind ours: later errs stale.
                    let atMillis = message.timestampMillis.map { $0 + Self.clockSlackMillis } ?? Timestamps.nowMillis()
                    if truncated.remove(partition) != nil { outcome.coveredSinceMillis = max(outcome.coveredSinceMillis, atMillis) }
                    // Read back from a fallback depth: what is older than the moment needs no decoding.
                    guard atMillis >= sinceMillis, message.topic.hasPrefix(prefix), let bytes = message.valueBytes else { continue }
                    outcome.messages += 1
                    outcome.keys += remember(bytes, service: String(message.topic.dropFirst(prefix.count)), atMillis: atMillis, into: memory)
                }
            }
            if remaining.isEmpty { return outcome }
            if ContinuousClock.now >= deadline { break }
        }
        throw Unread(description: "the invalidation topics were not read back within \(timeout)")
    }

    /// Each partition's first offset, its offset at `sinceMillis` (-1 when the broker found
    /// none), and its end now.
    private func bounds(
        _ consumer: KafkaConsumer, sinceMillis: Int64, timeout: Duration
    ) async throws -> [TopicPartition: (low: Int64, atTime: Int64, end: Int64)] {
        let prefix = topics.invalidations(service: "")
        var candidates = Set(services.map { topics.invalidations(service: $0) })
        if let listed = try? await KafkaAdmin(configuration: kafka).listTopics(timeout: timeout) {
            candidates.formUnion(listed.keys.filter { $0.hasPrefix(prefix) && $0.count > prefix.count })
        }
        var topicNames: [String] = []
        for name in candidates.sorted() where await consumer.partitions(of: name, timeout: timeout) != nil {
            topicNames.append(name)
        }
        let watermarks = try await consumer.watermarks(of: topicNames, timeout: timeout)
        let partitions = watermarks.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
        guard let atTime = await consumer.offsets(atMillis: sinceMillis, of: partitions, timeout: timeout) else {
            throw Unread(description: "the brokers did not say where the invalidation topics stood at \(sinceMillis) ms")
        }
        var offsetAtTime: [TopicPartition: Int64] = [:]
        for partition in atTime { offsetAtTime[TopicPartition(topic: partition.topic, partition: partition.partition)] = partition.offset }
        var bounds: [TopicPartition: (low: Int64, atTime: Int64, end: Int64)] = [:]
        for mark in watermarks {
            let partition = TopicPartition(topic: mark.topic, partition: mark.partition)
            bounds[partition] = (mark.low, offsetAtTime[partition] ?? -1, mark.high)
        }
        return bounds
    }

    /// Remembers the keys of one invalidation message; returns how many.
    private func remember(_ bytes: [UInt8], service: String, atMillis: Int64, into memory: RecentInvalidations) -> Int {
        guard let batch = try? InvalidationBatch.read(bytes) else { return 0 }
        var hashes: [Int] = []
        for invalidation in batch.invalidations {
            for target in invalidation.keys { hashes.append(RecentInvalidations.hash(service + "/" + target.key)) }
        }
        memory.record(hashes, atMillis: atMillis)
        return hashes.count
    }
}
