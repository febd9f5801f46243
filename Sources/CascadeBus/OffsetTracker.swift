import Foundation

/// Which consumed events are fully acknowledged. An event's offset may be committed only
/// when every message it caused is acked, and only once every earlier event of its partition
/// is too: per partition, the committable offset is the end of the contiguous acked prefix.
/// Thread-safe: the pipeline begins events, the producer's poll thread acks them.
final class OffsetTracker: @unchecked Sendable {
    struct PartitionKey: Hashable, Sendable {
        var topic: String
        var partition: Int32
    }

    private struct Queue {
        var order: [(sequence: UInt64, offset: Int64)] = []
        var head = 0
    }

    private let lock = NSLock()
    private var remaining: [UInt64: Int] = [:]
    private var partitionOf: [UInt64: PartitionKey] = [:]
    private var queues: [PartitionKey: Queue] = [:]
    private var storable: [PartitionKey: Int64] = [:]
    private var nextSequence: UInt64 = 1

    /// Starts tracking an event that caused `messages` messages; returns its sequence number.
    func begin(_ key: PartitionKey, offset: Int64, messages: Int) -> UInt64 {
        lock.withLock {
            let sequence = nextSequence
            nextSequence += 1
            queues[key, default: Queue()].order.append((sequence, offset))
            partitionOf[sequence] = key
            if messages > 0 {
                remaining[sequence] = messages
            } else {
                advance(key)
            }
            return sequence
        }
    }

    /// One message of event `sequence` was acknowledged.
    func acknowledge(_ sequence: UInt64) {
        lock.withLock {
            guard let count = remaining[sequence] else { return }
            if count > 1 {
                remaining[sequence] = count - 1
                return
            }
            remaining[sequence] = nil
            if let key = partitionOf[sequence] { advance(key) }
        }
    }

    private func advance(_ key: PartitionKey) {
        guard var queue = queues[key] else { return }
        var committable: Int64?
        while queue.head < queue.order.count, remaining[queue.order[queue.head].sequence] == nil {
            let done = queue.order[queue.head]
            partitionOf[done.sequence] = nil
            committable = done.offset + 1
            queue.head += 1
        }
        if queue.head > 1024 && queue.head * 2 > queue.order.count {
            queue.order.removeFirst(queue.head)
            queue.head = 0
        }
        queues[key] = queue
        if let committable { storable[key] = committable }
    }

    /// Offsets (next to read) that became committable since the last call.
    func drainCommittable() -> [(PartitionKey, Int64)] {
        lock.withLock {
            defer { storable = [:] }
            return storable.map { ($0.key, $0.value) }
        }
    }

    /// Forgets partitions this member no longer owns; late acks for them are ignored.
    func forget(_ keys: [PartitionKey]) {
        lock.withLock {
            for key in keys {
                if let queue = queues.removeValue(forKey: key) {
                    for entry in queue.order[queue.head...] {
                        remaining[entry.sequence] = nil
                        partitionOf[entry.sequence] = nil
                    }
                }
                storable[key] = nil
            }
        }
    }

    /// Events begun and not yet fully acknowledged.
    var inFlight: Int { lock.withLock { remaining.count } }
}
