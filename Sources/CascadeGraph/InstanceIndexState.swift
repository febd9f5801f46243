import CascadeWire

/// The reverse index's data, mutated only under the index's write lock. Every name (cached
/// key or entity instance) is a dense id; each id has its dependencies (for unregistering)
/// and its dependents (for the closure) as short pooled lists. The top bit of an entry marks
/// an edge the graph does not declare.
struct InstanceIndexState: ~Copyable {
    static let undeclaredBit: UInt32 = 1 << 31
    static let idMask: UInt32 = ~undeclaredBit

    /// What a closure reads of a name, kept in the name's own record (its hash and place are
    /// there too): one 32-byte record per key reached, besides the name's bytes and its list.
    struct IndexedName: NamePayload {
        /// With a graph: the binder's family number (0 = none), resolved once when the name is
        /// interned, so neither registrations nor closures match templates again.
        var family: UInt32 = 0
        /// The keys registered on this name, in `dependentLists`.
        var dependents = ListRef()
    }

    var names = NameInterner<IndexedName>()
    var dependencies = PooledLists()
    private(set) var dependentLists = ListPool()
    /// Reused to build a key's new list of dependencies.
    private var listScratch = ContiguousArray<UInt32>()
    /// Where the template parameters lie in the names of the ids whose family other families
    /// bind to (offsets in `service/key`); only those are needed by the closure, so the map
    /// stays small.
    private(set) var keySpans: [UInt32: [TemplateBinder.ValueSpan]] = [:]
    /// Who registered each key id last (see `RegistrationOwner`): the node's number in
    /// `nodeNames` (0 = a registration without an owner, `retired` = no value left, `graced` = no
    /// value left and no dependent, in its grace) and the value's incarnation there. Keys held
    /// by more than one node (replicas of a service) list the others in `moreOwners` and keep the
    /// union of what each registered, until each has sent its tombstone.
    ///
    /// A key that others depend on keeps its edges when its value is gone (retired): a value
    /// computed from it still embeds what it was computed from, so a change there must still
    /// reach it through this key. Such a key is released with its last dependent, and new
    /// registrations add to its edges rather than replace them.
    private var ownerNodes: [UInt32] = []
    private var ownerIncarnations: [UInt64] = []
    private var moreOwners: [UInt32: [Owner]] = [:]
    /// The nodes that registered keys, by name: a node's number is its id here plus one.
    private var nodeNames = NameSet()
    private static let retired = UInt32.max
    /// A key whose value went while nothing depended on it keeps its edges this long
    /// (`GraceQueue`), then goes as a retired key with no dependent does; 0: at once.
    var goneKeyGraceMillis: Int64 = 0
    private static let graced = UInt32.max - 1
    private var graceUntil: [UInt32: Int64] = [:]
    private var graces = GraceQueue<UInt32>()
    var registeredKeys = 0
    var edgeCount = 0
    var undeclaredEdgeCount = 0
    /// With a graph, by family number: whether a key of that family was ever a registration's
    /// dependency (0: a key of no family); and those added since `IndexShare` last asked
    /// (`HopFilter`). A flag per family, not a set: it is checked on every edge.
    private var dependedOn: [Bool] = []
    var newlyDependedOn: [UInt32] = []
    /// Reused to spell names as bytes without building a String.
    private var spelling: [UInt8] = []

    struct Owner {
        var node: UInt32
        var incarnation: UInt64
    }

    /// What a registration does to a key's edges, given who registered it before.
    private enum Admission {
        /// Older than what this node registered since: ignored.
        case stale
        /// The only holder: its dependencies replace the old ones.
        case replace
        /// Another node holds the key too: dependencies are added to the old ones.
        case merge
    }

