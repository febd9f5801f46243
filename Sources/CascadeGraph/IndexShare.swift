import CascadeWire
import NIOConcurrencyHelpers

/// What one share lists for a root: the keys it reaches, and where the cascade goes on.
public struct ShareClosure: Sendable {
    public let closure: InstanceClosure
    /// The hop's depth (0 for an event): add it to the closure's depths.
    public let baseDepth: Int
    public let hops: [StateHop]
}

/// One bus instance's share of the registration index: the edges whose dependency lies in a
/// partition it holds (`InstanceIndex.replaceEdges`). A closure lists what the share reaches and
/// hands each key it names whose partition it does not hold, and whose family some registration
/// has depended on (`HopFilter`), to that partition's owner as a hop, since that key's registered
/// dependents are there. Bound keys need no hop: any share binds them.
///
/// Each share expands a root's key at most once (`HopMemory`), so cycles across shares end. A
/// key reached along two branches in two shares can be named by both (invalidation is
/// idempotent); one reached in the share before is not (`skip`).
///
/// Holding every partition, it is the whole index: no hops, the closure of one index.
public final class IndexShare: Sendable {
    public let index: InstanceIndex
    public let partitioner: StatePartitioner
    /// Which keys are worth a hop; shared by the instances of a system.
    public let filter: HopFilter
    private let held: NIOLockedValueBox<Set<Int32>>
    private let memory: NIOLockedValueBox<HopMemory>
    /// The forward side of the same partitions: their keys' registrations, as records.
    private let router: NIOLockedValueBox<EdgeRouter>
    /// Each key's newest record landed here lately (filled by the landing check).
    public let newest = NewestRegistrations()

    public init(
        index: InstanceIndex, partitioner: StatePartitioner, holding partitions: Set<Int32>, filter: HopFilter = HopFilter(graph: nil),
        rootsRemembered: Int = 100_000, goneKeyGraceMillis: Int64 = 0
    ) {
        self.index = index
        self.partitioner = partitioner
        self.filter = filter
        held = NIOLockedValueBox(partitions)
        memory = NIOLockedValueBox(HopMemory(capacity: rootsRemembered))
        router = NIOLockedValueBox(EdgeRouter(partitioner: partitioner, graceMillis: goneKeyGraceMillis))
    }

    public var partitions: Set<Int32> { held.withLockedValue { $0 } }

    /// Starts holding `partition`; its edges come as records (`apply`) from then on.
    public func hold(_ partition: Int32) {
        held.withLockedValue { _ = $0.insert(partition) }
    }

    /// Keeps `partition`'s edges (a standby's, warm for a takeover) without counting it as
    /// held: closures hand its keys on to its owner, which must hear of every invalidation of
    /// them to judge the records landing there (`EdgeLandingCheck`).
    public func standBy(_ partition: Int32) {
        held.withLockedValue { _ = $0.remove(partition) }
    }

    /// Gives `partition` up and forgets its edges and its keys' registrations.
    public func release(_ partition: Int32) {
        held.withLockedValue { _ = $0.remove(partition) }
        index.dropPartition(partition, partitioner: partitioner)
        router.withLockedValue { $0.drop(partition: partition) }
    }

    /// A registration of a key of a held partition (read from the registrations topic): the
    /// records to produce on the edges topic.
    public func route(
        _ key: CacheKeyRef, dependencies: [Dependency], owner: RegistrationOwner?, setAtMillis: Int64? = nil
    ) -> [EdgeRecord] {
        let hasDependents = !index.dependents(of: key.description).isEmpty
        return router.withLockedValue {
            $0.register(key, dependencies: dependencies, owner: owner, hasDependents: hasDependents, setAtMillis: setAtMillis)
        }
    }

    /// A tombstone of a key of a held partition, written at `wentAtMillis`: the records to produce.
    public func routeTombstone(
        _ key: CacheKeyRef, owner: RegistrationOwner?, wentAtMillis: Int64 = 0, nowMillis: Int64 = 0
    ) -> [EdgeRecord] {
        let hasDependents = !index.dependents(of: key.description).isEmpty
        return router.withLockedValue {
            $0.unregister(key, owner: owner, hasDependents: hasDependents, wentAtMillis: wentAtMillis, nowMillis: nowMillis)
        }
    }

    /// Keys of the held partitions in their grace (`EdgeRouter`).
    public var gracedKeys: Int { router.withLockedValue { $0.gracedCount } }

