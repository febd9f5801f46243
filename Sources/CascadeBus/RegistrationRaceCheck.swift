import CascadeGraph
import CascadeWire

/// A registration arrives after the value was stored, so it can lose a race with the cascade
/// that makes the value stale: the cascade ran before the key was in the index. This finds
/// such registrations and invalidates them (and what depends on them) at once.
///
/// A dependency makes the value stale when
/// - `Entity#id@v`: the ledger knows a version above v;
/// - `Entity#id`: the ledger learnt of a change less than the window before the value was
///   stored (or after): the value may have been computed from the data before it;
/// - `service/key`: the bus invalidated that key less than the window before the value was
///   stored (or after), or the bus cannot tell, because it remembers invalidations only since
///   `RecentInvalidations.coverageStartMillis` (a restart, or a registration that took longer
///   than the memory to arrive). Its own invalidations are remembered too, so a chain of late
///   registrations (c on b on a) falls one link after the other, at any depth.
struct RegistrationRaceCheck: Sendable {
    let ledger: Ledger
    let index: InstanceIndex
    let planner: FanOutPlanner
    let recent: RecentInvalidations
    /// How long before the value was stored its inputs may have been read: a change this
    /// close before `set_at_ms` (or after it) may not be in the value.
    let windowMillis: Int64

    /// Why a registration is stale: a newer entity version, or an invalidated key.
    enum Staleness: Equatable {
        case entity(Ledger.Entry)
        case key(String)
    }

    func staleness(of registration: Registration) -> Staleness? {
        let earliestRead = registration.setAtMillis - windowMillis
        var stale: Ledger.Entry?
        var staleKey: String?
        for text in registration.deps {
            switch try? Dependency.parse(text, service: registration.service) {
            case .entity(let ref, let version)?:
                guard let entry = ledger.entry(ref.description) else { continue }
                let isStale = version.map { entry.record.version > $0 } ?? (entry.seenAtMillis >= earliestRead)
                if isStale, entry.record.version >= (stale?.record.version ?? 0) { stale = entry }
            case .key(let ref)?:
                guard staleKey == nil else { continue }
                let name = ref.description
                if earliestRead < recent.coverageStartMillis {
                    staleKey = name
                } else if let invalidatedAt = recent.lastInvalidated(RecentInvalidations.hash(name)), invalidatedAt >= earliestRead {
                    staleKey = name
                }
            case nil:
                continue
            }
        }
        if let stale { return .entity(stale) }
        return staleKey.map { .key($0) }
    }

    /// Messages that drop the key (and what depends on it), or nothing when it is fresh.
    func check(_ registration: Registration, nowMillis: Int64) -> [OutboundMessage] {
        guard let staleness = staleness(of: registration) else { return [] }
        let root = CacheKeyRef(service: registration.service, key: registration.key)
        let rootName = root.description
        let recent = self.recent
        let closure = index.closure(ofKey: root) { closure in
            recent.record([RecentInvalidations.hash(rootName)] + closure.slots.map { Int(truncatingIfNeeded: $0.hash) }, atMillis: nowMillis)
        }
        switch staleness {
        case .entity(let stale):
            let record = stale.record
            let rootTag = record.entity + "#" + record.id
            let cause = InvalidationMessage.Cause(
                eventID: record.eventID, entity: record.entity, id: record.id, version: record.version, atMillis: record.atMillis)
            return planner.plan(
                kind: .invalidate, cause: cause, rootTag: rootTag, closure: closure, rootKey: root, tagOnly: [],
                fences: [.init(ref: rootTag, version: record.version)], includeRootTag: false
            ).messages
        case .key(let name):
            // No event to name: the cause is the key the value was computed from.
            let cause = InvalidationMessage.Cause(eventID: "", entity: "", id: name, version: 0, atMillis: nowMillis)
            return planner.plan(
                kind: .invalidate, cause: cause, rootTag: name, closure: closure, rootKey: root, tagOnly: [], fences: [], includeRootTag: false
            ).messages
        }
    }
}
