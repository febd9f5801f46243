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
    private(set) var registeredKeys = 0
    private(set) var edgeCount = 0
    private(set) var undeclaredEdgeCount = 0
    /// Reused to spell names as bytes without building a String.
    private var spelling: [UInt8] = []

    /// Registers (or replaces) what `key` depends on. `declared` answers whether the graph
    /// declares each dependency; the edge is kept either way.
    mutating func register(
        _ key: CacheKeyRef, dependencies deps: [Dependency], declared: (Dependency) -> Bool
    ) -> [Dependency] {
        spell(key)
        let keyID = intern()
        removeEdges(of: keyID)
        var list = ContiguousArray<UInt32>()
        list.reserveCapacity(deps.count)
        var undeclared: [Dependency] = []
        for dependency in deps {
            spell(dependency)
            let depID = intern()
            guard !list.contains(where: { $0 & Self.idMask == depID }) else { continue }
            let isDeclared = declared(dependency)
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
    }

    private mutating func intern() -> UInt32 {
        let id = spelling.withUnsafeBufferPointer { names.intern($0).id }
        while dependencies.count <= Int(id) {
            dependencies.append([])
            dependents.append([])
        }
        return id
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
        var total = names.footprint + (dependencies.capacity + dependents.capacity) * 8
        for list in dependencies where list.capacity > 0 { total += 32 + list.capacity * 4 }
        for list in dependents where list.capacity > 0 { total += 32 + list.capacity * 4 }
        return total
    }
}
