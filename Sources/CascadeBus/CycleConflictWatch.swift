import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// Finds concurrent updates inside one circular component: two events for different entity
/// instances, from different origins, with `at` times at most a window apart, whose closures
/// both reach the same key of a circular family. That key may have been recomputed from one
/// side while the other side's invalidation was in flight, so a value mixing both can stay
/// cached; the pipeline resolves it like a conflict.
///
/// Remembers, per circular key, the last event that reached it, in two generations: new
/// touches go to the current one, which becomes the previous one after a window of the bus's
/// clock (or `capacity / 2` keys), the older previous one being dropped whole. A touch is so
/// remembered for one to two windows, memory stays bounded whatever the traffic, and nothing
/// is expired key by key. Keys are known by the hash of their `service/key` name (a 64-bit
/// collision could only report a spurious conflict). Thread-safe: one lock per event.
final class CycleConflictWatch: Sendable {
    /// An earlier event concurrent with the one recorded, and the keys both reached, as
    /// positions in the `keys` given to `record`, in their order.
    struct Concurrent: Sendable {
        var other: LedgerRecord
        var shared: [Int]
    }

    /// Touches of one generation: the events, and per key hash the event that touched it last.
    private struct Generation {
        var events: [LedgerRecord] = []
        var last = TouchTable()
        var startedAtMillis: Int64 = .min
    }

    /// Key hash → index of an event, as open addressing (linear probing) over one array of
    /// pairs. The keys are already hashes, so they pick their slot directly: a `Dictionary`
    /// hashed each again, and kept keys and values apart, two cache misses per probe on a
    /// table of up to `capacity / 2` keys.
    struct TouchTable {
        private struct Slot {
            var key: Int
            /// -1 = empty.
            var event: Int32
        }

        private var slots = [Slot](repeating: Slot(key: 0, event: -1), count: 1024)
        private(set) var count = 0

        /// The event stored for `key`, if any.
        subscript(key: Int) -> Int32? {
            var slot = key & (slots.count - 1)
            while slots[slot].event >= 0 {
                if slots[slot].key == key { return slots[slot].event }
                slot = (slot + 1) & (slots.count - 1)
            }
            return nil
        }

        /// Stores `event` for `key`; returns the event it replaces, as `Dictionary.updateValue`.
        mutating func updateValue(_ event: Int32, forKey key: Int) -> Int32? {
            var slot = key & (slots.count - 1)
            while slots[slot].event >= 0 {
                if slots[slot].key == key {
                    let replaced = slots[slot].event
                    slots[slot].event = event
                    return replaced
                }
                slot = (slot + 1) & (slots.count - 1)
            }
            slots[slot] = Slot(key: key, event: event)
            count += 1
            // Grow at 50% load so probe chains stay short.
            if count * 2 > slots.count { grow() }
            return nil
        }

        /// Reads the home slot of each key, so that their cache misses overlap instead of
        /// coming one at a time; returns what it read, for the caller to keep (an unused load
        /// would be optimised away).
        func warm(_ keys: UnsafeBufferPointer<Int>) -> Int {
            var read = 0
            slots.withUnsafeBufferPointer { slots in
                for key in keys { read ^= slots[key & (slots.count - 1)].key }
            }
            return read
        }

        /// Empties the table, keeping its size.
        mutating func removeAll() {
            guard count > 0 else { return }
            for slot in slots.indices { slots[slot].event = -1 }
            count = 0
        }

        private mutating func grow() {
            let old = slots
            slots = [Slot](repeating: Slot(key: 0, event: -1), count: old.count * 2)
            count = 0
            for slot in old where slot.event >= 0 { _ = updateValue(slot.event, forKey: slot.key) }
        }
    }

    /// Both generations, changed only under the box's lock.
    private struct Memory {
        var current = Generation()
        var previous = Generation()
        /// What `TouchTable.warm` read: kept so the reads stay.
        var warmed = 0

        /// Starts a new generation when the current one is a window old or would pass half the
        /// capacity with `adding` more keys.
        mutating func rotateIfDue(nowMillis: Int64, adding: Int, windowMillis: Int64, capacity: Int) {
            if current.startedAtMillis == .min { current.startedAtMillis = nowMillis }
            let age = nowMillis - current.startedAtMillis
            if age >= 2 * windowMillis {
                // Both generations are older than a window: nothing to keep.
                rotate(nowMillis: nowMillis)
                rotate(nowMillis: nowMillis)
            } else if age >= windowMillis || current.last.count + adding > capacity / 2 {
                rotate(nowMillis: nowMillis)
            }
        }

        /// The current generation becomes the previous one; the old previous one is dropped
        /// whole, its storage reused.
        private mutating func rotate(nowMillis: Int64) {
            swap(&current, &previous)
            current.events.removeAll(keepingCapacity: true)
            current.last.removeAll()
            current.startedAtMillis = nowMillis
        }
    }

    let windowMillis: Int64
    let capacity: Int
    private let memory = NIOLockedValueBox(Memory())

    init(windowMillis: Int64, capacity: Int = 200_000) {
        self.windowMillis = windowMillis
        self.capacity = max(2, capacity)
    }

    /// Keys remembered, at most `capacity` (for tests and the footprint).
    var count: Int { memory.withLockedValue { $0.current.last.count + $0.previous.last.count } }

    /// Whether two events are concurrent updates of different instances by different writers.
    /// An event without an `at` time is never concurrent: there is nothing to compare.
    func concurrent(_ a: LedgerRecord, _ b: LedgerRecord) -> Bool {
        a.atMillis != 0 && b.atMillis != 0 && a.origin != b.origin
            && (a.entity != b.entity || a.id != b.id)
            && abs(a.atMillis - b.atMillis) <= windowMillis
    }

    /// Records that `record`'s event reached the keys whose name hashes are `keys` (circular
    /// families, each once) and returns the earlier events concurrent with it, each once, in
    /// the order their first shared key appears in `keys`.
    func record(_ record: LedgerRecord, keys: UnsafeBufferPointer<Int>, nowMillis: Int64) -> [Concurrent] {
        guard record.atMillis != 0, !keys.isEmpty else { return [] }
        return memory.withLockedValue { memory in
            memory.rotateIfDue(nowMillis: nowMillis, adding: keys.count, windowMillis: windowMillis, capacity: capacity)
            memory.warmed ^= memory.current.last.warm(keys) ^ memory.previous.last.warm(keys)
            let index = Int32(memory.current.events.count)
            memory.current.events.append(record)
            var found: [Concurrent] = []
            // Which earlier event each report is about: (in the current generation, index).
            var reported: [(Bool, Int32)] = []
            for (position, key) in keys.enumerated() {
                var earlier: (Bool, Int32)?
                if let old = memory.current.last.updateValue(index, forKey: key) {
                    earlier = (true, old)
                } else if let old = memory.previous.last[key] {
                    earlier = (false, old)
                }
                guard let (inCurrent, old) = earlier else { continue }
                let other = inCurrent ? memory.current.events[Int(old)] : memory.previous.events[Int(old)]
                guard concurrent(record, other) else { continue }
                // One report per earlier event, however many keys the two share.
                if let seen = reported.firstIndex(where: { $0 == inCurrent && $1 == old }) {
                    found[seen].shared.append(position)
                } else {
                    reported.append((inCurrent, old))
                    found.append(Concurrent(other: other, shared: [position]))
                }
            }
            return found
        }
    }
}
