import CascadeWire
import NIOConcurrencyHelpers

/// Which keys a share hands on when it does not hold their partition: only keys of a family
/// that some registration has depended on can have registered dependents, and only theirs are
/// worth a hop. The shares learn those families as they apply edge records (`learn`); bound
/// keys need no hop, any share binds them. A key of no family counts as family 0; an index
/// without a graph hands every key on.
///
/// The graph's declarations are no guide: the index honours registrations it does not declare,
/// and a family declared a dependency (`user-orders` on `order-summary` via tags) may have no
/// registered dependent at all, and then its keys would hop for nothing.
///
/// The instances of one system share what they learn (in one process, the same filter; across
/// processes, through their beacons), since an edge lands in the share of its dependency, not in
/// the shares that reach that dependency.
public final class HopFilter: Sendable {
    private let binder: TemplateBinder?
    private let learned: NIOLockedValueBox<Set<UInt32>>

    public init(graph: CacheGraph?) {
        binder = graph.map(TemplateBinder.init)
        learned = NIOLockedValueBox([])
    }

    /// What the filter knows now, to ask about every key of one closure without taking its
    /// lock for each.
    public func snapshot() -> Snapshot {
        Snapshot(binder: binder, families: learned.withLockedValue { $0 })
    }

    public struct Snapshot {
        let binder: TemplateBinder?
        let families: Set<UInt32>

        /// Whether a key reached in another partition's share may have registered dependents
        /// there; `family` is the number its closure slot carries (`UInt16.max`: too large to
        /// carry, resolved from the name's templates).
        public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>, family: UInt16) -> Bool {
            guard let binder else { return true }
            if family != UInt16.max { return families.contains(UInt32(family)) }
            // Not `service/key`: an `Entity#id` whose events arrive in another share.
            guard name.contains(UInt8(ascii: "/")) else { return true }
            return families.contains(binder.resolve(name: name).number)
        }
    }

    /// Families some registration depends on (learned here or told by another instance).
    public func learn<Families: Sequence<UInt32>>(families: Families) {
        learned.withLockedValue { $0.formUnion(families) }
    }
}
