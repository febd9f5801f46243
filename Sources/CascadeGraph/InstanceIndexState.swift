import CascadeWire

/// The reverse index's data, mutated only under the index's write lock. Every name (cached
/// key or entity instance) is a dense id; each id has its dependencies (for unregistering)
/// and its dependents (for the closure) as small id arrays. The top bit of an entry marks an
/// edge the graph does not declare.
struct InstanceIndexState {
    static let undeclaredBit: UInt32 = 1 << 31
    static let idMask: UInt32 = ~undeclaredBit

    var names = NameInterner()
    var dependencies: [ContiguousArray<UInt32>] = []
    var dependents: [ContiguousArray<UInt32>] = []
    /// With a graph: the binder's family number of each id (0 = none), resolved once when the
    /// name is interned, so neither registrations nor closures match templates again.
    private(set) var keyFamilies: [UInt32] = []
    /// Template parameters of the ids whose family other families bind to; only those are
    /// needed by the closure, so the map stays small.
    private(set) var keyValues: [UInt32: [String: String]] = [:]
    private(set) var registeredKeys = 0
    private(set) var edgeCount = 0
    private(set) var undeclaredEdgeCount = 0
    /// Reused to spell names as bytes without building a String.
    private var spelling: [UInt8] = []

    /// Registers (or replaces) what `key` depends on. Edges the graph does not declare are
    /// kept and flagged; without a graph every edge counts as declared. Pass the same binder
    /// (or none) on every call: it is not stored here, as the closure copies this struct.
    mutating func register(_ key: CacheKeyRef, dependencies deps: [Dependency], binder: TemplateBinder?) -> [Dependency] {
        spell(key)
        let keyID = intern(binder)
        var keyFamily: FamilyID?
        if let binder { keyFamily = family(of: key, id: keyID, binder: binder) }
        removeEdges(of: keyID)
        var list = ContiguousArray<UInt32>()
        list.reserveCapacity(deps.count)
        var undeclared: [Dependency] = []
        for dependency in deps {
            spell(dependency)
            let depID = intern(binder)
            guard !list.contains(where: { $0 & Self.idMask == depID }) else { continue }
            var isDeclared = true
            if let binder {
                var target: FamilyID?
                if case .key(let ref) = dependency { target = family(of: ref, id: depID, binder: binder) }
                isDeclared = binder.declares(family: keyFamily, dependency: dependency, target: target)
            }
            let flag = isDeclared ? 0 : Self.undeclaredBit
            if !isDeclared {
                undeclared.append(dependency)
                undeclaredEdgeCount += 1
            }
            list.append(depID | flag)
            dependents[Int(depID)].append(keyID | flag)
            edgeCount += 1
        }
        if list.isEmpty {
            releaseIfUnused(keyID)
        } else {
            dependencies[Int(keyID)] = list
            registeredKeys += 1
        }
        return undeclared
    }

    /// Forgets a key's registration; its name stays while other keys still depend on it.
    mutating func unregister(_ key: CacheKeyRef) -> Bool {
        spell(key)
        guard let keyID = spelling.withUnsafeBufferPointer({ names.find($0) }) else { return false }
        let had = !dependencies[Int(keyID)].isEmpty
        removeEdges(of: keyID)
        releaseIfUnused(keyID)
        return had
    }

    func find(_ name: String) -> UInt32? {
        var name = name
        return name.withUTF8 { names.find($0) }
    }

    private mutating func removeEdges(of keyID: UInt32) {
        let old = dependencies[Int(keyID)]
        guard !old.isEmpty else { return }
        dependencies[Int(keyID)] = []
        registeredKeys -= 1
        for entry in old {
            let depID = entry & Self.idMask
            edgeCount -= 1
            if entry & Self.undeclaredBit != 0 { undeclaredEdgeCount -= 1 }
            // Swap-remove: order of dependents does not matter, only membership.
            if let position = dependents[Int(depID)].firstIndex(where: { $0 & Self.idMask == keyID }) {
                dependents[Int(depID)].swapAt(position, dependents[Int(depID)].count - 1)
                dependents[Int(depID)].removeLast()
            }
            if depID != keyID { releaseIfUnused(depID) }
        }
    }

    private mutating func releaseIfUnused(_ id: UInt32) {
        guard dependencies[Int(id)].isEmpty, dependents[Int(id)].isEmpty else { return }
        dependents[Int(id)] = []
        names.remove(id)
        if Int(id) < keyFamilies.count {
            keyFamilies[Int(id)] = 0
            keyValues[id] = nil
        }
    }

    private mutating func intern(_ binder: TemplateBinder?) -> UInt32 {
        let (id, inserted) = spelling.withUnsafeBufferPointer { names.intern($0) }
        while dependencies.count <= Int(id) {
            dependencies.append([])
            dependents.append([])
        }
        if let binder, inserted {
            while keyFamilies.count <= Int(id) { keyFamilies.append(0) }
            // A reused id starts clean: its family is that of the new name.
            let resolved = spelling.withUnsafeBufferPointer { binder.resolve(name: $0) }
            keyFamilies[Int(id)] = resolved.number
            keyValues[id] = resolved.values
        }
        return id
    }

    /// The family of a key interned as `id`. The cache splits the name at its first `/`, which
    /// matches the key's own fields unless its service contains a `/`; then resolve afresh.
    private func family(of key: CacheKeyRef, id: UInt32, binder: TemplateBinder) -> FamilyID? {
        guard !key.service.utf8.contains(UInt8(ascii: "/")) else {
            return binder.graph.family(ofKey: key.key[...], service: key.service)?.0
        }
        return binder.family(number: keyFamilies[Int(id)])
    }

    private mutating func spell(_ key: CacheKeyRef) {
        spelling.removeAll(keepingCapacity: true)
        spelling.append(contentsOf: key.service.utf8)
        spelling.append(UInt8(ascii: "/"))
        spelling.append(contentsOf: key.key.utf8)
    }

    /// The same text as `Dependency.tag`, without allocating it.
    private mutating func spell(_ dependency: Dependency) {
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
        var total = names.footprint + (dependencies.capacity + dependents.capacity) * 8 + keyFamilies.capacity * 4
        // Rough: a map entry plus a small dictionary of short strings.
        total += keyValues.count * 96
        for list in dependencies where list.capacity > 0 { total += 32 + list.capacity * 4 }
        for list in dependents where list.capacity > 0 { total += 32 + list.capacity * 4 }
        return total
    }
}
