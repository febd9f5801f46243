import CascadeWire

/// The partition that owns a cached key (`service/key`) turns the key's registrations and
/// tombstones into records of the edges topic, one per partition its dependencies lie in, sent
/// only where they changed.
///
/// It keeps what the whole index keeps per key (`InstanceIndexState`): which node registered the
/// value and at which incarnation (an older registration, or a tombstone older than the value,
/// changes nothing), replicas of a service adding to each other's dependencies, and a key whose
/// value is gone but that others depend on keeping its edges until its last dependent goes
/// (`releaseIfUnused`). Whether a key has dependents the caller answers: they lie in the key's own
/// partition, which the same instance holds.
///
/// A key whose value goes while nothing depends on it keeps its edges for a grace
/// (`graceMillis`, `GraceQueue`): a value computed from it just before may register on it
/// later, and must still be reached through it. Only a tombstone that recent keeps them: one read
/// again in a rebuild, older than the grace, ends its edges at once, as before.
public struct EdgeRouter: Sendable {
    public let partitioner: StatePartitioner
    public let graceMillis: Int64
    private var keys: [CacheKeyRef: Routed] = [:]
    private var graced = GraceQueue<CacheKeyRef>()
    /// Keys in their grace now.
    public private(set) var gracedCount = 0

    struct Routed {
        var dependencies: [Dependency]
        /// Who registered the value; a registration without one counts as node "" at 0.
        var owner: RegistrationOwner
        /// Replicas that registered it too.
        var others: [RegistrationOwner] = []
        /// Its value is gone; others still depend on it, or it is in its grace.
        var retired = false
        /// When its grace ends: its value went while nothing depended on it.
        var graceUntil: Int64?
    }

    private static let anonymous = RegistrationOwner(node: "", incarnation: 0)

    public init(partitioner: StatePartitioner, graceMillis: Int64 = 0) {
        self.partitioner = partitioner
        self.graceMillis = graceMillis
    }

    /// Keys routed here (registered or retired).
    public var count: Int { keys.count }

    /// A registration of `key`; returns the records to produce: one for every partition its
    /// dependencies lie in, changed or not, since the race check where each lands must judge
    /// the value stored again too (`setAtMillis`), and a tombstone where none are left.
    public mutating func register(
        _ key: CacheKeyRef, dependencies: [Dependency], owner: RegistrationOwner?, hasDependents: Bool, setAtMillis: Int64? = nil
    ) -> [EdgeRecord] {
        let owner = owner ?? Self.anonymous
        guard var entry = keys[key] else {
            let routed = Routed(dependencies: Self.distinct(dependencies), owner: owner)
            // No dependencies: nothing registered, as in the index.
            guard !routed.dependencies.isEmpty else { return [] }
            keys[key] = routed
            return records(key, from: [], to: routed.dependencies, setAtMillis: setAtMillis)
        }
        let old = entry.dependencies
        let replace: Bool
        if entry.retired {
            entry.owner = owner
            entry.others = []
            entry.retired = false
            if entry.graceUntil != nil { gracedCount -= 1 }
            entry.graceUntil = nil
            replace = false
        } else if entry.owner.node == owner.node {
            guard owner.incarnation >= entry.owner.incarnation else { return [] }
            entry.owner.incarnation = owner.incarnation
            replace = entry.others.isEmpty && !hasDependents
        } else {
            if let position = entry.others.firstIndex(where: { $0.node == owner.node }) {
                guard owner.incarnation >= entry.others[position].incarnation else { return [] }
                entry.others[position].incarnation = owner.incarnation
            } else {
                entry.others.append(owner)
            }
            replace = false
        }
        entry.dependencies = replace ? Self.distinct(dependencies) : Self.merged(old, dependencies)
        keys[key] = entry.dependencies.isEmpty ? nil : entry
        return records(key, from: old, to: entry.dependencies, setAtMillis: setAtMillis)
    }

