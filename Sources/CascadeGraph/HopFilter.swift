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
    /// By family number: whether some registration depends on it. An array, not a set: the
    /// question is asked for every key of every closure of a share.
    private let learned: NIOLockedValueBox<[Bool]>
    /// When each family was learned here (ms since 1970): until the others have heard of it,
    /// they hand none of its keys on (see `learnedWithin`).
    private let learnedAt = NIOLockedValueBox<[UInt32: Int64]>([:])

    public init(graph: CacheGraph?) {
        binder = graph.map(TemplateBinder.init)
        learned = NIOLockedValueBox([])
    }

    /// Every family learned so far, for the beacon.
    public var families: Set<UInt32> {
        learned.withLockedValue { flags in Set(flags.indices.filter { flags[$0] }.map(UInt32.init)) }
    }

    /// When the family of `name` (`service/key`) was learned here, nil if it was not: until
    /// the other instances heard of it, they handed none of its keys on, so this instance's
    /// memory of their invalidations starts then.
    public func learnedAtMillis(of name: String) -> Int64? {
        guard let binder else { return nil }
        var name = name
        let family = name.withUTF8 { binder.resolve(name: $0).number }
        return learnedAt.withLockedValue { $0[family] }
    }

    /// What the filter knows now, to ask about every key of one closure without taking its
    /// lock for each.
    public func snapshot() -> Snapshot {
        Snapshot(binder: binder, families: learned.withLockedValue { $0 })
    }

    public struct Snapshot {
        let binder: TemplateBinder?
        let families: [Bool]

        /// Whether a key reached in another partition's share may have registered dependents
        /// there; `family` is the number its closure slot carries (`UInt16.max`: too large to
        /// carry, resolved from the name's templates).
        public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>, family: UInt16) -> Bool {
            guard let binder else { return true }
            if family != UInt16.max { return learned(UInt32(family)) }
            // Not `service/key`: an `Entity#id` whose events arrive in another share.
            guard name.contains(UInt8(ascii: "/")) else { return true }
            return learned(binder.resolve(name: name).number)
        }

        private func learned(_ family: UInt32) -> Bool { Int(family) < families.count && families[Int(family)] }
    }

    /// Families some registration depends on (learned here or told by another instance).
    /// `atMillis`: when a family new to the whole system was learned (an edge applied live),
    /// nil when others knew it already (a beacon told it, or a rebuild read it back).
    public func learn<Families: Sequence<UInt32>>(families: Families, atMillis: Int64? = nil) {
        let new = learned.withLockedValue { learned in
            families.filter { family in
                // Family numbers are a graph's, dense and small; a larger one (a beacon from
                // another graph) is no family here.
                guard family <= UInt16.max, Int(family) >= learned.count || !learned[Int(family)] else { return false }
                if Int(family) >= learned.count { learned += repeatElement(false, count: Int(family) + 1 - learned.count) }
                learned[Int(family)] = true
                return true
            }
        }
        guard !new.isEmpty, let atMillis else { return }
        learnedAt.withLockedValue { for family in new { $0[family] = atMillis } }
    }
}
