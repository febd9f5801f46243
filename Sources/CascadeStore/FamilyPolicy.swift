import Synchronization

/// What a node tells its store about key families, without the store knowing any graph: keys
/// are attributed to small family numbers (0: no family) by `classify`, once when a key is
/// first stored; each number belongs to an eviction class. The store counts per number and,
/// under memory pressure, evicts by class.
public struct FamilyPolicy: Sendable {
    /// Family numbers run 1...familyCount; 0 counts keys of no family.
    public var familyCount: Int
    /// Per family number (0...familyCount): its eviction class; class 0 is evicted first.
    public var evictionClass: [UInt8]
    /// Per class: the share (0...1) of the memory budget its keys may hold. Under pressure the
    /// lowest class above its share loses a key; when none is above, the lowest class with keys.
    public var classShares: [Double]
    /// The family number of a key (0: none). Called under a shard lock, once per new key and
    /// on misses, so it must be quick and must not touch the store.
    public var classify: @Sendable (UnsafeRawBufferPointer) -> UInt16
    /// Per family number: whether to fingerprint its values, so that storing a key again tells
    /// whether its value changed since the last time (the only change signal of a family no
    /// invalidation covers). Empty: none.
    public var observeChanges: [Bool]

    public init(
        familyCount: Int, evictionClass: [UInt8], classShares: [Double], observeChanges: [Bool] = [],
        classify: @escaping @Sendable (UnsafeRawBufferPointer) -> UInt16
    ) {
        self.observeChanges = observeChanges
        precondition(familyCount < Int(UInt16.max), "family numbers must fit 16 bits")
        precondition(evictionClass.count == familyCount + 1, "one eviction class per family number, 0 included")
        precondition(evictionClass.allSatisfy { Int($0) < classShares.count }, "an eviction class without a share")
        self.familyCount = familyCount
        self.evictionClass = evictionClass
        self.classShares = classShares
        self.classify = classify
    }

    /// No families: every key is number 0, one class holding the whole budget.
    public static let none = FamilyPolicy(familyCount: 0, evictionClass: [0], classShares: [1]) { _ in 0 }
}

/// Counters of one family, summed over the shards.
public struct FamilyStats: Sendable, Equatable {
    public var keys = 0
    public var bytes = 0
    public var hits = 0
    public var misses = 0
    public var evictions = 0
    public var invalidations = 0
    public var expired = 0
    /// Keys stored again, with (changed) or without (unchanged) a new value, and the time
    /// between the two stores summed: what a family that only a TTL covers learns from.
    public var storedChanged = 0
    public var storedUnchanged = 0
    public var storedIntervalMillis = 0

    public init() {}

    public var hitRatio: Double {
        hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses)
    }
}

/// A key read often enough to be in its shard's top list, as CASCADE.HOTKEYS and refresh
/// hints report it.
public struct HotKey: Sendable, Hashable {
    public var key: String
    public var family: UInt16
    /// Estimated reads (hits) recently: halved by every `decayHotKeys()`.
    public var hits: Int

    public init(key: String, family: UInt16, hits: Int) {
        self.key = key
        self.family = family
        self.hits = hits
    }
}

/// The policy as the shards share it, plus the TTL each family gives values stored without
/// one (set by the node's adaptive-TTL learner, read on SET).
final class SharedFamilies: Sendable {
    let policy: FamilyPolicy
    let familyCount: Int
    let classCount: Int
    let observeChanges: [Bool]
    /// Per family number: milliseconds, 0 = none. Relaxed atomics: a SET may see the old value.
    private let defaultTTLs: AtomicSlots<Int64>

    init(_ policy: FamilyPolicy) {
        self.policy = policy
        self.familyCount = policy.familyCount
        self.classCount = max(1, policy.classShares.count)
        self.observeChanges = (0...policy.familyCount).map { $0 < policy.observeChanges.count && policy.observeChanges[$0] }
        self.defaultTTLs = AtomicSlots(count: policy.familyCount + 1, initial: 0)
    }

    @inline(__always) func defaultTTL(_ family: UInt16) -> Int64 {
        Int(family) < defaultTTLs.count ? defaultTTLs[Int(family)].load(ordering: .relaxed) : 0
    }

    func setDefaultTTL(_ family: UInt16, _ millis: Int64) {
        guard Int(family) < defaultTTLs.count else { return }
        defaultTTLs[Int(family)].store(max(0, millis), ordering: .relaxed)
    }
}
