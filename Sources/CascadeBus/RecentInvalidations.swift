import CascadeGraph
import Foundation

/// When the bus last invalidated each cache key, for a while: what the registration race check
/// needs for dependencies on other keys (`service/key`), which have no versions. A value
/// computed from a key that was invalidated after it could have been read is stale, and its
/// registration may reach the bus only after the cascade that would have dropped it.
///
/// Two generations of key hashes, like `CycleConflictWatch`: new invalidations go to the
/// current one, which becomes the previous one after `retentionMillis` of the bus's clock (or
/// `capacity / 2` keys), the older previous one being dropped whole. So an invalidation is
/// remembered for at least one retention period unless the traffic fills a generation first;
/// `coverageStartMillis` says since when the memory is complete, and a registration older
/// than that cannot be shown fresh. Keys are known by the hash of their `service/key` name: a
/// collision can only make a fresh value look stale (an extra invalidation, never a missed one).
/// Thread-safe: one lock per call.
// @unchecked Sendable: both generations are touched only under `lock`.
final class RecentInvalidations: @unchecked Sendable {
    private struct Generation {
        var table = TimeTable()
        var startedAtMillis: Int64
    }

    /// Key hash → time, as open addressing over one array (the keys are hashes already).
    private struct TimeTable {
        private struct Slot {
            var key: Int
            /// 0 = empty; times are ms since 1970.
            var atMillis: Int64
        }

        private var slots = [Slot](repeating: Slot(key: 0, atMillis: 0), count: 1024)
        private(set) var count = 0

        subscript(key: Int) -> Int64? {
            var slot = key & (slots.count - 1)
            while slots[slot].atMillis != 0 {
                if slots[slot].key == key { return slots[slot].atMillis }
                slot = (slot + 1) & (slots.count - 1)
            }
            return nil
        }

        mutating func record(_ key: Int, atMillis: Int64) {
            var slot = key & (slots.count - 1)
            while slots[slot].atMillis != 0 {
                if slots[slot].key == key {
                    slots[slot].atMillis = max(slots[slot].atMillis, atMillis)
                    return
                }
                slot = (slot + 1) & (slots.count - 1)
            }
            slots[slot] = Slot(key: key, atMillis: max(1, atMillis))
            count += 1
            if count * 2 > slots.count { grow() }
        }

        mutating func removeAll() {
            guard count > 0 else { return }
            for slot in slots.indices { slots[slot].atMillis = 0 }
            count = 0
        }

        private mutating func grow() {
            let old = slots
            slots = [Slot](repeating: Slot(key: 0, atMillis: 0), count: old.count * 2)
            count = 0
            for slot in old where slot.atMillis != 0 { record(slot.key, atMillis: slot.atMillis) }
        }
    }

    let retentionMillis: Int64
    let capacity: Int
    private let lock = NSLock()
    private var current: Generation
    private var previous: Generation

    /// `startMillis`: when this bus started; nothing before it is known.
    init(retentionMillis: Int64, capacity: Int = 2_000_000, startMillis: Int64) {
        self.retentionMillis = max(1, retentionMillis)
        self.capacity = max(2, capacity)
        current = Generation(startedAtMillis: startMillis)
        previous = Generation(startedAtMillis: startMillis)
    }

    /// Since when every invalidation is remembered.
    var coverageStartMillis: Int64 { lock.withLock { max(previous.startedAtMillis, floorMillis) } }
    private var floorMillis: Int64 = .min

    /// From now on, claim nothing from before `atMillis`: partitions another bus instance owned
    /// until then changed hands, and what it invalidated is not in this memory.
    func forgetBefore(_ atMillis: Int64) {
        lock.withLock { floorMillis = max(floorMillis, atMillis) }
    }

    /// Remembers that these keys (hashes of `service/key`) were invalidated at `atMillis`.
    func record(_ keys: some Sequence<Int>, atMillis: Int64) {
        lock.withLock {
            rotateIfDue(nowMillis: atMillis)
            for key in keys {
                current.table.record(key, atMillis: atMillis)
                if current.table.count > capacity / 2 { rotate(nowMillis: atMillis) }
            }
        }
    }

    /// When the key was last invalidated, if that is remembered.
    func lastInvalidated(_ key: Int) -> Int64? {
        lock.withLock {
            if let at = current.table[key] { return at }
            return previous.table[key]
        }
    }

    /// The hash a key is remembered by: `NameHash` of its `service/key` name, as the closure
    /// carries it in each slot.
    static func hash(_ name: String) -> Int { Int(truncatingIfNeeded: NameHash.of(name)) }

    private func rotateIfDue(nowMillis: Int64) {
        let age = nowMillis - current.startedAtMillis
        if age >= 2 * retentionMillis {
            rotate(nowMillis: nowMillis - retentionMillis)
            rotate(nowMillis: nowMillis)
        } else if age >= retentionMillis {
            rotate(nowMillis: nowMillis)
        }
    }

    /// The current generation becomes the previous one; the old previous one is dropped.
    private func rotate(nowMillis: Int64) {
        swap(&current, &previous)
        current.table.removeAll()
        current.startedAtMillis = nowMillis
    }
}
