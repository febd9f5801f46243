import CascadeClient

/// What `cascade check --watch` concludes about one sampled key on one node, once the race
/// window has passed since the key's invalidation was sent.
public enum WatchVerdict: Sendable, Equatable {
    /// The node still holds a value stored before the invalidation: it should have dropped it.
    case violation(setAtMillis: Int64)
    /// The key is gone.
    case gone
    /// The key holds a value stored after the invalidation (a client cached it again), which
    /// this invalidation does not concern.
    case storedAfter(setAtMillis: Int64)

    public var isViolation: Bool {
        if case .violation = self { return true }
        return false
    }

    /// Judges what `CASCADE.META` says about a key invalidated at `invalidatedAtMillis` (when
    /// the bus sent the invalidation, on its clock). The node stamps `set_at_ms` with its own
    /// clock: the two must agree to the millisecond only where a value is stored in the very
    /// moment of its invalidation; skew between the machines shows as a value stored just
    /// after being judged stored before (node behind) or the reverse (node ahead).
    /// A value stored in the same millisecond as the invalidation is given the benefit of the
    /// doubt.
    public static func judge(_ meta: KeyMeta, invalidatedAtMillis: Int64) -> WatchVerdict {
        guard meta.exists else { return .gone }
        // A node always stamps a value; one with no stamp cannot be placed, and a watcher
        // must not page on what it cannot place.
        guard let setAt = meta.setAtMillis else { return .storedAfter(setAtMillis: invalidatedAtMillis) }
        return setAt < invalidatedAtMillis ? .violation(setAtMillis: setAt) : .storedAfter(setAtMillis: setAt)
    }
}
