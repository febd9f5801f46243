import CascadeGraph
import CascadeWire

/// A registration arrives after the value was stored, so it can lose a race with the event
/// that makes the value stale. This finds such registrations and invalidates them at once.
struct RegistrationRaceCheck: Sendable {
    let ledger: Ledger
    let index: InstanceIndex
    let planner: FanOutPlanner
    /// Without a version, a dependency that changed this close before the key was set (or
    /// after) may have been read before the change.
    let windowMillis: Int64

    /// Messages that drop the key (and what depends on it), or nothing when it is fresh.
    func check(_ registration: Registration) -> [OutboundMessage] {
        var stale: Ledger.Entry?
        for text in registration.deps {
            guard case .entity(let ref, let version)? = try? Dependency.parse(text, service: registration.service),
                  let entry = ledger.entry(ref.description)
            else { continue }
            let isStale: Bool
            if let version {
                isStale = entry.record.version > version
            } else {
                isStale = entry.seenAtMillis >= registration.setAtMillis - windowMillis
            }
            if isStale, entry.record.version >= (stale?.record.version ?? 0) { stale = entry }
        }
        guard let stale else { return [] }
        let record = stale.record
        let root = CacheKeyRef(service: registration.service, key: registration.key)
        var keys = FanOutPlanner.keys(of: index.closure(ofKey: root))
        keys[registration.service, default: []].insert((registration.key[...], 0), at: 0)
        let rootTag = record.entity + "#" + record.id
        let cause = InvalidationMessage.Cause(
            eventID: record.eventID, entity: record.entity, id: record.id, version: record.version, atMillis: record.atMillis)
        return planner.plan(
            kind: .invalidate, cause: cause, rootTag: rootTag, keys: keys, tagOnly: [],
            fences: [.init(ref: rootTag, version: record.version)], includeRootTag: false
        ).messages
    }
}