    /// Registers (or replaces) what `key` depends on. Edges the graph does not declare are
    /// kept and flagged, and returned; without a graph every edge counts as declared. Pass the
    /// same binder (or none) on every call: it is not stored here, as the closure copies this
    /// struct. A registration older than one the same node already made for the key is ignored.
    mutating func register(
        _ key: CacheKeyRef, dependencies deps: [Dependency], owner: RegistrationOwner? = nil, binder: TemplateBinder?
    ) -> [Dependency] {
        var undeclared: [Dependency] = []
        register(RegistrationValues(key: key, dependencies: deps, owner: owner), binder: binder) { undeclared.append(deps[$0]) }
        return undeclared
    }

    /// Registers what `names` says, as `register(_:dependencies:)` does; `undeclared` hears the
    /// position among its dependencies of each edge the graph does not declare.
    mutating func register(_ names: some RegistrationNames, binder: TemplateBinder?, undeclared: (Int) -> Void = { _ in }) {
        let keyID = names.withKey { intern($0, binder) }
        var numbered = Owner(node: 0, incarnation: 0)
        if let node = names.withOwnerNode({ number(ofNode: $0) }) { numbered = Owner(node: node, incarnation: names.incarnation) }
        let admission = admit(numbered, keyID)
        if admission == .stale {
            releaseIfUnused(keyID)
            return
        }
        let keyFamily = binder.map { familyNumber(of: names.keyWithSlashInService, id: keyID, binder: $0) } ?? 0
        var list = ContiguousArray<UInt32>()
        swap(&list, &listScratch)
        defer { swap(&list, &listScratch) }
        list.removeAll(keepingCapacity: true)
        // Released only once the new edges are in, so that releasing them cannot reach the key.
        var replaced: [UInt32] = []
        if admission == .replace {
            replaced = detachEdges(of: keyID)
        } else {
            list.append(contentsOf: dependencies[Int(keyID)])
            if !list.isEmpty { registeredKeys -= 1 }
        }
        list.reserveCapacity(list.count + names.dependencyCount)
        for position in 0..<names.dependencyCount {
            let depID = names.withDependency(position) { intern($0, binder) }
            guard !list.contains(where: { $0 & Self.idMask == depID }) else { continue }
            var declared = true
            let declaresEntity = binder.flatMap { binder in names.withEntity(position) { binder.declares(number: keyFamily, entity: $0) } }
            if let binder {
                declared = declaresEntity
                    ?? binder.declares(number: keyFamily, target: familyNumber(of: names.dependencyWithSlashInService(position), id: depID, binder: binder))
            }
            let flag = addEdge(keyID, on: depID, declared: declared, isKeyDependency: binder != nil && declaresEntity == nil)
            if flag != 0 { undeclared(position) }
            list.append(depID | flag)
        }
        if list.isEmpty {
            releaseIfUnused(keyID)
        } else {
            dependencies.replace(Int(keyID), with: list)
            registeredKeys += 1
        }
        for depID in replaced { releaseIfUnused(depID) }
    }

    /// Forgets a key's registration (a tombstone); its name stays while other keys still
    /// depend on it. With an owner, only that node's registration ends, and only if the
    /// tombstone is at least as new as it: the tombstone of an old value never erases the
    /// registration of a newer one. Returns whether a registration ended.
    mutating func unregister(_ key: CacheKeyRef, owner: RegistrationOwner? = nil) -> Bool {
        unregister(RegistrationValues(key: key, dependencies: [], owner: owner))
    }

