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

        /// A time before the start (the clock went back) is kept as the start: later than
        /// it was, which errs towards stale.
        mutating func record(_ key: Int, atMillis: Int64) {
            table.record(key, sinceBase: min(max(0, atMillis - startedAtMillis), Self.longest))
        }

        subscript(key: Int) -> Int64? { table[key].map { startedAtMillis + $0 } }

        /// The most ms a slot can say after the start; a generation is rotated before.
        static let longest = Int64(UInt32.max) - 2
    }

    /// Key hash → time, as open addressing over one array of 8-byte slots: the key's hash
    /// folded to 32 bits (its tag, which also picks the home slot) above the time in ms since
    /// the generation's start, plus 1 (0 = empty). Half the size of a (hash, time) pair, so
    /// twice as many slots share the cache. Keys with the same tag (about a hundred pairs
    /// among a million keys) share one time, the later: that can only make a fresh value
    /// look stale, an extra invalidation, never a missed one.
    private struct TimeTable {
        private var slots = [UInt64](repeating: 0, count: 1024)
        private(set) var count = 0
        private static let tagMask: UInt64 = 0xFFFF_FFFF_0000_0000

        /// The time stored for `key`, as ms since the generation's start.
        subscript(key: Int) -> Int64? {
            let tag = Self.tag(key)
            var slot = Self.home(tag) & (slots.count - 1)
            while slots[slot] != 0 {
                if slots[slot] & Self.tagMask == tag { return Int64(slots[slot] & ~Self.tagMask) - 1 }
                slot = (slot + 1) & (slots.count - 1)
            }
            return nil
        }

        /// `sinceBase`: ms since the generation's start, at least 0 and below `UInt32.max`.
        mutating func record(_ key: Int, sinceBase: Int64) {
            let tag = Self.tag(key)
            let time = UInt64(sinceBase + 1)
            var slot = Self.home(tag) & (slots.count - 1)
            while slots[slot] != 0 {
                if slots[slot] & Self.tagMask == tag {
                    slots[slot] = tag | max(slots[slot] & ~Self.tagMask, time)
                    return
                }
                slot = (slot + 1) & (slots.count - 1)
            }
            slots[slot] = tag | time
            count += 1
            if count * 2 > slots.count { grow() }
        }

        /// Reads the home slot of each key, so that their cache misses overlap instead of
        /// coming one at a time as each key's probe waits for the last; returns what it read,
        /// for the caller to keep (an unused load would be optimised away).
        func warm(_ keys: some Collection<Int>) -> UInt64 {
            var read: UInt64 = 0
            slots.withUnsafeBufferPointer { slots in
                for key in keys { read ^= slots[Self.home(Self.tag(key)) & (slots.count - 1)] }
            }
            return read
        }

        mutating func removeAll() {
            guard count > 0 else { return }
            for slot in slots.indices { slots[slot] = 0 }
            count = 0
        }

        /// The key's two halves folded into one, in the slot's top half.
        private static func tag(_ key: Int) -> UInt64 {
            let bits = UInt64(UInt(bitPattern: key))
            return (bits ^ (bits << 32)) & tagMask
        }

        private static func home(_ entry: UInt64) -> Int { Int(truncatingIfNeeded: entry >> 32) }

        private mutating func grow() {
            let old = slots
            slots = [UInt64](repeating: 0, count: old.count * 2)
            let mask = slots.count - 1
            for entry in old where entry != 0 {
                var slot = Self.home(entry) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = entry
            }
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
    /// What `TimeTable.warm` read: kept so the reads stay.
    private var warmed: UInt64 = 0

    /// From now on, claim nothing from before `atMillis`: partitions another bus instance owned
    /// until then changed hands, and what it invalidated is not in this memory.
    func forgetBefore(_ atMillis: Int64) {
        lock.withLock { floorMillis = max(floorMillis, atMillis) }
    }

    /// Makes the memory cover from `sinceMillis`, as long as it holds nothing yet (a bus that
    /// has just started, about to record what was invalidated since then): false otherwise.
    func coverFrom(_ sinceMillis: Int64) -> Bool {
        lock.withLock {
            guard current.table.count == 0, previous.table.count == 0, sinceMillis <= current.startedAtMillis else { return false }
            current.startedAtMillis = sinceMillis
            previous.startedAtMillis = sinceMillis
            return true
        }
    }

    /// Remembers that these keys (hashes of `service/key`) were invalidated at `atMillis`.
    func record(_ keys: some Collection<Int>, atMillis: Int64) {
        lock.withLock {
            rotateIfDue(nowMillis: atMillis)
            warmed ^= current.table.warm(keys)
            for key in keys {
                current.record(key, atMillis: atMillis)
                if current.table.count > capacity / 2 { rotate(nowMillis: atMillis) }
            }
        }
    }

    /// When the key was last invalidated, if that is remembered.
    func lastInvalidated(_ key: Int) -> Int64? {
        lock.withLock {
            if let at = current[key] { return at }
            return previous[key]
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
        } else if age >= min(retentionMillis, Generation.longest) {
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
