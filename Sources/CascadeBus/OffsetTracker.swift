import Foundation

/// Which consumed events are fully acknowledged. An event's offset may be committed only
/// when every message it caused is acked, and only once every earlier event of its partition
/// is too: per partition, the committable offset is the end of the contiguous acked prefix.
/// Events are tracked one by one or in spans whose messages were sent together.
/// Thread-safe: the pipeline begins events, the producer's poll thread acks them. Public for
/// the users of `AcknowledgedCommits`, which owns one.
// @unchecked Sendable: all state is touched only under `lock`.
public final class OffsetTracker: @unchecked Sendable {
    public struct PartitionKey: Hashable, Sendable {
        public var topic: String
        public var partition: Int32

        public init(topic: String, partition: Int32) {
            self.topic = topic
            self.partition = partition
        }
    }

    /// A span of events whose every message is acknowledged.
    public struct Completed: Sendable {
        public var key: PartitionKey
        public var offsets: ClosedRange<Int64>
        public var events: Int
    }

    private struct Pending {
        var remaining: Int
        var key: PartitionKey
        var offsets: ClosedRange<Int64>
        var events: Int
    }

    private struct Queue {
        var order: [(sequence: UInt64, offset: Int64)] = []
        var head = 0
    }

    private let lock = NSLock()
    /// One entry per event not yet fully acknowledged: one hash lookup per ack.
    private var pending: [UInt64: Pending] = [:]
    private var queues: [PartitionKey: Queue] = [:]
    private var storable: [PartitionKey: Int64] = [:]
    private var nextSequence: UInt64 = 1
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// Starts tracking an event that caused `messages` messages; returns its sequence number.
    public func begin(_ key: PartitionKey, offset: Int64, messages: Int) -> UInt64 {
        begin(key, offsets: offset...offset, events: 1, messages: messages)
    }

    /// Starts tracking a span of `events` consecutive events of a partition (every event of
    /// that partition in `offsets` this member consumed) that together caused `messages`
    /// messages; returns its sequence number.
    public func begin(_ key: PartitionKey, offsets: ClosedRange<Int64>, events: Int, messages: Int) -> UInt64 {
        lock.withLock {
            let sequence = nextSequence
            nextSequence += 1
            queues[key, default: Queue()].order.append((sequence, offsets.upperBound))
            if messages > 0 {
                pending[sequence] = Pending(remaining: messages, key: key, offsets: offsets, events: events)
            } else {
                advance(key)
            }
            return sequence
        }
    }

    /// Acknowledges a batch under one lock; `completed` hears each span that became complete.
    public func acknowledge<S: Sequence>(_ sequences: S, completed: (Completed) -> Void) where S.Element == UInt64 {
        let drained = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            for sequence in sequences {
                if let done = acknowledgeLocked(sequence) { completed(done) }
            }
            guard pending.isEmpty, !drainWaiters.isEmpty else { return [] }
            defer { drainWaiters = [] }
            return drainWaiters
        }
        for waiter in drained { waiter.resume() }
    }

    private func acknowledgeLocked(_ sequence: UInt64) -> Completed? {
        guard var entry = pending[sequence] else { return nil }
        if entry.remaining > 1 {
            entry.remaining -= 1
            pending[sequence] = entry
            return nil
        }
        pending[sequence] = nil
        advance(entry.key)
        return Completed(key: entry.key, offsets: entry.offsets, events: entry.events)
    }

    private func advance(_ key: PartitionKey) {
        guard var queue = queues[key] else { return }
        var committable: Int64?
        while queue.head < queue.order.count, pending[queue.order[queue.head].sequence] == nil {
            committable = queue.order[queue.head].offset + 1
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
    public func drainCommittable() -> [(PartitionKey, Int64)] {
        lock.withLock {
            defer { storable = [:] }
            return storable.map { ($0.key, $0.value) }
        }
    }

    /// Forgets partitions this member no longer owns; late acks for them are ignored.
    public func forget(_ keys: [PartitionKey]) {
        let drained = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            for key in keys {
                if let queue = queues.removeValue(forKey: key) {
                    for entry in queue.order[queue.head...] { pending[entry.sequence] = nil }
                }
                storable[key] = nil
            }
            guard pending.isEmpty else { return [] }
            defer { drainWaiters = [] }
            return drainWaiters
        }
        for waiter in drained { waiter.resume() }
    }

    /// Spans (or single events) begun and not yet fully acknowledged.
    public var inFlight: Int { lock.withLock { pending.count } }

    /// Returns once nothing is in flight.
    public func awaitDrained() async {
        await withCheckedContinuation { continuation in
            let drained = lock.withLock { () -> Bool in
                if pending.isEmpty { return true }
                drainWaiters.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
    }
}