    /// Forgets the registration the tombstone `names` ends, as `unregister(_:owner:)`; a key
    /// nothing depends on, gone within the grace before `nowMillis`, keeps its edges for it.
    mutating func unregister(_ names: some RegistrationNames, nowMillis: Int64 = 0) -> Bool {
        guard let keyID = names.withKey({ self.names.find($0) }) else { return false }
        let id = Int(keyID)
        guard !dependencies.isEmpty(id) else { return false }
        if let found = names.withOwnerNode({ nodeNames.find($0) }) {
            // A node this index never heard register anything ends nothing.
            guard let nodeID = found else { return false }
            let node = nodeID + 1
            let incarnation = names.incarnation
            if ownerNodes[id] == node {
                guard ownerIncarnations[id] <= incarnation else { return false }
                if var others = moreOwners[keyID], let next = others.popLast() {
                    // Another replica still holds the key: it keeps the edges.
                    ownerNodes[id] = next.node
                    ownerIncarnations[id] = next.incarnation
                    moreOwners[keyID] = others.isEmpty ? nil : others
                    return true
                }
            } else {
                guard var others = moreOwners[keyID],
                      let position = others.firstIndex(where: { $0.node == node && $0.incarnation <= incarnation })
                else { return false }
                others.remove(at: position)
                moreOwners[keyID] = others.isEmpty ? nil : others
                return true
            }
        }
        if hasDependents(keyID) {
            ownerNodes[id] = Self.retired
            return true
        }
        // A tombstone without a time went now, as far as anyone can tell.
        let until = (names.wentAtMillis > 0 ? names.wentAtMillis : nowMillis) + goneKeyGraceMillis
        if goneKeyGraceMillis > 0, until > nowMillis {
            ownerNodes[id] = Self.graced
            graceUntil[keyID] = until
            graces.append(keyID, untilMillis: until)
            return true
        }
        removeEdges(of: keyID)
        releaseIfUnused(keyID)
        return true
    }

    /// Lists `keyID` among the dependents of `depID` and counts the edge; returns the edge's
    /// flag (`undeclaredBit` when the graph does not declare it), for the key's own list.
    mutating func addEdge(
        _ keyID: UInt32, on depID: UInt32, keyFamily: UInt32, dependency: Dependency, binder: TemplateBinder?
    ) -> UInt32 {
        var declared = true
        if let binder {
            switch dependency {
            case .entity(let ref, _): declared = binder.declares(number: keyFamily, entity: ref.entity)
            case .key(let ref): declared = binder.declares(number: keyFamily, target: familyNumber(of: ref, id: depID, binder: binder))
            }
        }
        var isKey = false
        if case .key = dependency { isKey = true }
        return addEdge(keyID, on: depID, declared: declared, isKeyDependency: binder != nil && isKey)
    }

    /// `isKeyDependency`: with a graph, the dependency is a key (its family becomes one that
    /// registrations depend on).
    private mutating func addEdge(_ keyID: UInt32, on depID: UInt32, declared: Bool, isKeyDependency: Bool) -> UInt32 {
        let flag = declared ? 0 : Self.undeclaredBit
        if !declared { undeclaredEdgeCount += 1 }
        if isKeyDependency { noteDependedOn(family(of: depID)) }
        dependentLists.append(keyID | flag, to: &names[payload: depID].dependents)
        edgeCount += 1
        return flag
    }

    private mutating func noteDependedOn(_ family: UInt32) {
        let number = Int(family)
        if number >= dependedOn.count { dependedOn.append(contentsOf: repeatElement(false, count: number + 1 - dependedOn.count)) }
        guard !dependedOn[number] else { return }
        dependedOn[number] = true
        newlyDependedOn.append(family)
    }

    /// Takes `keyID` off the dependents of the dependency `entry` names (an entry of the
    /// key's own list) and uncounts the edge; the key's list is the caller's to change.
    mutating func removeDependent(_ keyID: UInt32, of entry: UInt32) {
        let depID = Int(entry & Self.idMask)
        edgeCount -= 1
        if entry & Self.undeclaredBit != 0 { undeclaredEdgeCount -= 1 }
        dependentLists.removeFirst(&names[payload: UInt32(depID)].dependents) { $0 & Self.idMask == keyID }
    }

    /// Calls `body` with the keys registered on name `id`, in place.
    func withDependents<R>(of id: UInt32, _ body: (UnsafeBufferPointer<UInt32>) -> R) -> R {
        dependentLists.withList(names[payload: id].dependents, body)
    }

