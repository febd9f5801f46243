import CascadeWire
import Foundation

/// Finds concurrent updates inside one circular component: two events for different entity
/// instances, from different origins, with `at` times at most a window apart, whose closures
/// both reach the same key of a circular family. That key may have been recomputed from one
/// side while the other side's invalidation was in flight, so a value mixing both can stay
/// cached; the pipeline resolves it like a conflict.
///
/// Remembers, per circular key, the last event that reached it. Touches are kept for one
/// window of the bus's clock and at most `capacity` keys, oldest dropped first, so memory
/// stays bounded whatever the traffic. Thread-safe (one lock, held for one event's keys).
final class CycleConflictWatch: @unchecked Sendable {
    /// One event that reached circular keys: shared by all the keys it touched.
    final class Touch: Sendable {
        let record: LedgerRecord
        init(_ record: LedgerRecord) { self.record = record }
    }

    /// An earlier event concurrent with the one recorded, and the keys both reached, as
    /// positions in the `keys` given to `record`, in their order.
    struct Concurrent: Sendable {
        var other: LedgerRecord
        var shared: [Int]
    }

    let windowMillis: Int64
    let capacity: Int
    private let lock = NSLock()
    /// The last event that reached each key.
    private var last: [String: Touch] = [:]
    /// Keys in the order they were touched, with the bus's time; `head` is the oldest live one.
    private var queue: [(key: String, touch: Touch, seenAtMillis: Int64)] = []
    private var head = 0

    init(windowMillis: Int64, capacity: Int = 100_000) {
        self.windowMillis = windowMillis
        self.capacity = max(1, capacity)
    }

    /// Keys remembered (for tests and the footprint).
    var count: Int { lock.withLock { last.count } }

    /// Whether two events are concurrent updates of different instances by different writers.
    /// An event without an `at` time is never concurrent: there is nothing to compare.
    func concurrent(_ a: LedgerRecord, _ b: LedgerRecord) -> Bool {
        a.atMillis != 0 && b.atMillis != 0 && a.origin != b.origin
            && (a.entity != b.entity || a.id != b.id)
            && abs(a.atMillis - b.atMillis) <= windowMillis
    }

    /// Records that `record`'s event reached `keys` (`service/key` names of circular
    /// families, each once) and returns the earlier events concurrent with it, each once,
    /// in the order their first shared key appears in `keys`.
    func record(_ record: LedgerRecord, keys: [String], nowMillis: Int64) -> [Concurrent] {
        guard record.atMillis != 0, !keys.isEmpty else { return [] }
        let touch = Touch(record)
        return lock.withLock {
            prune(nowMillis: nowMillis, adding: keys.count)
            var found: [Concurrent] = []
            var foundTouches: [Touch] = []
            for (position, key) in keys.enumerated() {
                if let previous = last[key], concurrent(record, previous.record) {
                    // One report per earlier event, however many keys the two share.
                    if let index = foundTouches.firstIndex(where: { $0 === previous }) {
                        found[index].shared.append(position)
                    } else {
                        foundTouches.append(previous)
                        found.append(Concurrent(other: previous.record, shared: [position]))
                    }
                }
                last[key] = touch
                queue.append((key, touch, nowMillis))
            }
            return found
        }
    }

    /// Drops touches older than the window on the bus's clock, and the oldest ones beyond
    /// the capacity (counting the keys about to be added).
    private func prune(nowMillis: Int64, adding: Int) {
        while head < queue.count {
            let oldest = queue[head]
            guard oldest.seenAtMillis < nowMillis - windowMillis || queue.count - head + adding > capacity else { break }
            // The key may have been touched again since: only its latest touch counts.
            if last[oldest.key] === oldest.touch { last[oldest.key] = nil }
            head += 1
        }
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }
}