    /// Ends the graces of gone keys over by `nowMillis` (`EdgeRouter.endGraces`), in the
    /// partitions `isSettled` says are read whole: the records their edges' removal takes.
    public func endGraces(nowMillis: Int64, isSettled: (Int32) -> Bool) -> [(key: CacheKeyRef, records: [EdgeRecord])] {
        // The index's lock inside the router's: nothing takes them the other way round.
        router.withLockedValue { router in
            router.endGraces(nowMillis: nowMillis, isSettled: isSettled) { !index.dependents(of: $0.description).isEmpty }
        }
    }

    /// A record of the edges topic for a held partition. Returns the records it causes: a key
    /// of this partition whose value is gone goes when its last dependent does. `liveAtMillis`:
    /// when a record read live (not in a rebuild) was applied, the time a family it makes a
    /// dependency for the first time is learned (`HopFilter.learnedAtMillis`).
    public func apply(_ record: EdgeRecord, liveAtMillis: Int64? = nil) -> [EdgeRecord] {
        let replaced = index.replaceEdges(of: record.key, inPartition: record.partition, with: record.dependencies, partitioner: partitioner)
        filter.learn(families: replaced.newlyDependedOnFamilies, atMillis: liveAtMillis)
        var caused: [EdgeRecord] = []
        // Entity tags are never routed keys.
        for case let key? in replaced.orphaned.map(CacheKeyRef.init(parsing:)) {
            caused += router.withLockedValue { $0.lastDependentGone(key) }
        }
        return caused
    }

    /// The share's part of an event's closure. `root` names the event for the hops;
    /// `whileLocked` as in `InstanceIndex.closure(of:ref:whileLocked:)`.
    public func closure(
        of event: DomainEvent, root: String, whileLocked: (InstanceClosure) -> Void = { _ in }
    ) -> ShareClosure {
        let closure = index.closure(of: event, whileLocked: whileLocked)
        let held = heldFlags()
        // Holding every partition, no hop ever comes back: nothing to remember.
        guard held.contains(false) else { return ShareClosure(closure: closure, baseDepth: 0, hops: []) }
        var hops: [StateHop] = []
        let rootPartition = partitioner.partition(of: closure.root)
        if !held[Int(rootPartition)] {
            // Its events arrive here, its edges lie elsewhere: the producer's partitioner is not Kafka's.
            hops.append(StateHop(
                root: root, name: closure.root, partition: rootPartition, fence: event.ref, fenceVersion: event.version, depth: 0,
                path: [closure.root], skip: []))
        }
        let handedOn = keysToHandOn(closure, held: held)
        // Without hops no other share takes part in this root, so none can hop back here.
        guard !hops.isEmpty || !handedOn.isEmpty else { return ShareClosure(closure: closure, baseDepth: 0, hops: []) }
        let named = Self.stableHashes(closure)
        memory.withLockedValue { $0.note(root: HopMemory.key(of: root), names: named) }
        let first = StateHop(
            root: root, name: closure.root, partition: rootPartition, fence: event.ref, fenceVersion: event.version, depth: 0,
            path: [closure.root], skip: named)
        hops += Self.hops(handedOn, of: closure, from: first)
        return ShareClosure(closure: closure, baseDepth: 0, hops: hops)
    }

    /// The share's part of a hop; nil when this share expanded the key for its root already.
    public func closure(of hop: StateHop, whileLocked: (InstanceClosure) -> Void = { _ in }) -> ShareClosure? {
        let name = StableNameHash.of(hop.name)
        let root = HopMemory.key(of: hop.root)
        let (first, remembered) = memory.withLockedValue { ($0.firstExpansion(root: root, name: name), $0.names(of: root)) }
        guard first else { return nil }
        var skip = Set(hop.skip)
        skip.formUnion(remembered)
        // A key the root reached before, but stored again since its event, may have been
        // computed from this hop's key before that went: it goes again. (Its own hops end
        // where a share expanded it for this root already.)
        if hop.atMillis > 0 { skip.subtract(newest.storedSince(hop.atMillis, among: skip)) }
        let closure = index.closure(ofHop: hop.name, skipping: skip, whileLocked: whileLocked)
        let named = Self.stableHashes(closure)
        memory.withLockedValue { $0.note(root: root, names: named) }
        var from = hop
        from.skip = hop.skip + [name] + named
        let hops = Self.hops(keysToHandOn(closure, held: heldFlags()), of: closure, from: from)
        return ShareClosure(closure: closure, baseDepth: hop.depth, hops: hops)
    }