    func hasDependents(_ id: UInt32) -> Bool { !names[payload: id].dependents.isEmpty }

    /// Drops every dependent of name `id`; the dependents' own lists are the caller's to change.
    mutating func removeDependents(of id: UInt32) { dependentLists.removeAll(&names[payload: id].dependents) }

    /// With a graph: the family number of name `id` (0: none, or no graph).
    func family(of id: UInt32) -> UInt32 { names[payload: id].family }

    /// The number of the node named `name`, numbering it when new.
    private mutating func number(ofNode name: UnsafeBufferPointer<UInt8>) -> UInt32 {
        nodeNames.intern(name).id + 1
    }

    private mutating func admit(_ owner: Owner, _ keyID: UInt32) -> Admission {
        let id = Int(keyID)
        guard !dependencies.isEmpty(id) else {
            ownerNodes[id] = owner.node
            ownerIncarnations[id] = owner.incarnation
            moreOwners[keyID] = nil
            return .replace
        }
        if ownerNodes[id] == Self.retired || ownerNodes[id] == Self.graced {
            if ownerNodes[id] == Self.graced { graceUntil[keyID] = nil }
            ownerNodes[id] = owner.node
            ownerIncarnations[id] = owner.incarnation
            return .merge
        }
        if ownerNodes[id] == owner.node {
            if owner.incarnation < ownerIncarnations[id] { return .stale }
            ownerIncarnations[id] = owner.incarnation
            return moreOwners[keyID] == nil && !hasDependents(keyID) ? .replace : .merge
        }
        var others = moreOwners[keyID] ?? []
        if let position = others.firstIndex(where: { $0.node == owner.node }) {
            if owner.incarnation < others[position].incarnation { return .stale }
            others[position].incarnation = owner.incarnation
        } else {
            others.append(owner)
        }
        moreOwners[keyID] = others
        return .merge
    }

    func find(_ name: String) -> UInt32? {
        var name = name
        return name.withUTF8 { names.find($0) }
    }

    private mutating func removeEdges(of keyID: UInt32) {
        for depID in detachEdges(of: keyID) { releaseIfUnused(depID) }
    }

    /// Removes a key's edges; returns the ids it depended on (not itself), for releasing.
    private mutating func detachEdges(of keyID: UInt32) -> [UInt32] {
        guard !dependencies.isEmpty(Int(keyID)) else { return [] }
        var detached: [UInt32] = []
        do {
            // The slice is read to the end of this block only: freeing the list writes into
            // the pool, which would copy it whole while a slice of it lives.
            let old = dependencies[Int(keyID)]
            detached.reserveCapacity(old.count)
            for entry in old {
                removeDependent(keyID, of: entry)
                let depID = entry & Self.idMask
                if depID != keyID { detached.append(depID) }
            }
        }
        dependencies.removeAll(Int(keyID))
        registeredKeys -= 1
        return detached
    }

    var gracedKeys: Int { graceUntil.count }

    /// Ends the graces over by `nowMillis` (`InstanceIndex.endGraces`); returns how many keys went.
    mutating func endGraces(nowMillis: Int64) -> Int {
        var released = 0
        for entry in graces.takeEnded(nowMillis: nowMillis) {
            // Stored again, or gone again with a later grace, since: not this entry's to end.
            guard graceUntil[entry.key] == entry.untilMillis, ownerNodes[Int(entry.key)] == Self.graced else { continue }
            graceUntil[entry.key] = nil
            ownerNodes[Int(entry.key)] = Self.retired
            if !hasDependents(entry.key) { released += 1 }
            releaseIfUnused(entry.key)
        }
        return released
    }

