import CascadeStore
import Metrics
import NIOConcurrencyHelpers

/// The node's view of its families between maintenance ticks: per-family gauges on /metrics
/// (labels `service`, `family`), the adaptive-TTL learners fed from the store's counters, and
/// `INFO` reads the same store counters. `tick` runs on the maintenance timer only.
package final class FamilyMonitor: Sendable {
    private struct Gauges: Sendable {
        let keys, bytes, hits, misses, hitRatio, evictions, invalidations, ttl: Gauge

        init(service: String, family: String) {
            let dimensions = [("service", service), ("family", family)]
            keys = Gauge(label: "cascade_node_family_keys", dimensions: dimensions)
            bytes = Gauge(label: "cascade_node_family_bytes", dimensions: dimensions)
            hits = Gauge(label: "cascade_node_family_hits", dimensions: dimensions)
            misses = Gauge(label: "cascade_node_family_misses", dimensions: dimensions)
            hitRatio = Gauge(label: "cascade_node_family_hit_ratio", dimensions: dimensions)
            evictions = Gauge(label: "cascade_node_family_evictions", dimensions: dimensions)
            invalidations = Gauge(label: "cascade_node_family_invalidations", dimensions: dimensions)
            ttl = Gauge(label: "cascade_node_family_ttl_seconds", dimensions: dimensions)
        }
    }

    private struct State {
        var learners: [UInt16: AdaptiveTTLLearner] = [:]
        var fingerprintLearners: [UInt16: FingerprintTTLLearner] = [:]
        var lastStats: [FamilyStats] = []
        var lastLearnAt: Int64?
    }

    let directory: FamilyDirectory
    private let gauges: [Gauges]
    private let tierBytes: [Gauge]
    private let state: NIOLockedValueBox<State>
    /// How long a learning window is.
    static let learnWindowMillis: Int64 = 1_000

    package init(directory: FamilyDirectory, staleTarget: Double = 0.01) {
        self.directory = directory
        gauges = directory.families.map { Gauges(service: directory.service, family: $0.name) }
        tierBytes = directory.tiers.map {
            Gauge(label: "cascade_node_tier_bytes", dimensions: [("service", directory.service), ("tier", $0.rawValue)])
        }
        var state = State()
        for family in directory.families {
            guard let bounds = family.adaptive else { continue }
            if family.invalidated {
                state.learners[family.number] = AdaptiveTTLLearner(minMillis: bounds.min, maxMillis: bounds.max)
            } else {
                state.fingerprintLearners[family.number] = FingerprintTTLLearner(
                    minMillis: bounds.min, maxMillis: bounds.max, staleTarget: staleTarget)
            }
        }
        self.state = NIOLockedValueBox(state)
    }

    /// Seeds the store with each adaptive family's starting TTL (its lower bound).
    package func start(store: CacheStore) {
        state.withLockedValue { state in
            for (number, learner) in state.learners { store.setDefaultTTL(family: number, milliseconds: learner.ttlMillis) }
            for (number, learner) in state.fingerprintLearners { store.setDefaultTTL(family: number, milliseconds: learner.ttlMillis) }
        }
    }

    /// The TTL INFO and metrics show for a family: its fixed one, its current adaptive one, or 0.
    package func ttlMillis(of family: FamilyDirectory.Family, store: CacheStore) -> Int64 {
        family.adaptive != nil ? store.defaultTTL(family: family.number) : (family.ttlMillis ?? 0)
    }

    package func tick(store: CacheStore, now: Int64) {
        let stats = store.familyStats()
        for family in directory.families where Int(family.number) < stats.count {
            let figures = stats[Int(family.number)]
            let gauge = gauges[Int(family.number) - 1]
            gauge.keys.record(figures.keys)
            gauge.bytes.record(figures.bytes)
            gauge.hits.record(figures.hits)
            gauge.misses.record(figures.misses)
            gauge.hitRatio.record(figures.hitRatio)
            gauge.evictions.record(figures.evictions)
            gauge.invalidations.record(figures.invalidations)
            gauge.ttl.record(Double(ttlMillis(of: family, store: store)) / 1000)
        }
        let classBytes = store.classBytes()
        for (index, gauge) in tierBytes.enumerated() where index < classBytes.count { gauge.record(classBytes[index]) }
        let learned = state.withLockedValue { state -> [(UInt16, Int64)] in
            var learned: [(UInt16, Int64)] = []
            if let last = state.lastLearnAt, now - last >= FamilyMonitor.learnWindowMillis, state.lastStats.count == stats.count {
                for (number, var learner) in state.learners {
                    let figures = stats[Int(number)]
                    learner.observe(
                        keys: figures.keys, invalidated: figures.invalidations - state.lastStats[Int(number)].invalidations,
                        elapsedMillis: now - last)
                    state.learners[number] = learner
                    learned.append((number, learner.ttlMillis))
                }
                for (number, var learner) in state.fingerprintLearners {
                    let figures = stats[Int(number)]
                    let before = state.lastStats[Int(number)]
                    learner.observe(
                        changed: figures.storedChanged - before.storedChanged,
                        unchanged: figures.storedUnchanged - before.storedUnchanged,
                        intervalMillis: figures.storedIntervalMillis - before.storedIntervalMillis, elapsedMillis: now - last)
                    state.fingerprintLearners[number] = learner
                    learned.append((number, learner.ttlMillis))
                }
                state.lastLearnAt = now
                state.lastStats = stats
            } else if state.lastLearnAt == nil || state.lastStats.count != stats.count {
                state.lastLearnAt = now
                state.lastStats = stats
            }
            return learned
        }
        for (number, ttl) in learned { store.setDefaultTTL(family: number, milliseconds: ttl) }
    }
}