    /// The keys of `closure` this share would hand on (`/impact` across instances).
    public func namesToHandOn(_ closure: InstanceClosure) -> [String] {
        let entries = closure.entries
        return keysToHandOn(closure, held: heldFlags()).map { entries[$0.position].name }
    }

    /// By partition: whether this share holds it.
    private func heldFlags() -> [Bool] {
        var flags = [Bool](repeating: false, count: Int(partitioner.count))
        for partition in partitions { flags[Int(partition)] = true }
        return flags
    }

    /// The listed keys to hand on: those whose partition this share does not hold and whose
    /// family some registration has depended on.
    private func keysToHandOn(_ closure: InstanceClosure, held: [Bool]) -> [(position: Int, partition: Int32)] {
        guard held.contains(false) else { return [] }
        let filter = self.filter.snapshot()
        return closure.nameBytes.withUnsafeBufferPointer { bytes in
            closure.slots.indices.compactMap { position in
                let slot = closure.slots[position]
                let name = UnsafeBufferPointer(rebasing: bytes[Int(slot.start)..<Int(slot.start + slot.length)])
                // The family first: most keys listed have no registered dependents anywhere.
                guard filter.mayHaveDependents(name, family: slot.family) else { return nil }
                let partition = partitioner.partition(of: name)
                return held[Int(partition)] ? nil : (position, partition)
            }
        }
    }

    /// One hop per key handed on, each with its depth and path from the root: `from` is where
    /// the closure started (the event, or the hop it continues), with the skip its hops carry.
    private static func hops(_ keys: [(position: Int, partition: Int32)], of closure: InstanceClosure, from: StateHop) -> [StateHop] {
        let entries = closure.entries
        return keys.map { key in
            var hop = from
            let entry = entries[key.position]
            hop.name = entry.name
            hop.partition = key.partition
            hop.depth = from.depth + entry.depth
            hop.path = from.path + path(to: key.position, in: entries)
            return hop
        }
    }

    static func stableHashes(_ closure: InstanceClosure) -> [UInt64] {
        closure.nameBytes.withUnsafeBufferPointer { bytes in
            closure.slots.map { StableNameHash.of(UnsafeBufferPointer(rebasing: bytes[Int($0.start)..<Int($0.start + $0.length)])) }
        }
    }

    /// The names from the closure's first step to `position`.
    static func path(to position: Int, in entries: InstanceClosure.Entries) -> [String] {
        var path: [String] = []
        var at = position
        while at >= 0 {
            path.append(entries[at].name)
            at = entries[at].parent
        }
        return path.reversed()
    }
}

/// Per root, the names (`StableNameHash`es) a share has named or expanded: a hop for one of them
/// again is done. Bounded: the oldest roots are forgotten first (a root's hops all come within
/// moments).
///
/// Roots are known by their `StableNameHash` and their names kept in the order noted, in one
/// array each: a hop's closure notes about a hundred names at once, and a set per root (hashed
/// with SipHash, grown as it fills, keyed by the root's String) cost more than the closure
/// itself. A root is asked about one name at a time (`firstExpansion`), which a scan answers.
struct HopMemory {
    private var byRoot: [UInt64: [UInt64]] = [:]
    private var order: [UInt64] = []
    private var oldest = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// `root` as this memory knows it.
    static func key(of root: String) -> UInt64 { StableNameHash.of(root) }

    func names(of root: UInt64) -> [UInt64] { byRoot[root] ?? [] }

    /// Whether `name` is new for `root` here; notes it.
    mutating func firstExpansion(root: UInt64, name: UInt64) -> Bool {
        if byRoot[root]?.contains(name) == true { return false }
        note(root: root, names: CollectionOfOne(name))
        return true
    }

    /// Notes names for `root` (repeats cost a little room, never a wrong answer).
    mutating func note<Names: Collection<UInt64>>(root: UInt64, names: Names) {
        guard !names.isEmpty else { return }
        if byRoot[root] == nil {
            order.append(root)
            forgetOldest()
        }
        byRoot[root, default: []].append(contentsOf: names)
    }

    private mutating func forgetOldest() {
        while order.count - oldest > capacity {
            byRoot[order[oldest]] = nil
            oldest += 1
        }
        if oldest > 4096 && oldest * 2 > order.count {
            order.removeFirst(oldest)
            oldest = 0
        }
    }
}
