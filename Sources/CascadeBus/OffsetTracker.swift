import CascadeSync
import Foundation
import NIOConcurrencyHelpers

/// Which consumed events are fully acknowledged. An event's offset may be committed only
/// when every message it caused is acked, and only once every earlier event of its partition
/// is too: per partition, the committable offset is the end of the contiguous acked prefix.
/// Events are tracked one by one or in spans whose messages were sent together.
/// Thread-safe: the pipeline begins events, the producer's poll thread acks them. Public for
/// the users of `AcknowledgedCommits`, which owns one.
public final class OffsetTracker: Sendable {
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
        /// The number `begin` gave the span.
        public var sequence: UInt64 = 0
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

    /// Everything the tracker knows, changed only under the box's lock.
    private struct State {
        /// One entry per event not yet fully acknowledged: one hash lookup per ack.
        var pending: [UInt64: Pending] = [:]
        var queues: [PartitionKey: Queue] = [:]
        var storable: [PartitionKey: Int64] = [:]
        /// Per partition, the end of the acknowledged prefix (next offset), kept after `drainCommittable`.
        var frontier: [PartitionKey: Int64] = [:]
        var nextSequence: UInt64 = 1

        mutating func begin(_ key: PartitionKey, offsets: ClosedRange<Int64>, events: Int, messages: Int) -> UInt64 {
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

        mutating func acknowledge(_ sequence: UInt64) -> Completed? {
            guard var entry = pending[sequence] else { return nil }
            if entry.remaining > 1 {
                entry.remaining -= 1
                pending[sequence] = entry
                return nil
            }
            pending[sequence] = nil
            advance(entry.key)
            return Completed(key: entry.key, offsets: entry.offsets, events: entry.events, sequence: sequence)
        }

        mutating func advance(_ key: PartitionKey) {
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
            if let committable {
                storable[key] = committable
                frontier[key] = committable
            }
        }
    }

    private let state = NIOLockedValueBox(State())
    /// Moves when nothing is in flight any more: what `awaitDrained` waits on.
    private let drained = ChangeSignal()

    public init() {}

    /// Starts tracking an event that caused `messages` messages; returns its sequence number.
    public func begin(_ key: PartitionKey, offset: Int64, messages: Int) -> UInt64 {
        begin(key, offsets: offset...offset, events: 1, messages: messages)
    }

    /// Starts tracking a span of `events` consecutive events of a partition (every event of
    /// that partition in `offsets` this member consumed) that together caused `messages`
    /// messages; returns its sequence number.
    public func begin(_ key: PartitionKey, offsets: ClosedRange<Int64>, events: Int, messages: Int) -> UInt64 {
        state.withLockedValue { $0.begin(key, offsets: offsets, events: events, messages: messages) }
    }

    /// Acknowledges a batch under one lock; `completed` hears each span that became complete.
    public func acknowledge<S: Sequence>(_ sequences: S, completed: (Completed) -> Void) where S.Element == UInt64 {
        let empty = state.withLockedValue { state -> Bool in
            var acknowledged = false
            for sequence in sequences {
                guard let done = state.acknowledge(sequence) else { continue }
                completed(done)
                acknowledged = true
            }
            return acknowledged && state.pending.isEmpty
        }
        if empty { drained.changed() }
    }

    /// Offsets (next to read) that became committable since the last call.
    public func drainCommittable() -> [(PartitionKey, Int64)] {
        state.withLockedValue { state in
            defer { state.storable = [:] }
            return state.storable.map { ($0.key, $0.value) }
        }
    }

    /// Forgets partitions this member no longer owns; late acks for them are ignored.
    public func forget(_ keys: [PartitionKey]) {
        let empty = state.withLockedValue { state -> Bool in
            for key in keys {
                if let queue = state.queues.removeValue(forKey: key) {
                    for entry in queue.order[queue.head...] { state.pending[entry.sequence] = nil }
                }
                state.storable[key] = nil
                state.frontier[key] = nil
            }
            return state.pending.isEmpty
        }
        if empty { drained.changed() }
    }

    /// Per partition, the next offset once every event before it is acknowledged (what
    /// `drainCommittable` hands out, kept).
    public var frontier: [PartitionKey: Int64] { state.withLockedValue { $0.frontier } }

    /// Spans (or single events) begun and not yet fully acknowledged.
    public var inFlight: Int { state.withLockedValue { $0.pending.count } }

    /// Returns once nothing is in flight (true), or false at `deadline` or on cancellation.
    public func awaitDrained(until deadline: ContinuousClock.Instant) async -> Bool {
        await drained.wait(until: deadline) { inFlight == 0 }
    }
}