    /// Frees names nothing uses any more: no edges either way. A retired key whose last
    /// dependent went is released too, and so, in turn, what it depended on.
    mutating func releaseIfUnused(_ id: UInt32) {
        // Most calls are about a registered key: nothing to free.
        if !dependencies.isEmpty(Int(id)) && ownerNodes[Int(id)] != Self.retired { return }
        var work = [id]
        while let next = work.popLast() {
            let index = Int(next)
            guard names.isLive(next) else { continue }
            if !dependencies.isEmpty(index) {
                guard ownerNodes[index] == Self.retired, !hasDependents(next) else { continue }
                work.append(contentsOf: detachEdges(of: next))
            }
            ownerNodes[index] = 0
            ownerIncarnations[index] = 0
            if !moreOwners.isEmpty { moreOwners[next] = nil }
            guard !hasDependents(next) else { continue }
            names.remove(next)
            keySpans[next] = nil
        }
    }

    /// Interns the name in `spelling`.
    mutating func intern(_ binder: TemplateBinder?) -> UInt32 {
        let name = spelling
        return name.withUnsafeBufferPointer { intern($0, binder) }
    }

    mutating func intern(_ name: UnsafeBufferPointer<UInt8>, _ binder: TemplateBinder?) -> UInt32 {
        let (id, inserted) = names.intern(name)
        if dependencies.count <= Int(id) {
            dependencies.grow(to: Int(id) + 1)
            ownerNodes.reserveGently(Int(id) + 1 - ownerNodes.count)
            ownerNodes.append(contentsOf: repeatElement(0, count: Int(id) + 1 - ownerNodes.count))
            ownerIncarnations.reserveGently(Int(id) + 1 - ownerIncarnations.count)
            ownerIncarnations.append(contentsOf: repeatElement(0, count: Int(id) + 1 - ownerIncarnations.count))
        }
        if let binder, inserted {
            // A reused id starts clean (the interner empties its payload): its family is that
            // of the new name.
            let resolved = binder.resolve(name: name)
            names[payload: id].family = resolved.number
            keySpans[id] = resolved.spans
        }
        return id
    }

    /// The family number of a key interned as `id` (0: none). The cache splits the name at its
    /// first `/`, which matches the key's own fields unless its service contains a `/`; then
    /// resolve afresh.
    func familyNumber(of key: CacheKeyRef, id: UInt32, binder: TemplateBinder) -> UInt32 {
        familyNumber(of: key.service.utf8.contains(UInt8(ascii: "/")) ? key : nil, id: id, binder: binder)
    }

    /// `keyWithSlashInService`: the key as values when its service holds a `/`, else nil.
    func familyNumber(of keyWithSlashInService: CacheKeyRef?, id: UInt32, binder: TemplateBinder) -> UInt32 {
        guard let key = keyWithSlashInService else { return family(of: id) }
        return binder.graph.family(ofKey: key.key[...], service: key.service).map { binder.number(of: $0.0) } ?? 0
    }

    mutating func spell(_ key: CacheKeyRef) {
        spelling.removeAll(keepingCapacity: true)
        spelling.append(contentsOf: key.service.utf8)
        spelling.append(UInt8(ascii: "/"))
        spelling.append(contentsOf: key.key.utf8)
    }

    /// The same text as `Dependency.tag`, without allocating it.
    mutating func spell(_ dependency: Dependency) {
        switch dependency {
        case .entity(let ref, _):
            spelling.removeAll(keepingCapacity: true)
            spelling.append(contentsOf: ref.entity.utf8)
            spelling.append(UInt8(ascii: "#"))
            spelling.append(contentsOf: ref.id.utf8)
        case .key(let ref):
            spell(ref)
        }
    }

    /// Approximate bytes held by the index's own structures (not allocator overhead).
    var footprint: Int {
        var total = names.footprint + dependencies.footprint + dependentLists.footprint
            + ownerNodes.capacity * 4 + ownerIncarnations.capacity * 8 + moreOwners.count * 64
        // Rough: a map entry plus a small array of spans.
        total += keySpans.count * 64
        return total
    }
}
