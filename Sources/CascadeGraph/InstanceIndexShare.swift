import CascadeWire

/// A share's edits of the index: when an instance holds only some partitions of the state, its
/// index holds the edges whose dependency lies in one of them, each partition's edges of a key
/// replaced as a whole (a record of the edges topic), and a partition's edges dropped at once
/// when the instance gives it up. An instance that holds every partition has every edge, as an
/// index fed registrations whole.
extension InstanceIndexState {
    /// Replaces the edges of `key` into `partition` with `deps` (all in that partition: the
    /// router sends them so); its edges into other partitions stay. No owners here: the
    /// partition that owns the key admitted the registration before routing it.
    /// Returns the names of the dependencies in the partition that this key was the last
    /// dependent of (a retired key among them goes too: `EdgeRouter.lastDependentGone`).
    mutating func replaceEdges(
        of key: CacheKeyRef, inPartition partition: Int32, with deps: [Dependency], partitioner: StatePartitioner,
        binder: TemplateBinder?
    ) -> [String] {
        spell(key)
        let keyID = intern(binder)
        let keyFamily = binder.map { familyNumber(of: key, id: keyID, binder: $0) } ?? 0
        // A copy: the slice would hold the pool while `replace` below changes it.
        let old = Array(dependencies[Int(keyID)])
        var kept = ContiguousArray<UInt32>()
        kept.reserveCapacity(old.count + deps.count)
        var released: [UInt32] = []
        for entry in old {
            let depID = entry & Self.idMask
            guard self.partition(of: depID, partitioner) == partition else {
                kept.append(entry)
                continue
            }
            removeDependent(keyID, of: entry)
            if depID != keyID { released.append(depID) }
        }
        for dependency in deps {
            spell(dependency)
            let depID = intern(binder)
            guard !kept.contains(where: { $0 & Self.idMask == depID }) else { continue }
            kept.append(depID | addEdge(keyID, on: depID, keyFamily: keyFamily, dependency: dependency, binder: binder))
        }
        if !old.isEmpty { registeredKeys -= 1 }
        dependencies.replace(Int(keyID), with: kept)
        if kept.isEmpty {
            releaseIfUnused(keyID)
        } else {
            registeredKeys += 1
        }
        var orphaned: [String] = []
        for depID in released where !hasDependents(depID) && names.isLive(depID) {
            orphaned.append(names.name(of: depID))
        }
        for depID in released { releaseIfUnused(depID) }
        return orphaned
    }

    /// Forgets every edge whose dependency lies in `partition` (the instance gave it up).
    mutating func dropPartition(_ partition: Int32, partitioner: StatePartitioner) {
        var touched: [UInt32] = []
        for index in 0..<names.capacity {
            let id = UInt32(index)
            guard names.isLive(id), hasDependents(id), self.partition(of: id, partitioner) == partition else { continue }
            // A copy: the loop changes the lists, which would copy the pool under a live slice.
            for entry in withDependents(of: id, Array.init) {
                let keyID = entry & Self.idMask
                dependencies.removeAll(Int(keyID)) { $0 & Self.idMask == id }
                edgeCount -= 1
                if entry & Self.undeclaredBit != 0 { undeclaredEdgeCount -= 1 }
                if dependencies.isEmpty(Int(keyID)) { registeredKeys -= 1 }
                touched.append(keyID)
            }
            removeDependents(of: id)
            touched.append(id)
        }
        for id in touched { releaseIfUnused(id) }
    }

    /// The partition of the state a name belongs to.
    func partition(of id: UInt32, _ partitioner: StatePartitioner) -> Int32 {
        names.withBytes(of: id) { partitioner.partition(of: $0) }
    }
}
