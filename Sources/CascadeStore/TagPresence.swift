import Synchronization

/// Which tags some shard may index, for skipping the sweep of every shard: an invalidation
/// names its root tag (`Entity#id`) for every service, and most nodes hold no key carrying that
/// one instance. Without this, each message locked all 128 shards and hashed the tag twice in
/// each (the largest cost of applying invalidations in `bench e2e`).
///
/// A counting filter: one counter per hash slot, raised before a shard indexes a tag (for an
/// entry or a lease) and lowered after it drops the tag. A zero means no shard indexes any tag
/// of that slot; a collision only costs a sweep. Raised before the index changes, so a tag
/// indexed before an invalidation starts is always seen by it; one indexed meanwhile was
/// stored concurrently, which the fences raised first already order (as a shard swept earlier
/// in the loop would).
final class TagPresence: Sendable {
    private static let slotBits = 18
    private let counters = AtomicSlots<UInt32>(count: 1 << slotBits, initial: 0)
    private let mask = (1 << slotBits) - 1

    static func hash(_ tag: String) -> Int {
        var tag = tag
        return tag.withUTF8 { Int(truncatingIfNeeded: KeyHash.hash(UnsafeRawBufferPointer($0))) }
    }

    /// Before a shard starts indexing `tag`.
    func add(_ tag: String) {
        counters[Self.hash(tag) & mask].wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// After a shard stopped indexing `tag`.
    func remove(_ tag: String) {
        counters[Self.hash(tag) & mask].wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// False only when no shard indexes `tag` (hashed with `hash(_:)`).
    func mayHold(hash: Int) -> Bool {
        counters[hash & mask].load(ordering: .sequentiallyConsistent) != 0
    }
}
