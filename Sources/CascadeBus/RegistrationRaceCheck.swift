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
///
/// Registrations are checked in waves (`Wave`): those of one polled batch, or those replayed
/// unchecked at start, share one visited set, so each key is invalidated at most once per wave.
struct RegistrationRaceCheck: Sendable {
    let ledger: Ledger
    let index: InstanceIndex
    let planner: FanOutPlanner
    let recent: RecentInvalidations
    /// How long before the value was stored its inputs may have been read: a change this
    /// close before `set_at_ms` (or after it) may not be in the value.
    let windowMillis: Int64
    /// How long after the bus invalidated a key of a service its nodes may still serve the old
    /// value (their recent staleness, `NodeDirectory`): a value computed from the key is judged
    /// against the invalidation as the nodes applied it, not as the bus sent it.
    var applyDelayMillis: @Sendable (_ service: String) -> Int64 = { _ in 0 }

    /// Why a registration is stale: a newer entity version, or an invalidated key.
    enum Staleness: Equatable {
        case entity(Ledger.Entry)
        case key(String)
    }

    /// `coveredSinceMillis`: how far back the memory is known to hold this registration's
    /// invalidations, when that is later than its own coverage (a partition gained lately,
    /// read back only so far).
    func staleness(of registration: Registration, coveredSinceMillis: Int64 = .min) -> Staleness? {
        let earliestRead = registration.setAtMillis - windowMillis
        let coverageStart = max(recent.coverageStartMillis, coveredSinceMillis)
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
                // The old value stayed readable on the key's nodes until they applied the drop.
                let earliest = earliestRead - applyDelayMillis(ref.service)
                if earliest < coverageStart {
                    staleKey = name
                } else if let invalidatedAt = recent.lastInvalidated(RecentInvalidations.hash(name)), invalidatedAt >= earliest {
                    staleKey = name
                }
            case nil:
                continue
            }
        }
        if let stale { return .entity(stale) }
        return staleKey.map { .key($0) }
    }

    /// Messages that drop the key (and what depends on it), or nothing when it is fresh: a wave
    /// of one registration.
    func check(_ registration: Registration, nowMillis: Int64) -> [OutboundMessage] {
        var wave = wave()
        wave.visit(registration, nowMillis: nowMillis)
        return wave.takeMessages()
    }

    /// Checks registrations already in the index, in order, as one wave; hands `send` the
    /// messages as they are planned, whenever `chunk` or more are waiting, and the rest at the
    /// end. Returns what the wave did.
    func check(
        _ registrations: [Registration], chunk: Int = 256, nowMillis: () -> Int64 = Timestamps.nowMillis,
        send: ([OutboundMessage]) async -> Void
    ) async -> Wave.Counts {
        var wave = wave()
        for registration in registrations {
            wave.visit(registration, nowMillis: nowMillis())
            if wave.pending >= chunk { await send(wave.takeMessages()) }
        }
        if wave.pending > 0 { await send(wave.takeMessages()) }
        return wave.counts
    }

    func wave() -> Wave { Wave(check: self) }

    /// The messages for a stale registration: its own key and the keys of `closure`, caused by
    /// the entity's change (and fencing its version) or by the key the value was computed from.
    func plan(_ staleness: Staleness, root: CacheKeyRef, closure: InstanceClosure, nowMillis: Int64) -> [OutboundMessage] {
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

extension RegistrationRaceCheck {
    /// One check wave: registrations checked in order over one visited set
    /// (`InstanceIndex.ClosureWave`), so that each key is reached, remembered and sent at most
    /// once per wave, however long the chains in it: the work is linear in what it invalidates.
    ///
    /// - A registration whose key the wave reached already is skipped: that key is invalidated,
    ///   with everything downstream of it.
    /// - A stale one invalidates its key and the keys downstream the wave has not reached yet,
    ///   and remembers them (`RecentInvalidations`) under the index's read lock (race 5), before
    ///   the next registration is checked: later registrations of the wave, and of later waves,
    ///   see them (race 4, at any depth).
    struct Wave {
        struct Counts: Sendable, Equatable {
            var checked = 0
            var stale = 0
            /// Registrations whose key the wave had reached already.
            var skipped = 0
            /// Keys looked at (`InstanceIndex.ClosureWave.visits`): at most the keys and edges
            /// the wave reached.
            var visits = 0
        }

        let check: RegistrationRaceCheck
        private let closures: InstanceIndex.ClosureWave
        private var messages: [OutboundMessage] = []
        private var tally = Counts()

        init(check: RegistrationRaceCheck) {
            self.check = check
            closures = check.index.closureWave()
        }

        var counts: Counts {
            var counts = tally
            counts.visits = closures.visits
            return counts
        }

        /// Messages planned and not taken yet.
        var pending: Int { messages.count }

        mutating func takeMessages() -> [OutboundMessage] {
            defer { messages = [] }
            return messages
        }

        /// Checks one registration already in the index.
        mutating func visit(_ registration: Registration, nowMillis: Int64) {
            tally.checked += 1
            let root = CacheKeyRef(service: registration.service, key: registration.key)
            if closures.reached(root) {
                tally.skipped += 1
                return
            }
            guard let staleness = check.staleness(of: registration) else { return }
            tally.stale += 1
            emit(staleness, root: root, closure: expand(root, nowMillis: nowMillis), nowMillis: nowMillis)
        }

        /// What depends on `root` and the wave has not reached yet, remembered as invalidated
        /// (with the root) while the index is still read-locked.
        private func expand(_ root: CacheKeyRef, nowMillis: Int64) -> InstanceClosure {
            let recent = check.recent
            let rootHash = RecentInvalidations.hash(root.description)
            return closures.closure(ofKey: root) { closure in
                recent.record(CollectionOfOne(rootHash), atMillis: nowMillis)
                recent.record(closure.slots.lazy.map { Int(truncatingIfNeeded: $0.hash) }, atMillis: nowMillis)
            }
        }

        private mutating func emit(_ staleness: Staleness, root: CacheKeyRef, closure: InstanceClosure, nowMillis: Int64) {
            messages.append(contentsOf: check.plan(staleness, root: root, closure: closure, nowMillis: nowMillis))
        }
    }
}
