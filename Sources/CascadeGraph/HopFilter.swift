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
    private let learned: NIOLockedValueBox<Learned>

    struct Learned {
        var families: Set<UInt32> = []
        /// The services of those families (all, once a key of no family is among them): a key of
        /// another service is told apart without matching templates.
        var services: [[UInt8]] = []
        var anyService = false
    }

    public init(graph: CacheGraph?) {
        binder = graph.map(TemplateBinder.init)
        learned = NIOLockedValueBox(Learned())
    }

    /// Whether a key reached in another partition's share may have registered dependents there;
    /// `family` is the number its closure slot carries.
    public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>, family: UInt16) -> Bool {
        guard binder != nil else { return true }
        guard family == UInt16.max else { return learned.withLockedValue { $0.families.contains(UInt32(family)) } }
        return mayHaveDependents(name)
    }

    /// The same, resolving the name's family from the templates.
    public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let binder else { return true }
        // Not `service/key`: an `Entity#id` whose events arrive in another share.
        guard let slash = name.firstIndex(of: UInt8(ascii: "/")) else { return true }
        let service = UnsafeBufferPointer(rebasing: name[..<slash])
        let candidate = learned.withLockedValue { learned in
            learned.anyService || learned.services.contains { $0.elementsEqual(service) }
        }
        guard candidate else { return false }
        let number = binder.resolve(name: name).number
        return learned.withLockedValue { $0.families.contains(number) }
    }

    /// What the filter knows now, to ask about every key of one closure without taking its
    /// lock for each.
    public func snapshot() -> Snapshot {
        learned.withLockedValue { Snapshot(filter: self, families: $0.families) }
    }

    public struct Snapshot {
        let filter: HopFilter
        let families: Set<UInt32>

        public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>, family: UInt16) -> Bool {
            guard filter.binder != nil else { return true }
            guard family == UInt16.max else { return families.contains(UInt32(family)) }
            return filter.mayHaveDependents(name)
        }
    }

    /// Families learned so far, for the beacons.
    public var learnedFamilies: Set<UInt32> { learned.withLockedValue { $0.families } }

    /// Families some registration depends on (learned here or told by another instance).
    public func learn<Families: Sequence<UInt32>>(families: Families) {
        guard let binder else { return }
        learned.withLockedValue { learned in
            for number in families where learned.families.insert(number).inserted {
                if let family = binder.family(number: number) {
                    let service = Array(family.service.utf8)
                    if !learned.services.contains(service) { learned.services.append(service) }
                } else {
                    learned.anyService = true
                }
            }
        }
    }
}
