import CascadeCheck
import NIOConcurrencyHelpers
import Prometheus

/// The watcher's Prometheus metrics, on a registry of its own (it runs inside `cascade dev`
/// beside the bus and the nodes, which have theirs).
public final class WatchMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let invalidatedKeys: Counter
    private let sampled: Counter
    private let nines: Gauge
    private let checkedLastHour: Gauge
    private let violationsLastHour: Gauge
    private let pending: Gauge
    /// By service, made once each, so a service with no violation shows 0 (alerts use increase()).
    private let perService = NIOLockedValueBox<[String: (checked: Counter, violations: Counter, late: Counter)]>([:])
    private let unchecked = NIOLockedValueBox<[String: Counter]>([:])
    private let hour = NIOLockedValueBox(ConsistencyNines())

    public init(sampleRate: Double, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        invalidatedKeys = registry.makeCounter(
            name: "cascade_consistency_invalidated_keys_total", help: "Keys named by the invalidations read, sampled or not.")
        sampled = registry.makeCounter(name: "cascade_consistency_sampled_total", help: "Invalidated keys sampled for a check.")
        nines = registry.makeGauge(
            name: "cascade_consistency_nines", help: "Consistency over the last hour in nines: -log10(violations/checked), 9 with no violation.")
        checkedLastHour = registry.makeGauge(name: "cascade_consistency_checked_last_hour", help: "Checks in the last hour.")
        violationsLastHour = registry.makeGauge(name: "cascade_consistency_violations_last_hour", help: "Violations in the last hour.")
        pending = registry.makeGauge(name: "cascade_consistency_pending_checks", help: "Sampled keys waiting for the race window to pass.")
        registry.makeGauge(name: "cascade_consistency_sample_rate", help: "Share of invalidated keys checked (--sample).").set(sampleRate)
        nines.set(ConsistencyNines.cap)
        for reason in UncheckedReason.allCases { _ = uncheckedCounter(reason) }
    }

    /// Why a sampled key was not checked.
    public enum UncheckedReason: String, CaseIterable, Sendable {
        /// More checks waited than `--max-pending`.
        case queueFull = "queue_full"
        /// No node of the service is known.
        case noNode = "no_node"
        /// The node did not answer, or answered something else than CASCADE.META's map.
        case nodeUnreachable = "node_unreachable"
    }

    /// Makes the per-service series, so they read 0 before anything happens.
    func follow(_ service: String) { _ = counters(service) }

    private func counters(_ service: String) -> (checked: Counter, violations: Counter, late: Counter) {
        perService.withLockedValue { counters in
            if let found = counters[service] { return found }
            let made = (
                checked: registry.makeCounter(
                    name: "cascade_consistency_checked_total", labels: [("service", service)],
                    help: "Sampled invalidated keys checked on a node after the race window."),
                violations: registry.makeCounter(
                    name: "cascade_consistency_violations_total", labels: [("service", service)],
                    help: "Checks that found a value stored before its invalidation still on the node."),
                late: registry.makeCounter(
                    name: "cascade_consistency_late_total", labels: [("service", service)],
                    help: "Sampled keys whose invalidation was sent more than the window after its event happened.")
            )
            counters[service] = made
            return made
        }
    }

    private func uncheckedCounter(_ reason: UncheckedReason) -> Counter {
        unchecked.withLockedValue { counters in
            if let found = counters[reason.rawValue] { return found }
            let made = registry.makeCounter(
                name: "cascade_consistency_unchecked_total", labels: [("reason", reason.rawValue)],
                help: "Sampled keys that could not be checked, by reason.")
            counters[reason.rawValue] = made
            return made
        }
    }

    func read(keys: Int, sampled count: Int) {
        invalidatedKeys.increment(by: Int64(keys))
        if count > 0 { sampled.increment(by: Int64(count)) }
    }

    /// Sampled keys of an invalidation sent more than the window after its event.
    func late(_ service: String, count: Int) {
        counters(service).late.increment(by: Int64(count))
    }

    func unchecked(_ reason: UncheckedReason, count: Int = 1) {
        uncheckedCounter(reason).increment(by: Int64(count))
    }

    func checked(_ service: String, checks: Int, violations: Int, atMillis: Int64) {
        let counters = counters(service)
        counters.checked.increment(by: Int64(checks))
        if violations > 0 { counters.violations.increment(by: Int64(violations)) }
        hour.withLockedValue { $0.record(checked: checks, violations: violations, atMillis: atMillis) }
    }

    /// Moves the hour on and sets the gauges; called after each round and at least once a second.
    func refresh(atMillis: Int64, pending count: Int) {
        let (total, value) = hour.withLockedValue { ($0.lastHour(atMillis: atMillis), $0.nines(atMillis: atMillis)) }
        nines.set(value)
        checkedLastHour.set(Double(total.checked))
        violationsLastHour.set(Double(total.violations))
        pending.set(Double(count))
    }
}
