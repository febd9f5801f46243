import CascadeWire
import NIOConcurrencyHelpers

/// Which keys a share hands on when it does not hold their partition: only keys whose family
/// some registration can point at have registered dependents, and only theirs are worth a hop.
/// Those are the families the graph declares as a dependency, and the families of undeclared
/// edges the shares have met (`learn`): the index honours registrations the graph does not
/// declare. A key of no family, or an index without a graph, is always handed on.
///
/// The instances of one system share what they learn (in one process, the same filter; across
/// processes, through their beacons), since an undeclared edge lands in the share of its
/// dependency, not in the shares that reach that dependency.
public final class HopFilter: Sendable {
    private let binder: TemplateBinder?
    private let declared: [Bool]
    private let learned: NIOLockedValueBox<Set<UInt32>>

    public init(graph: CacheGraph?) {
        binder = graph.map(TemplateBinder.init)
        declared = binder?.dependedOnNumbers ?? []
        learned = NIOLockedValueBox([])
    }

    /// Whether a key reached in another partition's share may have registered dependents there.
    public func mayHaveDependents(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let binder else { return true }
        // Not `service/key`: an `Entity#id` whose events arrive in another share.
        guard name.contains(UInt8(ascii: "/")) else { return true }
        let number = binder.resolve(name: name).number
        if number != 0, declared[Int(number)] { return true }
        return learned.withLockedValue { $0.contains(number) }
    }

    /// An undeclared edge now points at `dependency`: keys of its family may have dependents.
    public func learn(undeclared dependency: String) {
        guard let binder, dependency.contains("/") else { return }
        var name = dependency
        let number = name.withUTF8 { binder.resolve(name: $0).number }
        _ = learned.withLockedValue { $0.insert(number) }
    }

    /// Families learned so far (0: keys of no family), for the beacons.
    public var learnedFamilies: Set<UInt32> { learned.withLockedValue { $0 } }

    public func learn(families: Set<UInt32>) {
        learned.withLockedValue { $0.formUnion(families) }
    }
}
