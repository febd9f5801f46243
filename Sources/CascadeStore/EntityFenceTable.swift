import CascadeWire
import NIOConcurrencyHelpers

/// Per-entity-instance version fences: below the fence, a value computed from that instance is
/// stale and refused. Bounded in count and age; a fence only ever rises, so an out-of-order
/// event never regresses it.
final class EntityFenceTable: Sendable {
    private struct Fences {
        var byRef: [String: (version: UInt64, atMillis: Int64)] = [:]
        var order = RetentionQueue<String>()

        mutating func purge(now: Int64, retentionMillis: Int64, maxCount: Int) {
            // Moved out for the walk: the closures change it while `order` is being changed.
            var byRef: [String: (version: UInt64, atMillis: Int64)] = [:]
            swap(&byRef, &self.byRef)
            defer { swap(&byRef, &self.byRef) }
            order.drop(while: { at in byRef.count > maxCount || at + retentionMillis <= now }) { ref, at in
                if let fence = byRef[ref], fence.atMillis == at { byRef[ref] = nil }
            }
        }
    }

    private let fences = NIOLockedValueBox(Fences())
    private let retentionMillis: Int64
    private let maxCount: Int

    init(retentionMillis: Int64, maxCount: Int) {
        self.retentionMillis = retentionMillis
        self.maxCount = maxCount
    }

    /// Raises the fence of `ref` to `version`; returns false when it was already as high.
    @discardableResult
    func raise(_ ref: String, to version: UInt64, now: Int64) -> Bool {
        fences.withLockedValue { fences in
            if let current = fences.byRef[ref], current.version >= version { return false }
            fences.byRef[ref] = (version, now)
            fences.order.append(ref, atMillis: now)
            fences.purge(now: now, retentionMillis: retentionMillis, maxCount: maxCount)
            return true
        }
    }

    func version(of ref: String) -> UInt64? {
        fences.withLockedValue { $0.byRef[ref]?.version }
    }

    /// The first dependency that names a version below its instance's fence.
    func firstStale(_ dependencies: [Dependency]) -> (dependency: Dependency, fence: UInt64)? {
        fences.withLockedValue { fences in
            for dependency in dependencies {
                guard case .entity(let ref, let version?) = dependency else { continue }
                if let fence = fences.byRef[ref.description], version < fence.version {
                    return (dependency, fence.version)
                }
            }
            return nil
        }
    }

    func purge(now: Int64) {
        fences.withLockedValue { $0.purge(now: now, retentionMillis: retentionMillis, maxCount: maxCount) }
    }

    var count: Int { fences.withLockedValue { $0.byRef.count } }

    func removeAll() {
        fences.withLockedValue { $0 = Fences() }
    }
}
