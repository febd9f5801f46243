import CascadeWire

/// Per-entity-instance version fences: below the fence, a value computed from that instance is
/// stale and refused. Bounded in count and age; a fence only ever rises, so an out-of-order
/// event never regresses it.
// @unchecked Sendable: every stored property is read and written only under `lock`.
final class EntityFenceTable: @unchecked Sendable {
    private let lock = ShardLock()
    private var fences: [String: (version: UInt64, atMillis: Int64)] = [:]
    private var order = RetentionQueue<String>()
    private let retentionMillis: Int64
    private let maxCount: Int

    init(retentionMillis: Int64, maxCount: Int) {
        self.retentionMillis = retentionMillis
        self.maxCount = maxCount
    }

    deinit { lock.destroy() }

    /// Raises the fence of `ref` to `version`; returns false when it was already as high.
    @discardableResult
    func raise(_ ref: String, to version: UInt64, now: Int64) -> Bool {
        lock.withLock {
            if let current = fences[ref], current.version >= version { return false }
            fences[ref] = (version, now)
            order.append(ref, atMillis: now)
            purgeLocked(now: now)
            return true
        }
    }

    func version(of ref: String) -> UInt64? {
        lock.withLock { fences[ref]?.version }
    }

    /// The first dependency that names a version below its instance's fence.
    func firstStale(_ dependencies: [Dependency]) -> (dependency: Dependency, fence: UInt64)? {
        lock.withLock {
            for dependency in dependencies {
                guard case .entity(let ref, let version?) = dependency else { continue }
                if let fence = fences[ref.description], version < fence.version {
                    return (dependency, fence.version)
                }
            }
            return nil
        }
    }

    func purge(now: Int64) {
        lock.withLock { purgeLocked(now: now) }
    }

    var count: Int { lock.withLock { fences.count } }

    func removeAll() {
        lock.withLock {
            fences = [:]
            order.removeAll()
        }
    }

    private func purgeLocked(now: Int64) {
        let retention = retentionMillis
        let maxCount = maxCount
        order.drop(while: { at in self.fences.count > maxCount || at + retention <= now }) { ref, at in
            if let fence = fences[ref], fence.atMillis == at { fences[ref] = nil }
        }
    }
}
