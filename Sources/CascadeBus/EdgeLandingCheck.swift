import CascadeGraph
import CascadeWire

/// The registration race check of partitioned state, where an edge record lands: the share
/// that holds a dependency's partition holds its ledger entries and hears of every
/// invalidation of its keys (the other shares hand them on as hops), so it judges the part of a
/// registration that lies there, as `RegistrationRaceCheck` judges a whole one.
///
/// One more case counts as stale: a key dependency of a family this share learned too late to
/// vouch for the value. Until the other instances hear of the family (`settleMillis`: a beacon
/// round and a fetch), they hand none of its keys on, so this memory of its keys' invalidations
/// starts only then; a value that may have read the key before (its `set_at_ms` less the race
/// window and the service's apply delay) cannot be vouched for. The first registrations on a
/// family are invalidated so, for about the race window.
///
/// A stale record's key is invalidated with what depends on it here, and handed to its own
/// partition's share as a hop, where the rest of what depends on it lies. A record older than
/// one of the same key that landed before it is not judged (`NewestRegistrations`).
struct EdgeLandingCheck: Sendable {
    let raceCheck: RegistrationRaceCheck
    let share: IndexShare
    let topics: Topics
    /// How long after a family is learned here the others have surely heard of it.
    let settleMillis: Int64
    /// The longest the nodes of any service take to apply an invalidation lately.
    var longestApplyDelayMillis: @Sendable () -> Int64 = { 0 }

    /// `coveredSinceMillis`: as in `RegistrationRaceCheck.staleness`, for a record judged late.
    func check(_ record: EdgeRecord, nowMillis: Int64, coveredSinceMillis: Int64 = .min) -> [OutboundMessage] {
        guard let setAtMillis = record.setAtMillis, !record.dependencies.isEmpty else { return [] }
        guard !share.newest.isSuperseded(record.key.description, setAtMillis: setAtMillis, nowMillis: nowMillis) else { return [] }
        let registration = Registration(
            service: record.key.service, key: record.key.key, deps: record.dependencies.map(\.description), setAtMillis: setAtMillis)
        guard let staleness = staleness(of: registration, coveredSinceMillis: coveredSinceMillis) else { return [] }
        let recent = raceCheck.recent
        let rootHash = RecentInvalidations.hash(record.key.description)
        let closure = share.index.closure(ofKey: record.key) { closure in
            recent.record(CollectionOfOne(rootHash), atMillis: nowMillis)
            recent.record(closure.slots.lazy.map { Int(truncatingIfNeeded: $0.hash) }, atMillis: nowMillis)
        }
        var messages = raceCheck.plan(staleness, root: record.key, closure: closure, nowMillis: nowMillis)
        messages.append(hop(of: record.key, staleness, setAtMillis: setAtMillis, nowMillis: nowMillis))
        return messages
    }

    func staleness(of registration: Registration, coveredSinceMillis: Int64 = .min) -> RegistrationRaceCheck.Staleness? {
        if let staleness = raceCheck.staleness(of: registration, coveredSinceMillis: coveredSinceMillis) { return staleness }
        let earliestRead = registration.setAtMillis - raceCheck.windowMillis
        for text in registration.deps {
            guard case .key(let ref)? = try? Dependency.parse(text, service: registration.service) else { continue }
            let name = ref.description
            guard let learned = share.filter.learnedAtMillis(of: name) else { continue }
            if earliestRead - raceCheck.applyDelayMillis(ref.service) < learned + settleMillis { return .key(name) }
        }
        return nil
    }

    /// The stale key handed to its partition's share: what depends on it lies there.
    ///
    /// Its root names this judgment, not only the record: a record judged again (by the next
    /// holder of its partition, which checks each key's last record as it rebuilds) invalidates
    /// the key again, and what was stored on it since must go too. Under a root of the record
    /// alone, the share there had expanded the key for that root already and did nothing, and
    /// a dependent stored in between outlived its dependency's invalidation (a cycle pair in the
    /// partitioned chaos runs).
    private func hop(
        of key: CacheKeyRef, _ staleness: RegistrationRaceCheck.Staleness, setAtMillis: Int64, nowMillis: Int64
    ) -> OutboundMessage {
        let name = key.description
        var fence = EntityRef(entity: "", id: name)
        var version: UInt64 = 0
        var eventID = ""
        var atMillis: Int64 = 0
        if case .entity(let entry) = staleness {
            fence = EntityRef(entity: entry.record.entity, id: entry.record.id)
            version = entry.record.version
            eventID = entry.record.eventID
            atMillis = entry.record.atMillis
        }
        var hop = StateHop(
            root: "race \(name) \(setAtMillis) \(nowMillis)", name: name, partition: share.partitioner.partition(of: name), fence: fence,
            fenceVersion: version, depth: 0, path: [name], skip: [])
        hop.eventID = eventID
        hop.atMillis = atMillis
        return OutboundMessage(topic: topics.hops, key: Array(name.utf8), value: hop.encoded(), partition: hop.partition)
    }
}
