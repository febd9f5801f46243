import CascadeWire
import Foundation
import NIOConcurrencyHelpers

/// The latest known version of each entity instance: the bus's state, rebuilt from the
/// compacted `cascade.ledger` at start. Thread-safe: the event pipeline writes it while the
/// ledger topic's replay (and other bus instances' writes) merge into it.
public final class Ledger: Sendable {
    public struct Entry: Sendable, Hashable {
        public var record: LedgerRecord
        /// When this bus learnt of the version (ms since 1970): the registration race window
        /// is measured from here. Replayed records use the event's own time.
        public var seenAtMillis: Int64
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    public init() {}

    public func entry(_ ref: String) -> Entry? {
        entries.withLockedValue { $0[ref] }
    }

    public var count: Int { entries.withLockedValue { $0.count } }

    /// Sets the entry the pipeline decided on (it already checked the order). Never lowers
    /// the version: should one entity's events reach two workers at once (published under
    /// different keys, against the contract), the higher version still stays.
    public func set(_ ref: String, _ entry: Entry) {
        entries.withLockedValue { entries in
            if let current = entries[ref], current.record.version > entry.record.version { return }
            entries[ref] = entry
        }
    }

    /// Enters `entry` when it is news (no entry yet, or an older version) and returns nil;
    /// otherwise returns the entry that stays. One lookup for the pipeline's every event.
    public func enterIfNewer(_ ref: String, _ entry: Entry) -> Entry? {
        entries.withLockedValue { entries in Self.enter(entry, into: &entries[ref]) }
    }

    /// Through the dictionary's in-place access: the key is hashed once.
    private static func enter(_ entry: Entry, into slot: inout Entry?) -> Entry? {
        if let current = slot, current.record.version >= entry.record.version { return current }
        slot = entry
        return nil
    }

    /// Merges a record read back from the ledger topic: never lowers a version.
    public func merge(_ record: LedgerRecord) {
        let ref = record.entity + "#" + record.id
        entries.withLockedValue { entries in
            if let current = entries[ref], current.record.version >= record.version { return }
            entries[ref] = Entry(record: record, seenAtMillis: record.atMillis)
        }
    }

    /// Forgets the entries whose `Entity#id` matches (a partition given up).
    public func removeAll(where matches: (String) -> Bool) {
        entries.withLockedValue { entries in
            for ref in entries.keys where matches(ref) { entries[ref] = nil }
        }
    }
}
