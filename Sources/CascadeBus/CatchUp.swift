import CascadeKafka

/// How far the state follower has read the state topics, against where each partition ended
/// when the bus started: a plain value, tested without Kafka.
///
/// The ends are taken once, at start, so writes that keep coming never move the target. A
/// partition is caught up once the follower's position (the offset after the last message it
/// applied) reaches its end, or once the end is at or below the partition's first offset:
/// empty, or everything before the end trimmed away since (nothing is left to read there).
struct CatchUp: Sendable, Equatable {
    struct Key: Hashable, Sendable, Comparable {
        var topic: String
        var partition: Int32

        static func < (left: Key, right: Key) -> Bool {
            (left.topic, left.partition) < (right.topic, right.partition)
        }
    }

    struct Partition: Sendable, Equatable {
        /// The partition's first offset when the bus started.
        let start: Int64
        /// Its end then: the next offset to be written.
        let end: Int64
        /// Its first offset when last asked.
        var low: Int64
        /// The offset after the last message read; nil before the first.
        var position: Int64?
        /// Offsets passed over without a message: trimmed before they were read (the consumer
        /// then starts again at the new first offset) or, on a real broker, compacted away.
        var skipped: Int64 = 0
        /// How many times the position jumped over such offsets.
        var jumps = 0

        var isDone: Bool { max(position ?? low, low) >= end }
        /// Offsets still to read before the end (0 once done).
        var behind: Int64 { max(0, end - max(position ?? low, low)) }
    }

    private(set) var partitions: [Key: Partition] = [:]
    /// Partitions not caught up yet.
    private(set) var remaining = 0

    init(_ watermarks: [PartitionWatermarks]) {
        for mark in watermarks {
            let partition = Partition(start: mark.low, end: mark.high, low: mark.low)
            partitions[Key(topic: mark.topic, partition: mark.partition)] = partition
            if !partition.isDone { remaining += 1 }
        }
    }

    var isCaughtUp: Bool { remaining == 0 }

    /// The follower applied the messages `first...last` of a partition (offsets as delivered,
    /// gaps allowed).
    mutating func read(topic: String, partition: Int32, first: Int64, last: Int64) {
        let key = Key(topic: topic, partition: partition)
        guard var state = partitions[key] else { return }
        let wasDone = state.isDone
        let expected = max(state.position ?? state.start, state.start)
        if first > expected {
            state.skipped += first - expected
            state.jumps += 1
        }
        state.position = max(state.position ?? last + 1, last + 1)
        partitions[key] = state
        if !wasDone && state.isDone { remaining -= 1 }
    }

    /// A partition's first offset now; a partition trimmed past its end is caught up.
    mutating func probed(_ mark: PartitionWatermarks) {
        let key = Key(topic: mark.topic, partition: mark.partition)
        guard var state = partitions[key] else { return }
        let wasDone = state.isDone
        state.low = max(state.low, mark.low)
        partitions[key] = state
        if !wasDone && state.isDone { remaining -= 1 }
    }

    /// The partitions not caught up yet, in order.
    var pending: [Key] { partitions.filter { !$0.value.isDone }.map(\.key).sorted() }

    /// Per topic, how much is read of what there was at start.
    struct TopicProgress: Sendable, Equatable {
        var topic: String
        /// Offsets from each partition's first to its end at start.
        var total: Int64 = 0
        /// Of those, how many are still to read.
        var behind: Int64 = 0
        var partitions = 0
        var pendingPartitions = 0
        var skipped: Int64 = 0
        var jumps = 0

        var read: Int64 { total - behind }
    }

    /// Progress per topic, by topic name.
    var progress: [TopicProgress] {
        var topics: [String: TopicProgress] = [:]
        for (key, state) in partitions {
            var topic = topics[key.topic] ?? TopicProgress(topic: key.topic)
            topic.total += max(0, state.end - state.start)
            topic.behind += state.behind
            topic.partitions += 1
            if !state.isDone { topic.pendingPartitions += 1 }
            topic.skipped += state.skipped
            topic.jumps += state.jumps
            topics[key.topic] = topic
        }
        return topics.values.sorted { $0.topic < $1.topic }
    }

    /// Offsets still to read over all topics.
    var behind: Int64 { partitions.values.reduce(0) { $0 + $1.behind } }

    /// One line an operator reads: how far behind, per topic still behind.
    var summary: String {
        let behindTopics = progress.filter { $0.pendingPartitions > 0 }
        guard !behindTopics.isEmpty else { return "caught up" }
        let parts = behindTopics.map { topic in
            "\(topic.topic) \(topic.read)/\(topic.total) read, \(topic.behind) to go on \(topic.pendingPartitions) of \(topic.partitions) partitions"
                + (topic.jumps > 0 ? ", \(topic.skipped) offsets skipped in \(topic.jumps) jumps" : "")
        }
        return "\(behind) behind: " + parts.joined(separator: "; ")
    }
}