    /// A tombstone of `key`'s value, written at `wentAtMillis`; returns the records to produce.
    public mutating func unregister(
        _ key: CacheKeyRef, owner: RegistrationOwner?, hasDependents: Bool, wentAtMillis: Int64 = 0, nowMillis: Int64 = 0
    ) -> [EdgeRecord] {
        guard var entry = keys[key] else { return [] }
        if let owner {
            guard !entry.retired else { return [] }
            if entry.owner.node == owner.node {
                guard entry.owner.incarnation <= owner.incarnation else { return [] }
                if let next = entry.others.popLast() {
                    // Another replica still holds the key: it keeps the edges.
                    entry.owner = next
                    keys[key] = entry
                    return []
                }
            } else {
                if let position = entry.others.firstIndex(where: { $0.node == owner.node && $0.incarnation <= owner.incarnation }) {
                    entry.others.remove(at: position)
                    keys[key] = entry
                }
                return []
            }
        }
        if hasDependents {
            entry.retired = true
            keys[key] = entry
            return []
        }
        let graceUntil = wentAtMillis + graceMillis
        if graceMillis > 0, graceUntil > nowMillis {
            entry.retired = true
            if entry.graceUntil == nil { gracedCount += 1 }
            entry.graceUntil = graceUntil
            keys[key] = entry
            graced.append(key, untilMillis: graceUntil)
            return []
        }
        keys[key] = nil
        return records(key, from: entry.dependencies, to: [])
    }

    /// The last dependent of `key` went: a retired key goes with it, unless in its grace.
    public mutating func lastDependentGone(_ key: CacheKeyRef) -> [EdgeRecord] {
        guard let entry = keys[key], entry.retired, entry.graceUntil == nil else { return [] }
        keys[key] = nil
        return records(key, from: entry.dependencies, to: [])
    }

    /// Ends the graces over by `nowMillis`, for the keys whose partition `isSettled` says is
    /// read whole (their dependents known); the others wait. A key some value registered on
    /// meanwhile stays, retired, until its last dependent goes; the rest go: the records their
    /// edges' removal takes, by key.
    public mutating func endGraces(
        nowMillis: Int64, isSettled: (Int32) -> Bool, hasDependents: (CacheKeyRef) -> Bool
    ) -> [(key: CacheKeyRef, records: [EdgeRecord])] {
        var ended: [(key: CacheKeyRef, records: [EdgeRecord])] = []
        for entry in graced.takeEnded(nowMillis: nowMillis) {
            guard var routed = keys[entry.key], routed.graceUntil == entry.untilMillis else { continue }
            guard isSettled(partitioner.partition(of: entry.key.description)) else {
                graced.append(entry.key, untilMillis: entry.untilMillis)
                continue
            }
            routed.graceUntil = nil
            gracedCount -= 1
            if hasDependents(entry.key) {
                keys[entry.key] = routed
            } else {
                keys[entry.key] = nil
                ended.append((entry.key, records(entry.key, from: routed.dependencies, to: [])))
            }
        }
        return ended
    }

    /// Forgets the keys of `partition` (the instance gave it up).
    public mutating func drop(partition: Int32) {
        keys = keys.filter { partitioner.partition(of: $0.key.description) != partition }
        gracedCount = keys.values.count { $0.graceUntil != nil }
    }

    /// One record per partition whose dependencies changed; with `setAtMillis` (a value
    /// stored), one per partition of `new` too.
    private func records(_ key: CacheKeyRef, from old: [Dependency], to new: [Dependency], setAtMillis: Int64? = nil) -> [EdgeRecord] {
        let before = Dictionary(grouping: old) { partitioner.partition(of: $0.tag) }
        let after = Dictionary(grouping: new) { partitioner.partition(of: $0.tag) }
        var records: [EdgeRecord] = []
        for partition in Set(before.keys).union(after.keys).sorted() {
            let now = after[partition] ?? []
            guard (setAtMillis != nil && !now.isEmpty) || before[partition].map(Self.tags) != Self.tags(now) else { continue }
            records.append(EdgeRecord(key: key, partition: partition, dependencies: now, setAtMillis: now.isEmpty ? nil : setAtMillis))
        }
        return records
    }

    private static func tags(_ dependencies: [Dependency]) -> [String] { dependencies.map(\.tag) }

    /// `old` with `new` added. A tag in both takes the new registration's dependency, and its
    /// version: the record is judged where it lands as the value stored now. Keeping the old one
    /// judged every new value of a key with dependents (kept, not replaced) against the version
    /// it was first registered at, and dropped it as stale.
    private static func merged(_ old: [Dependency], _ new: [Dependency]) -> [Dependency] {
        let latest = Dictionary(new.map { ($0.tag, $0) }, uniquingKeysWith: { _, last in last })
        return distinct(old.map { latest[$0.tag] ?? $0 } + new)
    }

    /// The first of each tag, in order (the index keeps an edge once).
    private static func distinct(_ dependencies: [Dependency]) -> [Dependency] {
        var seen = Set<String>()
        return dependencies.filter { seen.insert($0.tag).inserted }
    }
}
